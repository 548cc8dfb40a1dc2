/**
 * Flow control for one connection, in bytes.
 *
 * Downstream (deliveries): workerd's WebSocket has no bufferedAmount and send() never pushes back,
 * so a client that stops reading would have the whole queue pushed into this object's memory.
 * Clients that negotiate the `x-warren-flow.v1` subprotocol (the TCP bridge does) report how many
 * bytes they have written on to their client; deliveries stop while more than `window` bytes are
 * unacknowledged and resume below half of it. The backlog stays in the queue's storage.
 *
 * Upstream (publishes): this object cannot stop reading its socket either, so it reports how
 * many received bytes it has processed; the bridge stops reading TCP while too much is
 * outstanding, and TCP back-pressure reaches the publisher. For any client, a backlog of
 * received-but-unprocessed commands over `blockAt` sends connection.blocked (and unblocked once
 * it halves); over `inputLimit` the connection is closed (506) rather than held in memory.
 */
const REPORT_STEP = 256 * 1024;
/** The delivery window is never below this: the peer acknowledges in 256 KiB steps. */
const MIN_WINDOW = 1 << 20;

export class FlowControl {
  /** Bytes sent on the socket, and acknowledged by the peer as passed on. */
  private sent = 0;
  private acked = 0;
  /** Bytes of deliveries accepted but not yet flushed to the socket. */
  private unflushed = 0;
  /** Consumers refused because the window was full: queue → consumer tags. */
  private readonly paused = new Map<string, Set<string>>();

  /** Bytes received, and bytes of commands received but not yet processed. */
  private received = 0;
  private backlog = 0;
  private reported = 0;
  private blocked = false;
  /** The delivery window in bytes, never below MIN_WINDOW. */
  private readonly window: number;

  constructor(
    /** True when the peer acknowledges what it passed on (the x-warren-flow.v1 subprotocol). */
    readonly acknowledged: boolean,
    window: number,
    private readonly blockAt: number,
    readonly inputLimit: number,
  ) {
    this.window = Math.max(window, MIN_WINDOW);
  }

  private get inFlight(): number {
    return this.sent + this.unflushed - this.acked;
  }

  /** Room left in the delivery window (Infinity without acknowledgements). */
  get room(): number {
    return this.acknowledged ? Math.max(0, this.window - this.inFlight) : Number.POSITIVE_INFINITY;
  }

  /** May another delivery go out now? Yes while the window has any room, however large it is. */
  get hasRoom(): boolean {
    return !this.acknowledged || this.inFlight < this.window;
  }

  /** A delivery of this many bytes was written (it counts until the flush that sends it). */
  sending(bytes: number): void {
    this.unflushed += bytes;
  }

  /** A consumer refused for lack of room, to resume when the window drains. */
  pause(queue: string, tag: string): void {
    let tags = this.paused.get(queue);
    if (!tags) this.paused.set(queue, (tags = new Set()));
    tags.add(tag);
  }

  flushed(bytes: number): void {
    this.sent += bytes;
    this.unflushed = 0;
  }

  /**
   * The peer passed `total` bytes on (cumulative, so a lost or reordered report does no harm).
   * Returns the consumers to resume when the window has drained below half, else null.
   */
  ack(total: number): Map<string, Set<string>> | null {
    if (total > this.acked) this.acked = Math.min(total, this.sent);
    if (this.paused.size === 0 || this.inFlight > this.window / 2) return null;
    const resume = new Map(this.paused);
    this.paused.clear();
    return resume;
  }

  // ---- upstream

  arrived(bytes: number): void {
    this.received += bytes;
  }

  queued(bytes: number): void {
    this.backlog += bytes;
  }

  processed(bytes: number): void {
    this.backlog = Math.max(0, this.backlog - bytes);
  }

  get inputBacklog(): number {
    return this.backlog;
  }

  /** Received bytes fully dealt with (partial frames count as consumed: they are capped apart). */
  get consumed(): number {
    return this.received - this.backlog;
  }

  /**
   * A consumed count worth telling the peer: one per REPORT_STEP of progress, never one per
   * message. The peer stops reading only 4 MiB ahead, so an unreported tail this small never
   * holds it back.
   */
  report(): number | null {
    const consumed = this.consumed;
    if (consumed - this.reported < REPORT_STEP) return null;
    this.reported = consumed;
    return consumed;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  /** "blocked" / "unblocked" when the unprocessed backlog crosses its marks, else null. */
  pressure(): "blocked" | "unblocked" | null {
    if (!this.blocked && this.backlog > this.blockAt) {
      this.blocked = true;
      return "blocked";
    }
    if (this.blocked && this.backlog <= this.blockAt / 2) {
      this.blocked = false;
      return "unblocked";
    }
    return null;
  }
}
