// In-memory fakes of the broker's ports: every call is recorded (port, method, arguments) and any
// method can be scripted by a test. They implement the real interfaces of src/core, so a
// signature change there breaks these fakes at compile time.
import { ReplyCode } from "../../src/amqp";
import type { Broker } from "../../src/core/broker";
import type { DirectReply } from "../../src/core/direct-reply";
import { describeExchange, describeQueue, entityKey, type SubscriberAddress } from "../../src/core/names";
import type {
  AppliedPolicy,
  CatalogPort,
  ConnectionPort,
  ControlPort,
  ExchangePort,
  HeldOf,
  QueuePort,
  RouteSubscriberPort,
} from "../../src/core/ports";
import { fail, ok, type RpcResult } from "../../src/core/rpc-result";
import type { ConnectionInfo, QueueInfo } from "../../src/core/control";
import type { Permissions } from "../../src/core/permissions";
import { FakeCatalog, FakeControl } from "./fake-control";
import type { Transport } from "../../src/session/connection";
import {
  checkEquivalent,
  isReservedName,
  standardExchange,
  type ExchangeDecl,
  type ExchangeSnapshot,
  type StoredBinding,
} from "../../src/exchange/declaration";
import type { ExchangeType } from "../../src/exchange/registry";
import type { ConsumeOptions, DeliverResult, Delivery, QueueBinding, QueueDecl } from "../../src/queue/types";
import { decodePublishBatch } from "../../src/queue/wire";
import { encodeRecord, type IncomingMessage } from "../../src/storage/message-record";

export type PortKind = "queue" | "exchange" | "connection";

/** One call made on a fake port. */
export interface Call {
  kind: PortKind;
  /** The queue's or exchange's name, or the connection's id. */
  name: string;
  method: string;
  args: unknown[];
}

/** A promise settled from outside: lets a test hold an RPC open. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Replacements for a port's methods: a scripted method answers instead of the in-memory model. */
export type Script<P> = { -readonly [K in keyof P]?: P[K] | undefined };

abstract class FakePort {
  constructor(
    protected readonly broker: FakeBroker,
    readonly kind: PortKind,
    readonly vhost: string,
    readonly name: string,
  ) {}

  protected record(method: string, args: unknown[]): void {
    this.broker.calls.push({ kind: this.kind, name: this.name, method, args });
  }

  /** This port's recorded calls, optionally of one method. */
  calls(method?: string): Call[] {
    return this.broker.calls.filter((c) => c.kind === this.kind && c.name === this.name && (!method || c.method === method));
  }
}

export interface FakeConsumer {
  connId: string;
  channel: number;
  tag: string;
  options: ConsumeOptions;
}

/** A queue: exists once declared (or added by the test), stores what is published to it. */
export class FakeQueue extends FakePort implements QueuePort {
  exists = false;
  decl: QueueDecl | null = null;
  /** Messages stored and not yet taken by basic.get. */
  readonly messages: IncomingMessage[] = [];
  /** Every publish RPC, decoded: one array of messages per RPC. */
  readonly batches: IncomingMessage[][] = [];
  readonly consumers = new Map<string, FakeConsumer>();
  readonly bindings: QueueBinding[] = [];
  readonly script: Script<QueuePort> = {};
  private nextSeq = 1;

  constructor(broker: FakeBroker, vhost: string, name: string) {
    super(broker, "queue", vhost, name);
  }

  private counts() {
    return { messageCount: this.messages.length, consumerCount: this.consumers.size };
  }

  private missing<T>(): RpcResult<T> {
    return fail(ReplyCode.NOT_FOUND, `no ${describeQueue(this.vhost, this.name)}`);
  }

  async declare(vhost: string, name: string, wanted: QueueDecl | null, connId: string) {
    this.record("declare", [vhost, name, wanted, connId]);
    if (this.script.declare) return this.script.declare(vhost, name, wanted, connId);
    if (wanted === null) return this.exists ? ok(this.counts()) : this.missing<ReturnType<FakeQueue["counts"]>>();
    if (!this.exists) {
      this.exists = true;
      this.decl = wanted;
    }
    return ok(this.counts());
  }

