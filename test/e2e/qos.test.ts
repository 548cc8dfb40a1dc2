import amqp, { type ChannelModel } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useWarren } from "./harness";

/** basic.qos global=false (per consumer) and global=true (shared by the channel) together, as RabbitMQ. */
const warren = useWarren({ sideBySide: true });
let conn: ChannelModel;
beforeAll(async () => {
  if (warren.skipped) return;
  conn = await amqp.connect(warren.server.amqpUrl!);
});
afterAll(async () => {
  await conn?.close();
});
const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("consumer prefetch with a channel-wide limit", () => {
  it("each consumer gets at most its own prefetch, all of them together at most the global one", async () => {
    const setup = await conn.createChannel();
    const [q1, q2] = [uid("qos1"), uid("qos2")];
    for (const q of [q1, q2]) {
      await setup.assertQueue(q, { exclusive: true });
      for (let i = 0; i < 10; i++) setup.sendToQueue(q, Buffer.from(String(i)));
    }
    await setup.checkQueue(q2);
    const ch = await conn.createChannel();
    await ch.prefetch(2, false);
    await ch.prefetch(3, true);
    const got = { [q1]: 0, [q2]: 0 };
    await ch.consume(q1, () => got[q1]!++);
    await pause(300);
    await ch.consume(q2, () => got[q2]!++);
    await pause(500);
    expect(got).toEqual({ [q1]: 2, [q2]: 1 });
    await ch.close();
    await setup.close();
  });
});
