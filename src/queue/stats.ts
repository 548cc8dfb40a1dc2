import { emptyCounters, type MessageCounters } from "../core/control";

/** How far apart rate samples are (RabbitMQ's default collect_statistics_interval). */
const SAMPLE_MS = 5000;

/**
 * A queue's message counts, in memory only (no write per message; they restart at zero with
 * the object, as RabbitMQ's do with the node), and rates over the last sample interval.
 */
export class QueueStats {
  readonly counts = emptyCounters();
  private sample = { at: Date.now(), counts: emptyCounters() };
  private previous: { at: number; counts: MessageCounters } | null = null;
  /** When the queue last saw a publish, delivery or ack: RabbitMQ's idle_since. */
  lastActivity = Date.now();

  touch(): void {
    this.lastActivity = Date.now();
    this.roll();
  }

  /** Rates per second over the interval between the last two samples (or since the first). */
  rates(): Partial<Record<keyof MessageCounters, number>> {
    this.roll();
    const now = Date.now();
    const base = this.previous ?? this.sample;
    const seconds = Math.max((now - base.at) / 1000, 1);
    const out: Partial<Record<keyof MessageCounters, number>> = {};
    for (const key of Object.keys(this.counts) as (keyof MessageCounters)[]) {
      out[key] = Math.round(((this.counts[key] - base.counts[key]) / seconds) * 10) / 10;
    }
    return out;
  }

  private roll(): void {
    const now = Date.now();
    if (now - this.sample.at < SAMPLE_MS) return;
    this.previous = this.sample;
    this.sample = { at: now, counts: { ...this.counts } };
  }
}
