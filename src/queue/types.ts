import type { FieldTable } from "../amqp";
import type { IncomingMessage } from "../storage/message-record";

export type { IncomingMessage };

export interface QueueDecl {
  vhost: string;
  name: string;
  durable: boolean;
  exclusive: boolean;
  autoDelete: boolean;
  arguments: FieldTable;
}

export interface QueuedMessage extends IncomingMessage {
  seq: number;
  redelivered: boolean;
  /** Not written yet: on its way straight to a no-ack consumer (MessageStore.appendPending). */
  pending?: boolean;
  /** When it was enqueued (epoch ms). */
  publishedAt?: number;
  /** When it expires (epoch ms): x-message-ttl or its expiration property, the lower. */
  expiresAt?: number;
  /** Times it was handed out and given back (quorum queues: x-delivery-count). */
  deliveries?: number;
}

/** A message handed to a consumer; the connection turns it into basic.deliver. */
export interface Delivery {
  queue: string;
  seq: number;
  channel: number;
  consumerTag: string;
  noAck: boolean;
  redelivered: boolean;
  /** The message's record (wire.ts): exchange, routing key, content header and body. */
  record: Uint8Array;
}

export interface ConsumeOptions {
  noAck: boolean;
  exclusive: boolean;
  /** 0 means unlimited. */
  prefetch: number;
  arguments: FieldTable;
}

/** What the connection answers to a batch of deliveries. */
export interface DeliverResult {
  /** The connection is gone: its consumers and unacked messages must be released. */
  gone: boolean;
  /** Deliveries the channel could not take (closed, flow off, global prefetch full). */
  refused: number[];
  /** Consumers that must wait for a resume() before receiving more. */
  paused: string[];
  /** Bytes the connection can take before its client must catch up (absent: no limit known). */
  room?: number;
}

export interface QueueBinding {
  exchange: string;
  routingKey: string;
  arguments: FieldTable;
}
