import type { Env } from "../env";
import { loopbackUsersFrom } from "./auth";
import type { Broker } from "./broker";
import { entityKey, type SubscriberAddress } from "./names";
import type { CatalogPort, ConnectionPort, ControlPort, ExchangePort, QueuePort, RouteSubscriberPort } from "./ports";

/**
 * The broker inside the Worker: one Durable Object per exchange, queue and connection. The only
 * place that turns names into stubs; the DOs use it to reach each other too.
 */
export class WorkerBroker implements Broker {
  // idFromName hashes the name: worth doing once per entity, not once per batch.
  private readonly exchanges = new Map<string, ExchangePort>();
  private readonly queues = new Map<string, QueuePort>();

  readonly loopbackUsers: readonly string[];

  constructor(readonly env: Env) {
    this.loopbackUsers = loopbackUsersFrom(env.WARREN_LOOPBACK_USERS);
  }

  control(): ControlPort {
    return this.env.CONTROL.get(this.env.CONTROL.idFromName("control"));
  }

  catalog(vhost: string): CatalogPort {
    return this.env.VHOST.get(this.env.VHOST.idFromName(vhost));
  }

  async loginOutcome(peer: string, user: string, ok: boolean): Promise<number> {
    // Off only where the operator says so (e.g. a local fuzz run that fails logins on purpose).
    if (this.env.WARREN_LOGIN_BRAKE === "off") return 0;
    const ns = this.env.LOGIN_GUARD;
    const delays = await Promise.all([`peer:${peer}`, `user:${user}`].map((key) => ns.get(ns.idFromName(key)).outcome(ok)));
    return Math.max(...delays);
  }

  exchange(vhost: string, name: string): ExchangePort {
    const ns = this.env.EXCHANGE;
    return cached(this.exchanges, entityKey(vhost, name), (key) => ns.get(ns.idFromName(key)));
  }

  queue(vhost: string, name: string): QueuePort {
    const ns = this.env.QUEUE;
    return cached(this.queues, entityKey(vhost, name), (key) => ns.get(ns.idFromName(key)));
  }

  /** A fresh connection object, to hand an incoming WebSocket to. */
  newConnection(): { fetch(request: Request): Promise<Response> } {
    return this.env.CONNECTION.get(this.env.CONNECTION.newUniqueId());
  }

  connection(id: string): ConnectionPort {
    return this.env.CONNECTION.get(this.env.CONNECTION.idFromString(id));
  }

  subscriber(address: SubscriberAddress): RouteSubscriberPort {
    return address.kind === "connection" ? this.connection(address.id) : this.queue(address.vhost, address.name);
  }

  log(message: string): void {
    console.log(message);
  }
}

/** A bounded cache: a caller touching very many entities simply starts afresh. */
function cached<T>(cache: Map<string, T>, key: string, make: (key: string) => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= 10_000) cache.clear();
    value = make(key);
    cache.set(key, value);
  }
  return value;
}
