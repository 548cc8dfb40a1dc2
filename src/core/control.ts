import type { CostCounters } from "../storage/counting-sql";
import type { Permissions } from "./permissions";

export type { CostCounters };

// The control plane's records as every front door sees them (AMQP login, the management API,
// warrenctl through it). control/control-do.ts stores them; control/vhost-do.ts keeps the
// per-vhost catalog of entities and connections.

/** RabbitMQ's user tags; any other tag is kept but grants nothing. */
export const USER_TAGS = ["administrator", "monitoring", "management", "policymaker", "impersonator"] as const;

export interface UserRecord {
  name: string;
  /** RabbitMQ's format (control/password.ts); "" after clear_password: no password login. */
  passwordHash: string;
  hashingAlgorithm: string;
  tags: string[];
  /** RabbitMQ's user limits: max-connections; absent = no limit. */
  limits: Record<string, number>;
}

/** A user to create or update: a password to hash, or a hash as found in definitions. */
export interface UserWrite {
  name: string;
  password?: string;
  passwordHash?: string;
  hashingAlgorithm?: string;
  tags: string[];
}

export interface VhostRecord {
  name: string;
  description: string;
  tags: string[];
  defaultQueueType: string;
  /** max-connections, max-queues (RabbitMQ's vhost limits); absent = no limit. */
  limits: Record<string, number>;
}

export interface PermissionRecord extends Permissions {
  user: string;
  vhost: string;
}

export interface PolicyRecord {
  vhost: string;
  name: string;
  pattern: string;
  applyTo: "queues" | "exchanges" | "all";
  priority: number;
  definition: Record<string, unknown>;
}

/** What a login learns in one round trip: the user's tags, and their access to the vhost asked for. */
export interface AccessAnswer {
  vhostExists: boolean;
  permissions: Permissions | null;
  /** The user's limits (max-connections). */
  userLimits: Record<string, number>;
}

/** A queue as the vhost's catalog lists it (its counts come from the queue itself). */
export interface CatalogQueue {
  name: string;
  durable: boolean;
  autoDelete: boolean;
  exclusive: boolean;
  /** The owning connection's id for exclusive queues. */
  owner: string | null;
  /** Plain JSON values (amqp plainTable). */
  arguments: Record<string, unknown>;
}

export interface CatalogExchange {
  name: string;
  type: string;
  durable: boolean;
  autoDelete: boolean;
  internal: boolean;
  arguments: Record<string, unknown>;
}

export interface CatalogConnection {
  id: string;
  /** RabbitMQ's connection name: "peer:port -> server:port". */
  name: string;
  user: string;
  vhost: string;
  peer: string;
  protocol: string;
  connectedAt: number;
  clientProperties: Record<string, unknown>;
  /** Tuned values. */
  channelMax: number;
  frameMax: number;
  heartbeat: number;
}

/** Message counters, RabbitMQ's message_stats names; rates are derived from samples. */
export interface MessageCounters {
  publish: number;
  publish_in: number;
  publish_out: number;
  confirm: number;
  deliver: number;
  deliver_no_ack: number;
  get: number;
  get_no_ack: number;
  get_empty: number;
  ack: number;
  redeliver: number;
  return_unroutable: number;
  drop_unroutable: number;
}

/** Per-second rates of message counters. */
export type Rates = Partial<Record<keyof MessageCounters, number>>;

/** An exchange's counts as one connection saw them (RabbitMQ's publish_in / publish_out). */
export interface ExchangeCounts {
  publishIn: number;
  publishOut: number;
  publishInRate: number;
  publishOutRate: number;
}

export function emptyCounters(): MessageCounters {
  return {
    publish: 0,
    publish_in: 0,
    publish_out: 0,
    confirm: 0,
    deliver: 0,
    deliver_no_ack: 0,
    get: 0,
    get_no_ack: 0,
    get_empty: 0,
    ack: 0,
    redeliver: 0,
    return_unroutable: 0,
    drop_unroutable: 0,
  };
}

export function addCounters(into: MessageCounters, from: Partial<MessageCounters>): MessageCounters {
  for (const [k, v] of Object.entries(from) as [keyof MessageCounters, number][]) into[k] += v;
  return into;
}

/** A queue's live state for the management API. */
export interface QueueInfo extends CatalogQueue {
  vhost: string;
  /** The policy that applies to it, if any. */
  policy: string | null;
  messagesReady: number;
  messagesUnacknowledged: number;
  /** Body bytes of the ready and of the unacked messages (RabbitMQ's message_bytes_*). */
  messageBytesReady: number;
  messageBytesUnacknowledged: number;
  consumers: { tag: string; connection: string; channel: number; ackRequired: boolean; exclusive: boolean; prefetch: number }[];
  stats: MessageCounters;
  rates: Rates;
  idleSince: number;
  cost: CostCounters;
}

export interface ChannelInfo {
  number: number;
  consumerCount: number;
  prefetchCount: number;
  globalPrefetchCount: number;
  unacked: number;
  confirm: boolean;
  transactional: boolean;
  stats: MessageCounters;
  rates: Rates;
}

/** A connection's live state for the management API. */
export interface ConnectionInfo extends CatalogConnection {
  channels: ChannelInfo[];
  recvOct: number;
  sendOct: number;
  recvCnt: number;
  sendCnt: number;
  blocked: boolean;
  /** Message counts over all its channels, closed ones included, and their rates. */
  totals: MessageCounters;
  rates: Rates;
  /** Per exchange: messages published into it through this connection, and their rates. */
  exchangeStats: Record<string, ExchangeCounts>;
  cost: CostCounters;
}
