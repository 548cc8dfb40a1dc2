import { standardExchange } from "../exchange/declaration";
import type { Broker } from "./broker";
import type { CatalogConnection, CatalogExchange, ConnectionInfo, QueueInfo } from "./control";
import { jsonTable } from "./json-table";
import { parseDestination } from "./names";

/** The exchanges every vhost has without anyone declaring them (the default one first). */
const STANDARD_NAMES = ["", "amq.direct", "amq.fanout", "amq.headers", "amq.match", "amq.topic"];

export interface BindingView {
  vhost: string;
  source: string;
  destination: string;
  destinationType: "queue" | "exchange";
  routingKey: string;
  arguments: Record<string, unknown>;
  /** RabbitMQ's properties_key: how the API names one binding among equal ones. */
  propertiesKey: string;
}

/**
 * What lists are made of: the vhost catalogs say which entities exist, the entities give their
 * live numbers. Entries whose object says it no longer exists (a connection lost in a restart,
 * a queue deleted while its catalog was unreachable) are dropped from the catalog on the way.
 */
export class Inventory {
  constructor(readonly broker: Broker) {}

  async vhostNames(): Promise<string[]> {
    return (await this.broker.control().vhosts()).map((v) => v.name);
  }

  async queues(vhost: string): Promise<QueueInfo[]> {
    const catalog = this.broker.catalog(vhost);
    const entries = await catalog.queues();
    const infos = await inBatches(entries, (q) => this.broker.queue(vhost, q.name).info());
    const out: QueueInfo[] = [];
    infos.forEach((r, i) => {
      const name = entries[i]!.name;
      if (r.status === "fulfilled" && r.value) out.push(r.value);
      else if (r.status === "fulfilled") void catalog.queueRemoved(name).catch(() => {});
      else this.broker.log(`list queues: queue '${name}' in vhost '${vhost}' did not answer: ${String(r.reason)}`);
    });
    return out;
  }

  async queue(vhost: string, name: string): Promise<QueueInfo | null> {
    return this.broker.queue(vhost, name).info();
  }

  async exchanges(vhost: string): Promise<CatalogExchange[]> {
    const declared = await this.broker.catalog(vhost).exchanges();
    const standard = STANDARD_NAMES.map((name): CatalogExchange => {
      const d = standardExchange(vhost, name);
      return d
        ? { name, type: d.type, durable: true, autoDelete: false, internal: false, arguments: {} }
        : { name: "", type: "direct", durable: true, autoDelete: false, internal: false, arguments: {} };
    });
    return [...standard, ...declared].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async exchange(vhost: string, name: string): Promise<CatalogExchange | null> {
    return (await this.exchanges(vhost)).find((x) => x.name === name) ?? null;
  }

  /** Every binding of the vhost; the default exchange's implicit ones (one per queue) first, as RabbitMQ lists them. */
  async bindings(vhost: string): Promise<BindingView[]> {
    const [queues, exchanges] = await Promise.all([this.broker.catalog(vhost).queues(), this.exchanges(vhost)]);
    const out: BindingView[] = queues.map((q) => ({
      vhost,
      source: "",
      destination: q.name,
      destinationType: "queue",
      routingKey: q.name,
      arguments: {},
      propertiesKey: propertiesKey(q.name, {}),
    }));
    const sources = exchanges.filter((x) => x.name !== "");
    const snapshots = await inBatches(sources, (x) => this.broker.exchange(vhost, x.name).snapshot(vhost, x.name, null));
    snapshots.forEach((r) => {
      if (r.status !== "fulfilled" || !r.value) return;
      for (const b of r.value.bindings) {
        const dest = parseDestination(b.destination);
        const args = jsonTable(b.arguments);
        out.push({
          vhost,
          source: r.value.decl.name,
          destination: dest.name,
          destinationType: dest.kind,
          routingKey: b.routingKey,
          arguments: args,
          propertiesKey: propertiesKey(b.routingKey, args),
        });
      }
    });
    return out;
  }

  async connections(vhost: string): Promise<ConnectionInfo[]> {
    const catalog = this.broker.catalog(vhost);
    const entries = await catalog.connections();
    const infos = await inBatches(entries, (c) => this.broker.connection(c.id).info());
    const out: ConnectionInfo[] = [];
    infos.forEach((r, i) => {
      if (r.status === "fulfilled" && r.value) out.push(r.value);
      // Closed, or lost with its object (a restart): no longer listed. A failed call proves nothing.
      else if (r.status === "fulfilled") void catalog.connectionClosed(entries[i]!.id, null).catch(() => {});
    });
    return out;
  }

  /** Every vhost's connections (or one vhost's). */
  async allConnections(vhost: string | null): Promise<ConnectionInfo[]> {
    const names = vhost === null ? await this.vhostNames() : [vhost];
    return (await Promise.all(names.map((v) => this.connections(v)))).flat();
  }

  async allQueues(vhost: string | null): Promise<QueueInfo[]> {
    const names = vhost === null ? await this.vhostNames() : [vhost];
    return (await Promise.all(names.map((v) => this.queues(v)))).flat();
  }
}

/** Runs `fn` over items, at most `width` at a time (a vhost may hold thousands of queues). */
export async function inBatches<T, R>(items: readonly T[], fn: (item: T) => Promise<R>, width = 32): Promise<PromiseSettledResult<R>[]> {
  const out: PromiseSettledResult<R>[] = [];
  for (let i = 0; i < items.length; i += width) {
    out.push(...(await Promise.allSettled(items.slice(i, i + width).map(fn))));
  }
  return out;
}

/** A user's open connections in every vhost, as the catalogs record them. */
export async function connectionsOfUser(broker: Broker, user: string): Promise<CatalogConnection[]> {
  const vhosts = await broker.control().vhosts();
  const lists = await Promise.all(vhosts.map((v) => broker.catalog(v.name).connections()));
  return lists.flat().filter((c) => c.user === user);
}

/**
 * How many of a user's catalogued connections are alive, asking them only when the rows alone
 * reach `limit` (a row can outlive its connection: a restart, a dropped socket); rows of dead
 * ones are dropped on the way.
 */
export async function liveConnectionsOfUser(broker: Broker, user: string, limit: number): Promise<number> {
  const rows = await connectionsOfUser(broker, user);
  if (rows.length < limit) return rows.length;
  const alive = await Promise.all(
    rows.map(async (c) => {
      if (!(await connectionGone(broker, c.id))) return true;
      await broker
        .catalog(c.vhost)
        .connectionClosed(c.id, null)
        .catch(() => {});
      return false;
    }),
  );
  return alive.filter(Boolean).length;
}

/** True only when the connection's object answers that it is closed (a failed call proves nothing). */
export async function connectionGone(broker: Broker, id: string): Promise<boolean> {
  try {
    return (await broker.connection(id).info()) === null;
  } catch {
    return false;
  }
}

/** RabbitMQ's binding properties key: "~" for none, the routing key alone, or key~hash of the arguments. */
export function propertiesKey(routingKey: string, args: Record<string, unknown>): string {
  const keys = Object.keys(args);
  if (keys.length === 0) return routingKey === "" ? "~" : routingKey;
  return `${routingKey}~${shortHash(JSON.stringify(keys.sort().map((k) => [k, args[k]])))}`;
}

/** FNV-1a, base-36: a stable short name for a set of binding arguments. */
function shortHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h.toString(36);
}
