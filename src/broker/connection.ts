import {
  AmqpError,
  CommandAssembler,
  FrameReader,
  FrameType,
  FrameWriter,
  PROTOCOL_HEADER,
  ReplyCode,
  connectionError,
  methodIds,
  plainTable,
  replyText,
  table,
  type AnyMethod,
  type Command,
  type Method,
  type MethodName,
} from "../amqp";
import { MECHANISMS, authenticate, parseSaslResponse } from "./auth";
import { Channel } from "./channel";
import type { Broker } from "./broker";
import { BATCHED } from "./handlers";
import { RouteCache } from "./route-cache";
import type { DeliverResult, Delivery } from "../queue/types";
import { splitRecord } from "../queue/wire";

/** Where the connection's bytes go; the DO implements it with a WebSocket. */
export interface Transport {
  send(bytes: Uint8Array): void;
  close(): void;
}

export interface ConnectionLimits {
  /** Proposed heartbeat in seconds; 0 disables. */
  heartbeat: number;
  frameMax: number;
  channelMax: number;
}

export const DEFAULT_LIMITS: ConnectionLimits = { heartbeat: 60, frameMax: 131072, channelMax: 2047 };

type State = "header" | "start" | "tune" | "open" | "running" | "closing" | "closed";

const SERVER_VERSION = "0.1.0";
/** How often queues we consume from hear from us: workerd evicts an object idle for ~10 s. */
const KEEP_ALIVE_MS = 3_000;
/** How long we wait for connection.close-ok before dropping the socket anyway. */
const CLOSE_OK_TIMEOUT_MS = 3000;

/**
 * One AMQP connection: reader → command assembler → channel → writer.
 * It knows nothing about WebSockets or Durable Objects; the transport and broker are injected.
 */
export class Connection {
  readonly writer: FrameWriter;
  readonly channels = new Map<number, Channel>();
  readonly routes: RouteCache;
  /** Queues this connection consumed from, got from or declared exclusive: told when it closes. */
  private readonly queuesTouched = new Set<string>();
  username = "";
  vhost = "";
  clientProperties: Record<string, unknown> = {};

  private state: State = "header";
  private headerBytes = new Uint8Array(0);
  private readonly reader: FrameReader;
  // Bodies over 16 MiB are refused with 406 once assembled (basic.publish); this caps the memory
  // one connection can make us hold before that check runs.
  private readonly assembler = new CommandAssembler({ maxBodySize: 128 << 20 });
  private pending: Command[] = [];
  private pumping = false;
  private flushScheduled = false;
  private heartbeatSeconds = 0;
  private lastReceived: number;
  private lastSent: number;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private keepAliveTimer: ReturnType<typeof setInterval> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private negotiatedChannelMax: number;

  constructor(
    readonly id: string,
    private readonly transport: Transport,
    readonly broker: Broker,
    private readonly limits: ConnectionLimits = DEFAULT_LIMITS,
  ) {
    this.reader = new FrameReader(limits.frameMax);
    this.writer = new FrameWriter();
    this.writer.frameMax = limits.frameMax;
    this.negotiatedChannelMax = limits.channelMax;
    this.lastReceived = this.lastSent = Date.now();
    this.routes = new RouteCache(broker, () => this.vhost, id);
  }

  touchQueue(name: string): void {
    this.queuesTouched.add(name);
  }

  /** Deliveries pushed by a queue; what cannot be taken goes back to it. */
  deliver(deliveries: Delivery[]): DeliverResult {
    // After connection.close nothing more may be sent: everything goes back to its queue.
    if (this.state !== "running") {
      return { gone: this.state === "closed", refused: deliveries.map((d) => d.seq), paused: [] };
    }
    const refused: number[] = [];
    const paused = new Set<string>();
    for (const d of deliveries) {
      const verdict = this.channels.get(d.channel)?.accept(d) ?? "refused";
      if (verdict === "ok") continue;
      refused.push(d.seq);
      // A refused consumer is closing or gone; pausing it stops the queue retrying in a loop.
      paused.add(d.consumerTag);
    }
    return { gone: false, refused, paused: [...paused] };
  }

  /** The queue went away under a consumer: tell the client (consumer_cancel_notify). */
  consumerCancelled(channelId: number, tag: string): void {
    const channel = this.channels.get(channelId);
    if (!channel?.isOpen || !channel.consumers.delete(tag)) return;
    const caps = this.clientProperties.capabilities;
    const notify = caps && typeof caps === "object" && (caps as Record<string, unknown>).consumer_cancel_notify === true;
    if (notify) this.send(channelId, { name: "basic.cancel", args: { consumerTag: tag, noWait: true } });
  }