  async remove(ifUnused: boolean, ifEmpty: boolean, connId: string) {
    this.record("remove", [ifUnused, ifEmpty, connId]);
    if (this.script.remove) return this.script.remove(ifUnused, ifEmpty, connId);
    const messageCount = this.messages.length;
    this.exists = false;
    this.messages.length = 0;
    return ok({ messageCount });
  }

  async purge(connId: string) {
    this.record("purge", [connId]);
    if (this.script.purge) return this.script.purge(connId);
    const messageCount = this.messages.length;
    this.messages.length = 0;
    return ok({ messageCount });
  }

  async access(vhost: string, name: string, connId: string): Promise<RpcResult<void>> {
    this.record("access", [vhost, name, connId]);
    if (this.script.access) return this.script.access(vhost, name, connId);
    return this.exists ? ok(undefined) : this.missing();
  }

  async publish(batch: Uint8Array): Promise<boolean | { rejected: number[] }> {
    // A copy, as the RPC to a real queue makes: the caller frees the batch once this returns.
    const copy = batch.slice();
    const messages = decodePublishBatch(copy);
    this.record("publish", [messages]);
    if (this.script.publish) return this.script.publish(copy);
    if (!this.exists) return false;
    this.batches.push(messages);
    this.messages.push(...messages);
    return true;
  }

  async recordBinding(b: QueueBinding, add: boolean): Promise<void> {
    this.record("recordBinding", [b, add]);
    if (this.script.recordBinding) return this.script.recordBinding(b, add);
    if (add) this.bindings.push(b);
  }

  async consume(connId: string, channel: number, tag: string, options: ConsumeOptions): Promise<RpcResult<void>> {
    this.record("consume", [connId, channel, tag, options]);
    if (this.script.consume) return this.script.consume(connId, channel, tag, options);
    if (!this.exists) return this.missing();
    this.consumers.set(tag, { connId, channel, tag, options });
    return ok(undefined);
  }

  async cancel(connId: string, tag: string): Promise<void> {
    this.record("cancel", [connId, tag]);
    if (this.script.cancel) return this.script.cancel(connId, tag);
    this.consumers.delete(tag);
  }

  async resume(connId: string, tags: string[], prefetch?: number, room?: number): Promise<void> {
    this.record(
      "resume",
      room !== undefined ? [connId, tags, prefetch, room] : prefetch === undefined ? [connId, tags] : [connId, tags, prefetch],
    );
    if (this.script.resume) return this.script.resume(connId, tags, prefetch, room);
  }

  async get(connId: string, channel: number, noAck: boolean) {
    this.record("get", [connId, channel, noAck]);
    if (this.script.get) return this.script.get(connId, channel, noAck);
    if (!this.exists) return this.missing<{ delivery: Delivery | null; messageCount: number }>();
    const m = this.messages.shift();
    const delivery: Delivery | null = m
      ? { queue: this.name, seq: this.nextSeq++, channel, consumerTag: "", noAck, redelivered: false, record: encodeRecord(m) }
      : null;
    return ok({ delivery, messageCount: this.messages.length });
  }

  readonly policies: (AppliedPolicy | null)[] = [];

  async applyPolicy(policy: AppliedPolicy | null): Promise<void> {
    this.record("applyPolicy", [policy]);
    this.policies.push(policy);
  }

  async settle(connId: string, ack: number[], requeue: number[], reject: number[] = []): Promise<void> {
    // Recorded as before when nothing was rejected, so older expectations read the same.
    this.record("settle", reject.length > 0 ? [connId, ack, requeue, reject] : [connId, ack, requeue]);
    if (this.script.settle) return this.script.settle(connId, ack, requeue);
  }

