// Backlogs read back from disk, checked byte by byte through every path that takes a message out
// of a page: a page's buffer is freed once its segment is settled (MessageStore.flushRemovals),
// so a path that read a settled message afterwards would show here as an empty or wrong body.
import type { Channel, ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { managementClient } from "./api-helpers";
import { sleep, uniqueName, waitFor, amqpConnections } from "./messaging-helpers";

const warren = useWarren();
// amqplib leaves Nagle on by default: an ack followed by a get waits ~40 ms for the TCP ACK
// (against RabbitMQ too); this file makes ~1,000 such round trips.
const connect = amqpConnections(() => warren.server.amqpUrl!, { noDelay: true });
const api = managementClient(() => warren.server);

const SIZE = 16 << 10;

function body(i: number, size = SIZE): Buffer {
  const b = Buffer.alloc(size);
  b.writeUInt32BE(i, 0);
  for (let k = 4; k < size; k++) b[k] = (i * 31 + k * 7) & 0xff;
  return b;
}

/** The index a body carries, or a description of what is wrong with it. */
function check(b: Buffer, size = SIZE): number | string {
  if (b.length !== size) return `length ${b.length} != ${size}`;
  const i = b.readUInt32BE(0);
  for (let k = 4; k < size; k++) if (b[k] !== ((i * 31 + k * 7) & 0xff)) return `byte ${k} of #${i} wrong`;
  return i;
}

async function publishAll(ch: ConfirmChannel, q: string, from: number, n: number, opts: (i: number) => object = () => ({})) {
  for (let i = from; i < from + n; i++) ch.sendToQueue(q, body(i), { persistent: true, ...opts(i) });
  await ch.waitForConfirms();
}

/**
 * A connection with a confirm channel `pub`, and a durable queue `q` holding messages 0..n-1
 * (confirmed). deadLetter "dlq": dead-letters into a queue `dlq` declared first; "self": into q.
 */
async function backlog(
  prefix: string,
  n: number,
  opts: { deadLetter?: "dlq" | "self"; args?: Record<string, unknown>; props?: (i: number) => object } = {},
) {
  const conn = await connect();
  const pub = await conn.createConfirmChannel();
  const q = uniqueName(prefix);
  const dlq = opts.deadLetter === "self" ? q : `${q}.dlq`;
  if (opts.deadLetter === "dlq") await pub.assertQueue(dlq, { durable: true });
  const deadLetter = opts.deadLetter ? { "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq } : {};
  await pub.assertQueue(q, { durable: true, arguments: { ...deadLetter, ...opts.args } });
  await publishAll(pub, q, 0, n, opts.props);
  return { conn, pub, q, dlq };
}

function collector() {
  const bad: string[] = [];
  const seen = new Map<number, number>();
  return {
    bad,
    seen,
    take(m: ConsumeMessage, size = SIZE): number {
      const r = check(m.content, size);
      if (typeof r === "string") {
        bad.push(r);
        return -1;
      }
      seen.set(r, (seen.get(r) ?? 0) + 1);
      return r;
    },
  };
}

/**
 * A consumer on a new channel with this prefetch that checks every body; `settle` decides each
 * message's fate (default: ack). Returns its collector and a count of what it received.
 */
async function checkingConsumer(
  conn: ChannelModel,
  q: string,
  prefetch: number,
  settle: (ch: Channel, m: ConsumeMessage, got: number) => void = (ch, m) => ch.ack(m),
) {
  const ch = await conn.createChannel();
  await ch.prefetch(prefetch);
  const c = collector();
  const state = { c, got: 0 };
  await ch.consume(q, (m) => {
    if (!m) return;
    c.take(m);
    state.got++;
    settle(ch, m, state.got);
  });
  return state;
}

async function drainTo(ch: Channel, q: string, n: number, c: ReturnType<typeof collector>, timeout = 60_000) {
  let got = 0;
  const { consumerTag } = await ch.consume(q, (m) => {
    if (!m) return;
    c.take(m);
    got++;
    ch.ack(m);
  });
  await waitFor(() => got >= n, `${n} from ${q} (got ${got})`, timeout);
  await ch.cancel(consumerTag);
}

describe("backlogs read back from disk arrive intact on every path", () => {
  it("A: backlog on disk drained with acks while more is published (publish flushes settles)", async () => {
    const { conn, pub, q } = await backlog("rel-a", 1500);
    const consumer = await checkingConsumer(conn, q, 100);
    for (let k = 0; k < 30; k++) {
      await publishAll(pub, q, 1500 + k * 10, 10);
      await sleep(10);
    }
    await waitFor(() => consumer.got >= 1800, `1800 consumed (got ${consumer.got})`, 60_000);
    expect(consumer.c.bad).toEqual([]);
    expect(consumer.c.seen.size).toBe(1800);
  });

  it("B: reject (DLX) and nack-requeue of backlog messages; dead-lettered and redelivered bodies intact", async () => {
    const N = 1200;
    const { conn, q, dlq } = await backlog("rel-b", N, { deadLetter: "dlq" });
    const ch = await conn.createChannel();
    await ch.prefetch(50);
    const c = collector();
    let done = 0;
    await ch.consume(q, (m) => {
      if (!m) return;
      const i = c.take(m);
      if (i < 0) {
        done++;
        ch.ack(m);
        return;
      }
      if (i % 5 === 0 && !m.fields.redelivered) return ch.nack(m, false, true);
      done++;
      if (i % 2 === 1) ch.nack(m, false, false);
      else ch.ack(m);
    });
    await waitFor(() => done >= N, `all ${N} handled (done ${done})`, 60_000);
    expect(c.bad).toEqual([]);
    const ch2 = await conn.createChannel();
    const d = collector();
    await drainTo(ch2, dlq, N / 2, d);
    expect(d.bad).toEqual([]);
    expect([...d.seen.keys()].every((i) => i % 2 === 1)).toBe(true);
    expect(d.seen.size).toBe(N / 2);
  });

  it("C: TTL expiry of a backlog on disk, dead-lettered: bodies intact", async () => {
    const N = 1200;
    const { conn, dlq } = await backlog("rel-c", N, { deadLetter: "dlq", args: { "x-message-ttl": 1500 } });
    // Nobody consumes: the queue's alarm expires them.
    const ch = await conn.createChannel();
    const d = collector();
    await drainTo(ch, dlq, N, d);
    expect(d.bad).toEqual([]);
    expect(d.seen.size).toBe(N);
  });

  it("D: dead-lettering into the queue itself (reject once, DLX = same queue)", async () => {
    const N = 1000;
    const { conn, q } = await backlog("rel-d", N, { deadLetter: "self" });
    const ch = await conn.createChannel();
    await ch.prefetch(64);
    const c = collector();
    const second = new Set<number>();
    await ch.consume(q, (m) => {
      if (!m) return;
      const i = c.take(m);
      if (m.properties.headers?.["x-death"]) {
        second.add(i);
        ch.ack(m);
      } else ch.nack(m, false, false);
    });
    await waitFor(() => second.size >= N, `all ${N} back once (got ${second.size})`, 60_000);
    expect(c.bad).toEqual([]);
  });

  it("E: basic.get no-ack over a backlog, publishes in between (each publish flushes settles)", async () => {
    const { conn, pub, q } = await backlog("rel-e", 900);
    const ch = await conn.createChannel();
    const bad: string[] = [];
    let next = 900;
    for (let k = 0; k < 900; k++) {
      const m = await ch.get(q, { noAck: k % 3 !== 0 });
      if (!m) throw new Error(`empty at ${k}`);
      const r = check(m.content);
      if (typeof r === "string") bad.push(r);
      if (k % 3 === 0) ch.ack(m);
      if (k % 7 === 0) await publishAll(pub, q, next++, 1);
    }
    expect(bad).toEqual([]);
  });

  it("F: drop-head by a policy on a backlog on disk, dead-lettered: bodies intact", async () => {
    const N = 1200;
    const { conn, q, dlq } = await backlog("rel-f", N, { deadLetter: "dlq" });
    const res = await api("PUT", `/policies/%2F/${q}`, { pattern: `^${q}$`, definition: { "max-length": 100 }, "apply-to": "queues" });
    expect(res.status).toBeLessThan(300);
    const ch = await conn.createChannel();
    const d = collector();
    await drainTo(ch, dlq, N - 100, d);
    expect(d.bad).toEqual([]);
    const c = collector();
    await drainTo(ch, q, 100, c);
    expect(c.bad).toEqual([]);
    await api("DELETE", `/policies/%2F/${q}`);
  });

  it("G: priority queue (255 lanes: tiny lane windows) with a backlog; bodies intact", async () => {
    const N = 1200;
    const { conn, q } = await backlog("rel-g", N, { args: { "x-max-priority": 255 }, props: (i) => ({ priority: i % 3 }) });
    const { c } = await checkingConsumer(conn, q, 20, (ch, m, got) =>
      got % 4 === 0 && !m.fields.redelivered ? ch.nack(m, false, true) : ch.ack(m),
    );
    await waitFor(() => c.seen.size >= N, `all ${N} (seen ${c.seen.size})`, 60_000);
    expect(c.bad).toEqual([]);
  });

  it("H: many consumers attaching to a backlog (early deliveries held before consume-ok)", async () => {
    const N = 1000;
    const { conn, q } = await backlog("rel-h", N);
    const c = collector();
    let got = 0;
    // Not awaited one by one: deliveries may overtake each consume-ok.
    const consumes: Promise<unknown>[] = [];
    for (let k = 0; k < 8; k++) {
      const ch = await conn.createChannel();
      await ch.prefetch(30);
      consumes.push(
        ch.consume(q, (m) => {
          if (!m) return;
          c.take(m);
          got++;
          ch.ack(m);
        }),
      );
    }
    await Promise.all(consumes);
    await waitFor(() => got >= N, `all ${N} (got ${got})`, 60_000);
    expect(c.bad).toEqual([]);
  });

  it("I: no-ack consumer on a backlog, the connection closes mid-way; the rest is intact on a second connection", async () => {
    const { conn, q } = await backlog("rel-i", 1500);
    const conn2 = await connect();
    const ch = await conn2.createChannel();
    const c = collector();
    let got = 0;
    await ch.consume(
      q,
      (m) => {
        if (!m) return;
        c.take(m);
        got++;
      },
      { noAck: true },
    );
    await waitFor(() => got >= 200, "200", 30_000);
    await conn2.close();
    const ch3 = await conn.createChannel();
    const left = (await ch3.checkQueue(q)).messageCount;
    const d = collector();
    await drainTo(ch3, q, left, d);
    expect(c.bad).toEqual([]);
    expect(d.bad).toEqual([]);
  });
});
