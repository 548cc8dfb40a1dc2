import {
  decodeContentHeader,
  encodeContentHeader,
  fieldInteger,
  ReplyCode,
  type FieldTable,
  type FieldValue,
  type ReplyCodeValue,
} from "../amqp";
import type { Binding, Router } from "./routing/types";

// The delayed-message exchange, as RabbitMQ's rabbitmq_delayed_message_exchange plugin has it
// (rabbit_exchange_type_delayed_message.erl, rabbit_delayed_message_utils.erl): an exchange of
// type x-delayed-message routes like its `x-delayed-type` (direct, fanout, topic, headers); a
// message that carries a positive `x-delay` header (milliseconds) is held by the exchange
// (exchange-do.ts, delayed-store.ts) and routed through the exchange's bindings when it is due,
// with x-delay turned negative so it is not held again on the way.

export const DELAYED_MESSAGE = "x-delayed-message";
export const DELAYED_TYPE_ARG = "x-delayed-type";
export const DELAY_HEADER = "x-delay";

/**
 * The latest due time Warren keeps: JavaScript's (and an alarm's) largest date, in the year
 * 275760. The plugin routes a delay above 2^32 - 1 ms (Erlang's timer limit, ~49.7 days) at
 * once; Warren holds any positive delay, up to this.
 */
export const MAX_DUE = 8.64e15;

/**
 * The delay a message asks for, in ms, as the plugin reads `x-delay`: integers of any width;
 * floats truncated; strings that are a decimal integer. Anything else, a missing header, zero
 * or a negative delay: 0, routed at once. (The plugin fails the publish on a string that is not
 * an integer; here it is not delayed.)
 */
export function delayOf(headers: FieldTable | undefined): number {
  const v = headers?.[DELAY_HEADER];
  if (v === undefined) return 0;
  const n = fieldInteger(v);
  let delay: number;
  if (n !== null) delay = Number(n);
  else if (v.type === "f" || v.type === "d") delay = Number.isFinite(v.value) ? Math.trunc(v.value) : 0;
  else if (v.type === "S") delay = /^[+-]?[0-9]+$/.test(v.value) ? Number(v.value) : 0;
  else return 0;
  return Math.max(delay, 0);
}

/** When a message held at `now` with this delay is due (epoch ms, exact: no 32-bit timer involved). */
export function dueAt(now: number, delay: number): number {
  return Math.min(now + delay, MAX_DUE);
}

/**
 * The content header a due message leaves with: `x-delay` set to minus the delay (a signed
 * 32-bit integer, or 64-bit when it does not fit), as the plugin's swap_delay_header does, so
 * consumers can tell the message was delayed and a delayed-message exchange further on routes
 * it at once. The rest of the properties are re-encoded byte for byte. Also the headers, for
 * routing.
 */
export function releasedHeader(header: Uint8Array): { header: Uint8Array; headers: FieldTable | undefined } {
  const { classId, bodySize, properties } = decodeContentHeader(header);
  const delay = delayOf(properties.headers);
  if (delay === 0 || !properties.headers) return { header, headers: properties.headers };
  const swapped: FieldValue = delay <= 0x80000000 ? { type: "I", value: -delay } : { type: "l", value: -BigInt(delay) };
  const headers: FieldTable = { ...properties.headers, [DELAY_HEADER]: swapped };
  return { header: encodeContentHeader(classId, bodySize, { ...properties, headers }), headers };
}

/**
 * The plugin's validate/1 at exchange.declare: `x-delayed-type` must name an exchange type
 * other than x-delayed-message (406), and one that exists (503, as for an unknown type).
 */
export function validateDelayedDeclaration(
  args: FieldTable,
  isType: (name: string) => boolean,
): { code: ReplyCodeValue; text: string } | null {
  const t = args[DELAYED_TYPE_ARG];
  if (t?.type !== "S") {
    return { code: ReplyCode.PRECONDITION_FAILED, text: `Invalid argument, '${DELAYED_TYPE_ARG}' must be an existing exchange type` };
  }
  if (t.value === DELAYED_MESSAGE) {
    return { code: ReplyCode.PRECONDITION_FAILED, text: `Invalid argument, '${DELAYED_MESSAGE}' can't be used for '${DELAYED_TYPE_ARG}'` };
  }
  if (!isType(t.value)) return { code: ReplyCode.COMMAND_INVALID, text: `unknown exchange type '${t.value}'` };
  return null;
}

/** The routing type a delayed-message exchange was declared with (validated at declare). */
export function delayedTypeOf(args: FieldTable): string | undefined {
  const t = args[DELAYED_TYPE_ARG];
  return t?.type === "S" ? t.value : undefined;
}

/**
 * A delayed-message exchange's router: the bindings and routing of its x-delayed-type, plus
 * the question the route table asks first (core/route-table.ts): is this message held?
 */
export class DelayedRouter implements Router {
  constructor(private readonly inner: Router) {}

  holds(headers: FieldTable | undefined): boolean {
    return delayOf(headers) > 0;
  }

  add(b: Binding): boolean {
    return this.inner.add(b);
  }

  remove(b: Binding): boolean {
    return this.inner.remove(b);
  }

  route(routingKey: string, headers: FieldTable | undefined): Set<string> {
    return this.inner.route(routingKey, headers);
  }

  get size(): number {
    return this.inner.size;
  }

  bindings(): Binding[] {
    return this.inner.bindings();
  }
}
