import { fieldValueEquals, fromFieldValue, type FieldTable, type FieldValue } from "../amqp";

/**
 * RabbitMQ's 406 text for a redeclare of an exchange or queue that differs from what exists,
 * or null when equivalent. `flags` are [name, received, current]; of the arguments only `keys`
 * are compared, the ones the broker gives a meaning to (others may differ freely).
 */
export function inequivalence(
  what: string,
  flags: readonly (readonly [string, unknown, unknown])[],
  current: FieldTable,
  wanted: FieldTable,
  keys: readonly string[],
): string | null {
  const diff = (arg: string, received: string, now: string) =>
    `inequivalent arg '${arg}' for ${what}: received '${received}' but current is '${now}'`;
  for (const [name, received, now] of flags) if (received !== now) return diff(name, String(received), String(now));
  for (const key of keys) {
    const now = current[key];
    const received = wanted[key];
    const same = now === undefined || received === undefined ? now === received : fieldValueEquals(now, received);
    if (!same) return diff(key, show(received), show(now));
  }
  return null;
}

function show(v: FieldValue | undefined): string {
  if (v === undefined) return "none";
  const plain = fromFieldValue(v);
  return v.type === "x" ? `<${v.value.length} bytes>` : typeof plain === "object" ? v.type : String(plain);
}
