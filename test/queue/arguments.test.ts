import { describe, expect, it } from "vitest";
import { type FieldTable, type FieldValue, ReplyCode } from "../../src/amqp";
import {
  QUEUE_TYPES,
  queueSettings,
  consumerPriority,
  validateConsumerArguments,
  validateDeadLetterExchangeType,
  validateQueueArguments,
  validateQueueDeclaration,
  validateServerNamed,
} from "../../src/queue/arguments";
import { checkEquivalent } from "../../src/queue/declaration";
import type { QueueDecl } from "../../src/queue/types";

// Expected texts are RabbitMQ's, captured from RabbitMQ 3.10.8 with amqplib (the same values
// declared there), except where a comment says 4.x (read from RabbitMQ 4.2's source).

const Q = "queue 'q' in vhost '/'";
const S = (value: string): FieldValue => ({ type: "S", value });
const b = (value: number): FieldValue => ({ type: "b", value });
const l = (value: bigint): FieldValue => ({ type: "l", value });
const T = (value: bigint): FieldValue => ({ type: "T", value });
const bool = (value: boolean): FieldValue => ({ type: "t", value });
const x = (text: string): FieldValue => ({ type: "x", value: new TextEncoder().encode(text) });

/** An integer argument refuses every non-integer type with this text, and takes every integer type. */
const NOT_INTEGERS: [FieldValue, string][] = [
  [S("10"), "longstr"],
  [bool(true), "bool"],
  [{ type: "d", value: 1.5 }, "double"],
  [{ type: "f", value: 1.5 }, "float"],
  [{ type: "D", value: { scale: 1, value: 15 } }, "decimal"],
  [T(10n), "timestamp"],
  [{ type: "A", value: [b(1)] }, "array"],
  [{ type: "F", value: { a: b(1) } }, "table"],
  [{ type: "V", value: null }, "void"],
  [x("10"), "binary"],
];
const INTEGERS: FieldValue[] = [
  b(2),
  { type: "B", value: 2 },
  { type: "s", value: 2 },
  { type: "u", value: 2 },
  { type: "I", value: 2 },
  { type: "i", value: 2 },
  l(2n),
  { type: "L", value: 2n },
];

const INTEGER_ARGUMENTS = [
  "x-message-ttl",
  "x-expires",
  "x-max-length",
  "x-max-length-bytes",
  "x-max-priority",
  "x-queue-version",
] as const;

/**
 * [arguments, RabbitMQ's reason after "invalid arg '<key>' for queue 'q' in vhost '/': " or null
 * when accepted, the key when it is not the first one].
 */
