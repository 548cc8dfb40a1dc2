import type { ExchangeDecl, ExchangeSnapshot, StoredBinding } from "../exchange/declaration";
import type { ConsumeOptions, DeliverResult, Delivery, QueueBinding, QueueDecl } from "../queue/types";
import type {
  AccessAnswer,
  CatalogConnection,
  CatalogExchange,
  CatalogQueue,
  ConnectionInfo,
  CostCounters,
  MessageCounters,
  PermissionRecord,
  PolicyRecord,
  QueueInfo,
  UserRecord,
  UserWrite,
  VhostRecord,
} from "./control";
import type { DirectReply } from "./direct-reply";
import type { Permissions } from "./permissions";
import type { RpcResult } from "./rpc-result";

/** A policy as a queue keeps it: its name and definition. */
export interface AppliedPolicy {
  name: string;
  definition: Record<string, unknown>;
}

// What each Durable Object class offers the rest of the broker. The DO classes `implements`
// these, so changing a signature on either side fails compilation; callers get them from a
// Broker (worker-broker.ts turns names into stubs).

export interface ExchangePort {
  /** exchange.declare; `wanted` null is a passive declare. */
  declare(vhost: string, name: string, wanted: ExchangeDecl | null): Promise<RpcResult<ExchangeDecl>>;
  /** false when there was nothing to delete. */
  remove(vhost: string, name: string, ifUnused: boolean): Promise<RpcResult<boolean>>;
  /** Adds a binding with this exchange as source; false when it already existed. */
  bind(vhost: string, name: string, b: StoredBinding): Promise<RpcResult<boolean>>;
  /** One exact binding, or (with only a destination) every binding to it. */
  unbind(
    vhost: string,
    name: string,
    b: StoredBinding | { destination: string },
  ): Promise<RpcResult<{ removed: number; autoDeleted: boolean }>>;
  /** Records (or forgets) an exchange-to-exchange binding that has this exchange as destination. */
  inbound(vhost: string, name: string, b: StoredBinding, add: boolean): Promise<RpcResult<void>>;
  /** Everything needed to route locally; `subscriber` (a subscriberKey) is told when it changes. */
  snapshot(vhost: string, name: string, subscriber: string | null): Promise<ExchangeSnapshot | null>;
  unsubscribe(subscriber: string): Promise<void>;
  /**
   * A delayed-message exchange takes a packed publish batch (queue/wire.ts) to hold until each
   * message's x-delay has passed; it answers once they are stored. false: no such exchange, or
   * not of that type.
   */
  hold(vhost: string, name: string, batch: Uint8Array): Promise<boolean>;
  /** How many messages a delayed-message exchange holds; null: no such exchange, or not of that type. */
  delayedCount(vhost: string, name: string): Promise<number | null>;
}

export interface QueuePort extends RouteSubscriberPort {
  declare(
    vhost: string,
    name: string,
    wanted: QueueDecl | null,
    connId: string,
  ): Promise<RpcResult<{ messageCount: number; consumerCount: number }>>;
  remove(ifUnused: boolean, ifEmpty: boolean, connId: string): Promise<RpcResult<{ messageCount: number }>>;
  purge(connId: string): Promise<RpcResult<{ messageCount: number }>>;
  /** Checks the queue exists and may be used by this connection (bind, consume, get). */
  access(vhost: string, name: string, connId: string): Promise<RpcResult<void>>;
  /**
   * Stores a packed publish batch (queue/wire.ts); false when the queue does not exist, and the
   * indexes of the messages it refused when it is full (x-overflow reject-publish). The caller
   * frees `batch` once this returns: the queue keeps its own copy (an RPC argument is one).
   */
  publish(batch: Uint8Array): Promise<boolean | { rejected: number[] }>;
  recordBinding(b: QueueBinding, add: boolean): Promise<void>;
  consume(connId: string, channel: number, tag: string, options: ConsumeOptions): Promise<RpcResult<void>>;
  cancel(connId: string, tag: string): Promise<void>;
  /** Paused consumers may receive again; `prefetch` changes their limit, `room` caps the next batch's bytes. */
  resume(connId: string, tags: string[], prefetch?: number, room?: number): Promise<void>;
  get(connId: string, channel: number, noAck: boolean): Promise<RpcResult<{ delivery: Delivery | null; messageCount: number }>>;
  /** Acks and requeues; unknown seqs are ignored. */
  /** Acks, requeues, and rejects without requeue (dead-lettered) of this connection's deliveries. */
  settle(connId: string, ack: number[], requeue: number[], reject?: number[]): Promise<void>;
  /** The policy that applies to the queue now (null: none); its settings follow at once. */
  applyPolicy(policy: AppliedPolicy | null): Promise<void>;
  releaseChannel(connId: string, channel: number): Promise<void>;
  releaseConnection(connId: string): Promise<void>;
  /** Live state for the management API; null when the queue does not exist. */
  info(): Promise<QueueInfo | null>;
  /** Deletes the queue whoever owns it (its vhost is going away). */
  drop(): Promise<void>;
}

