import { type AmqpError, type AnyMethod, ReplyCode, closeArgs } from "../amqp";
import { addCounters, emptyCounters, type ChannelInfo } from "../core/control";
import { BrokerError, preconditionFailed } from "../core/errors";
import { RateSampler } from "../core/rates";
import { VhostOps } from "../core/vhost-ops";
import type { Delivery, IncomingMessage } from "../queue/types";
import type { Connection } from "./connection";
import { recordOf } from "../storage/message-record";

type ChannelState = "open" | "closing";

/** A publish routed but not yet stored: `queues` are its destinations. */
export interface PendingPublish {
  /** Publisher-confirm sequence number, 0 when the channel is not in confirm mode. */
  seq: number;
  queues: string[];
  message: IncomingMessage;
  mandatory: boolean;
}

interface ChannelConsumer {
  queue: string;
  noAck: boolean;
  /** Its limit at the queue is the channel-wide one (no per-consumer qos was set): it follows changes. */
  globalLimit: boolean;
  /** False until consume-ok is sent: deliveries arriving earlier wait in `early`. */
  ready: boolean;
  early: Delivery[];
}

interface Settlements {
  ack: number[];
  requeue: number[];
  /** Rejected or nacked without requeue: the queue dead-letters them. */
  reject: number[];
}

/** What a basic.ack / nack / reject asks of the queue. */
export type SettleKind = "ack" | "requeue" | "reject";

/** What a channel remembers about a delivery tag it handed out. */
interface Outstanding {
  queue: string;
  seq: number;
  /** The consumer it went to; null for basic.get. */
  consumer: string | null;
}

/**
 * One AMQP channel: consumers, delivery tags, prefetch, confirm and tx modes. Publishes and
 * acks are gathered here and sent at the end of each inbound batch, one RPC per queue.
 */
export class Channel {
  private state: ChannelState = "open";
  flowActive = true;
  /** basic.qos global=false: the prefetch given to consumers created afterwards. */
  consumerPrefetch = 0;
  /** basic.qos global=true: unacked limit shared by the channel's consumers. */
  globalPrefetch = 0;
  confirm = false;
  publishSeq = 0;
  transactional = false;
  lastQueue: string | undefined;
  readonly consumers = new Map<string, ChannelConsumer>();
  /** The channel's consumer of amq.rabbitmq.reply-to (core/direct-reply.ts): its tag and secret. */
  directReply: { tag: string; secret: string } | null = null;
  /** Queues whose consumers or unacked messages involve this channel. */
  readonly touched = new Set<string>();
  /** Message counts for the management API: plain increments, never written anywhere. */
  readonly stats = emptyCounters();
  private readonly sampler = new RateSampler(() => ({ ...this.stats }));

  private deliveryTag = 0;
  private readonly outstanding = new Map<number, Outstanding>();
  private publishes: PendingPublish[] = [];
  private settles = new Map<string, Settlements>();
  /** Settle RPCs sent by endOfBatch(false) and not yet answered; the first failure among them. */
  private settling: Promise<void> | null = null;
  private settleError: unknown = null;
  private txPublishes: PendingPublish[] = [];
  /** Acks inside a transaction, with their tags so a rollback can restore them. */
  private txSettles: { tag: number; o: Outstanding; kind: SettleKind }[] = [];
  private readonly paused = new Map<string, Set<string>>();
  /** Set by closeByServer: done once the queues have taken back what the channel held. */
  private releasing: Promise<void> | undefined;

  constructor(
    readonly id: number,
    readonly connection: Connection,
  ) {}

  get isOpen(): boolean {
    return this.state === "open";
  }

  /** The vhost operations of core/, acting as this channel's connection. */
  ops(): VhostOps {
    const c = this.connection;
    return new VhostOps(c.broker, c.vhost, c.actor);
  }

  /**
   * Spec 4.2.5: after the server's channel.close only close-ok (or a crossing close) is
   * meaningful; everything else is dropped.
   */
  async whileClosing(m: AnyMethod): Promise<void> {
    if (m.name === "channel.close-ok") {
      // The channel number may be reopened next: its old consumers must be gone by then.
      await this.releasing;
      this.forget();
    } else if (m.name === "channel.close") {
      this.connection.send(this.id, { name: "channel.close-ok", args: {} });
    }
  }

