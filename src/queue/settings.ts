import type { FieldTable, FieldValue } from "../amqp";

export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";

/**
 * What a queue's arguments (and later its policy) switch on, read once at declare and at wake-up.
 * Values were validated at declare (queue/arguments.ts); here they are only read.
 */
export interface QueueSettings {
  messageTtl?: number | undefined;
  expires?: number | undefined;
  maxLength?: number | undefined;
  maxLengthBytes?: number | undefined;
  overflow: Overflow;
  deadLetterExchange?: string | undefined;
  deadLetterRoutingKey?: string | undefined;
  maxPriority?: number | undefined;
  singleActiveConsumer: boolean;
  queueType: "classic" | "quorum" | "stream";
  deliveryLimit?: number | undefined;
}

function integer(v: FieldValue | undefined): number | undefined {
  if (!v) return undefined;
  switch (v.type) {
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
      return v.value;
    case "l":
    case "L":
    case "T":
      return Number(v.value);
    default:
      return undefined;
  }
}

function text(v: FieldValue | undefined): string | undefined {
  if (!v) return undefined;
  if (v.type === "S") return v.value;
  if (v.type === "x") return new TextDecoder().decode(v.value);
  return undefined;
}

/** RabbitMQ 4's default delivery limit for quorum queues. */
export const QUORUM_DELIVERY_LIMIT = 20;

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

function orPolicy<T>(arg: T | undefined, policy: unknown, ok: (v: unknown) => v is T): T | undefined {
  return arg !== undefined ? arg : ok(policy) ? policy : undefined;
}

const isString = (v: unknown): v is string => typeof v === "string";

/** Settings from the queue's arguments and the definition of the policy that applies to it. */
export function settingsOf(args: FieldTable, policy: Readonly<Record<string, unknown>> = {}): QueueSettings {
  const base = argumentSettings(args);
  const overflow = orPolicy(text(args["x-overflow"]), policy.overflow, isString);
  return {
    ...base,
    messageTtl: lower(base.messageTtl, policy["message-ttl"]),
    expires: lower(base.expires, policy.expires),
    maxLength: lower(base.maxLength, policy["max-length"]),
    maxLengthBytes: lower(base.maxLengthBytes, policy["max-length-bytes"]),
    overflow: overflow === "reject-publish" || overflow === "reject-publish-dlx" ? overflow : "drop-head",
    deadLetterExchange: orPolicy(base.deadLetterExchange, policy["dead-letter-exchange"], isString),
    deadLetterRoutingKey: orPolicy(base.deadLetterRoutingKey, policy["dead-letter-routing-key"], isString),
    deliveryLimit: deliveryLimit(args, base.queueType, policy["delivery-limit"]),
  };
}

/** x-delivery-limit (-1: none) and the policy's, the lower; quorum queues default to RabbitMQ 4's. */
function deliveryLimit(args: FieldTable, type: QueueSettings["queueType"], policy: unknown): number | undefined {
  const arg = integer(args["x-delivery-limit"]);
  const limit = lower(arg !== undefined && arg >= 0 ? arg : undefined, policy);
  if (limit !== undefined) return limit;
  return type === "quorum" && arg === undefined ? QUORUM_DELIVERY_LIMIT : undefined;
}

function argumentSettings(args: FieldTable): QueueSettings {
  const queueType = text(args["x-queue-type"]);
  const type = queueType === "quorum" || queueType === "stream" ? queueType : "classic";
  const overflow = text(args["x-overflow"]);
  const sac = args["x-single-active-consumer"];
  const deliveryLimit = integer(args["x-delivery-limit"]);
  return {
    messageTtl: integer(args["x-message-ttl"]),
    expires: integer(args["x-expires"]),
    maxLength: integer(args["x-max-length"]),
    maxLengthBytes: integer(args["x-max-length-bytes"]),
    overflow: overflow === "reject-publish" || overflow === "reject-publish-dlx" ? overflow : "drop-head",
    deadLetterExchange: text(args["x-dead-letter-exchange"]),
    deadLetterRoutingKey: text(args["x-dead-letter-routing-key"]),
    maxPriority: integer(args["x-max-priority"]),
    singleActiveConsumer: sac?.type === "t" && sac.value,
    queueType: type,
    // Quorum queues have a delivery limit unless told otherwise (RabbitMQ 4); -1 means none.
    deliveryLimit:
      deliveryLimit !== undefined ? (deliveryLimit < 0 ? undefined : deliveryLimit) : type === "quorum" ? QUORUM_DELIVERY_LIMIT : undefined,
  };
}
