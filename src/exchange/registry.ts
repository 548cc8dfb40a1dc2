import type { FieldTable } from "../amqp";
import { DirectRouter } from "./routing/direct";
import { FanoutRouter } from "./routing/fanout";
import { HeadersRouter, validateHeadersBindingArgs } from "./routing/headers";
import { TopicRouter } from "./routing/topic";
import type { Router } from "./routing/types";

/** What an exchange type is: how it routes and, if it gives binding arguments a meaning, how it checks them. */
export interface ExchangeTypeSpec {
  create(): Router;
  /** RabbitMQ's validate_binding: an error text (406) or null. */
  validateBinding?(args: FieldTable): string | null;
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
} satisfies Record<string, ExchangeTypeSpec>;

export type ExchangeType = keyof typeof EXCHANGE_TYPES;

export function isExchangeType(s: string): s is ExchangeType {
  return Object.hasOwn(EXCHANGE_TYPES, s);
}

export function exchangeTypes(): ExchangeType[] {
  return Object.keys(EXCHANGE_TYPES) as ExchangeType[];
}

export function createRouter(type: ExchangeType): Router {
  return EXCHANGE_TYPES[type].create();
}

/** Checks a new binding's arguments as the exchange's type requires; null when fine. */
export function validateBinding(type: ExchangeType, args: FieldTable): string | null {
  const spec: ExchangeTypeSpec = EXCHANGE_TYPES[type];
  return spec.validateBinding?.(args) ?? null;
}
