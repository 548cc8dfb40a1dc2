import {
  type AmqpError,
  type AnyMethod,
  CommandAssembler,
  type Command,
  FrameReader,
  FrameType,
  FRAME_MIN_SIZE,
  FrameWriter,
  PROTOCOL_HEADER,
  closeArgs,
  connectionError,
  type MethodName,
  ReplyCode,
} from "../amqp";
import type { Actor, Broker } from "../core/broker";
import {
  addCounters,
  emptyCounters,
  type CatalogConnection,
  type ChannelInfo,
  type ConnectionInfo,
  type ExchangeCounts,
  type MessageCounters,
} from "../core/control";
import { RateSampler } from "../core/rates";
import { emptyCost } from "../storage/counting-sql";
import { jsonValue } from "../core/json-table";
import { AccessControl, type Permissions } from "../core/permissions";
import type { HeldOf } from "../core/ports";
import type { DirectReply } from "../core/direct-reply";
import { DEFAULT_LIMITS, type Limits } from "../core/limits";
import { release } from "../amqp/buffer";
import { BrokerError, channelErrorCode, commandInvalid, notAllowed, notImplemented } from "../core/errors";
import { subscriberKey } from "../core/names";
import { Publisher } from "../core/publisher";
import { RouteTable } from "../core/route-table";
import type { DeliverResult, Delivery } from "../queue/types";
import { decodeDeliveries } from "../queue/wire";
import { splitRecord } from "../storage/message-record";
import { Channel } from "./channel";
import { isBatched, lookup } from "./dispatch";
import { toAmqpError } from "./errors";
import { FlowControl } from "./flow";
import { expandShortcuts } from "./shortcuts";
import { Handshake } from "./handshake";

/** Where the connection's bytes go; the DO implements it with a WebSocket. */
export interface Transport {
  /** `owned`: nothing else uses these bytes afterwards, so the transport may free them (never a shared constant). */
  send(bytes: Uint8Array, owned?: boolean): void;
  /** A flow-control report to a peer that negotiated them (flow.ts); a text frame on a WebSocket. */
  control?(text: string): void;
  close(): void;
}

/**
 * A received command and the bytes it stands for (for upstream flow control), or the error of
 * a malformed frame, which waits its turn behind the commands that came before it.
 */
type Pending = { command: Command; size: number } | { malformed: unknown; size: 0 };

type State = "handshake" | "running" | "closing" | "closed";

/** How long we wait for connection.close-ok before dropping the socket anyway. */
const CLOSE_OK_TIMEOUT_MS = 3000;
/** After a failed handshake the close goes out and the socket follows shortly. */
const HANDSHAKE_CLOSE_MS = 100;

/**
 * One AMQP connection: reader → command assembler → dispatch (dispatch.ts) → writer.
 * It knows nothing about WebSockets or Durable Objects; the transport and broker are injected.
 * Commands run strictly in order; publishes and acks of one inbound batch are gathered and
 * leave together at its end (one RPC per queue).
 */
export class Connection {
  readonly writer: FrameWriter;
  readonly channels = new Map<number, Channel>();
  readonly routes: RouteTable;
  readonly publisher: Publisher;
  readonly handshake: Handshake;
  /** Queues this connection consumed from, got from or declared exclusive: told when it closes. */
  private readonly queuesTouched = new Set<string>();

