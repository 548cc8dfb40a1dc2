// Field tables and arrays, with the type tags RabbitMQ uses (see its
// rabbit_binary_parser). Values keep their tag so decode→encode is byte-exact.
import { ReplyCode } from "./constants";
import { Reader, Writer, decodeUtf8 } from "./buffer";
import { connectionError, encodeError } from "./errors";

export type FieldValue =
  | { type: "t"; value: boolean }
  | { type: "b" | "B" | "s" | "u" | "I" | "i"; value: number }
  | { type: "l" | "L" | "T"; value: bigint }
  | { type: "f" | "d"; value: number }
  | { type: "D"; value: { scale: number; value: number } }
  | { type: "S"; value: string }
  | { type: "x"; value: Uint8Array }
  | { type: "A"; value: FieldValue[] }
  | { type: "F"; value: FieldTable }
  | { type: "V"; value: null };
export type FieldType = FieldValue["type"];
export type FieldTable = { [key: string]: FieldValue };

/** Nesting bound so a hostile peer cannot exhaust the stack with deep tables. */
const MAX_DEPTH = 64;

const syntaxError = (text: string) => connectionError(ReplyCode.SYNTAX_ERROR, text);

// A decoded key "__proto__" must become an own property, not a prototype swap.
function setEntry(t: Record<string, unknown>, key: string, v: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(t, key, { value: v, enumerable: true, writable: true, configurable: true });
  } else {
    t[key] = v;
  }
}

// ---------------------------------------------------------------- encoding

export function writeFieldValue(w: Writer, v: FieldValue): void {
  w.u8(v.type.charCodeAt(0));
  switch (v.type) {
    case "t":
      w.u8(v.value ? 1 : 0);
      return;
    case "b":
      w.i8(v.value);
      return;
    case "B":
      w.u8(v.value);
      return;
    case "s":
      w.i16(v.value);
      return;
    case "u":
      w.u16(v.value);
      return;
    case "I":
      w.i32(v.value);
      return;
    case "i":
      w.u32(v.value);
      return;
    case "l":
      w.i64(v.value);
      return;
    // RabbitMQ reads 'L' as signed; accept either reading of the 64 bits.
    case "L":
      w.u64(v.value < 0n ? BigInt.asUintN(64, v.value) : v.value);
      return;
    case "T":
      w.u64(v.value);
      return;
    case "f":
      w.f32(v.value);
      return;
    case "d":
      w.f64(v.value);
      return;
    case "D":
      w.u8(v.value.scale).u32(v.value.value);
      return;
    case "S":
      w.longstr(v.value);
      return;
    case "x":
      w.longstr(v.value);
      return;
    case "A":
      writeFieldArray(w, v.value);
      return;
    case "F":
      writeFieldTable(w, v.value);
      return;
    case "V":
      return;
    default:
      throw encodeError(`unknown field value type ${JSON.stringify((v as { type: unknown }).type)}`);
  }
}

/** Writes a table with its long byte-length prefix. */
export function writeFieldTable(w: Writer, t: FieldTable): void {
  const at = w.reserveU32();
  const start = w.length;
  for (const key of Object.keys(t)) {
    w.shortstr(key);
    writeFieldValue(w, t[key] as FieldValue);
  }
  w.patchU32(at, w.length - start);
}

export function writeFieldArray(w: Writer, a: readonly FieldValue[]): void {
  const at = w.reserveU32();
  const start = w.length;
  for (const v of a) writeFieldValue(w, v);
  w.patchU32(at, w.length - start);
}

/** The table's wire form, length prefix included. */
export function encodeFieldTable(t: FieldTable): Uint8Array {
  const w = new Writer(64);
  writeFieldTable(w, t);
  return w.finish();
}

// ---------------------------------------------------------------- decoding