  /** channel.close from the client: give everything back, then confirm. */
  async closeByClient(): Promise<void> {
    await this.release();
    this.forget();
    this.connection.send(this.id, { name: "channel.close-ok", args: {} });
  }

  /** The channel number is free again; its counts stay in the connection's totals. */
  private forget(): void {
    this.connection.channels.delete(this.id);
    addCounters(this.connection.closedChannelStats, this.stats);
  }

  /** channel.flow: the client pauses or resumes deliveries. */
  async setFlow(active: boolean): Promise<void> {
    this.flowActive = active;
    this.connection.send(this.id, { name: "channel.flow-ok", args: { active } });
    if (active) await this.resumePaused();
  }

  /** Sends channel.close for a soft error and waits for close-ok. */
  closeByServer(error: AmqpError): void {
    if (this.state === "closing") return;
    this.state = "closing";
    this.connection.send(this.id, { name: "channel.close", args: closeArgs(error) });
    // Publishes and acks that came before the error still count, as in RabbitMQ, so they land
    // before the queues take back the channel's unacked messages.
    const log = (what: string) => (err: unknown) => this.connection.broker.log(`channel ${this.id} ${what} failed: ${String(err)}`);
    this.releasing = this.endOfBatch()
      .catch(log("final batch"))
      .then(() => this.release())
      .catch(log("release"));
  }

  // ---- publishing

  addPublish(p: PendingPublish): void {
    (this.transactional ? this.txPublishes : this.publishes).push(p);
  }

  /**
   * Sends what the batch gathered: publishes grouped per queue, then acks per queue. With
   * `settled` false the acks are not waited for, so the next batch of acks can go out while the
   * queue is still answering this one (acks commute); anything else waits for them first.
   */
  async endOfBatch(settled = true): Promise<void> {
    if (this.publishes.length > 0) {
      const batch = this.publishes;
      this.publishes = [];
      await this.storePublishes(batch);
    }
    if (this.settles.size > 0) {
      const settles = this.settles;
      this.settles = new Map();
      const sent = this.sendSettles(settles).catch((err: unknown) => {
        this.settleError ??= err;
      });
      // Neither promise rejects (failures land in settleError): chaining waits for both.
      const all = this.settling ? this.settling.then(() => sent) : sent;
      this.settling = all;
      void all.then(() => {
        if (this.settling === all) this.settling = null;
      });
    }
    if (!settled) return;
    if (this.settling) await this.settling;
    if (this.settleError !== null) {
      const err = this.settleError;
      this.settleError = null;
      throw err;
    }
  }

  private async storePublishes(batch: PendingPublish[]): Promise<void> {
    const { routed, failed, rejected } = await this.connection.publisher.store(batch);
    this.count(batch, routed);
    const lost = failed.reduce((n, f) => n + f, 0);
    // A message that could not be stored is never lost without a word: a confirm channel that is
    // still open nacks it below; anything else ends the connection with 541, as RabbitMQ does.
    if (lost > 0 && (!this.confirm || this.state !== "open")) {
      throw new BrokerError(ReplyCode.INTERNAL_ERROR, `${lost} published message(s) could not be stored`);
    }
    // A channel closed by an error in this batch still stores its publishes but says nothing more.
    if (this.state !== "open") return;
    batch.forEach((p, i) => {
      if (p.mandatory && routed[i] === 0 && !failed[i]) {
        const { exchange, routingKey, header, body } = p.message;
        this.connection.sendContent(
          this.id,
          { name: "basic.return", args: { replyCode: ReplyCode.NO_ROUTE, replyText: "NO_ROUTE", exchange, routingKey } },
          header,
          body,
        );
      }
    });
    if (!this.confirm) return;
    const last = batch[batch.length - 1]!;
    if (!failed.includes(1) && !rejected.includes(1)) {
      // Batches are confirmed in order, so one multiple-ack covers the whole batch; one message is
      // acked with multiple=false, as RabbitMQ does.
      this.connection.send(this.id, { name: "basic.ack", args: { deliveryTag: last.seq, multiple: batch.length > 1 } });
      return;
    }
    batch.forEach((p, i) => {
      const args = { deliveryTag: p.seq, multiple: false };
      // A full queue that refused it (x-overflow reject-publish) nacks it too, as RabbitMQ.
      const nack = failed[i] || rejected[i];
      this.connection.send(this.id, nack ? { name: "basic.nack", args: { ...args, requeue: false } } : { name: "basic.ack", args });
    });
  }

