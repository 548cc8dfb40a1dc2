import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";

const warren = useWarren();

describe("idle consumers", () => {
  // workerd evicts a Durable Object that receives nothing for ~10 s, and nothing pings an idle
  // queue: its object restarts on the next request and must find its consumers again from
  // storage (queue/attachments.ts), asking their connections what they still hold.
  it("a consumer waiting 25 s on an idle queue still receives", { timeout: 60_000 }, async () => {
    const url = `${warren.server.amqpUrl!}?heartbeat=0`;
    const consumer = await amqp.connect(url);
    const publisher = await amqp.connect(url);
    try {
      const ch = await consumer.createChannel();
      await ch.assertQueue("idle.consumer", { durable: true });
      const got = new Promise<string>((resolve) => {
        void ch.consume("idle.consumer", (m) => {
          if (!m) return;
          ch.ack(m);
          resolve(m.content.toString());
        });
      });
      await new Promise((r) => setTimeout(r, 25_000));
      const pc = await publisher.createChannel();
      expect((await pc.checkQueue("idle.consumer")).consumerCount).toBe(1);
      pc.sendToQueue("idle.consumer", Buffer.from("after a long wait"));
      expect(await got).toBe("after a long wait");
    } finally {
      await consumer.close();
      await publisher.close();
    }
  });

  it("unacked deliveries held across the queue's eviction are acked, not redelivered; prefetch still holds", {
    timeout: 60_000,
  }, async () => {
    const url = `${warren.server.amqpUrl!}?heartbeat=0`;
    const consumer = await amqp.connect(url);
    const publisher = await amqp.connect(url);
    try {
      const pc = await publisher.createConfirmChannel();
      await pc.assertQueue("idle.unacked", { durable: true });
      for (const m of ["a", "b", "c", "d"]) pc.sendToQueue("idle.unacked", Buffer.from(m), { persistent: true });
      await pc.waitForConfirms();
      const ch = await consumer.createChannel();
      await ch.prefetch(2);
      const got: amqp.ConsumeMessage[] = [];
      await ch.consume("idle.unacked", (m) => {
        if (m) got.push(m);
      });
      // basic.get in ack mode on another channel holds one more.
      const getter = await consumer.createChannel();
      while (got.length < 2) await new Promise((r) => setTimeout(r, 20));
      const held = await getter.get("idle.unacked");
      expect(held && held.content.toString()).toBe("c");
      // Long enough for workerd to evict the idle queue object.
      await new Promise((r) => setTimeout(r, 15_000));
      expect(got.map((m) => m.content.toString())).toEqual(["a", "b"]);
      // After the restart of its object the queue still counts them as unacked, with their holders.
      const q = await pc.checkQueue("idle.unacked");
      expect(q).toMatchObject({ messageCount: 1, consumerCount: 1 });
      // Acks of deliveries made before the restart settle them; prefetch lets "d" come.
      ch.ack(got[0]!);
      if (held) getter.ack(held);
      while (got.length < 3) await new Promise((r) => setTimeout(r, 20));
      expect(got.map((m) => m.content.toString())).toEqual(["a", "b", "d"]);
      expect(got.every((m) => !m.fields.redelivered)).toBe(true);
      ch.ack(got[1]!);
      ch.ack(got[2]!);
      // Everything settled: nothing is left and nothing comes twice.
      const deadline = Date.now() + 5000;
      for (;;) {
        const left = await pc.checkQueue("idle.unacked");
        if (left.messageCount === 0) break;
        if (Date.now() > deadline) throw new Error(`${left.messageCount} message(s) left`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await ch.cancel(got[0]!.fields.consumerTag);
      expect(got).toHaveLength(3);
    } finally {
      await consumer.close();
      await publisher.close();
    }
  });
});
