// CPU profile of workerd while one bench scenario runs: `node bench/profile.mjs [scenario]`.
// Prints the functions with the most self time (Warren's code and the runtime's).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { startWarren } from "../scripts/warren-server.mjs";
import * as scenarios from "./scenarios.mjs";
/** @import { Profiler } from "node:inspector" */

/**
 * A DevTools-protocol session with one inspector target.
 * @typedef {object} Session
 * @property {(method: string, params?: object) => Promise<unknown>} call resolves with the reply's `result`
 * @property {WebSocket} ws
 */
/**
 * Profiler.stop's profile: V8 always sends samples and timeDeltas with it.
 * @typedef {Profiler.Profile & { samples: number[], timeDeltas: number[] }} Profile
 */

/** @type {Record<string, (url: string) => Promise<unknown>>} */
const byName = {
  ...scenarios,
  // The 64 KB persistent scenario of `npm run bench`.
  large: (url) => scenarios.persistent(url, { count: 2000, size: 65536, label: "large" }),
};

const which = process.argv[2] ?? "transient";
// --inclusive: time under each function (its callees included) instead of self time.
const inclusive = process.argv.includes("--inclusive");
// --callers <name>: the call paths (3 levels up) that lead to self time in functions named so.
const callersOf = process.argv.includes("--callers") ? process.argv[process.argv.indexOf("--callers") + 1] : undefined;
const inspectorPort = 9229 + Math.floor(Math.random() * 500);
const server = await startWarren({
  httpPort: 0,
  amqpPort: 0,
  dataDir: await mkdtemp(join(tmpdir(), "warren-prof-")),
  quiet: true,
  inspectorPort,
});
// The inspector's target list (JSON), of which only the WebSocket URLs are used.
const targets = /** @type {{ webSocketDebuggerUrl: string }[]} */ (await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json());
const sessions = await Promise.all(targets.map((t) => open(t.webSocketDebuggerUrl)));

/**
 * @param {string} url
 * @returns {Promise<Session>}
 */
function open(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let id = 0;
    /** @type {Map<number | undefined, (result: unknown) => void>} by request id (events have none) */
    const pending = new Map();
    ws.on("message", (d) => {
      /** @type {{ id?: number, result?: unknown }} a reply (events have no id) */
      const msg = JSON.parse(d.toString());
      pending.get(msg.id)?.(msg.result);
    });
    /** @type {Session["call"]} */
    const call = (method, params = {}) =>
      new Promise((res) => {
        pending.set(++id, res);
        ws.send(JSON.stringify({ id, method, params }));
      });
    ws.on("open", () => resolve({ call, ws }));
  });
}

// amqpPort 0 starts the TCP bridge, so amqpUrl is set.
const amqpUrl = /** @type {string} */ (server.amqpUrl);
// The chosen amqplib scenario; an unknown name fails where it is called, as `byName[which](…)` would.
const runScenario = /** @type {(url: string) => Promise<unknown>} */ (byName[which]);

// --warm: run the scenario once before profiling, so the profile shows optimised code.
if (process.argv.includes("--warm"))
  await (which === "websocket" ? scenarios.websocket(server.wsUrl, { count: 20000 }) : runScenario(amqpUrl));
for (const s of sessions) {
  await s.call("Profiler.enable");
  await s.call("Profiler.setSamplingInterval", { interval: 200 });
  await s.call("Profiler.start");
}
const result = which === "websocket" ? await scenarios.websocket(server.wsUrl, { count: 20000 }) : await runScenario(amqpUrl);
console.log(which, result);
for (const s of sessions) {
  const { profile } = /** @type {{ profile: Profile }} */ (await s.call("Profiler.stop"));
  /** @type {Map<string, number>} */
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  // Every id in samples, children and parent is a node's.
  const node = (/** @type {number} */ id) => /** @type {Profiler.ProfileNode} */ (byId.get(id));
  const dt = profile.timeDeltas;
  /** @type {Map<number, number>} */
  const counts = new Map();
  profile.samples.forEach((id, i) => {
    counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0));
  });
  /** @type {Map<number, number>} */
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (/** @type {Profiler.ProfileNode} */ n) =>
    `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`;
  let total = 0;
  for (const [id, t] of counts) {
    total += t;
    if (callersOf) {
      const n = node(id);
      if (n.callFrame.functionName !== callersOf) continue;
      const path = [];
      for (let at = parent.get(id), k = 0; at !== undefined && k < 4; at = parent.get(at), k++) path.push(keyOf(node(at)));
      const key = path.join(" < ");
      self.set(key, (self.get(key) ?? 0) + t);
      continue;
    }
    if (!inclusive) {
      const key = keyOf(node(id));
      self.set(key, (self.get(key) ?? 0) + t);
      continue;
    }
    /** @type {Set<string>} */
    const seen = new Set();
    for (let at = /** @type {number | undefined} */ (id); at !== undefined; at = parent.get(at)) seen.add(keyOf(node(at)));
    for (const key of seen) self.set(key, (self.get(key) ?? 0) + t);
  }
  console.log(`total sampled ${(total / 1000).toFixed(0)} ms`);
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40))
    console.log(`${(t / 1000).toFixed(1).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  s.ws.close();
}
await server.close();
process.exit(0);
