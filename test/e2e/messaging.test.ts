import type { Channel, ChannelModel, ConsumeMessage, Message } from "amqplib";
import { describe, expect, it } from "vitest";
import { table } from "../../src/amqp";
import { useWarren } from "./harness";
import { allAccountedFor, channelErrorCode, replyCode, serverClose, uniqueName, waitFor, amqpConnections } from "./messaging-helpers";
import { RawClient } from "./raw-client";

const warren = useWarren();
const connect = amqpConnections(() => warren.server.amqpUrl!);

/** A fresh queue on `ch`; messages named m0..m{n-1} are put in it when `count` is given. */
async function queueWith(ch: Channel, prefix: string, count = 0): Promise<string> {
  const q = uniqueName(prefix);
  await ch.assertQueue(q, { durable: false });
  for (let i = 0; i < count; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  return q;
}

/**
 * Body of a message published after the action under test, behind everything it concerns: a
 * queue hands out messages in order and one connection receives them in order, so anything
 * wrongly delivered (again) arrives before the marker does.
 */
const MARKER = "marker";

/** Collects deliveries of one consumer; acks them at once when `ack` is set. */
interface Collector {
  got: ConsumeMessage[];
  consumerTag: string;
  bodies: () => string[];
}

async function collect(ch: Channel, q: string, opts: { ack?: boolean; noAck?: boolean } = {}): Promise<Collector> {
  const got: ConsumeMessage[] = [];
  const { consumerTag } = await ch.consume(
    q,
    (msg) => {
      if (!msg) return;
      got.push(msg);
      if (opts.ack) ch.ack(msg);
    },
    { noAck: opts.noAck ?? false },
  );
  return { got, consumerTag, bodies: () => got.map((m) => m.content.toString()) };
}

describe("work queues", () => {
  it("3 consumers share 1000 messages: each delivered exactly once, all acked", async () => {
    const conn = await connect();
    const pub = await conn.createChannel();
    const q = await queueWith(pub, "work");
    const counts = new Map<string, number>();
    const perConsumer = [0, 0, 0];
    let markerSeen = false;
    const channels = await Promise.all([0, 1, 2].map(() => conn.createChannel()));
    await Promise.all(
      channels.map(async (ch, i) => {
        await ch.prefetch(50);
        await ch.consume(q, (msg) => {
          if (!msg) return;
          const body = msg.content.toString();
          if (body === MARKER) markerSeen = true;
          else {
            counts.set(body, (counts.get(body) ?? 0) + 1);
            perConsumer[i]!++;
          }
          ch.ack(msg);
        });
      }),
    );
    for (let i = 0; i < 1000; i++) pub.sendToQueue(q, Buffer.from(`m${i}`));
    const total = () => [...counts.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => total() >= 1000, "1000 deliveries", 15_000);
    // The acks reach the queue first (a synchronous method after them on each channel); then a
    // marker goes in behind all 1000. The consumers share one connection, so a message handed out
    // a second time would reach us before the marker.
    await Promise.all(channels.map((ch) => ch.checkQueue(q)));
    pub.sendToQueue(q, Buffer.from(MARKER));
    await waitFor(() => markerSeen, "the marker");
    expect(total()).toBe(1000);
    expect(counts.size).toBe(1000);
    for (let i = 0; i < 1000; i++) expect(counts.get(`m${i}`), `m${i}`).toBe(1);
    for (const n of perConsumer) expect(n).toBeGreaterThan(0);
    // Had any ack been lost, closing the consumers' channels would requeue it.
    await Promise.all(channels.map((ch) => ch.close()));
    expect((await pub.checkQueue(q)).messageCount).toBe(0);
    expect((await pub.checkQueue(q)).consumerCount).toBe(0);
  });

  it("with requeues and consumers leaving midway, every message is acked exactly once", async () => {
    const connA = await connect();
    const connB = await connect();
    const pub = await connA.createChannel();
    const q = await queueWith(pub, "churn");
    const acks = new Map<string, number>();
    /** Per body: consumer:redelivered:deliveryTag of every delivery, to explain a duplicate. */
    const trail = new Map<string, string[]>();
    const leaving = new Set<string>();
    let nacks = 0;
    /** Consumers that received a marker. */
    const markedBy = new Set<string>();
    let markers = 0;
    const start = async (conn: ChannelModel, name: string) => {
      const ch = await conn.createChannel();
      await ch.prefetch(20);
      await ch.consume(q, (msg) => {
        if (!msg) return;
        const body = msg.content.toString();
        if (body.startsWith(MARKER)) {
          markedBy.add(name);
          markers++;
          ch.ack(msg);
          return;
        }
        trail.set(body, [...(trail.get(body) ?? []), `${name}:${msg.fields.redelivered}:${msg.fields.deliveryTag}`]);
        // Once its close is under way a leaving consumer's deliveries go back to the queue.
        if (leaving.has(name)) return;
        // Every 7th message is refused once and must come back.
        if (!msg.fields.redelivered && Number(body.slice(1)) % 7 === 0) {
          nacks++;
          ch.nack(msg, false, true);
          return;
        }
        acks.set(body, (acks.get(body) ?? 0) + 1);
        ch.ack(msg);
      });
      return ch;
    };
    const stayers = [await start(connA, "a1"), await start(connB, "b1")];
    // On the same connection as a1: their deliveries share the queue's RPCs to it.
    const leavers = [await start(connA, "L0"), await start(connA, "L1"), await start(connA, "L2")];
    for (let i = 0; i < 2000; i++) pub.sendToQueue(q, Buffer.from(`m${i}`));
    for (const [i, ch] of leavers.entries()) {
      await waitFor(() => acks.size >= 300 * (i + 1), `${300 * (i + 1)} acks`, 15_000);
      leaving.add(`L${i}`);
      await ch.close();
    }
    await waitFor(() => acks.size >= 2000, "2000 acks", 15_000);
    // The acks reach the queue first (a synchronous method after them on each channel); then
    // markers go in behind everything, one at a time, until each of the two connections still
    // consuming has had one: a message handed out again would reach that connection first.
    await Promise.all(stayers.map((ch) => ch.checkQueue(q)));
    for (let i = 0; !(markedBy.has("a1") && markedBy.has("b1")); i++) {
      if (i === 20) throw new Error(`20 markers and still not one on each connection: ${[...markedBy]}`);
      pub.sendToQueue(q, Buffer.from(`${MARKER}${i}`));
      await waitFor(() => markers > i, `marker ${i}`);
    }
    expect(nacks).toBeGreaterThan(0);
    const duplicates = [...acks].filter(([, n]) => n > 1).map(([b]) => `${b} ${trail.get(b)!.join(" ")}`);
    expect(duplicates).toEqual([]);
    expect(acks.size).toBe(2000);
    expect((await pub.checkQueue(q)).messageCount).toBe(0);
  }, 30_000);

  it("without prefetch, consumers receive in strict round-robin order", async () => {
    const conn = await connect();
    const pub = await conn.createChannel();
    const q = await queueWith(pub, "rr");
    const consumers: Collector[] = [];
    for (let i = 0; i < 3; i++) consumers.push(await collect(await conn.createChannel(), q, { ack: true }));
    for (let i = 0; i < 30; i++) pub.sendToQueue(q, Buffer.from(`m${i}`));
    await waitFor(() => consumers.every((c) => c.got.length === 10), "10 deliveries each");
    consumers.forEach((c, i) => {
      expect(c.bodies()).toEqual([...Array(10).keys()].map((k) => `m${3 * k + i}`));
    });
  });

  it("with prefetch 1, deliveries alternate between consumers round after round", async () => {
    const conn = await connect();
    const pub = await conn.createChannel();
    const q = await queueWith(pub, "rr1");
    const chans: Channel[] = [];
    const consumers: Collector[] = [];
    for (let i = 0; i < 3; i++) {
      const ch = await conn.createChannel();
      await ch.prefetch(1);
      chans.push(ch);
      consumers.push(await collect(ch, q));
    }
    for (let round = 0; round < 4; round++) {
      for (let j = 0; j < 3; j++) pub.sendToQueue(q, Buffer.from(`m${round * 3 + j}`));
      await waitFor(() => consumers.every((c) => c.got.length === round + 1), `round ${round}`);
      const delivered = () => consumers.reduce((n, c) => n + c.got.length, 0);
      await allAccountedFor(pub, [q], 3 * (round + 1), delivered);
      expect(consumers.map((c) => c.got.length)).toEqual([round + 1, round + 1, round + 1]);
      consumers.forEach((c, i) => {
        chans[i]!.ack(c.got[round]!);
      });
      // A synchronous method after the ack makes sure the ack reached the queue first.
      await Promise.all(chans.map((ch) => ch.checkQueue(q)));
    }
    consumers.forEach((c, i) => {
      expect(c.bodies()).toEqual([0, 1, 2, 3].map((r) => `m${r * 3 + i}`));
    });
  });
});

describe("prefetch", () => {
  it("a consumer with prefetch N holds exactly N unacked; each ack lets exactly one more in", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "prefetch", 20);
    await ch.prefetch(5);
    const c = await collect(ch, q);
    const delivered = () => c.got.length;
    await waitFor(() => c.got.length >= 5, "5 deliveries");
    await allAccountedFor(ch, [q], 20, delivered);
    expect(c.got.length).toBe(5);
    ch.ack(c.got[0]!);
    await waitFor(() => c.got.length >= 6, "a sixth delivery");
    await allAccountedFor(ch, [q], 20, delivered);
    expect(c.got.length).toBe(6);
    ch.ack(c.got[2]!, false);
    ch.ack(c.got[1]!, false);
    await waitFor(() => c.got.length >= 8, "two more");
    await allAccountedFor(ch, [q], 20, delivered);
    expect(c.got.length).toBe(8);
    expect(c.bodies()).toEqual([...Array(8).keys()].map((i) => `m${i}`));
    expect((await ch.checkQueue(q)).messageCount).toBe(12);
  });

  it("basic.qos global=true shares one limit between two consumers of a channel", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q1 = await queueWith(ch, "global-a", 10);
    const q2 = await queueWith(ch, "global-b", 10);
    await ch.prefetch(4, true);
    const a = await collect(ch, q1);
    const b = await collect(ch, q2);
    const total = () => a.got.length + b.got.length;
    await waitFor(() => total() >= 4, "4 deliveries");
    await allAccountedFor(ch, [q1, q2], 20, total);
    expect(total()).toBe(4);
    ch.ack((a.got[0] ?? b.got[0])!);
    await waitFor(() => total() >= 5, "a fifth delivery");
    await allAccountedFor(ch, [q1, q2], 20, total);
    expect(total()).toBe(5);
    // Acking everything frees the whole window: 4 more arrive, never more.
    ch.ackAll();
    await waitFor(() => total() >= 9, "four more");
    await allAccountedFor(ch, [q1, q2], 20, total);
    expect(total()).toBe(9);
  });

  it("basic.qos global=false with a global limit: each consumer is capped by its own prefetch too", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q1 = await queueWith(ch, "both-a", 10);
    const q2 = await queueWith(ch, "both-b", 10);
    await ch.prefetch(2, false);
    await ch.prefetch(3, true);
    const a = await collect(ch, q1);
    const b = await collect(ch, q2);
    await waitFor(() => a.got.length + b.got.length >= 3, "3 deliveries");
    await allAccountedFor(ch, [q1, q2], 20, () => a.got.length + b.got.length);
    expect(a.got.length + b.got.length).toBe(3);
    expect(a.got.length).toBeLessThanOrEqual(2);
    expect(b.got.length).toBeLessThanOrEqual(2);
  });
});

