import { DurableObject } from "cloudflare:workers";
import { ReplyCode } from "../amqp";
import type { Env } from "../env";
import { describeQueue, destinationKey } from "../core/names";
import type { QueuePort } from "../core/ports";
import { fail, ok, type RpcResult } from "../core/rpc-result";
import { WorkerBroker } from "../core/worker-broker";
import { recordBindingRow } from "../storage/binding-rows";
import { recordOf } from "../storage/message-record";
import { migrate } from "../storage/migrate";
import { QUEUE_MIGRATIONS } from "../storage/migrations/queue";
import { tableFromBytes, tableToBytes } from "../storage/table-bytes";
import { ConsumerList, type Consumer } from "./consumers";
import { checkEquivalent, lockedText } from "./declaration";
import { MessageStore } from "./message-store";
import { decodePublishBatch, encodeDeliveries } from "./wire";
import type { ConsumeOptions, DeliverResult, Delivery, QueueBinding, QueueDecl, QueuedMessage } from "./types";

interface DeclRow extends Record<string, SqlStorageValue> {
  vhost: string;
  name: string;
  durable: number;
  exclusive: number;
  owner: string | null;
  auto_delete: number;
  arguments: ArrayBuffer;
}

interface Unacked {
  message: QueuedMessage;
  connId: string;
  channel: number;
  consumer: Consumer | null;
}

/** Most deliveries sent to one connection in one RPC. */
const DELIVERY_BATCH = 1000;
/** Most deliveries in one dispatch round, over all connections. */
const ROUND_LIMIT = DELIVERY_BATCH * 4;
/** Body bytes sent to one connection in one RPC (one message may exceed it): RPC payloads stop at 32 MiB. */
const DELIVERY_BATCH_BYTES = 8 << 20;
/** How long acked messages may stay on disk before their delete is written. */
const REMOVAL_FLUSH_MS = 10;

/**
 * One queue of one vhost: its declaration, messages (in SQLite), consumers and unacked
 * deliveries. Publishes and acks arrive in batches; deliveries leave in batches per connection.
 */
