/** What the platform bills an object for, counted as it happens (in memory; bench and API read it). */
export interface CostCounters {
  /** SQLite rows written, as the cursors report them ($1.00 per million on Workers Paid). */
  rowsWritten: number;
  /** Durable Object requests: RPC calls received (and, for queues, deliveries pushed out). */
  rpcCalls: number;
  /** WebSocket messages received (billed as requests at 20:1). */
  wsMessagesIn: number;
}

export function emptyCost(): CostCounters {
  return { rowsWritten: 0, rpcCalls: 0, wsMessagesIn: 0 };
}

export function addCost(into: CostCounters, from: CostCounters): CostCounters {
  into.rowsWritten += from.rowsWritten;
  into.rpcCalls += from.rpcCalls;
  into.wsMessagesIn += from.wsMessagesIn;
  return into;
}

/**
 * The object's SqlStorage with every statement's rowsWritten added to `cost`. Statements that
 * write (INSERT, UPDATE, DELETE) have run by the time exec() returns, so the count is complete.
 */
export function countingSql(sql: SqlStorage, cost: CostCounters): SqlStorage {
  // Made once: every statement of a queue goes through it.
  const exec = (query: string, ...bindings: SqlStorageValue[]) => {
    const cursor = sql.exec(query, ...bindings);
    cost.rowsWritten += cursor.rowsWritten;
    return cursor;
  };
  return new Proxy(sql, {
    get(target, key) {
      if (key === "exec") return exec;
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}
