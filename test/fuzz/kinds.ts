// The fuzzer's mutation kinds: how each builds its bytes, and (in KINDS, one table) what the
// server must do about it. Codes follow RabbitMQ (rabbit_reader.erl, rabbit_command_assembler.erl,
// rabbit_channel.erl, codegen.py) except where src/amqp documents Warren's own choice; where the two
// differ and neither is wrong by the spec, both are accepted and the row says so. The kinds without
// side effects were also run against RabbitMQ 3.10.8; the rows note where it answered otherwise.
// (It closes without connection.close before the connection is open, where Warren sends one.)
import {
  type AnyMethod,
  type BasicProperties,
  type FieldTable,
  type FieldValue,
  FRAME_END,
  FrameType,
  METHOD_TABLE,
  type MethodName,
  PROTOCOL_HEADER,
  ReplyCode,
  encodeMethod,
  methodHasContent,
} from "../../src/amqp";
import type { Rng } from "./prng";
import {
  CHANNEL_OPEN,
  SERVER_FRAME_MAX,
  type Session,
  type Stage,
  STAGES,
  bodyFrames,
  concat,
  contentFrames,
  frame,
  headerFrame,
  methodFrame,
  prefixParts,
  publish,
  rawFrame,
} from "./wire";

const C = ReplyCode;

/** What the server must do with a case. */
export interface Expectation {
  /**
   * close: connection.close with one of `codes`, then the socket goes.
   * ok: no close of any kind; the probe (channel.open on the probe channel) is answered.
   * any: whatever a broker may do: any AMQP code but 541 (soft ones by channel.close), an answer,
   *   or silence if the stream ends inside a frame; a framing error must close.
   * silence: the stream ends inside a frame or the protocol header: nothing may be closed.
   * header: the server answers with its own protocol header and drops the socket.
   */
  outcome: "close" | "ok" | "any" | "silence" | "header";
  codes?: readonly number[];
  why: string;
}

export interface CaseContext {
  rng: Rng;
  session: Session;
  /** frame_max in effect after tune-ok: the largest payload accepted (RabbitMQ and Warren allow +8 on the whole frame). */
  frameMax: number;
  /** channel_max in effect after tune-ok. */
  channelMax: number;
  /** The probe's channel: never used by the damage. */
  probe: number;
}

export interface Built {
  /** How far the valid prefix goes. */
  stage: Stage;
  /** The bytes after the prefix. */
  damage: Uint8Array;
  /** Append the probe (channel.open on the probe channel) after the damage. */
  probe: boolean;
  note: string;
  /** Too big to pipeline behind the handshake: written only after connection.open-ok. */
  afterOpen?: boolean;
}

export interface Kind {
  name: string;
  weight: number;
  expect: Expectation;
  build(ctx: CaseContext): Built;
}

// ------------------------------------------------------------------ random valid methods

/** Methods a client sends (RabbitMQ's direction column); the rest only a server sends. */
export const CLIENT_METHODS: readonly MethodName[] = [
  "connection.start-ok",
  "connection.secure-ok",
  "connection.tune-ok",
  "connection.open",
  "connection.close",
  "connection.close-ok",
  "connection.update-secret",
  "channel.open",
  "channel.flow",
  "channel.flow-ok",
  "channel.close",
  "channel.close-ok",
  "exchange.declare",
  "exchange.delete",
  "exchange.bind",
  "exchange.unbind",
  "queue.declare",
  "queue.bind",
  "queue.purge",
  "queue.delete",
  "queue.unbind",
  "basic.qos",
  "basic.consume",
  "basic.cancel",
  "basic.publish",
  "basic.get",
  "basic.ack",
  "basic.reject",
  "basic.recover-async",
  "basic.recover",
  "basic.nack",
  "confirm.select",
  "tx.select",
  "tx.commit",
  "tx.rollback",
];

/** Methods only a server sends (a client sending one is refused). */
export const SERVER_ONLY_METHODS: readonly MethodName[] = (Object.keys(METHOD_TABLE) as MethodName[]).filter(
  (n) =>
    !CLIENT_METHODS.includes(n) && !["connection.blocked", "connection.unblocked", "basic.cancel", "basic.ack", "basic.nack"].includes(n),
);

/** Methods the server may send (everything but the client's half). */
export const SERVER_SENDABLE: ReadonlySet<string> = new Set([
  ...SERVER_ONLY_METHODS,
  "connection.close",
  "connection.close-ok",
  "connection.blocked",
  "connection.unblocked",
  "channel.flow",
  "channel.flow-ok",
  "channel.close",
  "channel.close-ok",
  "basic.cancel",
  "basic.ack",
  "basic.nack",
]);

const QUEUES = ["", "fz.r.q0", "fz.r.q1", "fz.r.q2", "amq.fz"];
const EXCHANGES = ["", "amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match", "fz.r.x0", "fz.r.x1"];
const EXCHANGE_TYPES = ["direct", "fanout", "topic", "headers", "x-fz"];
const KEYS = ["", "fz.r.q0", "fz.r.q1", "a.b", "#", "*.b", "a.*"];

function randomValue(rng: Rng, depth: number): FieldValue {
  const tag = rng.pick(["t", "b", "B", "s", "u", "I", "i", "l", "L", "T", "f", "d", "D", "S", "x", "A", "F", "V"] as const);
  switch (tag) {
    case "t":
      return { type: "t", value: rng.chance(0.5) };
    case "b":
      return { type: "b", value: rng.int(-128, 127) };
    case "B":
      return { type: "B", value: rng.int(0, 255) };
    case "s":
      return { type: "s", value: rng.int(-32768, 32767) };
    case "u":
      return { type: "u", value: rng.int(0, 65535) };
    case "I":
      return { type: "I", value: rng.u32() | 0 };
    case "i":
      return { type: "i", value: rng.u32() };
    case "l":
    case "L":
      return { type: tag, value: BigInt.asIntN(64, (BigInt(rng.u32()) << 32n) | BigInt(rng.u32())) };
    case "T":
      return { type: "T", value: BigInt(rng.u32()) };
    case "f":
      return { type: "f", value: Math.fround(rng.float() * 1000 - 500) };
    case "d":
      return { type: "d", value: rng.float() * 1e6 - 5e5 };
    case "D":
      return { type: "D", value: { scale: rng.int(0, 10), value: rng.u32() } };
    case "S":
      return { type: "S", value: rng.word(0, 20) };
    case "x":
      return { type: "x", value: rng.bytes(rng.int(0, 16)) };
    case "A":
      return depth > 2
        ? { type: "V", value: null }
        : { type: "A", value: Array.from({ length: rng.int(0, 3) }, () => randomValue(rng, depth + 1)) };
    case "F":
      return depth > 2 ? { type: "V", value: null } : { type: "F", value: randomTable(rng, depth + 1) };
    case "V":
      return { type: "V", value: null };
  }
}

function randomTable(rng: Rng, depth = 0): FieldTable {
  const t: FieldTable = {};
  const n = rng.int(0, 3);
  for (let i = 0; i < n; i++) t[rng.word(1, 10)] = randomValue(rng, depth);
  if (depth === 0 && rng.chance(0.3)) {
    const key = rng.pick([
      "x-message-ttl",
      "x-expires",
      "x-max-length",
      "x-dead-letter-exchange",
      "x-match",
      "alternate-exchange",
      "x-queue-type",
    ]);
    t[key] = rng.chance(0.5)
      ? { type: "S", value: rng.pick(["all", "any", "classic", "quorum", "fz.r.x0", rng.word()]) }
      : randomValue(rng, 2);
  }
  return t;
}

