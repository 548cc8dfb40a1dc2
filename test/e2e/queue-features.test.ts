import amqp, { type Channel, type ConsumeMessage } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { managementClient } from "./api-helpers";
import { useWarren } from "./harness";
import { waitFor } from "./messaging-helpers";

// Queue features with a real client (amqplib): TTL, dead-lettering with x-death, length limits
// and their overflow modes, delivery limits. Times are short (tens to hundreds of ms).

const warren = useWarren();
let conn: amqp.ChannelModel;
let ch: Channel;
let n = 0;
const name = (what: string) => `qf.${what}.${++n}.${Date.now().toString(36)}`;

beforeAll(async () => {
  conn = await amqp.connect(warren.server.amqpUrl!);
  ch = await conn.createChannel();
});
afterAll(async () => {
  await conn.close();
});

/** Collects what a queue delivers (manual ack unless told). */
async function collect(channel: Channel, queue: string, noAck = true): Promise<ConsumeMessage[]> {
  const got: ConsumeMessage[] = [];
  await channel.consume(queue, (m) => m && got.push(m), { noAck });
  return got;
}

type Death = { count: bigint | number; reason: string; queue: string; exchange: string; "routing-keys": string[] };
const deaths = (m: ConsumeMessage) => (m.properties.headers?.["x-death"] ?? []) as Death[];

describe("message TTL", () => {
  it("x-message-ttl: expired messages are never delivered, and are dead-lettered with x-death (reason expired) by the alarm, with nobody consuming", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("ttl");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-ttl": 200, "x-dead-letter-exchange": dlx } });
    const got = await collect(ch, dead);
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from(`m${i}`), { headers: { keep: "me" } });
    await waitFor(() => got.length === 3, "three dead-lettered messages", 5000);
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    expect(got.map((m) => m.content.toString())).toEqual(["m0", "m1", "m2"]);
    const d = deaths(got[0]!);
    expect(d).toHaveLength(1);
    expect(Number(d[0]!.count)).toBe(1);
    expect(d[0]).toMatchObject({ reason: "expired", queue: q, exchange: "", "routing-keys": [q] });
    expect(got[0]!.properties.headers).toMatchObject({
      keep: "me",
      "x-first-death-reason": "expired",
      "x-first-death-queue": q,
      "x-last-death-reason": "expired",
    });
    // basic.get finds nothing either: an expired message is not delivered.
    ch.sendToQueue(q, Buffer.from("late"));
    await waitFor(() => got.length === 4, "the fourth", 5000);
    expect(await ch.get(q)).toBe(false);
  });

  it("per-message expiration: the lower of it and x-message-ttl wins; original-expiration is kept in x-death", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("ttl2");
    await ch.assertExchange(dlx, "direct", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "to-dead");
    await ch.assertQueue(q, {
      exclusive: true,
      arguments: { "x-message-ttl": 60_000, "x-dead-letter-exchange": dlx, "x-dead-letter-routing-key": "to-dead" },
    });
    const got = await collect(ch, dead);
    const sent = Date.now();
    ch.sendToQueue(q, Buffer.from("short"), { expiration: "150" });
    await waitFor(() => got.length === 1, "the expired message", 5000);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(140);
    const m = got[0]!;
    expect(m.fields.routingKey).toBe("to-dead");
    expect(m.properties.expiration).toBeUndefined();
    expect(deaths(m)[0]).toMatchObject({ reason: "expired", "original-expiration": "150" });
  });

  it("TTL 0: delivered when a consumer can take it at once, expired otherwise", async () => {
    const q = name("ttl0");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-ttl": 0 } });
    ch.sendToQueue(q, Buffer.from("nobody"));
    // Ordered after the publish on this channel: the queue has it (and nobody could take it).
    expect((await ch.checkQueue(q)).consumerCount).toBe(0);
    const other = await conn.createChannel();
    const got = await collect(other, q);
    ch.sendToQueue(q, Buffer.from("someone"));
    await waitFor(() => got.length === 1, "the message with a consumer waiting", 5000);
    expect(got.map((m) => m.content.toString())).toEqual(["someone"]);
    await other.close();
  });
});

