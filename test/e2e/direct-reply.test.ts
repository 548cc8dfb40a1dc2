import { AMQPClient, type AMQPMessage } from "@cloudamqp/amqp-client";
import type { Channel, ChannelModel, ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { managementClient } from "./api-helpers";
import { useWarren } from "./harness";
import { connect, uid } from "./topology-helpers";

// Direct reply-to (amq.rabbitmq.reply-to), as RabbitMQ 3.10.8 answers it. Runs side by side
// against RabbitMQ too (WARREN_TEST_AGAINST=rabbitmq, README "Test").
const warren = useWarren({ sideBySide: true });
const url = () => warren.server.amqpUrl!;
const REPLY_TO = "amq.rabbitmq.reply-to";

const conns: ChannelModel[] = [];
async function open(): Promise<ChannelModel> {
  const c = await connect(url());
  c.on("error", () => undefined);
  conns.push(c);
  return c;
}
afterAll(async () => {
  await Promise.allSettled(conns.map((c) => c.close()));
});

/** The channel's close (code and text) caused by `action`. */
async function channelError(conn: ChannelModel, action: (ch: Channel) => unknown): Promise<string> {
  const ch = await conn.createChannel();
  const closed = new Promise<string>((resolve) => ch.on("error", (e: Error) => resolve(e.message)));
  try {
    await action(ch);
  } catch (err) {
    return (err as Error).message;
  }
  return closed;
}

function nextMessage(ch: Channel, queue: string, noAck: boolean): Promise<ConsumeMessage> {
  return new Promise((resolve, reject) => {
    ch.consume(queue, (m) => (m ? resolve(m) : reject(new Error("cancelled"))), { noAck }).catch(reject);
  });
}

/** A responder on its own connection: answers every request on `queue` with "re:<body>". */
async function responder(queue: string): Promise<Channel> {
  const ch = await (await open()).createChannel();
  await ch.assertQueue(queue, { exclusive: true });
  await ch.consume(queue, (m) => {
    if (!m) return;
    ch.publish("", m.properties.replyTo as string, Buffer.from(`re:${m.content.toString()}`), {
      correlationId: m.properties.correlationId,
    });
    ch.ack(m);
  });
  return ch;
}

describe("capabilities", () => {
  it("advertises what works, as RabbitMQ 3.10.8 does", async () => {
    const c = await open();
    const props = (c as unknown as { connection: { serverProperties: { capabilities: Record<string, unknown> } } }).connection
      .serverProperties;
    expect(props.capabilities).toMatchObject({
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      "basic.nack": true,
      consumer_cancel_notify: true,
      "connection.blocked": true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    });
  });
});

describe("direct reply-to", () => {
  let service: string;
  beforeAll(async () => {
    if (warren.skipped) return;
    service = uid("rpc");
    await responder(service);
  });

  it("routes a reply straight back to the requesting channel", async () => {
    const ch = await (await open()).createChannel();
    const got = new Promise<ConsumeMessage>((resolve) => {
      void ch.consume(REPLY_TO, (m) => m && resolve(m), { noAck: true, consumerTag: "mine" });
    });
    await ch.checkQueue(REPLY_TO);
    ch.publish("", service, Buffer.from("ping"), { replyTo: REPLY_TO, correlationId: "c1" });
    const reply = await got;
    expect(reply.content.toString()).toBe("re:ping");
    expect(reply.properties.correlationId).toBe("c1");
    expect(reply.fields.consumerTag).toBe("mine");
    expect(reply.fields.redelivered).toBe(false);
    expect(reply.fields.exchange).toBe("");
    // The routing key is the generated address the request carried.
    expect(reply.fields.routingKey.startsWith(`${REPLY_TO}.`)).toBe(true);
  });

  it("works for @cloudamqp/amqp-client too", async () => {
    const client = new AMQPClient(url());
    const conn = await client.connect();
    try {
      const ch = await conn.channel();
      let resolve!: (m: AMQPMessage) => void;
      const got = new Promise<AMQPMessage>((r) => {
        resolve = r;
      });
      await ch.basicConsume(REPLY_TO, { noAck: true }, (m) => resolve(m));
      await ch.basicPublish("", service, "ping2", { replyTo: REPLY_TO, correlationId: "c2" });
      const reply = await got;
      expect(reply.bodyToString()).toBe("re:ping2");
      expect(reply.properties.correlationId).toBe("c2");
      expect(reply.routingKey.startsWith(`${REPLY_TO}.`)).toBe(true);
    } finally {
      await conn.close();
    }
  });

  it("gives two requesters on different connections only their own replies", async () => {
    const replies: string[][] = [[], []];
    const chans = await Promise.all([open(), open()].map(async (c) => (await c).createChannel()));
    await Promise.all(chans.map((ch, i) => ch.consume(REPLY_TO, (m) => m && replies[i]!.push(m.content.toString()), { noAck: true })));
    for (let n = 0; n < 5; n++) {
      for (const [i, ch] of chans.entries()) ch.publish("", service, Buffer.from(`${i}-${n}`), { replyTo: REPLY_TO });
    }
    await expect.poll(() => replies[0]!.length + replies[1]!.length, { timeout: 5000 }).toBe(10);
    expect(replies[0]).toEqual([0, 1, 2, 3, 4].map((n) => `re:0-${n}`));
    expect(replies[1]).toEqual([0, 1, 2, 3, 4].map((n) => `re:1-${n}`));
  });

  it("answers a declare of the pseudo-queue with 0 messages and 1 consumer, passive or not", async () => {
    const ch = await (await open()).createChannel();
    expect(await ch.checkQueue(REPLY_TO)).toMatchObject({ queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
    expect(await ch.assertQueue(REPLY_TO)).toMatchObject({ queue: REPLY_TO, messageCount: 0, consumerCount: 1 });
  });

  it("refuses a publish with reply_to amq.rabbitmq.reply-to before the channel consumes", async () => {
    const text = await channelError(await open(), async (ch) => {
      ch.publish("", service, Buffer.from("x"), { replyTo: REPLY_TO });
      await ch.checkQueue(service);
    });
    expect(text).toContain('406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - fast reply consumer does not exist"');
  });

  it("refuses a consumer in ack mode and a second consumer on the channel", async () => {
    const c = await open();
    expect(await channelError(c, (ch) => ch.consume(REPLY_TO, () => undefined, { noAck: false }))).toContain(
      '406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - reply consumer cannot acknowledge"',
    );
    const twice = await channelError(c, async (ch) => {
      await ch.consume(REPLY_TO, () => undefined, { noAck: true });
      await ch.consume(REPLY_TO, () => undefined, { noAck: true });
    });
    expect(twice).toContain('406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - reply consumer already set"');
  });

  it("cancels the reply consumer: it can be made again, and without one a request is 406", async () => {
    const text = await channelError(await open(), async (ch) => {
      const { consumerTag } = await ch.consume(REPLY_TO, () => undefined, { noAck: true });
      await ch.cancel(consumerTag);
      await ch.cancel((await ch.consume(REPLY_TO, () => undefined, { noAck: true })).consumerTag);
      ch.publish("", service, Buffer.from("x"), { replyTo: REPLY_TO });
      await ch.checkExchange("amq.direct");
    });
    expect(text).toContain('406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - fast reply consumer does not exist"');
  });

  it("answers basic.get on the pseudo-queue with 404 as RabbitMQ", async () => {
    const text = await channelError(await open(), (ch) => ch.get(REPLY_TO, { noAck: true }));
    // RabbitMQ: "NOT_FOUND - no queue 'amq.rabbitmq.reply-to' in vhost '/'" (the full text is issue 18 part 7's).
    expect(text).toContain('404 (NOT-FOUND) with message "NOT_FOUND - no queue');
  });

  it("returns a mandatory reply to a gone requester, a forged address or the bare name (312 NO_ROUTE)", async () => {
    const requester = await open();
    const ch = await requester.createChannel();
    const got = nextMessage(ch, REPLY_TO, true);
    const probe = await (await open()).createChannel();
    const q = uid("echo");
    await probe.assertQueue(q, { exclusive: true });
    ch.publish("", q, Buffer.from("req"), { replyTo: REPLY_TO });
    const request = await nextMessage(probe, q, true);
    const address = request.properties.replyTo as string;
    expect(address.startsWith(`${REPLY_TO}.`)).toBe(true);
    // The address works while the requester is there.
    probe.publish("", address, Buffer.from("r"));
    expect((await got).content.toString()).toBe("r");
    await requester.close();
    const replier = await (await open()).createConfirmChannel();
    const returned: string[] = [];
    replier.on("return", (m: { fields: { replyCode: number; routingKey: string } }) =>
      returned.push(`${m.fields.replyCode}:${m.fields.routingKey}`),
    );
    const forged = `${address.slice(0, -4)}0000`;
    for (const key of [address, forged, `${REPLY_TO}.garbage`, REPLY_TO]) {
      replier.publish("", key, Buffer.from("late"), { mandatory: true });
    }
    await replier.waitForConfirms();
    expect(returned).toEqual([address, forged, `${REPLY_TO}.garbage`, REPLY_TO].map((k) => `312:${k}`));
  });

  // RabbitMQ 3.10.8 (observed): a user without any permission may consume from the pseudo-queue,
  // but replying is a publish to the default exchange and needs write on it (as amq.default).
  // Users are made with the management API: against a RabbitMQ without one, skipped.
  it("needs no permission to consume, and write on the default exchange to reply", async (ctx) => {
    if (!warren.server.httpUrl) return ctx.skip();
    const api = managementClient(() => warren.server);
    const user = uid("drt");
    expect((await api("PUT", `/users/${user}`, { password: "pw", tags: "" })).status).toBe(201);
    expect((await api("PUT", `/permissions/%2F/${user}`, { configure: "^none$", write: "^none$", read: "^none$" })).status).toBeLessThan(
      300,
    );
    const nobody = await connect(url().replace("guest:guest@", `${user}:pw@`));
    nobody.on("error", () => undefined);
    conns.push(nobody);
    const consumer = await nobody.createChannel();
    expect((await consumer.consume(REPLY_TO, () => undefined, { noAck: true })).consumerTag).toMatch(/^amq\.ctag-/);

    const requester = await (await open()).createChannel();
    const replies: string[] = [];
    await requester.consume(REPLY_TO, (m) => m && replies.push(m.content.toString()), { noAck: true });
    const probe = await (await open()).createChannel();
    const q = uid("echo");
    await probe.assertQueue(q, { exclusive: true });
    requester.publish("", q, Buffer.from("req"), { replyTo: REPLY_TO });
    const address = (await nextMessage(probe, q, true)).properties.replyTo as string;
    const text = await channelError(nobody, async (ch) => {
      ch.publish("", address, Buffer.from("reply"));
      await ch.checkExchange("amq.direct");
    });
    expect(text).toContain(
      `403 (ACCESS-REFUSED) with message "ACCESS_REFUSED - access to exchange 'amq.default' in vhost '/' refused for user '${user}'"`,
    );
    probe.publish("", address, Buffer.from("allowed"));
    await expect.poll(() => replies, { timeout: 5000 }).toEqual(["allowed"]);
    expect((await api("DELETE", `/users/${user}`)).status).toBe(204);
  });
});
