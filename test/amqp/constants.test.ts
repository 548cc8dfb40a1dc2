import { describe, expect, it } from "vitest";
import {
  AmqpError,
  ClassId,
  FRAME_END,
  FrameType,
  PROTOCOL_HEADER,
  ReplyCode,
  TruncatedError,
  Reader,
  channelError,
  connectionError,
  isHardError,
  replyText,
} from "../../src/amqp";
import { hex } from "./helpers";

describe("protocol constants", () => {
  it("protocol header is AMQP 0 0 9 1", () => {
    expect(PROTOCOL_HEADER).toEqual(hex("414d5150 00000901"));
  });
  it("frame types, end marker and class ids", () => {
    expect(FrameType).toEqual({ Method: 1, Header: 2, Body: 3, Heartbeat: 8 });
    expect(FRAME_END).toBe(0xce);
    expect(ClassId).toEqual({ connection: 10, channel: 20, exchange: 40, queue: 50, basic: 60, confirm: 85, tx: 90 });
  });
  it("replyText names the constant", () => {
    expect(replyText(404)).toBe("NOT_FOUND");
    expect(replyText(ReplyCode.PRECONDITION_FAILED)).toBe("PRECONDITION_FAILED");
    expect(replyText(541)).toBe("INTERNAL_ERROR");
    expect(replyText(999)).toBe("UNKNOWN_ERROR");
  });
  it("hard vs soft codes per the spec", () => {
    const soft = [311, 312, 313, 403, 404, 405, 406];
    const hard = [320, 402, 501, 502, 503, 504, 505, 506, 530, 540, 541];
    for (const c of soft) expect(isHardError(c), String(c)).toBe(false);
    for (const c of hard) expect(isHardError(c), String(c)).toBe(true);
    expect(
      Object.values(ReplyCode)
        .filter((c) => c !== 200)
        .sort(),
    ).toEqual([...soft, ...hard].sort());
  });
});

describe("errors", () => {
  it("channelError is soft for soft codes and escalates hard codes", () => {
    const soft = channelError(ReplyCode.NOT_FOUND, "no queue 'q'", 50, 10);
    expect(soft).toBeInstanceOf(AmqpError);
    expect(soft).toBeInstanceOf(Error);
    expect({ code: soft.code, hard: soft.hard, classId: soft.classId, methodId: soft.methodId, message: soft.message }).toEqual({
      code: 404,
      hard: false,
      classId: 50,
      methodId: 10,
      message: "no queue 'q'",
    });
    expect(channelError(ReplyCode.COMMAND_INVALID, "x").hard).toBe(true);
  });
  it("connectionError is always hard", () => {
    const e = connectionError(ReplyCode.ACCESS_REFUSED, "login refused");
    expect([e.code, e.hard, e.classId, e.methodId]).toEqual([403, true, 0, 0]);
  });
  it("Reader truncation is a typed 502", () => {
    let caught: unknown;
    try {
      new Reader(hex("0001")).u32();
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(TruncatedError);
    expect((caught as AmqpError).code).toBe(502);
  });
});
