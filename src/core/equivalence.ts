import type { FieldTable, FieldType, FieldValue } from "../amqp";
import { equal, exactlyEqual, rabbitType, rawTerm, text, write } from "./erlang-terms";

/**
 * RabbitMQ's 406 text for a redeclare of an exchange or queue that differs from what exists,
 * or null when equivalent. `flags` are [name, received, current]; of the arguments only `keys`
 * are compared, the ones the broker gives a meaning to (others may differ freely), in order.
 */
export function inequivalence(
  what: string,
  flags: readonly (readonly [string, unknown, unknown])[],
  current: FieldTable,
  wanted: FieldTable,
  keys: readonly string[],
): string | null {
  const diff = (arg: string, received: string, now: string) =>
    `inequivalent arg '${arg}' for ${what}: received ${received} but current is ${now}`;
  for (const [name, received, now] of flags) if (received !== now) return diff(name, `'${String(received)}'`, `'${String(now)}'`);
  for (const key of keys) {
    const now = current[key];
    const received = wanted[key];
    if (argumentEquivalent(key, now, received)) continue;
    // Both present: RabbitMQ prints the two values; one absent: "none" and the other's value and type.
    if (now && received) return diff(key, showValue(received), showValue(now));
    return diff(key, showTyped(received), showTyped(now));
  }
  return null;
}

/**
 * rabbit_misc:assert_args_equivalence for one argument: equal when the same type and value,
 * the same class of type (integers, floats) with == values, or the same Erlang value whatever
 * the type (a longstr and a binary with the same bytes). An absent x-queue-type is "classic".
 */
export function argumentEquivalent(key: string, current: FieldValue | undefined, wanted: FieldValue | undefined): boolean {
  if (!current || !wanted) {
    const present = current ?? wanted;
    return !present || (key === "x-queue-type" && present.type === "S" && present.value === "classic");
  }
  const a = rawTerm(current);
  const b = rawTerm(wanted);
  if (typeClass(current.type) === typeClass(wanted.type) && equal(a, b)) return true;
  return exactlyEqual(a, b);
}

function typeClass(t: FieldType): string {
  const name = rabbitType(t);
  if (INTEGER_CLASS.has(name)) return "int";
  return name === "float" || name === "double" ? "float" : name;
}

const INTEGER_CLASS = new Set(["byte", "short", "signedint", "long", "decimal", "unsignedbyte", "unsignedshort", "unsignedint"]);

/** rabbit_misc:val/1 of a bare value: '<binary as text>', '<term>', or none for void (undefined). */
function showValue(v: FieldValue): string {
  const raw = rawTerm(v);
  if (raw.t === "atom" && raw.v === "undefined") return "none";
  return `'${text(raw.t === "bin" ? raw.v : write(raw))}'`;
}

/** rabbit_misc:val/1 of a typed value: "the value '10' of type 'byte'", or none. */
function showTyped(v: FieldValue | undefined): string {
  if (!v) return "none";
  const raw = rawTerm(v);
  return `the value '${text(raw.t === "bin" ? raw.v : write(raw))}' of type '${rabbitType(v.type)}'`;
}
