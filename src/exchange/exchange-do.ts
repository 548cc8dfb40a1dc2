import { DurableObject } from "cloudflare:workers";
import { ReplyCode } from "../amqp";
import type { Env } from "../env";
import { bootEpoch, restartedSince } from "../core/boot";
import { jsonTable } from "../core/json-table";
import { describeExchange, destinationKey, parseDestination, parseSubscriberKey } from "../core/names";
import type { ExchangePort } from "../core/ports";
import { fail, ok, type RpcResult } from "../core/rpc-result";
import { WorkerBroker } from "../core/worker-broker";
import { Publisher, type RoutedPublish } from "../core/publisher";
import { RouteTable } from "../core/route-table";
import { decodeContentHeader } from "../amqp/properties";
import { decodePublishBatch } from "../queue/wire";
import { decodeRecord, recordOf } from "../storage/message-record";
import { Schedule } from "../storage/schedule";
import { recordBindingRow } from "../storage/binding-rows";
import { migrate } from "../storage/migrate";
import { catalogDone, catalogPending, recordEpoch, storedEpoch } from "../storage/wake-rows";
import { EXCHANGE_MIGRATIONS } from "../storage/migrations/exchange";
import { tableFromBytes, tableKey, tableToBytes } from "../storage/table-bytes";
import {
  checkEquivalent,
  isReservedName,
  standardExchange,
  type ExchangeDecl,
  type ExchangeSnapshot,
  type StoredBinding,
} from "./declaration";
import { validateBinding, validateDeclaration } from "./registry";
import { DELAYED_MESSAGE, delayOf, dueAt, releasedHeader } from "./delayed";
import { DelayedStore, type HeldMessage } from "./delayed-store";

interface DeclRow extends Record<string, SqlStorageValue> {
  vhost: string;
  name: string;
  type: string;
  durable: number;
  auto_delete: number;
  internal: number;
  arguments: ArrayBuffer;
}

/** The schedule's task that routes a delayed-message exchange's due messages. */
const DELIVER_DUE = "deliver-due";
/** Due messages routed per batch: one publish RPC per destination queue per batch. */
const DUE_BATCH = 1000;
const DUE_BATCH_BYTES = 8 << 20;
/** Batches per alarm; more due than that goes on in the next alarm, set for now. */
const DUE_ROUNDS = 10;
/** After a batch some queue did not take: first retry, doubled per failure up to the most. */
const RETRY_MS = 1000;
const RETRY_MAX_MS = 60_000;

interface BindingRow extends Record<string, SqlStorageValue> {
  routing_key: string;
  arguments: ArrayBuffer;
}

/**
 * One exchange of one vhost: its declaration, its bindings (as source), the
 * exchange-to-exchange bindings pointing at it, and the connections caching its routes.
 * When it goes (deleted or auto-deleted) it tidies the other ends of its bindings itself,
 * so every caller (AMQP, a queue deleting itself, later the HTTP API) gets the same result.
 */
