import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";

const warren = useWarren();

describe("idle consumers", () => {
  // workerd evicts a Durable Object that receives nothing for ~10 s; a queue keeps its consumers
  // in memory, so without the connection's keep-alive the consumer would silently vanish.
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
});