  private count(batch: PendingPublish[], routed: ArrayLike<number>): void {
    const stats = this.stats;
    stats.publish += batch.length;
    if (this.confirm) stats.confirm += batch.length;
    batch.forEach((p, i) => {
      const out = (routed[i] ?? 0) > 0;
      this.connection.countExchange(p.message.exchange, out);
      if (!out) {
        if (p.mandatory) stats.return_unroutable++;
        else stats.drop_unroutable++;
      }
    });
  }

  /** Live state for the management API. */
  info(): ChannelInfo {
    return {
      number: this.id,
      consumerCount: this.consumers.size,
      prefetchCount: this.consumerPrefetch,
      globalPrefetchCount: this.globalPrefetch,
      unacked: this.outstanding.size,
      confirm: this.confirm,
      transactional: this.transactional,
      stats: { ...this.stats },
      rates: this.sampler.rates(),
    };
  }

  // ---- acknowledgements

  /** basic.ack / nack / reject: validates tags now, settles at the end of the batch (or commit). Returns how many. */
  settle(deliveryTag: number, multiple: boolean, kind: SettleKind): number {
    // As RabbitMQ: the tag itself must be outstanding, even with multiple (only 0 means "all").
    if (!(multiple && deliveryTag === 0) && !this.outstanding.has(deliveryTag)) {
      throw preconditionFailed(`unknown delivery tag ${deliveryTag}`);
    }
    const tags: number[] = [];
    if (multiple) {
      for (const tag of this.outstanding.keys()) {
        if (deliveryTag !== 0 && tag > deliveryTag) break;
        tags.push(tag);
      }
    } else {
      tags.push(deliveryTag);
    }
    for (const tag of tags) {
      const o = this.outstanding.get(tag)!;
      this.outstanding.delete(tag);
      if (this.transactional) this.txSettles.push({ tag, o, kind });
      else addSettlement(this.settles, o, kind);
    }
    return tags.length;
  }

  /** basic.recover: everything unacked goes back to its queue, redelivered (not part of a transaction). */
  recover(): void {
    for (const o of this.outstanding.values()) addSettlement(this.settles, o, "requeue");
    this.outstanding.clear();
  }

  /** basic.qos global=true: a new shared limit, which consumers without their own follow at the queue. */
  async setGlobalPrefetch(count: number): Promise<void> {
    this.globalPrefetch = count;
    const perQueue = new Map<string, string[]>();
    for (const [tag, c] of this.consumers) {
      if (!c.globalLimit) continue;
      let tags = perQueue.get(c.queue);
      if (!tags) perQueue.set(c.queue, (tags = []));
      tags.push(tag);
    }
    const { broker, vhost, id } = this.connection;
    await Promise.all([...perQueue].map(([queue, tags]) => broker.queue(vhost, queue).resume(id, tags, count)));
    // A higher limit may make room for consumers this channel paused.
    await this.resumePaused();
  }

  private async sendSettles(settles: Map<string, Settlements>): Promise<void> {
    const { broker, vhost, id } = this.connection;
    await Promise.all([...settles].map(([queue, s]) => broker.queue(vhost, queue).settle(id, s.ack, s.requeue, s.reject)));
    await this.resumePaused();
  }

  // ---- transactions

  async commit(): Promise<void> {
    const publishes = this.txPublishes;
    const settles = new Map<string, Settlements>();
    for (const t of this.txSettles) addSettlement(settles, t.o, t.kind);
    this.txPublishes = [];
    this.txSettles = [];
    if (publishes.length > 0) await this.storePublishes(publishes);
    if (settles.size > 0) await this.sendSettles(settles);
  }

  rollback(): void {
    // Acks inside a rolled-back transaction never happened: their tags are outstanding again.
    if (this.txSettles.length > 0) {
      const entries = [...this.outstanding, ...this.txSettles.map((t) => [t.tag, t.o] as const)];
      entries.sort((a, b) => a[0] - b[0]);
      this.outstanding.clear();
      for (const [tag, o] of entries) this.outstanding.set(tag, o);
    }
    this.txPublishes = [];
    this.txSettles = [];
  }

  // ---- deliveries