export class ExchangeDO extends DurableObject<Env> implements ExchangePort {
  private decl: ExchangeDecl | null = null;
  private bindingCache: StoredBinding[] | null = null;
  /** False after a delete wiped the object's storage: the next declare builds the schema again. */
  private schemaReady = true;
  private readonly sql: SqlStorage;
  private readonly broker: WorkerBroker;
  /** A delayed-message exchange's held messages (exchange/delayed.ts) and the alarm that routes them when due. */
  private readonly delayed: DelayedStore;
  private readonly schedule: Schedule;
  /** The wait before retrying after a due batch that some queue did not take. */
  private retryMs = RETRY_MS;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    this.broker = new WorkerBroker(env);
    this.delayed = new DelayedStore(this.sql);
    this.schedule = new Schedule(this.sql, ctx.storage);
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, EXCHANGE_MIGRATIONS);
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
        if (await this.afterRestart(this.decl)) return;
        if (this.decl.type === DELAYED_MESSAGE) await this.wakeDelayed();
        if (catalogPending(this.sql)) void this.catalogLate(this.decl);
      }
    });
  }

  /** Waking in a new boot epoch (core/boot.ts) is a broker restart: a non-durable exchange is gone. True when it went. */
  private async afterRestart(decl: ExchangeDecl): Promise<boolean> {
    const stored = storedEpoch(this.sql);
    if (!restartedSince(stored, bootEpoch(this.env))) {
      if (stored === null) this.writeEpoch();
      return false;
    }
    if (!decl.durable) {
      this.broker.log(`${describeExchange(decl.vhost, decl.name)}: non-durable, deleted by the broker restart`);
      await this.destroy();
      return true;
    }
    this.writeEpoch();
    return false;
  }

  private writeEpoch(): void {
    recordEpoch(this.sql, bootEpoch(this.env));
  }

  /**
   * exchange.declare (wanted = null for passive); the standard amq.* exchanges come into
   * being on first use. Only creating an amq.* exchange is refused: an existing one may be
   * redeclared as it is, as in RabbitMQ.
   */
  async declare(vhost: string, name: string, wanted: ExchangeDecl | null): Promise<RpcResult<ExchangeDecl>> {
    const current = this.current(vhost, name);
    if (!wanted) return current ? ok(current) : fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    if (current) {
      const mismatch = checkEquivalent(current, wanted);
      return mismatch ? fail(ReplyCode.PRECONDITION_FAILED, mismatch) : ok(current);
    }
    if (isReservedName(name)) {
      return fail(ReplyCode.ACCESS_REFUSED, `exchange name '${name}' contains reserved prefix 'amq.*'`);
    }
    const invalid = validateDeclaration(wanted.type, wanted.arguments);
    if (invalid) return fail(invalid.code, invalid.text);
    this.store(wanted);
    // The vhost's catalog lists it from now on; an exchange the catalog cannot record does not exist.
    try {
      await this.broker.catalog(vhost).exchangeAdded({
        name,
        type: wanted.type,
        durable: wanted.durable,
        autoDelete: wanted.autoDelete,
        internal: wanted.internal,
        arguments: jsonTable(wanted.arguments),
      });
    } catch (err) {
      this.broker.log(`${describeExchange(vhost, name)}: catalog update failed: ${String(err)}`);
      await this.destroy();
      return fail(ReplyCode.INTERNAL_ERROR, `${describeExchange(vhost, name)} could not be recorded`);
    }
    return ok(wanted);
  }

  /** An exchange declared before the catalog existed enters it now (migration 3), once; the standard ones never do. */
  private async catalogLate(decl: ExchangeDecl): Promise<void> {
    try {
      if (!standardExchange(decl.vhost, decl.name)) {
        await this.broker.catalog(decl.vhost).exchangeAdded({
          name: decl.name,
          type: decl.type,
          durable: decl.durable,
          autoDelete: decl.autoDelete,
          internal: decl.internal,
          arguments: jsonTable(decl.arguments),
        });
      }
      if (this.decl === decl) catalogDone(this.sql);
    } catch (err) {
      this.broker.log(`${describeExchange(decl.vhost, decl.name)}: catalog update failed, retried at the next start: ${String(err)}`);
    }
  }

  /** exchange.delete; false when there was nothing to delete. In use = it is the source of a binding. */
  async remove(vhost: string, name: string, ifUnused: boolean): Promise<RpcResult<boolean>> {
    if (!this.current(vhost, name)) return ok(false);
    if (ifUnused && this.bindings().length > 0) {
      return fail(ReplyCode.PRECONDITION_FAILED, `${describeExchange(vhost, name)} in use`);
    }
    await this.destroy();
    return ok(true);
  }

  /** Adds a binding with this exchange as source; false when it already existed. */
  async bind(vhost: string, name: string, b: StoredBinding): Promise<RpcResult<boolean>> {
    const decl = this.current(vhost, name);
    if (!decl) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    // As RabbitMQ's validate_binding: the type decides what its binding arguments mean.
    const invalid = validateBinding(decl.type, b.arguments, decl.arguments);
    if (invalid) return fail(ReplyCode.PRECONDITION_FAILED, invalid);
    const key = tableKey(b.arguments);
    const exists =
      this.sql
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
    await this.notifySubscribers(this.subscriberIds(), decl);
    return ok(true);
  }

  /**
   * Removes bindings: one exact binding, or (with only a destination) every binding to it.
   * Removing one that does not exist is fine, as in RabbitMQ. An auto-delete exchange left
   * without bindings deletes itself.
   */
  async unbind(
    vhost: string,
    name: string,
    b: StoredBinding | { destination: string },
  ): Promise<RpcResult<{ removed: number; autoDeleted: boolean }>> {
    const decl = this.current(vhost, name);
    if (!decl) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
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
    if (removed === 0) return ok({ removed, autoDeleted: false });
    this.bindingCache = null;
    if (decl.autoDelete && this.bindings().length === 0) {
      await this.destroy();
      return ok({ removed, autoDeleted: true });
    }
    await this.notifySubscribers(this.subscriberIds(), decl);
    return ok({ removed, autoDeleted: false });
  }

  /** Records (or forgets) an exchange-to-exchange binding that has this exchange as destination. */
  async inbound(vhost: string, name: string, b: StoredBinding, add: boolean): Promise<RpcResult<void>> {
    if (add && !this.current(vhost, name)) return fail(ReplyCode.NOT_FOUND, `no ${describeExchange(vhost, name)}`);
    if (!this.schemaReady) return ok(undefined);
    recordBindingRow(this.sql, "inbound", "source", { peer: b.destination, routingKey: b.routingKey, arguments: b.arguments }, add);
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
    if (!this.schemaReady) return;
    this.sql.exec("DELETE FROM subscribers WHERE id = ?", subscriber);
  }

  // ---- delayed messages (exchange/delayed.ts)

  async hold(vhost: string, name: string, batch: Uint8Array): Promise<boolean> {
    const decl = this.current(vhost, name);
    if (decl?.type !== DELAYED_MESSAGE) return false;
    const now = Date.now();
    const messages = decodePublishBatch(batch).map((m) => ({
      due: dueAt(now, delayOf(decodeContentHeader(m.header).properties.headers)),
      record: recordOf(m),
    }));
    if (messages.length === 0) return true;
    this.ctx.storage.transactionSync(() => this.delayed.add(messages));
    const first = messages.reduce((min, m) => Math.min(min, m.due), Number.POSITIVE_INFINITY);
    await this.schedule.soonest(DELIVER_DUE, first, true);
    return true;
  }

  async delayedCount(vhost: string, name: string): Promise<number | null> {
    const decl = this.current(vhost, name);
    return decl?.type === DELAYED_MESSAGE ? this.delayed.count() : null;
  }

  /** The object's one alarm: a delayed-message exchange's due messages. */
  override async alarm(): Promise<void> {
    const decl = this.decl;
    if (decl?.type !== DELAYED_MESSAGE || !this.schemaReady) return;
    this.schedule.takeDue(Date.now());
    let retry = false;
    try {
      for (let round = 0; round < DUE_ROUNDS; round++) {
        const due = this.delayed.due(Date.now(), DUE_BATCH, DUE_BATCH_BYTES);
        if (due.length === 0) break;
        const taken = await this.deliver(decl, due);
        if (this.decl !== decl || !this.schemaReady) return;
        this.ctx.storage.transactionSync(() => this.delayed.remove(taken));
        if (taken.length < due.length) {
          retry = true;
          break;
        }
      }
    } catch (err) {
      this.broker.log(`${describeExchange(decl.vhost, decl.name)}: routing due messages failed: ${String(err)}`);
      retry = true;
    }
    if (this.decl !== decl || !this.schemaReady) return;
    const next = this.delayed.nextDue();
    if (next === null) return;
    const at = retry ? Math.max(next, Date.now() + this.retryMs) : next;
    this.retryMs = retry ? Math.min(this.retryMs * 2, RETRY_MAX_MS) : RETRY_MS;
    await this.schedule.at(DELIVER_DUE, at, true);
  }

  /**
   * Routes due messages through this exchange's bindings as its x-delayed-type does (and on
   * through exchange-to-exchange bindings and the alternate exchange), with x-delay made negative,
   * and stores them with one publish RPC per destination queue. What reaches no queue is dropped,
   * as the plugin does. Answers the ids of the messages every queue took: the others stay held
   * and are tried again (at-least-once: a queue that took one may get it again).
   */
  private async deliver(decl: ExchangeDecl, due: HeldMessage[]): Promise<number[]> {
    const snapshot: ExchangeSnapshot = { decl, bindings: this.bindings() };
    const routes = new RouteTable(this.broker, () => decl.vhost, null);
    const batch: RoutedPublish[] = [];
    for (const held of due) {
      const m = decodeRecord(held.record);
      const { header, headers } = releasedHeader(m.header);
      const message = { exchange: m.exchange, routingKey: m.routingKey, header, body: m.body, persistent: m.persistent };
      batch.push({ queues: await routes.routeFrom(snapshot, m.routingKey, headers), message });
    }
    const { failed } = await new Publisher(this.broker, () => decl.vhost, routes).store(batch);
    return due.filter((_, i) => !failed[i]).map((h) => h.id);
  }

  /** A delayed-message exchange woke up: its alarm is set for the earliest message it holds. */
  private async wakeDelayed(): Promise<void> {
    await this.schedule.restore();
    const next = this.delayed.nextDue();
    if (next !== null) await this.schedule.soonest(DELIVER_DUE, next, true);
  }

  private current(vhost: string, name: string): ExchangeDecl | null {
    if (!this.decl) {
      const standard = standardExchange(vhost, name);
      if (standard) this.store(standard);
    }
    return this.decl;
  }

  private store(decl: ExchangeDecl): void {
    if (!this.schemaReady) {
      migrate(this.ctx.storage, EXCHANGE_MIGRATIONS);
      this.schemaReady = true;
    }
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
    this.writeEpoch();
    this.decl = decl;
  }

  private bindings(): StoredBinding[] {
    this.bindingCache ??= this.sql
      .exec<BindingRow & { destination: string }>("SELECT * FROM bindings")
      .toArray()
      .map((r) => ({ destination: r.destination, routingKey: r.routing_key, arguments: tableFromBytes(new Uint8Array(r.arguments)) }));
    return this.bindingCache;
  }

  private subscriberIds(): string[] {
    return this.sql
      .exec<{ id: string }>("SELECT id FROM subscribers")
      .toArray()
      .map((r) => r.id);
  }

  /**
   * Forgets everything first, then tells the others: a connection re-reading this exchange
   * while we wait on RPCs must already find it gone, or it would cache it as it was.
   */
  private async destroy(): Promise<void> {
    const decl = this.decl;
    if (!decl) return;
    const outbound = this.bindings();
    const sources = this.sql
      .exec<{ source: string }>("SELECT DISTINCT source FROM inbound")
      .toArray()
      .map((r) => r.source);
    const subscribers = this.subscriberIds();
    this.decl = null;
    this.bindingCache = null;
    if (decl.type === DELAYED_MESSAGE) {
      // Its held messages go with it, and so does the alarm that would have routed them.
      this.schedule.clear();
      this.delayed.reset();
      await this.ctx.storage.deleteAlarm();
    }
    // A deleted exchange leaves no storage behind; a later declare builds the schema again.
    await this.ctx.storage.deleteAll();
    this.schemaReady = false;
    await Promise.allSettled([
      this.broker.catalog(decl.vhost).exchangeRemoved(decl.name),
      this.notifySubscribers(subscribers, decl),
      this.forgetBindings(decl, outbound, sources),
    ]);
  }

  /** The other ends of a deleted exchange's bindings forget them (sources may auto-delete in turn). */
  private async forgetBindings(decl: ExchangeDecl, outbound: StoredBinding[], sources: string[]): Promise<void> {
    const { vhost, name } = decl;
    const work: Promise<unknown>[] = [];
    for (const b of outbound) {
      const dest = parseDestination(b.destination);
      if (dest.kind === "queue") {
        work.push(
          this.broker.queue(vhost, dest.name).recordBinding({ exchange: name, routingKey: b.routingKey, arguments: b.arguments }, false),
        );
      } else {
        const back = { destination: name, routingKey: b.routingKey, arguments: b.arguments };
        work.push(this.broker.exchange(vhost, dest.name).inbound(vhost, dest.name, back, false));
      }
    }
    const self = { destination: destinationKey("exchange", name) };
    for (const source of sources) work.push(this.broker.exchange(vhost, source).unbind(vhost, source, self));
    await Promise.allSettled(work);
  }

  /** Tells every subscriber that cached this exchange to drop it; forgets those that are gone. */
  private async notifySubscribers(ids: string[], { vhost, name }: ExchangeDecl): Promise<void> {
    if (ids.length === 0) return;
    const results = await Promise.allSettled(
      ids.map((id) => {
        const address = parseSubscriberKey(id);
        return address ? this.broker.subscriber(address).invalidateExchange(vhost, name) : false;
      }),
    );
    results.forEach((r, i) => {
      if (this.schemaReady && (r.status === "rejected" || r.value === false))
        this.sql.exec("DELETE FROM subscribers WHERE id = ?", ids[i]!);
    });
  }
}
