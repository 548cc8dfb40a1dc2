import { type FieldTable, type FieldValue, fieldInteger } from "../amqp";
import { type BrokerError, preconditionFailed } from "../core/errors";
import { atom, byteString, type ErlTerm, int, pretty, rabbitType, str, text, tuple } from "../core/erlang-terms";

/**
 * Queue and consumer arguments as RabbitMQ 3.13/4.x checks them: which ones each queue type takes
 * (its capabilities), RabbitMQ's check of each value, and what the checked values mean for the
 * queue (`queueSettings`). The texts are RabbitMQ's: "invalid arg 'x-message-ttl' for queue 'q'
 * in vhost '/': {value_negative,-1}" (rabbit_amqqueue:check_declare_arguments, which prints the
 * reason as an Erlang term).
 */

export type QueueType = "classic" | "quorum" | "stream";

export interface QueueTypeSpec {
  /** RabbitMQ's module, as its texts name the type. */
  module: string;
  /** The declare arguments the type takes, in RabbitMQ's order (also the order a redeclare compares them in). */
  arguments: readonly string[];
  /** The basic.consume arguments it takes. */
  consumerArguments: readonly string[];
  /** May be declared with an empty name (a server-named queue). */
  serverNamed: boolean;
  /** Durable, not exclusive, not auto-delete (rabbit_queue_type_util's checks at declare). */
  replicated: boolean;
}

/** RabbitMQ 4.x's queue types (capabilities/0 of rabbit_classic_queue, rabbit_quorum_queue, rabbit_stream_queue). */
export const QUEUE_TYPES: Readonly<Record<QueueType, QueueTypeSpec>> = {
  classic: {
    module: "rabbit_classic_queue",
    arguments: [
      "x-expires",
      "x-message-ttl",
      "x-dead-letter-exchange",
      "x-dead-letter-routing-key",
      "x-max-length",
      "x-max-length-bytes",
      "x-max-priority",
      "x-overflow",
      "x-queue-mode",
      "x-queue-version",
      "x-single-active-consumer",
      "x-queue-type",
      "x-queue-master-locator",
      "x-queue-leader-locator",
    ],
    consumerArguments: ["x-priority"],
    serverNamed: true,
    replicated: false,
  },
  quorum: {
    module: "rabbit_quorum_queue",
    arguments: [
      "x-dead-letter-exchange",
      "x-dead-letter-routing-key",
      "x-dead-letter-strategy",
      "x-expires",
      "x-max-length",
      "x-max-length-bytes",
      "x-max-in-memory-length",
      "x-max-in-memory-bytes",
      "x-overflow",
      "x-single-active-consumer",
      "x-queue-type",
      "x-quorum-initial-group-size",
      "x-delivery-limit",
      "x-message-ttl",
      "x-queue-leader-locator",
    ],
    consumerArguments: ["x-priority"],
    serverNamed: false,
    replicated: true,
  },
  stream: {
    module: "rabbit_stream_queue",
    arguments: [
      "x-max-length-bytes",
      "x-queue-type",
      "x-max-age",
      "x-stream-max-segment-size-bytes",
      "x-stream-filter-size-bytes",
      "x-initial-cluster-size",
      "x-queue-leader-locator",
    ],
    consumerArguments: ["x-stream-offset", "x-stream-filter", "x-stream-match-unfiltered"],
    serverNamed: false,
    replicated: true,
  },
};

/** One argument RabbitMQ checks the value of: null when fine, else the reason it prints. */
export interface ArgumentCheck {
  name: string;
  check(value: FieldValue, all: FieldTable): ErlTerm | null;
}

// ---------------------------------------------------------------- checks (rabbit_amqqueue)

/** rabbit_misc:check_expiry's bound: 10 years in milliseconds. */
export const MAX_EXPIRY_MS = 315_360_000_000n;
/** ?MAX_SUPPORTED_PRIORITY. */
export const MAX_PRIORITY = 255n;
/** ?MAX_STREAM_MAX_SEGMENT_SIZE. */
const MAX_STREAM_SEGMENT_SIZE = 3_000_000_000n;