const CASES: [FieldTable, string | null, string?][] = [
  [{ "x-message-ttl": b(-1) }, "{value_negative,-1}"],
  [{ "x-message-ttl": b(0) }, null],
  [{ "x-message-ttl": l(315_360_000_000n) }, null],
  [{ "x-message-ttl": l(315_360_000_001n) }, "{value_too_large,315360000001}"],
  [{ "x-message-ttl": l(4_294_967_296n) }, null],
  [{ "x-expires": b(-1) }, "{value_negative,-1}"],
  [{ "x-expires": b(0) }, "{value_zero,0}"],
  [{ "x-expires": b(1) }, null],
  [{ "x-expires": l(315_360_000_001n) }, "{value_too_large,315360000001}"],
  [{ "x-max-length": b(-1) }, "{value_negative,-1}"],
  [{ "x-max-length": b(0) }, null],
  [{ "x-max-length": l(315_360_000_001n) }, null],
  [{ "x-max-length-bytes": b(-1) }, "{value_negative,-1}"],
  [{ "x-max-length-bytes": b(0) }, null],
  [{ "x-max-priority": b(-1) }, "{value_negative,-1}"],
  [{ "x-max-priority": b(0) }, null],
  [{ "x-max-priority": { type: "s", value: 255 } }, null],
  [{ "x-max-priority": { type: "s", value: 256 } }, "{max_value_exceeded,256}"],
  [{ "x-max-priority": l(4_294_967_296n) }, "{max_value_exceeded,4294967296}"],
  [{ "x-queue-version": b(-1) }, "{value_negative,-1}"],
  [{ "x-queue-version": b(0) }, `"unsupported queue version '0'"`],
  [{ "x-queue-version": b(1) }, null],
  [{ "x-queue-version": b(2) }, null],
  [{ "x-queue-version": b(3) }, `"unsupported queue version '3'"`],
  [{ "x-overflow": S("foo") }, "invalid_overflow"],
  [{ "x-overflow": b(5) }, "{unacceptable_type,byte}"],
  [{ "x-overflow": x("drop-head") }, "{unacceptable_type,binary}"],
  [{ "x-overflow": S("drop-head") }, null],
  [{ "x-overflow": S("reject-publish") }, null],
  [{ "x-overflow": S("reject-publish-dlx") }, null],
  [{ "x-dead-letter-exchange": S("") }, null],
  [{ "x-dead-letter-exchange": S("nonexistent") }, null],
  [{ "x-dead-letter-routing-key": S("rk") }, "routing_key_but_no_dlx_defined"],
  [{ "x-dead-letter-routing-key": b(5) }, "{unacceptable_type,byte}"],
  [{ "x-dead-letter-routing-key": x("rk"), "x-dead-letter-exchange": S("dlx") }, "{unacceptable_type,binary}"],
  [{ "x-dead-letter-exchange": S("dlx"), "x-dead-letter-routing-key": S("rk") }, null],
  [{ "x-single-active-consumer": S("true") }, "{unacceptable_type,longstr}"],
  [{ "x-single-active-consumer": b(1) }, "{unacceptable_type,byte}"],
  [{ "x-single-active-consumer": bool(true) }, null],
  [{ "x-single-active-consumer": bool(false) }, null],
  [{ "x-queue-type": S("foo") }, `"unsupported queue type 'foo'"`],
  [{ "x-queue-type": S("") }, `"unsupported queue type ''"`],
  [{ "x-queue-type": b(5) }, "{unacceptable_type,byte}"],
  [{ "x-queue-type": x("classic") }, "{unacceptable_type,binary}"],
  [{ "x-queue-type": S("classic") }, null],
  // 4.x takes "undefined" as the default type (3.10: "unsupported queue type 'undefined'").
  [{ "x-queue-type": S("undefined") }, null],
  [{ "x-queue-mode": S("foo") }, `"unsupported queue mode 'foo'"`],
  [{ "x-queue-mode": b(5) }, "{unacceptable_type,byte}"],
  [{ "x-queue-mode": S("lazy") }, null],
  [{ "x-queue-mode": S("default") }, null],
  [{ "x-queue-master-locator": S("min-masters") }, null],
  // 4.x: classic queues take x-queue-leader-locator (3.10: "... of queue type rabbit_classic_queue").
  [{ "x-queue-leader-locator": S("balanced") }, null],
  [{ "x-queue-leader-locator": S("foo") }, "invalid_queue_locator_arg"],
  [{ "x-unknown": S("whatever") }, null],
  // Strings are printed as Erlang prints a list of the UTF-8 bytes: escaped, or as integers.
  [{ "x-queue-type": S('a\nb"c\\') }, `"unsupported queue type 'a\\nb\\"c\\\\'"`],
  [{ "x-queue-type": S("ü") }, `"unsupported queue type 'ü'"`],
  [
    { "x-queue-type": S("€") },
    "[117,110,115,117,112,112,111,114,116,101,100,32,113,117,101,117,101,32,116,121,112,101,32,39,226,130,172,39]",
  ],
  [
    { "x-queue-type": S("a\u0001") },
    "[117,110,115,117,112,112,111,114,116,101,100,32,113,117,101,117,101,32,116,121,112,101,32,39,97,1,39]",
  ],
  // Several bad ones: x-queue-type first, then RabbitMQ's table order, whatever the client's.
  [{ "x-message-ttl": b(-1), "x-expires": b(-1) }, "{value_negative,-1}", "x-expires"],
  [{ "x-overflow": S("foo"), "x-max-length": b(-1) }, "{value_negative,-1}", "x-max-length"],
  [{ "x-message-ttl": b(-1), "x-queue-type": S("foo") }, `"unsupported queue type 'foo'"`, "x-queue-type"],
  [
    { "x-single-active-consumer": b(1), "x-dead-letter-routing-key": S("a") },
    "routing_key_but_no_dlx_defined",
    "x-dead-letter-routing-key",
  ],
  [{ "x-queue-version": b(9), "x-queue-mode": S("x") }, `"unsupported queue mode 'x'"`, "x-queue-mode"],
  [{ "x-max-priority": { type: "s", value: 300 }, "x-max-length-bytes": b(-1) }, "{value_negative,-1}", "x-max-length-bytes"],
];

