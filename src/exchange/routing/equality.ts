import { encodeUtf8, fieldValueEquals, type FieldValue } from "../../amqp";

// How the headers exchange compares a binding value with a message header value.
// RabbitMQ (rabbit_exchange_type_headers.erl, since rabbitmq-server#760) compares the
// decoded values with Erlang `==` and ignores the AMQP type tags:
// - every integer width, timestamps and floats are numbers: 5 (byte) matches 5 (long)
//   and 5.0 (double); compared exactly, so a float never equals an integer it is not;
// - longstr ('S') and byte array ('x') are both binaries: equal when the bytes are
//   ('S' taken as UTF-8);
// - a decimal is a (scale, value) pair: it equals only the same pair, never a number;
// - booleans equal booleans, void equals void.
// Arrays and tables keep their inner type tags in RabbitMQ's terms, so nested values
// use the codec's type-class equality (the one argument equivalence uses).
// Binding identity is not this: BaseRouter compares arguments with the codec's equality.

type NumericValue = number | bigint;

function numericOf(v: FieldValue): NumericValue | undefined {
  switch (v.type) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "f":
    case "d":
    case "l":
    case "L":
    case "T":
      return v.value;
    default:
      return undefined;
  }
}

function numericEquals(a: NumericValue, b: NumericValue): boolean {
  if (typeof a === typeof b) return a === b;
  // Mixed bigint/number: compare exactly in bigint space; a non-integral
  // (or non-finite) float can never equal an integer.
  const [big, num] = typeof a === "bigint" ? [a, b as number] : [b as bigint, a];
  return Number.isInteger(num) && BigInt(num) === big;
}

function bytesOf(v: FieldValue): Uint8Array | undefined {
  if (v.type === "x") return v.value;
  // The codec's encoder gives back the exact bytes of strings that were not valid UTF-8.
  if (v.type === "S") return encodeUtf8(v.value);
  return undefined;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function headerValueEquals(a: FieldValue, b: FieldValue): boolean {
  const na = numericOf(a);
  const nb = numericOf(b);
  if (na !== undefined || nb !== undefined) {
    return na !== undefined && nb !== undefined && numericEquals(na, nb);
  }
  if (a.type === "S" && b.type === "S") return a.value === b.value; // no encoding needed
  const ba = bytesOf(a);
  const bb = bytesOf(b);
  if (ba !== undefined || bb !== undefined) return ba !== undefined && bb !== undefined && bytesEqual(ba, bb);
  return fieldValueEquals(a, b);
}
