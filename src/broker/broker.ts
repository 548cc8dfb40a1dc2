import type { ExchangeDO } from "../exchange/exchange-do";
import type { QueueDO } from "../queue/queue-do";

export type ExchangeApi = Pick<ExchangeDO, "declare" | "remove" | "bind" | "unbind" | "inbound" | "snapshot" | "unsubscribe">;
export type QueueApi = Pick<
  QueueDO,
  | "declare"
  | "remove"
  | "purge"
  | "access"
  | "publish"
  | "recordBinding"
  | "consume"
  | "cancel"
  | "resume"
  | "keepAlive"
  | "get"
  | "settle"
  | "releaseChannel"
  | "releaseConnection"
>;

/**
 * What connections (and later the management API and CLI) need from the rest of the broker.
 * The Worker implements it over Durable Object stubs; nothing here knows about sockets.
 */
export interface Broker {
  vhostExists(name: string): boolean | Promise<boolean>;
  exchange(vhost: string, name: string): ExchangeApi;
  queue(vhost: string, name: string): QueueApi;
  log(message: string): void;
}