  get isClosed(): boolean {
    return this.state === "closed";
  }

  /** Feeds bytes from the transport; never throws. */
  receive(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    this.lastReceived = Date.now();
    try {
      if (this.state === "header") {
        bytes = this.readProtocolHeader(bytes);
        if (this.state === "header" || bytes.length === 0) return;
      }
      for (const frame of this.reader.push(bytes)) {
        if (frame.type === FrameType.Heartbeat) continue;
        const command = this.assembler.push(frame);
        if (command) this.pending.push(command);
      }
    } catch (err) {
      this.fail(err, 0);
      return;
    }
    void this.pump();
  }

  /** The transport went away (socket closed or errored). */
  transportClosed(): void {
    void this.shutdown();
  }

  /** Queues a method for sending; frames are coalesced into one transport write per turn. */
  send(channel: number, m: AnyMethod): void {
    this.writer.method(channel, m);
    this.scheduleFlush();
  }

  sendContent(channel: number, m: AnyMethod, header: Uint8Array, body: Uint8Array): void {
    this.writer.content(channel, m, header, body);
    this.scheduleFlush();
  }

  /** basic.deliver of a message record, its exchange and routing key copied as they are. */
  sendDelivery(channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, record: Uint8Array): void {
    const { route, header, body } = splitRecord(record);
    this.writer.deliver(channel, consumerTag, deliveryTag, redelivered, route, header, body);
    this.scheduleFlush();
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.state === "closed") return;
    const bytes = this.writer.take();
    if (bytes) {
      this.lastSent = Date.now();
      this.transport.send(bytes);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  private readProtocolHeader(bytes: Uint8Array): Uint8Array {
    const need = PROTOCOL_HEADER.length - this.headerBytes.length;
    const joined = new Uint8Array(this.headerBytes.length + Math.min(need, bytes.length));
    joined.set(this.headerBytes);
    joined.set(bytes.subarray(0, need), this.headerBytes.length);
    this.headerBytes = joined;
    const mismatch = joined.some((b, i) => b !== PROTOCOL_HEADER[i]);
    if (mismatch) {
      // The spec: answer an unsupported header with the one we speak, then close.
      this.transport.send(PROTOCOL_HEADER);
      this.terminate();
      return new Uint8Array(0);
    }
    if (joined.length < PROTOCOL_HEADER.length) return new Uint8Array(0);
    this.state = "start";
    this.send(0, {
      name: "connection.start",
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: serverProperties(),
        mechanisms: MECHANISMS.join(" "),
        locales: "en_US",
      },
    });
    return bytes.subarray(need);
  }

  /** Processes queued commands strictly in order; one command at a time, batched sends. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0 && !this.isClosed) {
        const batch = this.pending;
        this.pending = [];
        for (const command of batch) {
          if (this.isClosed) break;
          // Gathered publishes and acks must land before anything that could observe them.
          if (!BATCHED.has(command.method.name)) await this.endOfBatch();
          try {
            const pending = this.dispatch(command);
            if (pending) await pending;
          } catch (err) {
            this.fail(err, command.channel);
          }
        }
        // Acks alone need not be answered before the next batch is read (see Channel.endOfBatch).
        await this.endOfBatch(false);
      }
    } finally {
      this.pumping = false;
    }
  }

  /** Publishes and acks gathered during the batch go out together, one RPC per queue. */
  private async endOfBatch(settled = true): Promise<void> {
    for (const ch of this.channels.values()) {
      try {
        await ch.endOfBatch(settled);
      } catch (err) {
        this.fail(err, ch.id);
      }
    }
  }