const unacceptable = (v: FieldValue) => tuple(atom("unacceptable_type"), atom(rabbitType(v.type)));

function checkInt(v: FieldValue): ErlTerm | null {
  return fieldInteger(v) === null ? str(`expected integer, got ${rabbitType(v.type)}`) : null;
}

/** An integer check, then `more` on the value. */
const integer =
  (more: (n: bigint) => ErlTerm | null = () => null) =>
  (v: FieldValue): ErlTerm | null => {
    const n = fieldInteger(v);
    return n === null ? checkInt(v) : more(n);
  };

const nonNegative = (more: (n: bigint) => ErlTerm | null = () => null) =>
  integer((n) => (n < 0n ? tuple(atom("value_negative"), int(n)) : more(n)));

function checkExpiry(n: bigint): ErlTerm | null {
  if (n < 0n) return tuple(atom("value_negative"), int(n));
  if (n > MAX_EXPIRY_MS) return tuple(atom("value_too_large"), int(n));
  return null;
}

/** A longstr among `values`; another longstr gives `invalid(value)`, another type {unacceptable_type,T}. */
const oneOf =
  (values: readonly string[], invalid: (value: string) => ErlTerm) =>
  (v: FieldValue): ErlTerm | null => {
    if (v.type !== "S") return unacceptable(v);
    return values.includes(v.value) ? null : invalid(v.value);
  };

const bool = (v: FieldValue): ErlTerm | null => (v.type === "t" ? null : unacceptable(v));

/** rabbit_amqqueue:check_max_age: digits (> 0) and a unit among Y M D h m s; its value in ms. */
export function maxAgeMs(value: string): number | null {
  const m = /^([0-9]+)(.*)$/s.exec(value);
  if (!m) return null;
  const n = Number(m[1]);
  const unit = UNIT_MS[m[2]!];
  return n > 0 && unit !== undefined ? n * unit : null;
}

const UNIT_MS: Record<string, number> = {
  Y: 365 * 86_400_000,
  M: 30 * 86_400_000,
  D: 86_400_000,
  h: 3_600_000,
  m: 60_000,
  s: 1000,
};

const LEADER_LOCATORS = ["client-local", "balanced", "random", "least-leaders", "min-masters"];
const KNOWN_QUEUE_TYPES = ["classic", "quorum", "stream", "undefined"];

/**
 * RabbitMQ's checks of declare arguments (rabbit_amqqueue:declare_args/0), in its order: the
 * first bad one is the one reported. Only the arguments of the queue's type are checked; the
 * others known to some type are refused afterwards, whatever their value. x-delivery-limit and
 * x-queue-master-locator have no check in RabbitMQ: any value is taken.
 */
