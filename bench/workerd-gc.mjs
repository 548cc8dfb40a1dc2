// A forced full GC in every isolate of workerd, through its V8 inspector (Warren started with
// `inspectorPort`), to tell garbage not yet collected from memory really held. Bench use only.
//
// The GC is V8's `gc()`, evaluated in each isolate: exposeGc() must run before Warren starts
// (Miniflare passes MINIFLARE_WORKERD_V8_FLAGS to workerd). Without it the GC is the one V8 does
// before a heap snapshot (the snapshot is dropped), which costs workerd memory of its own for
// the snapshot. HeapProfiler.collectGarbage is no use: workerd (1.20260730) never answers it.
import { createServer } from "node:net";
import WebSocket from "ws";

/** Asks Miniflare to start workerd with V8's `gc()` exposed. */
export function exposeGc() {
  const flags = process.env.MINIFLARE_WORKERD_V8_FLAGS ?? "";
  if (!flags.split(" ").includes("--expose-gc")) process.env.MINIFLARE_WORKERD_V8_FLAGS = `${flags} --expose-gc`.trim();
}

/** A TCP port free on 127.0.0.1 just now (for workerd's inspector). */
export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(undefined)));
  const address = server.address();
  await new Promise((resolve) => server.close(() => resolve(undefined)));
  return typeof address === "object" && address ? address.port : 0;
}

/**
 * One DevTools-protocol session with an inspector target (one per isolate); `contexts` are the
 * ids of its execution contexts, known after Runtime.enable.
 * @typedef {{ id: string, call: (method: string, params?: object) => Promise<any>, contexts: number[], ws: WebSocket }} Session
 */

/**
 * Heap figures in bytes: all isolates together, and ArrayBuffer bytes per isolate (by target id,
 * e.g. "core:user:warren").
 * @typedef {{ jsHeap: number, arrayBuffers: number, byIsolate: Map<string, number> }} Heap
 */

/**
 * @param {string} id
 * @param {string} url
 * @returns {Promise<Session>}
 */
function open(id, url) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let next = 0;
    /** @type {Map<number, (result: any) => void>} */
    const pending = new Map();
    /** @type {number[]} */
    const contexts = [];
    ws.on("message", (raw) => {
      const text = raw.toString();
      // Snapshot chunks are dropped unread; console messages and the like are ignored.
      if (text.startsWith('{"method":"HeapProfiler.addHeapSnapshotChunk"')) return;
      /** @type {{ id?: number, result?: unknown, method?: string, params?: { context?: { id: number } } }} */
      const msg = JSON.parse(text);
      if (msg.method === "Runtime.executionContextCreated" && msg.params?.context) contexts.push(msg.params.context.id);
      if (msg.id === undefined) return;
      pending.get(msg.id)?.(msg.result ?? {});
      pending.delete(msg.id);
    });
    /** @type {Session["call"]} */
    const call = (method, params = {}) =>
      new Promise((res) => {
        pending.set(++next, res);
        ws.send(JSON.stringify({ id: next, method, params }));
      });
    ws.once("open", () => resolve({ id, call, contexts, ws }));
    ws.once("error", reject);
  });
}

/**
 * Sessions with every isolate of the workerd whose inspector listens on `port`.
 * @param {number} port
 */
export async function inspectIsolates(port) {
  const list = /** @type {{ id: string, webSocketDebuggerUrl: string }[]} */ (await (await fetch(`http://127.0.0.1:${port}/json`)).json());
  const sessions = await Promise.all(list.map((t) => open(t.id, t.webSocketDebuggerUrl)));
  // Runtime.enable reports the existing contexts before it answers.
  for (const s of sessions) await s.call("Runtime.enable");

  /** @returns {Promise<Heap>} */
  const heap = async () => {
    let jsHeap = 0;
    let arrayBuffers = 0;
    const byIsolate = new Map();
    for (const s of sessions) {
      const u = await s.call("Runtime.getHeapUsage");
      jsHeap += u.usedSize ?? 0;
      arrayBuffers += u.backingStorageSize ?? 0;
      byIsolate.set(s.id, u.backingStorageSize ?? 0);
    }
    return { jsHeap, arrayBuffers, byIsolate };
  };

  /** @param {Session} s */
  const collect = async (s) => {
    const contextId = s.contexts[0];
    // Twice: the ArrayBuffers a GC finds dead are released while the next one runs.
    const expression = "typeof gc === 'function' ? (gc(), gc(), true) : false";
    const r = contextId === undefined ? null : await s.call("Runtime.evaluate", { expression, contextId, returnByValue: true });
    if (r?.result?.value !== true) await s.call("HeapProfiler.takeHeapSnapshot", { reportProgress: false });
  };

  return {
    heap,
    /**
     * A full GC in every isolate, one after another; the heaps before and after, and how long it took.
     * @returns {Promise<{ before: Heap, after: Heap, ms: number }>}
     */
    async collect() {
      const t0 = performance.now();
      const before = await heap();
      for (const s of sessions) await collect(s);
      const after = await heap();
      return { before, after, ms: performance.now() - t0 };
    },
    close() {
      for (const s of sessions) s.ws.close();
    },
  };
}
