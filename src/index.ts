// The Worker's entry: the HTTP app and the Durable Object classes wrangler.toml binds.
export { LoginGuardDO } from "./auth/login-guard-do";
export { ControlDO } from "./control/control-do";
export { VhostDO } from "./control/vhost-do";
export { ExchangeDO } from "./exchange/exchange-do";
export { app as default } from "./http/app";
export { QueueDO } from "./queue/queue-do";
export { ConnectionDO } from "./session/connection-do";
