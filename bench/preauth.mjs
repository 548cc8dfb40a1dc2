// What unauthenticated sockets can make Warren hold (issue: hardening). Opens N WebSockets to
// /amqp that send the protocol header and then an incomplete frame (as much as Warren accepts
// before authentication), samples workerd's RSS, then waits for handshake_timeout and counts the
// sockets Warren closed. Usage: node bench/preauth.mjs [sockets]
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WebSocket } from "ws";
import { buildWorker, startWarren } from "../scripts/warren-server.mjs";
import { mb, workerdRss } from "./workerd-rss.mjs";

const sockets = Number(process.argv[2] ?? 1000);
const TIMEOUT_MS = 10_000;

await buildWorker({ quiet: true });
const dataDir = await mkdtemp(join(tmpdir(), "warren-preauth-"));
const server = await startWarren({ httpPort: 0, amqpPort: null, dataDir, build: false, quiet: true });
try {
  await new Promise((r) => setTimeout(r, 500));
  const before = await workerdRss();
  // The header, then a method frame on channel 0 that announces 4000 bytes and sends 3900.
  const header = Buffer.from([65, 77, 81, 80, 0, 0, 9, 1]);
  const partial = Buffer.alloc(7 + 3900, 0x41);
  partial.writeUInt8(1, 0);
  partial.writeUInt16BE(0, 1);
  partial.writeUInt32BE(4000, 3);
  let opened = 0;
  let closed = 0;
  const started = Date.now();
  /** @type {WebSocket[]} */
  const all = [];
  await Promise.all(
    Array.from({ length: sockets }, async () => {
      const ws = new WebSocket(server.wsUrl, "amqp");
      all.push(ws);
      ws.on("error", () => undefined);
      ws.on("close", () => closed++);
      await /** @type {Promise<void>} */ (new Promise((resolve) => ws.once("open", () => resolve())));
      opened++;
      if (!process.env.PREAUTH_SILENT) {
        ws.send(header);
        ws.send(partial);
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 1500));
  const held = await workerdRss();
  const deadline = started + TIMEOUT_MS + 20_000;
  while (closed < sockets && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
  console.log(
    `${sockets} unauthenticated sockets (${opened} opened), each sent the header and a 3.9 KB partial frame: ` +
      `workerd RSS ${mb(before)} → ${mb(held)} (+${mb(held - before)}, ${((held - before) / sockets / 1024).toFixed(1)} KB a socket); ` +
      `${closed}/${sockets} closed by Warren after ${((Date.now() - started) / 1000).toFixed(1)} s (handshake_timeout ${TIMEOUT_MS / 1000} s)`,
  );
  for (const ws of all) ws.terminate();
} finally {
  await server.close();
  await rm(dataDir, { recursive: true, force: true });
}