describe("queue arguments: RabbitMQ's checks and texts", () => {
  for (const name of INTEGER_ARGUMENTS) {
    it(`${name} takes every AMQP integer type and refuses the others: "expected integer, got <type>"`, () => {
      for (const [value, type] of NOT_INTEGERS) {
        const err = validateQueueArguments({ [name]: value }, Q);
        expect(err?.code).toBe(ReplyCode.PRECONDITION_FAILED);
        expect(err?.text).toBe(`invalid arg '${name}' for ${Q}: "expected integer, got ${type}"`);
      }
      for (const value of INTEGERS) expect(validateQueueArguments({ [name]: value }, Q)).toBeNull();
    });
  }

  it.each(CASES)("%o → %s", (args, reason, key = Object.keys(args)[0]) => {
    const err = validateQueueArguments(args, Q);
    if (reason === null) {
      expect(err).toBeNull();
      return;
    }
    expect(err?.code).toBe(ReplyCode.PRECONDITION_FAILED);
    expect(err?.text).toBe(`invalid arg '${key}' for ${Q}: ${reason}`);
  });

  it("an argument another queue type takes is refused whatever its value, after the value checks", () => {
    const classic = "of queue type rabbit_classic_queue";
    for (const name of [
      "x-delivery-limit",
      "x-dead-letter-strategy",
      "x-max-in-memory-length",
      "x-max-in-memory-bytes",
      "x-quorum-initial-group-size",
      "x-max-age",
      "x-stream-max-segment-size-bytes",
      "x-stream-filter-size-bytes",
      "x-initial-cluster-size",
    ]) {
      expect(validateQueueArguments({ [name]: b(5) }, Q)?.text).toBe(`invalid arg '${name}' for ${Q} ${classic}`);
      expect(validateQueueArguments({ [name]: S("x") }, Q)?.text).toBe(`invalid arg '${name}' for ${Q} ${classic}`);
    }
    expect(validateQueueArguments({ "x-delivery-limit": b(5), "x-message-ttl": b(-1) }, Q)?.text).toBe(
      `invalid arg 'x-message-ttl' for ${Q}: {value_negative,-1}`,
    );
    const quorum = { "x-queue-type": S("quorum") };
    for (const name of ["x-max-priority", "x-queue-mode", "x-queue-version", "x-queue-master-locator", "x-max-age"]) {
      expect(validateQueueArguments({ ...quorum, [name]: S("lazy") }, Q)?.text).toBe(
        `invalid arg '${name}' for ${Q} of queue type rabbit_quorum_queue`,
      );
    }
    // In the client's order.
    expect(validateQueueArguments({ ...quorum, "x-queue-mode": S("lazy"), "x-max-priority": b(5) }, Q)?.text).toBe(
      `invalid arg 'x-queue-mode' for ${Q} of queue type rabbit_quorum_queue`,
    );
    expect(validateQueueArguments({ "x-queue-type": S("stream"), "x-message-ttl": b(5) }, Q)?.text).toBe(
      `invalid arg 'x-message-ttl' for ${Q} of queue type rabbit_stream_queue`,
    );
  });

  it("quorum arguments: their checks, and any x-delivery-limit (RabbitMQ checks none)", () => {
    const quorum = (args: FieldTable) => validateQueueArguments({ "x-queue-type": S("quorum"), ...args }, Q)?.text ?? null;
    expect(quorum({ "x-dead-letter-strategy": S("foo") })).toBe(`invalid arg 'x-dead-letter-strategy' for ${Q}: invalid_dlx_strategy`);
    expect(quorum({ "x-dead-letter-strategy": b(5) })).toBe(`invalid arg 'x-dead-letter-strategy' for ${Q}: {unacceptable_type,byte}`);
    expect(quorum({ "x-dead-letter-strategy": S("at-least-once") })).toBeNull();
    expect(quorum({ "x-quorum-initial-group-size": b(0) })).toBe(`invalid arg 'x-quorum-initial-group-size' for ${Q}: {value_zero,0}`);
    expect(quorum({ "x-quorum-initial-group-size": b(-1) })).toBe(
      `invalid arg 'x-quorum-initial-group-size' for ${Q}: {value_negative,-1}`,
    );
    expect(quorum({ "x-max-in-memory-length": b(-1) })).toBe(`invalid arg 'x-max-in-memory-length' for ${Q}: {value_negative,-1}`);
    expect(quorum({ "x-queue-leader-locator": S("foo") })).toBe(`invalid arg 'x-queue-leader-locator' for ${Q}: invalid_queue_locator_arg`);
    expect(quorum({ "x-queue-leader-locator": S("client-local") })).toBeNull();
    for (const v of [b(5), b(-1), S("x")]) expect(quorum({ "x-delivery-limit": v })).toBeNull();
    for (const v of ["drop-head", "reject-publish", "reject-publish-dlx"]) expect(quorum({ "x-overflow": S(v) })).toBeNull();
    expect(quorum({ "x-single-active-consumer": bool(true), "x-message-ttl": b(5) })).toBeNull();
  });

  it("stream arguments: their checks", () => {
    const stream = (args: FieldTable) => validateQueueArguments({ "x-queue-type": S("stream"), ...args }, Q)?.text ?? null;
    expect(stream({ "x-max-age": S("1X") })).toBe(`invalid arg 'x-max-age' for ${Q}: invalid_max_age`);
    expect(stream({ "x-max-age": S("0D") })).toBe(`invalid arg 'x-max-age' for ${Q}: invalid_max_age`);
    // 3.10 crashes on "D" (541); 4.x's pattern needs a digit.
    expect(stream({ "x-max-age": S("D") })).toBe(`invalid arg 'x-max-age' for ${Q}: invalid_max_age`);
    expect(stream({ "x-max-age": b(5) })).toBe(`invalid arg 'x-max-age' for ${Q}: {unacceptable_type,byte}`);
    expect(stream({ "x-max-age": S("7D") })).toBeNull();
    expect(stream({ "x-stream-max-segment-size-bytes": b(-1) })).toBe(
      `invalid arg 'x-stream-max-segment-size-bytes' for ${Q}: {value_negative,-1}`,
    );
    expect(stream({ "x-initial-cluster-size": b(0) })).toBe(`invalid arg 'x-initial-cluster-size' for ${Q}: {value_zero,0}`);
    expect(stream({ "x-max-length-bytes": b(-1) })).toBe(`invalid arg 'x-max-length-bytes' for ${Q}: {value_negative,-1}`);
  });

  it("x-dead-letter-exchange's type has a text of its own (checked by RabbitMQ's channel first)", () => {
    expect(validateDeadLetterExchangeType({ "x-dead-letter-exchange": b(5) }, Q)?.text).toBe(
      `invalid type 'byte' for arg 'x-dead-letter-exchange' in ${Q}`,
    );
    expect(validateDeadLetterExchangeType({ "x-dead-letter-exchange": x("dlx") }, Q)?.text).toBe(
      `invalid type 'binary' for arg 'x-dead-letter-exchange' in ${Q}`,
    );
    expect(validateDeadLetterExchangeType({ "x-dead-letter-exchange": S("dlx") }, Q)).toBeNull();
    expect(validateDeadLetterExchangeType({}, Q)).toBeNull();
  });

  it("a very long queue name: the reason is laid out as io_lib's ~255p does (after RabbitMQ's 255-byte cut)", () => {
    // Captured from Erlang: io_lib:format("invalid arg '~s' for ~s: ~255p", [...]).
    const what = `queue '${"q".repeat(230)}' in vhost '/'`;
    const prefix = `invalid arg 'x-message-ttl' for ${what}: `;
    expect(prefix.length).toBe(285);
    expect(validateQueueArguments({ "x-message-ttl": b(-1) }, what)?.text).toBe(`${prefix}{value_negative,\n${" ".repeat(286)}-1}`);
  });
});

