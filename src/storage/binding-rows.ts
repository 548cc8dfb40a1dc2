import type { FieldTable } from "../amqp";
import { tableKey, tableToBytes } from "./table-bytes";

/**
 * A table of binding records keyed by (peer, routing_key, args_key): an exchange's bindings
 * (peer = destination) and inbound exchange-to-exchange bindings (peer = source), a queue's
 * bindings (peer = exchange). Arguments are kept in their wire encoding.
 */
export function createBindingTable(
  sql: SqlStorage,
  table: "inbound" | "bindings",
  peerColumn: "source" | "exchange" | "destination",
): void {
  sql.exec(
    `CREATE TABLE IF NOT EXISTS ${table} (${peerColumn} TEXT NOT NULL, routing_key TEXT NOT NULL, args_key TEXT NOT NULL, ` +
      `arguments BLOB NOT NULL, PRIMARY KEY (${peerColumn}, routing_key, args_key))`,
  );
}

/**
 * Adds or removes one binding record in a DO's SQLite table whose key is (peer, routing_key,
 * args_key): an exchange's inbound exchange-to-exchange bindings, a queue's bindings.
 */
export function recordBindingRow(
  sql: SqlStorage,
  table: "inbound" | "bindings",
  peerColumn: "source" | "exchange",
  binding: { peer: string; routingKey: string; arguments: FieldTable },
  add: boolean,
): void {
  const key = tableKey(binding.arguments);
  if (add) {
    sql.exec(
      `INSERT OR IGNORE INTO ${table} (${peerColumn}, routing_key, args_key, arguments) VALUES (?, ?, ?, ?)`,
      binding.peer,
      binding.routingKey,
      key,
      tableToBytes(binding.arguments),
    );
  } else {
    sql.exec(`DELETE FROM ${table} WHERE ${peerColumn} = ? AND routing_key = ? AND args_key = ?`, binding.peer, binding.routingKey, key);
  }
}