describe("prefetch under load", () => {
  it("raising the channel-wide (global) prefetch lets more deliveries in without any ack", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "raise-global", 10);
    await ch.prefetch(2, true);
    const c = await collect(ch, q);
    await waitFor(() => c.got.length >= 2, "2 deliveries");
    await allAccountedFor(ch, [q], 10, () => c.got.length);
    expect(c.got.length).toBe(2);
    await ch.prefetch(5, true);
    await waitFor(() => c.got.length >= 5, "5 deliveries after raising the limit");
    await allAccountedFor(ch, [q], 10, () => c.got.length);
    expect(c.got.length).toBe(5);
  });

  it("a shared global prefetch of 1 never stalls two busy consumers acking as they go", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q1 = await queueWith(ch, "stall-a", 300);
    const q2 = await queueWith(ch, "stall-b", 300);
    await ch.prefetch(1, true);
    const a = await collect(ch, q1, { ack: true });
    const b = await collect(ch, q2, { ack: true });
    await waitFor(() => a.got.length === 300 && b.got.length === 300, "600 deliveries", 20_000);
    expect(a.bodies()).toEqual([...Array(300).keys()].map((i) => `m${i}`));
  }, 30_000);
});

describe("negative acknowledgements", () => {
  it("nack and reject with requeue bring the message back redelivered", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "nack", 1);
    const c = await collect(ch, q);
    await waitFor(() => c.got.length === 1, "first delivery");
    expect(c.got[0]!.fields.redelivered).toBe(false);
    ch.nack(c.got[0]!, false, true);
    await waitFor(() => c.got.length === 2, "redelivery after nack");
    expect(c.got[1]!.fields.redelivered).toBe(true);
    expect(c.got[1]!.content.toString()).toBe("m0");
    ch.reject(c.got[1]!, true);
    await waitFor(() => c.got.length === 3, "redelivery after reject");
    expect(c.got[2]!.fields.redelivered).toBe(true);
    ch.ack(c.got[2]!);
    // The ack reaches the queue first (a synchronous method after it), then a marker goes in:
    // had the ack put the message back, its redelivery would arrive before the marker.
    await ch.checkQueue(q);
    ch.sendToQueue(q, Buffer.from(MARKER));
    await waitFor(() => c.got.length >= 4, "the marker");
    expect(c.bodies()).toEqual(["m0", "m0", "m0", MARKER]);
  });

  it("nack and reject without requeue drop the message", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "drop", 3);
    const m0 = await ch.get(q);
    const m1 = await ch.get(q);
    const m2 = await ch.get(q);
    if (!m0 || !m1 || !m2) throw new Error("basic.get found no message");
    ch.nack(m0, false, false);
    ch.reject(m1, false);
    ch.nack(m2, false, true);
    const back = await ch.get(q, { noAck: true });
    expect(back && back.content.toString()).toBe("m2");
    expect(back && back.fields.redelivered).toBe(true);
    expect(await ch.get(q)).toBe(false);
    // Nothing is left unacked either: closing the channel requeues nothing.
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });

  it("nack multiple requeues every outstanding tag up to the given one", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "nackmulti", 4);
    const c = await collect(ch, q);
    await waitFor(() => c.got.length === 4, "4 deliveries");
    ch.nack(c.got[2]!, true, true);
    await waitFor(() => c.got.length === 7, "3 redeliveries");
    expect(c.bodies().slice(4)).toEqual(["m0", "m1", "m2"]);
    expect(c.got.slice(4).every((m) => m.fields.redelivered)).toBe(true);
  });
});

