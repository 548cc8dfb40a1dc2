import type { LoginGuardDO } from "./auth/login-guard-do";
import type { ControlDO } from "./control/control-do";
import type { VhostDO } from "./control/vhost-do";
import type { ConnectionDO } from "./session/connection-do";
import type { ExchangeDO } from "./exchange/exchange-do";
import type { QueueDO } from "./queue/queue-do";

export interface Env {
  CONNECTION: DurableObjectNamespace<ConnectionDO>;
  EXCHANGE: DurableObjectNamespace<ExchangeDO>;
  QUEUE: DurableObjectNamespace<QueueDO>;
  LOGIN_GUARD: DurableObjectNamespace<LoginGuardDO>;
  CONTROL: DurableObjectNamespace<ControlDO>;
  VHOST: DurableObjectNamespace<VhostDO>;
  /** The first administrator, created on first start when both are set (wrangler secret put …). */
  WARREN_ADMIN_USER?: string;
  WARREN_ADMIN_PASSWORD?: string;
  /**
   * The broker's boot epoch: a new value is a restart (core/boot.ts). Locally set per start by
   * scripts/warren-server.mjs; deployed, the Worker version (CF_VERSION_METADATA) is used.
   */
  WARREN_BOOT_EPOCH?: string;
  CF_VERSION_METADATA?: { id: string; tag?: string; timestamp?: string };
  /**
   * Shared with the TCP bridge (its WARREN_FORWARD_SECRET): a request carrying it in
   * X-Warren-Forwarded-By has its client's address in X-Forwarded-For (http/peer.ts).
   */
  WARREN_FORWARD_SECRET?: string;
  /** Set by the local server (scripts/warren-server.mjs) to the address it listens on. */
  WARREN_LOCAL_HOST?: string;
  /** Users who may log in only from loopback (comma-separated; default "guest"; "" for none): RabbitMQ's loopback_users. */
  WARREN_LOOPBACK_USERS?: string;
  /** Server heartbeat proposal in seconds (0 disables). Other limits: core/limits.ts. */
  WARREN_HEARTBEAT?: string;
  /** "off" disables the brake on repeated failed logins (auth/login-throttle.ts). */
  WARREN_LOGIN_BRAKE?: string;
  /** Origins (comma-separated, or "*") whose pages may open AMQP WebSockets (http/origin.ts). */
  WARREN_ALLOWED_ORIGINS?: string;
}
