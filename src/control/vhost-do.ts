import { DurableObject } from "cloudflare:workers";
import {
  addCounters,
  emptyCounters,
  type CatalogConnection,
  type CatalogExchange,
  type CatalogQueue,
  type MessageCounters,
} from "../core/control";
import { connectionGone } from "../core/inventory";
import type { CatalogPort } from "../core/ports";
import { WorkerBroker } from "../core/worker-broker";
import type { Env } from "../env";
import { addCost, countingSql, emptyCost, type CostCounters } from "../storage/counting-sql";
import { migrate } from "../storage/migrate";
import { VHOST_MIGRATIONS } from "../storage/migrations/vhost";

type Table = "queues" | "exchanges" | "connections";
const KEY: Record<Table, string> = { queues: "name", exchanges: "name", connections: "id" };

/**
 * The catalog of one vhost (named after it): its queues, exchanges and open connections, one
 * row each, written when they come and go. Lists read it; live numbers come from the entities.
 */
export class VhostDO extends DurableObject<Env> implements CatalogPort {
  private readonly sql: SqlStorage;
  /** Counts of connections closed since this object started (RabbitMQ's stats reset on restart too). */
  private readonly closed = emptyCounters();
  private readonly cost = emptyCost();
  private schemaReady = true;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = countingSql(ctx.storage.sql, this.cost);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, VHOST_MIGRATIONS);
    });
  }

  async queueAdded(q: CatalogQueue): Promise<number | null> {
    const over = this.over("max-queues", "queues", q.name);
    if (over !== null) return over;
    this.put("queues", q.name, q);
    return null;
  }

  async queueRemoved(name: string, cost?: CostCounters): Promise<void> {
    if (cost) addCost(this.cost, cost);
    this.remove("queues", name);
  }

  async exchangeAdded(x: CatalogExchange): Promise<void> {
    this.put("exchanges", x.name, x);
  }

  async exchangeRemoved(name: string): Promise<void> {
    this.remove("exchanges", name);
  }

  async connectionOpened(c: CatalogConnection): Promise<number | null> {
    let over = this.over("max-connections", "connections", c.id);
    if (over !== null) {
      // At the limit: rows of connections that are gone (a restart, a dropped socket) do not count.
      await this.pruneConnections();
      over = this.over("max-connections", "connections", c.id);
    }
    if (over !== null) return over;
    this.put("connections", c.id, c);
    return null;
  }

  /** Drops the rows of connections whose object says they are gone (a failed call proves nothing). */
  private async pruneConnections(): Promise<void> {
    const broker = new WorkerBroker(this.env);
    const rows = this.list<CatalogConnection>("connections");
    const gone = await Promise.all(rows.map((c) => connectionGone(broker, c.id)));
    rows.forEach((c, i) => {
      if (gone[i]) this.remove("connections", c.id);
    });
  }

  async setLimits(limits: Record<string, number>): Promise<void> {
    this.ensureSchema();
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM limits");
      for (const [name, value] of Object.entries(limits)) this.sql.exec("INSERT INTO limits (name, value) VALUES (?, ?)", name, value);
    });
  }

  /** The limit when adding `key` to `table` would exceed it (a negative limit means none, as in RabbitMQ). */
  private over(limit: string, table: Table, key: string): number | null {
    if (!this.schemaReady) return null;
    const row = this.sql.exec<{ value: number }>("SELECT value FROM limits WHERE name = ?", limit).toArray()[0];
    if (!row || row.value < 0) return null;
    const existing = this.sql.exec(`SELECT 1 FROM ${table} WHERE ${KEY[table]} = ?`, key).toArray().length > 0;
    if (existing) return null;
    const count = this.sql.exec<{ n: number }>(`SELECT COUNT(*) AS n FROM ${table}`).one().n;
    return count >= row.value ? row.value : null;
  }

  async connectionClosed(id: string, totals: MessageCounters | null, cost?: CostCounters): Promise<void> {
    if (totals) addCounters(this.closed, totals);
    if (cost) addCost(this.cost, cost);
    this.remove("connections", id);
  }

  async queues(): Promise<CatalogQueue[]> {
    return this.list<CatalogQueue>("queues");
  }

  async exchanges(): Promise<CatalogExchange[]> {
    return this.list<CatalogExchange>("exchanges");
  }

  async connections(): Promise<CatalogConnection[]> {
    return this.list<CatalogConnection>("connections");
  }

  async closedTotals(): Promise<MessageCounters> {
    return { ...this.closed };
  }

  async costTotals(): Promise<CostCounters> {
    return { ...this.cost };
  }

  async clear(): Promise<void> {
    // A deleted vhost leaves no storage behind; a new vhost of the same name starts empty.
    await this.ctx.storage.deleteAll();
    this.schemaReady = false;
  }

  private put(table: Table, key: string, record: object): void {
    this.ensureSchema();
    this.sql.exec(`INSERT OR REPLACE INTO ${table} (${KEY[table]}, record) VALUES (?, ?)`, key, JSON.stringify(record));
  }

  private remove(table: Table, key: string): void {
    if (!this.schemaReady) return;
    this.sql.exec(`DELETE FROM ${table} WHERE ${KEY[table]} = ?`, key);
  }

  private list<T>(table: Table): T[] {
    if (!this.schemaReady) return [];
    return this.sql
      .exec<{ record: string }>(`SELECT record FROM ${table} ORDER BY ${KEY[table]}`)
      .toArray()
      .map((r) => JSON.parse(r.record) as T);
  }

  private ensureSchema(): void {
    if (this.schemaReady) return;
    migrate(this.ctx.storage, VHOST_MIGRATIONS);
    this.schemaReady = true;
  }
}
