import type { Env } from "../env";
import type { Broker, ExchangeApi, QueueApi } from "./broker";
import { entityKey } from "./names";

/** The broker as seen from inside the Worker: one Durable Object per exchange and per queue. */
export class WorkerBroker implements Broker {
  // idFromName hashes the name: worth doing once per entity, not once per batch.
  private readonly exchanges = new Map<string, ExchangeApi>();
  private readonly queues = new Map<string, QueueApi>();

  constructor(readonly env: Env) {}

  vhostExists(name: string): boolean {
    // Only the default vhost exists until vhost management lands.
    return name === "/";
  }

  exchange(vhost: string, name: string): ExchangeApi {
    const ns = this.env.EXCHANGE;
    // The RPC stub exposes the same methods; only its TypeScript wrapper types differ.
    return cached(this.exchanges, entityKey(vhost, name), (key) => ns.get(ns.idFromName(key)) as unknown as ExchangeApi);
  }

  queue(vhost: string, name: string): QueueApi {
    const ns = this.env.QUEUE;
    return cached(this.queues, entityKey(vhost, name), (key) => ns.get(ns.idFromName(key)) as unknown as QueueApi);
  }

  log(message: string): void {
    console.log(message);
  }
}

/** A bounded cache: a connection touching very many entities simply starts afresh. */
function cached<T>(cache: Map<string, T>, key: string, make: (key: string) => T): T {
  let value = cache.get(key);
  if (value === undefined) {
    if (cache.size >= 10_000) cache.clear();
    value = make(key);
    cache.set(key, value);
  }
  return value;
}
