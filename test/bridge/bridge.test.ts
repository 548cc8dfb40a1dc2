import net from "node:net";
import http from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import type { WebSocket } from "ws";
import { hostList, startBridge, type Bridge } from "../../bridge/warren-bridge.mjs";
import {
  collectUntilClose,
  connect,
  hasIpv6Loopback,
  randomBytes,
  readBytes,
  sleep,
  startUpstream,
  steady,
  until,
  type UpstreamOptions,
} from "./helpers";

// The dual-stack tests need ::1; without it they are skipped, and say so.
const ipv6 = await hasIpv6Loopback();
if (!ipv6) console.log("[bridge] this machine has no IPv6 loopback (::1): the dual-stack tests are skipped");

// Everything started in a test is torn down afterwards, pass or fail.
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(opts: UpstreamOptions = {}) {
  const upstream = await startUpstream(opts);
  cleanups.push(() => upstream.close());
  const logs: string[] = [];
  const bridge = await startBridge({ port: 0, upstream: upstream.url, log: (l) => logs.push(l) });
  cleanups.push(() => bridge.close());
  return { upstream, bridge, logs };
}

async function client(bridge: Bridge) {
  const sock = await connect(bridge.port);
  cleanups.push(() => sock.destroy());
  return sock;
}

const wsClosed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );

