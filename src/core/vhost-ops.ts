import { ReplyCode, table, type FieldTable } from "../amqp";
import { isReservedName, type ExchangeDecl, type StoredBinding } from "../exchange/declaration";
import { isExchangeType } from "../exchange/registry";
import {
  queueTypeOf,
  validateConsumerArguments,
  validateDeadLetterExchangeType,
  validateQueueDeclaration,
  validateServerNamed,
} from "../queue/arguments";
import type { QueueDecl } from "../queue/types";
import type { Actor, Broker } from "./broker";
import { accessRefused, commandInvalid, preconditionFailed } from "./errors";
import { describeExchange, describeQueue, destinationKey, generatedName } from "./names";
import { unwrap } from "./rpc-result";

const DEFAULT_EXCHANGE_DENIED = "operation not permitted on the default exchange";

/**
 * Declare, bind, purge and delete in one vhost, on behalf of an actor: one implementation for
 * the AMQP handlers, the management API and the CLI. Errors are BrokerErrors; the caller's
 * front door turns them into its protocol's answer. Permissions are checked here, as RabbitMQ
 * maps them (docs: access-control): declare/delete → configure; bind → write on the destination
 * and read on the source; an alternate or dead-letter exchange → write on it and read on the
 * declared entity. Passive declares need nothing.
 */
export class VhostOps {
  constructor(
    readonly broker: Broker,
    readonly vhost: string,
    readonly actor: Actor,
  ) {}

  private get connId(): string {
    return this.actor.connection;
  }

  private get access() {
    return this.actor.access;
  }
  /**
   * exchange.declare, checked in RabbitMQ's order: the type (503, a connection error), the
   * default exchange (403), then equivalence with an existing exchange (406). The reserved
   * amq.* prefix only refuses creating one (403): redeclaring amq.direct as it is succeeds,
   * so the exchange DO, which knows whether it exists, applies that rule.
   */
  async declareExchange(d: Omit<ExchangeDecl, "vhost" | "type"> & { type: string }, passive: boolean): Promise<ExchangeDecl> {
    const stub = this.broker.exchange(this.vhost, d.name);
    if (passive) {
      if (d.name === "") throw accessRefused(DEFAULT_EXCHANGE_DENIED);
      return unwrap(await stub.declare(this.vhost, d.name, null));
    }
    if (!isExchangeType(d.type)) {
      throw commandInvalid(`unknown exchange type '${d.type}'`);
    }
    if (d.name === "") throw accessRefused(DEFAULT_EXCHANGE_DENIED);
    this.access.check("configure", "exchange", d.name);
    const ae = d.arguments["alternate-exchange"];
    if (ae !== undefined && ae.type !== "S") {
      throw preconditionFailed(`invalid type '${ae.type}' for arg 'alternate-exchange' in ${describeExchange(this.vhost, d.name)}`);
    }
    if (ae !== undefined) {
      this.access.check("write", "exchange", String(ae.value));
      this.access.check("read", "exchange", d.name);
    }
    const decl: ExchangeDecl = { ...d, vhost: this.vhost, type: d.type };
    return unwrap(await stub.declare(this.vhost, d.name, decl));
  }

  async deleteExchange(name: string, ifUnused: boolean): Promise<void> {
    if (name === "") throw accessRefused(DEFAULT_EXCHANGE_DENIED);
    if (isReservedName(name)) {
      throw accessRefused(`deletion of system ${describeExchange(this.vhost, name)} not allowed`);
    }
    this.access.check("configure", "exchange", name);
    // The exchange tidies the other ends of its bindings itself.
    unwrap(await this.broker.exchange(this.vhost, name).remove(this.vhost, name, ifUnused));
  }