describe("queue declaration: the queue type's own rules", () => {
  const decl = (args: FieldTable, flags: Partial<{ durable: boolean; exclusive: boolean; autoDelete: boolean }> = {}) =>
    validateQueueDeclaration({ durable: true, exclusive: false, autoDelete: false, arguments: args, ...flags }, Q)?.text ?? null;
  const quorum = { "x-queue-type": S("quorum") };
  const stream = { "x-queue-type": S("stream") };

  it.each([
    [quorum, {}, null],
    [quorum, { durable: false }, `invalid property 'non-durable' for ${Q}`],
    [quorum, { exclusive: true }, `invalid property 'exclusive-owner' for ${Q}`],
    [quorum, { exclusive: true, durable: false }, `invalid property 'exclusive-owner' for ${Q}`],
    [quorum, { autoDelete: true }, `invalid property 'auto-delete' for ${Q}`],
    [quorum, { autoDelete: true, exclusive: true, durable: false }, `invalid property 'auto-delete' for ${Q}`],
    // Arguments come first.
    [{ ...quorum, "x-max-priority": b(5) }, { durable: false }, `invalid arg 'x-max-priority' for ${Q} of queue type rabbit_quorum_queue`],
    [{ ...quorum, "x-message-ttl": b(-1) }, { durable: false }, `invalid arg 'x-message-ttl' for ${Q}: {value_negative,-1}`],
    [stream, { durable: false }, `invalid property 'non-durable' for ${Q}`],
    [stream, { exclusive: true }, `invalid property 'exclusive-owner' for ${Q}`],
    [stream, { autoDelete: true }, `invalid property 'auto-delete' for ${Q}`],
    [{ ...stream, "x-stream-max-segment-size-bytes": l(3_000_000_001n) }, {}, "Exceeded max value for x-stream-max-segment-size-bytes"],
    [{ ...stream, "x-stream-filter-size-bytes": b(15) }, {}, "Invalid value for x-stream-filter-size-bytes"],
    // Stream queues pass RabbitMQ's checks, then Warren refuses them.
    [stream, {}, `cannot declare ${Q} of type 'stream': Warren does not support stream queues yet`],
    [{}, { durable: false, exclusive: true, autoDelete: true }, null],
  ] as const)("%o %o → %s", (args, flags, text) => {
    expect(decl(args as FieldTable, flags)).toBe(text);
  });

  it("quorum and stream queues cannot be server-named", () => {
    expect(validateServerNamed(quorum)?.text).toBe("Cannot declare a server-named queue for type rabbit_quorum_queue");
    expect(validateServerNamed(stream)?.text).toBe("Cannot declare a server-named queue for type rabbit_stream_queue");
    expect(validateServerNamed({ "x-queue-type": S("classic") })).toBeNull();
    expect(validateServerNamed({})).toBeNull();
  });
});

