import { concatBytes, Reader, release } from "../amqp/buffer";
import { readRecord, recordOf } from "../storage/message-record";
import {
  bitCount,
  byIds,
  bitmap,
  hasBit,
  readSegmentData,
  SEGMENT_BYTES,
  SEGMENT_COUNT,
  type SegmentIndex,
  setBit,
  writeSegmentRow,
} from "../storage/segment-rows";
import { RECORD_CHUNK } from "../storage/record-rows";
import { SeqHeap } from "./seq-heap";
import { QueueSequence, WATERMARK_AHEAD } from "./sequence";

export { WATERMARK_AHEAD };
import type { IncomingMessage, QueuedMessage } from "./types";

/**
 * How much of a backlog may be in memory: ready messages with their contents, at most this many
 * and this many bytes (the rest is in SQLite only, counted but not held). Small messages are
 * cheap to keep and costly to read back a page at a time, so the count is generous and the bytes
 * bound memory. A page is what one read from disk brings back (whole segments, at least one).
 */
export interface WindowLimits {
  count: number;
  bytes: number;
  pageCount: number;
  pageBytes: number;
}

export const WINDOW_COUNT = 20_000;
export const WINDOW_BYTES = 8 << 20;
export const PAGE_COUNT = 2000;
const PAGE_BYTES = 4 << 20;
export const DEFAULT_WINDOW: WindowLimits = { count: WINDOW_COUNT, bytes: WINDOW_BYTES, pageCount: PAGE_COUNT, pageBytes: PAGE_BYTES };

/** A segment in memory: its index, and which of its messages are settled. */
interface Segment extends SegmentIndex {
  /** Messages not settled yet; at 0 the row is deleted. */
  live: number;
  settled: Uint8Array | null;
  /** settled changed since it was last written. */
  dirty: boolean;
  /** A segment_acks row exists for it. */
  acksStored: boolean;
  /** Its rows are deleted. */
  gone: boolean;
  /** Its records as last read from disk (loadPage): freed once every message in it is settled. */
  data: Uint8Array | undefined;
}

/** A message's bytes in memory, near enough for the window's accounting. */
function weight(m: QueuedMessage): number {
  return m.header.length + m.body.length + 64;
}

/**
 * A queue's messages. Every message is in the DO's SQLite until it is settled, so nothing
 * confirmed is lost on eviction or restart: each publish batch is written as one or a few
 * segment rows (storage/segment-rows.ts), and a segment row is deleted when all its messages
 * are settled. Settles are noted in memory and reach the disk in batches (flushRemovals).
 *
 * The ready messages, in seq order, are in three places:
 *  - requeued: messages given back (a heap by seq), always in memory, few (bounded by unacked);
 *  - hot: the head of the rest, contents in memory (the window, bounded in count and bytes);
 *  - cold: every ready message from seq `coldFrom` on, on disk only, only counted; read a page
 *    of segments at a time when hot runs dry. New messages go cold while anything is cold.
 * `outside` holds the seqs of messages not settled and not in hot or cold (delivered and unacked,
 * or requeued), so reading a cold page skips them. The tables come from migrations/queue.ts.
 */
export class MessageStore {
  /** Segments in seq order; gone ones are dropped from the array in batches. */
  private segs: Segment[] = [];
  private goneCount = 0;
  private hot: QueuedMessage[] = [];
  private hotHead = 0;
  private hotBytes = 0;
  private readonly requeued = new SeqHeap<QueuedMessage>();
  private coldFrom = 0;
  private coldReady = 0;
  private readonly outside = new Set<number>();
  /** Seqs and the delivery watermark (shared by the stores of a priority queue). */
  readonly seq: QueueSequence;
  private readonly ownsSeq: boolean;
  /** Settled since the last flush: segments to delete, and partly settled ones to record. */
  private toDelete: Segment[] = [];
  private readonly dirty = new Set<Segment>();
  private settledSinceFlush = 0;
  /** Body bytes of the ready messages (x-max-length-bytes). */
  private bodyBytesReady = 0;
  /** Ready messages found expired at the head, taken out for the queue to dead-letter or drop. */
  private expired: QueuedMessage[] = [];
  /**
   * When a message expires (epoch ms), from its content and when it was enqueued; undefined:
   * never. Set by the queue from its settings (x-message-ttl, the expiration property).
   */
  expiryOf: ((m: IncomingMessage, publishedAt: number) => number | undefined) | null = null;
  /** Called for each message read back from disk (the queue restores what it keeps beside, e.g. delivery counts). */
  restored: ((m: QueuedMessage) => void) | null = null;
  /** Batches appended without a write (appendPending): written by writePending if they wait. */
  private pendingBatches: QueuedMessage[][] = [];