/** Anything that caches an exchange's routes: told when they change; false means "forget me". */
export interface RouteSubscriberPort {
  invalidateExchange(vhost: string, name: string): Promise<boolean>;
}

/** A connection's consumers and unacked deliveries of one queue (ConnectionPort.held). */
export interface HeldOf {
  consumers: { channel: number; tag: string }[];
  unacked: { seq: number; channel: number; consumer: string | null }[];
}

/** Where a queue pushes deliveries: an AMQP connection. */
export interface ConnectionPort extends RouteSubscriberPort {
  /** A packed batch of deliveries (queue/wire.ts). */
  deliver(batch: Uint8Array): Promise<DeliverResult>;
  /**
   * Direct replies (core/direct-reply.ts) for this connection's channels, in publish order; per
   * reply whether a channel whose secret matched took it. One call per publishing batch.
   */
  replyTo(replies: DirectReply[]): Promise<boolean[]>;
  /** The queue went away under this consumer. */
  consumerCancelled(channel: number, tag: string, queue: string): Promise<void>;
  /** Live state for the management API; null when the connection is closed. */
  info(): Promise<ConnectionInfo | null>;
  /**
   * What this connection holds of a queue whose object just restarted: its consumers (by channel
   * and tag) and unacked deliveries (seq, channel, consumer tag). null: closed or closing.
   */
  held(vhost: string, queue: string): Promise<HeldOf | null>;
  /** Closes the connection with 320 CONNECTION_FORCED (operator, deleted user or vhost). */
  forceClose(reason: string): Promise<void>;
  /** The user's permissions in this vhost changed (null: none left). */
  permissionsChanged(permissions: Permissions | null): Promise<void>;
}

/**
 * Users, vhosts, permissions and policies (control/control-do.ts, one object for the broker).
 * Asked once per login and by the management API; never per message.
 */
export interface ControlPort {
  /** The user's tags when the password is right; null otherwise. */
  login(username: string, password: string): Promise<{ tags: string[] } | null>;
  access(username: string, vhost: string): Promise<AccessAnswer>;
  users(): Promise<UserRecord[]>;
  user(name: string): Promise<UserRecord | null>;
  putUser(u: UserWrite): Promise<RpcResult<{ created: boolean }>>;
  deleteUser(name: string): Promise<boolean>;
  /** false when there is no such user. */
  setUserLimits(name: string, limits: Record<string, number>): Promise<boolean>;
  vhosts(): Promise<VhostRecord[]>;
  vhost(name: string): Promise<VhostRecord | null>;
  putVhost(v: Partial<VhostRecord> & { name: string }): Promise<{ created: boolean }>;
  deleteVhost(name: string): Promise<boolean>;
  permissions(filter: { user?: string; vhost?: string }): Promise<PermissionRecord[]>;
  setPermissions(p: PermissionRecord): Promise<RpcResult<void>>;
  clearPermissions(user: string, vhost: string): Promise<boolean>;
  policies(vhost: string | null): Promise<PolicyRecord[]>;
  putPolicy(p: PolicyRecord): Promise<RpcResult<void>>;
  deletePolicy(vhost: string, name: string): Promise<boolean>;
}

/**
 * One vhost's catalog (control/vhost-do.ts): which queues, exchanges and connections exist,
 * written when they are created or deleted (never per message). The data source of every list.
 */
export interface CatalogPort {
  /** Records a new queue; the vhost's max-queues when that limit is reached (then nothing is recorded). */
  queueAdded(q: CatalogQueue): Promise<number | null>;
  /** `cost` keeps what the queue cost in the vhost's totals. */
  queueRemoved(name: string, cost?: CostCounters): Promise<void>;
  exchangeAdded(x: CatalogExchange): Promise<void>;
  exchangeRemoved(name: string): Promise<void>;
  /** Records an opened connection; the vhost's max-connections when that limit is reached. */
  connectionOpened(c: CatalogConnection): Promise<number | null>;
  /** The vhost's limits (RabbitMQ's vhost limits: max-connections, max-queues); absent = none. */
  setLimits(limits: Record<string, number>): Promise<void>;
  /** `totals` keeps the closed connection's message counts in the vhost's totals. */
  connectionClosed(id: string, totals: MessageCounters | null, cost?: CostCounters): Promise<void>;
  queues(): Promise<CatalogQueue[]>;
  exchanges(): Promise<CatalogExchange[]>;
  connections(): Promise<CatalogConnection[]>;
  /** Message counts of connections that have closed since the catalog object started. */
  closedTotals(): Promise<MessageCounters>;
  /** What removed queues and closed connections cost, and the catalog's own rows (since the object started). */
  costTotals(): Promise<CostCounters>;
  /** Forgets everything (the vhost was deleted). */
  clear(): Promise<void>;
}

/** The brake on password guessing for one peer or one user (auth/login-guard-do.ts). */
export interface LoginGuardPort {
  /** Records a login's outcome; the answer is how many ms to wait before replying to the client. */
  outcome(ok: boolean): Promise<number>;
  /** Failures counted so far. */
  failures(): Promise<number>;
}
