import { describe, expect, it } from "vitest";
import {
  BASIC_PROPERTIES,
  ReplyCode,
  decodeContentHeader,
  decodeProperties,
  encodeContentHeader,
  type BasicProperties,
} from "../../src/amqp";
import { expectAmqpError, hex, toHex } from "./helpers";

const all: Required<BasicProperties> = {
  contentType: "application/json",
  contentEncoding: "gzip",
  headers: { "x-retry": { type: "I", value: 3 }, who: { type: "S", value: "ü" } },
  deliveryMode: 2,
  priority: 9,
  correlationId: "corr-1",
  replyTo: "amq.rabbitmq.reply-to",
  expiration: "60000",
  messageId: "msg-1",
  timestamp: 1700000000n,
  type: "order.created",
  userId: "guest",
  appId: "warren-test",
  clusterId: "c1",
};

describe("basic properties", () => {
  it("all 14 round trip", () => {
    const payload = encodeContentHeader(60, 1234, all);
    expect(decodeContentHeader(payload)).toEqual({ classId: 60, weight: 0, bodySize: 1234, properties: all });
    // Every flag bit 15..2 is set.
    expect(toHex(payload.subarray(12, 14))).toBe("ff fc");
  });

  it("each property alone sets exactly its flag bit (15 - index)", () => {
    BASIC_PROPERTIES.forEach(([name], i) => {
      const props = { [name]: all[name] } as BasicProperties;
      const payload = encodeContentHeader(60, 0, props);
      const flags = (payload[12] as number) * 256 + (payload[13] as number);
      expect(flags, name).toBe(1 << (15 - i));
      expect(decodeContentHeader(payload).properties).toEqual(props);
    });
  });

  it("none set → flags 0 and an empty object", () => {
    const payload = encodeContentHeader(60, 0, {});
    expect(toHex(payload)).toBe(toHex(hex("003c 0000 0000000000000000 0000")));
    expect(decodeContentHeader(payload).properties).toEqual({});
  });

  it("undefined-valued keys are treated as absent", () => {
    const props = { contentType: undefined } as unknown as BasicProperties;
    expect(toHex(encodeContentHeader(60, 0, props).subarray(12))).toBe("00 00");
  });

  it("large body sizes up to 2^53-1 survive; beyond is FRAME_ERROR", () => {
    const big = Number.MAX_SAFE_INTEGER;
    expect(decodeContentHeader(encodeContentHeader(60, big, {})).bodySize).toBe(big);
    expectAmqpError(() => decodeContentHeader(hex("003c 0000 0020000000000000 0000")), ReplyCode.FRAME_ERROR);
  });

  it("continuation flag words: empty ones are skipped, set bits are refused", () => {
    // content-type present, continuation bit set, then an empty flags word.
    expect(decodeProperties(hex("8001 0000 01 61"))).toEqual({ contentType: "a" });
    expect(decodeProperties(hex("8001 0001 0000 01 61"))).toEqual({ contentType: "a" });
    expectAmqpError(() => decodeProperties(hex("8001 8000 01 61")), ReplyCode.SYNTAX_ERROR);
  });

  it("malformed properties are SYNTAX_ERROR, short headers FRAME_ERROR", () => {
    expectAmqpError(() => decodeProperties(hex("8000 05 6162")), ReplyCode.SYNTAX_ERROR); // truncated
    expectAmqpError(() => decodeProperties(hex("8000 01 61 ff")), ReplyCode.SYNTAX_ERROR); // trailing
    expectAmqpError(() => decodeContentHeader(hex("003c 0000 0000000000000000")), ReplyCode.FRAME_ERROR);
  });
});