  constructor(
    private readonly sql: SqlStorage,
    private readonly window: WindowLimits = DEFAULT_WINDOW,
    shared?: QueueSequence,
    /** A priority queue's lane (its priority): only its segments are its own. */
    private readonly lane = 0,
  ) {
    this.seq = shared ?? new QueueSequence(sql);
    this.ownsSeq = shared === undefined;
  }

  /**
   * Rebuilds the store from SQLite after the object (re)started: the segment index and settled
   * bitmaps only. Every stored, unsettled message is ready and cold; contents are read a page at
   * a time as the head of the queue needs them.
   */
  load(): void {
    if (this.ownsSeq) this.seq.loadWatermark();
    this.loadSegments();
    if (this.ownsSeq) this.seq.finishLoad();
  }

  /** This store's segments (a lane's, in a priority queue) and their settled bitmaps. */
  loadSegments(): void {
    const settled = new Map<number, Uint8Array>();
    for (const r of this.sql.exec<{ id: number; settled: ArrayBuffer }>("SELECT id, settled FROM segment_acks")) {
      settled.set(r.id, new Uint8Array(r.settled));
    }
    this.resetMemory();
    for (const r of this.sql.exec<{
      id: number;
      count: number;
      bytes: number;
      transient: ArrayBuffer | null;
      delivered: number;
      published_at: number;
      body_bytes: number;
    }>("SELECT id, count, bytes, transient, delivered, published_at, body_bytes FROM segments WHERE lane = ? ORDER BY id", this.lane)) {
      const bits = settled.get(r.id) ?? null;
      const seg: Segment = {
        data: undefined,
        id: r.id,
        count: r.count,
        bytes: r.bytes,
        transient: r.transient === null ? null : new Uint8Array(r.transient),
        delivered: r.delivered,
        publishedAt: r.published_at,
        bodyBytes: r.body_bytes,
        lane: this.lane,
        live: r.count - bitCount(bits, r.count),
        settled: bits,
        dirty: false,
        acksStored: bits !== null,
        gone: false,
      };
      this.segs.push(seg);
      this.seq.noteSegment(seg.delivered, seg.id + seg.count - 1);
      this.coldReady += seg.live;
      // Fully settled but not yet deleted when the object stopped.
      if (seg.live === 0) this.toDelete.push(seg);
    }
    this.coldFrom = this.segs[0]?.id ?? 0;
    this.bodyBytesReady = this.countBodyBytes(this.segs);
  }

  /**
   * The body bytes of these segments' unsettled messages: from the index where a segment is
   * whole, from its records where some of it is settled (few: settles go mostly in order).
   */
  private countBodyBytes(segs: readonly Segment[]): number {
    let n = 0;
    const partial: Segment[] = [];
    for (const seg of segs) {
      if (seg.gone || seg.live === 0) continue;
      if (seg.live === seg.count) n += seg.bodyBytes;
      else partial.push(seg);
    }
    for (let i = 0; i < partial.length; i += 64) {
      const some = partial.slice(i, i + 64);
      const data = readSegmentData(
        this.sql,
        some.map((s) => s.id),
      );
      for (const seg of some) {
        const r = new Reader(data.get(seg.id)!);
        for (let k = 0; k < seg.count; k++) {
          const m = readRecord(r);
          if (!hasBit(seg.settled, k)) n += m.body.length;
        }
      }
    }
    return n;
  }

