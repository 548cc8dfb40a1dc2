import type { SubscriberAddress } from "./names";
import type { Credentials } from "./users";
import type { ConnectionPort, ExchangePort, QueuePort, RouteSubscriberPort } from "./ports";

/**
 * The broker as every front door sees it (AMQP sessions, the management API, queues that
 * dead-letter): entities by name. worker-broker.ts implements it over Durable Object stubs;
 * tests implement it with fakes.
 */
export interface Broker {
  authenticate(credentials: Credentials): boolean | Promise<boolean>;
  /**
   * Records a login's outcome for the peer and the user; resolves to how many ms the answer must
   * wait (repeated failures are slowed down, RabbitMQ-style brute-force protection).
   */
  loginOutcome(peer: string, user: string, ok: boolean): Promise<number>;
  vhostExists(name: string): boolean | Promise<boolean>;
  exchange(vhost: string, name: string): ExchangePort;
  queue(vhost: string, name: string): QueuePort;
  connection(id: string): ConnectionPort;
  subscriber(address: SubscriberAddress): RouteSubscriberPort;
  log(message: string): void;
}

/** Who performs an operation: where permission checks will look, and who owns exclusive queues. */
export interface Actor {
  user: string;
  /** The connection's id ("" for callers without one, such as the management API). */
  connection: string;
}
