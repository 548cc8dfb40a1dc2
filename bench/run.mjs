// `npm run bench`: the same scenarios against a fresh local Warren and, when one answers,
// a reference RabbitMQ (RABBITMQ_URL, default amqp://guest:guest@127.0.0.1:5672).
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execSync } from "node:child_process";
import amqp from "amqplib";
import { spawnWarren } from "../scripts/warren-process.mjs";
import * as scenarios from "./scenarios.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const scale = Number(process.env.BENCH_SCALE ?? 1);
const only = process.env.BENCH_ONLY?.split(",");
const n = (/** @type {number} */ x) => Math.max(1, Math.round(x * scale));

/**
 * What one scenario reported, by metric name, or why it failed (`error`).
 * @typedef {{ error?: string, [metric: string]: number | string | undefined }} Outcome
 */
/**
 * One row of the table.
 * @typedef {object} Row
 * @property {string} key
 * @property {string} label
 * @property {string} metric the Outcome number shown
 * @property {string} [extra] another Outcome number shown beside it
 * @property {boolean} [lowerIsBetter]
 */
/** @typedef {Row & { run: (url: string, k: number) => Promise<Outcome> }} Scenario */

// Each run takes a size factor k: 1 for the measured run, WARMUP for the warm-up run before it.
/** @type {Scenario[]} */
const SCENARIOS = [
  {
    key: "transient",
    label: "transient 128 B, no-ack (msgs/s)",
    run: (url, k) => scenarios.transient(url, { count: n(100_000 * k) }),
    metric: "msgsPerSec",
  },
  {
    key: "persistent",
    label: "persistent + confirms + ack, prefetch 100 (msgs/s)",
    run: (url, k) => scenarios.persistent(url, { count: n(30_000 * k) }),
    metric: "msgsPerSec",
  },
  {
    key: "batched",
    label: "persistent, confirms per 100-message batch, prefetch 100 (msgs/s)",
    run: (url, k) => scenarios.persistent(url, { count: n(30_000 * k), batch: 100, label: "batched" }),
    metric: "msgsPerSec",
  },
  {
    key: "large",
    label: "64 KB persistent (msgs/s)",
    run: (url, k) => scenarios.persistent(url, { count: n(2_000 * k), size: 65536, label: "large" }),
    metric: "msgsPerSec",
    extra: "mbPerSec",
  },
  {
    key: "fanout",
    label: "fanout to 4 queues (deliveries/s)",
    run: (url, k) => scenarios.fanout(url, { count: n(25_000 * k) }),
    metric: "deliveriesPerSec",
  },
  {
    key: "latency",
    label: "round trip latency p50 (ms)",
    run: (url, k) => scenarios.latency(url, { count: n(1_000 * k) }),
    metric: "p50Ms",
    extra: "p99Ms",
    lowerIsBetter: true,
  },
  {
    key: "manyQueues",
    label: "1000 queues, one message each (s)",
    run: (url, k) => scenarios.manyQueues(url, { count: k === 1 ? n(1_000) : 50 }),
    metric: "totalSeconds",
    lowerIsBetter: true,
  },
];

/**
 * Every scenario first runs once at this fraction of its size, unmeasured, on both brokers: a
 * broker is judged in its steady state, not while its JIT compiles (BENCH_WARMUP=0 turns it off).
 */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 0.2);

/** @param {string} url */
async function reachableRabbit(url) {
  try {
    const conn = await amqp.connect(url, { timeout: 2000 });
    const product = String(conn.connection.serverProperties?.product ?? "");
    await conn.close();
    if (product === "Warren") {
      console.log(`reference: ${url} answers but it is Warren, not RabbitMQ — skipping the RabbitMQ side`);
      return false;
    }
    return true;
  } catch (err) {
    console.log(`reference: no RabbitMQ reachable at ${url} (${errorMessage(err)}) — skipping the RabbitMQ side.`);
    console.log("  To compare: apt-get install rabbitmq-server, then");
    console.log("  RABBITMQ_NODE_PORT=5673 rabbitmq-server -detached && RABBITMQ_URL=amqp://guest:guest@127.0.0.1:5673 npm run bench");
    return false;
  }
}

/**
 * `err.message` as the catch blocks here read it (undefined when what was thrown has none).
 * @param {unknown} err
 */
function errorMessage(err) {
  return /** @type {{ message?: unknown }} */ (err).message;
}

/**
 * Cloudflare's list prices for what Warren's objects are billed (Workers Paid plan, USD, as the
 * Durable Objects pricing page gave them on 2026-11-26). Duration (GB-s) is not counted here.
 */
const PRICES = {
  date: "2026-11-26",
  requestsPerMillion: 0.15, // DO requests: each RPC call, each HTTP/WebSocket request
  wsMessagesPerRequest: 20, // incoming WebSocket messages are billed 20:1 as requests
  rowsWrittenPerMillion: 1.0, // SQLite rows written
};

