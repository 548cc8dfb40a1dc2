import type { LoginGuardDO } from "./auth/login-guard-do";
import type { ConnectionDO } from "./session/connection-do";
import type { ExchangeDO } from "./exchange/exchange-do";
import type { QueueDO } from "./queue/queue-do";

export interface Env {
  CONNECTION: DurableObjectNamespace<ConnectionDO>;
  EXCHANGE: DurableObjectNamespace<ExchangeDO>;
  QUEUE: DurableObjectNamespace<QueueDO>;
  LOGIN_GUARD: DurableObjectNamespace<LoginGuardDO>;
  /** Server heartbeat proposal in seconds (0 disables). Other limits: core/limits.ts. */
  WARREN_HEARTBEAT?: string;
  /** "off" disables the brake on repeated failed logins (auth/login-throttle.ts). */
  WARREN_LOGIN_BRAKE?: string;
  /** Origins (comma-separated, or "*") whose pages may open AMQP WebSockets (http/origin.ts). */
  WARREN_ALLOWED_ORIGINS?: string;
}
