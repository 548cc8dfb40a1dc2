import { fieldString, type FieldTable } from "../amqp";
import type { ExchangeDecl, ExchangeSnapshot } from "../exchange/declaration";
import { createRouter } from "../exchange/registry";
import type { Router } from "../exchange/routing";
import type { Broker } from "./broker";
import { accessRefused, notFound } from "./errors";
import { describeExchange, parseDestination } from "./names";

const NOTHING_LOADED: ReadonlyMap<string, CompiledExchange | null> = new Map();

/**
 * Where a message goes: the queues' names, and in `delayed` the delayed-message exchanges
 * (exchange/delayed.ts) that hold it until it is due, if any. It travels as the array of queue
 * names it always was (a publish's `queues`), so only the Publisher, which stores it, looks at
 * `delayed` (delayedOf).
 */
export type Routes = string[] & { delayed?: string[] };

/** The delayed-message exchanges holding a message routed to these queues (see Routes). */
export function delayedOf(queues: readonly string[]): readonly string[] | undefined {
  return (queues as Routes).delayed;
}

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
  /** The delayed-message exchanges holding the message being walked (routeThrough; walks are synchronous). */
  private held: string[] | null = null;

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
  route(exchange: string, routingKey: string, headers: FieldTable | undefined): Routes | Promise<Routes> {
    if (exchange === "") return [routingKey];
    const found = this.tryRoute(exchange, routingKey, headers, NOTHING_LOADED);
    if (typeof found !== "string") return found;
    return this.routeLoading((loaded) => this.tryRoute(exchange, routingKey, headers, loaded), found);
  }

  /**
   * Routes as the exchange of `snapshot` does, from that snapshot: for a delayed-message
   * exchange routing its own due messages (so an internal one too). Other exchanges on the way
   * are loaded as route() loads them.
   */
  routeFrom(snapshot: ExchangeSnapshot, routingKey: string, headers: FieldTable | undefined): Routes | Promise<Routes> {
    const top = compile(snapshot);
    const found = this.routeThrough(top, routingKey, headers, NOTHING_LOADED);
    if (typeof found !== "string") return found;
    return this.routeLoading((loaded) => this.routeThrough(top, routingKey, headers, loaded), found);
  }

  private async routeLoading(
    step: (loaded: ReadonlyMap<string, CompiledExchange | null>) => Routes | string,
    missing: string,
  ): Promise<Routes> {
    // Loaded here, whether or not an invalidation kept them out of the shared cache meanwhile.
    const loaded = new Map<string, CompiledExchange | null>();
    for (;;) {
      loaded.set(missing, await this.get(missing));
      const found = step(loaded);
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
  ): Routes | string {
    const top = this.lookup(exchange, loaded);
    if (top === undefined) return exchange;
    if (top === null) throw notFound(`no ${describeExchange(this.vhost(), exchange)}`);
    if (top.decl.internal) throw accessRefused(`cannot publish to internal ${describeExchange(this.vhost(), exchange)}`);
    return this.routeThrough(top, key, headers, loaded);
  }

  private routeThrough(
    top: CompiledExchange,
    key: string,
    headers: FieldTable | undefined,
    loaded: ReadonlyMap<string, CompiledExchange | null>,
  ): Routes | string {
    const queues = new Set<string>();
    this.held = null;
    const missing = this.walk(top, key, headers, queues, new Set(), loaded);
    const held = this.held;
    this.held = null;
    if (missing !== undefined) return missing;
    const routes: Routes = [...queues];
    if (held) routes.delayed = held;
    return routes;
  }

  // Exchange-to-exchange bindings form a graph that may have cycles: each exchange is visited once.
  // A delayed-message exchange that holds the message ends its path there: the message is routed
  // through its bindings when due, and its alternate exchange is not taken now (unlike the plugin,
  // which hands every delayed message to it at once: rabbitmq-delayed-message-exchange#36).
  private walk(
    x: CompiledExchange,
    key: string,
    headers: FieldTable | undefined,
    queues: Set<string>,
    visited: Set<string>,
    loaded: ReadonlyMap<string, CompiledExchange | null>,
  ): string | undefined {
    visited.add(x.decl.name);
    if (x.router.holds?.(headers)) {
      (this.held ??= []).push(x.decl.name);
      return undefined;
    }
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
    const compiled = compile(snapshot);
    if (generation === this.generation) this.compiled.set(name, compiled);
    return compiled;
  }
}

function compile(snapshot: ExchangeSnapshot): CompiledExchange {
  const router = createRouter(snapshot.decl.type, snapshot.decl.arguments);
  for (const b of snapshot.bindings) router.add(b);
  return { decl: snapshot.decl, router, alternate: fieldString(snapshot.decl.arguments["alternate-exchange"]) };
}
