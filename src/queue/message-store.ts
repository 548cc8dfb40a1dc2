import { concatBytes } from "../amqp/buffer";
import { decodeRecord, recordOf } from "../storage/message-record";
import { RECORD_CHUNK, writeRecordRow } from "../storage/record-rows";
import type { IncomingMessage, QueuedMessage } from "./types";

interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  redelivered: number;
  data: ArrayBuffer;
}

/**
 * The ready messages whose contents are in memory: at most this many, and this many bytes (the
 * rest of a backlog is in SQLite only, each message a small placeholder in the ready list). Small
 * messages are cheap to keep and costly to read back one page at a time (a consumer that falls
 * behind then falls further), so the count is generous and the bytes are what bound memory.
 */
export const WINDOW_COUNT = 20_000;
export const WINDOW_BYTES = 8 << 20;
/** What one read from disk brings back at most, when the head of the queue is not in memory. */
export const PAGE_COUNT = 2000;
const PAGE_BYTES = 4 << 20;
const EMPTY = new Uint8Array(0);

/** A message's bytes in memory, near enough for the window's accounting. */
function weight(m: QueuedMessage): number {
  return m.header.length + m.body.length + 64;
}

/**
 * A queue's messages: every message lives in the DO's SQLite until it is acked, so nothing
 * confirmed is lost on eviction or restart. Each is one row holding its record (wire.ts: the
 * bytes it arrived with in the publish batch, so storing it copies nothing in JavaScript).
 * Ready messages are also held in memory in seq order; writes for a batch share one statement
 * loop inside the caller's transaction. Its tables are created by storage/migrations/queue.ts.
 */
export class MessageStore {
  private ready: QueuedMessage[] = [];
  private head = 0;
  private nextSeq = 1;
  /** Appended but not yet written; lets persistReady() skip its scan when nothing is pending. */
  private deferred = 0;
  /** Ready messages already on disk: while zero, new messages may bypass the disk. */
  private readyStored = 0;
  /** Stored messages whose record has rows in message_record_chunks (so deletes look there). */
  private readonly chunked = new Set<number>();
  /** Highest seq handed out in ack mode, as stored (see markDelivered). */
  private deliveredThrough = 0;
  /** Seqs acked (or taken by no-ack consumers) whose rows flushRemovals() has not deleted yet. */
  private removals: number[] = [];
  /** Ready messages whose contents are in memory, and their bytes (the window). */
  private loadedCount = 0;
  private loadedBytes = 0;
  /** From this index of `ready` to its end, every message is a placeholder (unloaded). */
  private stubsFrom = 0;

  constructor(private readonly sql: SqlStorage) {}

  /**
   * Rebuilds the ready list from storage (all stored messages are ready after a restart): an
   * index of seqs and flags, not the messages' contents, which are read a page at a time as the
   * head of the queue needs them.
   */
  load(): void {
    this.deliveredThrough = this.sql.exec<{ d: number }>("SELECT delivered_through AS d FROM queue_state").toArray()[0]?.d ?? 0;
    for (const r of this.sql.exec<{ seq: number }>("SELECT DISTINCT seq FROM message_record_chunks")) this.chunked.add(r.seq);
    this.ready = this.sql
      .exec<{ seq: number; redelivered: number; flags: ArrayBuffer | null }>(
        "SELECT seq, redelivered, substr(data, 1, 1) AS flags FROM message_records ORDER BY seq",
      )
      .toArray()
      .map((r) => ({
        exchange: "",
        routingKey: "",
        header: EMPTY,
        body: EMPTY,
        // The record's first byte holds its flags (message-record.ts): bit 0 is "persistent".
        persistent: r.flags !== null && ((new Uint8Array(r.flags)[0] ?? 0) & 1) === 1,
        seq: r.seq,
        // Handed out before the restart and never settled: it may have been seen (RabbitMQ: redelivered).
        redelivered: r.redelivered === 1 || r.seq <= this.deliveredThrough,
        stored: true,
        unloaded: true,
      }));
    this.head = 0;
    this.stubsFrom = 0;
    this.loadedCount = 0;
    this.loadedBytes = 0;
    this.readyStored = this.ready.length;
    const last = this.ready[this.ready.length - 1];
    // Seqs are never reused, not even those of messages already gone: the watermark stays true.
    this.nextSeq = Math.max(last ? last.seq : 0, this.deliveredThrough) + 1;
  }

  /** Ready messages whose contents are only on disk (for tests and the bench). */
  get unloadedCount(): number {
    return this.ready.length - this.head - this.loadedCount;
  }