function readFieldValue(r: Reader, depth: number): FieldValue {
  const tag = r.u8();
  switch (tag) {
    case 0x74:
      return { type: "t", value: r.u8() !== 0 };
    case 0x62:
      return { type: "b", value: r.i8() };
    case 0x42:
      return { type: "B", value: r.u8() };
    case 0x73:
      return { type: "s", value: r.i16() };
    case 0x75:
      return { type: "u", value: r.u16() };
    case 0x49:
      return { type: "I", value: r.i32() };
    case 0x69:
      return { type: "i", value: r.u32() };
    case 0x6c:
      return { type: "l", value: r.i64() };
    case 0x4c:
      return { type: "L", value: r.i64() }; // signed, as RabbitMQ decodes it
    case 0x54:
      return { type: "T", value: r.u64() };
    case 0x66:
      return { type: "f", value: r.f32() };
    case 0x64:
      return { type: "d", value: r.f64() };
    case 0x44: {
      const scale = r.u8();
      return { type: "D", value: { scale, value: r.u32() } };
    }
    case 0x53:
      return { type: "S", value: r.longstr() };
    case 0x78:
      return { type: "x", value: r.longstrBytes() };
    case 0x41:
      return { type: "A", value: readArrayBody(new Reader(r.longstrBytes()), depth + 1) };
    case 0x46:
      return { type: "F", value: readTableBody(new Reader(r.longstrBytes()), depth + 1) };
    case 0x56:
      return { type: "V", value: null };
    default:
      throw syntaxError(`unknown field value type 0x${tag.toString(16)}`);
  }
}

function readTableBody(r: Reader, depth: number): FieldTable {
  if (depth > MAX_DEPTH) throw syntaxError("field table nested too deeply");
  const t: FieldTable = {};
  while (!r.atEnd()) {
    const key = r.shortstr();
    setEntry(t, key, readFieldValue(r, depth));
  }
  return t;
}

function readArrayBody(r: Reader, depth: number): FieldValue[] {
  if (depth > MAX_DEPTH) throw syntaxError("field array nested too deeply");
  const a: FieldValue[] = [];
  while (!r.atEnd()) a.push(readFieldValue(r, depth));
  return a;
}

/**
 * Reads a length-prefixed table at the reader's offset and advances past it.
 * Malformed or truncated content throws SYNTAX_ERROR (502). Byte-array ('x')
 * values are views on the input, not copies.
 */
export function decodeFieldTable(src: Reader | Uint8Array): FieldTable {
  const r = src instanceof Reader ? src : new Reader(src);
  return readTableBody(new Reader(r.longstrBytes()), 0);
}

// ---------------------------------------------------------------- equality

// RabbitMQ (rabbit_misc:type_class) groups all integer types and decimal
// into one class and both floats into another; values of different classes
// never match, values of the same class compare with Erlang `==`.
function typeClass(t: FieldType): string {
  switch (t) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "l":
    case "L":
    case "D":
      return "int";
    case "f":
    case "d":
      return "float";
    default:
      return t;
  }
}

function numbersEqual(x: number | bigint, y: number | bigint): boolean {
  if (typeof x === typeof y) return x === y;
  const [big, num] = typeof x === "bigint" ? [x, y as number] : [y as bigint, x];
  return Number.isInteger(num) && big === BigInt(num);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Value equality as RabbitMQ applies it to header/argument values: 1 as 'b'
 * equals 1 as 'l', but not 1.0 as 'd'; decimals equal only decimals; strings
 * by content; tables (key order ignored) and arrays deeply with the same rule.
 * A void pattern matching "any value" is the headers exchange's business.
 */
export function fieldValueEquals(a: FieldValue, b: FieldValue): boolean {
  if (typeClass(a.type) !== typeClass(b.type)) return false;
  if (a.type === "D" || b.type === "D") {
    return a.type === "D" && b.type === "D" && a.value.scale === b.value.scale && a.value.value === b.value.value;
  }
  switch (a.type) {
    case "x":
      return b.type === "x" && bytesEqual(a.value, b.value);
    case "A": {
      if (b.type !== "A" || a.value.length !== b.value.length) return false;
      const bv = b.value;
      return a.value.every((v, i) => fieldValueEquals(v, bv[i] as FieldValue));
    }
    case "F":
      return b.type === "F" && fieldTableEquals(a.value, b.value);
    case "V":
      return true;
    default: {
      const x = a.value as number | bigint | boolean | string;
      const y = b.value as number | bigint | boolean | string;
      if (typeof x === "string" || typeof x === "boolean") return x === y;
      return typeof y !== "string" && typeof y !== "boolean" && numbersEqual(x, y);
    }
  }
}

export function fieldTableEquals(a: FieldTable, b: FieldTable): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return false;
    if (!fieldValueEquals(a[k] as FieldValue, b[k] as FieldValue)) return false;
  }
  return true;
}

