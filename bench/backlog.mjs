// `node bench/backlog.mjs [--messages N] [--size BYTES]`: the queue-engine benchmark (issue 16):
// N persistent messages published with confirms into one durable queue with no consumer, then
// drained with acks in order. Prints publish and drain rates, workerd's peak RSS in each phase
// (sampled every 250 ms), whether every message came back intact and in order, and what the
// queue cost (SQLite rows written, requests) per message. Not a test: numbers only.
// --gc (opt-in: workerd runs with its inspector and V8's gc() exposed) also forces a full GC in every isolate after the
// publish, half-way through the drain and at the end, and prints RSS and ArrayBuffer bytes just
// before and after each: what falls is garbage not yet collected, what stays is held (bench/workerd-gc.mjs).
// The mid-drain one pauses the consumer (its prefetch window stays full); pauses are left out of
// the drain rate. A GC lowers the RSS that follows, so take peaks from a run without --gc.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { startWarren } from "../scripts/warren-server.mjs";
import { exposeGc, freePort, inspectIsolates } from "./workerd-gc.mjs";
import { mb, workerdRss } from "./workerd-rss.mjs";

const { values } = parseArgs({
  options: {
    messages: { type: "string", default: "100000" },
    size: { type: "string", default: "128" },
    gc: { type: "boolean", default: false },
  },
});
const count = Number(values.messages);
const size = Number(values.size);
const queue = `backlog.${Date.now().toString(36)}`;

/** Tracks the highest workerd RSS seen while `fn` runs. */
async function peakRss(/** @type {() => Promise<void>} */ fn) {
  let peak = await workerdRss();
  const timer = setInterval(() => {
    void workerdRss().then((r) => {
      if (r > peak) peak = r;
    });
  }, 250);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, await workerdRss());
}

const dataDir = await mkdtemp(join(tmpdir(), "warren-backlog-"));
const inspectorPort = values.gc ? await freePort() : undefined;
if (values.gc) exposeGc();
const server = await startWarren({ httpPort: 0, amqpPort: 0, dataDir, quiet: true, ...(inspectorPort ? { inspectorPort } : {}) });
const isolates = inspectorPort ? await inspectIsolates(inspectorPort) : null;
/** @type {string[]} what each forced GC found */
const gcLines = [];
/**
 * With --gc: RSS and ArrayBuffer bytes (all isolates) just before and after a full GC in every
 * isolate. Returns how long workerd was held up (ms).
 */
async function forcedGc(/** @type {string} */ label) {
  if (!isolates) return 0;
  const rss = await workerdRss();
  const { before, after, ms } = await isolates.collect();
  const rssAfter = await workerdRss();
  // Per isolate, those that hold more than 1 MB of ArrayBuffers before or after.
  const isolateLines = [...before.byIsolate]
    .filter(([id, bytes]) => Math.max(bytes, after.byIsolate.get(id) ?? 0) > 2 ** 20)
    .map(([id, bytes]) => `${id.replace(/^core:user:/, "")} ${mb(bytes)} → ${mb(after.byIsolate.get(id) ?? 0)}`);
  gcLines.push(
    `    ${`${label}:`.padEnd(15)}RSS ${mb(rss)} → ${mb(rssAfter)}; JS heap ${mb(before.jsHeap)} → ${mb(after.jsHeap)}; ArrayBuffers ${mb(before.arrayBuffers)} → ${mb(after.arrayBuffers)} (${isolateLines.join(", ")})`,
  );
  return ms;
}
try {
  const before = await workerdRss();
  const conn = await amqp.connect(server.amqpUrl ?? "");
  const ch = await conn.createConfirmChannel();
  await ch.assertQueue(queue, { durable: true });
  const body = Buffer.alloc(size, 7);
  let published = 0;
  const t0 = performance.now();
  const publishPeak = await peakRss(async () => {
    // At most 1000 unconfirmed (64 with large bodies), so the client's memory stays small.
    const window = size > 4096 ? 64 : 1000;
    let outstanding = 0;
    /** @type {(() => void) | null} */
    let wake = null;
    for (; published < count; published++) {
      while (outstanding >= window) await /** @type {Promise<void>} */ (new Promise((r) => (wake = r)));
      outstanding++;
      body.writeUInt32BE(published, 0);
      ch.sendToQueue(queue, body, { persistent: true }, () => {
        outstanding--;
        const w = wake;
        wake = null;
        w?.();
      });
    }
    await ch.waitForConfirms();
  });
  const publishSeconds = (performance.now() - t0) / 1000;
  await forcedGc("after publish");

  const sub = await conn.createChannel();
  await sub.prefetch(100);
  let received = 0;
  let inOrder = true;
  // With --gc, half-way the consumer stops acking: once the prefetch window is full and what was
  // in flight has landed, every isolate is collected, then the held messages are acked.
  /** @type {import("amqplib").ConsumeMessage[] | null} */
  let holding = null;
  let pausedMs = 0;
  const t1 = performance.now();
  const drainPeak = await peakRss(
    () =>
      new Promise((resolve) => {
        void sub.consume(queue, (m) => {
          if (!m) return;
          if (m.content.readUInt32BE(0) !== received || m.content.length !== size) inOrder = false;
          received++;
          if (holding) {
            holding.push(m);
            return;
          }
          if (isolates && received === Math.ceil(count / 2)) {
            holding = [m];
            const paused = performance.now();
            void (async () => {
              await new Promise((r) => setTimeout(r, 500));
              await forcedGc("mid-drain");
              for (const h of holding ?? []) sub.ack(h);
              holding = null;
              pausedMs = performance.now() - paused;
              if (received === count) resolve();
            })();
            return;
          }
          sub.ack(m);
          if (received === count) resolve();
        });
      }),
  );
  const drainSeconds = (performance.now() - t1 - pausedMs) / 1000;
  await forcedGc("end of drain");
  const auth = { Authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}` };
  const info = /** @type {{ warren_cost?: { rows_written: number, rpc_calls: number } }} */ (
    await (await fetch(`${server.httpUrl}/api/queues/%2F/${queue}`, { headers: auth })).json()
  );
  await conn.close();
  const cost = info.warren_cost;
  console.log(`${count} × ${size} B persistent messages into one durable queue:`);
  console.log(
    `  publish with confirms: ${(count / publishSeconds).toFixed(0)} msgs/s; workerd RSS ${mb(before)} → peak ${mb(publishPeak)}`,
  );
  console.log(`  drain with acks:       ${(count / drainSeconds).toFixed(0)} msgs/s; workerd RSS peak ${mb(drainPeak)}`);
  console.log(`  all ${received} delivered intact and in order: ${inOrder && received === count ? "yes" : "NO"}`);
  if (gcLines.length > 0) {
    console.log("  forced full GC in every isolate (--gc), just before → after:");
    for (const line of gcLines) console.log(line);
  }
  if (cost)
    console.log(
      `  queue cost: ${(cost.rows_written / count).toFixed(3)} rows written/msg, ${(cost.rpc_calls / count).toFixed(4)} requests/msg`,
    );
} finally {
  isolates?.close();
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
