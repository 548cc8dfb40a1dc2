// Runs one fuzz case against a live Warren and judges what came back (the oracle).
import amqp, { type Channel, type ChannelModel, type ConsumeMessage } from "amqplib";
import { type Command, PROTOCOL_HEADER, ReplyCode, isHardError, replyText } from "../../src/amqp";
import { FuzzClient, type TransportKind } from "./fuzz-client";
import { type Built, type Expectation, KINDS, type Kind, SERVER_SENDABLE, probeFrame } from "./kinds";
import { Rng, caseSeed } from "./prng";
import {
  SERVER_FRAME_MAX,
  PRE_TUNE_FRAME_MAX,
  SERVER_CHANNEL_MAX,
  STAGE_ANSWER,
  STAGES,
  type Session,
  concat,
  hex,
  methodFrame,
  prefixParts,
  scanFrames,
} from "./wire";

/** The probe's channel: no kind's damage opens it. */
export const PROBE_CHANNEL = 7;
/**
 * After the last byte of a complete stream, the server must have reacted within this. The clock
 * starts once the server has shown it is reading this connection (its first byte) or at the last
 * write, whichever is later: the bridge may hold a new connection's bytes while it waits for a
 * WebSocket slot, and local workerd serves nothing else while it accepts a burst of upgrades.
 */
export const REACTION_MS = 3000;
/** A connection the server does not answer at all (not even connection.start) within this is stalled. */
export const FIRST_BYTE_MS = 10_000;
/** How long a case whose stream ends inside a frame listens before giving up on the socket. */
export const SILENCE_MS = 400;
/** After the server's connection.close the socket must be gone within this (it waits 3 s for close-ok). */
export const CLOSE_MS = 6000;
/** Pipelined streams stay under Warren's pre-open byte budget (limits.handshakeBytes, 8 KiB). */
const PIPELINE_MAX_BYTES = 6000;

