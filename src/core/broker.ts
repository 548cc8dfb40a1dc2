import type { SubscriberAddress } from "./names";
import type { AccessControl } from "./permissions";
import type { CatalogPort, ConnectionPort, ControlPort, ExchangePort, QueuePort, RouteSubscriberPort } from "./ports";

/**
 * The broker as every front door sees it (AMQP sessions, the management API, queues that
 * dead-letter): entities by name. worker-broker.ts implements it over Durable Object stubs;
 * tests implement it with fakes.
 */
export interface Broker {
  /** Users, vhosts, permissions, policies (one object for the broker). */
  control(): ControlPort;
  /** The catalog of one vhost's entities and connections. */
  catalog(vhost: string): CatalogPort;
  /** Users who may log in only from a loopback address (RabbitMQ's loopback_users). */
  readonly loopbackUsers: readonly string[];
  /**
   * Records a login's outcome for the peer and the user; resolves to how many ms the answer must
   * wait (repeated failures are slowed down, RabbitMQ-style brute-force protection).
   */
  loginOutcome(peer: string, user: string, ok: boolean): Promise<number>;
  exchange(vhost: string, name: string): ExchangePort;
  queue(vhost: string, name: string): QueuePort;
  connection(id: string): ConnectionPort;
  subscriber(address: SubscriberAddress): RouteSubscriberPort;
  log(message: string): void;
}

/** Who performs an operation: whose permissions are checked, and who owns exclusive queues. */
export interface Actor {
  user: string;
  /** The connection's id ("" for callers without one, such as the management API). */
  connection: string;
  /** The user's permissions in the vhost operated on. */
  access: AccessControl;
}
