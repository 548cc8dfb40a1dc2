// Where the memory of a pre-authentication socket goes (issue: hardening; bench/preauth.mjs gives
// the total). Opens N WebSockets to minimal Workers and to Warren and reports workerd's RSS growth
// per socket for each shape, so the share of workerd itself (HTTP connection, WebSocket, the hop
// from the Worker to a Durable Object, the object), of permessage-deflate, of Miniflare's entry
// Worker and of Warren's own code can be told apart:
//   worker       the Worker accepts the socket itself, no Durable Object
//   do           a new in-memory Durable Object per socket, server.accept()
//   do-hib       the same with the Hibernation API, ctx.acceptWebSocket()
//   one-do       one Durable Object holding every socket
//   warren       Warren: each client sends the protocol header and a 3.9 KB partial frame
// each through Miniflare's entry Worker with a client offering permessage-deflate (browsers and
// bench/preauth.mjs do), and on a direct workerd socket without compression. Warren's rows also
// give the JS heap and ArrayBuffer bytes per socket of the isolate of its connection objects
// (from the inspector; no GC is forced, so garbage counts too).
// Usage: node bench/preauth-breakdown.mjs [sockets] [--only=worker,warren,...] [--no-build]
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Log, LogLevel, Miniflare } from "miniflare";
import { WebSocket } from "ws";
import { BUILD_DIR, buildWorker } from "../scripts/warren-server.mjs";
import { workerdRss } from "./workerd-rss.mjs";

const args = process.argv.slice(2);
const sockets = Number(args.find((a) => !a.startsWith("--")) ?? 1000);
const only = args
  .find((a) => a.startsWith("--only="))
  ?.slice(7)
  .split(",");
const COMPAT = { compatibilityDate: "2026-07-01", compatibilityFlags: ["nodejs_compat"] };

const PROBE = `
import { DurableObject } from "cloudflare:workers";
const held = [];
function upgrade(client) {
  return new Response(null, { status: 101, webSocket: client, headers: { "Sec-WebSocket-Protocol": "amqp" } });
}
export class Sock extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    server.addEventListener("message", (e) => (this.last = e.data));
    return upgrade(client);
  }
}
export class HibSock extends DurableObject {
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return upgrade(client);
  }
  webSocketMessage(_ws, data) {
    this.last = data;
  }
}
export class Shared extends DurableObject {
  sockets = new Set();
  async fetch() {
    const [client, server] = Object.values(new WebSocketPair());
    server.accept();
    this.sockets.add(server);
    server.addEventListener("close", () => this.sockets.delete(server));
    return upgrade(client);
  }
}
export default {
  async fetch(request, env) {
    const path = new URL(request.url).pathname;
    if (path === "/worker") {
      const [client, server] = Object.values(new WebSocketPair());
      server.accept();
      held.push(server);
      return upgrade(client);
    }
    if (path === "/do") return env.SOCK.get(env.SOCK.newUniqueId()).fetch(request);
    if (path === "/do-hib") return env.HIB.get(env.HIB.newUniqueId()).fetch(request);
    if (path === "/one-do") return env.SHARED.get(env.SHARED.idFromName("one")).fetch(request);
    return new Response("not found", { status: 404 });
  },
};
`;

/** A free TCP port on loopback (for the inspector). */
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * Two Workers from one module like scripts/warren-server.mjs (the objects in an in-memory one).
 * @param {"probe" | "warren"} kind
 * @param {{ direct: boolean, inspectorPort?: number | undefined }} options
 */
function miniflareOptions(kind, { direct, inspectorPort }) {
  const source =
    kind === "probe"
      ? { modules: [{ type: /** @type {const} */ ("ESModule"), path: "probe.mjs", contents: PROBE }] }
      : { modules: true, scriptPath: join(BUILD_DIR, "index.js"), bindings: { WARREN_HEARTBEAT: "60" } };
  const classes =
    kind === "probe"
      ? { SOCK: "Sock", HIB: "HibSock", SHARED: "Shared" }
      : { CONNECTION: "ConnectionDO", LOGIN_GUARD: "LoginGuardDO", EXCHANGE: "ExchangeDO", QUEUE: "QueueDO" };
  const inMemory = kind === "probe" ? Object.keys(classes) : ["CONNECTION", "LOGIN_GUARD"];
  /** @type {(name: string) => Record<string, { className: string, scriptName?: string, useSQLite?: boolean, unsafeUniqueKey?: string }>} */
  const objects = (worker) =>
    Object.fromEntries(
      Object.entries(classes).map(([binding, className]) => {
        const memory = inMemory.includes(binding);
        if (worker === "main") {
          return [binding, memory ? { className, scriptName: "memory" } : { className, useSQLite: true, unsafeUniqueKey: `-${className}` }];
        }
        return [binding, memory ? { className } : { className, scriptName: "main" }];
      }),
    );
  return {
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.WARN),
    cf: false,
    ...(inspectorPort ? { inspectorPort } : {}),
    workers: [
      {
        name: "main",
        ...COMPAT,
        ...source,
        ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }] } : {}),
        durableObjects: objects("main"),
      },
      { name: "memory", ...COMPAT, ...source, unsafeEphemeralDurableObjects: true, durableObjects: objects("memory") },
    ],
  };
}