export const QUEUE_ARGUMENTS: readonly ArgumentCheck[] = [
  { name: "x-expires", check: integer((n) => (n === 0n ? tuple(atom("value_zero"), int(n)) : checkExpiry(n))) },
  { name: "x-message-ttl", check: integer(checkExpiry) },
  // Its type was checked before (validateDeadLetterExchangeType), as RabbitMQ's channel does.
  { name: "x-dead-letter-exchange", check: (v) => (v.type === "S" ? null : unacceptable(v)) },
  {
    name: "x-dead-letter-routing-key",
    check: (v, all) => {
      if (v.type !== "S") return unacceptable(v);
      return all["x-dead-letter-exchange"] === undefined ? atom("routing_key_but_no_dlx_defined") : null;
    },
  },
  { name: "x-dead-letter-strategy", check: oneOf(["at-most-once", "at-least-once"], () => atom("invalid_dlx_strategy")) },
  { name: "x-max-length", check: nonNegative() },
  { name: "x-max-length-bytes", check: nonNegative() },
  { name: "x-max-in-memory-length", check: nonNegative() },
  { name: "x-max-in-memory-bytes", check: nonNegative() },
  {
    name: "x-max-priority",
    check: nonNegative((n) => (n > MAX_PRIORITY ? tuple(atom("max_value_exceeded"), int(n)) : null)),
  },
  { name: "x-overflow", check: oneOf(["drop-head", "reject-publish", "reject-publish-dlx"], () => atom("invalid_overflow")) },
  { name: "x-queue-mode", check: oneOf(["default", "lazy"], (m) => str(`unsupported queue mode '${m}'`)) },
  {
    name: "x-queue-version",
    check: nonNegative((n) => (n === 1n || n === 2n ? null : str(`unsupported queue version '${n}'`))),
  },
  { name: "x-single-active-consumer", check: bool },
  { name: "x-queue-type", check: oneOf(KNOWN_QUEUE_TYPES, (t) => str(`unsupported queue type '${t}'`)) },
  { name: "x-quorum-initial-group-size", check: nonNegative((n) => (n === 0n ? tuple(atom("value_zero"), int(n)) : null)) },
  {
    name: "x-max-age",
    check: (v) => {
      if (v.type !== "S") return unacceptable(v);
      return maxAgeMs(v.value) === null ? atom("invalid_max_age") : null;
    },
  },
  { name: "x-stream-max-segment-size-bytes", check: nonNegative() },
  { name: "x-stream-filter-size-bytes", check: nonNegative() },
  { name: "x-initial-cluster-size", check: nonNegative((n) => (n === 0n ? tuple(atom("value_zero"), int(n)) : null)) },
  { name: "x-queue-leader-locator", check: oneOf(LEADER_LOCATORS, () => atom("invalid_queue_locator_arg")) },
];

/** RabbitMQ's checks of basic.consume arguments (rabbit_amqqueue:consume_args/0, 4.x). */
export const CONSUMER_ARGUMENTS: readonly ArgumentCheck[] = [
  { name: "x-priority", check: checkInt },
  {
    // rabbit_stream_queue:parse_offset_arg: first, last, next, a timestamp, an offset, or a max-age ("1D").
    name: "x-stream-offset",
    check: (v) => {
      if ((v.type === "S" || v.type === "x") && ["first", "last", "next"].includes(text(rawBytes(v)))) return null;
      if (v.type !== "S" || maxAgeMs(v.value) !== null) return null;
      return tuple(atom("invalid_stream_offset_arg"), tuple(atom("longstr"), { t: "bin", v: byteString(v.value) }));
    },
  },
];

function rawBytes(v: FieldValue & { type: "S" | "x" }): string {
  if (v.type === "S") return byteString(v.value);
  let s = "";
  for (let i = 0; i < v.value.length; i++) s += String.fromCharCode(v.value[i]!);
  return s;
}

// ---------------------------------------------------------------- validation

/** The queue type a declare's (valid) arguments ask for; classic without x-queue-type. */
export function queueTypeOf(args: FieldTable): QueueType {
  const t = args["x-queue-type"];
  return t?.type === "S" && (t.value === "quorum" || t.value === "stream") ? t.value : "classic";
}

/** The arguments a redeclare compares for a queue of this type (rabbit_amqqueue:assert_args_equivalence). */
export function equivalenceArguments(type: QueueType): readonly string[] {
  return QUEUE_TYPES[type].arguments;
}

/** "invalid arg 'x-…' for queue 'q' in vhost '/': <reason>", RabbitMQ's ~255p of the reason. */
function invalidArg(name: string, what: string, reason: ErlTerm): BrokerError {
  const prefix = `invalid arg '${name}' for ${what}: `;
  return preconditionFailed(prefix + text(pretty(reason, byteString(prefix).length + 1, 255)));
}

/** Runs `checks` (those of the type) over `args`, then refuses the arguments only other types take. */
function checkArguments(
  args: FieldTable,
  what: string,
  type: QueueType,
  checks: readonly ArgumentCheck[],
  taken: (spec: QueueTypeSpec) => readonly string[],
): BrokerError | null {
  const mine = taken(QUEUE_TYPES[type]);
  for (const { name, check } of checks) {
    const value = args[name];
    if (value === undefined || !mine.includes(name)) continue;
    const reason = check(value, args);
    if (reason) return invalidArg(name, what, reason);
  }
  const others = new Set(Object.values(QUEUE_TYPES).flatMap(taken));
  for (const name of mine) others.delete(name);
  for (const name of Object.keys(args)) {
    if (others.has(name)) return preconditionFailed(`invalid arg '${name}' for ${what} of queue type ${QUEUE_TYPES[type].module}`);
  }
  return null;
}