// ---------------------------------------------------------------- plain JS

const INT32_MIN = -0x80000000;
const INT32_MAX = 0x7fffffff;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

function isPlainObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Tags a plain JS value: boolean→t, int32→I, other integer up to ±2^63→l,
 * any other number→d, bigint→l, string→S, Uint8Array→x, array→A, Date→T
 * (seconds), plain object→F, null/undefined→V.
 */
export function toFieldValue(js: unknown): FieldValue {
  switch (typeof js) {
    case "boolean":
      return { type: "t", value: js };
    case "string":
      return { type: "S", value: js };
    case "undefined":
      return { type: "V", value: null };
    case "number":
      if (Number.isInteger(js)) {
        if (js >= INT32_MIN && js <= INT32_MAX) return { type: "I", value: js };
        if (js >= -(2 ** 63) && js < 2 ** 63) return { type: "l", value: BigInt(js) };
      }
      return { type: "d", value: js };
    case "bigint":
      if (js < INT64_MIN || js > INT64_MAX) throw encodeError(`bigint out of signed 64-bit range: ${js}`);
      return { type: "l", value: js };
    case "object":
      if (js === null) return { type: "V", value: null };
      if (js instanceof Uint8Array) return { type: "x", value: js };
      if (Array.isArray(js)) return { type: "A", value: js.map(toFieldValue) };
      if (js instanceof Date) return { type: "T", value: BigInt(Math.floor(js.getTime() / 1000)) };
      if (isPlainObject(js)) return { type: "F", value: table(js as Record<string, unknown>) };
      break;
  }
  throw encodeError(`cannot convert ${Object.prototype.toString.call(js)} to a field value`);
}

/** A FieldTable from a plain object, tagging each value with toFieldValue. */
export function table(obj: Record<string, unknown>): FieldTable {
  const t: FieldTable = {};
  for (const key of Object.keys(obj)) setEntry(t, key, toFieldValue(obj[key]));
  return t;
}

/**
 * The plain JS reading of a value: numbers for 8–32-bit ints, floats and
 * decimals (value / 10^scale), bigint for 64-bit ints and timestamps,
 * strings, booleans, Uint8Array, arrays, plain objects, null for void.
 */
export function fromFieldValue(v: FieldValue): unknown {
  switch (v.type) {
    case "D":
      return v.value.value / 10 ** v.value.scale;
    case "A":
      return v.value.map(fromFieldValue);
    case "F":
      return plainTable(v.value);
    default:
      return v.value;
  }
}

export function plainTable(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(t)) setEntry(out, key, fromFieldValue(t[key] as FieldValue));
  return out;
}

/**
 * The value of an AMQP integer type (RabbitMQ's ?INTEGER_ARG_TYPES: b B s u I i l L) as a
 * bigint; null for any other type (floats, decimals and timestamps included).
 */
export function fieldInteger(v: FieldValue): bigint | null {
  switch (v.type) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
      return BigInt(v.value);
    case "l":
    case "L":
      return v.value;
    default:
      return null;
  }
}

/** Any numeric value as a number (bigint converted), else undefined. For reading x-arguments. */
export function fieldNumber(v: FieldValue | undefined): number | undefined {
  if (!v) return undefined;
  switch (v.type) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "f":
    case "d":
      return v.value;
    case "l":
    case "L":
    case "T":
      return Number(v.value);
    case "D":
      return v.value.value / 10 ** v.value.scale;
    default:
      return undefined;
  }
}

/** A longstr value (or a byte array read as UTF-8), else undefined. */
export function fieldString(v: FieldValue | undefined): string | undefined {
  if (v?.type === "S") return v.value;
  if (v?.type === "x") return decodeUtf8(v.value);
  return undefined;
}