  async releaseChannel(connId: string, channel: number): Promise<void> {
    this.record("releaseChannel", [connId, channel]);
    if (this.script.releaseChannel) return this.script.releaseChannel(connId, channel);
  }

  async releaseConnection(connId: string): Promise<void> {
    this.record("releaseConnection", [connId]);
    if (this.script.releaseConnection) return this.script.releaseConnection(connId);
  }

  async info(): Promise<QueueInfo | null> {
    this.record("info", []);
    if (this.script.info) return this.script.info();
    return null;
  }

  async drop(): Promise<void> {
    this.record("drop", []);
    this.exists = false;
    this.decl = null;
  }

  async invalidateExchange(vhost: string, name: string): Promise<boolean> {
    this.record("invalidateExchange", [vhost, name]);
    if (this.script.invalidateExchange) return this.script.invalidateExchange(vhost, name);
    return true;
  }
}

/** An exchange: its declaration (amq.* exist from the start) and its bindings, served by snapshot(). */
export class FakeExchange extends FakePort implements ExchangePort {
  decl: ExchangeDecl | null;
  readonly bindings: StoredBinding[] = [];
  /** Exchange-to-exchange bindings that have this exchange as destination. */
  readonly inbounds: StoredBinding[] = [];
  readonly script: Script<ExchangePort> = {};

  constructor(broker: FakeBroker, vhost: string, name: string) {
    super(broker, "exchange", vhost, name);
    this.decl = standardExchange(vhost, name);
  }

