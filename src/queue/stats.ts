import { emptyCounters, type MessageCounters } from "../core/control";
import { RateSampler } from "../core/rates";

/**
 * A queue's message counts, in memory only (no write per message; they restart at zero with
 * the object, as RabbitMQ's do with the node), and their rates (core/rates.ts).
 */
export class QueueStats {
  readonly counts = emptyCounters();
  private readonly sampler = new RateSampler(() => ({ ...this.counts }));
  /** When the queue last saw a publish, delivery or ack: RabbitMQ's idle_since. */
  lastActivity = Date.now();

  touch(): void {
    this.lastActivity = Date.now();
    this.sampler.roll(this.lastActivity);
  }

  rates(): Partial<Record<keyof MessageCounters, number>> {
    return this.sampler.rates();
  }
}
