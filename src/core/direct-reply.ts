import type { IncomingMessage } from "../storage/message-record";

/**
 * Direct reply-to (RabbitMQ's amq.rabbitmq.reply-to): a requester consumes from the pseudo-queue
 * in no-ack mode; its requests' reply_to becomes an address that names its connection object,
 * its channel and a random per-channel secret, and a reply published to the default exchange
 * with that routing key goes straight to the requesting channel (ConnectionPort.replyTo), never
 * through a queue. Without the secret (16 random bytes, kept only by the requesting channel) an
 * address for another connection cannot be made: a forged or stale one reaches nobody.
 */
export const REPLY_TO_QUEUE = "amq.rabbitmq.reply-to";
const PREFIX = `${REPLY_TO_QUEUE}.`;

/** Where a reply address leads. */
export interface ReplyAddress {
  connection: string;
  channel: number;
  secret: string;
}

/** One reply for a connection (ConnectionPort.replyTo). */
export interface DirectReply {
  channel: number;
  secret: string;
  message: IncomingMessage;
}

/** A fresh per-channel secret. */
export function replySecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export function replyAddress(a: ReplyAddress): string {
  return `${PREFIX}${a.connection}.${a.channel}.${a.secret}`;
}

/** True for a routing key in the reply-address namespace (the default exchange never routes it to a queue). */
export function isReplyKey(exchange: string, routingKey: string): boolean {
  return exchange === "" && routingKey.startsWith(PREFIX);
}

/** The address a routing key names, or null when it is not a well-formed one. */
export function parseReplyAddress(routingKey: string): ReplyAddress | null {
  if (!routingKey.startsWith(PREFIX)) return null;
  const m = /^([0-9a-f]{64})\.([0-9]{1,5})\.([0-9a-f]{32})$/.exec(routingKey.slice(PREFIX.length));
  if (!m) return null;
  const channel = Number(m[2]);
  if (channel < 1 || channel > 65535) return null;
  return { connection: m[1]!, channel, secret: m[3]! };
}