describe("consumer arguments", () => {
  const consume = (args: FieldTable, type: "classic" | "quorum" = "classic") => validateConsumerArguments(args, Q, type)?.text ?? null;

  it.each([
    [{ "x-priority": S("high") }, `invalid arg 'x-priority' for ${Q}: "expected integer, got longstr"`],
    [{ "x-priority": { type: "d", value: 1.5 } }, `invalid arg 'x-priority' for ${Q}: "expected integer, got double"`],
    [{ "x-priority": bool(true) }, `invalid arg 'x-priority' for ${Q}: "expected integer, got bool"`],
    [{ "x-priority": T(7n) }, `invalid arg 'x-priority' for ${Q}: "expected integer, got timestamp"`],
    [{ "x-priority": b(5) }, null],
    [{ "x-priority": b(-5) }, null],
    [{ "x-priority": l(2n ** 40n) }, null],
    [{ "x-priority": { type: "i", value: 7 } }, null],
    [{ "x-stream-offset": S("first") }, `invalid arg 'x-stream-offset' for ${Q} of queue type rabbit_classic_queue`],
    [{ "x-stream-offset": b(5) }, `invalid arg 'x-stream-offset' for ${Q} of queue type rabbit_classic_queue`],
    // 4.x: x-stream-filter belongs to streams (3.10 did not know it); x-credit and x-cancel-on-ha-failover to no type.
    [{ "x-stream-filter": S("a") }, `invalid arg 'x-stream-filter' for ${Q} of queue type rabbit_classic_queue`],
    [{ "x-credit": { type: "F", value: { credit: b(5) } } }, null],
    [{ "x-cancel-on-ha-failover": S("yes") }, null],
    [{ "x-stream-offset": S("first"), "x-priority": S("high") }, `invalid arg 'x-priority' for ${Q}: "expected integer, got longstr"`],
  ] as [FieldTable, string | null][])("%o → %s", (args, text) => {
    expect(consume(args)).toBe(text);
  });

  it("on a quorum queue the text names its type", () => {
    expect(consume({ "x-stream-offset": S("first") }, "quorum")).toBe(
      `invalid arg 'x-stream-offset' for ${Q} of queue type rabbit_quorum_queue`,
    );
    expect(consume({ "x-priority": S("high") }, "quorum")).toBe(`invalid arg 'x-priority' for ${Q}: "expected integer, got longstr"`);
  });

  it("on a stream, x-stream-offset is checked (rabbit_stream_queue:parse_offset_arg)", () => {
    const stream = (v: FieldValue) => validateConsumerArguments({ "x-stream-offset": v }, Q, "stream")?.text ?? null;
    for (const v of [S("first"), S("last"), S("next"), S("1D"), T(5n), l(42n), x("first")]) expect(stream(v)).toBeNull();
    expect(stream(S("foo"))).toBe(`invalid arg 'x-stream-offset' for ${Q}: {invalid_stream_offset_arg,{longstr,<<"foo">>}}`);
    expect(validateConsumerArguments({ "x-priority": b(1) }, Q, "stream")?.text).toBe(
      `invalid arg 'x-priority' for ${Q} of queue type rabbit_stream_queue`,
    );
  });

  it("consumerPriority reads x-priority", () => {
    expect(consumerPriority({})).toBe(0);
    expect(consumerPriority({ "x-priority": b(-3) })).toBe(-3);
    expect(consumerPriority({ "x-priority": { type: "i", value: 10 } })).toBe(10);
  });
});

