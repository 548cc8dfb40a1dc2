import type { ConnectionDO } from "./session/connection-do";
import type { ExchangeDO } from "./exchange/exchange-do";
import type { QueueDO } from "./queue/queue-do";

export interface Env {
  CONNECTION: DurableObjectNamespace<ConnectionDO>;
  EXCHANGE: DurableObjectNamespace<ExchangeDO>;
  QUEUE: DurableObjectNamespace<QueueDO>;
  /** Server heartbeat proposal in seconds (0 disables). */
  WARREN_HEARTBEAT?: string;
}
