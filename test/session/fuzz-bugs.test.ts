// The bugs the protocol fuzzer found (test/fuzz/protocol-fuzz.test.ts, "known bugs"), at the
// session level: a real Connection over fakes, so each runs in milliseconds. What is expected is
// what RabbitMQ 3.10.8 did with the same bytes.
import { describe, expect, it } from "vitest";
import { FrameType, ReplyCode, encodeFrame } from "../../src/amqp";
import { encodeRecord, splitRecord } from "../../src/storage/message-record";
import { hex } from "../amqp/helpers";
import { Client, closeOf, frame, names, only, openClient, protocolHeader } from "./client";

/** A basic.publish on channel 1 to `exchange` (given as raw bytes) with a raw content-header payload and body "x". */
function rawPublish(exchange: string, routingKey: Uint8Array, header: Uint8Array): Uint8Array {
  const x = new TextEncoder().encode(exchange);
  const method = new Uint8Array([0, 60, 0, 40, 0, 0, x.length, ...x, routingKey.length, ...routingKey, 0]);
  return new Uint8Array([
    ...encodeFrame(FrameType.Method, 1, method),
    ...encodeFrame(FrameType.Header, 1, header),
    ...encodeFrame(FrameType.Body, 1, new Uint8Array([0x78])),
  ]);
}

describe("bytes that are not UTF-8 where RabbitMQ takes any", () => {
  // content-type 0xff (flag 0x8000) and headers { 0xff: true } (flag 0x2000); body size 1.
  const HEADER = hex("003c 0000 0000000000000001  a000  01 ff  00000004 01 ff 74 01");

  it("a publish with routing key, header key and content-type 0xff is routed and stored byte for byte", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "queue.bind", { queue: "q", exchange: "amq.fanout" }));
    const sent = await c.roundTrip(rawPublish("amq.fanout", hex("ff"), HEADER));
    expect(names(sent)).toEqual([]);
    const [m] = c.broker.queue("/", "q").messages;
    expect(m?.routingKey).toBe("\udcff");
    expect(m?.header).toEqual(HEADER);
    // The record a queue keeps (and basic.deliver copies its route from) holds the very bytes.
    const { route, header } = splitRecord(encodeRecord(m!));
    expect(route).toEqual(hex("0a 616d712e66616e6f7574  01 ff"));
    expect(header).toEqual(HEADER);
  });

  it("a routing key 0xff to the default exchange is simply unroutable", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(rawPublish("", hex("ff"), hex("003c 0000 0000000000000001 0000")), frame(7, "channel.open"));
    expect(names(sent)).toEqual(["7:channel.open-ok"]);
  });

  it("queue.declare with an argument key 0xff is declared", async () => {
    const c = await openClient();
    // queue "" exclusive auto-delete (0x0c), arguments { 0xff: S "" }.
    const sent = await c.roundTrip(encodeFrame(FrameType.Method, 1, hex("0032 000a 0000 00 0c 00000007 01 ff 53 00000000")));
    expect(names(sent)).toEqual(["1:queue.declare-ok"]);
  });

  it("a queue name 0xff stays refused: 501 'Malformed UTF-8 in shortstr'", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(encodeFrame(FrameType.Method, 1, hex("0032 000a 0000 01 ff 00 00000000")));
    expect(closeOf(sent, "connection.close")).toEqual([501, "FRAME_ERROR - Malformed UTF-8 in shortstr", 0, 0]);
  });
});

describe("an unsolicited connection.close-ok", () => {
  it("on a running connection → connection.close 504 'unexpected method in connection state running'", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(0, "connection.close-ok"));
    expect(closeOf(sent, "connection.close")).toEqual([504, "CHANNEL_ERROR - unexpected method in connection state running", 10, 51]);
    expect(c.transport.closed).toBe(false);
    // Our close is answered as any other.
    await c.roundTrip(frame(0, "connection.close-ok"));
    expect(c.transport.closed).toBe(true);
  });

  it("during the handshake → 504 naming the state", async () => {
    const c = new Client();
    const sent = await c.roundTrip(
      protocolHeader(),
      frame(0, "connection.start-ok", { mechanism: "PLAIN", response: "\0guest\0guest", locale: "en_US" }),
      frame(0, "connection.close-ok"),
    );
    expect(closeOf(sent, "connection.close")).toEqual([504, "CHANNEL_ERROR - unexpected method in connection state tuning", 10, 51]);
  });
});

describe("frames are handled in order: a malformed frame closes the connection after what came before it", () => {
  const badFrame = () => {
    const bad = frame(1, "basic.qos");
    bad[bad.length - 1] = 0;
    return bad;
  };

  it("a publish and then a malformed frame in one write: the message is stored, then connection.close 501", async () => {
    const c = await openClient("q");
    const publish = rawPublish("", new TextEncoder().encode("q"), hex("003c 0000 0000000000000001 0000"));
    const sent = await c.roundTrip(publish, badFrame());
    expect(c.broker.queue("/", "q").messages.map((m) => m.body)).toEqual([hex("78")]);
    expect(only(sent, "connection.close").replyCode).toBe(ReplyCode.FRAME_ERROR);
  });

  it("methods before the bad frame are answered first; frames after it are not run", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(
      frame(2, "channel.open"),
      frame(1, "queue.declare", { queue: "a" }),
      badFrame(),
      frame(1, "queue.declare", { queue: "b" }),
    );
    expect(names(sent)).toEqual(["2:channel.open-ok", "1:queue.declare-ok", "0:connection.close"]);
    expect(c.broker.callsTo("queue", "b")).toEqual([]);
  });

  it("confirms of the publishes before the bad frame go out before the close", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "confirm.select"));
    const publish = rawPublish("", new TextEncoder().encode("q"), hex("003c 0000 0000000000000001 0000"));
    const sent = await c.roundTrip(publish, publish, badFrame());
    expect(names(sent)).toEqual(["1:basic.ack", "0:connection.close"]);
    expect(only(sent, "basic.ack")).toMatchObject({ deliveryTag: 2, multiple: true });
  });
});