  private missing<T>(): RpcResult<T> {
    return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(this.vhost, this.name)}`);
  }

  async declare(vhost: string, name: string, wanted: ExchangeDecl | null): Promise<RpcResult<ExchangeDecl>> {
    this.record("declare", [vhost, name, wanted]);
    if (this.script.declare) return this.script.declare(vhost, name, wanted);
    if (wanted === null) return this.decl ? ok(this.decl) : this.missing();
    if (this.decl) {
      const diff = checkEquivalent(this.decl, wanted);
      return diff === null ? ok(this.decl) : fail(ReplyCode.PRECONDITION_FAILED, diff);
    }
    if (isReservedName(name)) {
      return fail(ReplyCode.ACCESS_REFUSED, `${describeExchange(vhost, name)} not allowed, exchange name reserved`);
    }
    this.decl = wanted;
    return ok(wanted);
  }

  async remove(vhost: string, name: string, ifUnused: boolean): Promise<RpcResult<boolean>> {
    this.record("remove", [vhost, name, ifUnused]);
    if (this.script.remove) return this.script.remove(vhost, name, ifUnused);
    const existed = this.decl !== null;
    this.decl = null;
    this.bindings.length = 0;
    return ok(existed);
  }

  async bind(vhost: string, name: string, b: StoredBinding): Promise<RpcResult<boolean>> {
    this.record("bind", [vhost, name, b]);
    if (this.script.bind) return this.script.bind(vhost, name, b);
    if (!this.decl) return this.missing();
    if (this.bindings.some((x) => x.destination === b.destination && x.routingKey === b.routingKey)) return ok(false);
    this.bindings.push(b);
    return ok(true);
  }

  async unbind(vhost: string, name: string, b: StoredBinding | { destination: string }) {
    this.record("unbind", [vhost, name, b]);
    if (this.script.unbind) return this.script.unbind(vhost, name, b);
    const before = this.bindings.length;
    const keep = this.bindings.filter((x) => x.destination !== b.destination || ("routingKey" in b && x.routingKey !== b.routingKey));
    this.bindings.splice(0, this.bindings.length, ...keep);
    return ok({ removed: before - keep.length, autoDeleted: false });
  }

  async inbound(vhost: string, name: string, b: StoredBinding, add: boolean): Promise<RpcResult<void>> {
    this.record("inbound", [vhost, name, b, add]);
    if (this.script.inbound) return this.script.inbound(vhost, name, b, add);
    if (add) this.inbounds.push(b);
    return ok(undefined);
  }

  async snapshot(vhost: string, name: string, subscriber: string | null): Promise<ExchangeSnapshot | null> {
    this.record("snapshot", [vhost, name, subscriber]);
    if (this.script.snapshot) return this.script.snapshot(vhost, name, subscriber);
    return this.decl ? { decl: this.decl, bindings: [...this.bindings] } : null;
  }

  async unsubscribe(subscriber: string): Promise<void> {
    this.record("unsubscribe", [subscriber]);
    if (this.script.unsubscribe) return this.script.unsubscribe(subscriber);
  }

  /** Messages held as a delayed-message exchange, decoded: one array per hold RPC. */
  readonly held: IncomingMessage[][] = [];

  async hold(vhost: string, name: string, batch: Uint8Array): Promise<boolean> {
    const messages = decodePublishBatch(batch);
    this.record("hold", [vhost, name, messages]);
    if (this.script.hold) return this.script.hold(vhost, name, batch);
    if (this.decl?.type !== "x-delayed-message") return false;
    this.held.push(messages);
    return true;
  }

  async delayedCount(vhost: string, name: string): Promise<number | null> {
    this.record("delayedCount", [vhost, name]);
    if (this.script.delayedCount) return this.script.delayedCount(vhost, name);
    return this.decl?.type === "x-delayed-message" ? this.held.reduce((n, b) => n + b.length, 0) : null;
  }
}

/** A connection as queues see it (dead-lettering, route subscribers): records only. */
export class FakeConnectionPort extends FakePort implements ConnectionPort {
  readonly script: Script<ConnectionPort> = {};

  constructor(broker: FakeBroker, id: string) {
    super(broker, "connection", "", id);
  }

  async deliver(batch: Uint8Array): Promise<DeliverResult> {
    this.record("deliver", [batch]);
    if (this.script.deliver) return this.script.deliver(batch);
    return { gone: true, refused: [], paused: [] };
  }

  async replyTo(replies: DirectReply[]): Promise<boolean[]> {
    this.record("replyTo", [replies]);
    if (this.script.replyTo) return this.script.replyTo(replies);
    return replies.map(() => false);
  }

  async consumerCancelled(channel: number, tag: string, queue: string): Promise<void> {
    this.record("consumerCancelled", [channel, tag, queue]);
    if (this.script.consumerCancelled) return this.script.consumerCancelled(channel, tag, queue);
  }

  async info(): Promise<ConnectionInfo | null> {
    this.record("info", []);
    if (this.script.info) return this.script.info();
    return null;
  }

  async held(vhost: string, queue: string): Promise<HeldOf | null> {
    this.record("held", [vhost, queue]);
    if (this.script.held) return this.script.held(vhost, queue);
    return null;
  }

  async forceClose(reason: string): Promise<void> {
    this.record("forceClose", [reason]);
    if (this.script.forceClose) return this.script.forceClose(reason);
  }

  async permissionsChanged(permissions: Permissions | null): Promise<void> {
    this.record("permissionsChanged", [permissions]);
    if (this.script.permissionsChanged) return this.script.permissionsChanged(permissions);
  }

  async invalidateExchange(vhost: string, name: string): Promise<boolean> {
    this.record("invalidateExchange", [vhost, name]);
    if (this.script.invalidateExchange) return this.script.invalidateExchange(vhost, name);
    return false;
  }
}

export interface ExchangeOptions {
  internal?: boolean;
  durable?: boolean;
  arguments?: ExchangeDecl["arguments"];
}

/** The broker of a test: in-memory entities, a call log shared by all ports, captured log lines. */
export class FakeBroker implements Broker {
  readonly calls: Call[] = [];
  readonly logs: string[] = [];
  readonly controlPort = new FakeControl();
  readonly catalogs = new Map<string, FakeCatalog>();
  loopbackUsers: readonly string[] = ["guest"];
  private readonly queues = new Map<string, FakeQueue>();
  private readonly exchanges = new Map<string, FakeExchange>();
  private readonly connections = new Map<string, FakeConnectionPort>();

  control(): ControlPort {
    return this.controlPort;
  }

  catalog(vhost: string): CatalogPort {
    return this.catalogOf(vhost);
  }

  catalogOf(vhost: string): FakeCatalog {
    return lazily(this.catalogs, vhost, () => new FakeCatalog());
  }

  /** Every login outcome reported, and the delay the test wants answers to wait (ms). */
  readonly logins: { peer: string; user: string; ok: boolean }[] = [];
  loginDelay = 0;

  async loginOutcome(peer: string, user: string, ok: boolean): Promise<number> {
    this.logins.push({ peer, user, ok });
    return this.loginDelay;
  }

  exchange(vhost: string, name: string): FakeExchange {
    return lazily(this.exchanges, entityKey(vhost, name), () => new FakeExchange(this, vhost, name));
  }

  queue(vhost: string, name: string): FakeQueue {
    return lazily(this.queues, entityKey(vhost, name), () => new FakeQueue(this, vhost, name));
  }

  connection(id: string): FakeConnectionPort {
    return lazily(this.connections, id, () => new FakeConnectionPort(this, id));
  }

  subscriber(address: SubscriberAddress): RouteSubscriberPort {
    return address.kind === "connection" ? this.connection(address.id) : this.queue(address.vhost, address.name);
  }

  log(message: string): void {
    this.logs.push(message);
  }

  // ---- arranging the model

  /** A queue that exists, in vhost "/" unless told otherwise. */
  addQueue(name: string, vhost = "/"): FakeQueue {
    const q = this.queue(vhost, name);
    q.exists = true;
    q.decl = { vhost, name, durable: false, exclusive: false, autoDelete: false, arguments: {} };
    return q;
  }

  addExchange(name: string, type: ExchangeType, options: ExchangeOptions = {}, vhost = "/"): FakeExchange {
    const x = this.exchange(vhost, name);
    x.decl = {
      vhost,
      name,
      type,
      durable: options.durable ?? true,
      autoDelete: false,
      internal: options.internal ?? false,
      arguments: options.arguments ?? {},
    };
    return x;
  }

  /** A binding stored at its source exchange, as snapshot() returns it; `destination` is "q:<queue>" or "e:<exchange>". */
  addBinding(source: string, destination: string, routingKey = "", vhost = "/"): void {
    this.exchange(vhost, source).bindings.push({ destination, routingKey, arguments: {} });
  }

  /** Recorded calls, optionally narrowed to one port kind, entity name and method. */
  callsTo(kind?: PortKind, name?: string, method?: string): Call[] {
    return this.calls.filter(
      (c) => (!kind || c.kind === kind) && (name === undefined || c.name === name) && (!method || c.method === method),
    );
  }

  /** "kind name.method" for every recorded call, in order: for asserting sequences. */
  trace(filter: (c: Call) => boolean = () => true): string[] {
    return this.calls.filter(filter).map((c) => `${c.kind} ${c.name}.${c.method}`);
  }
}

function lazily<T>(map: Map<string, T>, key: string, make: () => T): T {
  let value = map.get(key);
  if (value === undefined) map.set(key, (value = make()));
  return value;
}

/** Collects what the connection writes; `closed` once it closes the socket. */
export class FakeTransport implements Transport {
  readonly writes: Uint8Array[] = [];
  closed = false;
  /** Writes after close: a connection must never do that. */
  writesAfterClose = 0;

  /** Flow-control reports (text frames) the connection sent. */
  readonly controls: string[] = [];

  control(text: string): void {
    this.controls.push(text);
  }

  send(bytes: Uint8Array): void {
    if (this.closed) this.writesAfterClose++;
    // The connection may reuse its buffers: keep a copy.
    this.writes.push(bytes.slice());
  }

  close(): void {
    this.closed = true;
  }

  get byteCount(): number {
    return this.writes.reduce((n, w) => n + w.length, 0);
  }
}