  private dispatch(command: Command): void | Promise<void> {
    const m = command.method;
    if (this.state === "closing") {
      // After sending connection.close only close and close-ok matter (spec 4.2.7).
      if (m.name === "connection.close-ok") this.terminate();
      else if (m.name === "connection.close") this.send(0, { name: "connection.close-ok", args: {} });
      return;
    }
    if (command.channel === 0) return this.dispatchConnection(m);
    if (this.state !== "running") {
      throw connectionError(ReplyCode.COMMAND_INVALID, `unexpected ${m.name} before connection.open`, ...ids(m));
    }
    if (command.channel > this.negotiatedChannelMax) {
      throw connectionError(
        ReplyCode.CHANNEL_ERROR,
        `channel ${command.channel} exceeds channel_max ${this.negotiatedChannelMax}`,
        ...ids(m),
      );
    }
    const channel = this.channels.get(command.channel);
    if (m.name === "channel.open") {
      if (channel) throw connectionError(ReplyCode.CHANNEL_ERROR, `channel ${command.channel} already open`, ...ids(m));
      this.channels.set(command.channel, new Channel(command.channel, this));
      this.send(command.channel, { name: "channel.open-ok", args: { channelId: "" } });
      return;
    }
    if (!channel) {
      throw connectionError(ReplyCode.CHANNEL_ERROR, `expected 'channel.open' on channel ${command.channel}`, ...ids(m));
    }
    return channel.handle(command);
  }

  private async dispatchConnection(m: AnyMethod): Promise<void> {
    switch (m.name) {
      case "connection.start-ok":
        return this.startOk(m);
      case "connection.tune-ok":
        return this.tuneOk(m);
      case "connection.open":
        return this.open(m);
      case "connection.close":
        this.send(0, { name: "connection.close-ok", args: {} });
        this.flush();
        this.terminate();
        return;
      case "connection.close-ok":
        this.terminate();
        return;
      case "connection.blocked":
      case "connection.unblocked":
      case "connection.update-secret":
        if (this.state === "running") return;
        break;
      default:
        break;
    }
    throw connectionError(ReplyCode.COMMAND_INVALID, `unexpected ${m.name} on channel 0`, ...ids(m));
  }

