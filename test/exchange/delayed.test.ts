import { describe, expect, it } from "vitest";
import { decodeContentHeader, encodeContentHeader, ReplyCode, type FieldTable, type FieldValue } from "../../src/amqp";
import { DelayedRouter, MAX_DUE, delayOf, dueAt, releasedHeader, validateDelayedDeclaration } from "../../src/exchange/delayed";
import { createRouter, isExchangeType, validateBinding, validateDeclaration } from "../../src/exchange/registry";
import { A, D, F, I, S, T, V, b, d, f, l, t, u, x } from "./helpers";

const B = (value: number): FieldValue => ({ type: "B", value });
const s = (value: number): FieldValue => ({ type: "s", value });
const i = (value: number): FieldValue => ({ type: "i", value });
const L = (value: bigint): FieldValue => ({ type: "L", value });

describe("delayOf: the x-delay header as the plugin reads it", () => {
  it.each([
    ["no headers", undefined, 0],
    ["no x-delay", { other: I(5) }, 0],
    ["signed byte", { "x-delay": b(100) }, 100],
    ["unsigned byte", { "x-delay": B(200) }, 200],
    ["short", { "x-delay": s(3000) }, 3000],
    ["unsigned short", { "x-delay": u(60000) }, 60000],
    ["int", { "x-delay": I(5000) }, 5000],
    ["unsigned int (2^32 - 1)", { "x-delay": i(0xffffffff) }, 0xffffffff],
    ["long: 30 days", { "x-delay": l(2_592_000_000n) }, 2_592_000_000],
    ["unsigned long", { "x-delay": L(7n) }, 7],
    ["double, truncated", { "x-delay": d(1500.9) }, 1500],
    ["float, truncated", { "x-delay": f(2.5) }, 2],
    ["a decimal string", { "x-delay": S("4000") }, 4000],
    ["a signed decimal string", { "x-delay": S("+12") }, 12],
    ["zero", { "x-delay": I(0) }, 0],
    ["negative", { "x-delay": I(-5000) }, 0],
    ["negative string", { "x-delay": S("-5") }, 0],
    ["a string that is not an integer", { "x-delay": S("soon") }, 0],
    ["a decimal fraction string", { "x-delay": S("1.5") }, 0],
    ["NaN", { "x-delay": d(Number.NaN) }, 0],
    ["boolean", { "x-delay": t(true) }, 0],
    ["timestamp", { "x-delay": T(5000n) }, 0],
    ["decimal", { "x-delay": D(0, 5000) }, 0],
    ["void", { "x-delay": V }, 0],
    ["bytes", { "x-delay": x(1, 2) }, 0],
    ["array", { "x-delay": A(I(5)) }, 0],
    ["table", { "x-delay": F({ a: I(5) }) }, 0],
  ] as [string, FieldTable | undefined, number][])("%s → %s", (_name, headers, want) => {
    expect(delayOf(headers)).toBe(want);
  });
});

describe("dueAt: epoch milliseconds, no 32-bit timer", () => {
  it("30 days and more are exact; anything past JavaScript's last date is held until then", () => {
    const now = 1_760_000_000_000;
    const thirtyDays = 30 * 24 * 3600 * 1000;
    expect(dueAt(now, thirtyDays)).toBe(now + thirtyDays);
    expect(dueAt(now, 0xffffffff + 1)).toBe(now + 0x100000000);
    expect(dueAt(now, 9.2e18)).toBe(MAX_DUE);
  });
});