function biased(rng: Rng, max: number): number {
  return rng.weighted<number>([
    [0, 3],
    [1, 2],
    [rng.int(0, Math.min(max, 100)), 3],
    [rng.int(0, max), 2],
    [max, 1],
  ]);
}

/** Random arguments of a method, drawn per field from values that make the server do things. */
export function randomArgs(rng: Rng, name: MethodName): AnyMethod {
  const args: Record<string, unknown> = {};
  for (const [field, type] of METHOD_TABLE[name].fields as readonly (readonly [string, string])[]) {
    let v: unknown;
    switch (type) {
      case "bit":
        v = rng.chance(field === "noWait" || field === "passive" ? 0.2 : 0.4);
        break;
      case "octet":
        v = biased(rng, 255);
        break;
      case "short":
        v = field === "ticket" ? 0 : field === "replyCode" ? rng.pick([200, 320, 404, 406, 541, biased(rng, 65535)]) : biased(rng, 65535);
        break;
      case "long":
        v = biased(rng, 0xffffffff);
        break;
      case "longlong":
        v = rng.weighted<number>([
          [0, 2],
          [rng.int(1, 5), 4],
          [rng.int(0, 2 ** 53 - 1), 1],
        ]);
        break;
      case "timestamp":
        v = BigInt(rng.u32());
        break;
      case "table":
        v = randomTable(rng);
        break;
      case "longstr":
        v = rng.word(0, 30);
        break;
      case "shortstr":
        if (field === "queue") v = rng.chance(0.8) ? rng.pick(QUEUES) : rng.name();
        else if (field === "exchange" || field === "source" || field === "destination")
          v = rng.chance(0.8) ? rng.pick(EXCHANGES) : rng.name();
        else if (field === "type") v = rng.pick(EXCHANGE_TYPES);
        else if (field === "routingKey") v = rng.chance(0.8) ? rng.pick(KEYS) : rng.name();
        else if (field === "consumerTag") v = rng.pick(["", "ct0", "ct1", rng.name()]);
        else if (field === "virtualHost") v = rng.pick(["/", "", rng.word()]);
        else if (field === "mechanism") v = rng.pick(["PLAIN", "AMQPLAIN", "EXTERNAL", rng.word()]);
        else v = rng.chance(0.5) ? "" : rng.name();
        break;
    }
    args[field] = v;
  }
  return { name, args } as AnyMethod;
}

/** Random content properties; `refusable` adds the ones a broker may refuse (user-id, bad expiration). */
function randomProps(rng: Rng, refusable = true): BasicProperties {
  const p: BasicProperties = {};
  if (rng.chance(0.3)) p.contentType = rng.pick(["text/plain", "application/json", rng.word()]);
  if (rng.chance(0.3)) p.deliveryMode = rng.pick([1, 2, rng.int(0, 255)]);
  if (rng.chance(0.3)) p.headers = randomTable(rng);
  if (rng.chance(0.15)) p.priority = rng.int(0, 255);
  if (rng.chance(0.15)) p.expiration = refusable ? rng.pick(["", "0", "100", "-1", "abc"]) : rng.pick(["0", "60000"]);
  if (rng.chance(0.1)) p.userId = refusable ? rng.pick(["guest", "other"]) : "guest";
  if (rng.chance(0.2)) p.messageId = rng.word();
  if (rng.chance(0.1)) p.timestamp = BigInt(rng.u32());
  return p;
}

/** A method frame, or for content methods the method, header and body frames. */
export function methodBytes(rng: Rng, channel: number, m: AnyMethod): Uint8Array {
  if (!methodHasContent(m.name)) return methodFrame(channel, m);
  const body = rng.bytes(
    rng.weighted<number>([
      [0, 1],
      [rng.int(1, 64), 4],
    ]),
  );
  return concat([
    methodFrame(channel, m),
    headerFrame(channel, body.length, randomProps(rng)),
    ...bodyFrames(channel, body, rng.int(1, 64)),
  ]);
}

/** One random valid frame or command: a client method with random arguments, or a heartbeat. */
function randomItem(rng: Rng, channel: number): Uint8Array {
  if (rng.chance(0.1)) return frame(FrameType.Heartbeat, 0, new Uint8Array(0));
  const name = rng.chance(0.9) ? rng.pick(CLIENT_METHODS) : rng.pick(SERVER_ONLY_METHODS);
  return methodBytes(rng, channel, randomArgs(rng, name));
}

/** A harmless valid method for channel `channel` (its answer does not matter). */
function someMethodFrame(rng: Rng, channel: number): Uint8Array {
  return methodFrame(
    channel,
    rng.pick<AnyMethod>([
      { name: "basic.qos", args: { prefetchSize: 0, prefetchCount: rng.int(0, 100), global: false } },
      { name: "channel.flow", args: { active: true } },
      {
        name: "exchange.declare",
        args: {
          ticket: 0,
          exchange: "amq.direct",
          type: "direct",
          passive: true,
          durable: false,
          autoDelete: false,
          internal: false,
          noWait: false,
          arguments: {},
        },
      },
      { name: "basic.recover", args: { requeue: true } },
    ]),
  );
}

// ------------------------------------------------------------------ hand-built payloads

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0);
  return b;
}

function shortstr(s: string | Uint8Array): Uint8Array {
  const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
  return concat([new Uint8Array([b.length]), b]);
}

function tableBytes(entries: readonly Uint8Array[]): Uint8Array {
  const body = concat(entries);
  return concat([u32(body.length), body]);
}

const VALID_TAGS = new Set([..."tbBsuIilLTfdDSxAFV"].map((c) => c.charCodeAt(0)));

/** A table whose entries are valid except one with a type tag no parser knows (RabbitMQ's set = Warren's). */
function badTagTable(rng: Rng): Uint8Array {
  let tag: number;
  do tag = rng.int(0, 255);
  while (VALID_TAGS.has(tag));
  const bad = concat([shortstr(rng.word(1, 8)), new Uint8Array([tag]), rng.bytes(rng.int(0, 8))]);
  const good = concat([shortstr("ok"), new Uint8Array([0x53]), u32(2), new TextEncoder().encode("hi")]);
  const inner = rng.weighted<Uint8Array>([
    [tableBytes(rng.chance(0.5) ? [good, bad] : [bad]), 3],
    // Nested in a table or an array value.
    [tableBytes([good, concat([shortstr("n"), new Uint8Array([0x46]), tableBytes([bad])])]), 1],
    [
      tableBytes([
        concat([
          shortstr("a"),
          new Uint8Array([0x41]),
          (() => {
            const el = concat([new Uint8Array([tag]), rng.bytes(rng.int(0, 8))]);
            return concat([u32(el.length), el]);
          })(),
        ]),
      ]),
      1,
    ],
  ]);
  return inner;
}

