import type { ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { channelErrorCode, queueExists, replyCode, uniqueName, waitFor, waitQueueExists, amqpConnections } from "./messaging-helpers";

// Runs side by side against RabbitMQ too (WARREN_TEST_AGAINST=rabbitmq, README "Test").
const warren = useWarren({ sideBySide: true });
const connect = amqpConnections(() => warren.server.amqpUrl!);

describe("queue.declare", () => {
  it("an empty name gets a server-generated amq.gen- name", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const a = await ch.assertQueue("", { exclusive: true });
    const b = await ch.assertQueue("", { exclusive: true });
    expect(a.queue).toMatch(/^amq\.gen-[A-Za-z0-9_-]{22}$/);
    expect(b.queue).not.toBe(a.queue);
    expect(a.messageCount).toBe(0);
    expect(a.consumerCount).toBe(0);
    ch.sendToQueue(a.queue, Buffer.from("x"));
    const got = await ch.get(a.queue, { noAck: true });
    expect(got && got.content.toString()).toBe("x");
  });

  it("declare-ok carries the ready message count and the consumer count", async () => {
    const conn = await connect();
    // Confirmed first: RabbitMQ's queue may not have counted unconfirmed publishes yet.
    const ch = await conn.createConfirmChannel();
    const q = uniqueName("counts");
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    expect(await ch.assertQueue(q, { durable: false })).toEqual({ queue: q, messageCount: 5, consumerCount: 0 });
    // Unacked messages are not counted as ready.
    const m = await ch.get(q);
    expect((await ch.checkQueue(q)).messageCount).toBe(4);
    if (m) ch.ack(m);
    await ch.purgeQueue(q);
    const c1 = await conn.createChannel();
    const c2 = await conn.createChannel();
    const t1 = await c1.consume(q, () => undefined);
    await c2.consume(q, () => undefined);
    expect(await ch.assertQueue(q, { durable: false })).toEqual({ queue: q, messageCount: 0, consumerCount: 2 });
    await c1.cancel(t1.consumerTag);
    expect((await ch.checkQueue(q)).consumerCount).toBe(1);
  });

  it("a passive declare of a missing queue fails with 404 NOT_FOUND", async () => {
    const conn = await connect();
    expect(await channelErrorCode(conn, (ch) => ch.checkQueue(uniqueName("missing")))).toBe(404);
  });

  it("an exclusive queue is locked (405 RESOURCE_LOCKED) for other connections", async () => {
    const owner = await connect();
    const other = await connect();
    const ch = await owner.createChannel();
    const { queue } = await ch.assertQueue(uniqueName("excl"), { exclusive: true });
    ch.sendToQueue(queue, Buffer.from("mine"));
    expect(await channelErrorCode(other, (c) => c.assertQueue(queue, { exclusive: true }))).toBe(405);
    expect(await channelErrorCode(other, (c) => c.assertQueue(queue, { exclusive: false }))).toBe(405);
    expect(await channelErrorCode(other, (c) => c.consume(queue, () => undefined))).toBe(405);
    expect(await channelErrorCode(other, (c) => c.get(queue))).toBe(405);
    expect(await channelErrorCode(other, (c) => c.purgeQueue(queue))).toBe(405);
    expect(await channelErrorCode(other, (c) => c.deleteQueue(queue))).toBe(405);
    // The owner's other channels may use it.
    const ch2 = await owner.createChannel();
    const got = await ch2.get(queue, { noAck: true });
    expect(got && got.content.toString()).toBe("mine");
  });

  it("an exclusive queue is deleted when its connection closes", async () => {
    const owner = await connect();
    const other = await connect();
    const ch = await owner.createChannel();
    const { queue } = await ch.assertQueue(uniqueName("excl-gone"), { exclusive: true });
    await ch.consume(queue, () => undefined);
    expect(await queueExists(owner, queue)).toBe(true);
    await owner.close();
    await waitQueueExists(other, queue, false);
    // The name is free again: another connection may declare it.
    const ch2 = await other.createChannel();
    const again = await ch2.assertQueue(queue, { exclusive: true });
    expect(again.messageCount).toBe(0);
  });

  it("an auto-delete queue goes when its last consumer cancels, not before", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("autodel");
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    // Never consumed from: it stays. The passive declare reaches the queue after the declare (and
    // anything the declare set off) did, so a deletion it caused would show.
    expect(await queueExists(conn, q)).toBe(true);
    const a = await ch.consume(q, () => undefined);
    const b = await ch.consume(q, () => undefined);
    await ch.cancel(a.consumerTag);
    expect(await queueExists(conn, q)).toBe(true);
    await ch.cancel(b.consumerTag);
    await waitQueueExists(conn, q, false);
  });

  it("an auto-delete queue declared again after deletion does not inherit its old consumers' history", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("autodel-again");
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    const c = await ch.consume(q, () => undefined);
    await ch.cancel(c.consumerTag);
    await waitQueueExists(conn, q, false);
    // Same name, never consumed from: a channel that only used basic.get closing must not delete it.
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    ch.sendToQueue(q, Buffer.from("keep"));
    const other = await conn.createChannel();
    let got: false | { content: Buffer } = false;
    for (let i = 0; i < 50 && !got; i++) got = await other.get(q, { noAck: false });
    expect(got && got.content.toString()).toBe("keep");
    // close-ok comes only once the queue has released the channel (the auto-delete check included),
    // and the passive declare reaches the queue after that.
    await other.close();
    expect(await queueExists(conn, q)).toBe(true);
  });

  it("an auto-delete queue goes when the channel of its last consumer closes", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("autodel-close");
    await ch.assertQueue(q, { autoDelete: true, durable: false });
    const consumer = await conn.createChannel();
    await consumer.consume(q, () => undefined);
    await consumer.close();
    await waitQueueExists(conn, q, false);
  });
});