  /**
   * Reads the contents of the placeholders at the head of the queue: up to PAGE_COUNT of them
   * and PAGE_BYTES, at least one. Only then may the head message leave the queue.
   */
  private loadHead(): void {
    const first = this.ready[this.head];
    if (!first?.unloaded) return;
    // Sizes first (no contents), to stop at PAGE_BYTES.
    const wanted: QueuedMessage[] = [];
    let bytes = 0;
    for (let i = this.head; i < this.ready.length && wanted.length < PAGE_COUNT; i++) {
      const m = this.ready[i]!;
      if (!m.unloaded) break;
      wanted.push(m);
    }
    const last = wanted[wanted.length - 1]!;
    const sizes = new Map<number, number>();
    for (const r of this.sql.exec<{ seq: number; n: number }>(
      "SELECT seq, length(data) AS n FROM message_records WHERE seq BETWEEN ? AND ?",
      first.seq,
      last.seq,
    )) {
      sizes.set(r.seq, this.chunked.has(r.seq) ? PAGE_BYTES : r.n);
    }
    let take = 0;
    for (const m of wanted) {
      const n = sizes.get(m.seq) ?? 0;
      if (take > 0 && bytes + n > PAGE_BYTES) break;
      bytes += n;
      take++;
    }
    const page = wanted.slice(0, take);
    const until = page[page.length - 1]!.seq;
    const rows = new Map<number, MessageRow>();
    for (const r of this.sql.exec<MessageRow>(
      "SELECT seq, redelivered, data FROM message_records WHERE seq BETWEEN ? AND ?",
      first.seq,
      until,
    )) {
      rows.set(r.seq, r);
    }
    const pieces = new Map<number, Uint8Array[]>();
    if (this.chunked.size > 0) {
      for (const r of this.sql.exec<{ seq: number; data: ArrayBuffer }>(
        "SELECT seq, data FROM message_record_chunks WHERE seq BETWEEN ? AND ? ORDER BY seq, idx",
        first.seq,
        until,
      )) {
        let list = pieces.get(r.seq);
        if (!list) pieces.set(r.seq, (list = []));
        list.push(new Uint8Array(r.data));
      }
    }
    for (const m of page) {
      const row = rows.get(m.seq);
      if (!row) throw new Error(`message ${m.seq} is ready but not in storage`);
      const rest = pieces.get(m.seq);
      const record = rest ? concatBytes([new Uint8Array(row.data), ...rest]) : new Uint8Array(row.data);
      const d = decodeRecord(record);
      m.exchange = d.exchange;
      m.routingKey = d.routingKey;
      m.header = d.header;
      m.body = d.body;
      m.persistent = d.persistent;
      m.record = record;
      m.unloaded = false;
      this.loadedCount++;
      this.loadedBytes += weight(m);
    }
    this.stubsFrom = Math.max(this.stubsFrom, this.head + page.length);
  }

  /**
   * Keeps the window within WINDOW_COUNT and WINDOW_BYTES: the newest stored messages beyond it
   * keep only their place in memory. Messages not yet written (on their way to a no-ack consumer)
   * are left alone: the dispatcher writes them when they wait (persistReady), and a later trim
   * takes them out; writing them here would cost a row each for messages about to leave anyway.
   */
  private trim(): void {
    if (this.loadedCount <= WINDOW_COUNT && this.loadedBytes <= WINDOW_BYTES) return;
    let i = this.stubsFrom;
    for (let j = this.stubsFrom - 1; j >= this.head && (this.loadedCount > WINDOW_COUNT || this.loadedBytes > WINDOW_BYTES); j--) {
      const m = this.ready[j]!;
      if (m.unloaded) continue;
      // A placeholder tail must be all placeholders: stop at the first message only in memory.
      if (!m.stored) break;
      this.loadedCount--;
      this.loadedBytes -= weight(m);
      this.unload(m);
      i = j;
    }
    this.stubsFrom = Math.min(this.stubsFrom, i);
  }

  private unload(m: QueuedMessage): void {
    if (m.unloaded) return;
    m.exchange = "";
    m.routingKey = "";
    m.header = EMPTY;
    m.body = EMPTY;
    delete m.record;
    m.unloaded = true;
  }

  /**
   * Messages up to `seq` have been handed to a consumer in ack mode. One row per dispatch round,
   * written in the caller's transaction (the one that persists those messages), never per message.
   */
  markDelivered(seq: number): void {
    if (seq <= this.deliveredThrough) return;
    this.deliveredThrough = seq;
    this.sql.exec(
      "INSERT INTO queue_state (id, delivered_through) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET delivered_through = excluded.delivered_through",
      seq,
    );
  }

  get readyCount(): number {
    return this.ready.length - this.head;
  }

  /** True when every ready message is still only in memory (or there are none). */
  get noneStored(): boolean {
    return this.readyStored === 0;
  }