/**
 * A new queue's arguments as rabbit_amqqueue:check_declare_arguments checks them: x-queue-type
 * first, then each argument its type takes, then those only other types take. `what` is the
 * queue as RabbitMQ names it (describeQueue). The first problem, or null.
 */
export function validateQueueArguments(args: FieldTable, what: string): BrokerError | null {
  const type = args["x-queue-type"];
  if (type !== undefined) {
    const reason = QUEUE_ARGUMENTS.find((a) => a.name === "x-queue-type")!.check(type, args);
    if (reason) return invalidArg("x-queue-type", what, reason);
  }
  return checkArguments(args, what, queueTypeOf(args), QUEUE_ARGUMENTS, (t) => t.arguments);
}

/**
 * Everything RabbitMQ checks before it creates a queue, after permissions: the arguments, then
 * the queue type's own rules (quorum and stream queues are durable, not exclusive, not
 * auto-delete: "invalid property 'non-durable' for queue 'q' in vhost '/'"). Stream queues pass
 * RabbitMQ's checks and are then refused: Warren has none yet.
 */
export function validateQueueDeclaration(
  d: { durable: boolean; exclusive: boolean; autoDelete: boolean; arguments: FieldTable },
  what: string,
): BrokerError | null {
  const invalid = validateQueueArguments(d.arguments, what);
  if (invalid) return invalid;
  const type = queueTypeOf(d.arguments);
  if (!QUEUE_TYPES[type].replicated) return null;
  // RabbitMQ's channel declares an exclusive queue non-durable whatever the client asked.
  if (d.autoDelete) return preconditionFailed(`invalid property 'auto-delete' for ${what}`);
  if (d.exclusive) return preconditionFailed(`invalid property 'exclusive-owner' for ${what}`);
  if (!d.durable) return preconditionFailed(`invalid property 'non-durable' for ${what}`);
  if (type !== "stream") return null;
  const segment = d.arguments["x-stream-max-segment-size-bytes"];
  if (segment && (fieldInteger(segment) ?? 0n) > MAX_STREAM_SEGMENT_SIZE) {
    return preconditionFailed("Exceeded max value for x-stream-max-segment-size-bytes");
  }
  const filter = d.arguments["x-stream-filter-size-bytes"];
  if (filter) {
    const size = fieldInteger(filter);
    if (size === null) return preconditionFailed("Invalid type for x-stream-filter-size-bytes");
    if (size < 16n || size > 255n) return preconditionFailed("Invalid value for x-stream-filter-size-bytes");
  }
  return preconditionFailed(`cannot declare ${what} of type 'stream': Warren does not support stream queues yet`);
}

/**
 * RabbitMQ's channel checks the type of x-dead-letter-exchange before anything else about a new
 * queue's arguments, with a text of its own.
 */
export function validateDeadLetterExchangeType(args: FieldTable, what: string): BrokerError | null {
  const dlx = args["x-dead-letter-exchange"];
  if (dlx === undefined || dlx.type === "S") return null;
  return preconditionFailed(`invalid type '${rabbitType(dlx.type)}' for arg 'x-dead-letter-exchange' in ${what}`);
}

/** Quorum and stream queues cannot be server-named (rabbit_channel, before permissions are checked). */
export function validateServerNamed(args: FieldTable): BrokerError | null {
  const spec = QUEUE_TYPES[queueTypeOf(args)];
  return spec.serverNamed ? null : preconditionFailed(`Cannot declare a server-named queue for type ${spec.module}`);
}