describe("closing with unacked messages", () => {
  it("closing a channel requeues its unacked messages to another consumer, in order, redelivered", async () => {
    const conn = await connect();
    const chA = await conn.createChannel();
    const q = await queueWith(chA, "close-ch", 10);
    const a = await collect(chA, q);
    await waitFor(() => a.got.length === 10, "10 deliveries to A");
    expect(a.got.every((m) => !m.fields.redelivered)).toBe(true);
    const chB = await conn.createChannel();
    const b = await collect(chB, q, { ack: true });
    // A marker after B's consume-ok: A and B share the connection, so anything the queue wrongly
    // gave B would arrive before the marker (which goes to A or B; either is fine).
    chA.sendToQueue(q, Buffer.from(MARKER));
    const isMarker = (m: ConsumeMessage) => m.content.toString() === MARKER;
    await waitFor(() => a.got.some(isMarker) || b.got.some(isMarker), "the marker");
    expect(b.got.filter((m) => !isMarker(m))).toEqual([]);
    // A acks the marker if it got it, so only m0..m9 go back when A's channel closes.
    const markerAtA = a.got.find(isMarker);
    if (markerAtA) chA.ack(markerAtA);
    await chA.close();
    const redelivered = () => b.got.filter((m) => !isMarker(m));
    await waitFor(() => redelivered().length >= 10, "10 redeliveries to B");
    expect(redelivered().map((m) => m.content.toString())).toEqual([...Array(10).keys()].map((i) => `m${i}`));
    expect(redelivered().every((m) => m.fields.redelivered)).toBe(true);
  });

  it("closing a connection requeues its unacked messages to a consumer on another connection", async () => {
    const connA = await connect();
    const connB = await connect();
    const chA = await connA.createChannel();
    const q = await queueWith(chA, "close-conn", 10);
    const a = await collect(chA, q);
    await waitFor(() => a.got.length === 10, "10 deliveries to A");
    chA.ack(a.got[0]!);
    chA.ack(a.got[1]!);
    await chA.checkQueue(q);
    const chB = await connB.createChannel();
    const b = await collect(chB, q, { ack: true });
    await connA.close();
    await waitFor(() => b.got.length >= 8, "8 redeliveries to B");
    // A marker behind the requeued messages: anything else A's close put back (the acked m0, m1, a
    // second copy) would reach B before it.
    chB.sendToQueue(q, Buffer.from(MARKER));
    await waitFor(() => b.bodies().includes(MARKER), "the marker");
    expect(b.bodies()).toEqual([...[...Array(8).keys()].map((i) => `m${i + 2}`), MARKER]);
    expect(b.got.slice(0, 8).every((m) => m.fields.redelivered)).toBe(true);
  });

  it("a client that vanishes without closing (socket dropped) gives its unacked messages back", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "dropped", 5);
    const raw = await RawClient.open(warren.server.amqpPort!);
    raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
    await raw.expect("channel.open-ok");
    raw.send(1, {
      name: "basic.consume",
      args: { ticket: 0, queue: q, consumerTag: "", noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: table({}) },
    });
    for (let i = 0; i < 5; i++) await raw.expect("basic.deliver");
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    raw.close();
    const b = await collect(ch, q, { ack: true });
    await waitFor(() => b.got.length === 5, "5 redeliveries");
    expect(b.bodies()).toEqual(["m0", "m1", "m2", "m3", "m4"]);
    expect(b.got.every((m) => m.fields.redelivered)).toBe(true);
  });

  it("closing the channel of a basic.get requeues the unacked message", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "close-get", 2);
    const m = await ch.get(q);
    expect(m && m.content.toString()).toBe("m0");
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(2);
    const again = await ch2.get(q, { noAck: true });
    expect(again && again.content.toString()).toBe("m0");
    expect(again && again.fields.redelivered).toBe(true);
  });
});