  /**
   * Adds messages at the tail. Those `mayDefer` accepts stay in memory for now: the queue
   * writes them only if they do not leave at once for a no-ack consumer (see persist()).
   */
  append(messages: readonly IncomingMessage[], mayDefer: (m: IncomingMessage) => boolean): void {
    // Behind a backlog that is on disk only, new messages go to disk and keep only their place.
    const behindStubs = this.stubsFrom < this.ready.length;
    const now: QueuedMessage[] = [];
    const added: QueuedMessage[] = [];
    for (const m of messages) {
      const q: QueuedMessage = { ...m, seq: this.nextSeq++, redelivered: false, stored: false };
      if (!behindStubs && mayDefer(m)) this.deferred++;
      else now.push(q);
      this.ready.push(q);
      added.push(q);
    }
    this.writeMany(now);
    this.readyStored += now.length;
    if (behindStubs) {
      for (const q of added) this.unload(q);
      return;
    }
    for (const q of added) {
      this.loadedCount++;
      this.loadedBytes += weight(q);
    }
    this.stubsFrom = this.ready.length;
    this.trim();
  }

  /** Writes messages that so far lived only in memory. */
  persist(messages: Iterable<QueuedMessage>): void {
    const pending: QueuedMessage[] = [];
    for (const m of messages) if (!m.stored) pending.push(m);
    this.writeMany(pending);
  }

  /** Writes every ready message still only in memory (nobody took them at once). */
  persistReady(): void {
    if (this.deferred === 0) return;
    this.deferred = 0;
    const pending: QueuedMessage[] = [];
    for (let i = this.head; i < this.ready.length; i++) {
      const m = this.ready[i]!;
      if (!m.stored) pending.push(m);
    }
    this.writeMany(pending);
    this.readyStored += pending.length;
  }

  /** Small messages go in multi-row INSERTs (fewer statements); large ones one by one. */
  private writeMany(messages: readonly QueuedMessage[]): void {
    let rows: QueuedMessage[] = [];
    for (const m of messages) {
      if (recordOf(m).length > RECORD_CHUNK) {
        this.write(m);
        continue;
      }
      rows.push(m);
      if (rows.length === ROWS_PER_INSERT) {
        this.insertRows(rows);
        rows = [];
      }
    }
    if (rows.length > 0) this.insertRows(rows);
  }

  private insertRows(rows: readonly QueuedMessage[]): void {
    const params: (number | Uint8Array)[] = [];
    for (const m of rows) {
      params.push(m.seq, m.redelivered ? 1 : 0, recordOf(m));
      m.stored = true;
    }
    this.sql.exec(insertSql(rows.length), ...params);
  }

  private write(m: QueuedMessage): void {
    if (writeRecordRow(this.sql, m.seq, m.redelivered, recordOf(m), "INSERT")) this.chunked.add(m.seq);
    m.stored = true;
  }

  /** The oldest ready message (its contents in memory), left in place. */
  peek(): QueuedMessage | undefined {
    this.loadHead();
    return this.ready[this.head];
  }

  /** Takes the oldest ready message (its contents in memory); it stays in storage until removed. */
  shift(): QueuedMessage | undefined {
    if (this.head >= this.ready.length) return undefined;
    this.loadHead();
    const m = this.ready[this.head++];
    if (m?.stored) this.readyStored--;
    if (m && !m.unloaded) {
      this.loadedCount--;
      this.loadedBytes -= weight(m);
    }
    if (this.head > 1024 && this.head * 2 > this.ready.length) {
      this.ready = this.ready.slice(this.head);
      this.stubsFrom = Math.max(0, this.stubsFrom - this.head);
      this.head = 0;
    }
    return m;
  }

  /** After the ready list was rebuilt: the window's counts and where the placeholder tail starts. */
  private recount(): void {
    this.loadedCount = 0;
    this.loadedBytes = 0;
    for (let i = this.head; i < this.ready.length; i++) {
      const m = this.ready[i]!;
      if (m.unloaded) continue;
      this.loadedCount++;
      this.loadedBytes += weight(m);
    }
    let from = this.ready.length;
    while (from > this.head && this.ready[from - 1]!.unloaded) from--;
    this.stubsFrom = from;
  }

  /** Puts messages back in seq order, marked redelivered when they were delivered before. */
  requeue(messages: QueuedMessage[], redelivered: boolean): void {
    if (messages.length === 0) return;
    if (redelivered) {
      for (const m of messages) m.redelivered = true;
      this.updateRedelivered(messages.filter((m) => m.stored).map((m) => m.seq));
    }
    this.persist(messages);
    this.readyStored += messages.length;
    const back = [...messages].sort((a, b) => a.seq - b.seq);
    const rest = this.ready.slice(this.head);
    const merged: QueuedMessage[] = [];
    let i = 0;
    let j = 0;
    while (i < back.length || j < rest.length) {
      const a = back[i];
      const b = rest[j];
      if (a && (!b || a.seq < b.seq)) {
        merged.push(a);
        i++;
      } else if (b) {
        merged.push(b);
        j++;
      }
    }
    this.ready = merged;
    this.head = 0;
    this.recount();
    this.trim();
  }