  private state: State = "handshake";
  private reader: FrameReader;
  // Bodies over max_message_size are read and dropped, then refused with 406 (basic.publish); the
  // connection-wide cap bounds what interleaved partial messages on many channels may hold.
  private readonly assembler: CommandAssembler;
  private pending: Pending[] = [];
  private flow: FlowControl;
  private pumping = false;
  private flushScheduled = false;
  private lastReceived: number;
  private lastSent: number;
  private heartbeatTimer: ReturnType<typeof setInterval> | undefined;
  private closeTimer: ReturnType<typeof setTimeout> | undefined;
  private handshakeTimer: ReturnType<typeof setTimeout> | undefined;
  private handshakeBytes = 0;
  private negotiatedChannelMax: number;
  /** The user has the impersonator tag (may publish with another user_id): set at connection.open. */
  impersonator = false;
  /** The user's permissions in the vhost: nothing is allowed until connection.open. */
  access = new AccessControl("", "", null);
  private readonly connectedAt = Date.now();
  private tuning = { channelMax: 0, frameMax: 0, heartbeat: 0 };
  private registered = false;
  private readonly stats = { recvOct: 0, recvCnt: 0, sendOct: 0, sendCnt: 0 };
  /** Requests and WebSocket messages this connection's object received (the DO counts them). */
  readonly cost = emptyCost();
  /** Counts of channels that have closed, so the connection's totals do not shrink. */
  readonly closedChannelStats = emptyCounters();
  /** Per exchange: messages published into it, and how many of those were routed somewhere. */
  private readonly exchangeStats = new Map<string, { publishIn: number; publishOut: number }>();
  private readonly totalsSampler = new RateSampler(() => ({ ...this.totals() }));
  private readonly exchangeSampler = new RateSampler(() => {
    const flat: Record<string, number> = {};
    for (const [name, s] of this.exchangeStats) {
      flat[`in:${name}`] = s.publishIn;
      flat[`out:${name}`] = s.publishOut;
    }
    return flat;
  });

  constructor(
    readonly id: string,
    private readonly transport: Transport,
    readonly broker: Broker,
    readonly limits: Limits = DEFAULT_LIMITS,
    /** The client's network address: login throttling (and loopback-only users) key on it. */
    readonly peer = "127.0.0.1",
  ) {
    // Until tuning, frames must fit the spec's minimum frame_max: before authentication a client
    // can make us hold no more than one such frame.
    this.reader = new FrameReader(FRAME_MIN_SIZE);
    this.assembler = new CommandAssembler({ maxMessageSize: limits.maxMessageSize, maxPendingBytes: limits.connectionAssemblyBytes });
    this.writer = new FrameWriter();
    this.writer.frameMax = limits.frameMax;
    this.negotiatedChannelMax = limits.channelMax;
    this.lastReceived = this.lastSent = Date.now();
    this.handshake = new Handshake(this);
    this.flow = new FlowControl(false, limits.deliveryWindowBytes, limits.blockedInputBytes, limits.maxInputBacklogBytes);
    this.routes = new RouteTable(broker, () => this.vhost, subscriberKey({ kind: "connection", id }));
    this.publisher = new Publisher(broker, () => this.vhost, this.routes);
    if (limits.handshakeTimeoutMs > 0) {
      // RabbitMQ's handshake_timeout: a socket that does not complete the handshake is dropped.
      this.handshakeTimer = setTimeout(() => {
        this.broker.log(`connection ${id}: handshake not completed in ${limits.handshakeTimeoutMs} ms, closing`);
        this.terminate();
      }, limits.handshakeTimeoutMs);
    }
  }

  /** The peer acknowledges what it passed on (x-warren-flow.v1): deliveries then keep to a window. */
  enableFlowAcks(): void {
    const l = this.limits;
    this.flow = new FlowControl(true, l.deliveryWindowBytes, l.blockedInputBytes, l.maxInputBacklogBytes);
  }

  /** The peer has passed `total` bytes on to its client: consumers paused for room may resume. */
  peerAcked(total: number): void {
    const resume = this.flow.ack(total);
    if (!resume || this.vhost === "" || this.isClosed) return;
    const room = this.flow.room;
    for (const [queue, tags] of resume) {
      this.broker
        .queue(this.vhost, queue)
        .resume(this.id, [...tags], undefined, room)
        .catch((err: unknown) => this.broker.log(`connection ${this.id}: resume of queue '${queue}' failed: ${String(err)}`));
    }
  }

