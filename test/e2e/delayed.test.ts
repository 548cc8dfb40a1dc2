// The delayed-message exchange (exchange/delayed.ts), driven as users of RabbitMQ's
// rabbitmq_delayed_message_exchange plugin drive it, with amqplib.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import amqp, { type Channel, type ConsumeMessage } from "amqplib";
import { afterAll, describe, expect, it } from "vitest";
import { startWarren } from "../../scripts/warren-server.mjs";
import { managementClient } from "./api-helpers";
import { useWarren } from "./harness";
import { amqpConnections, uniqueName, waitFor } from "./messaging-helpers";

const warren = useWarren();
const connect = amqpConnections(() => warren.server.amqpUrl!);
const api = managementClient(() => warren.server);

/** How late a due message may arrive here (the requirement is ~100 ms; a loaded test machine adds some). */
const LATE_MS = 600;

interface Arrival {
  body: string;
  at: number;
  queue: string;
  headers: Record<string, unknown>;
}

/** Consumes `queues` (no-ack), recording each message's body, arrival time and headers. */
async function record(ch: Channel, ...queues: string[]): Promise<Arrival[]> {
  const got: Arrival[] = [];
  for (const queue of queues) {
    await ch.consume(
      queue,
      (m: ConsumeMessage | null) => {
        if (m) got.push({ body: m.content.toString(), at: Date.now(), queue, headers: m.properties.headers ?? {} });
      },
      { noAck: true },
    );
  }
  return got;
}

/** A delayed-message exchange routing as `type`, and a fresh queue bound to it per key. */
async function delayedExchange(ch: Channel, type: string, bindings: Record<string, string[]> = {}, args: Record<string, unknown> = {}) {
  const exchange = uniqueName("delayed");
  await ch.assertExchange(exchange, "x-delayed-message", { durable: false, arguments: { "x-delayed-type": type, ...args } });
  const queues: Record<string, string> = {};
  for (const [name, keys] of Object.entries(bindings)) {
    const q = (await ch.assertQueue("", { exclusive: true })).queue;
    for (const key of keys) await ch.bindQueue(q, exchange, key);
    queues[name] = q;
  }
  return { exchange, queues };
}

