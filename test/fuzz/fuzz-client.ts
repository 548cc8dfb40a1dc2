// One fuzz connection: raw bytes out, over TCP through the bridge or over a WebSocket straight to
// /amqp, and the server's answer parsed as it arrives (protocol header or frames).
import { type Socket, connect } from "node:net";
import { WebSocket } from "ws";
import { type Command, CommandAssembler, FrameReader, FrameType } from "../../src/amqp";

export type TransportKind = "tcp" | "ws";

/** What came back, in order, with arrival times (ms since the connection opened). */
export interface Received {
  /** The server answered with a protocol header (it refused ours). */
  header: Uint8Array | null;
  commands: { at: number; command: Command }[];
  heartbeats: number;
  /** The server's bytes did not parse as AMQP frames. */
  parseError: string | null;
  closedAt: number | null;
  /** WebSocket close code (ws transport only). */
  wsCloseCode: number | null;
}

export class FuzzClient {
  readonly received: Received = { header: null, commands: [], heartbeats: 0, parseError: null, closedAt: null, wsCloseCode: null };
  readonly openedAt = Date.now();
  /** Time of the last byte written, ms since opening. */
  lastWriteAt = 0;
  private raw = new Uint8Array(0);
  private framesFrom = -1;
  private readonly reader = new FrameReader(0);
  private readonly assembler = new CommandAssembler();
  private waiters: (() => void)[] = [];

  private constructor(
    readonly kind: TransportKind,
    private readonly sendBytes: (bytes: Uint8Array, asText: boolean) => void,
    private readonly destroy: () => void,
  ) {}

  static async open(kind: TransportKind, target: { port: number; wsUrl: string }, timeoutMs = 10_000): Promise<FuzzClient> {
    return kind === "tcp" ? FuzzClient.tcp(target.port, timeoutMs) : FuzzClient.ws(target.wsUrl, timeoutMs);
  }

  private static tcp(port: number, timeoutMs: number): Promise<FuzzClient> {
    return new Promise((resolve, reject) => {
      const socket: Socket = connect(port, "127.0.0.1");
      socket.setNoDelay(true);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error("TCP connect timed out"));
      }, timeoutMs);
      const client = new FuzzClient(
        "tcp",
        (bytes) => {
          if (!socket.destroyed) socket.write(bytes);
        },
        () => socket.destroy(),
      );
      socket.on("data", (chunk: Buffer) => client.onData(new Uint8Array(chunk)));
      socket.on("close", () => client.onClose(null));
      socket.on("error", () => undefined);
      socket.once("connect", () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.once("error", (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  private static ws(url: string, timeoutMs: number): Promise<FuzzClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, "amqp", { perMessageDeflate: false, handshakeTimeout: timeoutMs });
      ws.binaryType = "nodebuffer";
      const client = new FuzzClient(
        "ws",
        (bytes, asText) => {
          if (ws.readyState !== WebSocket.OPEN) return;
          if (asText) ws.send(new TextDecoder().decode(bytes));
          else ws.send(bytes, { binary: true });
        },
        () => ws.terminate(),
      );
      ws.on("message", (data: Buffer) => client.onData(new Uint8Array(data)));
      ws.on("close", (code: number) => client.onClose(code));
      ws.on("error", () => undefined);
      ws.once("open", () => resolve(client));
      ws.once("error", (err) => reject(err));
    });
  }

  get closed(): boolean {
    return this.received.closedAt !== null;
  }

  now(): number {
    return Date.now() - this.openedAt;
  }

  /** Sends bytes; over WebSocket `asText` sends them as a text message (Warren reads its UTF-8). */
  write(bytes: Uint8Array, asText = false): void {
    if (bytes.length === 0 && this.kind === "tcp") return;
    this.lastWriteAt = this.now();
    // The socket may keep the buffer: hand it a copy of its own.
    this.sendBytes(bytes.slice(), asText);
  }

  close(): void {
    this.destroy();
  }

  /** Resolves when `done()` holds or the socket closed (true), or after `timeoutMs` (false). */
  async until(done: () => boolean, timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (done()) return true;
      if (this.closed) return done();
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Resolves once the socket is closed (true) or after `timeoutMs` (false). */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    await this.until(() => this.closed, timeoutMs);
    return this.closed;
  }

  find(name: string, channel?: number): Command | undefined {
    return this.received.commands.find((c) => c.command.method.name === name && (channel === undefined || c.command.channel === channel))
      ?.command;
  }

  private onData(chunk: Uint8Array): void {
    if (this.framesFrom < 0) {
      const joined = new Uint8Array(this.raw.length + chunk.length);
      joined.set(this.raw);
      joined.set(chunk, this.raw.length);
      this.raw = joined;
      // The first byte tells: 'A' is a protocol header (our header was refused), 1 a method frame.
      if (this.raw.length < 1) return;
      if (this.raw[0] === 0x41) {
        if (this.raw.length < 8) return;
        this.received.header = this.raw.slice(0, 8);
        this.framesFrom = 8;
        if (this.raw.length > 8) this.received.parseError = `${this.raw.length - 8} bytes after the protocol header`;
        this.wake();
        return;
      }
      this.framesFrom = 0;
      chunk = this.raw;
    }
    if (this.received.header) {
      this.received.parseError ??= "bytes after the protocol header";
      this.wake();
      return;
    }
    if (this.received.parseError) return;
    try {
      for (const frame of this.reader.push(chunk.slice())) {
        if (frame.type === FrameType.Heartbeat) {
          this.received.heartbeats++;
          continue;
        }
        const command = this.assembler.push(frame);
        if (command) this.received.commands.push({ at: this.now(), command });
      }
    } catch (err) {
      this.received.parseError = `server output does not parse: ${err instanceof Error ? err.message : String(err)}`;
    }
    this.wake();
  }

  private onClose(code: number | null): void {
    if (this.received.closedAt === null) {
      this.received.closedAt = this.now();
      this.received.wsCloseCode = code;
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