  nextDeliveryTag(queue: string, seq: number, noAck: boolean, consumer: string | null = null): number {
    const tag = ++this.deliveryTag;
    if (!noAck) this.outstanding.set(tag, { queue, seq, consumer });
    this.touched.add(queue);
    return tag;
  }

  /** A direct reply (core/direct-reply.ts): delivered at once, no-ack, if the secret is this channel's. */
  acceptReply(secret: string, message: IncomingMessage): boolean {
    const consumer = this.directReply;
    if (this.state !== "open" || consumer === null || consumer.secret !== secret) return false;
    this.stats.deliver_no_ack++;
    const deliveryTag = ++this.deliveryTag;
    this.connection.sendDelivery(this.id, consumer.tag, deliveryTag, false, recordOf(message));
    return true;
  }

  /** Takes one delivery pushed by a queue: "ok", or why it must go back. */
  accept(d: Delivery): "ok" | "refused" | "paused" {
    const consumer = this.consumers.get(d.consumerTag);
    if (this.state !== "open" || !consumer || consumer.queue !== d.queue) return "refused";
    const full = !d.noAck && this.globalPrefetch > 0 && this.outstanding.size >= this.globalPrefetch;
    if (!this.flowActive || full) {
      let tags = this.paused.get(d.queue);
      if (!tags) this.paused.set(d.queue, (tags = new Set()));
      tags.add(d.consumerTag);
      return "paused";
    }
    // Held back: a copy, as the batch it came in is released once delivered (ConnectionDO.deliver).
    if (!consumer.ready) consumer.early.push({ ...d, record: d.record.slice() });
    else this.emit(d);
    return "ok";
  }

  /** consume-ok has gone out: deliveries that raced ahead of it can follow now. */
  consumerReady(tag: string): void {
    const c = this.consumers.get(tag);
    if (!c) return;
    c.ready = true;
    for (const d of c.early.splice(0)) this.emit(d);
  }

  private emit(d: Delivery): void {
    if (d.noAck) this.stats.deliver_no_ack++;
    else this.stats.deliver++;
    if (d.redelivered) this.stats.redeliver++;
    const deliveryTag = this.nextDeliveryTag(d.queue, d.seq, d.noAck, d.consumerTag);
    this.connection.sendDelivery(this.id, d.consumerTag, deliveryTag, d.redelivered, d.record);
  }

  private async resumePaused(): Promise<void> {
    if (this.paused.size === 0 || !this.flowActive) return;
    if (this.globalPrefetch > 0 && this.outstanding.size >= this.globalPrefetch) return;
    const paused = [...this.paused];
    this.paused.clear();
    const { broker, vhost, id } = this.connection;
    await Promise.all(paused.map(([queue, tags]) => broker.queue(vhost, queue).resume(id, [...tags])));
  }

  /**
   * What this channel holds of a queue, for the queue when its object restarted: consumers, and
   * unacked deliveries (acks inside an uncommitted transaction are still unacked to the queue).
   */
  heldOf(queue: string): { consumers: string[]; unacked: { seq: number; consumer: string | null }[] } {
    const consumers: string[] = [];
    for (const [tag, c] of this.consumers) if (c.queue === queue) consumers.push(tag);
    const unacked: { seq: number; consumer: string | null }[] = [];
    for (const o of this.outstanding.values()) if (o.queue === queue) unacked.push({ seq: o.seq, consumer: o.consumer });
    for (const t of this.txSettles) if (t.o.queue === queue) unacked.push({ seq: t.o.seq, consumer: t.o.consumer });
    return { consumers, unacked };
  }

  /** Gives back everything the channel holds: queues requeue its unacked messages and drop its consumers. */
  async release(): Promise<void> {
    this.state = "closing";
    const queues = [...this.touched];
    this.touched.clear();
    this.consumers.clear();
    this.directReply = null;
    this.outstanding.clear();
    this.paused.clear();
    this.txPublishes = [];
    this.txSettles = [];
    const { broker, vhost, id } = this.connection;
    await Promise.allSettled(queues.map((q) => broker.queue(vhost, q).releaseChannel(id, this.id)));
  }
}

function addSettlement(settles: Map<string, Settlements>, o: Outstanding, kind: SettleKind): void {
  let s = settles.get(o.queue);
  if (!s) settles.set(o.queue, (s = { ack: [], requeue: [], reject: [] }));
  s[kind].push(o.seq);
}
