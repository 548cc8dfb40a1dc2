// Malformed input through the decoders; codes are connection errors.
import { describe, expect, it } from "vitest";
import {
  AmqpError,
  FrameWriter,
  Reader,
  ReplyCode,
  Writer,
  closeArgs,
  decodeMethod,
  encodeMethod,
  makeMethod,
  truncateUtf8,
} from "../../src/amqp";
import { expectAmqpError, hex } from "./helpers";

describe("decodeMethod", () => {
  it("truncated field table inside a method → FRAME_ERROR 'cannot decode', tagged with the method (RabbitMQ 3.10.8)", () => {
    // queue.declare whose arguments table claims 16 bytes but has 3.
    const bytes = hex("0032 000a 0000 01 71 00 00000010 01 61 56");
    const err = expectAmqpError(() => decodeMethod(bytes), ReplyCode.FRAME_ERROR);
    expect([err.classId, err.methodId]).toEqual([50, 10]);
    expect(err.message).toBe("cannot decode <<0,0,1,113,0,0,0,0,16,1,97,86>>");
  });

  it("bad value type inside a method's table → SYNTAX_ERROR", () => {
    expectAmqpError(() => decodeMethod(hex("0032 000a 0000 01 71 00 00000003 01 61 3f")), ReplyCode.SYNTAX_ERROR);
  });

  it("truncated arguments → FRAME_ERROR", () => {
    const full = encodeMethod(makeMethod("basic.deliver", { consumerTag: "c", deliveryTag: 1, routingKey: "rk" }));
    for (let n = 4; n < full.length; n++) {
      expectAmqpError(() => decodeMethod(full.subarray(0, n)), ReplyCode.FRAME_ERROR);
    }
  });

  it("shortstr length running past the payload → FRAME_ERROR", () => {
    expectAmqpError(() => decodeMethod(hex("0014 000a 05 61")), ReplyCode.FRAME_ERROR);
  });

  it('trailing bytes → FRAME_ERROR (RabbitMQ 3.10.8: "cannot decode <<0,0>>")', () => {
    const err = expectAmqpError(() => decodeMethod(hex("0014 000a 00 00")), ReplyCode.FRAME_ERROR);
    expect(err.message).toBe("cannot decode <<0,0>>");
  });

  it("unknown class or method id → NOT_IMPLEMENTED (540), with the ids", () => {
    const err = expectAmqpError(() => decodeMethod(hex("0063 000a")), ReplyCode.NOT_IMPLEMENTED);
    expect([err.classId, err.methodId]).toEqual([99, 10]);
    expectAmqpError(() => decodeMethod(hex("003c 0063")), ReplyCode.NOT_IMPLEMENTED);
    // basic.recover-async exists, its neighbour does not.
    expect(decodeMethod(hex("003c 0064 01")).name).toBe("basic.recover-async");
    expectAmqpError(() => decodeMethod(hex("003c 0065 01")), ReplyCode.NOT_IMPLEMENTED);
  });

  it("payload shorter than class+method ids → FRAME_ERROR", () => {
    expectAmqpError(() => decodeMethod(hex("003c 00")), ReplyCode.FRAME_ERROR);
  });
});