describe("releasedHeader: x-delay turned negative when the message is due", () => {
  it("sets x-delay to minus the delay (a signed int) and keeps every other property and header as it was", () => {
    const props = {
      contentType: "text/plain",
      headers: { "x-delay": S("2500"), trace: S("abc"), n: l(5n) },
      deliveryMode: 2,
      priority: 3,
      messageId: "m-1",
      timestamp: 1234n,
    };
    const header = encodeContentHeader(60, 42, props);
    const out = releasedHeader(header);
    const decoded = decodeContentHeader(out.header);
    expect(decoded.bodySize).toBe(42);
    expect(decoded.properties).toEqual({ ...props, headers: { "x-delay": I(-2500), trace: S("abc"), n: l(5n) } });
    expect(out.headers).toEqual(decoded.properties.headers);
    expect(delayOf(out.headers)).toBe(0);
  });

  it("a delay beyond a signed int becomes a negative long", () => {
    const out = releasedHeader(encodeContentHeader(60, 0, { headers: { "x-delay": l(30n * 86_400_000n) } }));
    expect(out.headers?.["x-delay"]).toEqual(l(-2_592_000_000n));
  });

  it("a header without a positive x-delay is left untouched (the same bytes)", () => {
    const header = encodeContentHeader(60, 1, { headers: { "x-delay": I(-7) } });
    expect(releasedHeader(header).header).toBe(header);
  });
});

describe("the x-delayed-message type", () => {
  it("is a known exchange type", () => {
    expect(isExchangeType("x-delayed-message")).toBe(true);
  });

  it("a declaration needs x-delayed-type naming another known type (the plugin's codes and texts)", () => {
    const check = (args: FieldTable) => validateDeclaration("x-delayed-message", args);
    expect(check({ "x-delayed-type": S("direct") })).toBeNull();
    expect(check({ "x-delayed-type": S("headers") })).toBeNull();
    expect(check({})).toEqual({
      code: ReplyCode.PRECONDITION_FAILED,
      text: "Invalid argument, 'x-delayed-type' must be an existing exchange type",
    });
    expect(check({ "x-delayed-type": I(1) })?.code).toBe(ReplyCode.PRECONDITION_FAILED);
    expect(check({ "x-delayed-type": S("x-delayed-message") })).toEqual({
      code: ReplyCode.PRECONDITION_FAILED,
      text: "Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'",
    });
    expect(check({ "x-delayed-type": S("x-consistent-hash") })).toEqual({
      code: ReplyCode.COMMAND_INVALID,
      text: "unknown exchange type 'x-consistent-hash'",
    });
    expect(validateDelayedDeclaration({ "x-delayed-type": S("mine") }, (n) => n === "mine")).toBeNull();
    // Other types check nothing at declare.
    expect(validateDeclaration("direct", {})).toBeNull();
  });

  it("routes as its x-delayed-type and holds a message with a positive x-delay", () => {
    const topic = createRouter("x-delayed-message", { "x-delayed-type": S("topic") });
    expect(topic).toBeInstanceOf(DelayedRouter);
    topic.add({ destination: "q:a", routingKey: "a.*", arguments: {} });
    topic.add({ destination: "q:z", routingKey: "#.z", arguments: {} });
    expect([...topic.route("a.z", undefined)].sort()).toEqual(["q:a", "q:z"]);
    expect(topic.size).toBe(2);
    expect(topic.bindings().map((x) => x.routingKey)).toEqual(["a.*", "#.z"]);
    expect(topic.remove({ destination: "q:z", routingKey: "#.z", arguments: {} })).toBe(true);
    expect([...topic.route("a.z", undefined)]).toEqual(["q:a"]);
    expect(topic.holds?.({ "x-delay": I(10) })).toBe(true);
    expect(topic.holds?.({ "x-delay": I(-10) })).toBe(false);
    expect(topic.holds?.(undefined)).toBe(false);
    // Other routers hold nothing.
    expect(createRouter("topic").holds).toBeUndefined();
  });

  it("headers as x-delayed-type: binding arguments are checked and matched as a headers exchange's", () => {
    const declared = { "x-delayed-type": S("headers") };
    expect(validateBinding("x-delayed-message", { "x-match": S("some") }, declared)).toMatch(/Invalid x-match field value/);
    expect(validateBinding("x-delayed-message", { "x-match": S("any") }, declared)).toBeNull();
    expect(validateBinding("x-delayed-message", { "x-match": S("some") }, { "x-delayed-type": S("direct") })).toBeNull();
    const r = createRouter("x-delayed-message", declared);
    r.add({ destination: "q:h", routingKey: "", arguments: { "x-match": S("any"), kind: S("a") } });
    expect([...r.route("", { kind: S("a") })]).toEqual(["q:h"]);
    expect(r.route("", { kind: S("b") }).size).toBe(0);
  });
});
