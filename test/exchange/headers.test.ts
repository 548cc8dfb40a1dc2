import { describe, expect, it } from "vitest";
import { A, D, F, I, S, T, V, b, checkCase, d, f, l, t, u, x } from "./helpers";
import type { RouteCase } from "./helpers";
import { headersMatch, validateHeadersBindingArgs } from "../../src/exchange/routing/headers";
import type { FieldTable } from "../../src/amqp";

// Semantics from rabbit_exchange_type_headers.erl (route/3, match/2,
// match_x/2, match_all/3, match_any/3, validate_binding/2).
const one = (args: FieldTable, headers: FieldTable | undefined, matches: boolean, name: string): RouteCase => ({
  name,
  bindings: [["q:h", "", args]],
  key: "ignored",
  ...(headers === undefined ? {} : { headers }),
  expect: matches ? ["q:h"] : [],
});

const all = S("all");
const any = S("any");

const cases: RouteCase[] = [
  // x-match all (also the default)
  one({ "x-match": all, a: S("1"), b: S("2") }, { a: S("1"), b: S("2") }, true, "all: every key matches"),
  one({ "x-match": all, a: S("1"), b: S("2") }, { a: S("1"), b: S("2"), c: S("3") }, true, "all: extra headers are fine"),
  one({ "x-match": all, a: S("1"), b: S("2") }, { a: S("1") }, false, "all: a key missing"),
  one({ "x-match": all, a: S("1"), b: S("2") }, { a: S("1"), b: S("X") }, false, "all: a value differs"),
  one({ a: S("1") }, { a: S("1") }, true, "no x-match means all"),
  one({ a: S("1"), b: S("2") }, { a: S("1") }, false, "no x-match means all (missing key)"),
  // x-match any
  one({ "x-match": any, a: S("1"), b: S("2") }, { b: S("2") }, true, "any: one key matches"),
  one({ "x-match": any, a: S("1"), b: S("2") }, { a: S("X"), b: S("Y") }, false, "any: none match"),
  one({ "x-match": any, a: S("1") }, { c: S("1") }, false, "any: key absent"),
  // Missing headers / zero match keys
  one({ "x-match": all }, undefined, true, "all with no keys matches a message without headers"),
  one({}, undefined, true, "empty args match a message without headers"),
  one({}, { a: S("1") }, true, "empty args match any message"),
  one({ "x-match": any }, undefined, false, "any with no keys never matches (no headers)"),
  one({ "x-match": any }, { a: S("1") }, false, "any with no keys never matches (headers)"),
  one({ "x-match": all, a: S("1") }, undefined, false, "all with a key: message without headers"),
  one({ "x-match": any, a: S("1") }, undefined, false, "any with a key: message without headers"),
  // x- keys are ignored unless -with-x
  one({ "x-match": all, "x-foo": S("1") }, {}, true, "all: x- keys ignored (only x- keys → zero keys)"),
  one({ "x-match": all, a: S("1"), "x-foo": S("1") }, { a: S("1") }, true, "all: x- binding key ignored"),
  one({ "x-match": any, "x-foo": S("1") }, { "x-foo": S("1") }, false, "any: x- keys ignored even if present"),
  one({ "x-match": S("all-with-x"), "x-foo": S("1") }, { "x-foo": S("1") }, true, "all-with-x: x- key compared"),
  one({ "x-match": S("all-with-x"), "x-foo": S("1") }, {}, false, "all-with-x: x- key required"),
  one({ "x-match": S("all-with-x"), a: S("1"), "x-foo": S("1") }, { a: S("1"), "x-foo": S("2") }, false, "all-with-x: x- value differs"),
  one({ "x-match": S("any-with-x"), a: S("1"), "x-foo": S("1") }, { "x-foo": S("1") }, true, "any-with-x: x- key alone suffices"),
  one({ "x-match": S("any-with-x"), "x-foo": S("1") }, { "x-foo": S("2") }, false, "any-with-x: x- value differs"),
  one({ "x-match": S("any-with-x") }, { "x-match": S("any-with-x") }, false, "x-match itself is never a match key"),
  one({ "x-match": S("all-with-x") }, {}, true, "all-with-x with only x-match: zero keys"),
  // Void binding value = presence only (exchanges_SUITE headers_exchange_key_presence_only)
  one({ "x-match": all, a: V }, { a: S("anything") }, true, "void: present with any value"),
  one({ "x-match": all, a: V }, { a: V }, true, "void: present as void"),
  one({ "x-match": all, a: V }, { b: S("1") }, false, "void: absent"),
  one({ "x-match": S("all-with-x"), foo: V, "x-foo": V }, { foo: S("x"), "x-foo": l(42n) }, true, "void all-with-x: both present"),
  one({ "x-match": S("all-with-x"), foo: V, "x-foo": V }, { foo: S("x") }, false, "void all-with-x: one absent"),
  one({ "x-match": S("any-with-x"), foo: V, "x-foo": V }, { "x-foo": S("x") }, true, "void any-with-x: x- one present"),
  one({ "x-match": S("any-with-x"), foo: V, "x-foo": V }, undefined, false, "void any-with-x: no headers"),
  one({ "x-match": all, a: S("v") }, { a: V }, false, "void header does not equal a value"),
  // Numeric equality across types
  one({ n: I(5) }, { n: l(5n) }, true, "int32 vs int64 bigint"),
  one({ n: b(5) }, { n: u(5) }, true, "int8 vs uint16"),
  one({ n: l(5n) }, { n: d(5) }, true, "int64 vs double (numeric)"),
  one({ n: I(5) }, { n: f(5) }, true, "int32 vs float (numeric)"),
  one({ n: d(1.5) }, { n: I(1) }, false, "double 1.5 vs int 1"),
  one({ n: l(9007199254740993n) }, { n: d(9007199254740992) }, false, "bigint beyond 2^53 compared exactly"),
  one({ n: T(1700000000n) }, { n: l(1700000000n) }, true, "timestamp vs int64"),
  one({ n: I(1) }, { n: t(true) }, false, "number vs boolean"),
  one({ n: I(1) }, { n: S("1") }, false, "number vs string"),
  one({ n: D(2, 150) }, { n: D(2, 150) }, true, "decimal same scale/value"),
  one({ n: D(2, 150) }, { n: D(1, 15) }, false, "decimal compared as (scale, value), like RabbitMQ"),
  one({ n: D(0, 1) }, { n: I(1) }, false, "decimal vs integer"),
  // Strings, bytes, booleans, nested values
  one({ s: S("abc") }, { s: S("abc") }, true, "string equal"),
  one({ s: S("abc") }, { s: S("ABC") }, false, "string case-sensitive"),
  one({ s: S("hé") }, { s: x(0x68, 0xc3, 0xa9) }, true, "longstr vs byte array with same UTF-8 bytes"),
  one({ s: t(true) }, { s: t(true) }, true, "boolean equal"),
  one({ s: t(true) }, { s: t(false) }, false, "boolean differs"),
  one({ a: A(S("x"), I(1)) }, { a: A(S("x"), l(1n)) }, true, "array deep equal"),
  one({ a: A(S("x"), I(1)) }, { a: A(I(1), S("x")) }, false, "array order matters"),
  one({ a: A(S("x")) }, { a: A(S("x"), S("x")) }, false, "array length differs"),
  one({ t: F({ k: S("v"), n: I(2) }) }, { t: F({ n: l(2n), k: S("v") }) }, true, "table deep equal, any key order"),
  // Nested values keep their type tags in RabbitMQ's terms: int and float differ there.
  one({ t: F({ n: I(2) }) }, { t: F({ n: d(2) }) }, false, "table: nested int vs double"),
  one({ a: A(S("x")) }, { a: A(x(0x78)) }, false, "array: nested string vs bytes"),
  one({ t: F({ k: S("v") }) }, { t: F({ k: S("v"), extra: V }) }, false, "table extra key"),
];

