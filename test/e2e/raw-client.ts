import { type Socket, connect } from "node:net";
import {
  CommandAssembler,
  FrameReader,
  FrameType,
  FrameWriter,
  PROTOCOL_HEADER,
  type AnyMethod,
  type Command,
  table,
} from "../../src/amqp";

/** A hand-driven AMQP client over TCP for tests that must send what real clients never would. */
export class RawClient {
  readonly commands: Command[] = [];
  heartbeats = 0;
  closed = false;
  raw = Buffer.alloc(0);
  private readonly reader = new FrameReader(1 << 20);
  private readonly assembler = new CommandAssembler();
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.raw = Buffer.concat([this.raw, chunk]);
      if (this.raw.length >= 8 && this.raw.subarray(0, 4).toString() === "AMQP") return this.wake();
      for (const frame of this.reader.push(new Uint8Array(chunk))) {
        if (frame.type === FrameType.Heartbeat) this.heartbeats++;
        else {
          const c = this.assembler.push(frame);
          if (c) this.commands.push(c);
        }
      }
      this.wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.wake();
    });
    socket.on("error", () => undefined);
  }

  static async connect(port: number): Promise<RawClient> {
    const socket = connect(port, "127.0.0.1");
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new RawClient(socket);
  }

  /** Header, start-ok (PLAIN), tune-ok, open: returns once connection.open-ok arrives. */
  static async open(port: number, opts: { heartbeat?: number; vhost?: string; password?: string } = {}): Promise<RawClient> {
    const c = await RawClient.connect(port);
    c.write(PROTOCOL_HEADER);
    await c.expect("connection.start");
    c.send(0, {
      name: "connection.start-ok",
      args: {
        clientProperties: table({ product: "raw-test", capabilities: { consumer_cancel_notify: true } }),
        mechanism: "PLAIN",
        response: `\0guest\0${opts.password ?? "guest"}`,
        locale: "en_US",
      },
    });
    const tune = await c.expect("connection.tune");
    if (tune.method.name !== "connection.tune") throw new Error("no tune");
    // The server's own values: RabbitMQ refuses 0 ("no limit") when it has a limit.
    const { channelMax, frameMax } = tune.method.args;
    c.send(0, { name: "connection.tune-ok", args: { channelMax, frameMax, heartbeat: opts.heartbeat ?? 0 } });
    c.send(0, { name: "connection.open", args: { virtualHost: opts.vhost ?? "/", capabilities: "", insist: false } });
    await c.expect("connection.open-ok");
    return c;
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  send(channel: number, m: AnyMethod): void {
    const w = new FrameWriter();
    w.frameMax = 131072;
    w.method(channel, m);
    this.write(w.take()!);
  }

  /** Waits for the next command with this method name (consuming earlier ones). */
  async expect(name: string, timeoutMs = 5000): Promise<Command> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.commands.findIndex((c) => c.method.name === name);
      if (i >= 0) return this.commands.splice(0, i + 1)[i]!;
      if (this.closed) throw new Error(`socket closed while waiting for ${name}; got ${this.names()}`);
      if (Date.now() > deadline) throw new Error(`timeout waiting for ${name}; got ${this.names()}`);
      await this.wait(deadline - Date.now());
    }
  }

  async waitClosed(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("socket still open");
      await this.wait(deadline - Date.now());
    }
  }

  names(): string {
    return this.commands.map((c) => c.method.name).join(", ");
  }

  close(): void {
    this.socket.destroy();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(1, ms));
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
