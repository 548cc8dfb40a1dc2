import { describe, expect, it } from "vitest";
import {
  Reader,
  ReplyCode,
  Writer,
  decodeFieldTable,
  encodeFieldTable,
  fieldNumber,
  fieldString,
  fieldTableEquals,
  fieldValueEquals,
  fromFieldValue,
  plainTable,
  table,
  toFieldValue,
  writeFieldTable,
  type FieldTable,
  type FieldValue,
} from "../../src/amqp";
import { expectAmqpError, hex } from "./helpers";

describe("field table decoding", () => {
  it("reads at the reader's offset and advances past the table", () => {
    const w = new Writer();
    w.u8(0xaa);
    writeFieldTable(w, { a: { type: "t", value: false } });
    w.u8(0xbb);
    const r = new Reader(w.finish(), 1);
    expect(decodeFieldTable(r)).toEqual({ a: { type: "t", value: false } });
    expect(r.u8()).toBe(0xbb);
    expect(r.atEnd()).toBe(true);
  });

  it("reads 'L' as signed 64-bit, like RabbitMQ, and re-encodes the same bytes", () => {
    const bytes = hex("0000000b 01 4c 4c ffffffffffffffff");
    const t = decodeFieldTable(bytes);
    expect(t.L).toEqual({ type: "L", value: -1n });
    expect(encodeFieldTable(t)).toEqual(bytes);
    expect(encodeFieldTable({ L: { type: "L", value: 2n ** 64n - 1n } })).toEqual(bytes);
  });

  it("any non-zero boolean octet is true", () => {
    expect(decodeFieldTable(hex("00000004 01 62 74 07"))).toEqual({ b: { type: "t", value: true } });
  });

  it("byte arrays are views, not copies", () => {
    const bytes = hex("00000009 01 78 78 00000002 0102");
    const x = decodeFieldTable(bytes).x;
    expect(x?.type).toBe("x");
    if (x?.type === "x") expect(x.value.buffer).toBe(bytes.buffer);
  });

  it("a '__proto__' key becomes an own entry, not a prototype", () => {
    const bytes = hex("0000000c 09 5f5f70726f746f5f5f 74 01");
    const t = decodeFieldTable(bytes);
    expect(Object.getPrototypeOf(t)).toBe(Object.prototype);
    expect(Object.keys(t)).toEqual(["__proto__"]);
    expect(encodeFieldTable(t)).toEqual(bytes);
  });

  it("unknown value type is SYNTAX_ERROR", () => {
    expectAmqpError(() => decodeFieldTable(hex("00000003 01 61 5a")), ReplyCode.SYNTAX_ERROR);
  });

  it("truncated value or table is SYNTAX_ERROR", () => {
    expectAmqpError(() => decodeFieldTable(hex("00000005 01 61 49 0000")), ReplyCode.SYNTAX_ERROR);
    expectAmqpError(() => decodeFieldTable(hex("00000010 01 61 56")), ReplyCode.SYNTAX_ERROR);
    expectAmqpError(() => decodeFieldTable(hex("00000007 01 61 53 000000ff")), ReplyCode.SYNTAX_ERROR);
  });

  it("absurd nesting is refused", () => {
    let t: FieldTable = {};
    for (let i = 0; i < 100; i++) t = { n: { type: "F", value: t } };
    expectAmqpError(() => decodeFieldTable(encodeFieldTable(t)), ReplyCode.SYNTAX_ERROR);
    let shallow: FieldTable = {};
    for (let i = 0; i < 20; i++) shallow = { n: { type: "A", value: [{ type: "F", value: shallow }] } };
    expect(decodeFieldTable(encodeFieldTable(shallow))).toEqual(shallow);
  });
});

describe("field table encoding errors", () => {
  it("values out of range for their tag are refused", () => {
    expectAmqpError(() => encodeFieldTable({ a: { type: "b", value: 128 } }), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeFieldTable({ a: { type: "u", value: -1 } }), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeFieldTable({ a: { type: "I", value: 1.5 } }), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeFieldTable({ a: { type: "T", value: -1n } }), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => encodeFieldTable({ ["k".repeat(256)]: { type: "V", value: null } }), ReplyCode.INTERNAL_ERROR);
  });
});

