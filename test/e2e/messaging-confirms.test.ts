import amqp, { type ChannelModel, type ConfirmChannel, type Message, type Options } from "amqplib";
import { AMQPWebSocketClient, type AMQPBaseClient, type AMQPChannel } from "@cloudamqp/amqp-client";
import { afterEach, describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { sleep, uniqueName, waitFor } from "./messaging-helpers";

const warren = useWarren();
const open: ChannelModel[] = [];
const openWs: AMQPBaseClient[] = [];

async function connect(): Promise<ChannelModel> {
  const conn = await amqp.connect(warren.server.amqpUrl!);
  conn.on("error", () => undefined);
  open.push(conn);
  return conn;
}

async function connectWs(): Promise<AMQPBaseClient> {
  const conn = await new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest").connect();
  openWs.push(conn);
  return conn;
}

afterEach(async () => {
  await Promise.allSettled([...open.splice(0).map((c) => c.close()), ...openWs.splice(0).map((c) => c.close())]);
});

/**
 * Publishes a non-mandatory message nobody receives and resolves once it is confirmed: the
 * server answers a channel's publishes in order, so whatever earlier publishes still had to
 * send (a return, a confirm) has arrived by then. `events` gets "marker-ack" or "marker-nack".
 */
function confirmedMarker(ch: ConfirmChannel, events: string[], options: Options.Publish = {}): Promise<void> {
  return new Promise((resolve, reject) =>
    ch.publish("", uniqueName("marker-nowhere"), Buffer.from("marker"), options, (err) => {
      events.push(err ? "marker-nack" : "marker-ack");
      if (err) reject(err);
      else resolve();
    }),
  );
}

/** Ready messages in a queue, asked with a passive declare. */
async function readyCount(ch: AMQPChannel, q: string): Promise<number> {
  return (await ch.queueDeclare(q, { passive: true })).messageCount;
}

describe("publisher confirms", () => {
  it("10,000 publishes on a confirm channel are all confirmed and all in the queue", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const q = uniqueName("confirm");
    await ch.assertQueue(q, { durable: true });
    let acked = 0;
    let nacked = 0;
    for (let i = 0; i < 10_000; i++) {
      ch.sendToQueue(q, Buffer.from(`m${i}`), { persistent: i % 2 === 0 }, (err) => (err ? nacked++ : acked++));
    }
    await ch.waitForConfirms();
    expect(acked).toBe(10_000);
    expect(nacked).toBe(0);
    expect((await ch.checkQueue(q)).messageCount).toBe(10_000);
    // Order is kept too: spot-check the head of the queue.
    const first = await ch.get(q, { noAck: true });
    expect(first && first.content.toString()).toBe("m0");
    await ch.deleteQueue(q);
  }, 60_000);

  it("a mandatory unroutable publish is returned with 312 NO_ROUTE before its confirm", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const events: string[] = [];
    const returned: Message[] = [];
    ch.on("return", (msg: Message) => {
      events.push("return");
      returned.push(msg);
    });
    const key = uniqueName("nowhere");
    await new Promise<void>((resolve, reject) =>
      ch.publish("", key, Buffer.from("lost"), { mandatory: true, messageId: "r1" }, (err) => {
        events.push(err ? "nack" : "ack");
        if (err) reject(err);
        else resolve();
      }),
    );
    await confirmedMarker(ch, events);
    expect(events).toEqual(["return", "ack", "marker-ack"]);
    const r = returned[0]!;
    expect(r.fields).toMatchObject({ replyCode: 312, replyText: "NO_ROUTE", exchange: "", routingKey: key });
    expect(r.content.toString()).toBe("lost");
    expect(r.properties.messageId).toBe("r1");
  });

  it("a mandatory publish to an exchange with no matching binding is returned too", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const events: string[] = [];
    ch.on("return", (msg: Message) => events.push(`return:${msg.fields.exchange}:${msg.fields.routingKey}`));
    const q = uniqueName("bound");
    await ch.assertQueue(q, { durable: false });
    await ch.bindQueue(q, "amq.direct", q);
    ch.publish("amq.direct", "no-such-key", Buffer.from("x"), { mandatory: true }, () => events.push("ack1"));
    ch.publish("amq.direct", q, Buffer.from("y"), { mandatory: true }, () => events.push("ack2"));
    await ch.waitForConfirms();
    await confirmedMarker(ch, events);
    expect(events).toEqual(["return:amq.direct:no-such-key", "ack1", "ack2", "marker-ack"]);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
  });

  it("a non-mandatory unroutable publish is dropped silently but still confirmed", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const returned: string[] = [];
    ch.on("return", (msg: Message) => returned.push(msg.content.toString()));
    let acked = 0;
    for (let i = 0; i < 3; i++) ch.publish("", uniqueName("nowhere"), Buffer.from("x"), {}, (err) => !err && acked++);
    await ch.waitForConfirms();
    // A mandatory marker after them is returned before its confirm; a return for any of the three
    // would have come before that.
    const events: string[] = [];
    await confirmedMarker(ch, events, { mandatory: true });
    expect(acked).toBe(3);
    expect(returned).toEqual(["marker"]);
  });

  it("confirm.select over WebSocket: every basicPublish resolves once confirmed", async () => {
    const conn = await connectWs();
    const ch = await conn.channel();
    const { name: q } = await ch.queueDeclare(uniqueName("ws-confirm"));
    await ch.confirmSelect();
    const tags = await Promise.all(Array.from({ length: 500 }, (_, i) => ch.basicPublish("", q, `m${i}`)));
    expect(tags).toEqual(Array.from({ length: 500 }, (_, i) => i + 1));
    expect(await readyCount(ch, q)).toBe(500);
  });
});