/** A table holding `depth` nested tables/arrays (depth 0: an empty table). */
function nestedTable(rng: Rng, depth: number): Uint8Array {
  // Built inside out; `value` is the innermost value's tag + bytes.
  let value = concat([new Uint8Array([0x53]), u32(1), new Uint8Array([0x7a])]); // 'S' "z"
  for (let i = 0; i < depth; i++) {
    if (rng.chance(0.5)) {
      value = concat([new Uint8Array([0x46]), tableBytes([concat([shortstr("k"), value])])]);
    } else {
      value = concat([new Uint8Array([0x41]), u32(value.length), value]);
    }
  }
  return tableBytes([concat([shortstr("top"), value])]);
}

/** A method whose last argument is a table (the encoder writes {} as 4 zero bytes): put `table` there. */
function withTable(channel: number, rng: Rng, table: Uint8Array, allowAny = true): Uint8Array {
  const m = rng.pick<AnyMethod>(
    allowAny
      ? [
          {
            name: "queue.declare",
            args: { ticket: 0, queue: "", passive: false, durable: false, exclusive: true, autoDelete: true, noWait: false, arguments: {} },
          },
          {
            name: "exchange.declare",
            args: {
              ticket: 0,
              exchange: "fz.ok.x",
              type: "fanout",
              passive: false,
              durable: false,
              autoDelete: false,
              internal: false,
              noWait: false,
              arguments: {},
            },
          },
          {
            name: "queue.bind",
            args: { ticket: 0, queue: "fz.ok.q", exchange: "amq.direct", routingKey: "k", noWait: false, arguments: {} },
          },
          {
            name: "basic.consume",
            args: {
              ticket: 0,
              queue: "fz.ok.q",
              consumerTag: "",
              noLocal: false,
              noAck: true,
              exclusive: false,
              noWait: false,
              arguments: {},
            },
          },
        ]
      : [
          {
            name: "queue.declare",
            args: { ticket: 0, queue: "", passive: false, durable: false, exclusive: true, autoDelete: true, noWait: false, arguments: {} },
          },
        ],
  );
  const payload = encodeMethod(m);
  return frame(FrameType.Method, channel, concat([payload.subarray(0, payload.length - 4), table]));
}

/** basic.publish whose content header carries `headers` (property flag bit 13) as raw table bytes. */
function publishWithHeaders(channel: number, headers: Uint8Array, body: Uint8Array): Uint8Array {
  const fixed = new Uint8Array(14);
  const v = new DataView(fixed.buffer);
  v.setUint16(0, 60);
  v.setUint16(2, 0);
  v.setUint32(4, 0);
  v.setUint32(8, body.length);
  v.setUint16(12, 0x2000);
  return concat([
    methodFrame(channel, publish("fz.ok.nowhere")),
    frame(FrameType.Header, channel, concat([fixed, headers])),
    ...bodyFrames(channel, body),
  ]);
}

/** The fixed 12 octets of a content header, then `rest`. */
function rawHeader(classId: number, weight: number, bodySize: number, rest: Uint8Array = new Uint8Array([0, 0])): Uint8Array {
  const b = new Uint8Array(12);
  const v = new DataView(b.buffer);
  v.setUint16(0, classId);
  v.setUint16(2, weight);
  v.setUint32(4, 0);
  v.setUint32(8, bodySize);
  return concat([b, rest]);
}

/** An encoded valid client method of some channel class (for channel-number damage). */
function channelMethod(rng: Rng, channel: number): Uint8Array {
  const name = rng.pick(CLIENT_METHODS.filter((n) => !n.startsWith("connection.") && n !== "channel.open"));
  return methodBytes(rng, channel, randomArgs(rng, name));
}

/** A channel number other than 0, 1 and the probe's, within channel_max. */
function freeChannel(ctx: CaseContext): number {
  for (;;) {
    const c = ctx.rng.int(2, Math.min(ctx.channelMax, ctx.rng.chance(0.7) ? 20 : 65535));
    if (c !== ctx.probe) return c;
  }
}

const POOL_LONG = (rng: Rng, prefix: string) => `${prefix}${String(rng.int(0, 3))}`.padEnd(255, "z");