  /**
   * Acked (or no-ack delivered) messages leave storage. The delete is only noted here: the
   * caller runs flushRemovals() in its next transaction, so many settles share one statement
   * and one commit. Until then a crash brings these messages back, as a lost ack would.
   */
  remove(messages: readonly QueuedMessage[]): void {
    for (const m of messages) if (m.stored) this.removals.push(m.seq);
  }

  /** Deletes not yet flushed. */
  get pendingRemovals(): number {
    return this.removals.length;
  }

  /** Deletes the rows of every message remove() was given so far. */
  flushRemovals(): void {
    const seqs = this.removals;
    if (seqs.length === 0) return;
    this.removals = [];
    this.bySeq("DELETE FROM message_records", seqs);
    if (this.chunked.size === 0) return;
    this.bySeq(
      "DELETE FROM message_record_chunks",
      seqs.filter((seq) => this.chunked.delete(seq)),
    );
  }

  /**
   * Runs `statement WHERE …` for these seqs: acks mostly come in order, so contiguous runs
   * become one BETWEEN; the rest go in IN lists (DO SQLite allows 100 bound parameters).
   */
  private bySeq(statement: string, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const sorted = [...seqs].sort((a, b) => a - b);
    const singles: number[] = [];
    for (let i = 0; i < sorted.length; ) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
      if (j - i >= 2) this.sql.exec(`${statement} WHERE seq BETWEEN ? AND ?`, sorted[i]!, sorted[j]!);
      else for (let k = i; k <= j; k++) singles.push(sorted[k]!);
      i = j + 1;
    }
    for (let i = 0; i < singles.length; i += 100) {
      const chunk = singles.slice(i, i + 100);
      this.sql.exec(`${statement} WHERE seq IN (${chunk.map(() => "?").join(",")})`, ...chunk);
    }
  }

  /**
   * Takes these messages out of the ready list (connections still hold them unacked: the
   * queue's object restarted and learned so from them). Returns those found, in seq order.
   */
  takeSeqs(seqs: ReadonlySet<number>): QueuedMessage[] {
    if (seqs.size === 0) return [];
    const taken: QueuedMessage[] = [];
    const rest: QueuedMessage[] = [];
    for (let i = this.head; i < this.ready.length; i++) {
      const m = this.ready[i]!;
      (seqs.has(m.seq) ? taken : rest).push(m);
    }
    this.ready = rest;
    this.head = 0;
    for (const m of taken) if (m.stored) this.readyStored--;
    this.recount();
    return taken;
  }

  /**
   * After a broker restart only persistent messages survive (RabbitMQ): the others leave the
   * ready list and storage now, in the caller's transaction. Returns how many went. Runs right
   * after load(), when every message is ready.
   */
  dropTransient(): number {
    const keep: QueuedMessage[] = [];
    const gone: QueuedMessage[] = [];
    for (let i = this.head; i < this.ready.length; i++) {
      const m = this.ready[i]!;
      (m.persistent ? keep : gone).push(m);
    }
    if (gone.length === 0) return 0;
    this.ready = keep;
    this.head = 0;
    this.readyStored = keep.filter((m) => m.stored).length;
    this.recount();
    this.remove(gone);
    this.flushRemovals();
    return gone.length;
  }

  /** Drops all ready messages; returns how many. Unacked ones stay until settled. */
  purge(): number {
    const taken = this.ready.slice(this.head);
    this.ready = [];
    this.head = 0;
    this.readyStored = 0;
    this.recount();
    this.remove(taken);
    this.flushRemovals();
    return taken.length;
  }

  clear(): void {
    this.ready = [];
    this.head = 0;
    this.readyStored = 0;
    this.recount();
    this.removals = [];
    this.chunked.clear();
    this.sql.exec("DELETE FROM message_records");
    this.sql.exec("DELETE FROM message_record_chunks");
  }

  private updateRedelivered(seqs: number[]): void {
    this.bySeq("UPDATE message_records SET redelivered = 1", seqs);
  }
}

/** Three bound parameters a row; DO SQLite allows 100 per statement. */
const ROWS_PER_INSERT = 33;
const insertStatements = new Map<number, string>();

function insertSql(rows: number): string {
  let sql = insertStatements.get(rows);
  if (!sql) {
    const values = Array.from({ length: rows }, () => "(?, ?, ?)").join(", ");
    sql = `INSERT INTO message_records (seq, redelivered, data) VALUES ${values}`;
    insertStatements.set(rows, sql);
  }
  return sql;
}