  /** Called once the connection has shut down and released what it held. */
  onClosed: (() => void) | undefined;

  get username(): string {
    return this.handshake.username;
  }

  get vhost(): string {
    return this.handshake.vhost;
  }

  /** Who this connection acts as, for the vhost operations of core/. */
  get actor(): Actor {
    return { user: this.handshake.username, connection: this.id, access: this.access };
  }

  /** Input bytes this connection holds: unparsed frame bytes and partly received messages. */
  get heldBytes(): number {
    return this.reader.bufferedBytes + this.assembler.pendingBytes;
  }

  get isClosed(): boolean {
    return this.state === "closed";
  }

  /** The connection state as RabbitMQ names it in its errors. */
  private get stateName(): string {
    if (this.state !== "handshake") return this.state;
    const phase = this.handshake.phase;
    return phase === "tune" ? "tuning" : phase === "open" || phase === "done" ? "opening" : "starting";
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  touchQueue(name: string): void {
    this.queuesTouched.add(name);
  }

  /**
   * A packed batch of deliveries as a queue's RPC brings it (queue/wire.ts), freed once handled:
   * what was delivered is in the transport's write by then (flush copies body slices out of the
   * batch; deliveries held back copy theirs), so the batch does not wait for the next full GC.
   * Holds only while deliver() takes deliveries just where flush() sends (test/session/deliver-batch.test.ts).
   */
  deliverBatch(batch: Uint8Array): DeliverResult {
    const result = this.deliver(decodeDeliveries(batch));
    this.flush();
    release(batch);
    return result;
  }

  /** Deliveries pushed by a queue; what cannot be taken goes back to it. */
  deliver(deliveries: Delivery[]): DeliverResult {
    // After connection.close nothing more may be sent: everything goes back to its queue.
    if (this.state !== "running") {
      // Closing: everything goes back, and its consumers pause, or the queue would offer it again
      // at once, round after round, and keep this object (and locally all of workerd) busy.
      const paused = [...new Set(deliveries.map((d) => d.consumerTag))];
      return { gone: this.state === "closed", refused: deliveries.map((d) => d.seq), paused };
    }
    const refused: number[] = [];
    const paused = new Set<string>();
    for (const d of deliveries) {
      if (!this.flow.hasRoom) {
        // The client is not reading: this stays in the queue until the window drains.
        refused.push(d.seq);
        paused.add(d.consumerTag);
        this.flow.pause(d.queue, d.consumerTag);
        continue;
      }
      const verdict = this.channels.get(d.channel)?.accept(d) ?? "refused";
      if (verdict === "ok") continue;
      refused.push(d.seq);
      // A refused consumer is closing or gone; pausing it stops the queue retrying in a loop.
      paused.add(d.consumerTag);
    }
    const result: DeliverResult = { gone: false, refused, paused: [...paused] };
    if (this.flow.acknowledged) result.room = this.flow.room;
    return result;
  }

  /** Direct replies for this connection's channels (ConnectionPort.replyTo): which were taken. */
  replyTo(replies: DirectReply[]): boolean[] {
    if (this.state !== "running") return replies.map(() => false);
    return replies.map((r) => this.channels.get(r.channel)?.acceptReply(r.secret, r.message) ?? false);
  }

  /** The queue went away under a consumer: tell the client (consumer_cancel_notify). */
  consumerCancelled(channelId: number, tag: string): void {
    const channel = this.channels.get(channelId);
    if (!channel?.isOpen || !channel.consumers.delete(tag)) return;
    if (this.handshake.wantsCancelNotify) this.send(channelId, { name: "basic.cancel", args: { consumerTag: tag, noWait: true } });
  }

  /** Feeds bytes from the transport; never throws. */
  receive(bytes: Uint8Array): void {
    if (this.state === "closed") return;
    this.stats.recvOct += bytes.length;
    this.stats.recvCnt++;
    this.lastReceived = Date.now();
    this.flow.arrived(bytes.length);
    try {
      if (this.state === "handshake") {
        // Before the connection is open a client may make us hold only a few KB, however it
        // spreads them over frames and writes (the handshake itself needs well under 1 KB).
        this.handshakeBytes += bytes.length;
        if (this.handshakeBytes > this.limits.handshakeBytes) {
          throw commandInvalid(`more than ${this.limits.handshakeBytes} bytes sent before connection.open completed`);
        }
      }
      if (this.handshake.phase === "header") {
        const rest = this.handshake.readHeader(bytes);
        if (rest === "refused") {
          // The spec: answer an unsupported header with the one we speak, then close.
          this.transport.send(PROTOCOL_HEADER);
          this.terminate();
          return;
        }
        if (rest === "incomplete" || rest.length === 0) return;
        bytes = rest;
      }
      this.readFrames(bytes);
      if (this.flow.inputBacklog > this.flow.inputLimit) {
        throw new BrokerError(
          ReplyCode.RESOURCE_ERROR,
          `${this.flow.inputBacklog} bytes of commands wait to be processed, over the limit of ${this.flow.inputLimit}`,
        );
      }
      this.notePressure();
    } catch (err) {
      this.resync();
      this.fail(err, 0);
      return;
    }
    void this.pump();
  }

  /**
   * Queues the commands in `bytes`. Frames are handled in order, as RabbitMQ does: at a
   * malformed frame the commands before it (in this write or earlier ones) still run, then its
   * error closes the connection.
   */
  private readFrames(bytes: Uint8Array): void {
    try {
      for (const frame of this.reader.push(bytes)) {
        if (frame.type === FrameType.Heartbeat) continue;
        const command = this.assembler.push(frame);
        if (command) {
          const size = commandSize(command);
          this.flow.queued(size);
          this.pending.push({ command, size });
        }
      }
      const malformed = this.reader.error;
      if (malformed) throw malformed;
    } catch (err) {
      // Once closing, the close has gone out and nothing but close and close-ok matters.
      if (this.state === "closing") return;
      this.resync();
      this.pending.push({ malformed: err, size: 0 });
    }
  }

  /**
   * After bad input the byte stream is out of sync: read whatever comes next (the client's
   * close-ok, in its own write) from a frame boundary, with nothing half-assembled.
   */
  private resync(): void {
    if (this.state === "closing") return;
    this.reader = new FrameReader(this.reader.frameMax);
    this.assembler.reset();
  }

  /** The transport went away (socket closed or errored). */
  transportClosed(): void {
    void this.shutdown();
  }

  /**
   * Queues a method for sending; frames are coalesced into one transport write per turn. Once
   * the server has sent connection.close only channel 0 may speak (spec 4.2.7): confirms or
   * returns of a batch that was still landing are dropped.
   */
  send(channel: number, m: AnyMethod): void {
    if (channel !== 0 && this.state !== "running") return;
    this.writer.method(channel, m);
    this.scheduleFlush();
  }

  sendContent(channel: number, m: AnyMethod, header: Uint8Array, body: Uint8Array): void {
    if (this.state !== "running") return;
    this.writer.content(channel, m, header, body);
    this.scheduleFlush();
  }

  /** basic.deliver of a message record, its exchange and routing key copied as they are. */
  sendDelivery(channel: number, consumerTag: string, deliveryTag: number, redelivered: boolean, record: Uint8Array): void {
    const { route, header, body } = splitRecord(record);
    this.flow.sending(record.length);
    this.writer.deliver(channel, consumerTag, deliveryTag, redelivered, route, header, body);
    this.scheduleFlush();
  }

  flush(): void {
    this.flushScheduled = false;
    if (this.state === "closed") return;
    const bytes = this.writer.take();
    if (bytes) {
      this.lastSent = Date.now();
      this.stats.sendOct += bytes.length;
      this.stats.sendCnt++;
      this.flow.flushed(bytes.length);
      this.transport.send(bytes, true);
    }
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => this.flush());
  }

