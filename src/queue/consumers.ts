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

/** A queue's consumers in round-robin order. */
export class ConsumerList {
  private list: Consumer[] = [];
  private cursor = 0;

  get size(): number {
    return this.list.length;
  }

  all(): readonly Consumer[] {
    return this.list;
  }

  add(c: Consumer): void {
    this.list.push(c);
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
    }
    return removed;
  }

  hasCapacity(): boolean {
    return this.list.some(canTake);
  }

  /** Every consumer is a no-ack one (and there is at least one). */
  allNoAck(): boolean {
    return this.list.length > 0 && this.list.every((c) => c.noAck);
  }

  /** The next consumer after the last one served that can take a message, or undefined. */
  next(): Consumer | undefined {
    const n = this.list.length;
    for (let i = 0; i < n; i++) {
      const c = this.list[(this.cursor + i) % n];
      if (c && canTake(c)) {
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
