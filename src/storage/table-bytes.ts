import { decodeFieldTable, encodeFieldTable, type FieldTable, type FieldValue } from "../amqp";

/** Field tables are stored in SQLite in their wire encoding, so every type survives exactly. */
export function tableToBytes(t: FieldTable): Uint8Array {
  return encodeFieldTable(t);
}

export function tableFromBytes(bytes: Uint8Array): FieldTable {
  return decodeFieldTable(bytes);
}

/** A canonical string for a table (keys sorted at every level): equal tables, equal keys. */
export function tableKey(t: FieldTable): string {
  const bytes = encodeFieldTable(sorted(t));
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return s;
}

function sorted(t: FieldTable): FieldTable {
  const out: FieldTable = {};
  for (const k of Object.keys(t).sort()) out[k] = sortedValue(t[k]!);
  return out;
}

function sortedValue(v: FieldValue): FieldValue {
  if (v.type === "F") return { type: "F", value: sorted(v.value) };
  if (v.type === "A") return { type: "A", value: v.value.map(sortedValue) };
  return v;
}