/**
 * Used JS heap and ArrayBuffer bytes of the isolate of Warren's connection objects.
 * @param {number} port
 */
async function connectionIsolateHeap(port) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/core:user:memory`);
  await new Promise((resolve, reject) => {
    ws.once("open", resolve);
    ws.once("error", reject);
  });
  let id = 0;
  /** @type {(method: string) => Promise<Record<string, number>>} */
  const call = (method) =>
    new Promise((resolve) => {
      const mine = ++id;
      /** @param {import("ws").RawData} raw */
      const onMessage = (raw) => {
        const message = JSON.parse(raw.toString());
        if (message.id !== mine) return;
        ws.off("message", onMessage);
        resolve(message.result ?? {});
      };
      ws.on("message", onMessage);
      ws.send(JSON.stringify({ id: mine, method }));
    });
  await call("Runtime.enable");
  const usage = await call("Runtime.getHeapUsage");
  await call("Runtime.disable");
  ws.close();
  return { used: usage.usedSize ?? 0, buffers: usage.backingStorageSize ?? 0 };
}

/**
 * @param {{ name: string, kind: "probe" | "warren", path: string, direct: boolean, deflate: boolean, flags?: string[] }} row
 */
async function measure(row) {
  const inspectorPort = row.kind === "warren" ? await freePort() : undefined;
  const options = miniflareOptions(row.kind, { direct: row.direct, inspectorPort });
  for (const worker of options.workers) worker.compatibilityFlags = [...COMPAT.compatibilityFlags, ...(row.flags ?? [])];
  const dataDir = await mkdtemp(join(tmpdir(), "warren-breakdown-"));
  const mf = new Miniflare({ ...options, durableObjectsPersist: join(dataDir, "do") });
  /** @type {WebSocket[]} */
  const all = [];
  try {
    await mf.ready;
    const base = (row.direct ? await mf.unsafeGetDirectURL("main") : await mf.ready).toString().replace(/^http/, "ws").replace(/\/$/, "");
    const header = Buffer.from([65, 77, 81, 80, 0, 0, 9, 1]);
    const partial = Buffer.alloc(7 + 3900, 0x41);
    partial.writeUInt8(1, 0);
    partial.writeUInt32BE(4000, 3);
    let extensions = "";
    const open = async () => {
      const ws = new WebSocket(`${base}${row.path}`, "amqp", { perMessageDeflate: row.deflate });
      all.push(ws);
      ws.on("error", () => undefined);
      await new Promise((resolve) => ws.once("open", resolve));
      extensions = ws.extensions;
      if (row.kind === "warren") {
        ws.send(header);
        ws.send(partial);
      }
    };
    await open(); // loads code and isolates before the baseline
    all.pop()?.terminate();
    await new Promise((r) => setTimeout(r, 1500));
    const heapBefore = inspectorPort ? await connectionIsolateHeap(inspectorPort) : undefined;
    const before = await workerdRss();
    for (let i = 0; i < sockets; i += 100) await Promise.all(Array.from({ length: Math.min(100, sockets - i) }, open));
    await new Promise((r) => setTimeout(r, 1500));
    const after = await workerdRss();
    const heapAfter = inspectorPort ? await connectionIsolateHeap(inspectorPort) : undefined;
    const kb = (/** @type {number} */ bytes) => (bytes / sockets / 1024).toFixed(1);
    return {
      shape: row.name,
      path: row.direct ? "direct socket" : "Miniflare entry",
      deflate: extensions.includes("permessage-deflate") ? "yes" : "no",
      flags: (row.flags ?? []).join(" "),
      rssKB: kb(after - before),
      jsHeapKB: heapBefore && heapAfter ? kb(heapAfter.used - heapBefore.used) : "",
      buffersKB: heapBefore && heapAfter ? kb(heapAfter.buffers - heapBefore.buffers) : "",
      totalMB: ((after - before) / 2 ** 20).toFixed(1),
    };
  } finally {
    for (const ws of all) ws.terminate();
    await mf.dispose();
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** @type {{ name: string, kind: "probe" | "warren", path: string, direct: boolean, deflate: boolean, flags?: string[] }[]} */
const rows = [];
for (const [name, kind, path] of /** @type {const} */ ([
  ["worker", "probe", "/worker"],
  ["one-do", "probe", "/one-do"],
  ["do", "probe", "/do"],
  ["do-hib", "probe", "/do-hib"],
  ["warren", "warren", "/amqp"],
])) {
  if (only && !only.includes(name)) continue;
  rows.push({ name, kind, path, direct: false, deflate: true });
  rows.push({ name, kind, path, direct: true, deflate: false });
}
if (!only || only.includes("warren")) {
  // The client still offers compression; the Worker's compatibility flag refuses it.
  rows.push({ name: "warren", kind: "warren", path: "/amqp", direct: true, deflate: true, flags: ["no_web_socket_compression"] });
}

if (rows.some((r) => r.kind === "warren") && !args.includes("--no-build")) await buildWorker({ quiet: true });
console.log(`${sockets} idle WebSockets per row; workerd RSS growth per socket`);
const results = [];
for (const row of rows) {
  const result = await measure(row);
  results.push(result);
  console.log(JSON.stringify(result));
}
console.table(results);