/** basic.consume's arguments for a queue of `type` (rabbit_amqqueue:check_consume_arguments). */
export function validateConsumerArguments(args: FieldTable, what: string, type: QueueType): BrokerError | null {
  return checkArguments(args, what, type, CONSUMER_ARGUMENTS, (t) => t.consumerArguments);
}

// ---------------------------------------------------------------- what the arguments mean

export type Overflow = "drop-head" | "reject-publish" | "reject-publish-dlx";

/** What a queue's arguments switch on, read from arguments validated at declare. */
export interface QueueSettings {
  queueType: QueueType;
  /** x-message-ttl, ms. */
  messageTtl?: number;
  /** x-expires, ms (≥ 1). */
  expires?: number;
  maxLength?: number;
  maxLengthBytes?: number;
  /** drop-head without x-overflow; a quorum queue takes reject-publish-dlx as drop-head (RabbitMQ logs a warning). */
  overflow: Overflow;
  deadLetterExchange?: string;
  deadLetterRoutingKey?: string;
  /** Quorum queues: x-dead-letter-strategy (at-most-once without it). */
  deadLetterStrategy: "at-most-once" | "at-least-once";
  /** x-max-priority as given (0–255): priorities 0..maxPriority. */
  maxPriority?: number;
  singleActiveConsumer: boolean;
  /** Quorum queues: x-delivery-limit; 20 without it or when it is not an integer (RabbitMQ 4); a negative limit: none. */
  deliveryLimit?: number;
}

/** RabbitMQ 4's delivery limit for quorum queues without x-delivery-limit. */
export const QUORUM_DELIVERY_LIMIT = 20;

const num = (v: FieldValue | undefined): number | undefined => {
  const n = v && fieldInteger(v);
  return n === null || n === undefined ? undefined : Number(n);
};
const longstr = (v: FieldValue | undefined): string | undefined => (v?.type === "S" ? v.value : undefined);

/**
 * The typed settings of a queue's arguments, for the queue to act on. Arguments are validated
 * at declare; a value that is not what it should be (a queue declared before validation) is
 * read as absent.
 */
export function queueSettings(args: FieldTable): QueueSettings {
  const queueType = queueTypeOf(args);
  const overflow = longstr(args["x-overflow"]);
  const s: QueueSettings = {
    queueType,
    overflow: overflow === "reject-publish" || (overflow === "reject-publish-dlx" && queueType !== "quorum") ? overflow : "drop-head",
    deadLetterStrategy: longstr(args["x-dead-letter-strategy"]) === "at-least-once" ? "at-least-once" : "at-most-once",
    singleActiveConsumer: args["x-single-active-consumer"]?.type === "t" && args["x-single-active-consumer"].value,
  };
  const set = <K extends keyof QueueSettings>(key: K, value: QueueSettings[K] | undefined, ok = true) => {
    if (value !== undefined && ok) s[key] = value;
  };
  const ttl = num(args["x-message-ttl"]);
  set("messageTtl", ttl, ttl !== undefined && ttl >= 0);
  const expires = num(args["x-expires"]);
  set("expires", expires, expires !== undefined && expires >= 1);
  const maxLength = num(args["x-max-length"]);
  set("maxLength", maxLength, maxLength !== undefined && maxLength >= 0);
  const maxBytes = num(args["x-max-length-bytes"]);
  set("maxLengthBytes", maxBytes, maxBytes !== undefined && maxBytes >= 0);
  set("deadLetterExchange", longstr(args["x-dead-letter-exchange"]));
  set("deadLetterRoutingKey", longstr(args["x-dead-letter-routing-key"]));
  const priority = num(args["x-max-priority"]);
  if (priority !== undefined && priority >= 0) s.maxPriority = Math.min(priority, Number(MAX_PRIORITY));
  if (queueType === "quorum") {
    const n = num(args["x-delivery-limit"]) ?? QUORUM_DELIVERY_LIMIT;
    if (n >= 0) s.deliveryLimit = n;
  }
  return s;
}

/** A consumer's x-priority (validated at consume); 0 without it. */
export function consumerPriority(args: FieldTable): number {
  return num(args["x-priority"]) ?? 0;
}
