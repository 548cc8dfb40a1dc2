import { createHash, randomBytes } from "node:crypto";
import amqp from "amqplib";
import { it, expect } from "vitest";
import { useWarren } from "./harness";
import { sleep, waitFor } from "./messaging-helpers";
const warren = useWarren();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
it("big", async () => {
  const conn = await amqp.connect(warren.server.amqpUrl!);
  const ch = await conn.createChannel();
  await ch.assertQueue("big");
  const bodies = Array.from({ length: 12 }, () => randomBytes(5 << 20));
  for (const b of bodies) ch.sendToQueue("big", b);
  for (let i = 0; i < 100; i++) { if ((await ch.checkQueue("big")).messageCount === 12) break; await sleep(100); }
  expect((await ch.checkQueue("big")).messageCount).toBe(12);
  const got: Buffer[] = [];
  await ch.consume("big", (m) => { if (m) { got.push(m.content); ch.ack(m); } });
  await waitFor(() => got.length === 12, "all", 20000);
  expect(got.map(sha)).toEqual(bodies.map(sha));
  await conn.close();
}, 60000);
