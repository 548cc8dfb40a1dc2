import type { FieldTable } from "../amqp";
import { tableKey, tableToBytes } from "./table-bytes";

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
