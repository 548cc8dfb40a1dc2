import { DurableObject } from "cloudflare:workers";
import { ReplyCode } from "../amqp";
import type { Env } from "../env";
import { bootEpoch, restartedSince } from "../core/boot";
import type { CatalogQueue, QueueInfo } from "../core/control";
import { jsonTable } from "../core/json-table";
import { describeQueue, destinationKey } from "../core/names";
import type { AppliedPolicy, QueuePort } from "../core/ports";
import { effectivePolicy } from "../core/policies";
import { fail, ok, type RpcResult } from "../core/rpc-result";
import { WorkerBroker } from "../core/worker-broker";
import { recordBindingRow } from "../storage/binding-rows";
import { recordOf } from "../storage/message-record";
import { countingSql, emptyCost } from "../storage/counting-sql";
import { migrate } from "../storage/migrate";
import { catalogDone, catalogPending, recordEpoch, storedEpoch } from "../storage/wake-rows";
import { QUEUE_MIGRATIONS } from "../storage/migrations/queue";
import { Schedule } from "../storage/schedule";
import { tableFromBytes, tableToBytes } from "../storage/table-bytes";
import { ConsumerList } from "./consumers";
import { type DeathReason, republish, withDeliveryCount } from "./dead-letter";
import { DeliveryCounts } from "./delivery-counts";
import { expiryOf, refusedByLimit, takeOverLimit } from "./limits";
import { type QueueSettings, settingsOf } from "./settings";
import { checkEquivalent, lockedText } from "./declaration";
import { MessageStore } from "./message-store";
import { PriorityStore, type QueueStore } from "./priority-store";
import { Dispatcher, toDelivery } from "./dispatcher";
import { Attachments } from "./attachments";
import type { Consumer } from "./consumers";
import { QueueStats } from "./stats";
import { UnackedTable } from "./unacked";
import { decodePublishBatch } from "./wire";
import type { ConsumeOptions, Delivery, QueueBinding, QueueDecl, QueuedMessage } from "./types";

interface DeclRow extends Record<string, SqlStorageValue> {
  vhost: string;
  name: string;
  durable: number;
  exclusive: number;
  owner: string | null;
  auto_delete: number;
  arguments: ArrayBuffer;
}

/**
 * How long settles may wait in memory for a commit that is paid for anyway (the next publish)
 * before an alarm writes them (until then a crash brings those messages back, redelivered), and
 * how long the delivery watermark stays ahead of what went out (MessageStore.tightenWatermark):
 * an object is evicted only after seconds idle, so it always wakes with an exact one.
 */
const SETTLE_FLUSH_MS = 100;
const FLUSH_SETTLES = "flush-settles";
/** The head of the queue expires (x-message-ttl, expiration): a volatile task, re-armed at wake-up. */
const EXPIRE = "expire";
/** x-expires: the queue deletes itself when unused this long; a durable task, so restarts keep it. */
const QUEUE_EXPIRES = "queue-expires";
/** Dead-lettering of messages that could not be stored at their exchange's queues is retried. */
const DEAD_LETTER_RETRY_MS = 1000;

/**
 * One queue of one vhost: its declaration, messages (in SQLite), consumers and unacked
 * deliveries. Publishes and acks arrive in batches; deliveries leave in batches per connection.
 */
