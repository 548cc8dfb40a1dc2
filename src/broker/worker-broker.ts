import type { Env } from "../env";
import type { Broker, ExchangeApi, QueueApi } from "./broker";
import { entityKey } from "./names";

/** The broker as seen from inside the Worker: one Durable Object per exchange and per queue. */
export class WorkerBroker implements Broker {
  constructor(readonly env: Env) {}

  vhostExists(name: string): boolean {
    // Only the default vhost exists until vhost management lands.
    return name === "/";
  }

  exchange(vhost: string, name: string): ExchangeApi {
    const ns = this.env.EXCHANGE;
    // The RPC stub exposes the same methods; only its TypeScript wrapper types differ.
    return ns.get(ns.idFromName(entityKey(vhost, name))) as unknown as ExchangeApi;
  }

  queue(vhost: string, name: string): QueueApi {
    const ns = this.env.QUEUE;
    return ns.get(ns.idFromName(entityKey(vhost, name))) as unknown as QueueApi;
  }

  log(message: string): void {
    console.log(message);
  }
}
