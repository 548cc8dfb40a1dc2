import type { Consumer } from "./consumers";
import type { QueuedMessage } from "./types";

/** A message delivered in ack mode and not yet settled: who holds it. */
export interface Unacked {
  message: QueuedMessage;
  connId: string;
  channel: number;
  /** null for basic.get. */
  consumer: Consumer | null;
}

/** A queue's unacked deliveries by message seq. */
export class UnackedTable {
  private readonly bySeq = new Map<number, Unacked>();

  get size(): number {
    return this.bySeq.size;
  }

  /** Body bytes of the unacked messages (for the management API: walks them). */
  bodyBytes(): number {
    let n = 0;
    for (const u of this.bySeq.values()) n += u.message.body.length;
    return n;
  }

  get(seq: number): Unacked | undefined {
    return this.bySeq.get(seq);
  }

  add(u: Unacked): void {
    if (u.consumer) u.consumer.unacked++;
    this.bySeq.set(u.message.seq, u);
  }

  /** Settles one delivery if this connection holds it (a connection validates its own tags). */
  take(seq: number, connId: string): Unacked | undefined {
    const u = this.bySeq.get(seq);
    if (!u || u.connId !== connId) return undefined;
    this.bySeq.delete(seq);
    if (u.consumer) u.consumer.unacked--;
    return u;
  }

  /** Takes back everything a channel or connection held (its consumers are gone with it). */
  takeWhere(match: (u: Unacked) => boolean): QueuedMessage[] {
    const back: QueuedMessage[] = [];
    for (const [seq, u] of this.bySeq) {
      if (!match(u)) continue;
      this.bySeq.delete(seq);
      back.push(u.message);
    }
    return back;
  }

  clear(): void {
    this.bySeq.clear();
  }
}