export class QueueDO extends DurableObject<Env> implements QueuePort {
  private decl: QueueDecl | null = null;
  private owner: string | null = null;
  private readonly sql: SqlStorage;
  /** The messages: one store, or one per priority (x-max-priority); made anew with the settings. */
  private store: QueueStore;
  private readonly broker: WorkerBroker;
  private readonly consumers = new ConsumerList();
  private readonly unacked = new UnackedTable();
  private readonly dispatcher: Dispatcher;
  private hadConsumer = false;
  /** What the queue's arguments switch on (TTL, limits, dead-lettering…). */
  private settings: QueueSettings = settingsOf({});
  /** The policy that applies to the queue (core/policies.ts), kept in its SQLite. */
  private policy: AppliedPolicy | null = null;
  /** Some message carried an expiration property (so the head may expire without x-message-ttl). */
  private sawExpiration = false;
  /** x-expires: when the queue was last used (declare, consume, get, a consumer leaving). */
  private lastUsed = 0;
  private expiryScheduled = false;
  /** False after a delete wiped the object's storage: the next declare builds the schema again. */
  private schemaReady = true;
  /** What must happen later, behind the object's alarm. */
  private readonly schedule: Schedule;
  private readonly stats = new QueueStats();
  /** Consumers and peers in SQLite, so a restarted object finds its connections again. */
  private readonly attachments: Attachments;
  /** Given-back counts of queues with a delivery limit, kept across restarts. */
  private readonly deliveryCounts: DeliveryCounts;
  /** Rows written and requests, for the cost report (storage/counting-sql.ts). */
  private readonly cost = emptyCost();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = countingSql(ctx.storage.sql, this.cost);
    this.store = this.makeStore();
    this.attachments = new Attachments(this.sql);
    this.deliveryCounts = new DeliveryCounts(this.sql);
    this.schedule = new Schedule(this.sql, ctx.storage);
    this.broker = new WorkerBroker(env);
    this.dispatcher = new Dispatcher({
      queueName: () => this.decl?.name ?? null,
      store: () => this.store,
      consumers: this.consumers,
      unacked: this.unacked,
      transaction: (fn) => {
        ctx.storage.transactionSync(fn);
        this.flushLater();
      },
      removeLater: (messages) => this.removeLater(messages),
      connectionGone: (connId) => {
        this.release((x) => x.connId === connId);
        this.attachments.connectionGone(connId);
      },
      ackModeTo: (connId) => this.attachments.peer(connId),
      isPeer: (connId) => this.attachments.isPeer(connId),
      reap: () => this.reap(),
      // Counted where billed: by the connection object that receives it.
      send: (connId, batch) => this.broker.connection(connId).deliver(batch),
      delivered: (d) => {
        const c = this.stats.counts;
        if (d.noAck) c.deliver_no_ack++;
        else c.deliver++;
        if (d.redelivered) c.redeliver++;
      },
    });
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, QUEUE_MIGRATIONS);
      await this.schedule.restore();
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
        this.policy = this.storedPolicy();
        this.applySettings(this.decl);
        this.store = this.makeStore();
        if (this.countsDeliveries) this.deliveryCounts.load();
        this.store.load();
        if (await this.afterRestart(this.decl)) return;
        await this.reattach(this.decl);
        // Messages that expired while the object was away go now; the next expiry gets its alarm.
        this.reap();
        this.expiryScheduled = this.schedule.has(QUEUE_EXPIRES, true);
        if (!this.expiryScheduled) this.used();
        if (catalogPending(this.sql)) {
          void this.catalogLate(this.decl);
        }
      }
    });
  }

  /**
   * Waking in a new boot epoch (core/boot.ts) is a broker restart: a non-durable or exclusive
   * queue is gone, a durable one keeps only its persistent messages. True when the queue went.
   */
  private async afterRestart(decl: QueueDecl): Promise<boolean> {
    const epoch = bootEpoch(this.env);
    const stored = storedEpoch(this.sql);
    if (!restartedSince(stored, epoch)) {
      if (stored === null) this.writeEpoch();
      return false;
    }
    const what = describeQueue(decl.vhost, decl.name);
    if (decl.exclusive || !decl.durable) {
      this.broker.log(`${what}: ${decl.exclusive ? "exclusive" : "non-durable"}, deleted by the broker restart`);
      await this.destroy();
      return true;
    }
    let dropped = 0;
    this.ctx.storage.transactionSync(() => {
      dropped = this.store.dropTransient();
      this.writeEpoch();
    });
    if (dropped > 0) this.broker.log(`${what}: ${dropped} non-persistent message(s) dropped by the broker restart`);
    return false;
  }

  private writeEpoch(): void {
    recordEpoch(this.sql, bootEpoch(this.env));
  }

  /** queue.declare (wanted = null for passive). */
  async declare(
    vhost: string,
    name: string,
    wanted: QueueDecl | null,
    connId: string,
  ): Promise<RpcResult<{ messageCount: number; consumerCount: number }>> {
    this.cost.rpcCalls++;
    const current = this.decl;
    if (!current) {
      if (!wanted) return fail(ReplyCode.NOT_FOUND, `no ${describeQueue(vhost, name)}`);
      this.ensureSchema();
      this.decl = wanted;
      this.policy = null;
      this.applySettings(wanted);
      this.store = this.makeStore();
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
      this.writeEpoch();
      // The vhost's catalog lists it from now on; a queue the catalog cannot record does not exist.
      try {
        const limit = await this.broker.catalog(vhost).queueAdded(this.catalogEntry(wanted));
        if (limit !== null) {
          await this.destroy();
          return fail(
            ReplyCode.PRECONDITION_FAILED,
            `cannot declare queue '${name}': queue limit in vhost '${vhost}' (${limit}) is reached`,
          );
        }
      } catch (err) {
        this.broker.log(`queue ${describeQueue(vhost, name)}: catalog update failed: ${String(err)}`);
        await this.destroy();
        return fail(ReplyCode.INTERNAL_ERROR, `${describeQueue(vhost, name)} could not be recorded`);
      }
      await this.lookUpPolicy(wanted);
      this.used();
      return ok({ messageCount: 0, consumerCount: 0 });
    }
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    if (wanted) {
      if (wanted.exclusive !== current.exclusive) return fail(ReplyCode.RESOURCE_LOCKED, lockedText(vhost, name));
      const mismatch = checkEquivalent(current, wanted);
      if (mismatch) return fail(ReplyCode.PRECONDITION_FAILED, mismatch);
      // A redeclare renews the lease (x-expires); a passive declare only looks.
      this.used();
    }
    return ok({ messageCount: this.store.readyCount, consumerCount: this.consumers.size });
  }

  /** queue.delete; a missing queue deletes fine (count 0) as in RabbitMQ. */
  async remove(ifUnused: boolean, ifEmpty: boolean, connId: string): Promise<RpcResult<{ messageCount: number }>> {
    this.cost.rpcCalls++;
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
    this.cost.rpcCalls++;
    if (!this.decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    return ok({ messageCount: this.store.purge() });
  }

  /** Checks the queue exists and may be used by this connection (for bind, consume, get). */
  async access(vhost: string, name: string, connId: string): Promise<RpcResult<void>> {
    this.cost.rpcCalls++;
    if (!this.decl) return fail(ReplyCode.NOT_FOUND, `no ${describeQueue(vhost, name)}`);
    return this.checkOwner(connId) ?? ok(undefined);
  }

  /**
   * Stores a batch of messages; false when the queue does not exist (so they are unroutable),
   * and the indexes of messages refused when the queue is full (x-overflow reject-publish).
   */
  async publish(batch: Uint8Array): Promise<boolean | { rejected: number[] }> {
    this.cost.rpcCalls++;
    const decl = this.decl;
    if (!decl) return false;
    let messages = decodePublishBatch(batch);
    this.stats.counts.publish += messages.length;
    this.stats.touch();
    const rejected = refusedByLimit(this.settings, this.store, messages);
    if (rejected.length > 0) {
      const refused = new Set(rejected);
      const dropped = messages.filter((_, i) => refused.has(i));
      messages = messages.filter((_, i) => !refused.has(i));
      // reject-publish-dlx: refused, and dead-lettered as RabbitMQ does.
      if (this.settings.overflow === "reject-publish-dlx") {
        void this.deadLetter(
          dropped.map((m) => ({ ...m, seq: 0, redelivered: false })),
          "maxlen",
          false,
        );
      }
    }
    // The round this starts judges expiry at the publish's time: TTL 0 means "delivered at once or never".
    const now = Date.now();
    this.store.at(now, () => {
      if (this.store.unloadedCount > 0) {
        // Behind a backlog on disk: written and counted, nothing in memory.
        this.ctx.storage.transactionSync(() => {
          this.store.flushRemovals();
          this.deliveryCounts.flush();
          this.store.append(messages, now);
        });
        this.dispatcher.kick();
      } else {
        // Straight to no-ack consumers when nothing waits: written only if they do not take them
        // at once (the dispatch round ends with writePending). Persistent messages for a durable
        // queue are written before the confirm, so a confirm means "on disk" or "delivered".
        const direct =
          this.store.readyCount === 0 &&
          this.consumers.allNoAck() &&
          this.consumers.hasCapacity() &&
          !(decl.durable && messages.some((m) => m.persistent));
        this.store.appendPending(messages, now);
        // A round that hands them out in ack mode writes them itself, marked as handed out, so the
        // delivery watermark costs no row of its own (MessageStore.markDelivered).
        this.dispatcher.kick();
        if (!direct) {
          // One segment row per batch; this commit is paid for anyway, so the settles noted since
          // the last one go along.
          this.ctx.storage.transactionSync(() => {
            this.store.flushRemovals();
            this.deliveryCounts.flush();
            this.store.writePending();
          });
        }
      }
    });
    this.dropHead();
    this.reap();
    return rejected.length > 0 ? { rejected } : true;
  }

  /** Records a binding that points at this queue (so deleting the queue can remove it). */
  async recordBinding(b: QueueBinding, add: boolean): Promise<void> {
    this.cost.rpcCalls++;
    // A deleted queue has no bindings to record or forget (and no tables).
    if (!this.decl) return;
    recordBindingRow(this.sql, "bindings", "exchange", { peer: b.exchange, routingKey: b.routingKey, arguments: b.arguments }, add);
  }

  async consume(connId: string, channel: number, tag: string, options: ConsumeOptions): Promise<RpcResult<void>> {
    this.cost.rpcCalls++;
    const decl = this.decl;
    if (!decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    const what = describeQueue(decl.vhost, decl.name);
    if (this.consumers.hasExclusive() || (options.exclusive && this.consumers.size > 0)) {
      return fail(ReplyCode.ACCESS_REFUSED, `${what} in exclusive use`);
    }
    const consumer = { ...options, tag, connId, channel, unacked: 0, paused: false, resumedAt: 0 };
    this.consumers.add(consumer);
    this.ctx.storage.transactionSync(() => {
      this.attachments.consumerAdded(consumer);
      if (!options.noAck) this.attachments.peer(connId);
    });
    this.hadConsumer = true;
    this.lastUsed = Date.now();
    this.dispatcher.kick();
    return ok(undefined);
  }

  /** basic.cancel (or a consumer's channel going away). */
  async cancel(connId: string, tag: string): Promise<void> {
    this.cost.rpcCalls++;
    this.attachments.consumersRemoved(this.consumers.removeWhere((c) => c.connId === connId && c.tag === tag));
    await this.autoDeleteCheck();
  }

  /** A queue caches no routes yet (dead-lettering will): false tells the exchange to forget it. */
  async invalidateExchange(_vhost: string, _name: string): Promise<boolean> {
    this.cost.rpcCalls++;
    return false;
  }

  /**
   * Lets paused consumers receive again (their channel has room or flow is back on); with
   * `prefetch`, their limit changes too (basic.qos global=true on their channel).
   */
  async resume(connId: string, tags: string[], prefetch?: number, room?: number): Promise<void> {
    this.cost.rpcCalls++;
    const at = this.dispatcher.resumed();
    for (const c of this.consumers.all()) {
      if (c.connId !== connId || !tags.includes(c.tag)) continue;
      c.paused = false;
      c.resumedAt = at;
      if (prefetch !== undefined && c.prefetch !== prefetch) {
        c.prefetch = prefetch;
        this.attachments.prefetchChanged(c);
      }
    }
    if (room !== undefined) this.dispatcher.roomFor(connId, room);
    this.dispatcher.kick();
  }

  async get(connId: string, channel: number, noAck: boolean): Promise<RpcResult<{ delivery: Delivery | null; messageCount: number }>> {
    this.cost.rpcCalls++;
    const decl = this.decl;
    if (!decl) return fail(ReplyCode.NOT_FOUND, "no queue");
    const locked = this.checkOwner(connId);
    if (locked) return locked;
    this.used();
    const message = this.store.shift();
    this.reap();
    if (!message) return ok({ delivery: null, messageCount: this.store.readyCount });
    const c = this.stats.counts;
    if (noAck) c.get_no_ack++;
    else c.get++;
    if (message.redelivered) c.redeliver++;
    if (noAck) this.removeLater([message]);
    else {
      this.ctx.storage.transactionSync(() => {
        // It may have been on its way to a no-ack consumer, not written yet; now it must last.
        this.store.writePending();
        this.store.markDelivered(message.seq);
        this.attachments.peer(connId);
      });
      this.flushLater();
      this.unacked.add({ message, connId, channel, consumer: null });
    }
    // A copy: the record may be a view into a whole publish batch, which RPC would clone entire.
    const delivery = { ...toDelivery(decl.name, message, channel, "", noAck), record: recordOf(message).slice() };
    return ok({ delivery, messageCount: this.store.readyCount });
  }

  /**
   * basic.ack / nack / reject and requeues from a connection. Unknown seqs are ignored: the
   * connection validates delivery tags itself.
   */
  async settle(connId: string, ack: number[], requeue: number[], reject: number[] = []): Promise<void> {
    this.cost.rpcCalls++;
    const taken = (seqs: readonly number[]) => {
      const out: QueuedMessage[] = [];
      for (const seq of seqs) {
        const u = this.unacked.take(seq, connId);
        if (u) out.push(u.message);
      }
      return out;
    };
    const acked = taken(ack);
    const back = taken(requeue);
    const rejected = taken(reject);
    this.removeLater(acked);
    this.stats.counts.ack += acked.length;
    this.stats.touch();
    this.giveBack(back);
    // Rejected or nacked without requeue: dead-lettered (or dropped when there is no DLX).
    if (rejected.length > 0) void this.deadLetter(rejected, "rejected");
    this.dispatcher.kick();
  }

  /**
   * Messages handed out come back (requeue, a channel or connection gone). Quorum queues count
   * deliveries (x-delivery-count) and dead-letter a message past its x-delivery-limit.
   */
  /** Quorum queues and queues with a delivery limit count how often a message came back. */
  private get countsDeliveries(): boolean {
    return this.settings.queueType === "quorum" || this.settings.deliveryLimit !== undefined;
  }

  private giveBack(messages: QueuedMessage[]): void {
    const limit = this.settings.deliveryLimit;
    if (!this.countsDeliveries) {
      this.store.requeue(messages, true);
      return;
    }
    const back: QueuedMessage[] = [];
    const over: QueuedMessage[] = [];
    for (const m of messages) {
      m.deliveries = (m.deliveries ?? 0) + 1;
      if (limit !== undefined && m.deliveries > limit) over.push(m);
      else {
        if (this.settings.queueType === "quorum") withDeliveryCount(m, m.deliveries);
        back.push(m);
      }
    }
    // Kept across restarts: a row per message given back (not per delivery).
    if (back.length > 0) this.ctx.storage.transactionSync(() => this.deliveryCounts.record(back));
    this.store.requeue(back, true);
    if (over.length > 0) void this.deadLetter(over, "delivery_limit");
  }

  /** A channel closed: its consumers go and its unacked messages return to the queue. */
  async releaseChannel(connId: string, channel: number): Promise<void> {
    this.cost.rpcCalls++;
    this.release((x) => x.connId === connId && x.channel === channel);
    await this.autoDeleteCheck();
  }

  /** A connection closed: as releaseChannel for all its channels; exclusive queues it owns go. */
  async releaseConnection(connId: string): Promise<void> {
    this.cost.rpcCalls++;
    this.release((x) => x.connId === connId);
    if (this.decl) this.attachments.connectionGone(connId);
    if (this.decl && this.owner === connId) {
      await this.destroy();
      return;
    }
    await this.autoDeleteCheck();
  }

  async info(): Promise<QueueInfo | null> {
    const decl = this.decl;
    if (!decl) return null;
    return {
      ...this.catalogEntry(decl),
      vhost: decl.vhost,
      policy: this.policy?.name ?? null,
      messagesReady: this.store.readyCount,
      messagesUnacknowledged: this.unacked.size,
      messageBytesReady: this.store.readyBodyBytes,
      messageBytesUnacknowledged: this.unacked.bodyBytes(),
      consumers: this.consumers.all().map((c) => ({
        tag: c.tag,
        connection: c.connId,
        channel: c.channel,
        ackRequired: !c.noAck,
        exclusive: c.exclusive,
        prefetch: c.prefetch,
      })),
      stats: { ...this.stats.counts },
      rates: this.stats.rates(),
      idleSince: this.stats.lastActivity,
      cost: { ...this.cost },
    };
  }

  /**
   * The object restarted (eviction, a runtime restart): the consumers and peers it had are in
   * SQLite; each connection says what it still holds (ConnectionPort.held). Consumers still there
   * carry on; messages still unacked stay with their holders; what a vanished connection held is
   * ready again (redelivered). Runs inside blockConcurrencyWhile, before any request.
   */
  private async reattach(decl: QueueDecl): Promise<void> {
    const { consumers, peers } = this.attachments.load();
    if (peers.length === 0) return;
    const answers = await Promise.all(
      peers.map(async (connId) => {
        try {
          return [connId, await this.broker.connection(connId).held(decl.vhost, decl.name)] as const;
        } catch {
          return [connId, null] as const;
        }
      }),
    );
    const held = new Map(answers);
    const gone: Consumer[] = [];
    for (const c of consumers) {
      const still = held.get(c.connId)?.consumers.some((x) => x.tag === c.tag && x.channel === c.channel);
      const consumer: Consumer = { ...c, unacked: 0, paused: false, resumedAt: 0 };
      if (still) this.consumers.add(consumer);
      else gone.push(consumer);
    }
    const holders = new Map<number, { connId: string; channel: number; consumer: string | null }>();
    for (const [connId, h] of held) {
      if (!h || (h.consumers.length === 0 && h.unacked.length === 0)) continue;
      for (const u of h.unacked) holders.set(u.seq, { connId, channel: u.channel, consumer: u.consumer });
    }
    for (const m of this.store.takeSeqs(new Set(holders.keys()))) {
      const o = holders.get(m.seq)!;
      const consumer =
        o.consumer === null ? null : (this.consumers.all().find((c) => c.connId === o.connId && c.tag === o.consumer) ?? null);
      this.unacked.add({ message: m, connId: o.connId, channel: o.channel, consumer });
    }
    this.ctx.storage.transactionSync(() => {
      this.attachments.consumersRemoved(gone);
      for (const [connId, h] of held)
        if (!h || (h.consumers.length === 0 && h.unacked.length === 0)) this.attachments.connectionGone(connId);
    });
    this.hadConsumer = this.consumers.size > 0;
    if (this.consumers.size > 0 || holders.size > 0) {
      this.broker.log(
        `${describeQueue(decl.vhost, decl.name)}: reattached ${this.consumers.size} consumer(s), ${this.unacked.size} unacked`,
      );
    }
    this.dispatcher.kick();
  }

  /** A queue declared before the catalog existed enters it now (migration 4), once. */
  private async catalogLate(decl: QueueDecl): Promise<void> {
    try {
      await this.broker.catalog(decl.vhost).queueAdded(this.catalogEntry(decl));
      if (this.decl === decl) catalogDone(this.sql);
    } catch (err) {
      this.broker.log(`${describeQueue(decl.vhost, decl.name)}: catalog update failed, retried at the next start: ${String(err)}`);
    }
  }

  async drop(): Promise<void> {
    this.cost.rpcCalls++;
    await this.destroy();
  }

  private catalogEntry(decl: QueueDecl): CatalogQueue {
    return {
      name: decl.name,
      durable: decl.durable,
      autoDelete: decl.autoDelete,
      exclusive: decl.exclusive,
      owner: this.owner,
      arguments: jsonTable(decl.arguments),
    };
  }

  private release(match: (x: { connId: string; channel: number }) => boolean): void {
    const removed = this.consumers.removeWhere(match);
    if (this.decl) this.attachments.consumersRemoved(removed);
    this.giveBack(this.unacked.takeWhere(match));
    this.dispatcher.kick();
  }

  private applySettings(decl: QueueDecl): void {
    this.settings = settingsOf(decl.arguments, this.policy?.definition);
    this.consumers.singleActive = this.settings.singleActiveConsumer;
  }

  private storedPolicy(): AppliedPolicy | null {
    const row = this.sql.exec<{ name: string; definition: string }>("SELECT name, definition FROM queue_policy").toArray()[0];
    return row ? { name: row.name, definition: JSON.parse(row.definition) as Record<string, unknown> } : null;
  }

  /** A new queue finds the policy that applies to it (later changes are pushed: applyPolicy). */
  private async lookUpPolicy(decl: QueueDecl): Promise<void> {
    try {
      const p = effectivePolicy(await this.broker.control().policies(decl.vhost), decl.name);
      if (p && this.decl === decl) this.setPolicy({ name: p.name, definition: p.definition });
    } catch (err) {
      this.broker.log(`${describeQueue(decl.vhost, decl.name)}: policies not read, none applied: ${String(err)}`);
    }
  }

  /** The policy that applies now (null: none): kept, and its settings take effect at once. */
  async applyPolicy(policy: AppliedPolicy | null): Promise<void> {
    this.cost.rpcCalls++;
    this.setPolicy(policy);
  }

  /** Keeps the policy and applies its settings (from the RPC above, or the queue's own look-up). */
  private setPolicy(policy: AppliedPolicy | null): void {
    const decl = this.decl;
    if (!decl || JSON.stringify(policy) === JSON.stringify(this.policy)) return;
    this.policy = policy;
    if (policy)
      this.sql.exec(
        "INSERT OR REPLACE INTO queue_policy (id, name, definition) VALUES (1, ?, ?)",
        policy.name,
        JSON.stringify(policy.definition),
      );
    else this.sql.exec("DELETE FROM queue_policy");
    this.applySettings(decl);
    // A lower limit or TTL applies to what is queued already.
    this.dropHead();
    this.reap();
    this.expiryScheduled = false;
    this.used();
    this.dispatcher.kick();
  }

  private makeStore(): QueueStore {
    const max = this.settings.maxPriority;
    const store = max !== undefined && max > 0 ? new PriorityStore(this.sql, Math.min(max, 255)) : new MessageStore(this.sql);
    store.restored = (m) => {
      if (!this.countsDeliveries) return;
      const n = this.deliveryCounts.of(m.seq);
      if (n === 0) return;
      m.deliveries = n;
      if (this.settings.queueType === "quorum") withDeliveryCount(m, n);
    };
    store.expiryOf = (m, publishedAt) => {
      const { expiresAt, hasExpiration } = expiryOf(this.settings, m.header, publishedAt);
      if (hasExpiration) this.sawExpiration = true;
      return expiresAt;
    };
    return store;
  }

  /** x-overflow drop-head: the oldest ready messages go (dead-lettered, reason maxlen) while over. */
  private dropHead(): void {
    const dropped = takeOverLimit(this.settings, this.store);
    if (dropped.length > 0) void this.deadLetter(dropped, "maxlen");
  }

  /**
   * Messages the store found expired at the head go to the dead-letter exchange (or away), and
   * the alarm is set for the next head to expire. Cheap when nothing can expire.
   */
  private reap(): void {
    if (this.settings.messageTtl === undefined && !this.sawExpiration) return;
    const at = this.store.peek()?.expiresAt;
    const expired = this.store.takeExpired();
    if (expired.length > 0) {
      void this.deadLetter(expired, "expired");
      this.dispatcher.kick();
    }
    if (at !== undefined && this.decl) void this.schedule.at(EXPIRE, at + 1, false);
  }

  /**
   * Messages leave the queue for its dead-letter exchange, routed as a publish there would be
   * (core/publisher.ts). They stay stored here until the target queues have them, so a crash
   * midway loses nothing (at-least-once); without a DLX, or when it does not exist, they are
   * dropped as RabbitMQ drops them. `stored`: false for messages that never entered the queue
   * (reject-publish-dlx).
   */
  private async deadLetter(messages: QueuedMessage[], reason: DeathReason, stored = true): Promise<void> {
    const decl = this.decl;
    if (!decl || messages.length === 0) return;
    const settle = (ms: QueuedMessage[]) => {
      if (stored) this.removeLater(ms);
    };
    const failed = await republish(this.broker, decl, this.settings, messages, reason);
    // Deleted (maybe declared again) meanwhile: these seqs are not this queue's any more.
    if (this.decl !== decl) return;
    settle(messages.filter((_, i) => !failed[i]));
    const retry = messages.filter((_, i) => failed[i]);
    if (retry.length === 0 || !stored) return;
    // Not stored at the target: back to the head, tried again later (logged by the publisher).
    this.store.requeue(retry, false);
    void this.schedule.at(EXPIRE, Date.now() + DEAD_LETTER_RETRY_MS, false);
  }

  /**
   * Acked or no-ack-taken messages leave storage. Only their settles are noted (no write, so no
   * commit holds back the next delivery); they reach the disk with the next publish or by the
   * alarm SETTLE_FLUSH_MS later, whichever comes first.
   */
  private removeLater(messages: readonly QueuedMessage[]): void {
    this.store.remove(messages);
    if (this.countsDeliveries) this.deliveryCounts.forget(messages);
    this.flushLater();
  }

  /** Settles to write, or a delivery watermark ahead of what went out: the alarm sees to both. */
  private flushLater(): void {
    if ((this.store.pendingRemovals === 0 && !this.store.watermarkAhead) || !this.decl) return;
    if (this.schedule.has(FLUSH_SETTLES, false)) return;
    void this.schedule.at(FLUSH_SETTLES, Date.now() + SETTLE_FLUSH_MS, false);
  }

  /** The object's one alarm: runs what the schedule says is due. */
  override async alarm(): Promise<void> {
    if (!this.decl) return;
    for (const task of this.schedule.takeDue(Date.now())) {
      if (task === FLUSH_SETTLES) {
        this.ctx.storage.transactionSync(() => {
          this.store.flushRemovals();
          this.deliveryCounts.flush();
          this.store.tightenWatermark();
        });
      } else if (task === EXPIRE) this.dispatcher.kick();
      else if (task === QUEUE_EXPIRES) await this.expireQueue();
      else this.broker.log(`${describeQueue(this.decl.vhost, this.decl.name)}: unknown scheduled task '${task}' dropped`);
    }
    // Also after an eviction, when the task list in memory is gone but the alarm was not.
    this.reap();
    await this.schedule.rearm();
  }

  private ensureSchema(): void {
    if (this.schemaReady) return;
    migrate(this.ctx.storage, QUEUE_MIGRATIONS);
    this.schemaReady = true;
  }

  private checkOwner(connId: string): RpcResult<never> | null {
    if (this.owner && this.owner !== connId && this.decl) {
      return fail(ReplyCode.RESOURCE_LOCKED, lockedText(this.decl.vhost, this.decl.name));
    }
    return null;
  }

  private async autoDeleteCheck(): Promise<void> {
    if (this.decl?.autoDelete && this.hadConsumer && this.consumers.size === 0) await this.destroy();
    else if (this.consumers.size === 0) this.used();
  }

  /**
   * x-expires: the queue was used now. While it has consumers it cannot expire; without, a
   * durable task fires `expires` after the last use (a row written when it becomes unused, not
   * per use: a later use only moves the time in memory, and the task checks it when it fires).
   */
  private used(): void {
    const expires = this.settings.expires;
    if (expires === undefined || !this.decl) return;
    this.lastUsed = Date.now();
    if (this.consumers.size > 0 || this.expiryScheduled) return;
    this.expiryScheduled = true;
    void this.schedule.at(QUEUE_EXPIRES, this.lastUsed + expires, true);
  }

  private async expireQueue(): Promise<void> {
    this.expiryScheduled = false;
    const expires = this.settings.expires;
    const decl = this.decl;
    if (expires === undefined || !decl || this.consumers.size > 0) return;
    const due = this.lastUsed + expires;
    if (due > Date.now()) {
      this.expiryScheduled = true;
      await this.schedule.at(QUEUE_EXPIRES, due, true);
      return;
    }
    this.broker.log(`${describeQueue(decl.vhost, decl.name)}: unused for ${expires} ms (x-expires), deleted`);
    await this.destroy();
  }

  /** Deletes the queue: consumers are told (basic.cancel), bindings removed from their exchanges. */
  private async destroy(): Promise<void> {
    const decl = this.decl;
    if (!decl) return;
    this.decl = null;
    this.hadConsumer = false;
    // What this queue cost goes to its vhost's totals; a queue declared again here starts afresh.
    const cost = { ...this.cost };
    Object.assign(this.cost, emptyCost());
    this.dispatcher.forgetInFlight();
    this.owner = null;
    const consumers = this.consumers.removeWhere(() => true);
    const bindings = this.sql.exec<{ exchange: string; routing_key: string; arguments: ArrayBuffer }>("SELECT * FROM bindings").toArray();
    this.unacked.clear();
    this.store.clear();
    this.deliveryCounts.clear();
    this.attachments.clear();
    // A deleted queue leaves no storage behind (on disk locally: no SQLite file per queue ever deleted).
    this.schedule.clear();
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.schemaReady = false;
    const exchanges = new Set(bindings.map((b) => b.exchange));
    const destination = destinationKey("queue", decl.name);
    await Promise.allSettled([
      this.broker.catalog(decl.vhost).queueRemoved(decl.name, cost),
      ...consumers.map((c) => this.broker.connection(c.connId).consumerCancelled(c.channel, c.tag, decl.name)),
      ...[...exchanges].map((x) => this.broker.exchange(decl.vhost, x).unbind(decl.vhost, x, { destination })),
    ]);
  }
}
