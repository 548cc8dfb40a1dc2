// Strings that are not valid UTF-8 where RabbitMQ takes any bytes (field tables, content
// properties, basic.publish's exchange and routing key): decoded losslessly, each invalid byte b
// as the lone surrogate U+DC00 + b, and encoded back to the very same bytes. Expected bytes are
// written by hand.
import { describe, expect, it } from "vitest";
import {
  Reader,
  Writer,
  decodeContentHeader,
  decodeFieldTable,
  decodeMethod,
  decodeUtf8,
  encodeContentHeader,
  encodeFieldTable,
  encodeMethod,
  encodeUtf8,
  makeMethod,
} from "../../src/amqp";
import { hex, toHex } from "./helpers";

/** Byte sequences that are not UTF-8, and how they decode (Python's "surrogateescape" gives the same). */
const INVALID: [string, string, string][] = [
  ["a lone 0xff", "ff", "\udcff"],
  ["a lone continuation byte", "80", "\udc80"],
  ["a lead byte at the end", "72 c3", "r\udcc3"],
  ["a truncated 3-byte sequence", "e2 82", "\udce2\udc82"],
  ["a truncated sequence before ASCII", "e2 82 41", "\udce2\udc82A"],
  ["an overlong NUL", "c0 80", "\udcc0\udc80"],
  ["an overlong 3-byte form", "e0 80 af", "\udce0\udc80\udcaf"],
  ["a UTF-16 surrogate", "ed a0 80", "\udced\udca0\udc80"],
  ["a 5-byte form", "f8 88 80 80 80", "\udcf8\udc88\udc80\udc80\udc80"],
  ["above U+10FFFF", "f4 90 80 80", "\udcf4\udc90\udc80\udc80"],
  ["invalid bytes between valid characters", "72 c3 a9 ff f0 9f 98 80 fe", "ré\udcff😀\udcfe"],
];

describe("decodeUtf8 / encodeUtf8: any bytes, byte-exact", () => {
  it.each(INVALID)("%s decodes to lone surrogates and encodes back", (_what, bytes, text) => {
    expect(decodeUtf8(hex(bytes))).toBe(text);
    expect(toHex(encodeUtf8(text))).toBe(toHex(hex(bytes)));
    expect(toHex(new Writer().shortstr(text).finish())).toBe(toHex(hex(`${hex(bytes).length.toString(16).padStart(2, "0")} ${bytes}`)));
  });

  it("valid UTF-8 decodes as TextDecoder does, a leading BOM kept", () => {
    for (const s of ["", "q", "ré", "\ufeffq", "\ufffd", "😀", "名前", "x".repeat(300), "é".repeat(100)]) {
      const bytes = new TextEncoder().encode(s);
      expect(decodeUtf8(bytes)).toBe(s);
      expect(encodeUtf8(s)).toEqual(bytes);
    }
  });

  it("different bytes never become the same string, nor a valid string", () => {
    expect(decodeUtf8(hex("ff"))).not.toBe(decodeUtf8(hex("fe")));
    expect(decodeUtf8(hex("ff"))).not.toBe(decodeUtf8(hex("ef bf bd"))); // U+FFFD itself
  });

  it("lone surrogates that stand for no byte are written as U+FFFD, as TextEncoder does", () => {
    expect(toHex(encodeUtf8("\ud800"))).toBe("ef bf bd");
    expect(toHex(encodeUtf8("a\udc41b"))).toBe("61 ef bf bd 62"); // 0x41 is never escaped
    expect(toHex(encodeUtf8("\ud83d\ude00\udcff"))).toBe("f0 9f 98 80 ff");
  });

  it("random bytes round-trip (seeded)", () => {
    let seed = 0x5eed;
    const next = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed >>> 16;
    };
    // Mostly high bytes, with some real UTF-8 mixed in, so every branch of the decoder runs.
    const pieces = [[0xc3, 0xa9], [0xe2, 0x82, 0xac], [0xf0, 0x9f, 0x98, 0x80], [0x41], [0xed, 0x9f, 0xbf]];
    for (let n = 0; n < 3000; n++) {
      const bytes: number[] = [];
      const len = next() % 90;
      while (bytes.length < len) {
        if (next() % 3 === 0) bytes.push(...pieces[next() % pieces.length]!);
        else bytes.push(0x80 + (next() % 128));
      }
      const b = new Uint8Array(bytes);
      const s = decodeUtf8(b);
      expect(encodeUtf8(s)).toEqual(b);
      const w = new Writer().longstr(s).finish();
      expect(w.subarray(4)).toEqual(b);
      expect(new Reader(w).longstr()).toBe(s);
    }
  });
});

