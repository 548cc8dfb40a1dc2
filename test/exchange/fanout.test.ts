import { describe, expect, it } from "vitest";
import { S, checkCase, routerWith, toBinding } from "./helpers";
import type { RouteCase } from "./helpers";

const cases: RouteCase[] = [
  {
    name: "ignores the routing key",
    bindings: [
      ["q:a", "x"],
      ["q:b", "y"],
    ],
    key: "z",
    expect: ["q:a", "q:b"],
  },
  {
    name: "empty routing key",
    bindings: [
      ["q:a", "x"],
      ["e:b", ""],
    ],
    key: "",
    expect: ["q:a", "e:b"],
  },
  {
    name: "one destination bound twice: once",
    bindings: [
      ["q:a", "x"],
      ["q:a", "y"],
    ],
    key: "k",
    expect: ["q:a"],
  },
  { name: "ignores headers", bindings: [["q:a", "", { "x-match": S("all"), h: S("v") }]], key: "", headers: {}, expect: ["q:a"] },
  { name: "no bindings", bindings: [], key: "k", expect: [] },
];

describe("fanout routing", () => {
  it.each(cases)("$name", (c) => checkCase("fanout", c));

  it("stops routing to a destination once all its bindings are removed", () => {
    const r = routerWith("fanout", [
      ["q:a", "x"],
      ["q:a", "y"],
      ["q:b", "x"],
    ]);
    r.remove(toBinding(["q:a", "x"]));
    expect([...r.route("", undefined)].sort()).toEqual(["q:a", "q:b"]);
    r.remove(toBinding(["q:a", "y"]));
    expect([...r.route("", undefined)]).toEqual(["q:b"]);
  });
});
