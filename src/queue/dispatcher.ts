import { release } from "../amqp/buffer";
import { recordOf } from "../storage/message-record";
import type { ConsumerList } from "./consumers";
import type { QueueStore } from "./priority-store";
import type { DeliverResult, Delivery, QueuedMessage } from "./types";
import type { UnackedTable } from "./unacked";
import { encodeDeliveries } from "./wire";

/** Most deliveries sent to one connection in one RPC. */
const DELIVERY_BATCH = 1000;
/** Most deliveries in one dispatch round, over all connections. */
const ROUND_LIMIT = DELIVERY_BATCH * 4;
/** Body bytes sent to one connection in one RPC (one message may exceed it): RPC payloads stop at 32 MiB. */
const DELIVERY_BATCH_BYTES = 8 << 20;

/** What the dispatcher works on: its queue's state and the way to reach connections. */
export interface DispatchHost {
  /** The queue's name, or null once it is deleted. */
  queueName(): string | null;
  /** The queue's store (a function: the queue makes a new one when its settings change). */
  store(): QueueStore;
  readonly consumers: ConsumerList;
  readonly unacked: UnackedTable;
  transaction(fn: () => void): void;
  /** Messages that left for good (acked, or taken by a no-ack consumer). */
  removeLater(messages: readonly QueuedMessage[]): void;
  /** The connection no longer exists: what it held goes back. */
  connectionGone(connId: string): void;
  /** Sends a packed delivery batch to a connection. */
  send(connId: string, batch: Uint8Array): Promise<DeliverResult>;
  /** A delivery the connection took (for the queue's statistics). */
  delivered?(d: Delivery): void;
  /** This connection gets ack-mode deliveries (called inside the round's transaction). */
  ackModeTo?(connId: string): void;
  /** Deals with messages the store found expired while the round looked at the head. */
  reap?(): void;
  /** ackModeTo was called for this connection already (and it is still known). */
  isPeer?(connId: string): boolean;
}

/**
 * Hands a queue's ready messages to its consumers: round-robin over consumers with capacity,
 * one RPC per connection per round, and what a connection refuses comes back in order.
 */
export class Dispatcher {
  private running = false;
  private again = false;
  /** Counts resumes, so a pause answered before a resume arrived is not applied after it. */
  private resumes = 0;
  /** Bumped when the queue is deleted: answers to deliveries sent before that are moot. */
  private incarnation = 0;
  /** Bytes a connection said it can take (its client's flow window); absent: no limit known. */
  private readonly room = new Map<string, number>();

  constructor(private readonly host: DispatchHost) {}

  /** Starts a dispatch round, or asks the running one to go round again. */
  kick(): void {
    void this.run();
  }

  /** A consumer may receive again; returns the stamp to put in its `resumedAt`. */
  resumed(): number {
    return ++this.resumes;
  }

  /** What a connection can take next, in bytes (from its answers and resumes). */
  roomFor(connId: string, bytes: number | undefined): void {
    if (bytes === undefined) this.room.delete(connId);
    else this.room.set(connId, bytes);
  }

  /** The queue was deleted: deliveries still out are no longer its business. */
  forgetInFlight(): void {
    this.incarnation++;
  }