  /** Tuning agreed (handshake): frame sizes and heartbeats take effect. */
  tuned(t: { channelMax: number; frameMax: number; heartbeat: number }): void {
    this.tuning = t;
    this.negotiatedChannelMax = t.channelMax;
    this.reader.frameMax = t.frameMax === 0 ? 0 : Math.max(t.frameMax, FRAME_MIN_SIZE);
    this.writer.frameMax = t.frameMax;
    this.startHeartbeats(t.heartbeat);
  }

  /** What the vhost's catalog records about this connection. */
  catalogEntry(): CatalogConnection {
    return {
      id: this.id,
      name: `${this.peer} -> ${this.id}`,
      user: this.username,
      vhost: this.vhost,
      peer: this.peer,
      protocol: "AMQP 0-9-1",
      connectedAt: this.connectedAt,
      // JSON-safe: the catalog stores it as JSON (64-bit ints and byte strings converted).
      clientProperties: jsonValue(this.handshake.clientProperties) as Record<string, unknown>,
      ...this.tuning,
    };
  }

  /** Enters the vhost's catalog; refused (530) when the vhost's max-connections is reached. */
  async register(): Promise<void> {
    const catalog = this.broker.catalog(this.vhost);
    const limit = await catalog.connectionOpened(this.catalogEntry());
    if (limit !== null) {
      throw notAllowed(`access to vhost '${this.vhost}' refused for user '${this.username}': connection limit (${limit}) is reached`);
    }
    // Gone meanwhile: its shutdown did not know about the entry, so it is taken out here.
    if (this.state === "closing" || this.state === "closed") {
      await catalog.connectionClosed(this.id, null);
      return;
    }
    this.registered = true;
  }