  /** Body bytes of the ready messages. */
  get readyBodyBytes(): number {
    return this.bodyBytesReady;
  }

  /** Takes the messages found expired at the head since the last call (they are not settled yet). */
  takeExpired(): QueuedMessage[] {
    const out = this.expired;
    this.expired = [];
    return out;
  }

  private resetMemory(): void {
    this.segs = [];
    this.goneCount = 0;
    this.hot = [];
    this.hotHead = 0;
    this.hotBytes = 0;
    this.requeued.clear();
    this.coldFrom = 0;
    this.coldReady = 0;
    this.outside.clear();
    this.toDelete = [];
    this.dirty.clear();
    this.settledSinceFlush = 0;
    this.pendingBatches = [];
    this.bodyBytesReady = 0;
    this.expired = [];
  }

  get readyCount(): number {
    return this.requeued.size + this.hot.length - this.hotHead + this.coldReady;
  }

  /** Ready messages whose contents are only on disk (for tests and the bench). */
  get unloadedCount(): number {
    return this.coldReady;
  }

  /** Segments in memory (for tests: the index is all a large backlog costs). */
  get segmentCount(): number {
    return this.segs.length - this.goneCount;
  }

  /**
   * Messages up to `seq` are being handed to consumers in ack mode; runs in the caller's
   * transaction before they leave, so after a crash they come back redelivered. Messages not
   * written yet are written now with that mark in their segment rows, which is then all it costs
   * (a publish followed at once by its delivery is one row); otherwise the watermark row, written
   * WATERMARK_AHEAD past `seq` so it costs a row per that many deliveries, not one per round.
   */
  markDelivered(seq: number): void {
    this.seq.exactDelivered = Math.max(this.seq.exactDelivered, seq);
    if (this.pendingBatches.length > 0) this.writePending(seq);
    if (seq <= this.seq.deliveredThrough) return;
    this.seq.write(seq + WATERMARK_AHEAD);
  }

  /** The stored watermark is ahead of what was handed out: tightenWatermark() would write it. */
  get watermarkAhead(): boolean {
    return this.seq.ahead;
  }

  /**
   * Brings the stored watermark back to what was really handed out (and what was flagged at
   * load). For the queue's alarm, soon after deliveries: an object evicted while idle (never a
   * crash) then wakes with an exact watermark and flags nothing it did not hand out.
   */
  tightenWatermark(): void {
    this.seq.tighten();
  }

  /** Whether markDelivered(seq) would write anything (so the caller may skip a transaction). */
  needsDeliveryMark(seq: number): boolean {
    return this.pendingBatches.length > 0 || seq > this.seq.deliveredThrough;
  }

  /**
   * Adds messages at the tail and writes them, in the caller's transaction: one segment row per
   * SEGMENT_BYTES / SEGMENT_COUNT. Behind a cold backlog they stay on disk only.
   */
  append(messages: readonly IncomingMessage[], now = Date.now()): void {
    if (messages.length === 0) return;
    const first = this.seq.nextSeq;
    this.seq.nextSeq += messages.length;
    this.writeSegments(messages, first, 0, now);
    for (const m of messages) this.bodyBytesReady += m.body.length;
    if (this.coldReady > 0) {
      this.coldReady += messages.length;
      return;
    }
    for (let i = 0; i < messages.length; i++) {
      const q: QueuedMessage = { ...messages[i]!, seq: first + i, redelivered: false, publishedAt: now };
      const expiresAt = this.expiryOf?.(q, now);
      if (expiresAt !== undefined) q.expiresAt = expiresAt;
      this.hot.push(q);
      this.hotBytes += weight(q);
    }
    this.trim();
  }

