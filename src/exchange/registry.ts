import type { FieldTable, ReplyCodeValue } from "../amqp";
import { DelayedRouter, delayedTypeOf, validateDelayedDeclaration } from "./delayed";
import { DirectRouter } from "./routing/direct";
import { FanoutRouter } from "./routing/fanout";
import { HeadersRouter, validateHeadersBindingArgs } from "./routing/headers";
import { TopicRouter } from "./routing/topic";
import type { Router } from "./routing/types";

/** What an exchange type is: how it routes and, if it gives binding arguments a meaning, how it checks them. */
export interface ExchangeTypeSpec {
  /** A router for an exchange declared with these arguments. */
  create(args: FieldTable): Router;
  /** RabbitMQ's validate_binding: an error text (406) or null. `declared` are the exchange's own arguments. */
  validateBinding?(args: FieldTable, declared: FieldTable): string | null;
  /** RabbitMQ's validate at exchange.declare (a new exchange only): the reply code and text, or null. */
  validateDeclaration?(args: FieldTable): { code: ReplyCodeValue; text: string } | null;
}

/**
 * Every exchange type Warren knows. Adding a type is one entry here: the type union,
 * exchange.declare's check and router creation all follow from it.
 */
const EXCHANGE_TYPES = {
  direct: { create: () => new DirectRouter() },
  fanout: { create: () => new FanoutRouter() },
  topic: { create: () => new TopicRouter() },
  headers: { create: () => new HeadersRouter(), validateBinding: validateHeadersBindingArgs },
  // The delayed-message plugin's type (exchange/delayed.ts): routes as its x-delayed-type.
  "x-delayed-message": {
    create: (args: FieldTable): Router => new DelayedRouter(createRouter(routingTypeOf(args))),
    validateBinding: (args: FieldTable, declared: FieldTable): string | null => validateBinding(routingTypeOf(declared), args),
    validateDeclaration: (args: FieldTable) => validateDelayedDeclaration(args, isExchangeType),
  },
} satisfies Record<string, ExchangeTypeSpec>;

export type ExchangeType = keyof typeof EXCHANGE_TYPES;

export function isExchangeType(s: string): s is ExchangeType {
  return Object.hasOwn(EXCHANGE_TYPES, s);
}

export function exchangeTypes(): ExchangeType[] {
  return Object.keys(EXCHANGE_TYPES) as ExchangeType[];
}

export function createRouter(type: ExchangeType, args: FieldTable = {}): Router {
  return EXCHANGE_TYPES[type].create(args);
}

/** Checks a new binding's arguments as the exchange's type requires; null when fine. */
export function validateBinding(type: ExchangeType, args: FieldTable, declared: FieldTable = {}): string | null {
  const spec: ExchangeTypeSpec = EXCHANGE_TYPES[type];
  return spec.validateBinding?.(args, declared) ?? null;
}

/** Checks a new exchange's arguments as its type requires (406 or 503 with RabbitMQ's text); null when fine. */
export function validateDeclaration(type: ExchangeType, args: FieldTable): { code: ReplyCodeValue; text: string } | null {
  const spec: ExchangeTypeSpec = EXCHANGE_TYPES[type];
  return spec.validateDeclaration?.(args) ?? null;
}

/**
 * The type a delayed-message exchange routes as. Declarations are validated, so this is a
 * known type other than x-delayed-message; direct stands in for anything else.
 */
function routingTypeOf(args: FieldTable): Exclude<ExchangeType, "x-delayed-message"> {
  const t = delayedTypeOf(args);
  return t !== undefined && isExchangeType(t) && t !== "x-delayed-message" ? t : "direct";
}