describe("encoding refuses values it cannot represent", () => {
  it("shortstr over 255 bytes (ASCII and multi-byte)", () => {
    expectAmqpError(() => new Writer().shortstr("a".repeat(256)), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => new Writer().shortstr("é".repeat(128)), ReplyCode.INTERNAL_ERROR); // 256 bytes, 128 chars
    expect(new Writer().shortstr(`${"é".repeat(127)}a`).finish()).toHaveLength(256);
    expect(new Writer().shortstr("a".repeat(255)).finish()).toHaveLength(256);
    expectAmqpError(() => encodeMethod(makeMethod("queue.declare", { queue: "q".repeat(256) })), ReplyCode.INTERNAL_ERROR);
  });

  it("numbers out of range or of the wrong type", () => {
    expectAmqpError(() => encodeMethod(makeMethod("basic.qos", { prefetchCount: 65536 })), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeMethod(makeMethod("basic.ack", { deliveryTag: -1 })), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeMethod(makeMethod("basic.ack", { deliveryTag: 1.5 })), ReplyCode.INTERNAL_ERROR);
    const wrong = { name: "basic.qos", args: { prefetchSize: "0", prefetchCount: 1, global: false } } as unknown as Parameters<
      typeof encodeMethod
    >[0];
    expectAmqpError(() => encodeMethod(wrong), ReplyCode.INTERNAL_ERROR);
  });

  it("a failed encode leaves no partial frame in the FrameWriter", () => {
    const w = new FrameWriter(4096);
    w.method(1, makeMethod("channel.open"));
    const before = w.size;
    expectAmqpError(() => w.method(1, makeMethod("queue.declare", { queue: "q".repeat(300) })), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(
      () => w.content(1, makeMethod("basic.publish"), { type: "t".repeat(300) }, new Uint8Array(5000)),
      ReplyCode.INTERNAL_ERROR,
    );
    expect(w.size).toBe(before);
    expect(w.take()).toEqual(hex("01 0001 00000005 0014000a00 ce"));
  });
});

describe("names are UTF-8 (short strings of methods without content)", () => {
  const shortstr = (bytes: number[]) => new Uint8Array([bytes.length, ...bytes]);

  it("valid UTF-8 names decode as they are, a leading BOM included", () => {
    expect(new Reader(shortstr([0x72, 0xc3, 0xa9])).strictShortstr()).toBe("ré");
    expect(new Reader(shortstr([0xef, 0xbb, 0xbf, 0x71])).strictShortstr()).toBe("\ufeffq");
    expect(new Reader(shortstr([0xef, 0xbf, 0xbd])).strictShortstr()).toBe("\ufffd");
  });

  const invalid: [string, number[]][] = [
    ["a lone continuation byte", [0x72, 0xff]],
    ["another invalid byte (must not become the same name)", [0x72, 0xfe]],
    ["255 bytes of 0xFF", Array(255).fill(0xff)],
    ["an overlong encoding", [0xc0, 0xaf]],
    ["a UTF-16 surrogate", [0xed, 0xa0, 0x80]],
    ["a truncated sequence", [0xe2, 0x82]],
  ];

  it.each(invalid)("%s → 501 FRAME_ERROR 'Malformed UTF-8 in shortstr' (RabbitMQ's answer)", (_what, bytes) => {
    const err = expectAmqpError(() => new Reader(shortstr(bytes)).strictShortstr(), ReplyCode.FRAME_ERROR);
    expect(err.message).toBe("Malformed UTF-8 in shortstr");
    // The same through queue.declare: the frame error keeps class and method 0, as RabbitMQ's.
    const declare = new Uint8Array([0, 50, 0, 10, 0, 0, ...shortstr(bytes), 0, 0, 0, 0, 0]);
    const viaMethod = expectAmqpError(() => decodeMethod(declare), ReplyCode.FRAME_ERROR);
    expect([viaMethod.message, viaMethod.classId, viaMethod.methodId]).toEqual(["Malformed UTF-8 in shortstr", 0, 0]);
  });

  it.each(invalid)("%s elsewhere (Reader.shortstr: tables, properties, publish) is kept byte for byte", (_what, bytes) => {
    const s = new Reader(shortstr(bytes)).shortstr();
    expect(new Writer().shortstr(s).finish()).toEqual(shortstr(bytes));
  });
});

describe("close reply texts", () => {
  it("a close text quoting bytes that are not UTF-8 is still valid UTF-8 (U+FFFD in their place)", () => {
    const name = new Reader(new Uint8Array([2, 0x61, 0xff])).shortstr();
    const args = closeArgs(new AmqpError(ReplyCode.NOT_FOUND, `no exchange '${name}' in vhost '/'`, false, 60, 40));
    expect(args.replyText).toBe("NOT_FOUND - no exchange 'a\uFFFD' in vhost '/'");
    const w = new Writer();
    w.shortstr(args.replyText);
    expect(() => new Reader(w.finish()).strictShortstr()).not.toThrow();
  });

  it("are cut to 255 bytes of UTF-8 between characters, never longer", () => {
    const long = "é".repeat(200);
    const text = truncateUtf8(`NOT_FOUND - no queue '${long}'`, 255);
    expect(new TextEncoder().encode(text).length).toBeLessThanOrEqual(255);
    expect(text.endsWith("é")).toBe(true);
    const args = closeArgs(new AmqpError(404, `no queue '${long}' in vhost '/'`, false, 50, 10));
    expect(new TextEncoder().encode(args.replyText).length).toBeLessThanOrEqual(255);
    // And the frame can be written.
    expect(() => encodeMethod({ name: "channel.close", args })).not.toThrow();
  });
});