describe("x-delayed-message exchange", () => {
  it("is declared with x-delayed-type; without one 406, x-delayed-message as the type 406, an unknown type 503 (the plugin's texts)", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const name = uniqueName("delayed-decl");
    await ch.assertExchange(name, "x-delayed-message", { durable: false, arguments: { "x-delayed-type": "topic" } });
    // A redeclare compares what RabbitMQ compares for this type (alternate-exchange only).
    await ch.assertExchange(name, "x-delayed-message", { durable: false, arguments: { "x-delayed-type": "fanout" } });
    await ch.close();

    /** The server's close (of the channel, or of the whole connection) for declaring with these arguments. */
    async function declareError(args: Record<string, unknown>): Promise<string> {
      const c = await connect();
      const och = await c.createChannel();
      const errors: string[] = [];
      och.on("error", (err: Error) => errors.push(err.message));
      c.on("error", (err: Error) => errors.push(err.message));
      await och.assertExchange(uniqueName("d"), "x-delayed-message", { durable: false, arguments: args }).catch(() => undefined);
      await waitFor(() => errors.length > 0, "the server's close");
      return errors[0]!;
    }
    expect(await declareError({})).toMatch(
      /^Channel closed by server: 406 .*Invalid argument, 'x-delayed-type' must be an existing exchange type/,
    );
    expect(await declareError({ "x-delayed-type": "x-delayed-message" })).toMatch(
      /^Channel closed by server: 406 .*Invalid argument, 'x-delayed-message' can't be used for 'x-delayed-type'/,
    );
    expect(await declareError({ "x-delayed-type": "nope" })).toMatch(/^Connection closed: 503 .*unknown exchange type 'nope'/);
  });

  it("holds each message until its x-delay has passed (never early), then delivers in due order with x-delay made negative", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] });
    const got = await record(ch, queues.q!);
    const sent = new Map<string, { at: number; delay: number }>();
    for (const [body, delay] of [
      ["late", 900],
      ["early", 300],
      ["middle", 600],
    ] as const) {
      sent.set(body, { at: Date.now(), delay });
      ch.publish(exchange, "k", Buffer.from(body), { headers: { "x-delay": delay } });
    }
    sent.set("now", { at: Date.now(), delay: 0 });
    ch.publish(exchange, "k", Buffer.from("now"));
    await ch.waitForConfirms();
    await waitFor(() => got.length === 4, "four deliveries", 5000);
    expect(got.map((a) => a.body)).toEqual(["now", "early", "middle", "late"]);
    for (const a of got) {
      const s = sent.get(a.body)!;
      expect(a.at - s.at, `${a.body}: not early`).toBeGreaterThanOrEqual(s.delay);
      expect(a.at - s.at, `${a.body}: on time`).toBeLessThan(s.delay + LATE_MS);
      expect(a.headers["x-delay"]).toBe(s.delay === 0 ? undefined : -s.delay);
    }
  });

  it("messages due at the same time come out in publish order", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "fanout", { q: [""] });
    const got = await record(ch, queues.q!);
    const bodies = Array.from({ length: 60 }, (_, i) => `m${i}`);
    // Two publish batches: the first 30 share a due time, and so do the last 30.
    for (const b of bodies.slice(0, 30)) ch.publish(exchange, "", Buffer.from(b), { headers: { "x-delay": 400 } });
    await ch.waitForConfirms();
    for (const b of bodies.slice(30)) ch.publish(exchange, "", Buffer.from(b), { headers: { "x-delay": 400 } });
    await ch.waitForConfirms();
    await waitFor(() => got.length === bodies.length, "every message", 5000);
    expect(got.map((a) => a.body)).toEqual(bodies);
  });

  it("x-delay missing, zero, negative or not a number routes at once, as the plugin does", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] });
    const got = await record(ch, queues.q!);
    ch.publish(exchange, "k", Buffer.from("none"));
    ch.publish(exchange, "k", Buffer.from("zero"), { headers: { "x-delay": 0 } });
    ch.publish(exchange, "k", Buffer.from("negative"), { headers: { "x-delay": -5000 } });
    ch.publish(exchange, "k", Buffer.from("text"), { headers: { "x-delay": "soon" } });
    ch.publish(exchange, "k", Buffer.from("marker"), { headers: { "x-delay": "200" } });
    await ch.waitForConfirms();
    await waitFor(() => got.length === 5, "five deliveries", 5000);
    expect(got.map((a) => a.body)).toEqual(["none", "zero", "negative", "text", "marker"]);
    expect(got[4]!.headers["x-delay"]).toBe(-200);
  });

  it("routes as its x-delayed-type when due: topic", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "topic", { a: ["a.*"], z: ["#.z"], marker: ["marker"] });
    const got = await record(ch, queues.a!, queues.z!, queues.marker!);
    for (const key of ["a.b", "x.z", "a.z", "nothing.here"]) {
      ch.publish(exchange, key, Buffer.from(key), { headers: { "x-delay": 200 } });
    }
    ch.publish(exchange, "marker", Buffer.from("marker"), { headers: { "x-delay": 300 } });
    await ch.waitForConfirms();
    await waitFor(() => got.some((a) => a.body === "marker"), "the marker", 5000);
    const where = (q: string) => got.filter((a) => a.queue === q).map((a) => a.body);
    expect(where(queues.a!)).toEqual(["a.b", "a.z"]);
    expect(where(queues.z!)).toEqual(["x.z", "a.z"]);
    expect(got).toHaveLength(5);
  });

  it("a confirm means the exchange has stored the message: the management API counts it (messages_delayed) until it is due; a mandatory one comes back at once (the plugin cannot route it yet)", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] });
    const returned: string[] = [];
    ch.on("return", (m: ConsumeMessage) => returned.push(m.content.toString()));
    for (let i = 0; i < 3; i++) ch.publish(exchange, "k", Buffer.from(`m${i}`), { headers: { "x-delay": 1200 }, mandatory: true });
    await ch.waitForConfirms();
    const one = await api("GET", `/exchanges/%2F/${exchange}`);
    expect(one.status).toBe(200);
    expect(one.body).toMatchObject({ name: exchange, type: "x-delayed-message", messages_delayed: 3 });
    const all = (await api("GET", "/exchanges/%2F")).body as { name: string; messages_delayed?: number }[];
    expect(all.find((x) => x.name === exchange)?.messages_delayed).toBe(3);
    expect(all.find((x) => x.name === "amq.direct")).not.toHaveProperty("messages_delayed");
    expect((await ch.checkQueue(queues.q!)).messageCount).toBe(0);
    // Returned before the confirm, as RabbitMQ sends basic.return before basic.ack.
    expect(returned).toEqual(["m0", "m1", "m2"]);
    const got = await record(ch, queues.q!);
    await waitFor(() => got.length === 3, "three deliveries", 5000);
    const after = await api("GET", `/exchanges/%2F/${exchange}`);
    expect((after.body as { messages_delayed: number }).messages_delayed).toBe(0);
  });

  it("30 days, 2^32 ms and far beyond are held, not routed at once; deleting the exchange drops what it holds", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] });
    const day = 86_400_000;
    for (const delay of [30 * day, 2 ** 32, 2 ** 52, 2 ** 62]) {
      ch.publish(exchange, "k", Buffer.from(String(delay)), { headers: { "x-delay": delay } });
    }
    ch.publish(exchange, "k", Buffer.from("marker"), { headers: { "x-delay": 100 } });
    await ch.waitForConfirms();
    const got = await record(ch, queues.q!);
    await waitFor(() => got.length === 1, "the marker", 5000);
    expect(got.map((a) => a.body)).toEqual(["marker"]);
    expect(((await api("GET", `/exchanges/%2F/${exchange}`)).body as { messages_delayed: number }).messages_delayed).toBe(4);
    await ch.deleteExchange(exchange);
    await ch.assertExchange(exchange, "x-delayed-message", { durable: false, arguments: { "x-delayed-type": "direct" } });
    expect(((await api("GET", `/exchanges/%2F/${exchange}`)).body as { messages_delayed: number }).messages_delayed).toBe(0);
  });

  it("unroutable when due: to the alternate exchange if there is one (not at publish, unlike the plugin), else dropped", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const ae = uniqueName("delayed-ae");
    await ch.assertExchange(ae, "fanout", { durable: false });
    const aeQueue = (await ch.assertQueue("", { exclusive: true })).queue;
    await ch.bindQueue(aeQueue, ae, "");
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] }, { "alternate-exchange": ae });
    ch.publish(exchange, "nowhere", Buffer.from("unroutable"), { headers: { "x-delay": 300 } });
    await ch.waitForConfirms();
    expect((await ch.checkQueue(aeQueue)).messageCount).toBe(0);
    const got = await record(ch, aeQueue, queues.q!);
    ch.publish(exchange, "k", Buffer.from("marker"), { headers: { "x-delay": 400 } });
    await ch.waitForConfirms();
    await waitFor(() => got.length === 2, "the unroutable message and the marker", 5000);
    expect(got.map((a) => [a.queue, a.body])).toEqual([
      [aeQueue, "unroutable"],
      [queues.q!, "marker"],
    ]);
  });

  it("a delayed-message exchange reached through an exchange-to-exchange binding holds the message too", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const { exchange, queues } = await delayedExchange(ch, "direct", { q: ["k"] });
    const front = uniqueName("front");
    await ch.assertExchange(front, "direct", { durable: false });
    await ch.bindExchange(exchange, front, "k");
    const got = await record(ch, queues.q!);
    const at = Date.now();
    ch.publish(front, "k", Buffer.from("via e2e"), { headers: { "x-delay": 300 } });
    await ch.waitForConfirms();
    await waitFor(() => got.length === 1, "the delivery", 5000);
    expect(got[0]!.at - at).toBeGreaterThanOrEqual(300);
    expect(got[0]!.headers["x-delay"]).toBe(-300);
  });
});

