import { describe, expect, it } from "vitest";
import {
  CommandAssembler,
  FRAME_MAX_UNLIMITED_CAP,
  FrameReader,
  FrameType,
  ReplyCode,
  encodeContentHeader,
  encodeFrame,
  encodeMethod,
  makeMethod,
  type Command,
  type Frame,
} from "../../src/amqp";
import { concatBytes, expectAmqpError, hex } from "./helpers";

const text = (s: string) => new TextEncoder().encode(s);

const publish = makeMethod("basic.publish", { exchange: "ex", routingKey: "rk" });
const ack = makeMethod("basic.ack", { deliveryTag: 42 });
const header = encodeContentHeader(60, 10, { contentType: "text/plain" });

// method + header on channel 1, an ack on channel 2 in between, two body
// frames with a heartbeat between them, then another method on channel 2.
const expectedFrames: Frame[] = [
  { type: FrameType.Method, channel: 1, payload: encodeMethod(publish) },
  { type: FrameType.Header, channel: 1, payload: header },
  { type: FrameType.Method, channel: 2, payload: encodeMethod(ack) },
  { type: FrameType.Body, channel: 1, payload: text("hello") },
  { type: FrameType.Heartbeat, channel: 0, payload: new Uint8Array(0) },
  { type: FrameType.Body, channel: 1, payload: text("world") },
  { type: FrameType.Method, channel: 2, payload: encodeMethod(makeMethod("channel.close", { replyCode: 200, replyText: "bye" })) },
];
const stream = concatBytes(...expectedFrames.map((f) => encodeFrame(f.type, f.channel, f.payload)));

const expectedCommands: Command[] = [
  { channel: 2, method: ack },
  { channel: 1, method: publish, properties: { contentType: "text/plain" }, header, body: text("helloworld") },
  { channel: 2, method: makeMethod("channel.close", { replyCode: 200, replyText: "bye" }) },
];

function run(chunks: Uint8Array[]): { frames: Frame[]; commands: Command[] } {
  const reader = new FrameReader(4096);
  const assembler = new CommandAssembler();
  const frames: Frame[] = [];
  const commands: Command[] = [];
  for (const c of chunks) {
    for (const f of reader.push(c)) {
      frames.push(f);
      const cmd = assembler.push(f);
      if (cmd) commands.push(cmd);
    }
  }
  expect(reader.bufferedBytes).toBe(0);
  return { frames, commands };
}

