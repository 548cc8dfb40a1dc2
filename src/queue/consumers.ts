import { consumerPriority } from "./arguments";
import type { ConsumeOptions } from "./types";

export interface Consumer extends ConsumeOptions {
  tag: string;
  connId: string;
  channel: number;
  /** Deliveries not yet acked (only counted for ack-mode consumers). */
  unacked: number;
  /** Set when the channel refused deliveries (flow off, global prefetch); cleared by resume. */
  paused: boolean;
  /** The queue's resume counter when this consumer was last resumed. */
  resumedAt: number;
}

/**
 * A queue's consumers in registration order. Deliveries go round-robin among the consumers of
 * the highest priority (x-priority) that can take one; with a single active consumer
 * (x-single-active-consumer) only the earliest registered one receives, and the next takes
 * over when it goes.
 */
export class ConsumerList {
  private list: Consumer[] = [];
  private cursor = 0;
  private readonly priorities = new Map<Consumer, number>();
  /** Some consumer has a priority other than 0. */
  private prioritized = false;
  singleActive = false;

  get size(): number {
    return this.list.length;
  }

  all(): readonly Consumer[] {
    return this.list;
  }

  add(c: Consumer): void {
    this.list.push(c);
    const p = consumerPriority(c.arguments);
    if (p !== 0) {
      this.priorities.set(c, p);
      this.prioritized = true;
    }
  }

  /** The consumer that receives when the queue has a single active consumer. */
  active(): Consumer | undefined {
    return this.singleActive ? this.list[0] : undefined;
  }

  hasExclusive(): boolean {
    return this.list.some((c) => c.exclusive);
  }

  /** Removes the consumers matching; returns them. */
  removeWhere(pred: (c: Consumer) => boolean): Consumer[] {
    const removed = this.list.filter(pred);
    if (removed.length > 0) {
      this.list = this.list.filter((c) => !pred(c));
      this.cursor = this.list.length === 0 ? 0 : this.cursor % this.list.length;
      for (const c of removed) this.priorities.delete(c);
      this.prioritized = this.priorities.size > 0;
    }
    return removed;
  }

  hasCapacity(): boolean {
    if (this.singleActive) return this.list[0] !== undefined && canTake(this.list[0]);
    return this.list.some(canTake);
  }

  /** Every consumer is a no-ack one (and there is at least one). */
  allNoAck(): boolean {
    return this.list.length > 0 && this.list.every((c) => c.noAck);
  }

  /** The next consumer after the last one served that can take a message, or undefined. */
  next(): Consumer | undefined {
    if (this.singleActive) {
      const c = this.list[0];
      return c && canTake(c) ? c : undefined;
    }
    let best = 0;
    if (this.prioritized) {
      best = Number.NEGATIVE_INFINITY;
      for (const c of this.list) if (canTake(c)) best = Math.max(best, this.priorities.get(c) ?? 0);
      if (best === Number.NEGATIVE_INFINITY) return undefined;
    }
    const n = this.list.length;
    for (let i = 0; i < n; i++) {
      const c = this.list[(this.cursor + i) % n];
      if (c && canTake(c) && (!this.prioritized || (this.priorities.get(c) ?? 0) === best)) {
        this.cursor = (this.cursor + i + 1) % n;
        return c;
      }
    }
    return undefined;
  }
}

function canTake(c: Consumer): boolean {
  if (c.paused) return false;
  return c.noAck || c.prefetch === 0 || c.unacked < c.prefetch;
}
