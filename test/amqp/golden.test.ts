// Expected bytes below are written by hand from the AMQP 0-9-1 spec, not
// produced by the encoder.
import { describe, expect, it } from "vitest";
import {
  FrameWriter,
  decodeContentHeader,
  decodeFieldTable,
  decodeMethod,
  encodeContentHeader,
  encodeFieldTable,
  encodeFrame,
  encodeMethod,
  makeMethod,
  type AnyMethod,
  type FieldTable,
} from "../../src/amqp";
import { hex, toHex } from "./helpers";

const golden: [string, AnyMethod, string][] = [
  [
    "connection.start",
    makeMethod("connection.start", { versionMajor: 0, versionMinor: 9, serverProperties: {}, mechanisms: "PLAIN", locales: "en_US" }),
    "000a 000a  00 09  00000000  00000005 504c41494e  00000005 656e5f5553",
  ],
  [
    "connection.tune",
    makeMethod("connection.tune", { channelMax: 2047, frameMax: 131072, heartbeat: 60 }),
    "000a 001e  07ff  00020000  003c",
  ],
  [
    "connection.close",
    makeMethod("connection.close", { replyCode: 320, replyText: "bye", classId: 0, methodId: 0 }),
    "000a 0032  0140  03 627965  0000 0000",
  ],
  ["channel.open", makeMethod("channel.open"), "0014 000a 00"],
  [
    "exchange.declare (durable, internal, no-wait bits; empty table)",
    makeMethod("exchange.declare", { exchange: "x", type: "topic", durable: true, internal: true, noWait: true }),
    // bits LSB first: passive 0, durable 1, auto-delete 0, internal 1, no-wait 1 = 0b11010
    "0028 000a  0000  01 78  05 746f706963  1a  00000000",
  ],
  ["exchange.unbind-ok (method id 51)", makeMethod("exchange.unbind-ok"), "0028 0033"],
  [
    "queue.declare (durable, auto-delete bits; table)",
    makeMethod("queue.declare", { queue: "q", durable: true, autoDelete: true, arguments: { a: { type: "I", value: 10 } } }),
    // passive 0, durable 1, exclusive 0, auto-delete 1, no-wait 0 = 0b01010
    "0032 000a  0000  01 71  0a  00000007 01 61 49 0000000a",
  ],
  [
    "queue.declare-ok",
    makeMethod("queue.declare-ok", { queue: "q", messageCount: 3, consumerCount: 1 }),
    "0032 000b  01 71  00000003  00000001",
  ],
  ["basic.qos", makeMethod("basic.qos", { prefetchCount: 10, global: true }), "003c 000a  00000000  000a  01"],
  [
    "basic.publish mandatory",
    makeMethod("basic.publish", { exchange: "ex", routingKey: "rk", mandatory: true }),
    "003c 0028  0000  02 6578  02 726b  01",
  ],
  [
    "basic.publish immediate",
    makeMethod("basic.publish", { exchange: "ex", routingKey: "rk", immediate: true }),
    "003c 0028  0000  02 6578  02 726b  02",
  ],
  [
    "basic.deliver (64-bit tag, bit between strings)",
    makeMethod("basic.deliver", { consumerTag: "ct", deliveryTag: 2 ** 32 + 5, redelivered: true, exchange: "", routingKey: "rk" }),
    "003c 003c  02 6374  00000001 00000005  01  00  02 726b",
  ],
  ["basic.nack requeue", makeMethod("basic.nack", { deliveryTag: 7, multiple: false, requeue: true }), "003c 0078  00000000 00000007  02"],
];

