// The client side of a unit test: encodes client frames with the codec, feeds them to a real
// Connection over a FakeTransport, and parses what the server wrote back into commands, so a
// test reads "client sends X, server answers Y".
import { onTestFinished } from "vitest";
import {
  type AnyMethod,
  type BasicProperties,
  CommandAssembler,
  type Command,
  FrameReader,
  FrameType,
  type Method,
  type MethodArgs,
  type MethodName,
  PROTOCOL_HEADER,
  concatBytes,
  encodeContentHeader,
  encodeFrame,
  encodeMethod,
  makeMethod,
  methodIds,
} from "../../src/amqp";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/limits";
import { Connection } from "../../src/session/connection";
import type { Delivery } from "../../src/queue/types";
import { encodeRecord } from "../../src/storage/message-record";
import { FakeBroker, FakeTransport } from "./fakes";

// ---- client frames

/** The protocol header a 0-9-1 client opens with. */
export function protocolHeader(): Uint8Array {
  return PROTOCOL_HEADER.slice();
}

/** One method frame; omitted arguments take their defaults (0, "", false, {}). */
export function frame<N extends MethodName>(channel: number, name: N, args: Partial<MethodArgs<N>> = {}): Uint8Array {
  return encodeFrame(FrameType.Method, channel, encodeMethod(makeMethod(name, args) as AnyMethod));
}

/** basic.publish with its header and body frame. */
export function publish(
  channel: number,
  args: Partial<MethodArgs<"basic.publish">>,
  body: string | Uint8Array = "",
  properties: BasicProperties = {},
): Uint8Array {
  const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
  const parts = [
    frame(channel, "basic.publish", args),
    encodeFrame(FrameType.Header, channel, encodeContentHeader(methodIds("basic.publish").classId, bytes.length, properties)),
  ];
  if (bytes.length > 0) parts.push(encodeFrame(FrameType.Body, channel, bytes));
  return concatBytes(parts);
}

/** A SASL PLAIN response: authzid NUL user NUL password. */
export function plain(user: string, password: string): string {
  return `\0${user}\0${password}`;
}

export function utf8(bytes: Uint8Array | undefined): string {
  return new TextDecoder().decode(bytes ?? new Uint8Array(0));
}

/** A delivery as a queue pushes it (connection.deliver). */
export function delivery(
  queue: string,
  seq: number,
  consumerTag: string,
  channel = 1,
  body = `m${seq}`,
  options: { noAck?: boolean; redelivered?: boolean } = {},
): Delivery {
  const record = encodeRecord({
    exchange: "",
    routingKey: queue,
    header: encodeContentHeader(60, body.length, {}),
    body: new TextEncoder().encode(body),
    persistent: false,
  });
  return { queue, seq, channel, consumerTag, noAck: options.noAck ?? false, redelivered: options.redelivered ?? false, record };
}

// ---- server output

/** A command the server sent. */
export type Sent = Command;

/** The sent methods of one name, typed by it. */
export function named<N extends MethodName>(sent: readonly Sent[], name: N): (Sent & { method: Method<N> })[] {
  return sent.filter((s): s is Sent & { method: Method<N> } => s.method.name === name);
}

/** The one sent method of this name (fails the test when there is not exactly one). */
export function only<N extends MethodName>(sent: readonly Sent[], name: N): Method<N>["args"] {
  const found = named(sent, name);
  if (found.length !== 1) throw new Error(`expected one ${name}, got ${found.length} in [${names(sent).join(", ")}]`);
  return found[0]!.method.args;
}

/** The one channel.close or connection.close sent, as [reply code, reply text, class id, method id]. */
export function closeOf(sent: readonly Sent[], name: "channel.close" | "connection.close"): [number, string, number, number] {
  const { replyCode, replyText, classId, methodId } = only(sent, name);
  return [replyCode, replyText, classId, methodId];
}

/** "channel:name" for each sent command, in order. */
export function names(sent: readonly Sent[]): string[] {
  return sent.map((s) => `${s.channel}:${s.method.name}`);
}

// ---- waiting

/**
 * Waits until the connection is idle: its pump runs on microtasks and so do the fakes, so
 * nothing more happens once a macrotask turn passes with no new output and no new call.
 */
