import type { FieldTable } from "../amqp";
import { QUORUM_DELIVERY_LIMIT, type QueueSettings, queueSettings } from "./arguments";

export type { QueueSettings };

/**
 * RabbitMQ's precedence where a queue has both an argument and a policy key: the lower of the
 * two limits (message-ttl, expires, max-length, max-length-bytes, delivery-limit); the
 * argument for dead-letter-exchange, dead-letter-routing-key and overflow.
 */
function lower(arg: number | undefined, policy: unknown): number | undefined {
  const p = typeof policy === "number" && Number.isInteger(policy) ? policy : undefined;
  if (arg === undefined) return p;
  return p === undefined ? arg : Math.min(arg, p);
}

const stringOr = (arg: string | undefined, policy: unknown): string | undefined =>
  arg !== undefined ? arg : typeof policy === "string" ? policy : undefined;

/**
 * What a queue acts on: its arguments (queue/arguments.ts queueSettings) and the definition of
 * the policy that applies to it (core/policies.ts), merged as RabbitMQ merges them.
 */
export function settingsOf(args: FieldTable, policy: Readonly<Record<string, unknown>> = {}): QueueSettings {
  const s = { ...queueSettings(args) };
  const set = <
    K extends "messageTtl" | "expires" | "maxLength" | "maxLengthBytes" | "deliveryLimit" | "deadLetterExchange" | "deadLetterRoutingKey",
  >(
    key: K,
    value: QueueSettings[K] | undefined,
  ) => {
    if (value === undefined) delete s[key];
    else s[key] = value;
  };
  set("messageTtl", lower(s.messageTtl, policy["message-ttl"]));
  set("expires", lower(s.expires, policy.expires));
  set("maxLength", lower(s.maxLength, policy["max-length"]));
  set("maxLengthBytes", lower(s.maxLengthBytes, policy["max-length-bytes"]));
  set("deadLetterExchange", stringOr(s.deadLetterExchange, policy["dead-letter-exchange"]));
  set("deadLetterRoutingKey", stringOr(s.deadLetterRoutingKey, policy["dead-letter-routing-key"]));
  if (args["x-overflow"] === undefined && typeof policy.overflow === "string") {
    const o = policy.overflow;
    if (o === "reject-publish" || (o === "reject-publish-dlx" && s.queueType !== "quorum")) s.overflow = o;
  }
  // A quorum queue's limit defaults to RabbitMQ 4's; a policy may lower it.
  const arg = args["x-delivery-limit"];
  const explicit = s.queueType === "quorum" && arg !== undefined ? s.deliveryLimit : undefined;
  const limit = lower(explicit, policy["delivery-limit"]);
  set("deliveryLimit", limit ?? (s.queueType === "quorum" && arg === undefined ? QUORUM_DELIVERY_LIMIT : undefined));
  return s;
}
