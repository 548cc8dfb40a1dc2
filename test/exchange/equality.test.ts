import { describe, expect, it } from "vitest";
import { A, D, F, I, S, T, V, b, d, f, l, t, x } from "./helpers";
import { headerValueEquals } from "../../src/exchange/routing/equality";
import type { FieldValue } from "../../src/amqp";

// Header matching follows RabbitMQ's Erlang `==` on decoded values (see equality.ts).
const values: ReadonlyArray<readonly [FieldValue, FieldValue, boolean]> = [
  [I(3), b(3), true],
  [I(3), l(3n), true],
  [l(3n), T(3n), true],
  [I(3), d(3), true],
  [f(0.5), d(0.5), true],
  [I(3), I(4), false],
  [l(3n), d(3.5), false],
  [l(1n), d(Infinity), false],
  [l(9007199254740993n), d(9007199254740992), false],
  [S("a"), S("a"), true],
  [S("a"), S("b"), false],
  [S("a"), x(0x61), true],
  [x(0x61), S("a"), true],
  [x(1, 2), x(1, 2), true],
  [x(1, 2), x(1, 3), false],
  [x(1), x(1, 1), false],
  [t(true), t(true), true],
  [t(false), I(0), false],
  [V, V, true],
  [V, S(""), false],
  [D(1, 5), D(1, 5), true],
  [D(1, 5), D(2, 50), false],
  [D(0, 5), I(5), false],
  [A(), A(), true],
  [A(I(1)), A(l(1n)), true],
  [A(I(1)), A(d(1)), false],
  [A(I(1)), A(), false],
  [A(), F({}), false],
  [F({}), F({}), true],
  [F({ a: I(1) }), F({ a: l(1n) }), true],
  [F({ a: I(1) }), F({ b: I(1) }), false],
  [F({ a: F({ b: A(S("x")) }) }), F({ a: F({ b: A(S("x")) }) }), true],
];

// Compact label for test names (JSON cannot serialise bigint).
function show(v: FieldValue): string {
  switch (v.type) {
    case "A":
      return `A[${v.value.map(show).join(",")}]`;
    case "F":
      return `F{${Object.entries(v.value)
        .map(([k, e]) => `${k}:${show(e)}`)
        .join(",")}}`;
    case "x":
      return `x[${[...v.value].join(",")}]`;
    case "D":
      return `D(${v.value.scale},${v.value.value})`;
    default:
      return `${v.type}(${String(v.value)})`;
  }
}

describe("headerValueEquals", () => {
  it.each(values.map(([a, c, want]) => ({ a, c, want, name: `${show(a)} ≟ ${show(c)} → ${want}` })))("$name", ({ a, c, want }) => {
    expect(headerValueEquals(a, c)).toBe(want);
    expect(headerValueEquals(c, a)).toBe(want); // symmetric
  });
});