describe("queue.purge and queue.delete", () => {
  it("purge returns the number of ready messages removed and leaves unacked ones alone", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("purge");
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 7; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    const held = await ch.get(q);
    expect((await ch.purgeQueue(q)).messageCount).toBe(6);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    expect((await ch.purgeQueue(q)).messageCount).toBe(0);
    // The unacked one survives the purge and comes back when its channel closes.
    expect(held && held.content.toString()).toBe("m0");
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(1);
  });

  it("delete returns the number of messages deleted", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("delete");
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 4; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    expect((await ch.deleteQueue(q)).messageCount).toBe(4);
    expect(await queueExists(conn, q)).toBe(false);
    // Deleting a missing queue is fine in RabbitMQ.
    expect((await ch.deleteQueue(q)).messageCount).toBe(0);
  });

  it("delete if-unused with a consumer and if-empty with messages fail with 406", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("ifs");
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from("x"));
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
    expect(await channelErrorCode(conn, (c) => c.deleteQueue(q, { ifEmpty: true }))).toBe(406);
    const consumer = await conn.createChannel();
    const got: ConsumeMessage[] = [];
    await consumer.consume(q, (m) => m && got.push(m));
    await waitFor(() => got.length === 1, "delivery");
    expect(await channelErrorCode(conn, (c) => c.deleteQueue(q, { ifUnused: true }))).toBe(406);
    expect(await queueExists(conn, q)).toBe(true);
    consumer.ack(got[0]!);
    await consumer.close();
    expect((await ch.deleteQueue(q, { ifUnused: true, ifEmpty: true })).messageCount).toBe(0);
    expect(await queueExists(conn, q)).toBe(false);
  });

  it("deleting a queue with unacked messages tells the consumer; acking those deliveries afterwards is harmless", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closes: (number | undefined)[] = [];
    ch.on("error", (err: unknown) => closes.push(replyCode(err)));
    const q = uniqueName("del-unacked");
    await ch.assertQueue(q, { durable: false });
    ch.sendToQueue(q, Buffer.from("x"));
    let cancelled = false;
    const got: ConsumeMessage[] = [];
    await ch.consume(q, (m) => (m ? got.push(m) : (cancelled = true)));
    await waitFor(() => got.length === 1, "delivery");
    const other = await conn.createChannel();
    expect((await other.deleteQueue(q)).messageCount).toBe(0);
    await waitFor(() => cancelled, "basic.cancel from the server");
    // Acking a message of a deleted queue is harmless in RabbitMQ.
    ch.ack(got[0]!);
    // A round trip on the channel after the ack: a channel.close the ack caused would come before its answer.
    const outcome = await ch.checkExchange("amq.direct").then(
      () => "open",
      () => "closed",
    );
    expect({ outcome, closes }).toEqual({ outcome: "open", closes: [] });
  });
});
