import { ReplyCode, channelError, fieldString, type FieldTable } from "../amqp";
import { createRouter, type Router } from "../exchange/routing";
import type { ExchangeDecl } from "../exchange/declaration";
import type { Broker } from "./broker";
import { describeExchange, parseDestination } from "./names";

interface CompiledExchange {
  decl: ExchangeDecl;
  router: Router;
  alternate: string | undefined;
}

/**
 * A connection's copy of the exchanges it publishes to, so a publish costs no hop through
 * the exchange DO. Exchange DOs call invalidate() when bindings change.
 */
export class RouteCache {
  private readonly compiled = new Map<string, CompiledExchange>();
  private readonly loading = new Map<string, Promise<CompiledExchange | null>>();
  /** Bumped on invalidation so a snapshot fetched before it is not cached after it. */
  private generation = 0;

  constructor(
    private readonly broker: Broker,
    private readonly vhost: () => string,
    private readonly subscriber: string,
  ) {}

  /** Exchanges this connection may be subscribed to (to unsubscribe when it closes). */
  cachedExchanges(): string[] {
    return [...this.compiled.keys()];
  }

  invalidate(name: string): void {
    this.generation++;
    this.compiled.delete(name);
    this.loading.delete(name);
  }

  /** Queue names a message reaches; throws 404/403 like RabbitMQ for a bad target exchange. */
  async route(exchange: string, routingKey: string, headers: FieldTable | undefined): Promise<string[]> {
    if (exchange === "") return [routingKey];
    const top = await this.get(exchange);
    if (!top) throw channelError(ReplyCode.NOT_FOUND, `no ${describeExchange(this.vhost(), exchange)}`, 60, 40);
    if (top.decl.internal) {
      throw channelError(ReplyCode.ACCESS_REFUSED, `cannot publish to internal ${describeExchange(this.vhost(), exchange)}`, 60, 40);
    }
    const queues = new Set<string>();
    const visited = new Set<string>();
    await this.walk(top, routingKey, headers, queues, visited);
    return [...queues];
  }

  // Exchange-to-exchange bindings form a graph that may have cycles: each exchange is visited once.
  private async walk(
    x: CompiledExchange,
    key: string,
    headers: FieldTable | undefined,
    queues: Set<string>,
    visited: Set<string>,
  ): Promise<void> {
    visited.add(x.decl.name);
    const destinations = x.router.route(key, headers);
    for (const d of destinations) {
      const { kind, name } = parseDestination(d);
      if (kind === "queue") {
        queues.add(name);
      } else if (!visited.has(name)) {
        const next = await this.get(name);
        if (next) await this.walk(next, key, headers, queues, visited);
      }
    }
    if (destinations.size === 0 && x.alternate !== undefined && !visited.has(x.alternate)) {
      const alt = await this.get(x.alternate);
      if (alt) await this.walk(alt, key, headers, queues, visited);
    }
  }

  private get(name: string): CompiledExchange | null | Promise<CompiledExchange | null> {
    const hit = this.compiled.get(name);
    if (hit) return hit;
    let pending = this.loading.get(name);
    if (!pending) {
      pending = this.load(name);
      this.loading.set(name, pending);
    }
    return pending;
  }

  private async load(name: string): Promise<CompiledExchange | null> {
    const generation = this.generation;
    const snapshot = await this.broker.exchange(this.vhost(), name).snapshot(this.vhost(), name, this.subscriber);
    // An invalidation meanwhile may have let a newer load of this name start: leave that one be.
    if (generation === this.generation) this.loading.delete(name);
    if (!snapshot) return null;
    const router = createRouter(snapshot.decl.type);
    for (const b of snapshot.bindings) router.add(b);
    const compiled = { decl: snapshot.decl, router, alternate: fieldString(snapshot.decl.arguments["alternate-exchange"]) };
    if (generation === this.generation) this.compiled.set(name, compiled);
    return compiled;
  }
}
