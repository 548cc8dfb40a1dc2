import { concatBytes, moveBytes } from "../amqp/buffer";
import { RECORD_CHUNK } from "./record-rows";

// A queue's messages are stored in segments: one row holds the records (message-record.ts) of
// up to SEGMENT_COUNT messages with consecutive seqs, back to back, so a publish batch costs one
// row written and a fully settled segment one row deleted. Data over RECORD_CHUNK continues in
// segment_chunks (DO SQLite refuses values over 2 MB). Which messages of a segment are settled
// is kept in memory and written, in batches, as a bitmap in segment_acks.

/** A segment closes at this many bytes of records (a larger single record is a segment alone). */
export const SEGMENT_BYTES = RECORD_CHUNK;
/** …or at this many messages. */
export const SEGMENT_COUNT = 4096;

/** A segment's index row: everything but its records. */
export interface SegmentIndex {
  id: number;
  count: number;
  bytes: number;
  /** Bit i set: message id+i is not persistent (null: all are). */
  transient: Uint8Array | null;
  /**
   * Its messages up to this seq were about to be handed out in ack mode when it was written
   * (0: none), so the delivery watermark needs no row of its own for them (message-store.ts).
   */
  delivered: number;
  /** When its messages were enqueued (epoch ms): per-message TTL counts from here. */
  publishedAt: number;
  /** The total of its messages' body sizes (x-max-length-bytes counts bodies). */
  bodyBytes: number;
  /** Its priority queue lane (the messages' priority); 0 in other queues. */
  lane: number;
}

export function createSegmentTables(sql: SqlStorage): void {
  // Index columns first: loading a queue reads them without reading the records behind.
  sql.exec(`CREATE TABLE IF NOT EXISTS segments (
      id INTEGER PRIMARY KEY, count INTEGER NOT NULL, bytes INTEGER NOT NULL, transient BLOB,
      delivered INTEGER NOT NULL DEFAULT 0, published_at INTEGER NOT NULL DEFAULT 0,
      body_bytes INTEGER NOT NULL DEFAULT 0, lane INTEGER NOT NULL DEFAULT 0, data BLOB NOT NULL)`);
  sql.exec(`CREATE TABLE IF NOT EXISTS segment_chunks (
      id INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id, idx))`);
  sql.exec("CREATE TABLE IF NOT EXISTS segment_acks (id INTEGER PRIMARY KEY, settled BLOB NOT NULL)");
}

/** Writes one segment: its row, and its chunk rows when its records pass RECORD_CHUNK. */
export function writeSegmentRow(sql: SqlStorage, seg: SegmentIndex, data: Uint8Array): void {
  sql.exec(
    "INSERT INTO segments (id, count, bytes, transient, delivered, published_at, body_bytes, lane, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    seg.id,
    seg.count,
    data.length,
    seg.transient,
    seg.delivered,
    seg.publishedAt,
    seg.bodyBytes,
    seg.lane,
    data.subarray(0, RECORD_CHUNK),
  );
  for (let off = RECORD_CHUNK, idx = 1; off < data.length; off += RECORD_CHUNK, idx++) {
    sql.exec("INSERT INTO segment_chunks (id, idx, data) VALUES (?, ?, ?)", seg.id, idx, data.subarray(off, off + RECORD_CHUNK));
  }
}

/** The records of these segments (ids ascending, all between `from` and `to`), by id. */
export function readSegmentData(sql: SqlStorage, ids: readonly number[]): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (ids.length === 0) return out;
  // By id, never by range: a priority queue's lanes interleave their segments in one table.
  // Rows' bytes are moved into buffers of our own (moveBytes): workerd keeps what it hands out
  // until a full GC, which a queue's isolate seldom runs.
  for (const part of chunksOf(ids)) {
    for (const r of sql.exec<{ id: number; data: ArrayBuffer }>(`SELECT id, data FROM segments WHERE id IN (${marks(part)})`, ...part)) {
      out.set(r.id, new Uint8Array(moveBytes(r.data)));
    }
  }
  const pieces = new Map<number, Uint8Array[]>();
  for (const part of chunksOf(ids)) {
    for (const r of sql.exec<{ id: number; data: ArrayBuffer }>(
      `SELECT id, data FROM segment_chunks WHERE id IN (${marks(part)}) ORDER BY id, idx`,
      ...part,
    )) {
      const first = out.get(r.id);
      if (!first) continue;
      let list = pieces.get(r.id);
      if (!list) pieces.set(r.id, (list = [first]));
      list.push(new Uint8Array(moveBytes(r.data)));
    }
  }
  for (const [id, list] of pieces) out.set(id, concatBytes(list));
  for (const id of ids) if (!out.has(id)) throw new Error(`segment ${id} is in the index but not in storage`);
  return out;
}

/** DO SQLite takes at most 100 bound parameters a statement. */
function chunksOf(ids: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < ids.length; i += 100) out.push(ids.slice(i, i + 100));
  return out;
}

const marks = (ids: readonly number[]) => ids.map(() => "?").join(",");

/** Runs `statement WHERE id IN (…)` for these ids, 100 at a time. */
export function byIds(sql: SqlStorage, statement: string, ids: readonly number[]): void {
  for (const part of chunksOf(ids)) sql.exec(`${statement} WHERE id IN (${marks(part)})`, ...part);
}

export function bitmap(count: number): Uint8Array {
  return new Uint8Array((count + 7) >> 3);
}

export function hasBit(bits: Uint8Array | null, i: number): boolean {
  return bits !== null && ((bits[i >> 3] ?? 0) & (1 << (i & 7))) !== 0;
}

export function setBit(bits: Uint8Array, i: number): void {
  bits[i >> 3]! |= 1 << (i & 7);
}

/** Set bits among the first `count`. */
export function bitCount(bits: Uint8Array | null, count: number): number {
  if (bits === null) return 0;
  let n = 0;
  for (let i = 0; i < count; i++) if (hasBit(bits, i)) n++;
  return n;
}