describe("transactions (over WebSocket with @cloudamqp/amqp-client)", () => {
  it("publishes inside a rolled-back transaction never reach the queue; committed ones do", async () => {
    const conn = await connectWs();
    const ch = await conn.channel();
    const { name: q } = await ch.queueDeclare(uniqueName("tx-pub"));
    await ch.txSelect();
    for (let i = 0; i < 3; i++) await ch.basicPublish("", q, `rolled-back-${i}`);
    await ch.txRollback();
    expect(await readyCount(ch, q)).toBe(0);
    for (let i = 0; i < 3; i++) await ch.basicPublish("", q, `committed-${i}`);
    // Not there before the commit either.
    expect(await readyCount(ch, q)).toBe(0);
    await ch.txCommit();
    expect(await readyCount(ch, q)).toBe(3);
    const other = await conn.channel();
    const bodies: (string | null)[] = [];
    for (let i = 0; i < 3; i++) bodies.push((await other.basicGet(q, { noAck: true }))?.bodyString() ?? null);
    expect(bodies).toEqual(["committed-0", "committed-1", "committed-2"]);
  });

  /** Two messages in a fresh queue; a tx channel gets the first and acks it inside the transaction. */
  async function ackInsideTx(label: string) {
    const conn = await connectWs();
    const setup = await conn.channel();
    const { name: q } = await setup.queueDeclare(uniqueName(label));
    await setup.basicPublish("", q, "one");
    await setup.basicPublish("", q, "two");
    await waitForReady(setup, q, 2);
    const ch = await conn.channel();
    await ch.txSelect();
    const msg = await ch.basicGet(q, { noAck: false });
    expect(msg?.bodyString()).toBe("one");
    await msg!.ack();
    return { setup, q, ch, msg };
  }

  it("an ack inside a rolled-back transaction leaves the message unacked (redelivered after close)", async () => {
    const { setup, q, ch, msg } = await ackInsideTx("tx-ack");
    await ch.txRollback();
    // Still unacked: not ready, not gone.
    expect(await readyCount(setup, q)).toBe(1);
    // The rollback made the tag valid again: acking it once more is no error.
    await ch.basicAck(msg!.deliveryTag);
    await ch.txRollback();
    await ch.close();
    expect(await readyCount(setup, q)).toBe(2);
    const again = await setup.basicGet(q, { noAck: true });
    expect(again?.bodyString()).toBe("one");
    expect(again?.redelivered).toBe(true);
  });

  it("an ack inside a committed transaction removes the message for good", async () => {
    const { setup, q, ch } = await ackInsideTx("tx-commit-ack");
    await ch.txCommit();
    await ch.close();
    expect(await readyCount(setup, q)).toBe(1);
    expect((await setup.basicGet(q, { noAck: true }))?.bodyString()).toBe("two");
  });

  it("a nack with requeue inside a transaction takes effect only at commit", async () => {
    const conn = await connectWs();
    const ch = await conn.channel();
    const { name: q } = await ch.queueDeclare(uniqueName("tx-nack"));
    await ch.basicPublish("", q, "x");
    await waitForReady(ch, q, 1);
    await ch.txSelect();
    const msg = await ch.basicGet(q, { noAck: false });
    await msg!.nack(true);
    expect(await readyCount(ch, q)).toBe(0);
    await ch.txCommit();
    expect(await readyCount(ch, q)).toBe(1);
    const again = await ch.basicGet(q, { noAck: false });
    expect(again?.redelivered).toBe(true);
    await again!.ack();
    await ch.txCommit();
    expect(await readyCount(ch, q)).toBe(0);
  });
});

