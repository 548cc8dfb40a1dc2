import { ReplyCode, channelError, type FieldTable } from "../amqp";
import { isExchangeType, type ExchangeDecl, type StoredBinding } from "../exchange/declaration";
import { validateHeadersBindingArgs } from "../exchange/routing";
import type { QueueDecl } from "../queue/types";
import type { Broker } from "./broker";
import { describeExchange, destinationKey, parseDestination } from "./names";
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

  withMethod(ids: [number, number]): VhostOps {
    return new VhostOps(this.broker, this.vhost, this.connId, ids);
  }

  async declareExchange(d: Omit<ExchangeDecl, "vhost" | "type"> & { type: string }, passive: boolean): Promise<ExchangeDecl> {
    if (d.name === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    const stub = this.broker.exchange(this.vhost, d.name);
    if (passive) return unwrap(await stub.declare(this.vhost, d.name, null), ...this.ids);
    if (d.name.startsWith("amq.")) {
      throw this.error(ReplyCode.ACCESS_REFUSED, `exchange name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    if (!isExchangeType(d.type)) {
      throw this.error(ReplyCode.COMMAND_INVALID, `unknown exchange type '${d.type}'`);
    }
    const decl: ExchangeDecl = { ...d, vhost: this.vhost, type: d.type };
    return unwrap(await stub.declare(this.vhost, d.name, decl), ...this.ids);
  }

  async deleteExchange(name: string, ifUnused: boolean): Promise<void> {
    if (name === "") throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
    if (name.startsWith("amq.")) throw this.error(ReplyCode.ACCESS_REFUSED, `cannot delete ${describeExchange(this.vhost, name)}`);
    const gone = unwrap(await this.broker.exchange(this.vhost, name).remove(this.vhost, name, ifUnused), ...this.ids);
    if (gone) await this.tidyAfterExchange(name, gone.outbound, gone.inbound);
  }

  /** exchange.bind: `destination` receives what `source` routes. */
  async bindExchange(destination: string, source: string, routingKey: string, args: FieldTable): Promise<void> {
    this.checkNotDefault(destination, source);
    this.checkBindingArgs(args);
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

  async declareQueue(d: Omit<QueueDecl, "vhost">, passive: boolean) {
    if (!passive && d.name.startsWith("amq.") && !d.name.startsWith("amq.gen-")) {
      throw this.error(ReplyCode.ACCESS_REFUSED, `queue name '${d.name}' contains reserved prefix 'amq.*'`);
    }
    const decl: QueueDecl | null = passive ? null : { ...d, vhost: this.vhost };
    return unwrap(await this.broker.queue(this.vhost, d.name).declare(this.vhost, d.name, decl, this.connId), ...this.ids);
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
    this.checkBindingArgs(args);
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
    const r = unwrap(await this.broker.exchange(this.vhost, source).unbind(this.vhost, source, b), ...this.ids);
    if (r.autoDeleted) await this.tidyAfterExchange(source, [], r.autoDeleted);
  }

  /** An exchange went: the other ends of its bindings forget them. */
  private async tidyAfterExchange(name: string, outbound: StoredBinding[], inbound: StoredBinding[]): Promise<void> {
    const work: Promise<unknown>[] = [];
    for (const b of outbound) {
      const dest = parseDestination(b.destination);
      const back = { destination: name, routingKey: b.routingKey, arguments: b.arguments };
      if (dest.kind === "queue") {
        work.push(this.broker.queue(this.vhost, dest.name).recordBinding({ exchange: name, routingKey: b.routingKey, arguments: b.arguments }, false));
      } else {
        work.push(this.broker.exchange(this.vhost, dest.name).inbound(this.vhost, dest.name, back, false));
      }
    }
    for (const b of inbound) {
      const binding = { destination: destinationKey("exchange", name), routingKey: b.routingKey, arguments: b.arguments };
      work.push(this.broker.exchange(this.vhost, b.destination).unbind(this.vhost, b.destination, binding));
    }
    await Promise.allSettled(work);
  }

  private checkNotDefault(...names: string[]): void {
    if (names.includes("")) throw this.error(ReplyCode.ACCESS_REFUSED, DEFAULT_EXCHANGE_DENIED);
  }

  private checkBindingArgs(args: FieldTable): void {
    if (args["x-match"] === undefined) return;
    const problem = validateHeadersBindingArgs(args);
    if (problem) throw this.error(ReplyCode.PRECONDITION_FAILED, problem);
  }

  private error(code: number, text: string) {
    return channelError(code, text, ...this.ids);
  }
}