/** Byte sequences that are not UTF-8 (WHATWG: lone bytes, truncated, overlong, surrogate, out of range). */
const INVALID_UTF8: readonly (readonly number[])[] = [
  [0xff],
  [0x80],
  [0xc3],
  [0xe2, 0x82],
  [0xc0, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
];

/** A method's payload with bytes that are not UTF-8 inside one of its short-string arguments. */
function withInvalidShortstr(
  rng: Rng,
  name: MethodName,
  fieldIndex?: number,
  bad: readonly number[] = rng.pick(INVALID_UTF8),
  base: AnyMethod = randomArgs(rng, name),
): { payload: Uint8Array; note: string } {
  const spec = METHOD_TABLE[name].fields as readonly (readonly [string, string])[];
  const index = fieldIndex ?? rng.pick(spec.map(([, t], i) => (t === "shortstr" ? i : -1)).filter((i) => i >= 0));
  const field = spec[index]![0];
  const pre = rng.int(0, 5);
  const post = rng.int(0, 5);
  const m = { name, args: { ...base.args, [field]: "q".repeat(pre + bad.length + post) } } as AnyMethod;
  const payload = encodeMethod(m).slice();
  payload.set(bad, fieldOffset(name, payload, index) + 1 + pre);
  return { payload, note: `${name} ${field} with bytes ${bad.map((b) => b.toString(16)).join(" ")}` };
}

// ------------------------------------------------------------------ the table

const RABBIT_505 = "RabbitMQ rabbit_command_assembler: frames out of order are unexpected_frame (505)";

export const KINDS: readonly Kind[] = [
  // ---- framing: 501 FRAME_ERROR (rabbit_reader frame_error / fatal_frame_error; spec 4.2.3)
  {
    name: "bad-frame-end",
    weight: 5,
    expect: { outcome: "close", codes: [C.FRAME_ERROR], why: "rabbit_reader: invalid_frame_end_marker is a fatal frame_error (501)" },
    build: ({ rng }) => {
      const f = rng.chance(0.7) ? someMethodFrame(rng, 1) : randomItem(rng, rng.pick([0, 1]));
      // The first frame of the item (a content command is several frames).
      const size = new DataView(f.buffer, f.byteOffset).getUint32(3);
      const first = f.slice(0, 8 + size);
      let end: number;
      do end = rng.int(0, 255);
      while (end === FRAME_END);
      first[7 + size] = end;
      return {
        stage: rng.pick(["header", "open", "channel", "channel"] as const),
        damage: first,
        probe: true,
        note: `frame end 0x${end.toString(16)}`,
      };
    },
  },
  {
    name: "unknown-frame-type",
    weight: 4,
    expect: { outcome: "close", codes: [C.FRAME_ERROR], why: "rabbit_reader: analyze_frame error → frame_error unknown_frame (501)" },
    build: ({ rng }) => {
      let type: number;
      do type = rng.int(0, 255);
      while (type === 1 || type === 2 || type === 3 || type === 8);
      const payload = rng.bytes(rng.int(0, 40));
      return {
        stage: rng.pick(["header", "open", "channel", "channel"] as const),
        damage: rawFrame(type, rng.pick([0, 1, rng.int(0, 65535)]), payload.length, payload),
        probe: true,
        note: `frame type ${type}`,
      };
    },
  },
  {
    name: "oversize-frame",
    weight: 4,
    expect: { outcome: "close", codes: [C.FRAME_ERROR], why: "rabbit_reader: frame_too_large above frame_max, judged on the header (501)" },
    build: ({ rng, frameMax }) => {
      // Over the negotiated frame_max (before tune-ok takes effect the limit is 4096, lower still).
      const size = rng.pick([frameMax + 1, frameMax + 9, 1 << 20, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1, rng.int(frameMax + 1, 2 ** 32 - 1)]);
      const type = rng.pick([1, 2, 3, 8]);
      return {
        stage: rng.pick(["header", "open", "channel", "channel"] as const),
        damage: rawFrame(type, rng.pick([0, 1]), size, rng.bytes(rng.int(0, 32)), null),
        probe: false,
        note: `type ${type}, size ${size}`,
      };
    },
  },
  {
    name: "short-method-frame",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "src/amqp: method payload < 4 bytes is 501 (RabbitMQ analyze_frame error → 501)",
    },
    build: ({ rng }) => {
      const n = rng.int(0, 3);
      return {
        stage: "channel",
        damage: rawFrame(1, rng.pick([0, 1]), n, rng.bytes(n)),
        probe: true,
        note: `method payload of ${n} bytes`,
      };
    },
  },
  {
    name: "short-content-header",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "src/amqp: content header < 14 bytes is 501 (RabbitMQ analyze_frame error → 501)",
    },
    build: ({ rng }) => {
      const n = rng.int(0, 13);
      return {
        stage: "channel",
        damage: concat([methodFrame(1, publish("fz.ok.nowhere")), rawFrame(2, 1, n, rng.bytes(n))]),
        probe: true,
        note: `content header of ${n} bytes after basic.publish`,
      };
    },
  },
  {
    name: "orphan-short-header",
    weight: 1,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR, C.UNEXPECTED_FRAME],
      why: "a short header with no method: RabbitMQ judges the size first (501), Warren the order first (505)",
    },
    build: ({ rng }) => {
      const n = rng.int(0, 13);
      return { stage: "channel", damage: rawFrame(2, 1, n, rng.bytes(n)), probe: true, note: `content header of ${n} bytes, no method` };
    },
  },
  {
    name: "body-overrun",
    weight: 3,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "rabbit_command_assembler (current): body frame exceeds remaining content size → frame_error (501); RabbitMQ 3.10.8 did not check yet",
    },
    build: ({ rng }) => {
      const declared = rng.int(1, 40);
      const sent = rng.int(declared + 1, declared + 60);
      const body = rng.bytes(sent);
      // All at once, or part of the declared size first and a second frame that overruns the rest.
      const k = rng.int(0, declared - 1);
      const frames = rng.chance(0.5) ? [frame(3, 1, body.subarray(0, k)), frame(3, 1, body.subarray(k))] : [frame(3, 1, body)];
      return {
        stage: "channel",
        damage: concat([methodFrame(1, publish("fz.ok.nowhere")), headerFrame(1, declared), ...frames]),
        probe: true,
        note: `declared ${declared}, sent ${sent}`,
      };
    },
  },
  {
    name: "heartbeat-payload",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "spec 4.2.7 / RabbitMQ analyze_frame: a heartbeat with payload is a frame error (501)",
    },
    build: ({ rng }) => {
      const n = rng.int(1, 32);
      return {
        stage: rng.pick(["open", "channel"] as const),
        damage: rawFrame(8, 0, n, rng.bytes(n)),
        probe: true,
        note: `heartbeat with ${n} bytes`,
      };
    },
  },
  {
    name: "heartbeat-on-channel",
    weight: 1,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR, C.UNEXPECTED_FRAME],
      why: "heartbeat on channel ≠ 0: Warren 501 (src/amqp: invalid heartbeat), RabbitMQ unexpected_frame 505",
    },
    build: ({ rng }) => {
      const ch = rng.int(1, 65535);
      return { stage: "channel", damage: rawFrame(8, ch, 0, new Uint8Array(0)), probe: true, note: `heartbeat on channel ${ch}` };
    },
  },

  // ---- arguments: 502 SYNTAX_ERROR (src/amqp/index.ts; RabbitMQ says 501 "cannot decode")
  {
    name: "bad-table-tag",
    weight: 4,
    expect: {
      outcome: "close",
      codes: [C.SYNTAX_ERROR],
      why: "src/amqp: malformed field tables are 502 (RabbitMQ's parse_table has no clause for the tag: 3.10.8 drops the connection)",
    },
    build: ({ rng }) => {
      const t = badTagTable(rng);
      const inHeaders = rng.chance(0.3);
      return {
        stage: "channel",
        damage: inHeaders ? publishWithHeaders(1, t, rng.bytes(rng.int(0, 8))) : withTable(1, rng, t),
        probe: true,
        note: inHeaders ? "bad tag in basic.publish headers" : "bad tag in method arguments",
      };
    },
  },
  {
    name: "deep-nesting-over-limit",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.SYNTAX_ERROR],
      why: "src/amqp/field-table.ts: nesting beyond 64 levels is a 502 syntax error (RabbitMQ has no limit)",
    },
    build: ({ rng }) => {
      const depth = rng.int(70, 400);
      const t = nestedTable(rng, depth);
      const inHeaders = rng.chance(0.4);
      return {
        stage: "channel",
        damage: inHeaders ? publishWithHeaders(1, t, rng.bytes(4)) : withTable(1, rng, t, false),
        probe: true,
        note: `${depth} levels ${inHeaders ? "in headers" : "in queue.declare arguments"}`,
      };
    },
  },
  {
    name: "argument-syntax",
    weight: 5,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "src/amqp: truncated arguments, overrunning lengths, trailing bytes are 501 'cannot decode', as RabbitMQ 3.10.8",
    },
    build: ({ rng }) => {
      const name = rng.pick(CLIENT_METHODS.filter((n) => !n.startsWith("connection.")));
      const payload = encodeMethod(randomArgs(rng, name));
      const how = rng.pick(["trailing", "truncated", "overrun"] as const);
      let bad: Uint8Array;
      let note: string;
      if (how === "trailing" || payload.length <= 4) {
        bad = concat([payload, rng.bytes(rng.int(1, 8))]);
        note = "trailing bytes";
      } else if (how === "truncated") {
        const keep = rng.int(4, payload.length - 1);
        bad = payload.slice(0, keep);
        note = `cut to ${keep} of ${payload.length} bytes`;
      } else {
        // A length prefix (shortstr octet or long-string/table long) claiming more than is left.
        bad = payload.slice();
        const spec = METHOD_TABLE[name].fields as readonly (readonly [string, string])[];
        const strField = spec.findIndex(([, t]) => t === "shortstr" || t === "longstr" || t === "table");
        if (strField < 0) {
          bad = concat([payload, rng.bytes(rng.int(1, 8))]);
          note = "trailing bytes";
        } else {
          const off = fieldOffset(name, payload, strField);
          const type = spec[strField]![1];
          if (type === "shortstr") {
            // A length octet with fewer bytes after it than it claims.
            const claim = rng.int(1, 255);
            bad[off] = claim;
            bad = bad.slice(0, off + 1 + rng.int(0, Math.min(claim - 1, payload.length - off - 1)));
          } else {
            const left = payload.length - off - 4;
            new DataView(bad.buffer).setUint32(off, rng.pick([left + 1, left + rng.int(2, 100), 2 ** 31, 2 ** 32 - 1]));
          }
          note = `${spec[strField]![0]} length overruns the payload`;
        }
      }
      return { stage: "channel", damage: frame(1, 1, bad), probe: true, note: `${name}: ${note}` };
    },
  },

  {
    name: "invalid-utf8-shortstr",
    weight: 3,
    expect: {
      outcome: "close",
      codes: [C.FRAME_ERROR],
      why: "RabbitMQ asserts UTF-8 on the short-string arguments of methods without content: 'Malformed UTF-8 in shortstr', frame_error (501)",
    },
    build: ({ rng }) => {
      // A method without content whose short-string argument (a name) carries bytes that are not UTF-8.
      const name = rng.pick<MethodName>([
        "queue.declare",
        "basic.consume",
        "exchange.declare",
        "queue.bind",
        "exchange.delete",
        "basic.get",
      ]);
      const { payload, note } = withInvalidShortstr(rng, name);
      return { stage: "channel", damage: frame(1, 1, payload), probe: true, note };
    },
  },
  {
    name: "utf8-unchecked-by-rabbitmq",
    weight: 2,
    expect: {
      outcome: "ok",
      why:
        "RabbitMQ checks UTF-8 only on short-string arguments of methods without content (codegen.py: 'We skip the check on " +
        "content-bearing methods'); parse_table and decode_properties take any bytes: such a publish, header key or table key is accepted",
    },
    build: ({ rng }) => {
      const bad = rng.pick(INVALID_UTF8);
      const variant = rng.pick(["routing key", "header key", "content-type", "argument key"] as const);
      let damage: Uint8Array;
      if (variant === "routing key") {
        const { payload } = withInvalidShortstr(rng, "basic.publish", 2, bad, publish("x"));
        damage = concat([frame(1, 1, payload), headerFrame(1, 1), frame(3, 1, new Uint8Array([0x78]))]);
      } else if (variant === "header key") {
        const entry = concat([new Uint8Array([bad.length]), new Uint8Array(bad), new Uint8Array([0x74, 1])]);
        damage = publishWithHeaders(1, tableBytes([entry]), new Uint8Array([0x78]));
      } else if (variant === "content-type") {
        damage = concat([
          methodFrame(1, publish("fz.ok.nowhere")),
          frame(2, 1, rawHeader(60, 0, 1, concat([new Uint8Array([0x80, 0, bad.length]), new Uint8Array(bad)]))),
          frame(3, 1, new Uint8Array([0x78])),
        ]);
      } else {
        const entry = concat([new Uint8Array([bad.length]), new Uint8Array(bad), new Uint8Array([0x74, 1])]);
        damage = withTable(1, rng, tableBytes([entry]), false);
      }
      return { stage: "channel", damage, probe: true, note: `${variant} with bytes ${bad.map((b) => b.toString(16)).join(" ")}` };
    },
  },

  // ---- unknown methods: 540 NOT_IMPLEMENTED (src/amqp/index.ts; RabbitMQ cannot look them up)
  {
    name: "unknown-method",
    weight: 4,
    expect: {
      outcome: "close",
      codes: [C.NOT_IMPLEMENTED],
      why: "src/amqp: unknown class/method id is 540 (spec: not-implemented; RabbitMQ 3.10.8 drops the connection)",
    },
    build: ({ rng }) => {
      const known = new Set(Object.values(METHOD_TABLE).map((s) => (s.classId << 16) | s.methodId));
      let classId: number;
      let methodId: number;
      do {
        classId = rng.chance(0.6) ? rng.pick([10, 20, 40, 50, 60, 85, 90]) : rng.pick([0, 30, 70, 80, 100, 110, 120, rng.int(0, 65535)]);
        methodId = rng.chance(0.5) ? rng.int(0, 130) : rng.int(0, 65535);
      } while (known.has((classId << 16) | methodId));
      const p = concat([new Uint8Array([classId >> 8, classId & 255, methodId >> 8, methodId & 255]), rng.bytes(rng.int(0, 24))]);
      return {
        stage: rng.pick(["header", "start-ok", "open", "channel", "channel"] as const),
        damage: frame(1, rng.pick([0, 1, 0, 1, rng.int(2, 9)]), p),
        probe: true,
        note: `method ${classId}/${methodId}`,
      };
    },
  },
  {
    name: "server-method-from-client",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.COMMAND_INVALID, C.CHANNEL_ERROR, C.NOT_IMPLEMENTED],
      why: "a server-only method from the client: Warren 540 on a channel / 503 on channel 0; RabbitMQ 503 (rabbit_channel 'unimplemented method') / 504 (channel 0)",
    },
    build: ({ rng }) => {
      const name = rng.pick(SERVER_ONLY_METHODS);
      const ch = name.startsWith("connection.") ? rng.pick([0, 0, 1]) : rng.pick([1, 1, 0]);
      return { stage: "channel", damage: methodBytes(rng, ch, randomArgs(rng, name)), probe: true, note: `${name} on channel ${ch}` };
    },
  },

  // ---- channels: 504 CHANNEL_ERROR (rabbit_channel: "expected 'channel.open'", "second 'channel.open' seen")
  {
    name: "unopened-channel",
    weight: 4,
    expect: {
      outcome: "close",
      codes: [C.CHANNEL_ERROR],
      why: "rabbit_channel: a method before channel.open is channel_error (504), a hard error",
    },
    build: (ctx) => {
      const ch = freeChannel(ctx);
      return { stage: "channel", damage: channelMethod(ctx.rng, ch), probe: true, note: `channel ${ch} never opened` };
    },
  },
  {
    name: "unopened-channel-content",
    weight: 2,
    expect: { outcome: "close", codes: [C.UNEXPECTED_FRAME], why: RABBIT_505 },
    build: (ctx) => {
      const ch = ctx.rng.chance(0.5) ? freeChannel(ctx) : 1;
      const body = ctx.rng.chance(0.5);
      return {
        stage: "channel",
        damage: body ? frame(3, ch, ctx.rng.bytes(ctx.rng.int(0, 20))) : headerFrame(ch, ctx.rng.int(0, 20)),
        probe: true,
        note: `content ${body ? "body" : "header"} without a method on channel ${ch}`,
      };
    },
  },
  {
    name: "duplicate-channel-open",
    weight: 2,
    expect: { outcome: "close", codes: [C.CHANNEL_ERROR], why: "rabbit_channel: second 'channel.open' seen is channel_error (504)" },
    build: ({ rng }) => ({
      stage: "channel",
      damage: concat([...(rng.chance(0.5) ? [someMethodFrame(rng, 1)] : []), methodFrame(1, CHANNEL_OPEN)]),
      probe: true,
      note: "channel.open on channel 1 again",
    }),
  },
  {
    name: "channel-over-max",
    weight: 3,
    expect: {
      outcome: "ok",
      why: "RabbitMQ 3.10.8 (rabbit_reader create_channel): channel_max bounds the count of open channels, not their numbers; channel.open on a number above it is answered",
    },
    build: (ctx) => {
      const ch = ctx.rng.int(ctx.channelMax + 1, ctx.rng.chance(0.5) ? Math.min(65535, ctx.channelMax + 10) : 65535);
      return {
        stage: "channel",
        damage: methodFrame(ch, CHANNEL_OPEN),
        probe: true,
        note: `channel.open on channel ${ch} > channel_max ${ctx.channelMax}`,
      };
    },
  },

  // ---- content out of order: 505 UNEXPECTED_FRAME (rabbit_command_assembler)
  {
    name: "content-out-of-order",
    weight: 6,
    expect: { outcome: "close", codes: [C.UNEXPECTED_FRAME], why: RABBIT_505 },
    build: ({ rng }) => {
      const p = methodFrame(1, publish("fz.ok.nowhere"));
      const n = rng.int(1, 20);
      const variants: [string, Uint8Array][] = [
        ["header without a method", headerFrame(1, n)],
        ["body without a method", frame(3, 1, rng.bytes(n))],
        ["body before the header", concat([p, frame(3, 1, rng.bytes(n))])],
        ["method instead of the header", concat([p, someMethodFrame(rng, 1)])],
        ["method instead of the body", concat([p, headerFrame(1, n), someMethodFrame(rng, 1)])],
        ["second header", concat([p, headerFrame(1, n), headerFrame(1, n)])],
        ["header of class 50", concat([p, frame(2, 1, rawHeader(rng.pick([10, 20, 50, 85, rng.int(61, 65535)]), 0, n))])],
        ["header with weight", concat([p, frame(2, 1, rawHeader(60, rng.int(1, 65535), n))])],
        ["body after a complete message", concat([p, headerFrame(1, 2), frame(3, 1, rng.bytes(2)), frame(3, 1, rng.bytes(n))])],
        ["header on channel 0", headerFrame(0, n)],
        ["body on channel 0", frame(3, 0, rng.bytes(n))],
      ];
      const [note, damage] = rng.pick(variants);
      return { stage: "channel", damage, probe: true, note };
    },
  },
  {
    name: "channel-method-on-channel-0",
    weight: 3,
    expect: {
      outcome: "close",
      codes: [C.COMMAND_INVALID, C.CHANNEL_ERROR],
      why: "src/amqp + session/dispatch.ts: content or channel methods on channel 0 are 503; RabbitMQ: 'unexpected method in connection state' 504",
    },
    build: ({ rng }) => {
      const name = rng.pick(CLIENT_METHODS.filter((n) => !n.startsWith("connection.")));
      return {
        stage: rng.pick(["open", "channel"] as const),
        damage: methodBytes(rng, 0, randomArgs(rng, name)),
        probe: true,
        note: `${name} on channel 0`,
      };
    },
  },

  // ---- the connection's phases
  {
    name: "wrong-phase",
    weight: 4,
    expect: {
      outcome: "close",
      codes: [C.COMMAND_INVALID, C.CHANNEL_ERROR, C.UNEXPECTED_FRAME],
      why: "a method the phase does not allow: Warren 503 (spec: command-invalid); RabbitMQ 504 on channel 0, 505 for channel frames before open",
    },
    build: (ctx) => {
      const { rng } = ctx;
      const stage = rng.pick(["header", "start-ok", "tune-ok", "open"] as const);
      const parts = prefixParts(ctx.session);
      const startOk = parts[1]!.bytes;
      const tuneOk = parts[2]!.bytes;
      const open = parts[3]!.bytes;
      const chOpen = methodFrame(1, CHANNEL_OPEN);
      // What the next phase does not accept (never a second login attempt: start-ok is refused before authentication).
      const wrong: Record<typeof stage, [string, Uint8Array][]> = {
        header: [
          ["tune-ok before start-ok", tuneOk],
          ["open before start-ok", open],
          ["channel.open before start-ok", chOpen],
          ["secure-ok unasked", methodFrame(0, { name: "connection.secure-ok", args: { response: "x" } })],
          ["update-secret before open", methodFrame(0, { name: "connection.update-secret", args: { newSecret: "s", reason: "r" } })],
        ],
        "start-ok": [
          ["start-ok twice", startOk],
          ["open before tune-ok", open],
          ["channel.open before tune-ok", chOpen],
        ],
        "tune-ok": [
          ["start-ok after tune-ok", startOk],
          ["tune-ok twice", tuneOk],
          ["channel.open before open", chOpen],
          ["a channel method before open", channelMethod(rng, 1)],
        ],
        open: [
          ["start-ok after open", startOk],
          ["tune-ok after open", tuneOk],
          ["open twice", open],
        ],
      };
      const [note, damage] = rng.pick(wrong[stage]);
      return { stage, damage, probe: false, note };
    },
  },
  {
    name: "bad-tune",
    weight: 2,
    expect: {
      outcome: "close",
      codes: [C.NOT_ALLOWED],
      why: "RabbitMQ validate_negotiated_integer_value: frame_max < 4096 or above the server's, channel_max above it: not_allowed (530)",
    },
    build: ({ rng }) => {
      const bad = rng.pick([
        { channelMax: 0, frameMax: rng.int(1, 4095), heartbeat: 0 },
        { channelMax: 0, frameMax: rng.int(SERVER_FRAME_MAX + 1, 2 ** 32 - 1), heartbeat: 0 },
        { channelMax: rng.int(2048, 65535), frameMax: SERVER_FRAME_MAX, heartbeat: 0 },
      ]);
      return {
        stage: "start-ok",
        damage: methodFrame(0, { name: "connection.tune-ok", args: bad }),
        probe: false,
        note: `tune-ok ${JSON.stringify(bad)}`,
      };
    },
  },
  {
    name: "bad-protocol-header",
    weight: 3,
    expect: {
      outcome: "header",
      why: "spec 4.2.2: an unsupported protocol header is answered with the server's, then the socket is closed",
    },
    build: ({ rng }) => {
      const options: [string, Uint8Array][] = [
        ["AMQP 0-8", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0])],
        ["AMQP 0-10", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10])],
        ["AMQP 1.0", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0])],
        ["AMQP 1.0 SASL", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 3, 1, 0, 0])],
        ["AMQP 0-9-2", new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2])],
        ["HTTP GET", new TextEncoder().encode("GET /amqp HTTP/1.1\r\nHost: localhost\r\n\r\n")],
        ["TLS hello", new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03])],
        ["a frame instead of the header", methodFrame(0, CHANNEL_OPEN)],
        [
          "random bytes",
          (() => {
            const b = rng.bytes(rng.int(1, 64));
            if (b[0] === 0x41) b[0] = 0x42;
            return b;
          })(),
        ],
        [
          "header with a random tail",
          (() => {
            const b = concat([PROTOCOL_HEADER.subarray(0, rng.int(0, 7)), rng.bytes(8)]);
            const i = b.findIndex((x, k) => x !== PROTOCOL_HEADER[k]);
            if (i < 0 || i >= 8) b[7] = 2;
            return b;
          })(),
        ],
      ];
      const [note, damage] = rng.pick(options);
      return { stage: "none", damage, probe: false, note };
    },
  },
  {
    name: "partial-protocol-header",
    weight: 1,
    expect: { outcome: "silence", why: "a strict prefix of the header: the server waits for the rest" },
    build: ({ rng }) => {
      const n = rng.int(0, 7);
      return { stage: "none", damage: PROTOCOL_HEADER.slice(0, n), probe: false, note: `${n} header bytes` };
    },
  },
  {
    name: "truncated-frame",
    weight: 4,
    expect: { outcome: "silence", why: "a valid frame cut short: the server waits for its remaining bytes" },
    build: (ctx) => {
      const { rng } = ctx;
      const stage = rng.pick(["header", "start-ok", "tune-ok", "open", "channel", "channel", "channel"] as const);
      const next = STAGES.indexOf(stage) + 1;
      const whole = next < STAGES.length ? prefixParts(ctx.session)[next - 1]!.bytes : randomItem(rng, 1);
      // Keep the cut inside the first frame, so every frame before it is complete.
      const size = new DataView(whole.buffer, whole.byteOffset).getUint32(3);
      const keep = rng.int(1, 7 + size);
      return { stage, damage: whole.slice(0, keep), probe: false, note: `${keep} of ${8 + size} bytes of a frame` };
    },
  },

  // ---- no error: the server answers as usual
  {
    name: "valid-edge-cases",
    weight: 5,
    expect: {
      outcome: "ok",
      why: "valid AMQP: heartbeats, empty body frames, empty bodies, 255-byte names, deep-but-allowed nesting, pending content",
    },
    build: (ctx) => {
      const { rng } = ctx;
      const variants: [string, () => Uint8Array][] = [
        [
          "heartbeats between frames",
          () => concat([frame(8, 0, new Uint8Array(0)), someMethodFrame(rng, 1), frame(8, 0, new Uint8Array(0))]),
        ],
        [
          "body in small frames with empty ones",
          () => {
            const body = rng.bytes(rng.int(1, 50));
            const parts = bodyFrames(1, body, rng.int(1, 10));
            const frames = parts.flatMap((f) => (rng.chance(0.3) ? [frame(3, 1, new Uint8Array(0)), f] : [f]));
            return concat([methodFrame(1, publish("fz.ok.nowhere")), headerFrame(1, body.length), ...frames]);
          },
        ],
        ["empty body, no body frame", () => concat([methodFrame(1, publish("fz.ok.nowhere")), headerFrame(1, 0)])],
        [
          "255-byte queue name",
          () =>
            methodFrame(1, {
              name: "queue.declare",
              args: {
                ticket: 0,
                queue: POOL_LONG(rng, "fz.ok.q"),
                passive: false,
                durable: false,
                exclusive: false,
                autoDelete: false,
                noWait: false,
                arguments: {},
              },
            }),
        ],
        [
          "255-byte exchange name",
          () =>
            methodFrame(1, {
              name: "exchange.declare",
              args: {
                ticket: 0,
                exchange: POOL_LONG(rng, "fz.ok.x"),
                type: "fanout",
                passive: false,
                durable: false,
                autoDelete: false,
                internal: false,
                noWait: false,
                arguments: {},
              },
            }),
        ],
        ["255-byte routing key", () => contentFrames(1, publish("k".repeat(255), "amq.direct"), rng.bytes(3))],
        [
          "long property values",
          () =>
            contentFrames(1, publish("fz.ok.nowhere"), rng.bytes(3), {
              messageId: "m".repeat(255),
              headers: { big: { type: "S", value: "v".repeat(rng.int(256, 3000)) } },
            }),
        ],
        ["nesting within the limit (queue.declare)", () => withTable(1, rng, nestedTable(rng, rng.int(1, 60)), false)],
        ["nesting within the limit (headers)", () => publishWithHeaders(1, nestedTable(rng, rng.int(1, 60)), rng.bytes(2))],
        [
          "content left pending on channel 1",
          () => concat([methodFrame(1, publish("fz.ok.nowhere")), headerFrame(1, 100), frame(3, 1, rng.bytes(rng.int(0, 50)))]),
        ],
        [
          "channel closed and reopened",
          () => {
            const ch = freeChannel(ctx);
            return concat([
              methodFrame(ch, CHANNEL_OPEN),
              methodFrame(ch, { name: "channel.close", args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 } }),
              methodFrame(ch, CHANNEL_OPEN),
            ]);
          },
        ],
      ];
      const [note, make] = rng.pick(variants);
      return { stage: "channel", damage: make(), probe: true, note };
    },
  },
  {
    name: "max-size-frame",
    weight: 1,
    expect: { outcome: "ok", why: "a body frame of exactly frame_max payload is accepted (RabbitMQ's FRAME_SIZE_FUDGE)" },
    build: ({ rng, frameMax }) => {
      const size = rng.pick([frameMax - 8, frameMax]);
      return {
        stage: "channel",
        damage: concat([methodFrame(1, publish("fz.ok.nowhere")), headerFrame(1, size), frame(3, 1, rng.bytes(size))]),
        probe: true,
        note: `body frame of ${size} bytes`,
        afterOpen: true,
      };
    },
  },

  {
    name: "traffic",
    weight: 4,
    expect: { outcome: "ok", why: "valid traffic: declare, bind, consume, publish (deliveries flow back), all answered" },
    build: ({ rng }) => {
      // Shared queues with fixed properties: concurrent cases may use the same one without conflict.
      const q = `fz.t.${rng.int(0, 3)}`;
      const noAck = rng.chance(0.7);
      const items: Uint8Array[] = [
        methodFrame(1, {
          name: "queue.declare",
          args: { ticket: 0, queue: q, passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} },
        }),
        methodFrame(1, {
          name: "queue.bind",
          args: { ticket: 0, queue: q, exchange: "amq.direct", routingKey: q, noWait: rng.chance(0.3), arguments: {} },
        }),
        methodFrame(1, { name: "basic.qos", args: { prefetchSize: 0, prefetchCount: rng.int(0, 5), global: rng.chance(0.5) } }),
        methodFrame(1, {
          name: "basic.consume",
          args: { ticket: 0, queue: q, consumerTag: "", noLocal: false, noAck, exclusive: false, noWait: false, arguments: {} },
        }),
      ];
      if (rng.chance(0.3)) items.push(methodFrame(1, { name: "confirm.select", args: { noWait: false } }));
      const n = rng.int(1, 12);
      for (let i = 0; i < n; i++) {
        const body = rng.bytes(rng.int(0, 200));
        items.push(contentFrames(1, publish(q, rng.pick(["", "amq.direct"]), rng.chance(0.2)), body, randomProps(rng, false)));
      }
      return { stage: "channel", damage: concat(items), probe: true, note: `${n} messages through ${q} (noAck=${noAck})` };
    },
  },

  {
    // Found the delivery loop of a closing connection (last test of protocol-fuzz.test.ts).
    name: "session-chaos",
    weight: 8,
    expect: {
      outcome: "any",
      why: "valid methods in random order on a few channels: consumers, deliveries, acks by guessed tags, tx, confirms, flow",
    },
    build: ({ rng }) => {
      // Its own queues (fz.c.*): exclusive consumers here cannot disturb the kinds that expect "ok".
      const q = `fz.c.${rng.int(0, 3)}`;
      const items: Uint8Array[] = [
        methodFrame(1, {
          name: "queue.declare",
          args: { ticket: 0, queue: q, passive: false, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} },
        }),
      ];
      const open = new Set([1]);
      const notes: string[] = [];
      const channel = () => rng.pick([...open]);
      // Mostly tags that may exist (deliveries are numbered from 1 per channel), or 0 with
      // multiple=true (everything outstanding, never an error); now and then one that cannot.
      const tag = () =>
        rng.weighted<number>([
          [0, 3],
          [rng.int(1, 4), 4],
          [rng.int(5, 1000), 1],
        ]);
      const steps = rng.int(3, 12);
      for (let i = 0; i < steps; i++) {
        const ch = channel();
        const step = rng.pick([
          "publish",
          "publish",
          "interleaved",
          "consume",
          "ack",
          "nack",
          "reject",
          "recover",
          "cancel",
          "qos",
          "flow",
          "tx",
          "confirm",
          "get",
          "open",
          "close",
        ] as const);
        notes.push(`${ch}:${step}`);
        switch (step) {
          case "publish":
            items.push(contentFrames(ch, publish(q, rng.pick(["", "amq.direct"]), rng.chance(0.3)), rng.bytes(rng.int(0, 40))));
            break;
          case "interleaved": {
            // Two messages on two channels, their frames interleaved (allowed: assembly is per channel).
            const others = [...open].filter((c) => c !== ch);
            if (others.length === 0) break;
            const other = rng.pick(others);
            const a = [methodFrame(ch, publish(q)), headerFrame(ch, 3), frame(3, ch, rng.bytes(3))];
            const b = [methodFrame(other, publish(q)), headerFrame(other, 2), frame(3, other, rng.bytes(2))];
            for (let k = 0; k < 3; k++) items.push(a[k]!, b[k]!);
            break;
          }
          case "consume":
            items.push(
              methodFrame(ch, {
                name: "basic.consume",
                args: {
                  ticket: 0,
                  queue: q,
                  consumerTag: rng.pick(["", "ct0", "ct1"]),
                  noLocal: false,
                  noAck: rng.chance(0.4),
                  exclusive: rng.chance(0.1),
                  noWait: rng.chance(0.2),
                  arguments: {},
                },
              }),
            );
            break;
          case "ack":
            {
              const t = tag();
              items.push(methodFrame(ch, { name: "basic.ack", args: { deliveryTag: t, multiple: t === 0 || rng.chance(0.3) } }));
            }
            break;
          case "nack":
            {
              const t = tag();
              items.push(
                methodFrame(ch, {
                  name: "basic.nack",
                  args: { deliveryTag: t, multiple: t === 0 || rng.chance(0.3), requeue: rng.chance(0.5) },
                }),
              );
            }
            break;
          case "reject":
            items.push(methodFrame(ch, { name: "basic.reject", args: { deliveryTag: tag() || 1, requeue: rng.chance(0.5) } }));
            break;
          case "recover":
            items.push(
              methodFrame(ch, { name: rng.pick(["basic.recover", "basic.recover-async"] as const), args: { requeue: rng.chance(0.7) } }),
            );
            break;
          case "cancel":
            items.push(
              methodFrame(ch, { name: "basic.cancel", args: { consumerTag: rng.pick(["ct0", "ct1", "nope"]), noWait: rng.chance(0.2) } }),
            );
            break;
          case "qos":
            items.push(
              methodFrame(ch, { name: "basic.qos", args: { prefetchSize: 0, prefetchCount: rng.int(0, 4), global: rng.chance(0.5) } }),
            );
            break;
          case "flow":
            items.push(methodFrame(ch, { name: "channel.flow", args: { active: rng.chance(0.6) } }));
            break;
          case "tx":
            items.push(methodFrame(ch, { name: rng.pick(["tx.select", "tx.commit", "tx.rollback"] as const), args: {} }));
            break;
          case "confirm":
            items.push(methodFrame(ch, { name: "confirm.select", args: { noWait: rng.chance(0.2) } }));
            break;
          case "get":
            items.push(methodFrame(ch, { name: "basic.get", args: { ticket: 0, queue: q, noAck: rng.chance(0.5) } }));
            break;
          case "open": {
            const free = [2, 3, 4].filter((c) => !open.has(c));
            if (free.length === 0) break;
            const n = rng.pick(free);
            open.add(n);
            items.push(methodFrame(n, CHANNEL_OPEN));
            break;
          }
          case "close":
            if (ch === 1) break;
            open.delete(ch);
            items.push(methodFrame(ch, { name: "channel.close", args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 } }));
            break;
        }
      }
      return { stage: "channel", damage: concat(items), probe: true, note: `${q}: ${notes.join(" ")}` };
    },
  },

  // ---- random input
  {
    name: "random-methods",
    weight: 12,
    expect: { outcome: "any", why: "valid methods from the codec's table with random arguments: any broker answer" },
    build: ({ rng }) => {
      const items: Uint8Array[] = [];
      const names: string[] = [];
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++) {
        const ch = rng.weighted<number>([
          [1, 8],
          [0, 1],
          [2, 1],
          [3, 1],
        ]);
        if (ch === 3 && rng.chance(0.7)) items.push(methodFrame(3, CHANNEL_OPEN));
        const name =
          ch === 0
            ? rng.pick(CLIENT_METHODS.filter((m) => m.startsWith("connection.")))
            : rng.chance(0.93)
              ? rng.pick(CLIENT_METHODS)
              : rng.pick(SERVER_ONLY_METHODS);
        items.push(methodBytes(rng, ch, randomArgs(rng, name)));
        names.push(`${ch}:${name}`);
      }
      return { stage: "channel", damage: concat(items), probe: true, note: names.join(" ") };
    },
  },
  {
    name: "flipped-bytes",
    weight: 12,
    expect: {
      outcome: "any",
      why: "valid frames with flipped, overwritten, inserted or deleted bytes: any broker answer; a framing error must close",
    },
    build: ({ rng }) => {
      const base = concat(Array.from({ length: rng.int(1, 3) }, () => (rng.chance(0.5) ? someMethodFrame(rng, 1) : randomItem(rng, 1))));
      let b: Uint8Array = base.slice();
      const edits: string[] = [];
      for (let i = rng.int(1, 4); i > 0; i--) {
        const at = rng.int(0, b.length - 1);
        const op = rng.pick(["flip", "set", "run", "insert", "delete"] as const);
        if (op === "flip") b[at] = b[at]! ^ (1 << rng.int(0, 7));
        else if (op === "set") b[at] = rng.int(0, 255);
        else if (op === "run") b.set(rng.bytes(Math.min(rng.int(1, 8), b.length - at)), at);
        else if (op === "insert") b = concat([b.subarray(0, at), rng.bytes(rng.int(1, 4)), b.subarray(at)]);
        else if (b.length > 1) b = concat([b.subarray(0, at), b.subarray(at + rng.int(1, 4))]);
        edits.push(`${op}@${at}`);
      }
      return { stage: "channel", damage: b, probe: true, note: edits.join(" ") };
    },
  },
];

/** Byte offset, in an encoded method payload, of argument `index` (bits packed as the codec packs them). */
function fieldOffset(name: MethodName, payload: Uint8Array, index: number): number {
  const fields = METHOD_TABLE[name].fields as readonly (readonly [string, string])[];
  const v = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  let at = 4;
  let inBits = false;
  for (let i = 0; i < index; i++) {
    const type = fields[i]![1];
    if (type === "bit") {
      if (!inBits) at += 1;
      inBits = true;
      continue;
    }
    inBits = false;
    if (type === "octet") at += 1;
    else if (type === "short") at += 2;
    else if (type === "long") at += 4;
    else if (type === "longlong" || type === "timestamp") at += 8;
    else if (type === "shortstr") at += 1 + v.getUint8(at);
    else at += 4 + v.getUint32(at);
  }
  return at;
}

/** The probe: a channel.open on a channel nothing else uses; it must be answered if the connection lives. */
export function probeFrame(channel: number): Uint8Array {
  return methodFrame(channel, CHANNEL_OPEN);
}