  /**
   * Adds messages at the tail without writing them yet (nothing may be cold): the caller writes
   * them in the same turn (writePending), unless they go straight to no-ack consumers, or the
   * dispatch round that hands them out in ack mode writes them first (markDelivered).
   */
  appendPending(messages: readonly IncomingMessage[], now = Date.now()): void {
    if (messages.length === 0) return;
    if (this.coldReady > 0) throw new Error("appendPending behind a cold backlog");
    const batch: QueuedMessage[] = new Array(messages.length);
    for (let i = 0; i < messages.length; i++) {
      const q: QueuedMessage = { ...messages[i]!, seq: this.seq.nextSeq++, redelivered: false, pending: true, publishedAt: now };
      const expiresAt = this.expiryOf?.(q, now);
      if (expiresAt !== undefined) q.expiresAt = expiresAt;
      this.bodyBytesReady += q.body.length;
      batch[i] = q;
      this.hot.push(q);
      this.hotBytes += weight(q);
    }
    this.pendingBatches.push(batch);
  }

  get hasPending(): boolean {
    return this.pendingBatches.length > 0;
  }

  /**
   * Writes the messages appendPending() added that are not settled (runs of them, in order);
   * `delivered`: messages up to it are being handed out in ack mode (see markDelivered).
   */
  writePending(delivered = 0): void {
    for (const batch of this.pendingBatches) {
      for (let i = 0; i < batch.length; ) {
        if (!batch[i]!.pending) {
          i++;
          continue;
        }
        let j = i;
        while (j < batch.length && batch[j]!.pending && batch[j]!.seq === batch[i]!.seq + (j - i)) batch[j++]!.pending = false;
        this.writeSegments(batch.slice(i, j), batch[i]!.seq, delivered, batch[i]!.publishedAt ?? Date.now());
        i = j;
      }
    }
    this.pendingBatches = [];
    this.trim();
  }

  private writeSegments(messages: readonly IncomingMessage[], firstSeq: number, delivered: number, now: number): void {
    let start = 0;
    let bytes = 0;
    for (let i = 0; i < messages.length; i++) {
      const n = recordOf(messages[i]!).length;
      if (i > start && (bytes + n > SEGMENT_BYTES || i - start >= SEGMENT_COUNT)) {
        this.writeSegment(messages, start, i, firstSeq + start, delivered, now);
        start = i;
        bytes = 0;
      }
      bytes += n;
    }
    this.writeSegment(messages, start, messages.length, firstSeq + start, delivered, now);
  }

  private writeSegment(messages: readonly IncomingMessage[], from: number, to: number, id: number, delivered: number, now: number): void {
    const count = to - from;
    let transient: Uint8Array | null = null;
    let bodyBytes = 0;
    const records: Uint8Array[] = [];
    // Records of one publish batch sit back to back in its buffer: then the row is one view of it.
    let contiguous = true;
    for (let i = from; i < to; i++) {
      const m = messages[i]!;
      const r = recordOf(m);
      const prev = records[records.length - 1];
      if (prev && (prev.buffer !== r.buffer || prev.byteOffset + prev.length !== r.byteOffset)) contiguous = false;
      records.push(r);
      bodyBytes += m.body.length;
      if (!m.persistent) setBit((transient ??= bitmap(count)), i - from);
    }
    const head = records[0]!;
    const tail = records[records.length - 1]!;
    const data = contiguous
      ? new Uint8Array(head.buffer, head.byteOffset, tail.byteOffset + tail.length - head.byteOffset)
      : concatBytes(records);
    const seg: Segment = {
      // Not the page for release(): these records are views of the publish batch.
      data: undefined,
      id,
      count,
      bytes: data.length,
      transient,
      delivered: delivered >= id ? Math.min(delivered, id + count - 1) : 0,
      publishedAt: now,
      bodyBytes,
      lane: this.lane,
      live: count,
      settled: null,
      dirty: false,
      acksStored: false,
      gone: false,
    };
    writeSegmentRow(this.sql, seg, data);
    this.seq.deliveredThrough = Math.max(this.seq.deliveredThrough, seg.delivered);
    // Mostly at the end; messages written late (writePending) go where their seqs belong.
    const at = this.segIndexFrom(id);
    const next = this.segs[at];
    const prev = this.segs[at - 1];
    if ((next && next.id < id + count) || (prev && prev.id + prev.count > id)) throw new Error(`segment ${id} overlaps another`);
    if (at === this.segs.length) this.segs.push(seg);
    else this.segs.splice(at, 0, seg);
  }

