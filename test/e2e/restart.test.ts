import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { startWarren } from "../../scripts/warren-server.mjs";

describe("restart", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  /** Server options over a new, empty data directory (removed after the file's tests). */
  async function freshOptions() {
    const dataDir = await mkdtemp(join(tmpdir(), "warren-restart-"));
    dirs.push(dataDir);
    return { httpPort: 0, amqpPort: 0, dataDir, build: false, quiet: true };
  }

  it("keeps confirmed persistent messages, durable queues, exchanges and bindings across a restart", async () => {
    const options = await freshOptions();

    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("restart.x", "topic", { durable: true });
    await ch.assertQueue("restart.q", { durable: true });
    await ch.bindQueue("restart.q", "restart.x", "a.#");
    for (let i = 0; i < 100; i++) ch.publish("restart.x", "a.b", Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      const q = await ch2.checkQueue("restart.q");
      expect(q.messageCount).toBe(100);
      const got: string[] = [];
      for (let i = 0; i < 100; i++) {
        const m = await ch2.get("restart.q", { noAck: true });
        if (m) got.push(m.content.toString());
      }
      expect(got).toEqual(Array.from({ length: 100 }, (_, i) => `m${i}`));
      // The binding survived too: a new publish through the exchange still arrives.
      ch2.publish("restart.x", "a.c", Buffer.from("after"));
      let after: false | amqp.GetMessage = false;
      for (let i = 0; i < 50 && !after; i++) after = await ch2.get("restart.q", { noAck: true });
      expect(after && after.content.toString()).toBe("after");
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("acked messages stay deleted after a restart (acks reach the disk within milliseconds)", async () => {
    const options = await freshOptions();

    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("restart.acks", { durable: true });
    for (let i = 0; i < 100; i++) ch.sendToQueue("restart.acks", Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    // Consumed with acks (deletes are deferred), and 10 by basic.get with no-ack.
    await ch.prefetch(7);
    let acked = 0;
    await new Promise<void>((resolve) => {
      void ch.consume("restart.acks", (m) => {
        if (!m || acked >= 50) return;
        ch.ack(m);
        if (++acked === 50) resolve();
      });
    });
    // Closing the channel first: amqplib may write connection.close ahead of channel 1's last ack.
    await ch.close();
    await conn.close();
    const conn1 = await amqp.connect(first.amqpUrl!);
    const ch1 = await conn1.createChannel();
    for (let i = 0; i < 10; i++) expect(await ch1.get("restart.acks", { noAck: true })).not.toBe(false);
    await conn1.close();
    await new Promise((r) => setTimeout(r, 200));
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      expect((await ch2.checkQueue("restart.acks")).messageCount).toBe(40);
      const m = await ch2.get("restart.acks", { noAck: true });
      expect(m && m.content.toString()).toBe("m60");
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("messages delivered but unacked when workerd stops come back with redelivered=true; those far past the delivered ones with false", async () => {
    // RabbitMQ 3.10 flags every message it recovers after a kill -9 (measured, classic queue
    // index v1 and v2); Warren flags those up to its delivery watermark, written 1000 seqs
    // ahead of what it hands out (MessageStore WATERMARK_AHEAD): never fewer than the delivered.
    const total = 1010;
    const options = await freshOptions();
    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("restart.unacked", { durable: true });
    for (let i = 0; i < total; i++) ch.sendToQueue("restart.unacked", Buffer.from(`m${i}`), { persistent: true });
    await ch.waitForConfirms();
    await ch.prefetch(4);
    const held: string[] = [];
    await new Promise<void>((resolve) => {
      void ch.consume("restart.unacked", (m) => {
        if (m) held.push(m.content.toString());
        if (held.length === 4) resolve();
      });
    });
    expect(held).toEqual(["m0", "m1", "m2", "m3"]);
    // workerd goes away with the four deliveries unacked (the connection never closes cleanly).
    conn.on("error", () => undefined);
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      const seen: [string, boolean][] = [];
      for (let i = 0; i < total; i++) {
        const m = await ch2.get("restart.unacked", { noAck: true });
        if (m) seen.push([m.content.toString(), m.fields.redelivered]);
      }
      expect(seen.map(([body]) => body)).toEqual(Array.from({ length: total }, (_, i) => `m${i}`));
      const flags = seen.map(([, r]) => r);
      // The four held: redelivered. Then one threshold: flagged up to the watermark, not after.
      expect(flags.slice(0, 4)).toEqual([true, true, true, true]);
      const firstUnflagged = flags.indexOf(false);
      expect(firstUnflagged).toBeGreaterThan(4);
      expect(flags.slice(firstUnflagged).every((r) => !r)).toBe(true);
      expect(flags.slice(-5)).toEqual([false, false, false, false, false]);
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("message TTL and x-expires keep counting across a restart: the alarm fires in the new run, nobody touching the queues", async () => {
    const options = await freshOptions();
    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertExchange("restart.dlx", "fanout", { durable: true });
    await ch.assertQueue("restart.dead", { durable: true });
    await ch.bindQueue("restart.dead", "restart.dlx", "");
    await ch.assertQueue("restart.ttl", { durable: true, arguments: { "x-message-ttl": 1500, "x-dead-letter-exchange": "restart.dlx" } });
    await ch.assertQueue("restart.expires", { durable: true, arguments: { "x-expires": 1500 } });
    ch.sendToQueue("restart.ttl", Buffer.from("ttl"), { persistent: true });
    await ch.waitForConfirms();
    const stoppedAt = Date.now();
    conn.on("error", () => undefined);
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      const got: string[] = [];
      // Consuming from the dead-letter queue only: the TTL queue's own alarm must move the message.
      await ch2.consume("restart.dead", (m) => m && got.push(m.content.toString()), { noAck: true });
      const deadline = Date.now() + 8000;
      while (got.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(got).toEqual(["ttl"]);
      expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(1000);
      // The unused queue went too (its alarm, not a declare, deleted it).
      let missing = false;
      while (!missing && Date.now() < deadline) {
        const probe = await conn2.createChannel();
        probe.on("error", () => undefined);
        try {
          await probe.checkQueue("restart.expires");
          await probe.close();
          await new Promise((r) => setTimeout(r, 100));
        } catch {
          missing = true;
        }
      }
      expect(missing).toBe(true);
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("a quorum queue's delivery count survives a restart (x-delivery-count, and the limit counts on)", async () => {
    const options = await freshOptions();
    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("restart.quorum", { durable: true, arguments: { "x-queue-type": "quorum", "x-delivery-limit": 5 } });
    ch.sendToQueue("restart.quorum", Buffer.from("poison"), { persistent: true });
    await ch.waitForConfirms();
    const counts: (number | undefined)[] = [];
    await new Promise<void>((resolve) => {
      void ch.consume("restart.quorum", (m) => {
        if (!m) return;
        const c = m.properties.headers?.["x-delivery-count"];
        counts.push(c === undefined ? undefined : Number(c));
        // Given back twice, then held when the broker stops.
        if (counts.length <= 2) ch.nack(m, false, true);
        else resolve();
      });
    });
    expect(counts).toEqual([undefined, 1, 2]);
    conn.on("error", () => undefined);
    ch.on("error", () => undefined);
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      const m = await ch2.get("restart.quorum", { noAck: true });
      expect(m && m.content.toString()).toBe("poison");
      // Given back twice before the stop, and once more if the stop closed the consumer's
      // connection before workerd went (a return counts, as in RabbitMQ): it goes on from there.
      expect([2, 3]).toContain(Number(m && m.properties.headers?.["x-delivery-count"]));
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("a restart (new boot epoch) is RabbitMQ's: non-durable and exclusive queues and non-durable exchanges are gone, durable queues keep only persistent messages", async () => {
    const options = await freshOptions();
    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    conn.on("error", () => undefined);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("epoch.durable", { durable: true });
    await ch.assertQueue("epoch.transient", { durable: false });
    await ch.assertQueue("epoch.exclusive", { durable: true, exclusive: true });
    await ch.assertExchange("epoch.x.durable", "fanout", { durable: true });
    await ch.assertExchange("epoch.x.transient", "fanout", { durable: false });
    for (let i = 0; i < 6; i++) ch.sendToQueue("epoch.durable", Buffer.from(`m${i}`), { persistent: i % 2 === 0 });
    ch.sendToQueue("epoch.transient", Buffer.from("t"), { persistent: true });
    await ch.waitForConfirms();
    // Stopped without closing the connection: the exclusive queue's owner simply vanishes.
    await first.close();

    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      conn2.on("error", () => undefined);
      const exists = async (what: "queue" | "exchange", name: string) => {
        const c = await conn2.createChannel();
        c.on("error", () => undefined);
        try {
          if (what === "queue") await c.checkQueue(name);
          else await c.checkExchange(name);
          await c.close();
          return true;
        } catch {
          return false;
        }
      };
      expect(await exists("queue", "epoch.transient")).toBe(false);
      expect(await exists("queue", "epoch.exclusive")).toBe(false);
      expect(await exists("exchange", "epoch.x.transient")).toBe(false);
      expect(await exists("exchange", "epoch.x.durable")).toBe(true);
      const ch2 = await conn2.createChannel();
      const got: string[] = [];
      for (;;) {
        const m = await ch2.get("epoch.durable", { noAck: true });
        if (!m) break;
        got.push(m.content.toString());
      }
      expect(got).toEqual(["m0", "m2", "m4"]);
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("the same boot epoch again (what an evicted or runtime-restarted object sees) drops nothing", async () => {
    const options = { ...(await freshOptions()), vars: { WARREN_BOOT_EPOCH: "same-run" } };
    const first = await startWarren(options);
    const conn = await amqp.connect(first.amqpUrl!);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue("same.transient", { durable: false });
    ch.sendToQueue("same.transient", Buffer.from("kept"), { persistent: false });
    await ch.waitForConfirms();
    await conn.close();
    await first.close();
    const second = await startWarren(options);
    try {
      const conn2 = await amqp.connect(second.amqpUrl!);
      const ch2 = await conn2.createChannel();
      const m = await ch2.get("same.transient", { noAck: true });
      expect(m && m.content.toString()).toBe("kept");
      await conn2.close();
    } finally {
      await second.close();
    }
  });

  it("connections lost in a restart do not count against max-connections (their catalog rows are checked at the limit)", async () => {
    const options = await freshOptions();
    const first = await startWarren(options);
    const auth = { Authorization: `Basic ${Buffer.from("guest:guest").toString("base64")}`, "Content-Type": "application/json" };
    const put = await fetch(`${first.httpUrl}/api/vhost-limits/%2F/max-connections`, {
      method: "PUT",
      headers: auth,
      body: JSON.stringify({ value: 1 }),
    });
    expect(put.status).toBe(204);
    const conn = await amqp.connect(first.amqpUrl!);
    conn.on("error", () => undefined);
    // Stopped with the connection open: its row stays in the vhost's catalog.
    await first.close();
    const second = await startWarren(options);
    try {
      const again = await amqp.connect(second.amqpUrl!);
      await again.close();
    } finally {
      await second.close();
    }
  });

  it("the deploy-time administrator is created once: deleted, it does not come back at the next start", async () => {
    const options = { ...(await freshOptions()), vars: { WARREN_ADMIN_USER: "boss", WARREN_ADMIN_PASSWORD: "s3cret" } };
    const basic = (user: string, pw: string) => ({ Authorization: `Basic ${Buffer.from(`${user}:${pw}`).toString("base64")}` });
    const first = await startWarren(options);
    expect((await fetch(`${first.httpUrl}/api/whoami`, { headers: basic("boss", "s3cret") })).status).toBe(200);
    expect((await fetch(`${first.httpUrl}/api/users/boss`, { method: "DELETE", headers: basic("guest", "guest") })).status).toBe(204);
    await first.close();
    const second = await startWarren(options);
    try {
      expect((await fetch(`${second.httpUrl}/api/whoami`, { headers: basic("boss", "s3cret") })).status).toBe(401);
    } finally {
      await second.close();
    }
  });

  it("deleted queues leave no data behind (their objects call deleteAll)", async () => {
    const options = await freshOptions();
    const server = await startWarren(options);
    const sizes = async (cls: string) => {
      const dir = join(options.dataDir, "do", `-${cls}`);
      const files = await readdir(dir);
      return Promise.all(
        files
          .filter((f) => f !== "metadata.sqlite" && !f.startsWith("metadata."))
          .map(async (f) => [f, (await stat(join(dir, f))).size] as const),
      );
    };
    try {
      for (let i = 0; i < 3; i++) {
        const conn = await amqp.connect(server.amqpUrl!);
        const ch = await conn.createChannel();
        await ch.assertQueue(`gone-${i}`, { durable: true });
        await ch.sendToQueue(`gone-${i}`, Buffer.alloc(100_000));
        await ch.deleteQueue(`gone-${i}`);
        await conn.close();
      }
      // Locally workerd keeps an empty 4 KB database file per object; nothing of the queues'
      // messages, no journal, no shared-memory file remains. (Connection objects never write.)
      for (const [f, size] of await sizes("QueueDO")) {
        expect(f.endsWith(".sqlite"), f).toBe(true);
        expect(size, f).toBeLessThanOrEqual(4096);
      }
    } finally {
      await server.close();
    }
  });
});
