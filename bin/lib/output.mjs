// Output in rabbitmqctl's shapes: tab-separated tables (a header row, then one row per item,
// nothing padded), or with --formatter json the array rabbitmqctl streams: "[", one object per
// line with a leading comma from the second on, "]".

/**
 * A value as a table cell, as rabbitmqctl prints it: strings bare, null and missing values
 * empty, lists of strings "[a, b]", AMQP tables (objects) Erlang-style [{"key",value},...].
 * @param {unknown} value
 * @returns {string}
 */
export function cell(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "string")) return `[${value.join(", ")}]`;
    return `[${value.map(term).join(",")}]`;
  }
  return term(value);
}

/**
 * A value nested in a table or list, Erlang-term style: strings quoted.
 * @param {unknown} value
 * @returns {string}
 */
function term(value) {
  if (value === null || value === undefined) return "undefined";
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  if (Array.isArray(value)) return `[${value.map(term).join(",")}]`;
  const entries = Object.entries(/** @type {Record<string, unknown>} */ (value));
  return `[${entries.map(([k, v]) => `{${JSON.stringify(k)},${term(v)}}`).join(",")}]`;
}

/**
 * A cluster_state map ({"rabbit@host": "running"}) as rabbitmqctl prints it: [{rabbit@host, running}].
 * @param {unknown} value
 */
export function clusterStateCell(value) {
  if (value === null || typeof value !== "object" || Array.isArray(value)) return cell(value);
  return `[${Object.entries(value)
    .map(([node, state]) => `{${node}, ${cell(state)}}`)
    .join(", ")}]`;
}

/**
 * @param {string[]} columns
 * @param {unknown[][]} rows
 * @param {boolean} header
 */
export function table(columns, rows, header) {
  /** @type {string[]} */
  const lines = [];
  if (header && rows.length > 0) lines.push(columns.join("\t"));
  for (const row of rows) lines.push(row.map((v) => cell(v)).join("\t"));
  return lines.length > 0 ? `${lines.join("\n")}\n` : "";
}

/**
 * rabbitmqctl's JSON list formatting.
 * @param {unknown[]} items
 */
export function jsonList(items) {
  if (items.length === 0) return "[\n]\n";
  return `[\n${items.map((item, i) => (i === 0 ? "" : ",") + JSON.stringify(item)).join("\n")}\n]\n`;
}

/**
 * A number of bytes in gigabytes, the way rabbitmq-diagnostics status prints them ("0.1378").
 * @param {number} bytes
 */
export function gb(bytes) {
  return float(Math.round((bytes / 1e9) * 10_000) / 10_000);
}

/**
 * A number printed like an Erlang float: always with a fractional part.
 * @param {number} n
 */
export function float(n) {
  return Number.isInteger(n) ? `${n}.0` : String(n);
}

/**
 * Dotted-path lookup in parsed JSON ("queue.name").
 * @param {unknown} value
 * @param {string} path
 * @returns {unknown}
 */
export function pick(value, path) {
  let v = value;
  for (const key of path.split(".")) {
    if (v === null || typeof v !== "object" || Array.isArray(v)) return undefined;
    v = /** @type {Record<string, unknown>} */ (v)[key];
  }
  return v;
}
