// A consumer that stops reading must not make Warren hold the queue in memory (issue: hardening,
// flow control). Publishes N × SIZE persistent messages, starts a no-ack consumer through the
// bridge and stops reading its socket, samples workerd's RSS while it is stalled, then reads
// again and counts what arrives. Usage: node bench/stalled-consumer.mjs [count] [size]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { buildWorker, startWarren } from "../scripts/warren-server.mjs";
import { mb, workerdRss } from "./workerd-rss.mjs";

const count = Number(process.argv[2] ?? 4000);
const size = Number(process.argv[3] ?? 65536);
const STALL_MS = Number(process.env.STALL_MS ?? 8000);

await buildWorker({ quiet: true });
const dataDir = await mkdtemp(join(tmpdir(), "warren-stall-"));
const server = await startWarren({ httpPort: 0, amqpPort: 0, dataDir, build: false, quiet: true });
try {
  const url = /** @type {string} */ (server.amqpUrl);
  const pub = await amqp.connect(url);
  const ch = await pub.createConfirmChannel();
  await ch.assertQueue("stalled", { durable: true });
  const body = Buffer.alloc(size, 7);
  for (let i = 0; i < count; i++) {
    body.writeUInt32BE(i, 0);
    ch.sendToQueue("stalled", body, { persistent: true });
    if (i % 200 === 199) await ch.waitForConfirms();
  }
  await ch.waitForConfirms();
  await pub.close();
  await new Promise((r) => setTimeout(r, 1000));
  const before = await workerdRss();

  const conn = await amqp.connect(url);
  const socket = /** @type {{ connection: { stream: import("node:net").Socket } }} */ (/** @type {unknown} */ (conn)).connection.stream;
  const cons = await conn.createChannel();
  let received = 0;
  let inOrder = true;
  await cons.consume(
    "stalled",
    (m) => {
      if (!m) return;
      if (m.content.readUInt32BE(0) !== received) inOrder = false;
      received++;
    },
    { noAck: true },
  );
  // amqplib reads on 'readable': without its listener nothing is read and the socket's buffers fill.
  const readers = socket.listeners("readable");
  for (const l of readers) socket.removeListener("readable", l);
  const stalledAt = received;
  let peak = before;
  const until = Date.now() + STALL_MS;
  while (Date.now() < until) {
    await new Promise((r) => setTimeout(r, 250));
    peak = Math.max(peak, await workerdRss());
  }
  for (const l of readers) socket.on("readable", /** @type {() => void} */ (l));
  const deadline = Date.now() + 120_000;
  while (received < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  await conn.close();
  console.log(
    `stalled consumer, ${count} × ${size} B: workerd RSS ${mb(before)} before, peak ${mb(peak)} while stalled ` +
      `(+${mb(peak - before)}); ${stalledAt} taken before the stall; after reading again ${received}/${count} arrived, ` +
      `${inOrder ? "in order" : "OUT OF ORDER"}`,
  );
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
