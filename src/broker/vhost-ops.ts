import { ReplyCode, channelError, connectionError, type FieldTable } from "../amqp";
import { isExchangeType, isReservedName, type ExchangeDecl, type StoredBinding } from "../exchange/declaration";
import type { QueueDecl } from "../queue/types";
import type { Broker } from "./broker";
import { describeExchange, destinationKey, generatedName } from "./names";
import { unwrap } from "./rpc-result";

const DEFAULT_EXCHANGE_DENIED = "operation not permitted on the default exchange";

/**
 * Declare, bind and delete for one vhost, shared by the AMQP handlers and (later) the
 * management API and CLI. `connId` identifies the caller for exclusive-queue checks.
 * Errors are thrown as AMQP errors; classId/methodId of the AMQP method are given by callers.
 */
export class VhostOps {
  constructor(
    readonly broker: Broker,
    readonly vhost: string,
    readonly connId: string,
    private readonly ids: [number, number] = [0, 0],
  ) {}

  /**
   * exchange.declare, checked in RabbitMQ's order: the type (503, a connection error), the
   * default exchange (403), then equivalence with an existing exchange (406). The reserved
   * amq.* prefix only refuses creating one (403): redeclaring amq.direct as it is succeeds,
   * so the exchange DO, which knows whether it exists, applies that rule.
   */
  async declareExchange(d: Omit<ExchangeDecl, "vhost" | "type"> & { type: string }, passive: boolean): Promise<ExchangeDecl> {
    const stub = this.broker.exchange(this.vhost, d.name);
    if (passive) {
      if (d.name === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
      return unwrap(await stub.declare(this.vhost, d.name, null), ...this.ids);
    }
    if (!isExchangeType(d.type)) {
      throw connectionError(ReplyCode.COMMAND_INVALID, `unknown exchange type '${d.type}'`, ...this.ids);
    }
    if (d.name === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    const ae = d.arguments["alternate-exchange"];
    if (ae !== undefined && ae.type !== "S") {
      throw this.error(
        ReplyCode.PRECONDITION_FAILED,
        `invalid type '${ae.type}' for arg 'alternate-exchange' in ${describeExchange(this.vhost, d.name)}`,
      );
    }
    const decl: ExchangeDecl = { ...d, vhost: this.vhost, type: d.type };
    return unwrap(await stub.declare(this.vhost, d.name, decl), ...this.ids);
  }

  async deleteExchange(name: string, ifUnused: boolean): Promise<void> {
    if (name === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    if (isReservedName(name)) {
      throw this.error(ReplyCode.ACCESS_REFUSED, `deletion of system ${describeExchange(this.vhost, name)} not allowed`);
    }
    // The exchange tidies the other ends of its bindings itself.
    unwrap(await this.broker.exchange(this.vhost, name).remove(this.vhost, name, ifUnused), ...this.ids);
  }

  /** exchange.bind: `destination` receives what `source` routes. */
  async bindExchange(destination: string, source: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkNotDefault(destination, source);
    unwrap(await this.broker.exchange(this.vhost, destination).declare(this.vhost, destination, null), ...this.ids);
    const b: StoredBinding = { destination: destinationKey("exchange", destination), routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, source).bind(this.vhost, source, b), ...this.ids);
    const back: StoredBinding = { destination: source, routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, destination).inbound(this.vhost, destination, back, true), ...this.ids);
  }

  async unbindExchange(destination: string, source: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkNotDefault(destination, source);
    unwrap(await this.broker.exchange(this.vhost, destination).declare(this.vhost, destination, null), ...this.ids);
    const b: StoredBinding = { destination: destinationKey("exchange", destination), routingKey, arguments: args };
    await this.unbindFrom(source, b);
    const back: StoredBinding = { destination: source, routingKey, arguments: args };
    await this.broker.exchange(this.vhost, destination).inbound(this.vhost, destination, back, false);
  }

  /**
   * queue.declare; an empty name (not passive) gets a server-generated amq.gen-* name. As in
   * RabbitMQ, a client may never name a queue amq.*, not even an existing server-named one.
   */
  async declareQueue(
    d: Omit<QueueDecl, "vhost">,
    passive: boolean,
  ): Promise<{ name: string; messageCount: number; consumerCount: number }> {
    if (!passive && isReservedName(d.name)) {
      throw this.error(ReplyCode.ACCESS_REFUSED, `queue name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    const name = d.name === "" && !passive ? generatedName("amq.gen-") : d.name;
    const decl: QueueDecl | null = passive ? null : { ...d, name, vhost: this.vhost };
    const counts = unwrap(await this.broker.queue(this.vhost, name).declare(this.vhost, name, decl, this.connId), ...this.ids);
    return { name, ...counts };
  }

  async deleteQueue(name: string, ifUnused: boolean, ifEmpty: boolean): Promise<number> {
    const r = unwrap(await this.broker.queue(this.vhost, name).remove(ifUnused, ifEmpty, this.connId), ...this.ids);
    return r.messageCount;
  }

  async purgeQueue(name: string): Promise<number> {
    const q = this.broker.queue(this.vhost, name);
    unwrap(await q.access(this.vhost, name, this.connId), ...this.ids);
    return unwrap(await q.purge(this.connId), ...this.ids).messageCount;
  }

  async bindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable): Promise<void> {
    if (exchange === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    const q = this.broker.queue(this.vhost, queue);
    unwrap(await q.access(this.vhost, queue, this.connId), ...this.ids);
    const b: StoredBinding = { destination: destinationKey("queue", queue), routingKey, arguments: args };
    unwrap(await this.broker.exchange(this.vhost, exchange).bind(this.vhost, exchange, b), ...this.ids);
    await q.recordBinding({ exchange, routingKey, arguments: args }, true);
  }

  async unbindQueue(queue: string, exchange: string, routingKey: string, args: FieldTable): Promise<void> {
    if (exchange === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    const q = this.broker.queue(this.vhost, queue);
    unwrap(await q.access(this.vhost, queue, this.connId), ...this.ids);
    await this.unbindFrom(exchange, { destination: destinationKey("queue", queue), routingKey, arguments: args });
    await q.recordBinding({ exchange, routingKey, arguments: args }, false);
  }

  private async unbindFrom(source: string, b: StoredBinding): Promise<void> {
    unwrap(await this.broker.exchange(this.vhost, source).unbind(this.vhost, source, b), ...this.ids);
  }

  private checkNotDefault(...names: string[]): void {
    if (names.includes("")) throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
  }

  private error(code: number, text: string) {
    return channelError(code, text, ...this.ids);
  }
}