describe("redeclare equivalence, as rabbit_misc:assert_args_equivalence", () => {
  const decl = (args: FieldTable, flags: Partial<QueueDecl> = {}): QueueDecl => ({
    vhost: "/",
    name: "q",
    durable: false,
    exclusive: false,
    autoDelete: false,
    arguments: args,
    ...flags,
  });
  const compare = (current: FieldTable, wanted: FieldTable, flags: [Partial<QueueDecl>, Partial<QueueDecl>] = [{}, {}]) =>
    checkEquivalent(decl(current, flags[0]), decl(wanted, flags[1]));
  const ineq = (arg: string, rest: string) => `inequivalent arg '${arg}' for ${Q}: ${rest}`;
  const quorum = { "x-queue-type": S("quorum") };

  it.each([
    [{ "x-max-length": b(10) }, { "x-max-length": b(20) }, ineq("x-max-length", "received '20' but current is '10'")],
    [{ "x-max-length": b(10) }, {}, ineq("x-max-length", "received none but current is the value '10' of type 'byte'")],
    [{}, { "x-max-length": b(10) }, ineq("x-max-length", "received the value '10' of type 'byte' but current is none")],
    [{ "x-max-length": b(10) }, { "x-max-length": l(10n) }, null],
    [{ "x-max-length": b(10) }, { "x-max-length": S("10") }, ineq("x-max-length", "received '10' but current is '10'")],
    [{ "x-max-length": b(10) }, { "x-max-length": { type: "d", value: 10 } }, ineq("x-max-length", "received '10.0' but current is '10'")],
    [{ "x-max-length": b(1) }, { "x-max-length": T(1n) }, null],
    [{}, { "x-max-length": T(1n) }, ineq("x-max-length", "received the value '1' of type 'timestamp' but current is none")],
    [{ "x-max-length": b(1) }, { "x-max-length": { type: "V", value: null } }, ineq("x-max-length", "received none but current is '1'")],
    [
      {},
      { "x-max-length": { type: "V", value: null } },
      ineq("x-max-length", "received the value 'undefined' of type 'void' but current is none"),
    ],
    [
      { "x-max-length": b(1) },
      { "x-max-length": { type: "A", value: [b(1), S("a"), { type: "A", value: [bool(true)] }] } },
      ineq("x-max-length", `received '[{byte,1},{longstr,<<"a">>},{array,[{bool,true}]}]' but current is '1'`),
    ],
    [
      {},
      { "x-max-length": { type: "A", value: [b(1), S("a")] } },
      ineq("x-max-length", `received the value '[{byte,1},{longstr,<<"a">>}]' of type 'array' but current is none`),
    ],
    [
      { "x-max-length": b(1) },
      { "x-max-length": { type: "F", value: { k: S("v"), n: { type: "F", value: { m: b(2) } } } } },
      ineq("x-max-length", `received '[{<<"k">>,longstr,<<"v">>},{<<"n">>,table,[{<<"m">>,byte,2}]}]' but current is '1'`),
    ],
    [{}, { "x-max-length": x("ab") }, ineq("x-max-length", "received the value 'ab' of type 'binary' but current is none")],
    [
      { "x-max-length": b(1) },
      { "x-max-length": { type: "f", value: Math.fround(0.1) } },
      ineq("x-max-length", "received '0.10000000149011612' but current is '1'"),
    ],
    [
      { "x-dead-letter-exchange": S("a") },
      { "x-dead-letter-exchange": S("b") },
      ineq("x-dead-letter-exchange", "received 'b' but current is 'a'"),
    ],
    [
      { "x-dead-letter-exchange": S("a") },
      { "x-dead-letter-exchange": S("ü€") },
      ineq("x-dead-letter-exchange", "received 'ü€' but current is 'a'"),
    ],
    [
      { "x-dead-letter-exchange": S("a") },
      {},
      ineq("x-dead-letter-exchange", "received none but current is the value 'a' of type 'longstr'"),
    ],
    [{ "x-dead-letter-exchange": S("a") }, { "x-dead-letter-exchange": x("a") }, null],
    [
      { "x-single-active-consumer": bool(true) },
      { "x-single-active-consumer": bool(false) },
      ineq("x-single-active-consumer", "received 'false' but current is 'true'"),
    ],
    [
      { "x-single-active-consumer": bool(true) },
      { "x-single-active-consumer": S("true") },
      ineq("x-single-active-consumer", "received 'true' but current is 'true'"),
    ],
    [
      { "x-single-active-consumer": bool(true) },
      {},
      ineq("x-single-active-consumer", "received none but current is the value 'true' of type 'bool'"),
    ],
    [{ "x-queue-type": S("classic") }, {}, null],
    [{}, { "x-queue-type": S("classic") }, null],
    [{}, quorum, ineq("x-queue-type", "received the value 'quorum' of type 'longstr' but current is none")],
    [quorum, {}, ineq("x-queue-type", "received none but current is the value 'quorum' of type 'longstr'")],
    [quorum, { "x-queue-type": S("classic") }, ineq("x-queue-type", "received 'classic' but current is 'quorum'")],
    [{ "x-foo": b(1) }, { "x-foo": b(2) }, null],
    [{ "x-queue-mode": S("lazy") }, {}, ineq("x-queue-mode", "received none but current is the value 'lazy' of type 'longstr'")],
    [{ "x-queue-version": b(1) }, { "x-queue-version": b(2) }, ineq("x-queue-version", "received '2' but current is '1'")],
    [
      { "x-queue-master-locator": S("min-masters") },
      {},
      ineq("x-queue-master-locator", "received none but current is the value 'min-masters' of type 'longstr'"),
    ],
    [{ "x-max-priority": b(5) }, { "x-max-priority": b(6) }, ineq("x-max-priority", "received '6' but current is '5'")],
    // A classic queue does not compare x-delivery-limit; a quorum queue does, and not x-max-priority.
    [{}, { "x-delivery-limit": b(5) }, null],
    [
      { ...quorum, "x-delivery-limit": b(5) },
      { ...quorum, "x-delivery-limit": b(6) },
      ineq("x-delivery-limit", "received '6' but current is '5'"),
    ],
    [
      { ...quorum, "x-delivery-limit": b(5) },
      quorum,
      ineq("x-delivery-limit", "received none but current is the value '5' of type 'byte'"),
    ],
    [
      { ...quorum, "x-quorum-initial-group-size": b(1) },
      { ...quorum, "x-quorum-initial-group-size": b(3) },
      ineq("x-quorum-initial-group-size", "received '3' but current is '1'"),
    ],
    [quorum, { ...quorum, "x-max-priority": b(6) }, null],
    // A bad value for an existing queue is compared, not checked.
    [{ "x-message-ttl": b(10) }, { "x-message-ttl": b(-1) }, ineq("x-message-ttl", "received '-1' but current is '10'")],
    [{}, { "x-message-ttl": b(-1) }, ineq("x-message-ttl", "received the value '-1' of type 'byte' but current is none")],
    [
      { "x-max-length": b(1) },
      { "x-max-length": b(1), "x-overflow": S("foo") },
      ineq("x-overflow", "received the value 'foo' of type 'longstr' but current is none"),
    ],
  ] as [FieldTable, FieldTable, string | null][])("%o then %o → %s", (current, wanted, text) => {
    expect(compare(current, wanted)).toBe(text);
  });

  it("durable and auto_delete come first", () => {
    expect(compare({}, {}, [{ durable: true }, { durable: false }])).toBe(ineq("durable", "received 'false' but current is 'true'"));
    expect(compare({}, {}, [{ autoDelete: false }, { autoDelete: true }])).toBe(
      ineq("auto_delete", "received 'true' but current is 'false'"),
    );
  });

  it("compares a quorum queue's arguments in RabbitMQ's order for that type", () => {
    expect(QUEUE_TYPES.quorum.arguments.indexOf("x-dead-letter-exchange")).toBeLessThan(QUEUE_TYPES.quorum.arguments.indexOf("x-expires"));
    expect(compare({ ...quorum, "x-expires": b(1), "x-dead-letter-exchange": S("a") }, quorum)).toBe(
      ineq("x-dead-letter-exchange", "received none but current is the value 'a' of type 'longstr'"),
    );
  });
});