describe("FrameReader fragmentation", () => {
  it("whole stream in one chunk", () => {
    expect(run([stream])).toEqual({ frames: expectedFrames, commands: expectedCommands });
  });

  it("split into two pieces at every offset", () => {
    for (let i = 0; i <= stream.length; i++) {
      const result = run([stream.subarray(0, i), stream.subarray(i)]);
      expect(result.frames, `split at ${i}`).toEqual(expectedFrames);
      expect(result.commands, `split at ${i}`).toEqual(expectedCommands);
    }
  });

  it("fed byte by byte", () => {
    const chunks = Array.from(stream, (_, i) => stream.subarray(i, i + 1));
    expect(run(chunks)).toEqual({ frames: expectedFrames, commands: expectedCommands });
  });

  it("split into three pieces at many offset pairs", () => {
    for (let i = 0; i < stream.length; i += 3) {
      for (let j = i; j <= stream.length; j += 5) {
        const result = run([stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
        expect(result.frames).toEqual(expectedFrames);
      }
    }
  });

  it("a frame inside one chunk is a view on it, not a copy", () => {
    const frames = new FrameReader(4096).push(stream);
    expect(frames[0]?.payload.buffer).toBe(stream.buffer);
  });

  it("a large frame fed in tiny chunks is reassembled (linear, no quadratic buffering)", () => {
    const body = new Uint8Array(300_000).map((_, i) => i % 251);
    const bytes = encodeFrame(FrameType.Body, 1, body);
    const reader = new FrameReader(0);
    const out: Frame[] = [];
    for (let i = 0; i < bytes.length; i += 3) out.push(...reader.push(bytes.subarray(i, i + 3)));
    expect(out).toHaveLength(1);
    expect(out[0]?.payload).toEqual(body);
  });
});

describe("FrameReader errors (all FRAME_ERROR 501, connection-level)", () => {
  it("bad frame-end octet; the reader stays failed", () => {
    const bad = hex("08 0000 00000000 00");
    const reader = new FrameReader(4096);
    expectAmqpError(() => reader.push(bad), ReplyCode.FRAME_ERROR);
    expectAmqpError(() => reader.push(encodeFrame(8, 0, new Uint8Array(0))), ReplyCode.FRAME_ERROR);
  });

  it("frames before a malformed one in the same push are returned first; the error waits in `error`", () => {
    const good = encodeFrame(FrameType.Method, 1, encodeMethod(ack));
    const reader = new FrameReader(4096);
    expect(reader.error).toBeNull();
    const frames = reader.push(concatBytes(good, good, hex("01 0001 00000001 00 00")));
    expect(frames.map((f) => f.payload)).toEqual([encodeMethod(ack), encodeMethod(ack)]);
    expect(reader.error?.code).toBe(ReplyCode.FRAME_ERROR);
    expect(reader.error?.message).toContain("invalid frame end marker 0x0");
    expectAmqpError(() => reader.push(good), ReplyCode.FRAME_ERROR);
    // Cut across pushes (the slow path): the good frame comes out, the push that completes the bad one throws.
    const cut = new FrameReader(4096);
    expect(cut.push(concatBytes(good, hex("01 0001 0000")))).toHaveLength(1);
    expectAmqpError(() => cut.push(hex("0001 00 00")), ReplyCode.FRAME_ERROR);
    expect(cut.error?.code).toBe(ReplyCode.FRAME_ERROR);
  });

  it("unknown frame type, detected from the header alone", () => {
    expectAmqpError(() => new FrameReader(4096).push(hex("04 0001 00000000")), ReplyCode.FRAME_ERROR);
  });

  it("oversize frame, detected from the header alone", () => {
    // frame_max counts the 8 bytes of overhead; RabbitMQ's 8-byte fudge is the default tolerance.
    const header = (size: number) => {
      const h = new Uint8Array(7);
      h[0] = 3;
      h[2] = 1;
      new DataView(h.buffer).setUint32(3, size);
      return h;
    };
    expect(new FrameReader(4096).push(header(4096))).toEqual([]);
    expectAmqpError(() => new FrameReader(4096).push(header(4097)), ReplyCode.FRAME_ERROR);
    const strict = new FrameReader(4096);
    strict.tolerance = 0;
    expect(strict.push(header(4088))).toEqual([]);
    expectAmqpError(() => {
      const r = new FrameReader(4096);
      r.tolerance = 0;
      r.push(header(4089));
    }, ReplyCode.FRAME_ERROR);
    // frame_max 0 = "unlimited", still capped.
    expect(new FrameReader(0).push(header(FRAME_MAX_UNLIMITED_CAP - 8))).toEqual([]);
    expectAmqpError(() => new FrameReader(0).push(header(FRAME_MAX_UNLIMITED_CAP - 7)), ReplyCode.FRAME_ERROR);
    expectAmqpError(() => new FrameReader(0).push(header(0xffffffff)), ReplyCode.FRAME_ERROR);
  });

  it("frameMax can be raised after tuning", () => {
    const reader = new FrameReader(4096);
    reader.frameMax = 131072;
    const big = encodeFrame(FrameType.Body, 1, new Uint8Array(100_000));
    expect(reader.push(big)).toHaveLength(1);
  });

  it("heartbeat on a non-zero channel or with a payload", () => {
    expectAmqpError(() => new FrameReader(4096).push(hex("08 0001 00000000 ce")), ReplyCode.FRAME_ERROR);
    expectAmqpError(() => new FrameReader(4096).push(hex("08 0000 00000001 00 ce")), ReplyCode.FRAME_ERROR);
  });
});