describe("mode errors", () => {
  it("tx.commit and tx.rollback without tx.select close the channel with 406", async () => {
    const conn = await connectWs();
    const ch = await conn.channel();
    await expect(ch.txCommit()).rejects.toThrow(/406|PRECONDITION_FAILED/);
    const ch2 = await conn.channel();
    await expect(ch2.txRollback()).rejects.toThrow(/406|PRECONDITION_FAILED/);
    // The connection is fine.
    const ch3 = await conn.channel();
    await ch3.queueDeclare(uniqueName("still-ok"), { exclusive: true });
  });

  it("confirm.select on a transactional channel (and tx.select on a confirm channel) close it with 406", async () => {
    const conn = await connectWs();
    const ch = await conn.channel();
    await ch.txSelect();
    await expect(ch.confirmSelect()).rejects.toThrow(/406|PRECONDITION_FAILED/);
    const ch2 = await conn.channel();
    await ch2.confirmSelect();
    await expect(ch2.txSelect()).rejects.toThrow(/406|PRECONDITION_FAILED/);
  });
});

describe("consuming over WebSocket", () => {
  it("two consumers with prefetch share 300 messages, each delivered once and acked", async () => {
    const conn = await connectWs();
    const pub = await conn.channel();
    const { name: q } = await pub.queueDeclare(uniqueName("ws-work"));
    const seen = new Map<string, number>();
    let markerSeen = false;
    const consumers: AMQPChannel[] = [];
    for (let c = 0; c < 2; c++) {
      const ch = await conn.channel();
      consumers.push(ch);
      await ch.prefetch(10);
      await ch.basicConsume(q, { noAck: false }, async (msg) => {
        const body = msg.bodyString() ?? "";
        if (body === "marker") markerSeen = true;
        else seen.set(body, (seen.get(body) ?? 0) + 1);
        await msg.ack();
      });
    }
    for (let i = 0; i < 300; i++) await pub.basicPublish("", q, `m${i}`);
    await waitFor(() => [...seen.values()].reduce((a, b) => a + b, 0) >= 300, "300 deliveries");
    // The acks reach the queue first (a synchronous method after them on each channel); then a
    // marker goes in behind all 300. Both consumers share the connection, so a message handed out
    // a second time would reach us before the marker.
    await Promise.all(consumers.map((ch) => readyCount(ch, q)));
    await pub.basicPublish("", q, "marker");
    await waitFor(() => markerSeen, "the marker");
    expect(seen.size).toBe(300);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    expect(await readyCount(pub, q)).toBe(0);
  });
});

async function waitForReady(ch: AMQPChannel, q: string, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await readyCount(ch, q)) >= n) return;
    await sleep(10);
  }
  throw new Error(`queue ${q} never had ${n} ready messages`);
}