describe("queueSettings: the typed values the queue acts on", () => {
  it("reads every argument", () => {
    expect(
      queueSettings({
        "x-message-ttl": { type: "I", value: 60_000 },
        "x-expires": l(1_800_000n),
        "x-max-length": { type: "s", value: 1000 },
        "x-max-length-bytes": { type: "i", value: 1 << 20 },
        "x-overflow": S("reject-publish-dlx"),
        "x-dead-letter-exchange": S("dlx"),
        "x-dead-letter-routing-key": S("dead"),
        "x-max-priority": b(10),
        "x-single-active-consumer": bool(true),
      }),
    ).toEqual({
      queueType: "classic",
      messageTtl: 60_000,
      expires: 1_800_000,
      maxLength: 1000,
      maxLengthBytes: 1 << 20,
      overflow: "reject-publish-dlx",
      deadLetterExchange: "dlx",
      deadLetterRoutingKey: "dead",
      deadLetterStrategy: "at-most-once",
      maxPriority: 10,
      singleActiveConsumer: true,
    });
  });

  it("defaults: classic, drop-head, no single active consumer, nothing else", () => {
    expect(queueSettings({})).toEqual({
      queueType: "classic",
      overflow: "drop-head",
      deadLetterStrategy: "at-most-once",
      singleActiveConsumer: false,
    });
  });

  it("quorum queues: delivery limit 20 by default (RabbitMQ 4), none when negative; reject-publish-dlx is drop-head", () => {
    const quorum = { "x-queue-type": S("quorum") };
    expect(queueSettings(quorum).deliveryLimit).toBe(20);
    expect(queueSettings({ ...quorum, "x-delivery-limit": b(3) }).deliveryLimit).toBe(3);
    expect(queueSettings({ ...quorum, "x-delivery-limit": b(0) }).deliveryLimit).toBe(0);
    expect(queueSettings({ ...quorum, "x-delivery-limit": b(-1) }).deliveryLimit).toBeUndefined();
    expect(queueSettings({ ...quorum, "x-delivery-limit": S("x") }).deliveryLimit).toBe(20);
    expect(queueSettings({ ...quorum, "x-overflow": S("reject-publish-dlx") }).overflow).toBe("drop-head");
    expect(queueSettings({ ...quorum, "x-overflow": S("reject-publish") }).overflow).toBe("reject-publish");
    expect(queueSettings({ ...quorum, "x-dead-letter-strategy": S("at-least-once") }).deadLetterStrategy).toBe("at-least-once");
    expect(queueSettings({ "x-delivery-limit": b(3) }).deliveryLimit).toBeUndefined();
    expect(queueSettings(quorum).queueType).toBe("quorum");
  });

  it("a value that would not pass validation (a queue declared before it) reads as absent", () => {
    expect(queueSettings({ "x-message-ttl": S("10"), "x-expires": b(0), "x-max-length": b(-1), "x-dead-letter-exchange": b(1) })).toEqual(
      queueSettings({}),
    );
  });
});
