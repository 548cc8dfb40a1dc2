// Shared fixtures for the bridge tests: a local `ws` server standing in for
// Warren, and small TCP client helpers.
import net from "node:net";
import type { IncomingMessage } from "node:http";
import { WebSocketServer, type WebSocket } from "ws";

export interface FakeUpstream {
  url: string;
  wss: WebSocketServer;
  /** Server-side sockets, in connection order. */
  sockets: WebSocket[];
  /** Offered subprotocols (Sec-WebSocket-Protocol) per connection. */
  offered: (string | undefined)[];
  /** Sizes of the WS messages received, across all connections. */
  messageSizes: number[];
  /** Resolves with the n-th (0-based) server-side socket once it connects. */
  connection(n?: number): Promise<WebSocket>;
  close(): Promise<void>;
}

export interface UpstreamOptions {
  /** Echo every message back (default true). */
  echo?: boolean;
  /** Delay the WS handshake, so the bridge sees the TCP data first. */
  handshakeDelayMs?: number;
  onConnection?: (ws: WebSocket, req: IncomingMessage) => void;
  /** Pick the bridge's flow-control subprotocol (x-warren-flow.v1), as Warren does. */
  flow?: boolean;
}

export async function startUpstream(opts: UpstreamOptions = {}): Promise<FakeUpstream> {
  const { echo = true, handshakeDelayMs = 0 } = opts;
  const wss = new WebSocketServer({
    host: "127.0.0.1",
    port: 0,
    path: "/amqp",
    perMessageDeflate: false,
    // A plain AMQP-over-WebSocket server: it does not speak the bridge's flow subprotocol.
    handleProtocols: (protocols) =>
      opts.flow && protocols.has("x-warren-flow.v1") ? "x-warren-flow.v1" : protocols.has("amqp") ? "amqp" : false,
    verifyClient: (_info, done) => {
      setTimeout(() => done(true), handshakeDelayMs);
    },
  });
  await new Promise<void>((resolve) => wss.once("listening", resolve));
  const sockets: WebSocket[] = [];
  const offered: (string | undefined)[] = [];
  const messageSizes: number[] = [];
  const waiters: { n: number; resolve: (ws: WebSocket) => void }[] = [];
  wss.on("connection", (ws, req) => {
    sockets.push(ws);
    offered.push(req.headers["sec-websocket-protocol"]);
    ws.on("message", (data, isBinary) => {
      const buf = data as Buffer;
      messageSizes.push(buf.length);
      if (echo) ws.send(buf, { binary: isBinary });
    });
    ws.on("error", () => {});
    opts.onConnection?.(ws, req);
    for (const w of waiters.filter((w) => w.n === sockets.length - 1)) w.resolve(ws);
  });
  const { port } = wss.address() as net.AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/amqp`,
    wss,
    sockets,
    offered,
    messageSizes,
    connection(n = 0) {
      const ws = sockets[n];
      if (ws) return Promise.resolve(ws);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      for (const ws of wss.clients) ws.terminate();
      return new Promise((resolve) => wss.close(() => resolve()));
    },
  };
}

export function connect(port: number, host = "127.0.0.1"): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host, () => resolve(sock));
    sock.once("error", reject);
  });
}

/** Whether this machine has the IPv6 loopback (::1) to listen on. */
export async function hasIpv6Loopback(): Promise<boolean> {
  const server = net.createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "::1", () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

/** Collect everything a socket sends until it ends; resolves on 'close'. */
export function collectUntilClose(sock: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  sock.on("data", (c: Buffer) => chunks.push(c));
  return new Promise((resolve) => sock.once("close", () => resolve(Buffer.concat(chunks))));
}

/** Read exactly n bytes from a socket (which must not have other data listeners). */
export function readBytes(sock: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      chunks.push(c);
      got += c.length;
      if (got >= n) {
        cleanup();
        resolve(Buffer.concat(chunks));
      }
    };
    const onClose = () => {
      cleanup();
      reject(new Error(`socket closed after ${got} of ${n} bytes`));
    };
    const cleanup = () => {
      sock.off("data", onData);
      sock.off("close", onClose);
    };
    sock.on("data", onData);
    sock.on("close", onClose);
  });
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll until cond() is true (or fail after timeoutMs). */
export async function until(cond: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Polls `probe` until it has kept one value for `samples` polls in a row and at least
 * `quietMs`, and `minMs` have passed in all; returns that value. For "the bridge must stop
 * moving data" checks, which have no later event to wait for: anything moving within `minMs`
 * is seen as before with a fixed sleep, and a flow that goes on beyond it, however slowly,
 * keeps the value changing and is waited out instead of being looked at halfway. Counting
 * polls, each a turn of the event loop, keeps a stalled loop from passing for a quiet one.
 */
export async function steady(
  probe: () => number,
  what: string,
  { samples = 15, quietMs = 150, minMs = 300, timeoutMs = 10_000 } = {},
): Promise<number> {
  const start = Date.now();
  let value = probe();
  let same = 0;
  let since = start;
  for (;;) {
    await sleep(10);
    const now = probe();
    const t = Date.now();
    if (now !== value) {
      value = now;
      same = 0;
      since = t;
    } else if (++same >= samples && t - since >= quietMs && t - start >= minMs) {
      return value;
    }
    if (t - start > timeoutMs) throw new Error(`${what} still changing after ${timeoutMs} ms (now ${now})`);
  }
}

export function randomBytes(n: number): Buffer {
  // crypto.randomBytes is slow-ish for many MB; a xorshift fill is plenty random here.
  const buf = Buffer.allocUnsafe(n);
  let x = (Math.random() * 0xffffffff) | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    buf[i] = x & 0xff;
  }
  return buf;
}