describe("plain JS conversion", () => {
  it("toFieldValue picks tags", () => {
    expect(toFieldValue(true)).toEqual({ type: "t", value: true });
    expect(toFieldValue(5)).toEqual({ type: "I", value: 5 });
    expect(toFieldValue(-0x80000000)).toEqual({ type: "I", value: -0x80000000 });
    expect(toFieldValue(0x80000000)).toEqual({ type: "l", value: 0x80000000n });
    expect(toFieldValue(1.5)).toEqual({ type: "d", value: 1.5 });
    expect(toFieldValue(1e300)).toEqual({ type: "d", value: 1e300 });
    expect(toFieldValue(7n)).toEqual({ type: "l", value: 7n });
    expect(toFieldValue("s")).toEqual({ type: "S", value: "s" });
    expect(toFieldValue(new Uint8Array([1]))).toEqual({ type: "x", value: new Uint8Array([1]) });
    expect(toFieldValue([1, "a"])).toEqual({
      type: "A",
      value: [
        { type: "I", value: 1 },
        { type: "S", value: "a" },
      ],
    });
    expect(toFieldValue({ k: null })).toEqual({ type: "F", value: { k: { type: "V", value: null } } });
    expect(toFieldValue(undefined)).toEqual({ type: "V", value: null });
    expect(toFieldValue(new Date(1700000000999))).toEqual({ type: "T", value: 1700000000n });
    expectAmqpError(() => toFieldValue(new Map()), ReplyCode.INTERNAL_ERROR);
    expectAmqpError(() => toFieldValue(2n ** 63n), ReplyCode.INTERNAL_ERROR);
  });

  it("table() and plainTable() round trip plain objects", () => {
    const obj = { s: "x", n: 1, big: 2n ** 40n, f: 0.5, b: false, nested: { arr: [1, { z: "y" }] }, v: null };
    const t = table(obj);
    expect(decodeFieldTable(encodeFieldTable(t))).toEqual(t);
    expect(plainTable(decodeFieldTable(encodeFieldTable(t)))).toEqual(obj);
  });

  it("fromFieldValue reads decimals and 64-bit values", () => {
    expect(fromFieldValue({ type: "D", value: { scale: 2, value: 12345 } })).toBe(123.45);
    expect(fromFieldValue({ type: "T", value: 5n })).toBe(5n);
    expect(fromFieldValue({ type: "V", value: null })).toBe(null);
  });

  it("fieldNumber / fieldString read x-arguments whatever the client's tag", () => {
    expect(fieldNumber({ type: "b", value: 3 })).toBe(3);
    expect(fieldNumber({ type: "l", value: 60000n })).toBe(60000);
    expect(fieldNumber({ type: "d", value: 2.5 })).toBe(2.5);
    expect(fieldNumber({ type: "S", value: "3" })).toBeUndefined();
    expect(fieldNumber(undefined)).toBeUndefined();
    expect(fieldString({ type: "S", value: "lazy" })).toBe("lazy");
    expect(fieldString({ type: "x", value: new TextEncoder().encode("lazy") })).toBe("lazy");
    expect(fieldString({ type: "I", value: 1 })).toBeUndefined();
  });
});

describe("value equality (RabbitMQ type classes)", () => {
  const v = (type: string, value: unknown) => ({ type, value }) as FieldValue;
  it("integers compare numerically across widths, bigint included", () => {
    expect(fieldValueEquals(v("b", 1), v("l", 1n))).toBe(true);
    expect(fieldValueEquals(v("I", 1), v("u", 1))).toBe(true);
    expect(fieldValueEquals(v("I", 1), v("I", 2))).toBe(false);
    expect(fieldValueEquals(v("L", 2n), v("l", 2n))).toBe(true);
  });
  it("floats compare with floats only", () => {
    expect(fieldValueEquals(v("f", 1.5), v("d", 1.5))).toBe(true);
    expect(fieldValueEquals(v("I", 1), v("d", 1))).toBe(false);
  });
  it("decimals equal only identical decimals", () => {
    expect(fieldValueEquals(v("D", { scale: 1, value: 5 }), v("D", { scale: 1, value: 5 }))).toBe(true);
    expect(fieldValueEquals(v("D", { scale: 1, value: 5 }), v("D", { scale: 0, value: 5 }))).toBe(false);
    expect(fieldValueEquals(v("D", { scale: 0, value: 5 }), v("I", 5))).toBe(false);
  });
  it("strings, bytes, booleans, timestamps, void", () => {
    expect(fieldValueEquals(v("S", "a"), v("S", "a"))).toBe(true);
    expect(fieldValueEquals(v("S", "a"), v("S", "b"))).toBe(false);
    expect(fieldValueEquals(v("S", "a"), v("x", new Uint8Array([0x61])))).toBe(false);
    expect(fieldValueEquals(v("x", new Uint8Array([1, 2])), v("x", new Uint8Array([1, 2])))).toBe(true);
    expect(fieldValueEquals(v("x", new Uint8Array([1, 2])), v("x", new Uint8Array([1, 3])))).toBe(false);
    expect(fieldValueEquals(v("t", true), v("t", true))).toBe(true);
    expect(fieldValueEquals(v("t", true), v("I", 1))).toBe(false);
    expect(fieldValueEquals(v("T", 5n), v("T", 5n))).toBe(true);
    expect(fieldValueEquals(v("T", 5n), v("l", 5n))).toBe(false);
    expect(fieldValueEquals(v("V", null), v("V", null))).toBe(true);
    expect(fieldValueEquals(v("V", null), v("S", ""))).toBe(false);
  });
  it("arrays and tables deeply; table key order irrelevant", () => {
    expect(fieldValueEquals(v("A", [v("I", 1)]), v("A", [v("l", 1n)]))).toBe(true);
    expect(fieldValueEquals(v("A", [v("I", 1)]), v("A", [v("I", 1), v("I", 1)]))).toBe(false);
    const a = table({ x: 1, y: "s" });
    const b: FieldTable = { y: v("S", "s"), x: v("b", 1) };
    expect(fieldTableEquals(a, b)).toBe(true);
    expect(fieldTableEquals(a, { ...b, z: v("V", null) })).toBe(false);
    expect(fieldTableEquals(a, { y: v("S", "s"), w: v("b", 1) })).toBe(false);
    expect(fieldValueEquals(v("F", a), v("F", b))).toBe(true);
  });
});