  private startOk(m: Method<"connection.start-ok">): void {
    if (this.state !== "start") throw connectionError(ReplyCode.COMMAND_INVALID, "unexpected connection.start-ok", ...ids(m));
    this.clientProperties = plainTable(m.args.clientProperties);
    const mechanism = m.args.mechanism;
    if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
      throw connectionError(ReplyCode.ACCESS_REFUSED, `unsupported authentication mechanism '${mechanism}'`, ...ids(m));
    }
    const credentials = parseSaslResponse(mechanism, bytesOf(m.args.response));
    if (!credentials || !authenticate(credentials)) {
      throw connectionError(
        ReplyCode.ACCESS_REFUSED,
        `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
        ...ids(m),
      );
    }
    this.username = credentials.username;
    this.state = "tune";
    this.send(0, {
      name: "connection.tune",
      args: { channelMax: this.limits.channelMax, frameMax: this.limits.frameMax, heartbeat: this.limits.heartbeat },
    });
  }

  private tuneOk(m: Method<"connection.tune-ok">): void {
    if (this.state !== "tune") throw connectionError(ReplyCode.COMMAND_INVALID, "unexpected connection.tune-ok", ...ids(m));
    const { channelMax, frameMax, heartbeat } = m.args;
    if (frameMax !== 0 && frameMax < 4096) {
      throw connectionError(ReplyCode.NOT_ALLOWED, `frame_max=${frameMax} < 4096 min size`, ...ids(m));
    }
    if (frameMax > this.limits.frameMax || (frameMax === 0 && this.limits.frameMax !== 0)) {
      throw connectionError(ReplyCode.NOT_ALLOWED, `frame_max=${frameMax} > ${this.limits.frameMax} max size`, ...ids(m));
    }
    if (channelMax > this.limits.channelMax) {
      throw connectionError(ReplyCode.NOT_ALLOWED, `channel_max=${channelMax} > ${this.limits.channelMax}`, ...ids(m));
    }
    this.negotiatedChannelMax = channelMax === 0 ? this.limits.channelMax : channelMax;
    this.reader.frameMax = frameMax;
    this.writer.frameMax = frameMax;
    this.heartbeatSeconds = heartbeat;
    this.startHeartbeats();
    this.state = "open";
  }

  private async open(m: Method<"connection.open">): Promise<void> {
    if (this.state !== "open") throw connectionError(ReplyCode.COMMAND_INVALID, "unexpected connection.open", ...ids(m));
    const vhost = m.args.virtualHost;
    if (!(await this.broker.vhostExists(vhost))) {
      throw connectionError(ReplyCode.NOT_ALLOWED, `vhost '${vhost}' not found`, ...ids(m));
    }
    this.vhost = vhost;
    this.state = "running";
    this.send(0, { name: "connection.open-ok", args: { knownHosts: "" } });
    this.keepAliveTimer = setInterval(() => this.keepQueuesAlive(), KEEP_ALIVE_MS);
  }

  /**
   * The runtime evicts a Durable Object that has received nothing for a while, and a queue keeps
   * its consumers and unacked deliveries in memory: a queue this connection consumes from (or
   * holds messages of) gets a ping now and then, however idle the connection is.
   */
  private keepQueuesAlive(): void {
    const queues = new Set<string>();
    for (const ch of this.channels.values()) for (const q of ch.touched) queues.add(q);
    for (const q of queues) {
      this.broker
        .queue(this.vhost, q)
        .keepAlive()
        .catch((err: unknown) => this.broker.log(`connection ${this.id}: keep-alive of queue '${q}' failed: ${String(err)}`));
    }
  }

  private startHeartbeats(): void {
    if (this.heartbeatSeconds <= 0) return;
    const intervalMs = this.heartbeatSeconds * 1000;
    // Check twice per interval: send when we have been quiet, give up after two silent intervals.
    this.heartbeatTimer = setInterval(() => {
      const now = Date.now();
      if (now - this.lastReceived > 2 * intervalMs) {
        this.broker.log(`connection ${this.id}: missed heartbeats from client, closing`);
        void this.shutdown();
        return;
      }
      if (now - this.lastSent >= intervalMs / 2) {
        this.writer.heartbeat();
        this.flush();
      }
    }, intervalMs / 2);
  }

  /** The single place where errors become channel.close or connection.close. */
  fail(err: unknown, channelId: number): void {
    if (this.state === "closed") return;
    const error = err instanceof AmqpError ? err : internalError(err, this.broker);
    const channel = this.channels.get(channelId);
    if (!error.hard && channelId !== 0 && channel) {
      channel.closeByServer(error);
      return;
    }
    if (this.state === "closing") return;
    const beforeOpen = this.state === "header" || this.state === "start" || this.state === "tune";
    this.state = "closing";
    this.send(0, {
      name: "connection.close",
      args: closeArgs(error),
    });
    this.flush();
    // Clients that failed to authenticate get the close and then the socket goes (authentication_failure_close).
    const wait = beforeOpen ? 100 : CLOSE_OK_TIMEOUT_MS;
    this.closeTimer = setTimeout(() => this.terminate(), wait);
  }

  private terminate(): void {
    if (this.state === "closed") return;
    this.flush();
    void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.keepAliveTimer) clearInterval(this.keepAliveTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    try {
      this.transport.close();
    } catch {
      // already closed by the peer
    }
    // Gathered publishes still land; then every queue we touched releases our consumers,
    // requeues our unacked messages and, if we owned it exclusively, deletes itself.
    for (const ch of this.channels.values()) {
      try {
        await ch.endOfBatch();
      } catch (err) {
        this.broker.log(`connection ${this.id}: final batch of channel ${ch.id} failed: ${String(err)}`);
      }
    }
    this.channels.clear();
    const vhost = this.vhost;
    if (vhost !== "") {
      await Promise.allSettled([
        ...[...this.queuesTouched].map((q) => this.broker.queue(vhost, q).releaseConnection(this.id)),
        ...this.routes.cachedExchanges().map((x) => this.broker.exchange(vhost, x).unsubscribe(this.id)),
      ]);
    }
  }
}

/** RabbitMQ's reply text shape: "NOT_FOUND - no queue 'q' in vhost '/'". */
export function closeArgs(error: AmqpError) {
  return {
    replyCode: error.code,
    replyText: `${replyText(error.code)} - ${error.message}`.slice(0, 255),
    classId: error.classId,
    methodId: error.methodId,
  };
}

export function ids(m: AnyMethod): [number, number] {
  const { classId, methodId } = methodIds(m.name as MethodName);
  return [classId, methodId];
}

function internalError(err: unknown, broker: Broker): AmqpError {
  broker.log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return connectionError(ReplyCode.INTERNAL_ERROR, "INTERNAL_ERROR");
}

function serverProperties() {
  return table({
    product: "Warren",
    version: SERVER_VERSION,
    platform: "Cloudflare Workers",
    copyright: "Warren contributors",
    information: "AMQP 0-9-1 on Durable Objects",
    cluster_name: "warren",
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      "basic.nack": true,
      consumer_cancel_notify: true,
      "connection.blocked": true,
      consumer_priorities: false,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: false,
    },
  });
}

function bytesOf(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? new TextEncoder().encode(v) : v;
}