/**
 * What the vhost "/" has cost so far and how many messages it has seen published: Warren's own
 * `warren_cost` and the message_stats of its management API.
 * @param {string} httpUrl
 * @returns {Promise<{ rows: number, rpcs: number, ws: number, published: number } | null>}
 */
async function costSnapshot(httpUrl) {
  try {
    const res = await fetch(`${httpUrl}/api/vhosts/%2F`, {
      headers: { Authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` },
    });
    const v = /** @type {{ warren_cost?: Record<string, number>, message_stats?: Record<string, number> }} */ (await res.json());
    const c = v.warren_cost;
    if (!c) return null;
    return { rows: c.rows_written ?? 0, rpcs: c.rpc_calls ?? 0, ws: c.ws_messages_in ?? 0, published: v.message_stats?.publish ?? 0 };
  } catch {
    return null;
  }
}

/**
 * Per published message between two snapshots: rows written, requests, WebSocket messages, and
 * the cost of a million messages at PRICES. Null when the counters went backwards (an object
 * restarted in between and forgot them).
 * @param {{ rows: number, rpcs: number, ws: number, published: number } | null} a
 * @param {{ rows: number, rpcs: number, ws: number, published: number } | null} b
 */
function costPerMessage(a, b) {
  if (!a || !b) return null;
  const n = b.published - a.published;
  const rows = b.rows - a.rows;
  const rpcs = b.rpcs - a.rpcs;
  const ws = b.ws - a.ws;
  if (n <= 0 || rows < 0 || rpcs < 0 || ws < 0) return null;
  const perMillion =
    (rows / n) * PRICES.rowsWrittenPerMillion + (rpcs / n + ws / n / PRICES.wsMessagesPerRequest) * PRICES.requestsPerMillion;
  return { rowsPerMsg: rows / n, rpcsPerMsg: rpcs / n, wsMsgsPerMsg: ws / n, usdPerMillion: perMillion };
}

/**
 * @param {string} name
 * @param {string} url
 * @param {string | null} wsUrl
 * @param {string | null} [httpUrl] Warren's HTTP API, to read what each scenario cost
 * @returns {Promise<Record<string, Outcome>>}
 */
async function runAll(name, url, wsUrl, httpUrl = null) {
  /** @type {Record<string, Outcome>} */
  const results = {};
  for (const s of SCENARIOS) {
    if (only && !only.includes(s.key)) continue;
    process.stdout.write(`  ${name}: ${s.key} … `);
    try {
      if (WARMUP > 0) await s.run(url, WARMUP);
      const before = httpUrl ? await costSnapshot(httpUrl) : null;
      const outcome = await s.run(url, 1);
      const cost = httpUrl ? costPerMessage(before, await costSnapshot(httpUrl)) : null;
      results[s.key] = cost ? { ...outcome, ...cost } : outcome;
      console.log(JSON.stringify(results[s.key], (_, /** @type {unknown} */ v) => (typeof v === "number" ? Number(v.toFixed(2)) : v)));
    } catch (err) {
      const failed = { error: String(errorMessage(err) ?? err) };
      results[s.key] = failed;
      console.log(`failed: ${failed.error}`);
    }
  }
  if (wsUrl && (!only || only.includes("websocket"))) {
    process.stdout.write(`  ${name}: websocket … `);
    try {
      if (WARMUP > 0) await scenarios.websocket(wsUrl, { count: n(50_000 * WARMUP) });
      const before = httpUrl ? await costSnapshot(httpUrl) : null;
      const outcome = await scenarios.websocket(wsUrl, { count: n(50_000) });
      const cost = httpUrl ? costPerMessage(before, await costSnapshot(httpUrl)) : null;
      results.websocket = cost ? { ...outcome, ...cost } : outcome;
      console.log(JSON.stringify(results.websocket));
    } catch (err) {
      results.websocket = { error: String(errorMessage(err) ?? err) };
      console.log(`failed: ${results.websocket.error}`);
    }
  }
  return results;
}

/**
 * What each scenario cost per message on Cloudflare, at PRICES.
 * @param {Record<string, Outcome>} warren
 */
function costTable(warren) {
  const rows = [["scenario", "rows written/msg", "requests/msg", "WS msgs in/msg", `USD per million msgs (${PRICES.date})`]];
  for (const [key, o] of Object.entries(warren)) {
    const v = (/** @type {string} */ k) => num(o, k);
    if (v("rowsPerMsg") === undefined) continue;
    rows.push([
      key,
      (v("rowsPerMsg") ?? 0).toFixed(3),
      (v("rpcsPerMsg") ?? 0).toFixed(3),
      (v("wsMsgsPerMsg") ?? 0).toFixed(3),
      `$${(v("usdPerMillion") ?? 0).toFixed(3)}`,
    ]);
  }
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ")).join("\n");
}

/** @param {number | undefined} v */
function fmt(v) {
  if (v === undefined) return "—";
  if (v >= 1000) return Math.round(v).toLocaleString("en-US");
  return v.toFixed(2);
}

/**
 * The number `o` reports under `name` (undefined for a failed run, which reports none).
 * @param {Outcome | undefined} o
 * @param {string} name
 */
function num(o, name) {
  const v = o?.[name];
  return typeof v === "number" ? v : undefined;
}

/**
 * @param {Record<string, Outcome>} warren
 * @param {Record<string, Outcome> | null} rabbit
 */
function table(warren, rabbit) {
  const header = ["scenario", "Warren", "RabbitMQ", "Warren/RabbitMQ"];
  const rows = [header];
  /** @type {Row[]} */
  const all = [...SCENARIOS, { key: "websocket", label: "WebSocket, amqp-client, transient (msgs/s)", metric: "msgsPerSec" }];
  for (const s of all) {
    const w = warren[s.key];
    if (!w) continue;
    const r = rabbit?.[s.key];
    const wv = num(w, s.metric);
    const rv = num(r, s.metric);
    const extra =
      s.extra && num(w, s.extra) !== undefined
        ? ` (${s.extra} ${fmt(num(w, s.extra))}${num(r, s.extra) !== undefined ? ` vs ${fmt(num(r, s.extra))}` : ""})`
        : "";
    const ratio = wv !== undefined && rv !== undefined ? `${(wv / rv).toFixed(2)}×` : "—";
    rows.push([s.label + extra, w.error ? "error" : fmt(wv), r?.error ? "error" : fmt(rv), ratio]);
  }
  // Every row has header.length cells, so the `?? 0`s never apply.
  const widths = header.map((_, i) => Math.max(...rows.map((r) => r[i]?.length ?? 0)));
  return rows
    .map(
      (r, j) =>
        r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(" | ") +
        (j === 0 ? `\n${widths.map((w) => "-".repeat(w)).join("-|-")}` : ""),
    )
    .join("\n");
}

/**
 * The in-process micro-benchmarks (bench/*.bench.ts, through vitest): the lines they print.
 * @returns {string[]}
 */
function microBenchmarks() {
  const vitest = join(here, "..", "node_modules", "vitest", "vitest.mjs");
  const out = execSync(`"${process.execPath}" "${vitest}" run --config bench/vitest.config.ts`, {
    cwd: join(here, ".."),
    encoding: "utf8",
  });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: vitest colours its output
  const plain = out.replace(/\x1b\[[0-9;]*m/g, "");
  return plain
    .split("\n")
    .filter((l) => l.includes("-BENCH "))
    .map((l) => l.slice(l.indexOf(l.trim())));
}

/** @type {string[]} */
let micro = [];
if (!only || only.includes("micro")) {
  console.log("micro-benchmarks (in process, against fakes) …");
  micro = microBenchmarks();
  for (const line of micro) console.log(`  ${line.trim()}`);
}

const dataDir = await mkdtemp(join(tmpdir(), "warren-bench-"));
console.log("starting Warren (fresh data dir, own process) …");
// Warren runs as `npm start` does, in its own process, so the bridge does not share the clients' event loop.
const warrenServer = await spawnWarren({ dataDir });
const rabbitUrl = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
const haveRabbit = await reachableRabbit(rabbitUrl);

console.log(`Warren: ${warrenServer.amqpUrl} (ws ${warrenServer.wsUrl}), scale ${scale}`);
const httpUrl = warrenServer.wsUrl.replace(/^ws/, "http").replace(/\/amqp$/, "");
const warren = await runAll("Warren", warrenServer.amqpUrl, warrenServer.wsUrl, httpUrl);
const rabbit = haveRabbit ? await runAll("RabbitMQ", rabbitUrl, null) : null;
await warrenServer.stop();
await rm(dataDir, { recursive: true, force: true });

console.log(`\n${table(warren, rabbit)}\n`);
console.log(`What the platform bills, per published message (duration not included):\n${costTable(warren)}\n`);
let commit = "unknown";
try {
  commit = execSync("git rev-parse --short HEAD", { cwd: here }).toString().trim();
} catch {}
const out = { date: new Date().toISOString(), commit, scale, micro, warren, rabbitmq: rabbit, rabbitmqUrl: haveRabbit ? rabbitUrl : null };
await mkdir(join(here, "results"), { recursive: true });
await writeFile(join(here, "results", "latest.json"), JSON.stringify(out, null, 2));
console.log(`results written to bench/results/latest.json`);
process.exit(0);
