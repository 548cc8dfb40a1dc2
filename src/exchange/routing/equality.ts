import type { FieldTable, FieldValue } from './field-types';

// Value equality for AMQP field values, used both for headers-exchange
// matching and for binding identity (so two bindings that are "the same"
// always route the same way).
//
// Semantics (see the report / rabbit_exchange_type_headers.erl):
// - Numbers compare by numeric value across all integer widths, bigint-backed
//   types (l/L/T) and floats (f/d). Integers of any width are plain Erlang
//   integers in RabbitMQ, so they always compare equal by value; int vs float
//   (1 vs 1.0) matched up to RabbitMQ 3.12 (`==`), not since 3.13 (`=:=`).
//   We keep the cross-type rule (as specified for Warren); it lives in one
//   place, numericEquals, should strict 3.13+ behaviour be wanted.
// - Decimals compare by (scale, value) pair, as RabbitMQ compares the tuple:
//   1.50 (scale 2) is not 1.5 (scale 1), and a decimal never equals a number.
// - Long strings ('S') and byte arrays ('x') are both Erlang binaries in
//   RabbitMQ, so they compare by their bytes: 'S' is taken as UTF-8.
// - Booleans only equal booleans; void only equals void.
// - Arrays compare element-wise in order; tables compare key-set and values
//   regardless of key order, both recursively with these same rules.

const utf8 = new TextEncoder();

type NumericValue = number | bigint;

function numericOf(v: FieldValue): NumericValue | undefined {
  switch (v.type) {
    case 'b': case 'B': case 's': case 'u': case 'I': case 'i':
    case 'f': case 'd': case 'l': case 'L': case 'T':
      return v.value;
    default:
      return undefined;
  }
}

function numericEquals(a: NumericValue, b: NumericValue): boolean {
  if (typeof a === 'number' && typeof b === 'number') {
    // NaN == NaN so a binding holding NaN is still identical to itself.
    return a === b || (Number.isNaN(a) && Number.isNaN(b));
  }
  if (typeof a === 'bigint' && typeof b === 'bigint') return a === b;
  // Mixed bigint/number: compare exactly in bigint space; a non-integral
  // (or non-finite) float can never equal an integer.
  const [big, num] = typeof a === 'bigint' ? [a, b as number] : [b as bigint, a];
  return Number.isInteger(num) && BigInt(num) === big;
}

function bytesOf(v: FieldValue): Uint8Array | undefined {
  if (v.type === 'x') return v.value;
  if (v.type === 'S') return utf8.encode(v.value);
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function fieldValueEquals(a: FieldValue, b: FieldValue): boolean {
  const na = numericOf(a);
  const nb = numericOf(b);
  if (na !== undefined || nb !== undefined) {
    return na !== undefined && nb !== undefined && numericEquals(na, nb);
  }
  switch (a.type) {
    case 't':
      return b.type === 't' && a.value === b.value;
    case 'V':
      return b.type === 'V';
    case 'D':
      return b.type === 'D' && a.value.scale === b.value.scale && a.value.value === b.value.value;
    case 'S':
      if (b.type === 'S') return a.value === b.value; // fast path, no encoding
      return b.type === 'x' && bytesEqual(utf8.encode(a.value), b.value);
    case 'x': {
      const bb = bytesOf(b);
      return bb !== undefined && bytesEqual(a.value, bb);
    }
    case 'A':
      return b.type === 'A' && fieldArrayEquals(a.value, b.value);
    case 'F':
      return b.type === 'F' && fieldTableEquals(a.value, b.value);
    default:
      return false; // numeric types were handled above
  }
}

function fieldArrayEquals(a: readonly FieldValue[], b: readonly FieldValue[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    const y = b[i];
    if (x === undefined || y === undefined || !fieldValueEquals(x, y)) return false;
  }
  return true;
}

export function fieldTableEquals(a: FieldTable, b: FieldTable): boolean {
  const keys = Object.keys(a);
  if (keys.length !== Object.keys(b).length) return false;
  for (const k of keys) {
    if (!Object.hasOwn(b, k)) return false;
    const x = a[k];
    const y = b[k];
    if (x === undefined || y === undefined || !fieldValueEquals(x, y)) return false;
  }
  return true;
}