describe("dead-lettering", () => {
  it("reject and nack without requeue dead-letter (reason rejected); requeue=true does not", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("work");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-dead-letter-exchange": dlx } });
    const deadGot = await collect(ch, dead);
    const worker = await conn.createChannel();
    const seen: ConsumeMessage[] = [];
    await worker.consume(q, (m) => {
      if (!m) return;
      seen.push(m);
      const body = m.content.toString();
      if (body === "reject") worker.reject(m, false);
      else if (body === "nack") worker.nack(m, false, false);
      else if (body === "again" && !m.fields.redelivered) worker.nack(m, false, true);
      else worker.ack(m);
    });
    for (const b of ["reject", "nack", "again", "ok"]) ch.sendToQueue(q, Buffer.from(b));
    await waitFor(() => deadGot.length === 2 && seen.length === 5, "two dead-lettered, five deliveries", 5000);
    expect(deadGot.map((m) => m.content.toString()).sort()).toEqual(["nack", "reject"]);
    for (const m of deadGot) expect(deaths(m)[0]).toMatchObject({ reason: "rejected", queue: q });
    await worker.close();
  });

  it("the retry pattern: work → reject → DLX → wait queue with TTL → back to work, three rounds, x-death counts 3", async () => {
    const retry = name("retry-x");
    const back = name("back-x");
    const work = name("work");
    const wait = name("wait");
    await ch.assertExchange(retry, "fanout", { durable: false, autoDelete: false });
    await ch.assertExchange(back, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(work, { exclusive: true, arguments: { "x-dead-letter-exchange": retry } });
    await ch.assertQueue(wait, { exclusive: true, arguments: { "x-message-ttl": 50, "x-dead-letter-exchange": back } });
    await ch.bindQueue(wait, retry, "");
    await ch.bindQueue(work, back, "");
    const worker = await conn.createChannel();
    const seen: ConsumeMessage[] = [];
    await worker.consume(work, (m) => {
      if (!m) return;
      seen.push(m);
      if (seen.length <= 3) worker.reject(m, false);
      else worker.ack(m);
    });
    ch.sendToQueue(work, Buffer.from("job"));
    await waitFor(() => seen.length === 4, "the fourth attempt", 8000);
    const last = seen[3]!;
    const byKey = new Map(deaths(last).map((d) => [`${d.queue}/${d.reason}`, Number(d.count)]));
    expect(byKey.get(`${work}/rejected`)).toBe(3);
    expect(byKey.get(`${wait}/expired`)).toBe(3);
    expect(last.properties.headers).toMatchObject({ "x-first-death-reason": "rejected", "x-first-death-queue": work });
    await worker.close();
  });

  it("a TTL cycle without rejections is dropped, as RabbitMQ does: the queue's own death is found in x-death", async () => {
    const x = name("cycle-x");
    const q = name("cycle");
    const observer = name("observer");
    await ch.assertExchange(x, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-ttl": 30, "x-dead-letter-exchange": x } });
    await ch.assertQueue(observer, { exclusive: true });
    await ch.bindQueue(q, x, "");
    await ch.bindQueue(observer, x, "");
    const seen = await collect(ch, observer);
    ch.sendToQueue(q, Buffer.from("loop"));
    await waitFor(() => seen.length === 1, "the dead-lettered copy", 5000);
    // The copy for the queue itself was dropped (a cycle), so it is not back in the queue; and a
    // marker sent after it reaches the observer with no second copy of the loop before it.
    expect((await ch.checkQueue(q)).messageCount).toBe(0);
    ch.sendToQueue(observer, Buffer.from("marker"));
    await waitFor(() => seen.some((m) => m.content.toString() === "marker"), "the marker", 5000);
    expect(seen.map((m) => m.content.toString())).toEqual(["loop", "marker"]);
    expect(deaths(seen[0]!)[0]).toMatchObject({ reason: "expired", queue: q });
  });
});

describe("length limits", () => {
  it("drop-head (default): the oldest go, dead-lettered with reason maxlen", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("maxlen");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-length": 3, "x-dead-letter-exchange": dlx } });
    const deadGot = await collect(ch, dead);
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await waitFor(() => deadGot.length === 2, "two dropped", 5000);
    expect(deadGot.map((m) => m.content.toString())).toEqual(["m0", "m1"]);
    expect(deaths(deadGot[0]!)[0]).toMatchObject({ reason: "maxlen" });
    const left: string[] = [];
    for (;;) {
      const m = await ch.get(q, { noAck: true });
      if (!m) break;
      left.push(m.content.toString());
    }
    expect(left).toEqual(["m2", "m3", "m4"]);
  });

  it("x-max-length-bytes counts bodies", async () => {
    const q = name("maxbytes");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-length-bytes": 25 } });
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.alloc(10, 65 + i));
    // The passive declare comes after the publishes on this channel, so they are in.
    expect((await ch.checkQueue(q)).messageCount).toBe(2);
    const api = managementClient(() => warren.server);
    const shown = (await api("GET", `/queues/%2F/${encodeURIComponent(q)}`)).body as Record<string, number>;
    expect([shown.message_bytes_ready, shown.message_bytes_unacknowledged, shown.message_bytes]).toEqual([20, 0, 20]);
    const m = await ch.get(q, { noAck: true });
    expect(m && m.content.toString()).toBe("DDDDDDDDDD");
  });

  it("reject-publish: publishes over the limit are nacked under confirms; the queue keeps the first", async () => {
    const q = name("reject");
    const cc = await conn.createConfirmChannel();
    await cc.assertQueue(q, { exclusive: true, arguments: { "x-max-length": 2, "x-overflow": "reject-publish" } });
    const results = await Promise.all(
      [0, 1, 2, 3].map(
        (i) => new Promise<string>((resolve) => cc.sendToQueue(q, Buffer.from(`m${i}`), {}, (err) => resolve(err ? "nack" : "ack"))),
      ),
    );
    expect(results).toEqual(["ack", "ack", "nack", "nack"]);
    expect((await cc.checkQueue(q)).messageCount).toBe(2);
    await cc.close();
  });

  it("reject-publish-dlx: nacked and dead-lettered (reason maxlen)", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("rejectdlx");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    const deadGot = await collect(ch, dead);
    const cc = await conn.createConfirmChannel();
    await cc.assertQueue(q, {
      exclusive: true,
      arguments: { "x-max-length": 1, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": dlx },
    });
    const results = await Promise.all(
      [0, 1].map(
        (i) => new Promise<string>((resolve) => cc.sendToQueue(q, Buffer.from(`m${i}`), {}, (err) => resolve(err ? "nack" : "ack"))),
      ),
    );
    expect(results).toEqual(["ack", "nack"]);
    await waitFor(() => deadGot.length === 1, "the refused message dead-lettered", 5000);
    expect(deadGot[0]!.content.toString()).toBe("m1");
    expect(deaths(deadGot[0]!)[0]).toMatchObject({ reason: "maxlen", queue: q });
    await cc.close();
  });
});