export class QueueDO extends DurableObject<Env> implements QueuePort {
  private decl: QueueDecl | null = null;
  private owner: string | null = null;
  private readonly sql: SqlStorage;
  private readonly store: MessageStore;
  private readonly broker: WorkerBroker;
  private readonly consumers = new ConsumerList();
  private readonly unacked = new Map<number, Unacked>();
  private hadConsumer = false;
  private dispatching = false;
  private removalTimer: ReturnType<typeof setTimeout> | undefined;
  /** Counts resume() calls, so a pause answered before a resume arrived is not applied after it. */
  private resumes = 0;
  /** Bumped when the queue is deleted: answers to deliveries sent before that are moot. */
  private incarnation = 0;
  private dispatchAgain = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.store = new MessageStore(this.sql);
    this.broker = new WorkerBroker(env);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, QUEUE_MIGRATIONS);
      const row = this.sql.exec<DeclRow>("SELECT * FROM queue").toArray()[0];
      if (row) {
        this.decl = {
          vhost: row.vhost,
          name: row.name,
          durable: row.durable === 1,
          exclusive: row.exclusive === 1,
          autoDelete: row.auto_delete === 1,
          arguments: tableFromBytes(new Uint8Array(row.arguments)),
        };
        this.owner = row.owner;
        this.store.load();
      }
    });
  }

  /** queue.declare (wanted = null for passive). */
  async declare(
    vhost: string,
    name: string,
    wanted: QueueDecl | null,
    connId: string,
  ): Promise<RpcResult<{ messageCount: number; consumerCount: number }>> {
    const current = this.decl;
    if (!current) {
      if (!wanted) return fail(ReplyCode.NOT_FOUND, `no ${describeQueue(vhost, name)}`);
      this.decl = wanted;
      this.owner = wanted.exclusive ? connId : null;
      this.sql.exec(
        "INSERT OR REPLACE INTO queue (id, vhost, name, durable, exclusive, owner, auto_delete, arguments) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
        vhost,
        name,
        wanted.durable ? 1 : 0,
        wanted.exclusive ? 1 : 0,
        this.owner,
        wanted.autoDelete ? 1 : 0,
        tableToBytes(wanted.arguments),
      );
      return ok({ messageCount: 0, consumerCount: 0 });
    }
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    if (wanted) {
      if (wanted.exclusive !== current.exclusive) return fail(ReplyCode.RESOURCE_LOCKED, lockedText(vhost, name));
      const mismatch = checkEquivalent(current, wanted);
      if (mismatch) return fail(ReplyCode.PRECONDITION_FAILED, mismatch);
    }
    return ok({ messageCount: this.store.readyCount, consumerCount: this.consumers.size });
  }

  /** queue.delete; a missing queue deletes fine (count 0) as in RabbitMQ. */
  async remove(ifUnused: boolean, ifEmpty: boolean, connId: string): Promise<RpcResult<{ messageCount: number }>> {
    const decl = this.decl;
    if (!decl) return ok({ messageCount: 0 });
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    const what = describeQueue(decl.vhost, decl.name);
    if (ifUnused && this.consumers.size > 0) return fail(ReplyCode.PRECONDITION_FAILED, `${what} in use`);
    if (ifEmpty && this.store.readyCount > 0) return fail(ReplyCode.PRECONDITION_FAILED, `${what} not empty`);
    const messageCount = this.store.readyCount;
    await this.destroy();
    return ok({ messageCount });
  }

  async purge(connId: string): Promise<RpcResult<{ messageCount: number }>> {
    if (!this.decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    return ok({ messageCount: this.store.purge() });
  }

  /** Checks the queue exists and may be used by this connection (for bind, consume, get). */
  async access(vhost: string, name: string, connId: string): Promise<RpcResult<void>> {
    if (!this.decl) return fail(ReplyCode.NOT_FOUND, `no ${describeQueue(vhost, name)}`);
    return this.checkOwner(connId) ?? ok(undefined);
  }

  /** Stores a batch of messages; false when the queue does not exist (so they are unroutable). */
  async publish(batch: Uint8Array): Promise<boolean> {
    const decl = this.decl;
    if (!decl) return false;
    const messages = decodePublishBatch(batch);
    // With nothing waiting and a no-ack consumer free, messages may skip the disk entirely;
    // persistent messages for a durable queue never do, so a confirm still means "on disk".
    const direct = this.store.noneStored && this.consumers.hasNoAckCapacity();
    this.ctx.storage.transactionSync(() => {
      // This commit is paid for anyway: deletes noted by acks go along.
      this.store.flushRemovals();
      this.store.append(messages, (m) => direct && !(m.persistent && decl.durable));
    });
    void this.dispatch();
    return true;
  }

  /** Records a binding that points at this queue (so deleting the queue can remove it). */
  async recordBinding(b: QueueBinding, add: boolean): Promise<void> {
    recordBindingRow(this.sql, "bindings", "exchange", { peer: b.exchange, routingKey: b.routingKey, arguments: b.arguments }, add);
  }

  async consume(connId: string, channel: number, tag: string, options: ConsumeOptions): Promise<RpcResult<void>> {
    const decl = this.decl;
    if (!decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    const what = describeQueue(decl.vhost, decl.name);
    if (this.consumers.hasExclusive() || (options.exclusive && this.consumers.size > 0)) {
      return fail(ReplyCode.ACCESS_REFUSED, `${what} in exclusive use`);
    }
    this.consumers.add({ ...options, tag, connId, channel, unacked: 0, paused: false, resumedAt: 0 });
    this.hadConsumer = true;
    void this.dispatch();
    return ok(undefined);
  }

  /** basic.cancel (or a consumer's channel going away). */
  async cancel(connId: string, tag: string): Promise<void> {
    this.consumers.removeWhere((c) => c.connId === connId && c.tag === tag);
    await this.autoDeleteCheck();
  }

  /** A request that keeps this object in memory while connections consume from it. */
  async keepAlive(): Promise<void> {}

  /** A queue caches no routes yet (dead-lettering will): false tells the exchange to forget it. */
  async invalidateExchange(_vhost: string, _name: string): Promise<boolean> {
    return false;
  }

  /**
   * Lets paused consumers receive again (their channel has room or flow is back on); with
   * `prefetch`, their limit changes too (basic.qos global=true on their channel).
   */
  async resume(connId: string, tags: string[], prefetch?: number): Promise<void> {
    const at = ++this.resumes;
    for (const c of this.consumers.all()) {
      if (c.connId !== connId || !tags.includes(c.tag)) continue;
      c.paused = false;
      c.resumedAt = at;
      if (prefetch !== undefined) c.prefetch = prefetch;
    }
    void this.dispatch();
  }

  async get(connId: string, channel: number, noAck: boolean): Promise<RpcResult<{ delivery: Delivery | null; messageCount: number }>> {
    const decl = this.decl;
    if (!decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    const message = this.store.shift();
    if (!message) return ok({ delivery: null, messageCount: 0 });
    if (noAck) this.removeLater([message]);
    else {
      // It may have been on its way to a no-ack consumer, still only in memory; now it must last.
      this.store.persist([message]);
      this.unacked.set(message.seq, { message, connId, channel, consumer: null });
    }
    // A copy: the record may be a view into a whole publish batch, which RPC would clone entire.
    const delivery = { ...toDelivery(decl.name, message, channel, "", noAck), record: recordOf(message).slice() };
    return ok({ delivery, messageCount: this.store.readyCount });
  }

  /**
   * basic.ack / nack / reject and requeues from a connection. Unknown seqs are ignored: the
   * connection validates delivery tags itself.
   */
  async settle(connId: string, ack: number[], requeue: number[]): Promise<void> {
    const acked: QueuedMessage[] = [];
    for (const seq of ack) {
      const u = this.takeUnacked(seq, connId);
      if (u) acked.push(u.message);
    }
    const back: QueuedMessage[] = [];
    for (const seq of requeue) {
      const u = this.takeUnacked(seq, connId);
      if (u) back.push(u.message);
    }
    this.removeLater(acked);
    if (back.length > 0) this.ctx.storage.transactionSync(() => this.store.requeue(back, true));
    void this.dispatch();
  }

  /** A channel closed: its consumers go and its unacked messages return to the queue. */
  async releaseChannel(connId: string, channel: number): Promise<void> {
    this.release((x) => x.connId === connId && x.channel === channel);
    await this.autoDeleteCheck();
  }

  /** A connection closed: as releaseChannel for all its channels; exclusive queues it owns go. */
  async releaseConnection(connId: string): Promise<void> {
    this.release((x) => x.connId === connId);
    if (this.decl && this.owner === connId) {
      await this.destroy();
      return;
    }
    await this.autoDeleteCheck();
  }

  private release(match: (x: { connId: string; channel: number }) => boolean): void {
    this.consumers.removeWhere(match);
    const back: QueuedMessage[] = [];
    for (const [seq, u] of this.unacked) {
      if (match(u)) {
        this.unacked.delete(seq);
        back.push(u.message);
      }
    }
    this.ctx.storage.transactionSync(() => this.store.requeue(back, true));
    void this.dispatch();
  }

  /**
   * Acked or no-ack-taken messages leave storage. Only their deletes are noted (no write, so no
   * commit holds back the next delivery); they reach the disk with the next publish or after
   * REMOVAL_FLUSH_MS, whichever comes first.
   */
  private removeLater(messages: readonly QueuedMessage[]): void {
    this.store.remove(messages);
    if (this.removalTimer !== undefined || this.store.pendingRemovals === 0) return;
    this.removalTimer = setTimeout(() => {
      this.removalTimer = undefined;
      this.ctx.storage.transactionSync(() => this.store.flushRemovals());
    }, REMOVAL_FLUSH_MS);
  }

  private takeUnacked(seq: number, connId: string): Unacked | undefined {
    const u = this.unacked.get(seq);
    if (!u || u.connId !== connId) return undefined;
    this.unacked.delete(seq);
    if (u.consumer) u.consumer.unacked--;
    return u;
  }

  private checkOwner(connId: string): RpcResult<never> | null {
    if (this.owner && this.owner !== connId && this.decl) {
      return fail(ReplyCode.RESOURCE_LOCKED, lockedText(this.decl.vhost, this.decl.name));
    }
    return null;
  }

  private async autoDeleteCheck(): Promise<void> {
    if (this.decl?.autoDelete && this.hadConsumer && this.consumers.size === 0) await this.destroy();
  }

  /** Deletes the queue: consumers are told (basic.cancel), bindings removed from their exchanges. */
  private async destroy(): Promise<void> {
    const decl = this.decl;
    if (!decl) return;
    this.decl = null;
    this.hadConsumer = false;
    this.incarnation++;
    this.owner = null;
    const consumers = this.consumers.removeWhere(() => true);
    const bindings = this.sql.exec<{ exchange: string; routing_key: string; arguments: ArrayBuffer }>("SELECT * FROM bindings").toArray();
    this.unacked.clear();
    this.store.clear();
    this.sql.exec("DELETE FROM bindings");
    this.sql.exec("DELETE FROM queue");
    const exchanges = new Set(bindings.map((b) => b.exchange));
    const destination = destinationKey("queue", decl.name);
    await Promise.allSettled([
      ...consumers.map((c) => this.broker.connection(c.connId).consumerCancelled(c.channel, c.tag, decl.name)),
      ...[...exchanges].map((x) => this.broker.exchange(decl.vhost, x).unbind(decl.vhost, x, { destination })),
    ]);
  }

  /** Hands ready messages to consumers round-robin, one RPC per connection per round. */
  private async dispatch(): Promise<void> {
    if (this.dispatching) {
      this.dispatchAgain = true;
      return;
    }
    this.dispatching = true;
    try {
      do {
        this.dispatchAgain = false;
        const decl = this.decl;
        if (!decl) return;
        const batches = new Map<string, { deliveries: Delivery[]; messages: QueuedMessage[]; bytes: number }>();
        const toAckConsumers: QueuedMessage[] = [];
        let total = 0;
        while (this.store.readyCount > 0 && total < ROUND_LIMIT) {
          const consumer = this.consumers.next();
          if (!consumer) break;
          let batch = batches.get(consumer.connId);
          if (!batch) batches.set(consumer.connId, (batch = { deliveries: [], messages: [], bytes: 0 }));
          if (batch.deliveries.length >= DELIVERY_BATCH) break;
          const size = this.store.peek()!.body.length;
          if (batch.deliveries.length > 0 && batch.bytes + size > DELIVERY_BATCH_BYTES) break;
          batch.bytes += size;
          const message = this.store.shift()!;
          if (!consumer.noAck) {
            consumer.unacked++;
            this.unacked.set(message.seq, { message, connId: consumer.connId, channel: consumer.channel, consumer });
            toAckConsumers.push(message);
          }
          batch.deliveries.push(toDelivery(decl.name, message, consumer.channel, consumer.tag, consumer.noAck));
          batch.messages.push(message);
          total++;
        }
        if (total === 0) break;
        // Unacked messages must survive a restart, so whatever was only in memory is written now.
        this.ctx.storage.transactionSync(() => this.store.persist(toAckConsumers));
        await Promise.all([...batches].map(([connId, b]) => this.deliverTo(connId, b.deliveries, b.messages)));
        // A publisher faster than the consumers must not build a backlog that lives only in memory:
        // beyond one round's worth, waiting messages go to disk (and new ones then go straight there).
        if (this.store.readyCount > ROUND_LIMIT) this.ctx.storage.transactionSync(() => this.store.persistReady());
      } while (this.dispatchAgain || (this.store.readyCount > 0 && this.consumers.hasCapacity()));
      // Messages nobody could take at once go to disk after all.
      this.ctx.storage.transactionSync(() => this.store.persistReady());
    } finally {
      this.dispatching = false;
    }
  }

  private async deliverTo(connId: string, deliveries: Delivery[], messages: QueuedMessage[]): Promise<void> {
    let result: DeliverResult;
    const sentAt = this.resumes;
    const incarnation = this.incarnation;
    try {
      result = await this.broker.connection(connId).deliver(encodeDeliveries(this.decl?.name ?? "", deliveries));
    } catch {
      result = { gone: true, refused: [], paused: [] };
    }
    // Deleted meanwhile: refused messages must not come back into a queue that is gone.
    if (incarnation !== this.incarnation) return;
    const refused = new Set(result.refused);
    // No-ack messages leave storage once the connection has taken them (or vanished, as in RabbitMQ).
    const taken = messages.filter((m, i) => deliveries[i]!.noAck && (result.gone || !refused.has(m.seq)));
    this.removeLater(taken);
    if (result.gone) {
      this.release((x) => x.connId === connId);
      return;
    }
    // A resume that overtook this answer already lifted the pause it reports.
    const paused = new Set(result.paused);
    for (const c of this.consumers.all()) if (c.connId === connId && paused.has(c.tag) && c.resumedAt <= sentAt) c.paused = true;
    if (refused.size === 0) return;
    const back: QueuedMessage[] = [];
    messages.forEach((m, i) => {
      if (!refused.has(m.seq)) return;
      // An ack-mode message no longer unacked was already given back while this RPC was out
      // (its channel closed: releaseChannel); requeueing it again would deliver it twice.
      // It may also have been redelivered to another channel since: only this delivery's record counts.
      const d = deliveries[i]!;
      const u = this.unacked.get(m.seq);
      if (d.noAck) back.push(m);
      else if (u && u.connId === connId && u.channel === d.channel && u.consumer?.tag === d.consumerTag) {
        this.takeUnacked(m.seq, connId);
        back.push(m);
      }
    });
    this.store.requeue(back, false);
  }
}

function toDelivery(queue: string, m: QueuedMessage, channel: number, consumerTag: string, noAck: boolean): Delivery {
  return {
    queue,
    seq: m.seq,
    channel,
    consumerTag,
    noAck,
    redelivered: m.redelivered,
    record: recordOf(m),
  };
}
