import { fromFieldValue, type FieldTable, type FieldValue } from "../amqp";

/**
 * A field table as JSON (what the management API shows and the catalog stores): 64-bit ints
 * become numbers (strings beyond 2^53), byte strings UTF-8 text, as RabbitMQ's API renders them.
 */
export function jsonTable(t: FieldTable): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(t)) out[key] = jsonValue(fromFieldValue(t[key] as FieldValue));
  return out;
}

export function jsonValue(v: unknown): unknown {
  if (typeof v === "bigint") return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (Array.isArray(v)) return v.map(jsonValue);
  if (v !== null && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = jsonValue(x);
    return out;
  }
  return v;
}