describe("golden method payloads", () => {
  for (const [label, m, bytes] of golden) {
    it(`${label} encodes to the spec bytes and back`, () => {
      expect(toHex(encodeMethod(m))).toBe(toHex(hex(bytes)));
      expect(decodeMethod(hex(bytes))).toEqual(m);
    });
  }

  it("frames connection.tune on channel 0", () => {
    const m = makeMethod("connection.tune", { channelMax: 2047, frameMax: 131072, heartbeat: 60 });
    const expected = "01 0000 0000000c 000a001e07ff00020000003c ce";
    expect(toHex(encodeFrame(1, 0, encodeMethod(m)))).toBe(toHex(hex(expected)));
    const w = new FrameWriter(4096);
    w.method(0, m);
    expect(toHex(w.take() as Uint8Array)).toBe(toHex(hex(expected)));
  });

  it("frames channel.open on channel 1", () => {
    const w = new FrameWriter(4096);
    w.method(1, makeMethod("channel.open"));
    expect(toHex(w.take() as Uint8Array)).toBe(toHex(hex("01 0001 00000005 0014000a00 ce")));
  });

  it("heartbeat frame", () => {
    const w = new FrameWriter(4096);
    w.heartbeat();
    expect(toHex(w.take() as Uint8Array)).toBe("08 00 00 00 00 00 00 ce");
  });
});

describe("golden content header", () => {
  const bytes = "003c 0000 0000000000000005 9000 0a 746578742f706c61696e 02";
  it("encodes content-type and delivery-mode with flags 0x9000", () => {
    expect(toHex(encodeContentHeader(60, 5, { contentType: "text/plain", deliveryMode: 2 }))).toBe(toHex(hex(bytes)));
  });
  it("decodes", () => {
    expect(decodeContentHeader(hex(bytes))).toEqual({
      classId: 60,
      weight: 0,
      bodySize: 5,
      properties: { contentType: "text/plain", deliveryMode: 2 },
    });
  });
});

describe("golden field table with every type", () => {
  const entries: [string, string][] = [
    ["t", "01 74 74 01"],
    ["b", "01 62 62 fe"], // -2
    ["B", "01 42 42 c8"], // 200
    ["s", "01 73 73 fed4"], // -300
    ["u", "01 75 75 ea60"], // 60000
    ["I", "01 49 49 fffe7960"], // -100000
    ["i", "01 69 69 ee6b2800"], // 4000000000
    ["l", "01 6c 6c fffffffffffffffe"], // -2
    ["L", "01 4c 4c 0102030405060708"],
    ["f", "01 66 66 3fc00000"], // 1.5
    ["d", "01 64 64 c002000000000000"], // -2.25
    ["D", "01 44 44 02 00003039"], // 123.45
    ["S", "01 53 53 00000003 68c3a9"], // "hé"
    ["x", "01 78 78 00000002 00ff"],
    ["A", "01 41 41 0000000b 49 00000001 53 00000001 61"], // [I 1, S "a"]
    ["T", "01 54 54 000000006553f100"], // 1700000000
    ["F", "01 46 46 00000003 01 6b 56"], // { k: void }
    ["V", "01 56 56"],
  ];
  const body = entries.map(([, h]) => h).join(" ");
  // 145 = 0x91 bytes of entries, summed by hand.
  const bytes = `00000091 ${body}`;

  const value: FieldTable = {
    t: { type: "t", value: true },
    b: { type: "b", value: -2 },
    B: { type: "B", value: 200 },
    s: { type: "s", value: -300 },
    u: { type: "u", value: 60000 },
    I: { type: "I", value: -100000 },
    i: { type: "i", value: 4000000000 },
    l: { type: "l", value: -2n },
    L: { type: "L", value: 0x0102030405060708n },
    f: { type: "f", value: 1.5 },
    d: { type: "d", value: -2.25 },
    D: { type: "D", value: { scale: 2, value: 12345 } },
    S: { type: "S", value: "hé" },
    x: { type: "x", value: new Uint8Array([0, 255]) },
    A: {
      type: "A",
      value: [
        { type: "I", value: 1 },
        { type: "S", value: "a" },
      ],
    },
    T: { type: "T", value: 1700000000n },
    F: { type: "F", value: { k: { type: "V", value: null } } },
    V: { type: "V", value: null },
  };

  it("hand-summed length matches the entries", () => {
    expect(hex(body).length).toBe(0x91);
  });
  it("encodes to the spec bytes", () => {
    expect(toHex(encodeFieldTable(value))).toBe(toHex(hex(bytes)));
  });
  it("decodes to the tagged values", () => {
    expect(decodeFieldTable(hex(bytes))).toEqual(value);
  });
  it("decode → encode is byte-exact", () => {
    expect(toHex(encodeFieldTable(decodeFieldTable(hex(bytes))))).toBe(toHex(hex(bytes)));
  });
});
