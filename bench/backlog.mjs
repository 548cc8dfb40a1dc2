// `node bench/backlog.mjs [--messages N] [--size BYTES]`: the queue-engine benchmark (issue 16):
// N persistent messages published with confirms into one durable queue with no consumer, then
// drained with acks in order. Prints publish and drain rates, workerd's peak RSS in each phase
// (sampled every 250 ms), whether every message came back intact and in order, and what the
// queue cost (SQLite rows written, requests) per message. Not a test: numbers only.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { startWarren } from "../scripts/warren-server.mjs";
import { mb, workerdRss } from "./workerd-rss.mjs";

const { values } = parseArgs({ options: { messages: { type: "string", default: "100000" }, size: { type: "string", default: "128" } } });
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
const server = await startWarren({ httpPort: 0, amqpPort: 0, dataDir, quiet: true });
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

  const sub = await conn.createChannel();
  await sub.prefetch(100);
  let received = 0;
  let inOrder = true;
  const t1 = performance.now();
  const drainPeak = await peakRss(
    () =>
      new Promise((resolve) => {
        void sub.consume(queue, (m) => {
          if (!m) return;
          if (m.content.readUInt32BE(0) !== received || m.content.length !== size) inOrder = false;
          received++;
          sub.ack(m);
          if (received === count) resolve();
        });
      }),
  );
  const drainSeconds = (performance.now() - t1) / 1000;
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
  if (cost)
    console.log(
      `  queue cost: ${(cost.rows_written / count).toFixed(3)} rows written/msg, ${(cost.rpc_calls / count).toFixed(4)} requests/msg`,
    );
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