  /** Live state for the management API. */
  /** Live state for the management API; null once closing (a connection still opening is alive). */
  info(): ConnectionInfo | null {
    if (this.state === "closing" || this.state === "closed") return null;
    const channels: ChannelInfo[] = [...this.channels.values()].map((ch) => ch.info());
    return {
      ...this.catalogEntry(),
      channels,
      recvOct: this.stats.recvOct,
      sendOct: this.stats.sendOct,
      recvCnt: this.stats.recvCnt,
      sendCnt: this.stats.sendCnt,
      blocked: this.flow.isBlocked,
      totals: this.totals(),
      rates: this.totalsSampler.rates(),
      exchangeStats: this.exchangeCounts(),
      cost: { ...this.cost },
    };
  }

  /** What this connection holds of a queue (its object restarted and asks). null unless running. */
  held(vhost: string, queue: string): HeldOf | null {
    if (this.state !== "running" || vhost !== this.vhost) return null;
    const out: HeldOf = { consumers: [], unacked: [] };
    for (const ch of this.channels.values()) {
      if (!ch.isOpen) continue;
      const h = ch.heldOf(queue);
      for (const tag of h.consumers) out.consumers.push({ channel: ch.id, tag });
      for (const u of h.unacked) out.unacked.push({ ...u, channel: ch.id });
    }
    return out;
  }

  /** An operator, a deleted user or a deleted vhost ends this connection: 320 CONNECTION_FORCED. */
  forceClose(reason: string): void {
    this.fail(new BrokerError(ReplyCode.CONNECTION_FORCED, reason), 0);
  }

  permissionsChanged(permissions: Permissions | null): void {
    // Also what connection.open will install, if it has not done so yet.
    this.handshake.permissions = permissions;
    this.access.update(permissions);
  }

  private exchangeCounts(): Record<string, ExchangeCounts> {
    const rates = this.exchangeSampler.rates();
    const out: Record<string, ExchangeCounts> = {};
    for (const [name, s] of this.exchangeStats) {
      out[name] = { ...s, publishInRate: rates[`in:${name}`] ?? 0, publishOutRate: rates[`out:${name}`] ?? 0 };
    }
    return out;
  }