const REPLY_CODES: ReadonlySet<number> = new Set(Object.values(ReplyCode));
/** What a reply text must never show: runtime error names, stack frames, paths, JS leftovers. */
const LEAKS =
  /TypeError|ReferenceError|RangeError|SyntaxError|AggregateError|undefined|NaN|\[object |\bat \S+ \(|\.[cm]?[jt]s:\d|\/src\/|file:|node_modules|Error:/;

export interface Target {
  port: number;
  wsUrl: string;
}

export interface CaseResult {
  index: number;
  seed: number;
  kind: string;
  transport: TransportKind;
  pipelined: boolean;
  note: string;
  /** Short label of what the server did, for the summary. */
  outcome: string;
  problems: string[];
  /** The whole stream, and the offsets it was cut at into writes. */
  stream: Uint8Array;
  cuts: number[];
  received: string;
  ms: number;
  reactionMs?: number;
  closeMs?: number;
  closeOkSent?: boolean;
}

export interface CasePlan {
  index: number;
  seed: number;
  kind: Kind;
  transport: TransportKind;
  session: Session;
  built: Built;
  prefix: { stage: string; bytes: Uint8Array }[];
  stream: Uint8Array;
  /** Where the damage starts, and the probe (stream.length when there is none). */
  damageAt: number;
  probeAt: number;
  pipelined: boolean;
  rng: Rng;
}

/** Everything about case `index` that does not depend on the server: drawn from its own seed. */
export function planCase(
  runSeed: number,
  index: number,
  kinds: readonly Kind[] = KINDS,
  transports: readonly TransportKind[] = ["tcp", "ws"],
): CasePlan {
  const seed = caseSeed(runSeed, index);
  const rng = new Rng(seed);
  const kind = rng.weighted(kinds.map((k) => [k, k.weight] as const));
  // Alternating, so both transports get every kind.
  const transport = transports[index % transports.length]!;
  const channelMax = rng.weighted<number>([
    [0, 1],
    [SERVER_CHANNEL_MAX, 1],
    [rng.int(8, SERVER_CHANNEL_MAX), 2],
  ]);
  const frameMax = rng.chance(0.7) ? SERVER_FRAME_MAX : rng.int(4096, SERVER_FRAME_MAX);
  const session: Session = { channelMax, frameMax, channel: 1 };
  const built = kind.build({ rng, session, frameMax, channelMax: channelMax || SERVER_CHANNEL_MAX, probe: PROBE_CHANNEL });
  const prefix = prefixParts(session).slice(0, STAGES.indexOf(built.stage));
  const head = concat(prefix.map((p) => p.bytes));
  const probe = built.probe ? probeFrame(PROBE_CHANNEL) : new Uint8Array(0);
  const stream = concat([head, built.damage, probe]);
  const pipelined = !built.afterOpen && stream.length <= PIPELINE_MAX_BYTES && rng.chance(0.7);
  return {
    index,
    seed,
    kind,
    transport,
    session,
    built,
    prefix,
    stream,
    damageAt: head.length,
    probeAt: head.length + built.damage.length,
    pipelined,
    rng,
  };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Writes bytes in pieces cut at random offsets, with random pauses (none, a turn, a few ms). */
async function writeSplit(c: FuzzClient, rng: Rng, bytes: Uint8Array, base: number, cuts: number[]): Promise<void> {
  // Mostly a few writes; now and then one write per byte (a short stream or the damage alone).
  const byteByByte = bytes.length <= 400 && rng.chance(0.05);
  const n = rng.weighted<number>([
    [0, 3],
    [1, 2],
    [rng.int(2, 6), 2],
    [rng.int(7, 30), 1],
  ]);
  const at = byteByByte ? Array.from({ length: bytes.length - 1 }, (_, i) => i + 1) : rng.cuts(bytes.length, n);
  let from = 0;
  for (const to of [...at, bytes.length]) {
    // Over WebSocket, an ASCII piece sometimes goes as a text message, and an empty message now and then.
    const piece = bytes.subarray(from, to);
    const asText = c.kind === "ws" && rng.chance(0.1) && piece.every((b) => b < 0x80);
    c.write(piece, asText);
    if (c.kind === "ws" && rng.chance(0.03)) c.write(new Uint8Array(0));
    if (to < bytes.length && !byteByByte) {
      cuts.push(base + to);
      const pause = rng.weighted<number>([
        [-1, 4],
        [0, 3],
        [rng.int(1, 5), 2],
      ]);
      if (pause === 0) await new Promise((resolve) => setImmediate(resolve));
      else if (pause > 0) await sleep(pause);
    }
    from = to;
  }
}

interface Judgement {
  problems: string[];
  outcome: string;
  /** ms from the start of the clock to the server's reaction (undefined: none came). */
  reactionMs?: number;
  /** ms from the server's connection.close to the socket closing, and whether close-ok was sent. */
  closeMs?: number;
  closeOkSent?: boolean;
}

/** Runs case `plan` on a fresh connection and judges it. */
export async function runCase(plan: CasePlan, target: Target): Promise<CaseResult> {
  const started = Date.now();
  const { rng, built, kind } = plan;
  const problems: string[] = [];
  const cuts: number[] = [];
  let c: FuzzClient | undefined;
  let outcome = "?";
  let judged: Judgement | undefined;
  try {
    c = await FuzzClient.open(plan.transport, target);
    if (plan.pipelined) {
      await writeSplit(c, rng, plan.stream, 0, cuts);
    } else {
      // As a client that waits for each answer of the handshake, then sends the damage.
      let at = 0;
      for (const part of plan.prefix) {
        c.write(part.bytes);
        at += part.bytes.length;
        cuts.push(at);
        const answer = STAGE_ANSWER[part.stage as keyof typeof STAGE_ANSWER];
        if (answer && !(await c.until(() => c!.find(answer) !== undefined, 5000))) {
          problems.push(`the valid prefix got no ${answer} within 5 s (${c.closed ? "socket closed" : "still open"})`);
          break;
        }
      }
      if (problems.length === 0) await writeSplit(c, rng, plan.stream.subarray(plan.damageAt), plan.damageAt, cuts);
    }
    judged = problems.length === 0 ? await observe(plan, c) : { problems: [], outcome: "prefix-failed" };
    problems.push(...judged.problems);
    outcome = judged.outcome;
  } catch (err) {
    problems.push(`runner error: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    c?.close();
  }
  return {
    index: plan.index,
    seed: plan.seed,
    kind: kind.name,
    transport: plan.transport,
    pipelined: plan.pipelined,
    note: built.note,
    outcome,
    problems,
    stream: plan.stream,
    cuts,
    received: c ? describeReceived(c) : "(no connection)",
    ms: Date.now() - started,
    ...(judged?.reactionMs !== undefined ? { reactionMs: judged.reactionMs } : {}),
    ...(judged?.closeMs !== undefined ? { closeMs: judged.closeMs, closeOkSent: judged.closeOkSent ?? false } : {}),
  };
}

function describeReceived(c: FuzzClient): string {
  const r = c.received;
  const parts: string[] = [];
  if (r.header) parts.push(`header ${hex(r.header)}`);
  for (const { at, command } of r.commands) {
    const m = command.method;
    const detail = m.name === "connection.close" || m.name === "channel.close" ? ` ${m.args.replyCode} "${m.args.replyText}"` : "";
    parts.push(`+${at}ms ch${command.channel} ${m.name}${detail}`);
  }
  if (r.parseError) parts.push(`parse error: ${r.parseError}`);
  parts.push(
    r.closedAt === null ? "socket open" : `socket closed +${r.closedAt}ms${r.wsCloseCode !== null ? ` (ws ${r.wsCloseCode})` : ""}`,
  );
  return parts.join("; ");
}

function closeOf(cmd: Command | undefined): { code: number; text: string } | undefined {
  if (!cmd) return undefined;
  const m = cmd.method;
  if (m.name !== "connection.close" && m.name !== "channel.close") return undefined;
  return { code: m.args.replyCode, text: m.args.replyText };
}

/** What the framing model says about a case's stream; only "any" kinds need it. */
function framing(plan: CasePlan): { probeIntact: boolean; framingError: boolean; ambiguous: boolean; clientCloses: boolean } {
  const from = plan.built.stage === "none" ? 0 : PROTOCOL_HEADER.length;
  const v = scanFrames(plan.stream, from, plan.session.frameMax);
  const probeIntact = plan.built.probe && v.status === "complete" && v.frames.some((f) => f.start === plan.probeAt);
  // Before tune-ok takes effect Warren reads frames of at most 4096 bytes; a pipelined stream
  // may still be read with that limit when a mutated size field lands in between.
  const ambiguous = plan.pipelined && v.largest > PRE_TUNE_FRAME_MAX - 8;
  // A connection.close or close-ok of the client's own (class 10, method 50/51 on channel 0)
  // lets the server drop the socket without a close of its own.
  const clientCloses = v.frames.some(
    (f) =>
      f.type === 1 &&
      f.channel === 0 &&
      f.payload.length >= 4 &&
      f.payload[0] === 0 &&
      f.payload[1] === 10 &&
      f.payload[2] === 0 &&
      (f.payload[3] === 50 || f.payload[3] === 51),
  );
  return { probeIntact, framingError: v.status === "error", ambiguous, clientCloses };
}

/** Waits for the server's reaction, completes the close if there is one, and checks everything. */
async function observe(plan: CasePlan, c: FuzzClient): Promise<Judgement> {
  const expect: Expectation = plan.kind.expect;
  const model = expect.outcome === "any" ? framing(plan) : undefined;
  const silenceAllowed =
    expect.outcome === "silence" || (model !== undefined && (model.ambiguous || (!model.probeIntact && !model.framingError)));
  const connClose = () => c.received.commands.find((x) => x.command.channel === 0 && x.command.method.name === "connection.close");
  const probeAnswered = () => c.find("channel.open-ok", PROBE_CHANNEL) !== undefined;
  // A close-expecting case waits for the close itself: a broker may answer the probe on another
  // channel before it gets to the error (RabbitMQ runs channels in their own processes).
  const reacted = () =>
    c.closed || c.received.header !== null || connClose() !== undefined || (expect.outcome !== "close" && probeAnswered());
  const problems: string[] = [];
  if (plan.built.stage !== "none") {
    const spoke = () => c.received.commands.length > 0 || c.received.header !== null || c.received.parseError !== null;
    if (!(await c.until(spoke, FIRST_BYTE_MS)) && !c.closed) problems.push(`no byte from the server within ${FIRST_BYTE_MS} ms`);
  }
  const clockFrom = c.now();
  await c.until(reacted, silenceAllowed || expect.outcome === "silence" ? SILENCE_MS : REACTION_MS);
  const afterReaction = c.now();
  const reactionMs = afterReaction - clockFrom;

  const serverClose = connClose();
  let closeOkSent = false;
  let closeMs: number | undefined;
  if (serverClose) {
    // Half the time answer with close-ok (spec 4.2.7), half the time let the server time out.
    closeOkSent = plan.rng.chance(0.5);
    if (closeOkSent) c.write(methodFrame(0, { name: "connection.close-ok", args: {} }));
    const from = c.now();
    if (!(await c.closedWithin(CLOSE_MS))) {
      problems.push(`socket still open ${CLOSE_MS} ms after the server's connection.close (close-ok ${closeOkSent ? "sent" : "not sent"})`);
    } else {
      closeMs = c.now() - from;
    }
  } else if (c.received.header) {
    if (!(await c.closedWithin(2000))) problems.push("socket still open 2 s after the server's protocol header");
  }

  const r = c.received;
  if (r.parseError) problems.push(r.parseError);
  for (const { command } of r.commands) {
    if (!SERVER_SENDABLE.has(command.method.name)) problems.push(`the server sent ${command.method.name}, a client-only method`);
  }

  // Every close, connection or channel: a known code, a clean text that names it.
  const chCloses = r.commands.filter((x) => x.command.method.name === "channel.close");
  for (const x of [...(serverClose ? [serverClose] : []), ...chCloses]) {
    const close = closeOf(x.command)!;
    const what = `${x.command.method.name} ${close.code}`;
    if (!REPLY_CODES.has(close.code)) problems.push(`${what}: not an AMQP reply code`);
    if (close.code === ReplyCode.INTERNAL_ERROR) problems.push(`${what}: INTERNAL_ERROR, the server failed on this input`);
    if (LEAKS.test(close.text)) problems.push(`${what}: reply text leaks internals: "${close.text}"`);
    if (REPLY_CODES.has(close.code) && !close.text.startsWith(`${replyText(close.code)} - `)) {
      problems.push(`${what}: reply text "${close.text}" does not start with ${replyText(close.code)}`);
    }
  }
  for (const x of chCloses) {
    const { code } = closeOf(x.command)!;
    if (isHardError(code) || code === ReplyCode.REPLY_SUCCESS) problems.push(`channel.close with ${code}, which is not a soft error code`);
    if (x.command.channel === 0) problems.push("channel.close on channel 0");
  }
  if (serverClose) {
    const after = r.commands.slice(r.commands.indexOf(serverClose) + 1);
    const onChannels = after.filter((x) => x.command.channel !== 0);
    if (onChannels.length > 0) {
      problems.push(
        `after its connection.close the server still sent ${onChannels.map((x) => `ch${x.command.channel} ${x.command.method.name}`).join(", ")}`,
      );
    }
    if (serverClose.command.method.name === "connection.close" && serverClose.command.method.args.replyCode === ReplyCode.REPLY_SUCCESS) {
      problems.push("connection.close 200 from the server on bad input");
    }
  }
  if (plan.transport === "ws" && r.closedAt !== null && r.wsCloseCode !== null && r.wsCloseCode !== 1000 && r.wsCloseCode !== 1005) {
    problems.push(`WebSocket closed with code ${r.wsCloseCode}`);
  }
  // A socket that goes without a word: only after the client's own connection.close / close-ok.
  const silentDrop = r.closedAt !== null && r.closedAt <= afterReaction && !serverClose && !r.header;
  const clientCloses = model?.clientCloses ?? false;
  const closedBySelf = r.commands.some((x) => x.command.method.name === "connection.close-ok");
  if (silentDrop && !clientCloses && !closedBySelf) problems.push("the socket was closed without connection.close");

  const code = serverClose ? closeOf(serverClose.command)!.code : undefined;
  const outcome = serverClose
    ? `close:${code}`
    : r.header
      ? "header"
      : chCloses.length > 0 && probeAnswered()
        ? `channel-close:${closeOf(chCloses[0]!.command)!.code}`
        : probeAnswered()
          ? "answered"
          : r.closedAt !== null
            ? "dropped"
            : "silent";
  const got = `got ${outcome}`;

  switch (expect.outcome) {
    case "close":
      if (code === undefined) problems.push(`expected connection.close ${expect.codes!.join("/")}, ${got}`);
      else if (!expect.codes!.includes(code))
        problems.push(`expected connection.close ${expect.codes!.join("/")}, got ${code} "${closeOf(serverClose!.command)!.text}"`);
      if (chCloses.length > 0)
        problems.push(
          `expected connection.close, but the server also closed channel(s) ${chCloses.map((x) => x.command.channel).join(",")}`,
        );
      break;
    case "ok":
      if (code !== undefined) problems.push(`valid input, yet connection.close ${code} "${closeOf(serverClose!.command)!.text}"`);
      else if (chCloses.length > 0) problems.push(`valid input, yet channel.close ${closeOf(chCloses[0]!.command)!.code}`);
      else if (!probeAnswered()) problems.push(`valid input, yet the probe got no channel.open-ok within ${REACTION_MS} ms (${got})`);
      break;
    case "silence":
      if (code !== undefined) problems.push(`the stream ends inside a frame, yet connection.close ${code}`);
      else if (r.closedAt !== null) problems.push("the stream ends inside a frame, yet the socket was closed");
      break;
    case "header":
      if (!r.header) problems.push(`expected the server's protocol header, ${got}`);
      else if (hex(r.header) !== hex(PROTOCOL_HEADER))
        problems.push(`protocol header answer ${hex(r.header)}, expected ${hex(PROTOCOL_HEADER)}`);
      if (r.commands.length > 0) problems.push("frames after a refused protocol header");
      break;
    case "any": {
      const m = model!;
      if (r.header) problems.push("protocol header answer to a valid header");
      if (m.framingError && !m.ambiguous && !m.clientCloses && code === undefined) {
        problems.push(`the stream has a framing error, yet no connection.close (${got})`);
      } else if (!silenceAllowed && !m.clientCloses && code === undefined && !probeAnswered() && !closedBySelf) {
        problems.push(`no reaction within ${REACTION_MS} ms to a complete stream (${got})`);
      }
      break;
    }
  }
  return { problems, outcome, ...(reacted() ? { reactionMs } : {}), ...(closeMs !== undefined ? { closeMs, closeOkSent } : {}) };
}

// ------------------------------------------------------------------ canary

/**
 * One connection kept open across all cases (amqplib, through the bridge): it publishes one
 * message to its own queue and consumes it, now and then, to prove unrelated connections neither
 * crashed nor stalled.
 */
export class Canary {
  private conn: ChannelModel | undefined;
  private ch: Channel | undefined;
  private queue = "";
  private waiting = new Map<string, () => void>();
  private n = 0;
  readonly errors: string[] = [];
  readonly latencies: number[] = [];

  async open(url: string): Promise<void> {
    this.conn = await amqp.connect(url);
    this.conn.on("error", (err: Error) => this.errors.push(`connection error: ${err.message}`));
    this.conn.on("close", () => this.errors.push("canary connection closed"));
    this.ch = await this.conn.createChannel();
    this.ch.on("error", (err: Error) => this.errors.push(`channel error: ${err.message}`));
    this.queue = (await this.ch.assertQueue("", { exclusive: true })).queue;
    await this.ch.consume(
      this.queue,
      (msg: ConsumeMessage | null) => {
        if (!msg) return;
        this.ch?.ack(msg);
        this.waiting.get(msg.content.toString())?.();
      },
      { noAck: false },
    );
  }

  /** Publishes one message and waits for its delivery: the error, or null when it came in time. */
  async check(timeoutMs: number): Promise<string | null> {
    if (!this.ch) return "canary not open";
    if (this.errors.length > 0) return this.errors.join("; ");
    const body = `canary-${++this.n}`;
    const started = Date.now();
    const arrived = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.waiting.set(body, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    this.ch.sendToQueue(this.queue, Buffer.from(body));
    const ok = await arrived;
    this.waiting.delete(body);
    if (!ok) return `message ${body} not delivered within ${timeoutMs} ms`;
    this.latencies.push(Date.now() - started);
    return this.errors.length > 0 ? this.errors.join("; ") : null;
  }

  async close(): Promise<void> {
    await this.conn?.close().catch(() => undefined);
  }
}

/** A failed case, with everything needed to replay it. */
export function formatFailure(r: CaseResult, runSeed: number): string {
  return [
    `case #${r.index} [${r.kind}] ${r.transport}, ${r.pipelined ? "pipelined" : "after each handshake answer"}: ${r.note}`,
    ...r.problems.map((p) => `  ✗ ${p}`),
    `  server: ${r.received}`,
    `  stream (${r.stream.length} bytes, cut at ${r.cuts.join(",") || "-"}): ${hex(r.stream, 600)}`,
    `  replay: WARREN_FUZZ_SEED=${runSeed} WARREN_FUZZ_ONLY=${r.index} npx vitest run test/fuzz`,
  ].join("\n");
}

// ------------------------------------------------------------------ fixed-byte reproductions

export function fromHex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));
}

/** A client that has done the handshake the way a waiting client does (connection and channel 1 open). */
export async function openSession(kind: TransportKind, target: Target, channelMax = 0): Promise<FuzzClient> {
  const c = await FuzzClient.open(kind, target);
  for (const part of prefixParts({ channelMax, frameMax: SERVER_FRAME_MAX, channel: 1 })) {
    c.write(part.bytes);
    const answer = STAGE_ANSWER[part.stage];
    if (answer && !(await c.until(() => c.find(answer) !== undefined, 5000))) {
      c.close();
      throw new Error(`handshake: no ${answer}`);
    }
  }
  return c;
}

/** What the server did with bytes sent in one write after the handshake. */
export interface Reply {
  /** connection.close reply code, or null. */
  close: number | null;
  /** channel.open-ok on PROBE_CHANNEL arrived. */
  probeAnswered: boolean;
  /** Methods received after the handshake, "ch:name[ code]". */
  methods: string[];
  /** The socket closed (within the wait). */
  closed: boolean;
}

export async function replyTo(c: FuzzClient, bytes: Uint8Array, waitMs = REACTION_MS): Promise<Reply> {
  const before = c.received.commands.length;
  c.write(bytes);
  await c.until(() => c.find("channel.open-ok", PROBE_CHANNEL) !== undefined || c.find("connection.close") !== undefined, waitMs);
  // A little longer, so a close that follows an answer is seen too.
  await c.until(() => c.closed, 200);
  const after = c.received.commands.slice(before).map((x) => x.command);
  const close = after.find((m) => m.method.name === "connection.close");
  return {
    close: close ? closeOf(close)!.code : null,
    probeAnswered: after.some((m) => m.method.name === "channel.open-ok" && m.channel === PROBE_CHANNEL),
    methods: after.map((m) => `${m.channel}:${m.method.name}${closeOf(m) ? ` ${closeOf(m)!.code}` : ""}`),
    closed: c.closed,
  };
}
