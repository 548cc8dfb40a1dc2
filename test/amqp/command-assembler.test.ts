import { describe, expect, it } from "vitest";
import {
  CommandAssembler,
  FrameReader,
  FrameType,
  ReplyCode,
  encodeContentHeader,
  encodeFrame,
  encodeMethod,
  makeMethod,
  type AnyMethod,
  type Frame,
} from "../../src/amqp";
import { expectAmqpError, hex } from "./helpers";

const publish = makeMethod("basic.publish", { exchange: "", routingKey: "q" });
const methodFrame = (channel: number, m: AnyMethod = publish): Frame => ({ type: FrameType.Method, channel, payload: encodeMethod(m) });
const headerFrame = (channel: number, size: number, classId = 60): Frame => ({
  type: FrameType.Header,
  channel,
  payload: encodeContentHeader(classId, size, { messageId: "m" }),
});
const bodyFrame = (channel: number, bytes: number[]): Frame => ({ type: FrameType.Body, channel, payload: new Uint8Array(bytes) });

describe("CommandAssembler", () => {
  it("non-content methods complete at once", () => {
    const a = new CommandAssembler();
    const m = makeMethod("queue.declare", { queue: "q", durable: true });
    expect(a.push(methodFrame(3, m))).toEqual({ channel: 3, method: m });
  });

  it("content: method → header → bodies, raw header and properties kept", () => {
    const a = new CommandAssembler();
    const h = headerFrame(1, 5);
    expect(a.push(methodFrame(1))).toBeNull();
    expect(a.isAssembling(1)).toBe(true);
    expect(a.push(h)).toBeNull();
    expect(a.push(bodyFrame(1, [1, 2]))).toBeNull();
    expect(a.push(bodyFrame(1, []))).toBeNull(); // empty body frames are allowed, as in RabbitMQ
    const cmd = a.push(bodyFrame(1, [3, 4, 5]));
    expect(cmd).toEqual({
      channel: 1,
      method: publish,
      properties: { messageId: "m" },
      header: h.payload,
      body: new Uint8Array([1, 2, 3, 4, 5]),
    });
    expect(cmd?.header).toBe(h.payload);
    expect(a.isAssembling(1)).toBe(false);
  });

  it("body size 0 completes right after the header", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    expect(a.push(headerFrame(1, 0))).toMatchObject({ channel: 1, body: new Uint8Array(0) });
  });

  it("a single body frame is passed through without copying", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    a.push(headerFrame(1, 3));
    const body = bodyFrame(1, [7, 8, 9]);
    expect(a.push(body)?.body).toBe(body.payload);
  });

  it("channels assemble independently", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    a.push(methodFrame(2));
    a.push(headerFrame(2, 1));
    a.push(headerFrame(1, 1));
    expect(a.push(bodyFrame(2, [2]))?.body).toEqual(new Uint8Array([2]));
    expect(a.push(bodyFrame(1, [1]))?.body).toEqual(new Uint8Array([1]));
  });

  it("heartbeats are ignored", () => {
    expect(new CommandAssembler().push({ type: FrameType.Heartbeat, channel: 0, payload: new Uint8Array(0) })).toBeNull();
  });

  it("resetChannel drops a half-received message", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    a.resetChannel(1);
    const m = makeMethod("channel.close-ok");
    expect(a.push(methodFrame(1, m))).toEqual({ channel: 1, method: m });
  });
});

describe("CommandAssembler errors (connection-level, as RabbitMQ)", () => {
  it("body frame without method or header → UNEXPECTED_FRAME", () => {
    expectAmqpError(() => new CommandAssembler().push(bodyFrame(1, [1])), ReplyCode.UNEXPECTED_FRAME);
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    expectAmqpError(() => a.push(bodyFrame(1, [1])), ReplyCode.UNEXPECTED_FRAME);
  });

  it("header without content method → UNEXPECTED_FRAME", () => {
    expectAmqpError(() => new CommandAssembler().push(headerFrame(1, 1)), ReplyCode.UNEXPECTED_FRAME);
  });

  it("method while content is pending → UNEXPECTED_FRAME with the pending method's ids", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    const err = expectAmqpError(() => a.push(methodFrame(1)), ReplyCode.UNEXPECTED_FRAME);
    expect([err.classId, err.methodId]).toEqual([60, 40]);
    const b = new CommandAssembler();
    b.push(methodFrame(1));
    b.push(headerFrame(1, 5));
    expectAmqpError(() => b.push(methodFrame(1)), ReplyCode.UNEXPECTED_FRAME);
  });

  it("second header → UNEXPECTED_FRAME", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    a.push(headerFrame(1, 5));
    expectAmqpError(() => a.push(headerFrame(1, 5)), ReplyCode.UNEXPECTED_FRAME);
  });

  it("header class mismatch or non-zero weight → UNEXPECTED_FRAME", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    expectAmqpError(() => a.push(headerFrame(1, 5, 50)), ReplyCode.UNEXPECTED_FRAME);
    const b = new CommandAssembler();
    b.push(methodFrame(1));
    expectAmqpError(
      () => b.push({ type: FrameType.Header, channel: 1, payload: hex("003c 0001 0000000000000000 0000") }),
      ReplyCode.UNEXPECTED_FRAME,
    );
  });

  it("body overrunning the declared size → FRAME_ERROR (RabbitMQ's code)", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    a.push(headerFrame(1, 2));
    a.push(bodyFrame(1, [1]));
    expectAmqpError(() => a.push(bodyFrame(1, [2, 3])), ReplyCode.FRAME_ERROR);
  });

  it("declared body size over maxBodySize → FRAME_ERROR", () => {
    const a = new CommandAssembler({ maxBodySize: 100 });
    a.push(methodFrame(1));
    expectAmqpError(() => a.push(headerFrame(1, 101)), ReplyCode.FRAME_ERROR);
    const b = new CommandAssembler({ maxBodySize: 100 });
    b.push(methodFrame(1));
    expect(b.push(headerFrame(1, 100))).toBeNull();
  });

  it("content method on channel 0 → COMMAND_INVALID", () => {
    expectAmqpError(() => new CommandAssembler().push(methodFrame(0)), ReplyCode.COMMAND_INVALID);
  });

  it("malformed properties in the header → SYNTAX_ERROR", () => {
    const a = new CommandAssembler();
    a.push(methodFrame(1));
    expectAmqpError(
      () => a.push({ type: FrameType.Header, channel: 1, payload: hex("003c 0000 0000000000000001 8000 05 61") }),
      ReplyCode.SYNTAX_ERROR,
    );
  });

  it("works end to end with the reader", () => {
    const reader = new FrameReader(4096);
    const a = new CommandAssembler();
    const bytes = encodeFrame(FrameType.Body, 5, new Uint8Array([1]));
    const [frame] = reader.push(bytes);
    expectAmqpError(() => a.push(frame as Frame), ReplyCode.UNEXPECTED_FRAME);
  });
});