describe("quorum queues: delivery count and limit", () => {
  it("x-delivery-count on redeliveries; past x-delivery-limit the message is dead-lettered (reason delivery_limit)", async () => {
    const dlx = name("dlx");
    const dead = name("dead");
    const q = name("quorum");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    await ch.assertQueue(q, {
      durable: true,
      arguments: { "x-queue-type": "quorum", "x-delivery-limit": 2, "x-dead-letter-exchange": dlx },
    });
    const deadGot = await collect(ch, dead);
    const worker = await conn.createChannel();
    const counts: (number | undefined)[] = [];
    await worker.consume(q, (m) => {
      if (!m) return;
      const c = m.properties.headers?.["x-delivery-count"];
      counts.push(c === undefined ? undefined : Number(c));
      worker.nack(m, false, true);
    });
    ch.sendToQueue(q, Buffer.from("poison"));
    await waitFor(() => deadGot.length === 1, "the poison message dead-lettered", 5000);
    expect(counts).toEqual([undefined, 1, 2]);
    expect(deaths(deadGot[0]!)[0]).toMatchObject({ reason: "delivery_limit", queue: q });
    await worker.close();
    await ch.deleteQueue(q);
  });
});

describe("queue expiry (x-expires)", () => {
  it("an unused queue is deleted after x-expires; consumers, basic.get and redeclares keep it", async () => {
    const q = name("expires");
    const other = await conn.createChannel();
    await other.assertQueue(q, { arguments: { "x-expires": 300 } });
    // Used every 100 ms for 600 ms (get, redeclare): it stays.
    for (let i = 0; i < 3; i++) {
      await new Promise((r) => setTimeout(r, 100));
      await other.get(q);
      await new Promise((r) => setTimeout(r, 100));
      await other.assertQueue(q, { arguments: { "x-expires": 300 } });
    }
    // A consumer keeps it however long; it leaves, and the queue goes 300 ms later.
    const { consumerTag } = await other.consume(q, () => undefined);
    await new Promise((r) => setTimeout(r, 400));
    expect((await other.checkQueue(q)).consumerCount).toBe(1);
    await other.cancel(consumerTag);
    const deadline = Date.now() + 5000;
    let gone = false;
    while (!gone && Date.now() < deadline) {
      const probe = await conn.createChannel();
      probe.on("error", () => undefined);
      try {
        await probe.checkQueue(q);
        await probe.close();
        await new Promise((r) => setTimeout(r, 50));
      } catch (err) {
        expect(String(err)).toContain("404");
        gone = true;
      }
    }
    expect(gone).toBe(true);
    await other.close();
  });
});