describe("basic.get, recover, cancel", () => {
  it("basic.get returns messages with the remaining count, then get-empty", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "get", 3);
    const counts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await ch.get(q, { noAck: true });
      if (!m) throw new Error(`get ${i} was empty`);
      expect(m.content.toString()).toBe(`m${i}`);
      expect(m.fields.redelivered).toBe(false);
      expect(m.fields.routingKey).toBe(q);
      expect(m.fields.exchange).toBe("");
      counts.push(m.fields.messageCount);
    }
    expect(counts).toEqual([2, 1, 0]);
    expect(await ch.get(q)).toBe(false);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
  });

  it("basic.recover requeues unacked messages, which come back redelivered", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "recover", 3);
    const c = await collect(ch, q);
    await waitFor(() => c.got.length === 3, "3 deliveries");
    ch.ack(c.got[1]!);
    await ch.recover();
    await waitFor(() => c.got.length === 5, "2 redeliveries");
    expect(c.bodies().slice(3)).toEqual(["m0", "m2"]);
    expect(c.got.slice(3).every((m) => m.fields.redelivered)).toBe(true);
    // The old tags are settled: the new ones are what counts now.
    ch.ack(c.got[3]!);
    ch.ack(c.got[4]!);
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });

  it("basic.cancel stops deliveries; the messages stay in the queue", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "cancel", 2);
    const c = await collect(ch, q, { ack: true });
    await waitFor(() => c.got.length === 2, "2 deliveries");
    await ch.cancel(c.consumerTag);
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`late${i}`));
    await allAccountedFor(ch, [q], 7, () => c.got.length);
    expect(c.got.length).toBe(2);
    expect((await ch.checkQueue(q)).messageCount).toBe(5);
    expect((await ch.checkQueue(q)).consumerCount).toBe(0);
  });

  it("deleting a queue cancels its consumers (amqplib calls back with null)", async () => {
    const conn = await connect();
    const other = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "server-cancel");
    let cancelled = false;
    const got: string[] = [];
    await ch.consume(q, (msg) => {
      if (msg === null) cancelled = true;
      else got.push(msg.content.toString());
    });
    ch.sendToQueue(q, Buffer.from("before"));
    await waitFor(() => got.length === 1, "one delivery");
    const deleter = await other.createChannel();
    await deleter.deleteQueue(q);
    await waitFor(() => cancelled, "server-sent basic.cancel");
    // The channel stays usable after the notification.
    const q2 = await queueWith(ch, "after-cancel", 1);
    const m = await ch.get(q2, { noAck: true });
    expect(m && m.content.toString()).toBe("m0");
  });

  it("noAck consumers get everything at once and leave nothing behind", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    await ch.prefetch(1);
    const q = await queueWith(ch, "noack", 50);
    const c = await collect(ch, q, { noAck: true });
    await waitFor(() => c.got.length === 50, "50 deliveries");
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });
});

