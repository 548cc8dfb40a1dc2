import { fieldString, type FieldTable } from "../amqp";
import type { ExchangeDecl } from "../exchange/declaration";
import { createRouter } from "../exchange/registry";
import type { Router } from "../exchange/routing";
import type { Broker } from "./broker";
import { accessRefused, notFound } from "./errors";
import { describeExchange, parseDestination } from "./names";

const NOTHING_LOADED: ReadonlyMap<string, CompiledExchange | null> = new Map();

interface CompiledExchange {
  decl: ExchangeDecl;
  router: Router;
  alternate: string | undefined;
}

/**
 * A publisher's copy of the exchanges it publishes through (a connection's, or a queue's that
 * dead-letters), so a publish costs no hop through the exchange DO. Exchange DOs call
 * invalidate() on their subscribers when bindings change.
 */
export class RouteTable {
  private readonly compiled = new Map<string, CompiledExchange>();
  private readonly loading = new Map<string, Promise<CompiledExchange | null>>();
  /** Bumped on invalidation so a snapshot fetched before it is not cached after it. */
  private generation = 0;

  constructor(
    private readonly broker: Broker,
    private readonly vhost: () => string,
    /** This table's subscriberKey, given to the exchanges it loads; null for a one-off table (HTTP publish). */
    private readonly subscriber: string | null,
  ) {}

  /** Exchanges this table may be subscribed to (to unsubscribe when its owner goes). */
  cachedExchanges(): string[] {
    return [...this.compiled.keys()];
  }

  invalidate(name: string): void {
    this.generation++;
    this.compiled.delete(name);
    this.loading.delete(name);
  }

  /**
   * Queue names a message reaches; throws 404/403 (BrokerError) like RabbitMQ for a bad target exchange.
   * Answers synchronously when every exchange on the way is cached (the common case), so a
   * batch of publishes costs no promise per message.
   */
  route(exchange: string, routingKey: string, headers: FieldTable | undefined): string[] | Promise<string[]> {
    if (exchange === "") return [routingKey];
    const found = this.tryRoute(exchange, routingKey, headers, NOTHING_LOADED);
    return typeof found === "string" ? this.routeLoading(exchange, routingKey, headers, found) : found;
  }

  private async routeLoading(exchange: string, key: string, headers: FieldTable | undefined, missing: string): Promise<string[]> {
    // Loaded here, whether or not an invalidation kept them out of the shared cache meanwhile.
    const loaded = new Map<string, CompiledExchange | null>();
    for (;;) {
      loaded.set(missing, await this.get(missing));
      const found = this.tryRoute(exchange, key, headers, loaded);
      if (typeof found !== "string") return found;
      missing = found;
    }
  }

  /** Routes from what is known; returns the name of an exchange that must be loaded first. */
  private tryRoute(
    exchange: string,
    key: string,
    headers: FieldTable | undefined,
    loaded: ReadonlyMap<string, CompiledExchange | null>,
  ): string[] | string {
    const top = this.lookup(exchange, loaded);
    if (top === undefined) return exchange;
    if (top === null) throw notFound(`no ${describeExchange(this.vhost(), exchange)}`);
    if (top.decl.internal) throw accessRefused(`cannot publish to internal ${describeExchange(this.vhost(), exchange)}`);
    const queues = new Set<string>();
    const missing = this.walk(top, key, headers, queues, new Set(), loaded);
    return missing ?? [...queues];
  }

  // Exchange-to-exchange bindings form a graph that may have cycles: each exchange is visited once.
  private walk(
    x: CompiledExchange,
    key: string,
    headers: FieldTable | undefined,
    queues: Set<string>,
    visited: Set<string>,
    loaded: ReadonlyMap<string, CompiledExchange | null>,
  ): string | undefined {
    visited.add(x.decl.name);
    const destinations = x.router.route(key, headers);
    const next: string[] = [];
    for (const d of destinations) {
      const { kind, name } = parseDestination(d);
      if (kind === "queue") queues.add(name);
      else next.push(name);
    }
    if (destinations.size === 0 && x.alternate !== undefined) next.push(x.alternate);
    for (const name of next) {
      if (visited.has(name)) continue;
      const target = this.lookup(name, loaded);
      if (target === undefined) return name;
      if (target === null) continue;
      const missing = this.walk(target, key, headers, queues, visited, loaded);
      if (missing !== undefined) return missing;
    }
    return undefined;
  }

  /** A compiled exchange, null when it does not exist, undefined when not known yet. */
  private lookup(name: string, loaded: ReadonlyMap<string, CompiledExchange | null>): CompiledExchange | null | undefined {
    return this.compiled.get(name) ?? loaded.get(name);
  }

  private get(name: string): CompiledExchange | null | Promise<CompiledExchange | null> {
    const hit = this.compiled.get(name);
    if (hit) return hit;
    let pending = this.loading.get(name);
    if (!pending) {
      const started = this.load(name).finally(() => {
        // Settled (or failed): the next lookup asks again unless the result was cached.
        if (this.loading.get(name) === started) this.loading.delete(name);
      });
      this.loading.set(name, started);
      pending = started;
    }
    return pending;
  }

  private async load(name: string): Promise<CompiledExchange | null> {
    const generation = this.generation;
    const snapshot = await this.broker.exchange(this.vhost(), name).snapshot(this.vhost(), name, this.subscriber);
    if (!snapshot) return null;
    const router = createRouter(snapshot.decl.type);
    for (const b of snapshot.bindings) router.add(b);
    const compiled = { decl: snapshot.decl, router, alternate: fieldString(snapshot.decl.arguments["alternate-exchange"]) };
    if (generation === this.generation) this.compiled.set(name, compiled);
    return compiled;
  }
}
