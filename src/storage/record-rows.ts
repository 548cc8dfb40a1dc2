/**
 * Records longer than this are split across rows: DO SQLite refuses any value or row over
 * 2 MB. The first piece stays in the message row, the rest go to message_record_chunks.
 */
export const RECORD_CHUNK = 1 << 20;

interface ChunkRow extends Record<string, SqlStorageValue> {
  seq: number;
  data: ArrayBuffer;
}

/** Writes one message's record row, and its chunk rows when it is long; true when it was chunked. */
export function writeRecordRow(
  sql: SqlStorage,
  seq: number,
  redelivered: boolean,
  record: Uint8Array,
  verb: "INSERT" | "INSERT OR REPLACE",
): boolean {
  sql.exec(
    `${verb} INTO message_records (seq, redelivered, data) VALUES (?, ?, ?)`,
    seq,
    redelivered ? 1 : 0,
    record.subarray(0, RECORD_CHUNK),
  );
  if (record.length <= RECORD_CHUNK) return false;
  for (let off = RECORD_CHUNK, idx = 1; off < record.length; off += RECORD_CHUNK, idx++) {
    sql.exec("INSERT INTO message_record_chunks (seq, idx, data) VALUES (?, ?, ?)", seq, idx, record.subarray(off, off + RECORD_CHUNK));
  }
  return true;
}

/** The extra pieces of split values, per seq in order (a chunk table: seq, idx, data). */
export function readChunks(sql: SqlStorage, table: "message_record_chunks" | "message_chunks"): Map<number, Uint8Array[]> {
  const pieces = new Map<number, Uint8Array[]>();
  for (const r of sql.exec<ChunkRow>(`SELECT seq, data FROM ${table} ORDER BY seq, idx`)) {
    let list = pieces.get(r.seq);
    if (!list) pieces.set(r.seq, (list = []));
    list.push(new Uint8Array(r.data));
  }
  return pieces;
}
