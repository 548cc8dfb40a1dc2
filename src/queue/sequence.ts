/**
 * How far past the highest seq handed out the watermark is written. After a crash, messages up
 * to it come back redelivered even if they were not handed out: the flag means "may have been
 * delivered", and RabbitMQ 3.10 flags every message it recovers after a kill -9 (measured, both
 * classic queue index versions), so this is less than RabbitMQ marks.
 */
export const WATERMARK_AHEAD = 1000;

/**
 * A queue's seqs and its delivery watermark, shared by every store of the queue (a priority
 * queue has one per priority): seqs are unique across them, and one watermark says which
 * stored messages may have been handed out (so come back redelivered after a crash).
 *
 * Every seq handed out in ack mode is at or below `deliveredThrough`, and so is, durably, the
 * watermark row (`storedWatermark`) or the `delivered` mark of a segment written before they
 * went out.
 */
export class QueueSequence {
  nextSeq = 1;
  deliveredThrough = 0;
  storedWatermark = 0;
  /** The highest seq handed out in ack mode since load (no lead). */
  exactDelivered = 0;
  /** The watermark found at load: stored messages up to it may have been seen before. */
  seenBefore = 0;
  private highestStored = 0;
  /** When set (not 0), the time expiry is judged at: see MessageStore.at. */
  pinnedNow = 0;

  constructor(private readonly sql: SqlStorage) {}

  /** First step of a load: the watermark row. */
  loadWatermark(): void {
    this.storedWatermark = this.sql.exec<{ d: number }>("SELECT delivered_through AS d FROM queue_state").toArray()[0]?.d ?? 0;
    this.deliveredThrough = this.storedWatermark;
    this.exactDelivered = 0;
    this.highestStored = 0;
  }

  /** Each stored segment at load: its delivered mark and its last seq. */
  noteSegment(delivered: number, lastSeq: number): void {
    this.deliveredThrough = Math.max(this.deliveredThrough, delivered);
    this.highestStored = Math.max(this.highestStored, lastSeq);
  }

  /** Last step of a load. Seqs are never reused, not even those of messages gone: the watermark stays true. */
  finishLoad(): void {
    this.seenBefore = this.deliveredThrough;
    this.nextSeq = Math.max(this.highestStored, this.deliveredThrough) + 1;
  }

  /** The stored watermark is ahead of what was handed out: tighten() would write it. */
  get ahead(): boolean {
    return this.storedWatermark > Math.max(this.exactDelivered, this.seenBefore);
  }

  /** Brings the stored watermark back to what was really handed out (and flagged at load). */
  tighten(): void {
    if (!this.ahead) return;
    const exact = Math.max(this.exactDelivered, this.seenBefore);
    this.write(exact);
    this.deliveredThrough = exact;
  }

  write(seq: number): void {
    this.deliveredThrough = Math.max(this.deliveredThrough, seq);
    this.storedWatermark = seq;
    this.sql.exec(
      "INSERT INTO queue_state (id, delivered_through) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET delivered_through = excluded.delivered_through",
      seq,
    );
  }
}
