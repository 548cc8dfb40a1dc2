import { describe, expect, it } from "vitest";
import { I, S, l } from "./helpers";
import { createRouter, isExchangeType, type ExchangeType } from "../../src/exchange/registry";
import type { Binding } from "../../src/exchange/routing/types";

const types: ExchangeType[] = ["direct", "fanout", "topic", "headers"];

describe("isExchangeType", () => {
  it.each([
    ["direct", true],
    ["fanout", true],
    ["topic", true],
    ["headers", true],
    ["Direct", false],
    ["x-delayed-message", true],
    ["x-consistent-hash", false],
    ["", false],
  ] as const)("%s → %s", (s, want) => expect(isExchangeType(s)).toBe(want));
});

describe.each(types)("%s router binding identity", (type) => {
  const b1: Binding = { destination: "q:a", routingKey: "k", arguments: { x: S("1"), n: I(1) } };

  it("rejects an identical binding, comparing arguments by value", () => {
    const r = createRouter(type);
    expect(r.add(b1)).toBe(true);
    expect(r.add({ destination: "q:a", routingKey: "k", arguments: { n: l(1n), x: S("1") } })).toBe(false);
    expect(r.size).toBe(1);
  });

  it("treats a different destination, key or argument as a new binding", () => {
    const r = createRouter(type);
    r.add(b1);
    expect(r.add({ ...b1, destination: "q:b" })).toBe(true);
    expect(r.add({ ...b1, routingKey: "k2" })).toBe(true);
    expect(r.add({ ...b1, arguments: { x: S("2"), n: I(1) } })).toBe(true);
    expect(r.add({ ...b1, arguments: {} })).toBe(true);
    expect(r.size).toBe(5);
  });

  it("does not confuse destination/key boundaries", () => {
    const r = createRouter(type);
    expect(r.add({ destination: "q:ab", routingKey: "c", arguments: {} })).toBe(true);
    expect(r.add({ destination: "q:a", routingKey: "bc", arguments: {} })).toBe(true);
    expect(r.size).toBe(2);
  });

  it("removes by value and reports absence", () => {
    const r = createRouter(type);
    r.add(b1);
    expect(r.remove({ ...b1, arguments: { x: S("other") } })).toBe(false);
    expect(r.remove({ ...b1, arguments: { n: I(1), x: S("1") } })).toBe(true);
    expect(r.remove(b1)).toBe(false);
    expect(r.size).toBe(0);
    expect(r.bindings()).toEqual([]);
  });

  it("lists bindings in insertion order, unaffected by caller mutation", () => {
    const r = createRouter(type);
    const mine: Binding = { destination: "q:a", routingKey: "k", arguments: {} };
    r.add(mine);
    r.add({ destination: "q:b", routingKey: "k", arguments: {} });
    mine.destination = "q:changed";
    expect(r.bindings().map((b) => b.destination)).toEqual(["q:a", "q:b"]);
    expect(r.remove({ destination: "q:a", routingKey: "k", arguments: {} })).toBe(true);
  });

  it("returns a fresh set per route", () => {
    const r = createRouter(type);
    r.add({ destination: "q:a", routingKey: "k", arguments: {} });
    const first = r.route("k", undefined);
    first.add("q:intruder");
    expect(r.route("k", undefined).has("q:intruder")).toBe(false);
  });
});