  private async run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    const { consumers, unacked } = this.host;
    const store = this.host.store();
    try {
      do {
        this.again = false;
        const queue = this.host.queueName();
        if (queue === null) return;
        const batches = new Map<string, { deliveries: Delivery[]; messages: QueuedMessage[]; bytes: number }>();
        const toAckConsumers: QueuedMessage[] = [];
        let total = 0;
        while (store.readyCount > 0 && total < ROUND_LIMIT) {
          const consumer = consumers.next();
          if (!consumer) break;
          let batch = batches.get(consumer.connId);
          if (!batch) batches.set(consumer.connId, (batch = { deliveries: [], messages: [], bytes: 0 }));
          if (batch.deliveries.length >= DELIVERY_BATCH) break;
          // Undefined when what was ready had expired (the host dead-letters it: reap).
          const head = store.peek();
          if (!head) break;
          const size = head.body.length;
          const limit = Math.min(DELIVERY_BATCH_BYTES, this.room.get(consumer.connId) ?? DELIVERY_BATCH_BYTES);
          if (batch.deliveries.length > 0 && batch.bytes + size > limit) break;
          batch.bytes += size;
          const message = store.shift()!;
          if (!consumer.noAck) {
            unacked.add({ message, connId: consumer.connId, channel: consumer.channel, consumer });
            toAckConsumers.push(message);
          }
          batch.deliveries.push(toDelivery(queue, message, consumer.channel, consumer.tag, consumer.noAck));
          batch.messages.push(message);
          total++;
        }
        this.host.reap?.();
        if (total === 0) break;
        // Before ack-mode deliveries leave: who holds them and that they may have been seen,
        // so a restarted queue finds its holders and marks them redelivered after a crash.
        let highest = 0;
        for (const m of toAckConsumers) if (m.seq > highest) highest = m.seq;
        if (highest > 0) {
          const newPeers: string[] = [];
          for (const [connId, b] of batches) {
            if (b.deliveries.some((d) => !d.noAck) && !this.host.isPeer?.(connId)) newPeers.push(connId);
          }
          // A commit costs CPU even with nothing in it: only when something must be written.
          if (newPeers.length > 0 || store.needsDeliveryMark(highest)) {
            this.host.transaction(() => {
              for (const connId of newPeers) this.host.ackModeTo?.(connId);
              store.markDelivered(highest);
            });
          } else {
            // Writes nothing, but notes what went out: the watermark's tightening (the alarm)
            // must never bring it back below a message handed out.
            store.markDelivered(highest);
          }
        }
        await Promise.all([...batches].map(([connId, b]) => this.deliverTo(queue, connId, b.deliveries, b.messages)));
      } while (this.again || (store.readyCount > 0 && consumers.hasCapacity()));
      // Messages meant to go straight to no-ack consumers that are still here go to disk now.
      if (store.hasPending) this.host.transaction(() => store.writePending());
    } finally {
      this.running = false;
    }
  }

  private async deliverTo(queue: string, connId: string, deliveries: Delivery[], messages: QueuedMessage[]): Promise<void> {
    let result: DeliverResult;
    const sentAt = this.resumes;
    const incarnation = this.incarnation;
    const batch = encodeDeliveries(queue, deliveries);
    try {
      result = await this.host.send(connId, batch);
    } catch {
      result = { gone: true, refused: [], paused: [] };
    }
    // Copied by the RPC: a batch of large messages would otherwise stay until the next full GC.
    release(batch);
    // Deleted meanwhile: refused messages must not come back into a queue that is gone.
    if (incarnation !== this.incarnation) return;
    this.roomFor(connId, result.gone ? undefined : result.room);
    const refused = new Set(result.refused);
    // No-ack messages leave storage once the connection has taken them (or vanished, as in RabbitMQ).
    const taken = messages.filter((m, i) => deliveries[i]!.noAck && (result.gone || !refused.has(m.seq)));
    this.host.removeLater(taken);
    if (result.gone) {
      this.host.connectionGone(connId);
      return;
    }
    if (this.host.delivered) for (const d of deliveries) if (!refused.has(d.seq)) this.host.delivered(d);
    // A resume that overtook this answer already lifted the pause it reports.
    const paused = new Set(result.paused);
    for (const c of this.host.consumers.all()) if (c.connId === connId && paused.has(c.tag) && c.resumedAt <= sentAt) c.paused = true;
    if (refused.size === 0) return;
    const back: QueuedMessage[] = [];
    messages.forEach((m, i) => {
      if (!refused.has(m.seq)) return;
      // An ack-mode message no longer unacked was already given back while this RPC was out
      // (its channel closed: releaseChannel); requeueing it again would deliver it twice.
      // It may also have been redelivered to another channel since: only this delivery's record counts.
      const d = deliveries[i]!;
      const u = this.host.unacked.get(m.seq);
      if (d.noAck) back.push(m);
      else if (u && u.connId === connId && u.channel === d.channel && u.consumer?.tag === d.consumerTag) {
        this.host.unacked.take(m.seq, connId);
        back.push(m);
      }
    });
    this.host.store().requeue(back, false);
  }
}

export function toDelivery(queue: string, m: QueuedMessage, channel: number, consumerTag: string, noAck: boolean): Delivery {
  return { queue, seq: m.seq, channel, consumerTag, noAck, redelivered: m.redelivered, record: recordOf(m) };
}
