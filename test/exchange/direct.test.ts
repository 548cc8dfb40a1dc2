import { describe, expect, it } from "vitest";
import { I, S, checkCase, routerWith, toBinding } from "./helpers";
import type { RouteCase } from "./helpers";

const cases: RouteCase[] = [
  { name: "exact match", bindings: [["q:a", "orders"]], key: "orders", expect: ["q:a"] },
  { name: "no partial/prefix match", bindings: [["q:a", "orders"]], key: "orders.new", expect: [] },
  { name: "case-sensitive", bindings: [["q:a", "orders"]], key: "Orders", expect: [] },
  {
    name: "wildcards are literal",
    bindings: [
      ["q:a", "*"],
      ["q:b", "#"],
    ],
    key: "x",
    expect: [],
  },
  {
    name: 'literal "*" key',
    bindings: [
      ["q:a", "*"],
      ["q:b", "#"],
    ],
    key: "*",
    expect: ["q:a"],
  },
  {
    name: "empty key binds and routes",
    bindings: [
      ["q:a", ""],
      ["q:b", "x"],
    ],
    key: "",
    expect: ["q:a"],
  },
  { name: "empty key does not match others", bindings: [["q:a", ""]], key: "x", expect: [] },
  {
    name: "several destinations, same key",
    bindings: [
      ["q:a", "k"],
      ["q:b", "k"],
      ["e:c", "k"],
    ],
    key: "k",
    expect: ["q:a", "q:b", "e:c"],
  },
  {
    name: "same destination via bindings differing only in args: once",
    bindings: [
      ["q:a", "k", { v: I(1) }],
      ["q:a", "k", { v: I(2) }],
    ],
    key: "k",
    expect: ["q:a"],
  },
  { name: "no bindings", bindings: [], key: "k", expect: [] },
];

describe("direct routing", () => {
  it.each(cases)("$name", (c) => checkCase("direct", c));

  it("keeps routing until the last binding of a (destination, key) pair goes", () => {
    const r = routerWith("direct", [
      ["q:a", "k", { v: S("1") }],
      ["q:a", "k", { v: S("2") }],
    ]);
    expect(r.remove(toBinding(["q:a", "k", { v: S("1") }]))).toBe(true);
    expect([...r.route("k", undefined)]).toEqual(["q:a"]);
    expect(r.remove(toBinding(["q:a", "k", { v: S("2") }]))).toBe(true);
    expect(r.route("k", undefined).size).toBe(0);
    expect(r.size).toBe(0);
  });
});