describe("consumer rules", () => {
  it("an exclusive consumer keeps others out (403), and cannot join a queue that has consumers", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "excl-consumer");
    const { consumerTag } = await ch.consume(q, () => undefined, { exclusive: true });
    const other = await connect();
    expect(await channelErrorCode(other, (c) => c.consume(q, () => undefined))).toBe(403);
    await ch.cancel(consumerTag);
    await ch.consume(q, () => undefined);
    expect(await channelErrorCode(other, (c) => c.consume(q, () => undefined, { exclusive: true }))).toBe(403);
  });

  it("reusing a consumer tag on a channel is a 530 NOT_ALLOWED connection error", async () => {
    const conn = await connect();
    const closed = new Promise<unknown>((resolve) => conn.once("close", resolve));
    const ch = await conn.createChannel();
    ch.on("error", () => undefined);
    const q = await queueWith(ch, "tag-reuse");
    await ch.consume(q, () => undefined, { consumerTag: "same" });
    await expect(ch.consume(q, () => undefined, { consumerTag: "same" })).rejects.toThrow();
    expect(replyCode(await closed)).toBe(530);
  });

  it("cancelling an unknown consumer tag is answered with cancel-ok, not an error", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closes: (number | undefined)[] = [];
    ch.on("error", (err: unknown) => closes.push(replyCode(err)));
    await ch.cancel("never-existed");
    // A round trip on the channel: a channel.close sent after the cancel-ok would come before its answer.
    const outcome = await ch.checkExchange("amq.direct").then(
      () => "open",
      () => "closed",
    );
    expect({ outcome, closes }).toEqual({ outcome: "open", closes: [] });
  });

  it("deliveries carry the consumer tag, exchange and routing key they were published with", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "fields");
    await ch.bindQueue(q, "amq.topic", "a.*.c");
    const c = await collect(ch, q, { ack: true });
    ch.publish("amq.topic", "a.b.c", Buffer.from("t"));
    ch.sendToQueue(q, Buffer.from("d"));
    await waitFor(() => c.got.length === 2, "2 deliveries");
    expect(c.got.map((m) => [m.fields.consumerTag, m.fields.exchange, m.fields.routingKey, m.fields.redelivered])).toEqual([
      [c.consumerTag, "amq.topic", "a.b.c", false],
      [c.consumerTag, "", q, false],
    ]);
    expect(c.got[1]!.fields.deliveryTag).toBe(c.got[0]!.fields.deliveryTag + 1);
  });
});