describe("headers routing", () => {
  it.each(cases)("$name", (c) => checkCase("headers", c));

  it.each([
    {
      name: "several bindings, one destination: once",
      bindings: [
        ["q:a", "", { "x-match": any, a: S("1") }],
        ["q:a", "", { "x-match": any, b: S("2") }],
        ["q:b", "", { "x-match": all, a: S("1"), b: S("X") }],
        ["q:c", "", {}],
      ],
      key: "",
      headers: { a: S("1"), b: S("2") },
      expect: ["q:a", "q:c"],
    } satisfies RouteCase,
  ])("$name", (c) => checkCase("headers", c));

  it("exposes the single-binding predicate", () => {
    expect(headersMatch({ "x-match": any, a: I(1) }, { a: l(1n) })).toBe(true);
    expect(headersMatch({ "x-match": any }, undefined)).toBe(false);
  });
});

describe("validateHeadersBindingArgs", () => {
  it.each([
    [{}, null],
    [{ a: S("1") }, null],
    [{ "x-match": S("all") }, null],
    [{ "x-match": S("any") }, null],
    [{ "x-match": S("all-with-x") }, null],
    [{ "x-match": S("any-with-x") }, null],
  ] as const)("accepts %j", (args, want) => {
    expect(validateHeadersBindingArgs(args)).toBe(want);
  });

  it.each([
    [{ "x-match": S("ALL") }, /Invalid x-match field value "ALL"/],
    [{ "x-match": S("") }, /Invalid x-match field value ""/],
    [{ "x-match": S("some") }, /expected all, any, all-with-x, or any-with-x/],
    [{ "x-match": I(1) }, /Invalid x-match field type 'I'.*expected longstr/],
    [{ "x-match": x(0x61, 0x6c, 0x6c) }, /Invalid x-match field type 'x'/],
  ] as const)("rejects %j", (args, want) => {
    expect(validateHeadersBindingArgs(args)).toMatch(want);
  });

  it('routes an unvalidated bad x-match as "all" (RabbitMQ legacy fallback)', () => {
    expect(headersMatch({ "x-match": S("bogus"), a: S("1") }, { a: S("1") })).toBe(true);
    expect(headersMatch({ "x-match": I(7), a: S("1") }, {})).toBe(false);
  });
});
