import { DurableObject } from "cloudflare:workers";
import { ReplyCode, type FieldTable } from "../amqp";
import type { Env } from "../env";
import { describeExchange } from "../broker/names";
import { fail, ok, type RpcResult } from "../broker/rpc-result";
import { tableFromBytes, tableKey, tableToBytes } from "../broker/table-bytes";
import { checkEquivalent, type ExchangeDecl, type ExchangeSnapshot, type StoredBinding, standardExchange } from "./declaration";

interface DeclRow extends Record<string, SqlStorageValue> {
  vhost: string;
  name: string;
  type: string;
  durable: number;
  auto_delete: number;
  internal: number;
  arguments: ArrayBuffer;
}

/**
 * One exchange of one vhost: its declaration, its bindings (as source), the
 * exchange-to-exchange bindings pointing at it, and the connections caching its routes.
 */
export class ExchangeDO extends DurableObject<Env> {
  private decl: ExchangeDecl | null = null;
  private bindingCache: StoredBinding[] | null = null;
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS exchange (
        id INTEGER PRIMARY KEY CHECK (id = 1), vhost TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
        durable INTEGER NOT NULL, auto_delete INTEGER NOT NULL, internal INTEGER NOT NULL, arguments BLOB NOT NULL)`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS bindings (
        destination TEXT NOT NULL, routing_key TEXT NOT NULL, args_key TEXT NOT NULL, arguments BLOB NOT NULL,
        PRIMARY KEY (destination, routing_key, args_key))`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS inbound (
        source TEXT NOT NULL, routing_key TEXT NOT NULL, args_key TEXT NOT NULL, arguments BLOB NOT NULL,
        PRIMARY KEY (source, routing_key, args_key))`);
      this.sql.exec(`CREATE TABLE IF NOT EXISTS subscribers (id TEXT PRIMARY KEY)`);
      const row = this.sql.exec<DeclRow>("SELECT * FROM exchange").toArray()[0];
      if (row) {
        this.decl = {
          vhost: row.vhost,
          name: row.name,
          type: row.type as ExchangeDecl["type"],
          durable: row.durable === 1,
          autoDelete: row.auto_delete === 1,
          internal: row.internal === 1,
          arguments: tableFromBytes(new Uint8Array(row.arguments)),
        };
      }
    });
  }

  /** exchange.declare; the standard amq.* exchanges come into being on first use. */
  async declare(vhost: string, name: string, wanted: ExchangeDecl | null): Promise<RpcResult<ExchangeDecl>> {
    const current = this.current(vhost, name);
    if (!wanted) return current ? ok(current) : fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    if (current) {
      const mismatch = checkEquivalent(current, wanted);
      return mismatch ? fail(ReplyCode.PRECONDITION_FAILED, mismatch) : ok(current);
    }
    this.store(wanted);
    return ok(wanted);
  }

  /** exchange.delete: returns the bindings it had both ways so the caller can tidy the other ends. */
  async remove(
    vhost: string,
    name: string,
    ifUnused: boolean,
  ): Promise<RpcResult<{ outbound: StoredBinding[]; inbound: StoredBinding[] } | null>> {
    const current = this.current(vhost, name);
    if (!current) return ok(null);
    const outbound = this.bindings();
    if (ifUnused && outbound.length > 0) {
      return fail(ReplyCode.PRECONDITION_FAILED, `${describeExchange(vhost, name)} in use`);
    }
    const inbound = this.sql
      .exec<{ source: string; routing_key: string; arguments: ArrayBuffer }>("SELECT * FROM inbound")
      .toArray()
      .map((r) => ({ destination: r.source, routingKey: r.routing_key, arguments: tableFromBytes(new Uint8Array(r.arguments)) }));
    await this.notifySubscribers();
    this.decl = null;
    this.bindingCache = null;
    this.sql.exec("DELETE FROM exchange");
    this.sql.exec("DELETE FROM bindings");
    this.sql.exec("DELETE FROM inbound");
    this.sql.exec("DELETE FROM subscribers");
    return ok({ outbound, inbound });
  }

  /** Adds a binding with this exchange as source; false when it already existed. */
  async bind(vhost: string, name: string, b: StoredBinding): Promise<RpcResult<boolean>> {
    if (!this.current(vhost, name)) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    const key = tableKey(b.arguments);
    const exists = this.sql
      .exec("SELECT 1 FROM bindings WHERE destination = ? AND routing_key = ? AND args_key = ?", b.destination, b.routingKey, key)
      .toArray().length > 0;
    if (exists) return ok(false);
    this.sql.exec(
      "INSERT INTO bindings (destination, routing_key, args_key, arguments) VALUES (?, ?, ?, ?)",
      b.destination,
      b.routingKey,
      key,
      tableToBytes(b.arguments),
    );
    this.bindingCache = null;
    await this.notifySubscribers();
    return ok(true);
  }

  /**
   * Removes bindings: one exact binding, or (with only a destination) every binding to it.
   * Reports whether the exchange auto-deleted itself as a result, with its inbound bindings.
   */
  async unbind(
    vhost: string,
    name: string,
    b: StoredBinding | { destination: string },
  ): Promise<RpcResult<{ removed: number; autoDeleted: StoredBinding[] | null }>> {
    if (!this.current(vhost, name)) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    const cursor =
      "routingKey" in b
        ? this.sql.exec(
            "DELETE FROM bindings WHERE destination = ? AND routing_key = ? AND args_key = ?",
            b.destination,
            b.routingKey,
            tableKey(b.arguments),
          )
        : this.sql.exec("DELETE FROM bindings WHERE destination = ?", b.destination);
    const removed = cursor.rowsWritten;
    if (removed === 0) return ok({ removed, autoDeleted: null });
    this.bindingCache = null;
    if (this.decl?.autoDelete && this.bindings().length === 0) {
      const gone = await this.remove(vhost, name, false);
      return ok({ removed, autoDeleted: gone.ok && gone.value ? gone.value.inbound : [] });
    }
    await this.notifySubscribers();
    return ok({ removed, autoDeleted: null });
  }

  /** Records (or forgets) an exchange-to-exchange binding that has this exchange as destination. */
  async inbound(vhost: string, name: string, b: StoredBinding, add: boolean): Promise<RpcResult<void>> {
    if (add && !this.current(vhost, name)) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    const key = tableKey(b.arguments);
    if (add) {
      this.sql.exec(
        "INSERT OR IGNORE INTO inbound (source, routing_key, args_key, arguments) VALUES (?, ?, ?, ?)",
        b.destination,
        b.routingKey,
        key,
        tableToBytes(b.arguments),
      );
    } else {
      this.sql.exec("DELETE FROM inbound WHERE source = ? AND routing_key = ? AND args_key = ?", b.destination, b.routingKey, key);
    }
    return ok(undefined);
  }

  /** Everything a connection needs to route locally; it is told when this changes. */
  async snapshot(vhost: string, name: string, subscriber: string | null): Promise<ExchangeSnapshot | null> {
    const decl = this.current(vhost, name);
    if (!decl) return null;
    if (subscriber) this.sql.exec("INSERT OR IGNORE INTO subscribers (id) VALUES (?)", subscriber);
    return { decl, bindings: this.bindings() };
  }

  async unsubscribe(subscriber: string): Promise<void> {
    this.sql.exec("DELETE FROM subscribers WHERE id = ?", subscriber);
  }

  private current(vhost: string, name: string): ExchangeDecl | null {
    if (!this.decl) {
      const standard = standardExchange(vhost, name);
      if (standard) this.store(standard);
    }
    return this.decl;
  }

  private store(decl: ExchangeDecl): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO exchange (id, vhost, name, type, durable, auto_delete, internal, arguments) VALUES (1, ?, ?, ?, ?, ?, ?, ?)",
      decl.vhost,
      decl.name,
      decl.type,
      decl.durable ? 1 : 0,
      decl.autoDelete ? 1 : 0,
      decl.internal ? 1 : 0,
      tableToBytes(decl.arguments),
    );
    this.decl = decl;
  }

  private bindings(): StoredBinding[] {
    this.bindingCache ??= this.sql
      .exec<{ destination: string; routing_key: string; arguments: ArrayBuffer }>("SELECT * FROM bindings")
      .toArray()
      .map((r) => ({ destination: r.destination, routingKey: r.routing_key, arguments: tableFromBytes(new Uint8Array(r.arguments)) }));
    return this.bindingCache;
  }

  /** Tells every connection that cached this exchange to drop it; forgets connections that are gone. */
  private async notifySubscribers(): Promise<void> {
    const ids = this.sql.exec<{ id: string }>("SELECT id FROM subscribers").toArray().map((r) => r.id);
    if (ids.length === 0 || !this.decl) return;
    const { vhost, name } = this.decl;
    const results = await Promise.allSettled(
      ids.map((id) => this.env.CONNECTION.get(this.env.CONNECTION.idFromString(id)).invalidateExchange(vhost, name)),
    );
    results.forEach((r, i) => {
      if (r.status === "rejected" || r.value === false) this.sql.exec("DELETE FROM subscribers WHERE id = ?", ids[i]!);
    });
  }
}

export type { FieldTable };
