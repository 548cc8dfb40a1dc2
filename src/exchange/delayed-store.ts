/**
 * Records longer than this continue in delayed_chunks: DO SQLite refuses any value or row over
 * 2 MB (the same split as storage/record-rows.ts).
 */
export const DELAYED_CHUNK = 1 << 20;

/** A held message: its row id (arrival order), due time (epoch ms) and message record (storage/message-record.ts). */
export interface HeldMessage {
  id: number;
  due: number;
  record: Uint8Array;
}

interface HeldRow extends Record<string, SqlStorageValue> {
  id: number;
  due: number;
  chunks: number;
  data: ArrayBuffer;
}

/**
 * The messages a delayed-message exchange holds, in its SQLite (table `delayed`, exchange
 * migration 5): one row per message with its due time, read back in (due, arrival) order, a
 * bounded batch at a time, and deleted only once the queues have taken them. Nothing is kept in
 * memory but a count. Writes are the caller's to wrap in a transaction.
 */
export class DelayedStore {
  /** Next row id: ids grow with arrival, so equal due times come out first in, first out. */
  private nextId: number | null = null;
  /** Messages held, counted once when first asked and kept up to date. */
  private counted: number | null = null;

  constructor(private readonly sql: SqlStorage) {}

  /** Holds messages, in the order given. */
  add(messages: readonly { due: number; record: Uint8Array }[]): void {
    this.nextId ??= (this.sql.exec<{ id: number | null }>("SELECT MAX(id) AS id FROM delayed").toArray()[0]?.id ?? 0) + 1;
    for (const m of messages) {
      const id = this.nextId++;
      const chunks = Math.max(0, Math.ceil(m.record.length / DELAYED_CHUNK) - 1);
      this.sql.exec(
        "INSERT INTO delayed (id, due, chunks, data) VALUES (?, ?, ?, ?)",
        id,
        m.due,
        chunks,
        m.record.subarray(0, DELAYED_CHUNK),
      );
      for (let idx = 1; idx <= chunks; idx++) {
        const piece = m.record.subarray(idx * DELAYED_CHUNK, (idx + 1) * DELAYED_CHUNK);
        this.sql.exec("INSERT INTO delayed_chunks (id, idx, data) VALUES (?, ?, ?)", id, idx, piece);
      }
    }
    if (this.counted !== null) this.counted += messages.length;
  }

  /** How many messages are held. */
  count(): number {
    this.counted ??= this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM delayed").toArray()[0]?.n ?? 0;
    return this.counted;
  }

  /** The earliest due time held, or null when nothing is. */
  nextDue(): number | null {
    return this.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM delayed").toArray()[0]?.due ?? null;
  }

  /**
   * The messages due at `now`, earliest first (equal due times in arrival order): at most
   * `maxCount`, and no more bytes than `maxBytes` unless the first alone is larger.
   */
  due(now: number, maxCount: number, maxBytes: number): HeldMessage[] {
    const out: HeldMessage[] = [];
    let bytes = 0;
    const rows = this.sql.exec<HeldRow>("SELECT id, due, chunks, data FROM delayed WHERE due <= ? ORDER BY due, id LIMIT ?", now, maxCount);
    for (const row of rows) {
      const record = row.chunks > 0 ? this.joined(row) : new Uint8Array(row.data);
      if (out.length > 0 && bytes + record.length > maxBytes) break;
      out.push({ id: row.id, due: row.due, record });
      bytes += record.length;
    }
    return out;
  }

  /** Forgets messages the queues have taken. */
  remove(ids: readonly number[]): void {
    // Only the object's alarm removes, and only ids due() gave it: each was there.
    for (const id of ids) {
      this.sql.exec("DELETE FROM delayed WHERE id = ?", id);
      this.sql.exec("DELETE FROM delayed_chunks WHERE id = ?", id);
    }
    if (this.counted !== null) this.counted -= ids.length;
  }

  /** The object's storage was deleted: nothing is held any more. */
  reset(): void {
    this.nextId = null;
    this.counted = null;
  }

  private joined(row: HeldRow): Uint8Array {
    const pieces = [new Uint8Array(row.data)];
    for (const c of this.sql.exec<{ data: ArrayBuffer }>("SELECT data FROM delayed_chunks WHERE id = ? ORDER BY idx", row.id)) {
      pieces.push(new Uint8Array(c.data));
    }
    const out = new Uint8Array(pieces.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pieces) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}