  countExchange(exchange: string, routed: boolean): void {
    let s = this.exchangeStats.get(exchange);
    if (!s) {
      // Bounded like every per-name map: a client publishing to endless names starts it afresh.
      if (this.exchangeStats.size >= 1024) this.exchangeStats.clear();
      this.exchangeStats.set(exchange, (s = { publishIn: 0, publishOut: 0 }));
    }
    s.publishIn++;
    if (routed) s.publishOut++;
  }

  /** This connection's message counts over all its channels (open ones; closed ones are folded in). */
  totals(): MessageCounters {
    const t = { ...this.closedChannelStats };
    for (const ch of this.channels.values()) addCounters(t, ch.stats);
    return t;
  }

  /** connection.open-ok has gone out: channels may open. */
  opened(): void {
    // The socket may have gone while connection.open was being answered.
    if (this.state !== "handshake") return;
    this.access = new AccessControl(this.username, this.vhost, this.handshake.permissions);
    this.impersonator = this.handshake.tags.includes("impersonator");
    this.state = "running";
    clearTimeout(this.handshakeTimer);
  }

  /** connection.close from the client: answer and go. */
  closeRequested(): void {
    this.send(0, { name: "connection.close-ok", args: {} });
    this.flush();
    this.terminate();
  }

  /** Processes queued commands strictly in order; one command at a time, batched sends. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.pending.length > 0 && !this.isClosed) {
        const batch = this.pending;
        this.pending = [];
        for (const item of batch) {
          if (this.isClosed) break;
          if ("malformed" in item) {
            // What came before the bad frame lands first, then the connection closes.
            await this.endOfBatch();
            this.fail(item.malformed, 0);
            continue;
          }
          const { command, size } = item;
          const name = command.method.name;
          // Gathered publishes and acks must land before anything that could observe them.
          if (!isBatched(name)) await this.endOfBatch();
          try {
            const pending = this.dispatch(command);
            if (pending) await pending;
          } catch (err) {
            this.fail(err, command.channel, name);
          }
          this.flow.processed(size);
          this.reportConsumed();
        }
        // Acks alone need not be answered before the next batch is read (see Channel.endOfBatch).
        await this.endOfBatch(false);
      }
    } finally {
      this.pumping = false;
    }
    this.reportConsumed();
    this.notePressure();
  }

  /** Tells a flow-acknowledging peer how much input is dealt with, so it reads more from its client. */
  private reportConsumed(): void {
    if (!this.flow.acknowledged || !this.transport.control || this.isClosed) return;
    const consumed = this.flow.report();
    if (consumed !== null) this.transport.control(`consumed ${consumed}`);
  }