export async function settle(broker?: FakeBroker, transport?: FakeTransport): Promise<void> {
  let stable = 0;
  let last = "";
  for (let turn = 0; turn < 200 && stable < 2; turn++) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    const now = `${broker?.calls.length ?? 0}/${transport?.byteCount ?? 0}/${transport?.closed ?? false}`;
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

export interface ClientOptions {
  /** The client's address (default loopback). */
  peer?: string;
  id?: string;
  limits?: Limits;
}

/**
 * A client talking to one real Connection. Everything passed to one `send` reaches the
 * connection in ONE receive() call, as bytes arriving together from a socket.
 */
export class Client {
  readonly broker: FakeBroker;
  readonly transport = new FakeTransport();
  readonly connection: Connection;
  private readonly reader = new FrameReader(0);
  private readonly assembler = new CommandAssembler();
  private taken = 0;

  constructor(broker: FakeBroker = new FakeBroker(), options: ClientOptions = {}) {
    this.broker = broker;
    this.connection = new Connection(options.id ?? "conn-1", this.transport, broker, options.limits ?? DEFAULT_LIMITS, options.peer);
    // Timers (keep-alive, close-ok timeout) must not outlive the test.
    onTestFinished(() => this.connection.transportClosed());
  }

  /** Feeds the parts to the connection in one receive(). */
  send(...parts: Uint8Array[]): void {
    this.connection.receive(concatBytes(parts));
  }

  async settle(): Promise<void> {
    await settle(this.broker, this.transport);
  }

  /** Sends, waits until idle, returns what the server wrote meanwhile. */
  async roundTrip(...parts: Uint8Array[]): Promise<Sent[]> {
    this.send(...parts);
    await this.settle();
    return this.take();
  }

  /** Parses what the server wrote since the last take. */
  take(): Sent[] {
    const out: Sent[] = [];
    for (; this.taken < this.transport.writes.length; this.taken++) {
      for (const f of this.reader.push(this.transport.writes[this.taken]!)) {
        if (f.type === FrameType.Heartbeat) continue;
        const command = this.assembler.push(f);
        if (command) out.push(command);
      }
    }
    return out;
  }

  /** Everything written so far, as raw bytes. */
  raw(): Uint8Array {
    return concatBytes(this.transport.writes);
  }

  /** Header, PLAIN guest/guest, tune-ok (no heartbeats), open "/": returns what the server sent. */
  async handshake(options: { user?: string; password?: string; vhost?: string; frameMax?: number } = {}): Promise<Sent[]> {
    const frameMax = options.frameMax ?? (this.connection.limits.frameMax || 131072);
    return this.roundTrip(
      protocolHeader(),
      frame(0, "connection.start-ok", {
        mechanism: "PLAIN",
        response: plain(options.user ?? "guest", options.password ?? "guest"),
        locale: "en_US",
      }),
      frame(0, "connection.tune-ok", { channelMax: 0, frameMax, heartbeat: 0 }),
      frame(0, "connection.open", { virtualHost: options.vhost ?? "/" }),
    );
  }

  /** An open connection with the given channels open; the output so far is consumed. */
  async open(...channels: number[]): Promise<this> {
    const sent = await this.handshake();
    if (!sent.some((s) => s.method.name === "connection.open-ok")) throw new Error(`handshake failed: ${names(sent).join(", ")}`);
    if (channels.length > 0) {
      const opened = await this.roundTrip(...channels.map((ch) => frame(ch, "channel.open")));
      if (named(opened, "channel.open-ok").length !== channels.length) throw new Error(`channel.open failed: ${names(opened)}`);
    }
    return this;
  }

  /** basic.consume on an open channel; returns what the server answered. */
  async consume(channel: number, queue: string, consumerTag: string, noAck = false): Promise<Sent[]> {
    return this.roundTrip(frame(channel, "basic.consume", { queue, consumerTag, noAck }));
  }
}

/** A fresh broker with the queues given already existing, and an open client on channel 1. */
export async function openClient(...queues: string[]): Promise<Client> {
  const broker = new FakeBroker();
  for (const q of queues) broker.addQueue(q);
  return new Client(broker).open(1);
}