describe("consumers", () => {
  it("single active consumer: only the first registered receives; the next takes over on cancel, then on connection loss", async () => {
    const q = name("sac");
    await ch.assertQueue(q, { arguments: { "x-single-active-consumer": true } });
    const c1 = await conn.createChannel();
    const c2 = await conn.createChannel();
    const otherConn = await amqp.connect(warren.server.amqpUrl!);
    const c3 = await otherConn.createChannel();
    const got: [string, string][] = [];
    const tag1 = (await c1.consume(q, (m) => m && got.push(["c1", m.content.toString()]), { noAck: true })).consumerTag;
    await c3.consume(q, (m) => m && got.push(["c3", m.content.toString()]), { noAck: true });
    await c2.consume(q, (m) => m && got.push(["c2", m.content.toString()]), { noAck: true });
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`a${i}`));
    await waitFor(() => got.length === 5, "the first five", 5000);
    expect(new Set(got.map(([who]) => who))).toEqual(new Set(["c1"]));
    await c1.cancel(tag1);
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`b${i}`));
    await waitFor(() => got.length === 10, "the next five", 5000);
    expect(new Set(got.slice(5).map(([who]) => who))).toEqual(new Set(["c3"]));
    await otherConn.close();
    for (let i = 0; i < 5; i++) ch.sendToQueue(q, Buffer.from(`c${i}`));
    await waitFor(() => got.length === 15, "the last five", 5000);
    expect(new Set(got.slice(10).map(([who]) => who))).toEqual(new Set(["c2"]));
    await c1.close();
    await c2.close();
    await ch.deleteQueue(q);
  });

  it("consumer priorities: the higher priority gets messages while it has room; equals share round-robin", async () => {
    const q = name("prio-consumers");
    await ch.assertQueue(q, { exclusive: true });
    const high = await conn.createChannel();
    const low = await conn.createChannel();
    await high.prefetch(3);
    await low.prefetch(100);
    const got: string[] = [];
    const highHeld: ConsumeMessage[] = [];
    await high.consume(
      q,
      (m) => {
        if (!m) return;
        got.push("high");
        highHeld.push(m);
      },
      { arguments: { "x-priority": 10 } },
    );
    await low.consume(q, (m) => m && got.push("low"), { noAck: true });
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await waitFor(() => got.length === 10, "all ten", 5000);
    // The high-priority consumer took what its prefetch allowed (3), the rest went to the other.
    expect(got.filter((w) => w === "high")).toHaveLength(3);
    expect(got.slice(0, 3)).toEqual(["high", "high", "high"]);
    for (const m of highHeld) high.ack(m);
    await high.close();
    await low.close();
  });
});

describe("priority queues (x-max-priority)", () => {
  it("higher priority first, FIFO within a priority; a requeued message keeps its priority", async () => {
    const q = name("priority");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-max-priority": 10 } });
    const sent: [string, number | undefined][] = [
      ["low-1", 1],
      ["none-1", undefined],
      ["high-1", 9],
      ["mid-1", 5],
      ["high-2", 9],
      ["over-max", 200],
      ["low-2", 1],
    ];
    for (const [body, priority] of sent) ch.sendToQueue(q, Buffer.from(body), priority === undefined ? {} : { priority });
    expect((await ch.checkQueue(q)).messageCount).toBe(7);
    const worker = await conn.createChannel();
    await worker.prefetch(1);
    const order: string[] = [];
    let requeued = false;
    await worker.consume(q, (m) => {
      if (!m) return;
      order.push(`${m.content.toString()}${m.fields.redelivered ? "*" : ""}`);
      // The first "mid" goes back once: it comes again before the lower priorities.
      if (m.content.toString() === "mid-1" && !requeued) {
        requeued = true;
        worker.nack(m, false, true);
      } else worker.ack(m);
    });
    await waitFor(() => order.length === 8, "all eight deliveries", 5000);
    expect(order).toEqual(["over-max", "high-1", "high-2", "mid-1", "mid-1*", "low-1", "low-2", "none-1"]);
    await worker.close();
  });
});