  /** connection.blocked / unblocked as the unprocessed input crosses its marks (clients that asked). */
  private notePressure(): void {
    const change = this.flow.pressure();
    if (change === null || this.state !== "running" || !this.handshake.wantsBlockedNotify) return;
    this.send(
      0,
      change === "blocked" ? { name: "connection.blocked", args: { reason: "input backlog" } } : { name: "connection.unblocked", args: {} },
    );
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

  /** Finds the method's handler in the table (dispatch.ts) and runs it where it belongs. */
  private dispatch(command: Command): void | Promise<void> {
    const m = command.method;
    if (this.state === "closing") {
      // After sending connection.close only close and close-ok matter (spec 4.2.7).
      if (m.name === "connection.close-ok") this.terminate();
      else if (m.name === "connection.close") this.send(0, { name: "connection.close-ok", args: {} });
      return;
    }
    const entry = lookup(m.name);
    if (command.channel === 0) {
      if (entry?.scope !== "connection") throw commandInvalid(`unexpected ${m.name} on channel 0`);
      // close-ok answers a close of ours (handled above); unsolicited, RabbitMQ's rabbit_reader
      // refuses it like any method the connection state does not expect.
      if (m.name === "connection.close-ok") throw channelErrorCode(`unexpected method in connection state ${this.stateName}`);
      return entry.handle(this, m);
    }
    if (this.state !== "running") throw commandInvalid(`unexpected ${m.name} before connection.open`);
    let channel = this.channels.get(command.channel);
    // As rabbit_reader's create_channel: channel_max bounds how many channels are open, not
    // their numbers; one more is a connection error (530, ids 0/0).
    if (!channel && this.negotiatedChannelMax !== 0 && this.channels.size >= this.negotiatedChannelMax) {
      throw connectionError(
        ReplyCode.NOT_ALLOWED,
        `number of channels opened (${this.channels.size}) has reached the negotiated channel_max (${this.negotiatedChannelMax})`,
      );
    }
    // A channel the server is closing drops everything but close and close-ok, channel.open too.
    if (channel && !channel.isOpen) return channel.whileClosing(m);
    if (m.name === "channel.open") {
      if (channel) throw channelErrorCode(`channel ${command.channel} already open`);
      channel = new Channel(command.channel, this);
      this.channels.set(command.channel, channel);
    } else if (!channel) {
      throw channelErrorCode(`expected 'channel.open' on channel ${command.channel}`);
    }
    if (entry?.scope !== "channel") throw notImplemented(`${m.name} is not implemented`);
    return entry.handle(channel, expandShortcuts(channel, m), command);
  }

  private startHeartbeats(seconds: number): void {
    if (seconds <= 0) return;
    const intervalMs = seconds * 1000;
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

  /**
   * Every failure ends here: toAmqpError stamps the running method's ids, then a soft error on
   * an open channel closes that channel and anything else closes the connection.
   */
  fail(err: unknown, channelId: number, method?: MethodName): void {
    if (this.state === "closed") return;
    const error = toAmqpError(err, method, (message) => this.broker.log(message));
    const channel = this.channels.get(channelId);
    if (!error.hard && channelId !== 0 && channel) {
      channel.closeByServer(error);
      return;
    }
    this.closeConnection(error);
  }

  private closeConnection(error: AmqpError): void {
    if (this.state === "closing") return;
    const beforeTune = this.handshake.beforeTune;
    this.state = "closing";
    this.send(0, { name: "connection.close", args: closeArgs(error) });
    this.flush();
    // Clients that failed to authenticate get the close and then the socket goes (authentication_failure_close).
    this.closeTimer = setTimeout(() => this.terminate(), beforeTune ? HANDSHAKE_CLOSE_MS : CLOSE_OK_TIMEOUT_MS);
  }

  terminate(): void {
    if (this.state === "closed") return;
    this.flush();
    void this.shutdown();
  }

  private async shutdown(): Promise<void> {
    if (this.state === "closed") return;
    this.state = "closed";
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    if (this.closeTimer) clearTimeout(this.closeTimer);
    clearTimeout(this.handshakeTimer);
    // Partly received messages and unprocessed input are dropped at once.
    this.assembler.reset();
    this.pending = [];
    this.flow.processed(Number.POSITIVE_INFINITY);
    this.reader = new FrameReader(FRAME_MIN_SIZE);
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
    const totals = this.totals();
    this.channels.clear();
    const vhost = this.vhost;
    if (vhost !== "") {
      const subscriber = subscriberKey({ kind: "connection", id: this.id });
      await Promise.allSettled([
        ...(this.registered ? [this.broker.catalog(vhost).connectionClosed(this.id, totals, { ...this.cost })] : []),
        ...[...this.queuesTouched].map((q) => this.broker.queue(vhost, q).releaseConnection(this.id)),
        ...this.routes.cachedExchanges().map((x) => this.broker.exchange(vhost, x).unsubscribe(subscriber)),
      ]);
    }
    this.onClosed?.();
  }
}

/** What a command stood for on the wire, near enough for flow control (frame overheads aside). */
function commandSize(c: Command): number {
  return 64 + (c.header?.length ?? 0) + (c.body?.length ?? 0);
}