  /** Keeps hot within the window: its newest messages become cold (they are on disk already). */
  private trim(): void {
    const { count, bytes } = this.window;
    let len = this.hot.length - this.hotHead;
    if (len <= count && this.hotBytes <= bytes) return;
    let j = this.hot.length;
    // The head stays, however large: it is about to leave. Messages not written yet stay too.
    while (j > this.hotHead + 1 && !this.hot[j - 1]!.pending && (len > count || this.hotBytes > bytes)) {
      j--;
      len--;
      this.hotBytes -= weight(this.hot[j]!);
    }
    if (j === this.hot.length) return;
    const from = this.hot[j]!.seq;
    this.coldFrom = this.coldReady > 0 ? Math.min(this.coldFrom, from) : from;
    this.coldReady += this.hot.length - j;
    this.hot.length = j;
  }

  /** Reads the next page of cold messages into hot: whole segments, up to the page's limits. */
  private loadPage(): void {
    const wanted: Segment[] = [];
    let count = 0;
    let bytes = 0;
    for (let i = this.segIndexFrom(this.coldFrom); i < this.segs.length; i++) {
      const seg = this.segs[i]!;
      if (seg.gone || seg.live === 0) continue;
      if (wanted.length > 0 && (count + seg.live > this.window.pageCount || bytes + seg.bytes > this.window.pageBytes)) break;
      wanted.push(seg);
      count += seg.live;
      bytes += seg.bytes;
    }
    const data = readSegmentData(
      this.sql,
      wanted.map((s) => s.id),
    );
    for (const seg of wanted) {
      seg.data = data.get(seg.id)!;
      const r = new Reader(seg.data);
      for (let k = 0; k < seg.count; k++) {
        const m = readRecord(r);
        const seq = seg.id + k;
        if (seq < this.coldFrom || hasBit(seg.settled, k) || this.outside.has(seq)) continue;
        const q: QueuedMessage = { ...m, seq, redelivered: seq <= this.seq.seenBefore, publishedAt: seg.publishedAt };
        const expiresAt = this.expiryOf?.(q, seg.publishedAt);
        if (expiresAt !== undefined) q.expiresAt = expiresAt;
        this.restored?.(q);
        this.hot.push(q);
        this.hotBytes += weight(q);
        this.coldReady--;
      }
    }
    const last = wanted[wanted.length - 1];
    if (last) this.coldFrom = last.id + last.count;
    // Cold messages are all in segments at or after coldFrom; none left means the count is off.
    if (wanted.length === 0 && this.coldReady > 0) throw new Error(`${this.coldReady} cold messages counted but none stored`);
  }

