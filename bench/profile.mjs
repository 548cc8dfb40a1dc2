// CPU profile of workerd while one bench scenario runs: `node bench/profile.mjs [scenario]`.
// Prints the functions with the most self time (Warren's code and the runtime's).
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { startWarren } from "../scripts/warren-server.mjs";
import * as scenarios from "./scenarios.mjs";

const which = process.argv[2] ?? "transient";
const inspectorPort = 9229 + Math.floor(Math.random() * 500);
const server = await startWarren({ httpPort: 0, amqpPort: 0, dataDir: await mkdtemp(join(tmpdir(), "warren-prof-")), quiet: true, inspectorPort });
const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
const sessions = await Promise.all(targets.map((t) => open(t.webSocketDebuggerUrl)));

function open(url) {
  return new Promise((resolve) => {
    const ws = new WebSocket(url);
    let id = 0;
    const pending = new Map();
    ws.on("message", (d) => {
      const msg = JSON.parse(d.toString());
      pending.get(msg.id)?.(msg.result);
    });
    const call = (method, params = {}) =>
      new Promise((res) => {
        pending.set(++id, res);
        ws.send(JSON.stringify({ id, method, params }));
      });
    ws.on("open", () => resolve({ call, ws }));
  });
}

for (const s of sessions) {
  await s.call("Profiler.enable");
  await s.call("Profiler.setSamplingInterval", { interval: 200 });
  await s.call("Profiler.start");
}
const result = which === "websocket" ? await scenarios.websocket(server.wsUrl, { count: 20000 }) : await scenarios[which](server.amqpUrl);
console.log(which, result);
for (const s of sessions) {
  const { profile } = await s.call("Profiler.stop");
  const self = new Map();
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas;
  const counts = new Map();
  profile.samples.forEach((id, i) => counts.set(id, (counts.get(id) ?? 0) + (dt[i] ?? 0)));
  let total = 0;
  for (const [id, t] of counts) {
    const n = byId.get(id);
    const f = n.callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber}`;
    self.set(key, (self.get(key) ?? 0) + t);
    total += t;
  }
  console.log(`total sampled ${(total / 1000).toFixed(0)} ms`);
  for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log(`${(t / 1000).toFixed(1).padStart(8)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${k}`);
  s.ws.close();
}
await server.close();
process.exit(0);