describe("golden bytes in, the same bytes out", () => {
  it("basic.publish with exchange 'x\\xfe' and routing key 0xff (RabbitMQ does not check content methods)", () => {
    const bytes = hex("003c 0028  0000  02 78fe  01 ff  00");
    const m = decodeMethod(bytes);
    expect(m).toEqual({
      name: "basic.publish",
      args: { ticket: 0, exchange: "x\udcfe", routingKey: "\udcff", mandatory: false, immediate: false },
    });
    expect(toHex(encodeMethod(m))).toBe(toHex(bytes));
  });

  it("basic.deliver, basic.return and basic.get-ok carry such keys back byte for byte", () => {
    const deliver = makeMethod("basic.deliver", { consumerTag: "c", deliveryTag: 1, exchange: "", routingKey: "\udcff" });
    expect(toHex(encodeMethod(deliver))).toBe(toHex(hex("003c 003c  01 63  0000000000000001  00  00  01 ff")));
    expect(decodeMethod(encodeMethod(deliver))).toEqual(deliver);
    const ret = makeMethod("basic.return", { replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: "k\udcc3" });
    expect(toHex(encodeMethod(ret))).toBe(toHex(hex("003c 0032  0138  08 4e4f5f524f555445  00  02 6bc3")));
  });

  it("queue.declare arguments { 0xff: '' } (RabbitMQ's parse_table takes any key)", () => {
    // The fuzz reproduction's payload: queue "", exclusive auto-delete, arguments { 0xff: S "" }.
    const bytes = hex("0032 000a  0000  00  0c  00000007 01 ff 53 00000000");
    const m = decodeMethod(bytes);
    expect(m.name === "queue.declare" && Object.keys(m.args.arguments)).toEqual(["\udcff"]);
    expect(toHex(encodeMethod(m))).toBe(toHex(bytes));
  });

  it("a content header with content-type 0xff and headers { 0xff: true, k: S 'a\\xfe', n: { 0xc3: A [S 0xed a0 80] } }", () => {
    const headers = "00000028  01 ff 74 01  01 6b 53 00000002 61fe  01 6e 46 00000014 01 c3 41 0000000d 53 00000003 eda080 53 00000000";
    const bytes = hex(`003c 0000 0000000000000005  a000  01 ff  ${headers}`);
    const h = decodeContentHeader(bytes);
    expect(h.properties.contentType).toBe("\udcff");
    expect(Object.keys(h.properties.headers ?? {})).toEqual(["\udcff", "k", "n"]);
    expect(h.properties.headers?.k).toEqual({ type: "S", value: "a\udcfe" });
    expect(toHex(encodeContentHeader(60, 5, h.properties))).toBe(toHex(bytes));
  });

  it("every shortstr property and a longstr with a leading BOM", () => {
    // All 11 shortstr properties set to 0xff..0xf5, timestamp and octets in between.
    const flags = 0xfffc;
    const props = [
      "01 ff", // content-type
      "01 fe", // content-encoding
      "00000009 01 fd 53 00000002 efbb", // headers { 0xfd: S ef bb } (a cut BOM)
      "02", // delivery-mode
      "05", // priority
      "01 fc", // correlation-id
      "01 fb", // reply-to
      "01 fa", // expiration
      "01 f9", // message-id
      "0000000000000001", // timestamp
      "01 f8", // type
      "01 f7", // user-id
      "01 f6", // app-id
      "01 f5", // cluster-id
    ].join(" ");
    const bytes = hex(`003c 0000 0000000000000000 ${flags.toString(16)} ${props}`);
    expect(toHex(encodeContentHeader(60, 0, decodeContentHeader(bytes).properties))).toBe(toHex(bytes));
    const bom = hex("00000009 01 62 53 00000002 efbb"); // a table { b: S ef bb }: cut BOM, invalid
    expect(toHex(encodeFieldTable(decodeFieldTable(bom)))).toBe(toHex(bom));
    const fullBom = hex("0000000b 01 62 53 00000004 efbbbf78"); // { b: S "\ufeffx" }: valid, the BOM kept
    expect(decodeFieldTable(fullBom).b).toEqual({ type: "S", value: "\ufeffx" });
    expect(toHex(encodeFieldTable(decodeFieldTable(fullBom)))).toBe(toHex(fullBom));
  });
});