  /** exchange.bind: `destination` receives what `source` routes. */
  async bindExchange(destination: string, source: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkBind("exchange", destination, source);
    unwrap(await this.broker.exchange(this.vhost, destination).declare(this.vhost, destination, null));
    const b: StoredBinding = { destination: destinationKey("exchange", destination), routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, source).bind(this.vhost, source, b));
    const back: StoredBinding = { destination: source, routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, destination).inbound(this.vhost, destination, back, true));
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkBind("exchange", destination, source);
    // As RabbitMQ 3.10.8: a missing destination or source, or a binding that never existed, is unbind-ok.
    const exists = await this.broker.exchange(this.vhost, destination).declare(this.vhost, destination, null);
    if (!exists.ok && exists.code !== ReplyCode.NOT_FOUND) unwrap(exists);
    const b: StoredBinding = { destination: destinationKey("exchange", destination), routingKey, arguments: args };
    await this.unbindFrom(source, b);
    if (!exists.ok) return;
    const back: StoredBinding = { destination: source, routingKey, arguments: args };
    await this.broker.exchange(this.vhost, destination).inbound(this.vhost, destination, back, false);
  }

  /**
   * queue.declare; an empty name (not passive) gets a server-generated amq.gen-* name. As in
   * RabbitMQ, a client may never name a queue amq.*, not even an existing server-named one.
   * A new queue's arguments and properties are checked as RabbitMQ checks them (queue/arguments.ts);
   * an existing queue is compared with the declare instead (its object does that), so a bad
   * argument for a queue that exists is reported as RabbitMQ does: inequivalent, or nothing.
   */
  async declareQueue(
    d: Omit<QueueDecl, "vhost">,
    passive: boolean,
  ): Promise<{ name: string; messageCount: number; consumerCount: number }> {
    if (!passive && isReservedName(d.name)) {
      throw accessRefused(`queue name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    const generated = d.name === "" && !passive;
    if (generated) {
      const refused = validateServerNamed(d.arguments);
      if (refused) throw refused;
    }
    const name = generated ? generatedName("amq.gen-") : d.name;
    const stub = this.broker.queue(this.vhost, name);
    if (!passive) {
      this.access.check("configure", "queue", name);
      const what = describeQueue(this.vhost, name);
      let invalid = validateDeadLetterExchangeType(d.arguments, what);
      if (!invalid) {
        const dlx = d.arguments["x-dead-letter-exchange"];
        if (dlx !== undefined) {
          this.access.check("write", "exchange", String(dlx.value));
          this.access.check("read", "queue", name);
        }
        invalid = validateQueueDeclaration(d, what);
      }
      // Only a queue about to be created is refused for its arguments (one more RPC, on this path only).
      if (invalid && (generated || !(await this.queueExists(name)))) throw invalid;
    }
    const decl: QueueDecl | null = passive ? null : { ...d, name, vhost: this.vhost };
    const counts = unwrap(await stub.declare(this.vhost, name, decl, this.connId));
    return { name, ...counts };
  }

  /** Whether the queue exists (a passive declare: 404 when it does not; 405 still means it does). */
  private async queueExists(name: string): Promise<boolean> {
    const r = await this.broker.queue(this.vhost, name).declare(this.vhost, name, null, this.connId);
    return r.ok || r.code !== ReplyCode.NOT_FOUND;
  }

  /**
   * basic.consume's arguments, checked as RabbitMQ does once it has the queue
   * (rabbit_amqqueue:check_consume_arguments). Classic and quorum queues take the same consumer
   * arguments, so only a consume with a bad one costs RPCs: the queue must exist and be
   * accessible first (404 and 405 come before 406, as in RabbitMQ), and its type names the
   * arguments of other types it refuses.
   */
  checkConsumerArguments(queue: string, args: FieldTable): Promise<void> | undefined {
    const what = describeQueue(this.vhost, queue);
    if (!validateConsumerArguments(args, what, "classic") && !validateConsumerArguments(args, what, "quorum")) return;
    return this.refuseConsumerArguments(queue, args, what);
  }

  private async refuseConsumerArguments(queue: string, args: FieldTable, what: string): Promise<void> {
    const q = this.broker.queue(this.vhost, queue);
    unwrap(await q.access(this.vhost, queue, this.connId));
    const info = await q.info();
    const type = queueTypeOf(table(info?.arguments ?? {}));
    const invalid = validateConsumerArguments(args, what, type);
    if (invalid) throw invalid;
  }

  async deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean): Promise<number> {
    this.access.check("configure", "queue", name);
    const r = unwrap(await this.broker.queue(this.vhost, name).remove(ifUnused, ifEmpty, this.connId));
    return r.messageCount;
  }

  async purgeQueue(name: string): Promise<number> {
    this.access.check("read", "queue", name);
    const q = this.broker.queue(this.vhost, name);
    unwrap(await q.access(this.vhost, name, this.connId));
    return unwrap(await q.purge(this.connId)).messageCount;
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkBind("queue", queue, exchange);
    const q = this.broker.queue(this.vhost, queue);
    unwrap(await q.access(this.vhost, queue, this.connId));
    const b: StoredBinding = { destination: destinationKey("queue", queue), routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, exchange).bind(this.vhost, exchange, b));
    await q.recordBinding({ exchange, routingKey, arguments: args }, true);
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkBind("queue", queue, exchange);
    const q = this.broker.queue(this.vhost, queue);
    // As RabbitMQ 3.10.8: a missing queue or exchange, or a binding that never existed, is unbind-ok.
    const access = await q.access(this.vhost, queue, this.connId);
    if (!access.ok && access.code !== ReplyCode.NOT_FOUND) unwrap(access);
    await this.unbindFrom(exchange, { destination: destinationKey("queue", queue), routingKey, arguments: args });
    if (access.ok) await q.recordBinding({ exchange, routingKey, arguments: args }, false);
  }

  /** Removes a binding; a missing source exchange has none to remove (unbind-ok, as RabbitMQ). */
  private async unbindFrom(source: string, b: StoredBinding): Promise<void> {
    const result = await this.broker.exchange(this.vhost, source).unbind(this.vhost, source, b);
    if (!result.ok && result.code === ReplyCode.NOT_FOUND) return;
    unwrap(result);
  }

  /**
   * A binding writes to its destination and reads from its source exchange. Checked in
   * RabbitMQ's order (rabbit_channel:binding_action): write on the destination, then neither
   * end may be the default exchange, then read on the source.
   */
  private checkBind(kind: "queue" | "exchange", destination: string, source: string): void {
    this.access.check("write", kind, destination);
    if (source === "" || (kind === "exchange" && destination === "")) throw accessRefused(DEFAULT_EXCHANGE_DENIED);
    this.access.check("read", "exchange", source);
  }
}