describe("errors on acks", () => {
  it("acking an unknown delivery tag closes the channel with 406; the connection keeps working", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closed = serverClose(ch);
    const q = await queueWith(ch, "badtag", 1);
    const m0 = await ch.get(q);
    if (!m0) throw new Error("basic.get found nothing");
    ch.ack({ ...m0, fields: { ...m0.fields, deliveryTag: 999 } });
    expect(await closed).toBe(406);
    const ch2 = await conn.createChannel();
    const m = await ch2.get(q, { noAck: true });
    expect(m && m.content.toString()).toBe("m0");
  });

  it("ack multiple=true with a tag that is not outstanding closes the channel with 406 (as RabbitMQ)", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closed = serverClose(ch);
    const q = await queueWith(ch, "multi-bad", 3);
    const msgs: Message[] = [];
    for (let i = 0; i < 3; i++) {
      const m = await ch.get(q);
      if (!m) throw new Error("basic.get found nothing");
      msgs.push(m);
    }
    ch.ack(msgs[1]!);
    // Tag 1 is still outstanding but tag 2 is not: RabbitMQ refuses, acking nothing.
    ch.ack(msgs[1]!, true);
    expect(await closed).toBe(406);
    const ch2 = await conn.createChannel();
    // Tags 1 and 3 were never acked, so the close gave them back.
    expect((await ch2.checkQueue(q)).messageCount).toBe(2);
  });

  it("ack multiple=true with a tag beyond every delivery closes the channel with 406", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closed = serverClose(ch);
    const q = await queueWith(ch, "multi-high", 1);
    const m = await ch.get(q);
    if (!m) throw new Error("basic.get found nothing");
    ch.ack({ ...m, fields: { ...m.fields, deliveryTag: 99 } }, true);
    expect(await closed).toBe(406);
  });

  it("basic.recover with requeue=false is refused with 540 NOT_IMPLEMENTED, as in RabbitMQ", async () => {
    const raw = await RawClient.open(warren.server.amqpPort!);
    try {
      raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
      await raw.expect("channel.open-ok");
      raw.send(1, { name: "basic.recover", args: { requeue: false } });
      const close = await raw.expect("connection.close");
      expect((close.method.args as { replyCode: number }).replyCode).toBe(540);
    } finally {
      raw.close();
    }
  });

  it("ack multiple=true with tag 0 acks everything outstanding", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await queueWith(ch, "multi-zero", 3);
    for (let i = 0; i < 3; i++) await ch.get(q);
    ch.ackAll();
    await ch.close();
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });

  it("acking the same delivery twice closes the channel with 406", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const closed = serverClose(ch);
    const q = await queueWith(ch, "double", 1);
    const m = await ch.get(q);
    if (!m) throw new Error("no message");
    ch.ack(m);
    ch.ack(m);
    expect(await closed).toBe(406);
    // The first ack counted: the message is gone, not requeued by the close.
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });
});
