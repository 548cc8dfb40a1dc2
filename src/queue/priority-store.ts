import { peekPriorityAndExpiration } from "../amqp";
import type { IncomingMessage } from "../storage/message-record";
import { DEFAULT_WINDOW, MessageStore, pinClock, type WindowLimits } from "./message-store";
import { QueueSequence } from "./sequence";
import type { QueuedMessage } from "./types";

/** What a queue object asks of its messages' store: one MessageStore, or a PriorityStore. */
export type QueueStore = Pick<
  MessageStore,
  | "load"
  | "readyCount"
  | "unloadedCount"
  | "readyBodyBytes"
  | "pendingRemovals"
  | "hasPending"
  | "watermarkAhead"
  | "expiryOf"
  | "restored"
  | "takeExpired"
  | "markDelivered"
  | "needsDeliveryMark"
  | "tightenWatermark"
  | "append"
  | "appendPending"
  | "writePending"
  | "at"
  | "peek"
  | "shift"
  | "requeue"
  | "remove"
  | "flushRemovals"
  | "takeSeqs"
  | "dropTransient"
  | "purge"
  | "clear"
>;

/** A message's priority lane: its priority property, capped at the queue's x-max-priority. */
function priorityOf(m: { header: Uint8Array }, max: number): number {
  // Property flags: bit 11 of the first word is "priority" (amqp/properties.ts).
  if (!((m.header[12] ?? 0) & 0x08)) return 0;
  return Math.min(peekPriorityAndExpiration(m.header).priority ?? 0, max);
}

/**
 * A priority queue (x-max-priority) as RabbitMQ builds one: a store per priority, each FIFO
 * with its own window and segments, sharing the queue's seqs and delivery watermark. The head
 * is the head of the highest priority that has a ready message, so a delivery costs a look at
 * up to max+1 stores, never a sort; requeued messages go back to their own priority.
 */
export class PriorityStore implements QueueStore {
  private readonly lanes: MessageStore[];
  private readonly seq: QueueSequence;
  private expiry: MessageStore["expiryOf"] = null;

  constructor(
    sql: SqlStorage,
    private readonly max: number,
    window: WindowLimits = DEFAULT_WINDOW,
  ) {
    this.seq = new QueueSequence(sql);
    // Each lane's window and page are a share of the queue's, so the whole stays within them
    // (a lane keeps up to a page in memory once it was the head).
    const share: WindowLimits = {
      count: Math.max(1, Math.floor(window.count / (max + 1))),
      bytes: Math.max(1, Math.floor(window.bytes / (max + 1))),
      pageCount: Math.max(16, Math.floor(window.pageCount / (max + 1))),
      pageBytes: Math.max(64 << 10, Math.floor(window.pageBytes / (max + 1))),
    };
    this.lanes = Array.from({ length: max + 1 }, (_, p) => new MessageStore(sql, share, this.seq, p));
  }

  get expiryOf(): MessageStore["expiryOf"] {
    return this.expiry;
  }

  set expiryOf(f: MessageStore["expiryOf"]) {
    this.expiry = f;
    for (const lane of this.lanes) lane.expiryOf = f;
  }

  get restored(): MessageStore["restored"] {
    return this.lanes[0]!.restored;
  }

  set restored(f: MessageStore["restored"]) {
    for (const lane of this.lanes) lane.restored = f;
  }

  load(): void {
    this.seq.loadWatermark();
    for (const lane of this.lanes) lane.loadSegments();
    this.seq.finishLoad();
  }

  private sum(f: (lane: MessageStore) => number): number {
    let n = 0;
    for (const lane of this.lanes) n += f(lane);
    return n;
  }

  get readyCount(): number {
    return this.sum((l) => l.readyCount);
  }

  get unloadedCount(): number {
    return this.sum((l) => l.unloadedCount);
  }

  get readyBodyBytes(): number {
    return this.sum((l) => l.readyBodyBytes);
  }

  get pendingRemovals(): number {
    return this.sum((l) => l.pendingRemovals);
  }

  get hasPending(): boolean {
    return this.lanes.some((l) => l.hasPending);
  }

  get watermarkAhead(): boolean {
    return this.seq.ahead;
  }

  takeExpired(): QueuedMessage[] {
    return this.lanes.flatMap((l) => l.takeExpired());
  }

  markDelivered(seq: number): void {
    for (const lane of this.lanes) lane.markDelivered(seq);
  }

  needsDeliveryMark(seq: number): boolean {
    return this.lanes.some((l) => l.needsDeliveryMark(seq));
  }

  tightenWatermark(): void {
    this.seq.tighten();
  }

  /** Splits messages by lane, each keeping its order. */
  private byLane<T extends { header: Uint8Array }>(messages: readonly T[]): Map<number, T[]> {
    const out = new Map<number, T[]>();
    for (const m of messages) {
      const p = priorityOf(m, this.max);
      let list = out.get(p);
      if (!list) out.set(p, (list = []));
      list.push(m);
    }
    return out;
  }

  append(messages: readonly IncomingMessage[], now = Date.now()): void {
    for (const [p, list] of this.byLane(messages)) this.lanes[p]!.append(list, now);
  }

  appendPending(messages: readonly IncomingMessage[], now = Date.now()): void {
    for (const [p, list] of this.byLane(messages)) {
      const lane = this.lanes[p]!;
      // A lane with a backlog on disk takes new messages only there.
      if (lane.unloadedCount > 0) lane.append(list, now);
      else lane.appendPending(list, now);
    }
  }

  writePending(delivered = 0): void {
    for (const lane of this.lanes) if (lane.hasPending) lane.writePending(delivered);
  }

  /** The lane whose head goes next: the highest priority with a ready message. */
  private headLane(): MessageStore | undefined {
    for (let p = this.max; p >= 0; p--) {
      const lane = this.lanes[p]!;
      if (lane.readyCount > 0 && lane.peek() !== undefined) return lane;
    }
    return undefined;
  }

  at<T>(t: number, fn: () => T): T {
    return pinClock(this.seq, t, fn);
  }

  peek(): QueuedMessage | undefined {
    return this.headLane()?.peek();
  }

  shift(): QueuedMessage | undefined {
    return this.headLane()?.shift();
  }

  requeue(messages: readonly QueuedMessage[], redelivered: boolean): void {
    for (const [p, list] of this.byLane(messages)) this.lanes[p]!.requeue(list, redelivered);
  }

  remove(messages: readonly QueuedMessage[]): void {
    for (const [p, list] of this.byLane(messages)) this.lanes[p]!.remove(list);
  }

  flushRemovals(): void {
    for (const lane of this.lanes) lane.flushRemovals();
  }

  takeSeqs(seqs: ReadonlySet<number>): QueuedMessage[] {
    return this.lanes.flatMap((l) => l.takeSeqs(seqs)).sort((a, b) => a.seq - b.seq);
  }

  dropTransient(): number {
    return this.sum((l) => l.dropTransient());
  }

  purge(): number {
    return this.sum((l) => l.purge());
  }

  clear(): void {
    for (const lane of this.lanes) lane.clear();
  }
}
