import type { QueuedMessage } from "./types";

/**
 * How often each message of a queue that counts deliveries (x-delivery-limit, quorum queues)
 * was handed out and given back, kept in SQLite so a restart of the object neither resets a
 * poison message's count nor forgets its x-delivery-count. A row per message given back (not per
 * delivery: the count is only written when it changes), deleted when the message is settled.
 */
export class DeliveryCounts {
  private readonly counts = new Map<number, number>();
  private forgotten: number[] = [];

  constructor(private readonly sql: SqlStorage) {}

  load(): void {
    this.counts.clear();
    this.forgotten = [];
    for (const r of this.sql.exec<{ seq: number; count: number }>("SELECT seq, count FROM delivery_counts"))
      this.counts.set(r.seq, r.count);
  }

  /** A message's count so far (0: never given back). */
  of(seq: number): number {
    return this.counts.get(seq) ?? 0;
  }

  /** Messages given back with their new counts: written now, in the caller's transaction. */
  record(messages: readonly QueuedMessage[]): void {
    for (const m of messages) {
      const n = m.deliveries ?? 0;
      if (n === 0) continue;
      this.counts.set(m.seq, n);
      this.sql.exec("INSERT OR REPLACE INTO delivery_counts (seq, count) VALUES (?, ?)", m.seq, n);
    }
  }

  /** Settled messages: their rows go with the next flush (flush()). */
  forget(messages: readonly QueuedMessage[]): void {
    for (const m of messages) if (this.counts.delete(m.seq)) this.forgotten.push(m.seq);
  }

  flush(): void {
    if (this.forgotten.length === 0) return;
    for (let i = 0; i < this.forgotten.length; i += 100) {
      const chunk = this.forgotten.slice(i, i + 100);
      this.sql.exec(`DELETE FROM delivery_counts WHERE seq IN (${chunk.map(() => "?").join(",")})`, ...chunk);
    }
    this.forgotten = [];
  }

  clear(): void {
    this.counts.clear();
    this.forgotten = [];
  }
}