describe("x-delayed-message exchange across a broker restart", () => {
  const dirs: string[] = [];
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("a message held when the broker stops arrives after the restart, when it is due", async () => {
    const dataDir = await mkdtemp(join(tmpdir(), "warren-delayed-"));
    dirs.push(dataDir);
    const options = { httpPort: 0, amqpPort: 0, dataDir, build: false, quiet: true };
    const first = await startWarren(options);
    let publishedAt: number;
    try {
      const conn = await amqp.connect(first.amqpUrl!);
      const ch = await conn.createConfirmChannel();
      await ch.assertExchange("restart.delayed", "x-delayed-message", { durable: true, arguments: { "x-delayed-type": "direct" } });
      await ch.assertQueue("restart.delayed.q", { durable: true });
      await ch.bindQueue("restart.delayed.q", "restart.delayed", "k");
      publishedAt = Date.now();
      ch.publish("restart.delayed", "k", Buffer.from("held"), { headers: { "x-delay": 3000 }, persistent: true });
      await ch.waitForConfirms();
      expect((await ch.checkQueue("restart.delayed.q")).messageCount).toBe(0);
      await conn.close();
    } finally {
      await first.close();
    }

    const second = await startWarren(options);
    try {
      const restartedAt = Date.now();
      const conn = await amqp.connect(second.amqpUrl!);
      const ch = await conn.createChannel();
      const got = await record(ch, "restart.delayed.q");
      await waitFor(() => got.length === 1, "the held message", 8000);
      expect(got[0]!.body).toBe("held");
      expect(got[0]!.at - publishedAt).toBeGreaterThanOrEqual(3000);
      // On time, unless the restart itself took longer than the delay.
      expect(got[0]!.at - Math.max(publishedAt + 3000, restartedAt)).toBeLessThan(LATE_MS);
      await conn.close();
    } finally {
      await second.close();
    }
  });
});