describe("warren-bridge", () => {
  it("listens on the actual port when given port 0 and logs it", async () => {
    const { bridge, logs, upstream } = await setup();
    expect(bridge.port).toBeGreaterThan(0);
    const where = ipv6 ? `127.0.0.1:${bridge.port}, [::1]:${bridge.port}` : `127.0.0.1:${bridge.port}`;
    expect(logs.at(-1)).toBe(`listening on ${where} -> ${upstream.url}`);
  });

  it.skipIf(!ipv6)("listens on both 127.0.0.1 and ::1 by default, one port: a client of either is relayed", async () => {
    const { bridge, upstream } = await setup();
    expect(bridge.hosts).toEqual(["127.0.0.1", "::1"]);
    for (const host of ["127.0.0.1", "::1"]) {
      const sock = await connect(bridge.port, host);
      cleanups.push(() => sock.destroy());
      const payload = Buffer.from(`AMQP\x00\x00\x09\x01 from ${host}`, "latin1");
      sock.write(payload);
      expect((await readBytes(sock, payload.length)).equals(payload)).toBe(true);
    }
    expect(upstream.sockets).toHaveLength(2);
  });

  it.skipIf(!ipv6)(
    "by default a port taken on ::1 only is logged and the bridge listens on 127.0.0.1; chosen addresses must all listen",
    async () => {
      const upstream = await startUpstream();
      cleanups.push(() => upstream.close());
      const other = net.createServer();
      await new Promise<void>((resolve) => other.listen(0, "::1", () => resolve()));
      cleanups.push(() => new Promise((resolve) => other.close(resolve)));
      const port = (other.address() as net.AddressInfo).port;
      const logs: string[] = [];
      const bridge = await startBridge({ port, upstream: upstream.url, log: (l) => logs.push(l) });
      cleanups.push(() => bridge.close());
      expect(bridge.hosts).toEqual(["127.0.0.1"]);
      expect(logs[0]).toBe(`cannot listen on [::1]:${port} (EADDRINUSE); continuing without it`);
      await expect(startBridge({ host: "::1", port, upstream: upstream.url, quiet: true })).rejects.toThrow(/EADDRINUSE/);
    },
  );

  it("host chooses the addresses (a list or comma-separated); only those listen", async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const bridge = await startBridge({ host: "127.0.0.1", port: 0, upstream: upstream.url, quiet: true });
    cleanups.push(() => bridge.close());
    expect(bridge.hosts).toEqual(["127.0.0.1"]);
    if (ipv6) await expect(connect(bridge.port, "::1")).rejects.toThrow(/ECONNREFUSED/);
    expect(hostList("127.0.0.1, [::1],127.0.0.1")).toEqual(["127.0.0.1", "::1"]);
    expect(hostList(["127.0.0.1,::1", "0.0.0.0"])).toEqual(["127.0.0.1", "::1", "0.0.0.0"]);
  });

  it("an address this machine does not have is logged and skipped; the bridge starts on the others", async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const logs: string[] = [];
    // 192.0.2.1 (TEST-NET-1) is on no interface here, as ::1 is on a machine without IPv6.
    const bridge = await startBridge({ host: ["192.0.2.1", "127.0.0.1"], port: 0, upstream: upstream.url, log: (l) => logs.push(l) });
    cleanups.push(() => bridge.close());
    expect(bridge.hosts).toEqual(["127.0.0.1"]);
    expect(logs[0]).toBe("cannot listen on 192.0.2.1:0 (EADDRNOTAVAIL): this machine does not have that address; continuing without it");
    const sock = await client(bridge);
    sock.write("AMQP");
    expect((await readBytes(sock, 4)).toString()).toBe("AMQP");
    // No address at all is an error.
    await expect(startBridge({ host: "192.0.2.1", port: 0, upstream: upstream.url, quiet: true })).rejects.toThrow(/EADDRNOTAVAIL/);
  });

  it("round-trips bytes unchanged over a binary WS with the amqp subprotocol", async () => {
    const { bridge, upstream, logs } = await setup();
    const sock = await client(bridge);
    const payload = Buffer.concat([Buffer.from("AMQP\x00\x00\x09\x01", "latin1"), randomBytes(5000)]);
    sock.write(payload);
    expect((await readBytes(sock, payload.length)).equals(payload)).toBe(true);

    const ws = await upstream.connection();
    // It offers its flow-control subprotocol first; a plain server picks "amqp".
    expect(upstream.offered[0]).toBe("x-warren-flow.v1,amqp");
    expect(ws.protocol).toBe("amqp");
    expect(logs.some((l) => /^#1 open 127\.0\.0\.1:\d+$/.test(l))).toBe(true);

    sock.end();
    await until(() => logs.some((l) => l.startsWith("#1 closed")), 2000, "close log");
    const closeLine = logs.find((l) => l.startsWith("#1 closed"))!;
    expect(closeLine).toContain(`up ${payload.length} B, down ${payload.length} B`);
  });

  it("buffers data sent before the WS is open and flushes it in order", async () => {
    const { bridge, upstream } = await setup({ handshakeDelayMs: 300 });
    const sock = await client(bridge);
    const parts = Array.from({ length: 20 }, (_, i) => Buffer.from(`part-${i};`));
    // Half right away, half spread over the time the handshake is still pending.
    for (const p of parts.slice(0, 10)) sock.write(p);
    for (const p of parts.slice(10)) {
      await sleep(5);
      sock.write(p);
    }
    expect(upstream.sockets).toHaveLength(0); // the WS really wasn't open yet
    const expected = Buffer.concat(parts);
    const echoed = await readBytes(sock, expected.length);
    expect(echoed.toString()).toBe(expected.toString());
  });

  it("coalesces many small writes into few WS messages", async () => {
    const { bridge, upstream } = await setup({ echo: false });
    const sock = await client(bridge);
    await upstream.connection(); // WS open, so this measures the steady state
    const chunks = Array.from({ length: 1000 }, (_, i) => Buffer.from(String(i).padStart(10, "0")));
    for (const c of chunks) sock.write(c); // 1000 × 10 bytes in one tick
    await until(() => upstream.messageSizes.reduce((a, b) => a + b, 0) >= 10_000, 5000, "all bytes");
    expect(upstream.messageSizes.reduce((a, b) => a + b, 0)).toBe(10_000);
    expect(upstream.messageSizes.length).toBeLessThan(50);
  });

  it("packs several TCP reads into each WS message for bulk data", async () => {
    const { bridge, upstream } = await setup({ echo: false });
    const sock = await client(bridge);
    const payload = randomBytes(8 << 20);
    for (let off = 0; off < payload.length; off += 10_000) sock.write(payload.subarray(off, off + 10_000));
    await until(() => upstream.messageSizes.reduce((a, b) => a + b, 0) >= payload.length, 8000, "all bytes");
    // Node reads TCP in 64 KB chunks, so one message per read would mean >= 128 messages;
    // gathering a tick's reads fills messages up to the 128 KB cap instead.
    expect(upstream.messageSizes.length).toBeLessThan(100);
    expect(Math.max(...upstream.messageSizes)).toBeLessThanOrEqual(128 * 1024);
  });

  it("relays 8 MB each way at once, unchanged, in messages of bounded size", async () => {
    const { bridge, upstream } = await setup();
    const sock = await client(bridge);
    const payload = randomBytes(8 << 20);
    for (let off = 0; off < payload.length; off += 100_000) sock.write(payload.subarray(off, off + 100_000));
    const echoed = await readBytes(sock, payload.length);
    expect(echoed.length).toBe(payload.length);
    expect(echoed.equals(payload)).toBe(true);
    expect(Math.max(...upstream.messageSizes)).toBeLessThanOrEqual(256 * 1024);
  });

  it("applies backpressure upstream -> client when the TCP client reads slowly", async () => {
    const size = 16 << 20;
    const payload = randomBytes(size);
    let serverWs: WebSocket | undefined;
    const { bridge } = await setup({
      echo: false,
      onConnection: (ws) => {
        serverWs = ws;
        for (let off = 0; off < size; off += 64 * 1024) ws.send(payload.subarray(off, off + 64 * 1024));
      },
    });
    const sock = await client(bridge);
    sock.pause(); // not reading at all for a while
    await until(() => serverWs !== undefined, 2000, "upstream connection");
    // Wait until data stops moving: a bridge reading everything into memory, even slowly, would
    // only stop once the server's send buffer is empty.
    const unsent = await steady(() => serverWs!.bufferedAmount, "the server's send buffer");
    expect(unsent).toBeGreaterThan(0);

    // Now a slow reader: pause briefly after every chunk.
    const chunks: Buffer[] = [];
    let got = 0;
    await new Promise<void>((resolve) => {
      sock.on("data", (c: Buffer) => {
        chunks.push(c);
        got += c.length;
        if (got >= size) return resolve();
        sock.pause();
        setImmediate(() => sock.resume());
      });
      sock.resume();
    });
    expect(Buffer.concat(chunks).equals(payload)).toBe(true);
  });

  it("applies backpressure client -> upstream when the WS server reads slowly", async () => {
    const size = 16 << 20;
    const payload = randomBytes(size);
    const { bridge, upstream } = await setup({ echo: false, onConnection: (ws) => ws.pause() });
    const received: Buffer[] = [];
    const sock = await client(bridge);
    const ws = await upstream.connection();
    ws.on("message", (m) => received.push(m as Buffer));
    for (let off = 0; off < size; off += 64 * 1024) sock.write(payload.subarray(off, off + 64 * 1024));
    // Wait until data stops moving: a bridge that kept reading, even slowly, would only stop once
    // the client has nothing left to send. It stopped reading, so the client still holds unsent data.
    const unsent = await steady(() => sock.writableLength, "the client's unsent data");
    expect(unsent).toBeGreaterThan(0);

    ws.resume();
    await until(() => received.reduce((a, b) => a + b.length, 0) >= size, 8000, "all bytes upstream");
    expect(Buffer.concat(received).equals(payload)).toBe(true);
  });

  it("ends the TCP socket (after pending data) when the server closes the WS", async () => {
    const payload = randomBytes(4 << 20);
    const { bridge } = await setup({
      echo: false,
      onConnection: (ws) => {
        ws.send(payload);
        ws.send(Buffer.from("goodbye"));
        ws.close(1000, "done");
      },
    });
    const sock = await client(bridge);
    sock.pause(); // let data pile up in the bridge while the close arrives
    await sleep(100);
    let ended = false;
    sock.on("end", () => (ended = true));
    const data = collectUntilClose(sock);
    sock.resume();
    expect((await data).equals(Buffer.concat([payload, Buffer.from("goodbye")]))).toBe(true);
    expect(ended).toBe(true); // clean FIN, not a reset
  });

  it("closes the WS with 1000 (after pending data) when the TCP client ends", async () => {
    const { bridge, upstream } = await setup({ echo: false });
    const sock = await client(bridge);
    const ws = await upstream.connection();
    const closed = wsClosed(ws);
    const got: Buffer[] = [];
    ws.on("message", (m) => got.push(m as Buffer));
    sock.end("last words");
    expect((await closed).code).toBe(1000);
    expect(Buffer.concat(got).toString()).toBe("last words");
  });

  it("delivers data then closes when the client ends before the WS is even open", async () => {
    const got: Buffer[] = [];
    const { bridge, upstream } = await setup({
      echo: false,
      handshakeDelayMs: 100,
      onConnection: (ws) => ws.on("message", (m) => got.push(m as Buffer)),
    });
    const sock = await client(bridge);
    sock.end("quick");
    const ws = await upstream.connection();
    expect((await wsClosed(ws)).code).toBe(1000);
    expect(Buffer.concat(got).toString()).toBe("quick");
  });

  it("closes the WS with 1011 when the TCP connection is reset", async () => {
    const { bridge, upstream } = await setup();
    const sock = await client(bridge);
    sock.write("ping");
    await readBytes(sock, 4); // the bridge's WS is surely open now
    const ws = await upstream.connection();
    const closed = wsClosed(ws);
    sock.resetAndDestroy();
    expect((await closed).code).toBe(1011);
  });

  it("closes the TCP socket when the upstream is unreachable, and logs why", async () => {
    // Grab a free port, then free it again, so nothing listens there.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
    const deadPort = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));

    const logs: string[] = [];
    const bridge = await startBridge({ port: 0, upstream: `ws://127.0.0.1:${deadPort}/amqp`, log: (l) => logs.push(l) });
    cleanups.push(() => bridge.close());
    const sock = await client(bridge);
    sock.write("AMQP\x00\x00\x09\x01");
    const data = await collectUntilClose(sock);
    expect(data.length).toBe(0);
    expect(logs.some((l) => l.includes("upstream error") && l.includes("ECONNREFUSED"))).toBe(true);
  });

  it("closes the TCP socket when the upstream refuses the WebSocket upgrade", async () => {
    const server = http.createServer((_req, res) => res.writeHead(404).end("no"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    cleanups.push(() => new Promise<void>((r) => server.close(() => r())));
    const { port } = server.address() as net.AddressInfo;
    const logs: string[] = [];
    const bridge = await startBridge({ port: 0, upstream: `ws://127.0.0.1:${port}/amqp`, log: (l) => logs.push(l) });
    cleanups.push(() => bridge.close());
    const sock = await client(bridge);
    await collectUntilClose(sock);
    expect(logs.some((l) => l.includes("Unexpected server response: 404"))).toBe(true);
  });

  it("keeps concurrent connections independent", async () => {
    const owner = new Map<WebSocket, string>(); // server socket -> client tag
    const { bridge } = await setup({
      onConnection: (ws) => ws.once("message", (m: Buffer) => owner.set(ws, m.toString("latin1", 0, 3))),
    });
    const socks = await Promise.all(Array.from({ length: 5 }, () => client(bridge)));
    const payloads = socks.map((_, i) => Buffer.concat([Buffer.from(`c${i}:`), randomBytes(200_000)]));
    socks.forEach((s, i) => {
      s.write(payloads[i]!);
    });
    const echoes = await Promise.all(socks.map((s, i) => readBytes(s, payloads[i]!.length)));
    echoes.forEach((e, i) => {
      expect(e.equals(payloads[i]!)).toBe(true);
    });

    // Closing one connection's WS closes only that client; the others keep working.
    const victimWs = [...owner].find(([, tag]) => tag === "c2:")![0];
    const victimClosed = collectUntilClose(socks[2]!);
    victimWs.close(1000);
    await victimClosed;
    for (const [i, s] of socks.entries()) {
      if (i === 2) continue;
      const msg = Buffer.from(`still alive ${i}`);
      s.write(msg);
      expect((await readBytes(s, msg.length)).equals(msg)).toBe(true);
    }
  });

  it("close() stops listening and closes live connections (WS gets 1001)", async () => {
    const { bridge, upstream } = await setup();
    const sock = await client(bridge);
    sock.write("ping");
    await readBytes(sock, 4); // the bridge's WS is surely open now
    const ws = await upstream.connection();
    const closed = wsClosed(ws);
    const sockClosed = collectUntilClose(sock);
    await bridge.close();
    expect((await closed).code).toBe(1001);
    await sockClosed;
    await expect(connect(bridge.port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it("rejects a non-WebSocket upstream URL", async () => {
    await expect(startBridge({ port: 0, upstream: "http://example.com", quiet: true })).rejects.toThrow(/ws:\/\//);
  });
});