  /** The index of the first segment that holds seqs at or after `seq`. */
  private segIndexFrom(seq: number): number {
    let lo = 0;
    let hi = this.segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segs[mid]!;
      if (s.id + s.count <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private segIndexFirstLive(): number {
    let i = 0;
    while (i < this.segs.length && this.segs[i]!.gone) i++;
    return i;
  }

  private segmentOf(seq: number): Segment | undefined {
    const s = this.segs[this.segIndexFrom(seq)];
    return s && s.id <= seq && !s.gone ? s : undefined;
  }

  /**
   * Runs `fn` with expiry judged at time `t`, not the clock's: a publish pins its own time for
   * the dispatch round it starts, so a message with TTL 0 goes to a consumer that can take it
   * at once and expires otherwise (RabbitMQ's rule), however long the publish itself took.
   * (Deployed, workerd's clock stands still while code runs; locally it does not.)
   */
  at<T>(t: number, fn: () => T): T {
    return pinClock(this.seq, t, fn);
  }

  /** The oldest ready message (its contents in memory), left in place. */
  peek(): QueuedMessage | undefined {
    let now = 0;
    for (;;) {
      const m = this.head();
      if (m?.expiresAt === undefined) return m;
      now ||= this.seq.pinnedNow || Date.now();
      // Expired at the head: never delivered; the queue dead-letters or drops it (takeExpired).
      if (m.expiresAt >= now) return m;
      this.take(m);
      this.expired.push(m);
    }
  }

  private head(): QueuedMessage | undefined {
    // A page may hold no ready message (all delivered, unacked): then read the next.
    while (this.hotHead >= this.hot.length && this.coldReady > 0) this.loadPage();
    const h = this.hot[this.hotHead];
    const r = this.requeued.peek();
    return r && (!h || r.seq < h.seq) ? r : h;
  }

  /** Takes the oldest ready message; it stays stored until remove()d (settled). */
  shift(): QueuedMessage | undefined {
    const m = this.peek();
    if (m) this.take(m);
    return m;
  }

  /** Takes the head (as head() returned it) out of the ready list. */
  private take(m: QueuedMessage): void {
    this.bodyBytesReady -= m.body.length;
    if (m === this.requeued.peek()) {
      this.requeued.pop();
      return;
    }
    this.hotHead++;
    this.hotBytes -= weight(m);
    this.outside.add(m.seq);
    // Taken messages must not stay reachable from the array (with large bodies, a thousand of
    // them would be 64 MB held for nothing): drop the taken prefix often.
    if (this.hotHead === this.hot.length) {
      this.hot = [];
      this.hotHead = 0;
    } else if (this.hotHead >= 64 && this.hotHead * 2 > this.hot.length) {
      this.hot = this.hot.slice(this.hotHead);
      this.hotHead = 0;
    }
  }

  /** Puts messages back in seq order (a heap), marked redelivered when they were delivered before. */
  requeue(messages: readonly QueuedMessage[], redelivered: boolean): void {
    for (const m of messages) {
      if (redelivered) m.redelivered = true;
      this.requeued.push(m);
      this.bodyBytesReady += m.body.length;
    }
  }

  /**
   * Messages that left for good (acked, or taken by a no-ack consumer). Only noted here: the
   * caller runs flushRemovals() in a later transaction, so many settles share one commit. Until
   * then a crash brings them back, as a lost ack would (redelivered: they were handed out).
   */
  remove(messages: readonly QueuedMessage[]): void {
    for (const m of messages) {
      if (!m.pending) this.settle(m.seq);
      else {
        // Never written: nothing to settle on disk.
        m.pending = false;
        this.outside.delete(m.seq);
      }
    }
  }

  private settle(seq: number): void {
    this.outside.delete(seq);
    const seg = this.segmentOf(seq);
    if (!seg) return;
    const k = seq - seg.id;
    seg.settled ??= bitmap(seg.count);
    if (hasBit(seg.settled, k)) return;
    setBit(seg.settled, k);
    seg.live--;
    this.settledSinceFlush++;
    if (seg.live === 0) {
      this.toDelete.push(seg);
      this.dirty.delete(seg);
    } else if (!seg.dirty) {
      seg.dirty = true;
      this.dirty.add(seg);
    }
  }

  /** Settles not yet written. */
  get pendingRemovals(): number {
    return this.settledSinceFlush + this.toDelete.length;
  }

  /**
   * Writes what remove() noted: settled segments are deleted (runs of neighbours in one
   * statement), partly settled ones get their bitmap written. Run inside a transaction.
   */
  flushRemovals(): void {
    this.settledSinceFlush = 0;
    for (const seg of this.dirty) {
      seg.dirty = false;
      this.sql.exec("INSERT OR REPLACE INTO segment_acks (id, settled) VALUES (?, ?)", seg.id, seg.settled);
      seg.acksStored = true;
    }
    this.dirty.clear();
    if (this.toDelete.length === 0) return;
    // A deleted segment's delivered mark may be what covers older messages still here.
    let mark = 0;
    for (const seg of this.toDelete) mark = Math.max(mark, seg.delivered);
    let lo = Number.POSITIVE_INFINITY;
    let hi = -1;
    const gone = this.toDelete;
    for (const seg of gone) {
      seg.gone = true;
      // Every message in it is settled, so nothing reads these bytes again; freed now, a page of
      // large messages is not garbage waiting for a full GC (which comes after ~64 MB of it).
      if (seg.data) release(seg.data);
      seg.data = undefined;
      const i = this.segIndexFrom(seg.id);
      lo = Math.min(lo, i);
      hi = Math.max(hi, i);
      this.goneCount++;
    }
    this.toDelete = [];
    const firstLive = this.segs[this.segIndexFirstLive()];
    // (In a priority queue other lanes may hold older messages: then always.)
    if (mark > this.seq.storedWatermark && ((firstLive && firstLive.id <= mark) || !this.ownsSeq)) this.seq.write(mark);
    if (this.ownsSeq) this.deleteRuns(lo, hi);
    else this.deleteEach(gone);
    if (this.goneCount > 64 && this.goneCount * 2 > this.segs.length) {
      this.segs = this.segs.filter((s) => !s.gone);
      this.goneCount = 0;
    }
  }

  /**
   * A priority queue's lanes share the tables, so a run of this lane's segments may enclose
   * another lane's: each goes by its own id.
   */
  private deleteEach(gone: readonly Segment[]): void {
    const ids = (pick: (s: Segment) => boolean) => gone.filter(pick).map((s) => s.id);
    byIds(
      this.sql,
      "DELETE FROM segments",
      ids(() => true),
    );
    byIds(
      this.sql,
      "DELETE FROM segment_chunks",
      ids((s) => s.bytes > RECORD_CHUNK),
    );
    byIds(
      this.sql,
      "DELETE FROM segment_acks",
      ids((s) => s.acksStored),
    );
    for (const s of gone) s.acksStored = false;
  }

  /** A store alone in its tables deletes runs of gone neighbours in one statement each. */
  private deleteRuns(lo: number, hi: number): void {
    // Earlier gone ones are included: deleting them again deletes nothing.
    for (let i = lo; i <= hi; ) {
      if (!this.segs[i]!.gone) {
        i++;
        continue;
      }
      let j = i;
      let chunked = false;
      let acks = false;
      while (j <= hi && this.segs[j]!.gone) {
        const s = this.segs[j]!;
        chunked ||= s.bytes > RECORD_CHUNK;
        acks ||= s.acksStored;
        s.acksStored = false;
        j++;
      }
      const from = this.segs[i]!.id;
      const to = this.segs[j - 1]!.id;
      this.sql.exec("DELETE FROM segments WHERE id BETWEEN ? AND ?", from, to);
      if (chunked) this.sql.exec("DELETE FROM segment_chunks WHERE id BETWEEN ? AND ?", from, to);
      if (acks) this.sql.exec("DELETE FROM segment_acks WHERE id BETWEEN ? AND ?", from, to);
      i = j;
    }
  }

  /**
   * Takes these messages out of the ready list (connections still hold them unacked: the
   * queue's object restarted and learned so from them). Returns those found, in seq order, with
   * their contents.
   */
  takeSeqs(seqs: ReadonlySet<number>): QueuedMessage[] {
    if (seqs.size === 0) return [];
    const taken: QueuedMessage[] = [];
    const fromHot = this.hot.slice(this.hotHead).filter((m) => seqs.has(m.seq));
    if (fromHot.length > 0) {
      const set = new Set(fromHot);
      this.hot = this.hot.slice(this.hotHead).filter((m) => !set.has(m));
      this.hotHead = 0;
      this.hotBytes = 0;
      for (const m of this.hot) this.hotBytes += weight(m);
      taken.push(...fromHot);
    }
    const fromRequeued = this.requeued.values().filter((m) => seqs.has(m.seq));
    if (fromRequeued.length > 0) {
      this.requeued.retain((m) => !seqs.has(m.seq));
      taken.push(...fromRequeued);
    }
    // Cold ones are read from their segments.
    const bySeg = new Map<Segment, number[]>();
    for (const seq of seqs) {
      if (this.coldReady === 0 || seq < this.coldFrom || this.outside.has(seq)) continue;
      const seg = this.segmentOf(seq);
      if (!seg || hasBit(seg.settled, seq - seg.id)) continue;
      let list = bySeg.get(seg);
      if (!list) bySeg.set(seg, (list = []));
      list.push(seq);
    }
    const segs = [...bySeg.keys()].sort((a, b) => a.id - b.id);
    const data = readSegmentData(
      this.sql,
      segs.map((s) => s.id),
    );
    for (const seg of segs) {
      const want = new Set(bySeg.get(seg));
      const r = new Reader(data.get(seg.id)!);
      for (let k = 0; k < seg.count; k++) {
        const m = readRecord(r);
        const seq = seg.id + k;
        if (!want.has(seq)) continue;
        const q: QueuedMessage = { ...m, seq, redelivered: seq <= this.seq.seenBefore };
        this.restored?.(q);
        taken.push(q);
        this.coldReady--;
      }
    }
    for (const m of taken) {
      this.outside.add(m.seq);
      this.bodyBytesReady -= m.body.length;
    }
    return taken.sort((a, b) => a.seq - b.seq);
  }

  /**
   * After a broker restart only persistent messages survive (RabbitMQ): the others are settled
   * now, in the caller's transaction. Returns how many went. Runs right after load(), when every
   * message is cold.
   */
  dropTransient(): number {
    let n = 0;
    for (const seg of this.segs) {
      if (seg.transient === null || seg.gone) continue;
      for (let k = 0; k < seg.count; k++) {
        if (!hasBit(seg.transient, k) || hasBit(seg.settled, k)) continue;
        this.settle(seg.id + k);
        this.coldReady--;
        n++;
      }
    }
    this.flushRemovals();
    if (n > 0) this.bodyBytesReady = this.countBodyBytes(this.segs);
    return n;
  }

  /** Drops all ready messages; returns how many. Unacked ones stay until settled. */
  purge(): number {
    let n = 0;
    const ready = [...this.requeued.values(), ...this.hot.slice(this.hotHead)];
    this.remove(ready);
    n += ready.length;
    if (this.coldReady > 0) {
      for (let i = this.segIndexFrom(this.coldFrom); i < this.segs.length; i++) {
        const seg = this.segs[i]!;
        if (seg.gone) continue;
        for (let k = Math.max(0, this.coldFrom - seg.id); k < seg.count; k++) {
          const seq = seg.id + k;
          if (hasBit(seg.settled, k) || this.outside.has(seq)) continue;
          this.settle(seq);
          n++;
        }
      }
    }
    this.requeued.clear();
    this.hot = [];
    this.hotHead = 0;
    this.hotBytes = 0;
    this.coldReady = 0;
    this.bodyBytesReady = 0;
    this.flushRemovals();
    return n;
  }

  clear(): void {
    this.resetMemory();
    this.sql.exec("DELETE FROM segments");
    this.sql.exec("DELETE FROM segment_chunks");
    this.sql.exec("DELETE FROM segment_acks");
  }
}

/** Runs `fn` with the sequence's clock pinned at `t` (restored after, also when fn throws). */
export function pinClock<T>(seq: QueueSequence, t: number, fn: () => T): T {
  const before = seq.pinnedNow;
  seq.pinnedNow = t;
  try {
    return fn();
  } finally {
    seq.pinnedNow = before;
  }
}