describe("policies", () => {
  const api = managementClient(() => warren.server);

  it("a policy applies to existing and new queues at once; the lower of argument and policy limit wins; deleting it lifts it", async () => {
    const prefix = name("pol");
    const dlx = name("pol-dlx");
    const dead = name("pol-dead");
    await ch.assertExchange(dlx, "fanout", { durable: false, autoDelete: false });
    await ch.assertQueue(dead, { exclusive: true });
    await ch.bindQueue(dead, dlx, "");
    const deadGot = await collect(ch, dead);
    const existing = `${prefix}.existing`;
    const limited = `${prefix}.limited`;
    await ch.assertQueue(existing, { exclusive: true });
    await ch.assertQueue(limited, { exclusive: true, arguments: { "x-max-length": 1 } });
    for (let i = 0; i < 4; i++) ch.sendToQueue(existing, Buffer.from(`e${i}`));
    for (let i = 0; i < 4; i++) ch.sendToQueue(limited, Buffer.from(`l${i}`));
    expect((await ch.checkQueue(existing)).messageCount).toBe(4);
    const policy = {
      pattern: `^${prefix.replaceAll(".", "\\.")}\\.`,
      definition: { "max-length": 2, "dead-letter-exchange": dlx },
      priority: 5,
      "apply-to": "queues",
    };
    expect((await api("PUT", `/policies/%2F/${prefix}`, policy)).status).toBe(201);
    // The existing queue drops its two oldest to the policy's DLX; the argument's lower limit stays.
    expect((await ch.checkQueue(existing)).messageCount).toBe(2);
    expect((await ch.checkQueue(limited)).messageCount).toBe(1);
    await waitFor(() => deadGot.length === 2, "the two dropped by the policy", 5000);
    expect(deadGot.map((m) => m.content.toString())).toEqual(["e0", "e1"]);
    const shown = (await api("GET", `/queues/%2F/${encodeURIComponent(existing)}`)).body as { policy: string | null };
    expect(shown.policy).toBe(prefix);
    // A queue declared afterwards gets it too.
    const later = `${prefix}.later`;
    await ch.assertQueue(later, { exclusive: true });
    for (let i = 0; i < 3; i++) ch.sendToQueue(later, Buffer.from(`n${i}`));
    expect((await ch.checkQueue(later)).messageCount).toBe(2);
    // Deleted: no limit any more.
    expect((await api("DELETE", `/policies/%2F/${prefix}`)).status).toBe(204);
    for (let i = 0; i < 3; i++) ch.sendToQueue(existing, Buffer.from(`x${i}`));
    expect((await ch.checkQueue(existing)).messageCount).toBe(5);
  });
});

describe("dead-lettering into a delayed-message exchange", () => {
  it("an expired message dead-lettered to an x-delayed-message exchange is held for its x-delay, then delivered", async () => {
    const delayed = name("dl-delayed");
    const target = name("dl-target");
    const q = name("dl-source");
    await ch.assertExchange(delayed, "x-delayed-message", { durable: false, autoDelete: false, arguments: { "x-delayed-type": "fanout" } });
    await ch.assertQueue(target, { exclusive: true });
    await ch.bindQueue(target, delayed, "");
    await ch.assertQueue(q, { exclusive: true, arguments: { "x-message-ttl": 20, "x-dead-letter-exchange": delayed } });
    const got = await collect(ch, target);
    const sent = Date.now();
    ch.sendToQueue(q, Buffer.from("later"), { headers: { "x-delay": 300 } });
    await waitFor(() => got.length === 1, "the delayed dead letter", 5000);
    expect(Date.now() - sent).toBeGreaterThanOrEqual(300);
    expect(deaths(got[0]!)[0]).toMatchObject({ reason: "expired", queue: q });
  });
});
