import { createHash, randomBytes } from "node:crypto";
import type { Channel, ConsumeMessage, Options } from "amqplib";
import { AMQPWebSocketClient } from "@cloudamqp/amqp-client";
import { describe, expect, it } from "vitest";
import { FrameWriter, encodeContentHeader, table, type BasicProperties } from "../../src/amqp";
import { useWarren } from "./harness";
import { serverClose, sleep, uniqueName, waitFor, amqpConnections } from "./messaging-helpers";
import { RawClient } from "./raw-client";

const warren = useWarren();
const connect = amqpConnections(() => warren.server.amqpUrl!);

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");

/** Every field type amqplib can put in a table, nested in tables and arrays. */
const HEADERS_SENT = {
  str: "plain",
  utf8: "héllo ✓ 🐇",
  empty: "",
  byte: 7,
  negByte: -128,
  short: 1000,
  int: 100_000,
  negInt: -2_000_000_000,
  long: 2 ** 40,
  negLong: -(2 ** 50),
  double: 1.5,
  negDouble: -0.125,
  yes: true,
  no: false,
  nil: null,
  buf: Buffer.from([0, 1, 127, 128, 255]),
  emptyBuf: Buffer.alloc(0),
  arr: [1, "two", true, 2.5, null, [3, [4]], { k: "v" }, Buffer.from("xy")],
  emptyArr: [],
  nested: { a: { b: { c: [1, { d: "deep" }], e: null }, f: 2 ** 33 }, g: {} },
  timestamp: { "!": "timestamp", value: 1_700_000_000 },
  decimal: { "!": "decimal", value: { places: 2, digits: 12345 } },
  uint8: { "!": "uint8", value: 200 },
  uint16: { "!": "uint16", value: 60_000 },
  uint32: { "!": "uint32", value: 4_000_000_000 },
  float: { "!": "float", value: 0.5 },
  int64: { "!": "int64", value: 3 },
};

/** What amqplib decodes the table above into. */
const HEADERS_RECEIVED = {
  ...HEADERS_SENT,
  uint8: 200,
  uint16: 60_000,
  uint32: 4_000_000_000,
  float: 0.5,
  int64: 3,
};

const ALL_PROPERTIES = {
  contentType: "application/x-test",
  contentEncoding: "gzip",
  headers: HEADERS_SENT,
  deliveryMode: 2,
  priority: 7,
  correlationId: "corr-1",
  replyTo: "reply.queue",
  expiration: "600000",
  messageId: "msg-42",
  timestamp: 1_700_000_123,
  type: "test.type",
  userId: "guest",
  appId: "integrity-test",
} satisfies Options.Publish;

function expectAllProperties(props: ConsumeMessage["properties"]): void {
  const { headers, ...rest } = ALL_PROPERTIES;
  expect(props).toMatchObject(rest);
  expect(props.headers).toEqual(HEADERS_RECEIVED);
  expect(props.clusterId).toBeUndefined();
}

async function freshQueue(ch: Channel, prefix: string): Promise<string> {
  const q = uniqueName(prefix);
  await ch.assertQueue(q, { durable: false });
  return q;
}

describe("properties", () => {
  it("all 13 properties amqplib sends and every header field type round-trip via consume and basic.get", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await freshQueue(ch, "props");
    ch.sendToQueue(q, Buffer.from("a"), ALL_PROPERTIES);
    ch.sendToQueue(q, Buffer.from("b"), ALL_PROPERTIES);
    const got = await ch.get(q, { noAck: true });
    if (!got) throw new Error("basic.get found nothing");
    expectAllProperties(got.properties);
    const consumed: ConsumeMessage[] = [];
    await ch.consume(q, (m) => m && consumed.push(m), { noAck: true });
    await waitFor(() => consumed.length === 1, "the consumed message");
    expectAllProperties(consumed[0]!.properties);
  });

  it("a message without properties arrives without any", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await freshQueue(ch, "noprops");
    ch.sendToQueue(q, Buffer.from("x"));
    const got = await ch.get(q, { noAck: true });
    if (!got) throw new Error("basic.get found nothing");
    const defined = Object.entries(got.properties).filter(
      ([k, v]) => v !== undefined && !(k === "headers" && Object.keys(v as object).length === 0),
    );
    expect(defined).toEqual([]);
  });

  it("all 14 properties (cluster-id too) reach the consumer byte for byte", async () => {
    const publisher = await RawClient.open(warren.server.amqpPort!);
    const consumer = await RawClient.open(warren.server.amqpPort!);
    try {
      const q = uniqueName("raw-props");
      for (const c of [publisher, consumer]) {
        c.send(1, { name: "channel.open", args: { outOfBand: "" } });
        await c.expect("channel.open-ok");
      }
      publisher.send(1, {
        name: "queue.declare",
        args: {
          ticket: 0,
          queue: q,
          passive: false,
          durable: false,
          exclusive: false,
          autoDelete: false,
          noWait: false,
          arguments: table({}),
        },
      });
      await publisher.expect("queue.declare-ok");
      const props: BasicProperties = {
        contentType: "text/plain",
        contentEncoding: "utf-8",
        headers: table({ a: 1, b: "two", c: { d: [true, null] } }),
        deliveryMode: 1,
        priority: 9,
        correlationId: "c",
        replyTo: "r",
        expiration: "100000",
        messageId: "m",
        timestamp: 1234567890n,
        type: "t",
        userId: "guest",
        appId: "app",
        clusterId: "cluster",
      };
      const body = new TextEncoder().encode("payload");
      const header = encodeContentHeader(60, body.length, props);
      const w = new FrameWriter(131072);
      for (let i = 0; i < 2; i++) {
        w.content(
          1,
          { name: "basic.publish", args: { ticket: 0, exchange: "", routingKey: q, mandatory: false, immediate: false } },
          header,
          body,
        );
      }
      publisher.write(w.take()!);

      const conn = await connect();
      const ch = await conn.createChannel();
      let ready = 0;
      for (let i = 0; i < 200 && ready < 2; i++) {
        ready = (await ch.checkQueue(q)).messageCount;
        if (ready < 2) await sleep(10);
      }
      expect(ready).toBe(2);
      // amqplib decodes cluster-id too.
      const got = await ch.get(q, { noAck: true });
      if (!got) throw new Error("basic.get found nothing");
      expect(got.properties.clusterId).toBe("cluster");
      expect(got.properties.timestamp).toBe(1234567890);
      expect(got.properties.headers).toEqual({ a: 1, b: "two", c: { d: [true, null] } });

      consumer.send(1, {
        name: "basic.consume",
        args: { ticket: 0, queue: q, consumerTag: "", noLocal: false, noAck: true, exclusive: false, noWait: false, arguments: table({}) },
      });
      const deliver = await consumer.expect("basic.deliver");
      expect(Buffer.from(deliver.header!).equals(Buffer.from(header))).toBe(true);
      expect(deliver.properties).toEqual(props);
      expect(Buffer.from(deliver.body!).toString()).toBe("payload");
    } finally {
      publisher.close();
      consumer.close();
    }
  });
});

describe("bodies", () => {
  it("bodies of 0 B, 1 B, frame_max-8, frame_max-7, 1 MB and 10 MB arrive byte-identical via consume and basic.get", async () => {
    const conn = await connect();
    const frameMax = (conn.connection as unknown as { frameMax: number }).frameMax;
    expect(frameMax).toBe(131072);
    const sizes = [0, 1, frameMax - 8, frameMax - 7, 1 << 20, 10 << 20];
    const bodies = sizes.map((n) => randomBytes(n));
    const ch = await conn.createChannel();
    const q = await freshQueue(ch, "bodies");
    // basic.get first, one at a time.
    for (const [i, body] of bodies.entries()) {
      ch.sendToQueue(q, body, { messageId: String(i) });
      const got = await ch.get(q, { noAck: true });
      if (!got) throw new Error(`basic.get found nothing for ${sizes[i]} B`);
      expect(got.content.length, `get ${sizes[i]} B`).toBe(sizes[i]);
      expect(sha(got.content), `get ${sizes[i]} B`).toBe(sha(body));
      expect(got.properties.messageId).toBe(String(i));
    }
    // Then all at once through a consumer.
    const consumed: ConsumeMessage[] = [];
    await ch.consume(q, (m) => {
      if (!m) return;
      consumed.push(m);
      ch.ack(m);
    });
    for (const [i, body] of bodies.entries()) ch.sendToQueue(q, body, { messageId: String(i) });
    await waitFor(() => consumed.length === bodies.length, "all bodies consumed", 20_000);
    consumed.forEach((m, i) => {
      expect(m.properties.messageId).toBe(String(i));
      expect(m.content.length, `consume ${sizes[i]} B`).toBe(sizes[i]);
      expect(sha(m.content), `consume ${sizes[i]} B`).toBe(sha(bodies[i]!));
    });
  });

  it("40 MB published in one burst is stored, then delivered intact to a consumer that attaches later", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await freshQueue(ch, "burst");
    // More than one Durable Object RPC can carry (32 MiB) either way.
    const bodies = Array.from({ length: 8 }, () => randomBytes(5 << 20));
    for (const b of bodies) ch.sendToQueue(q, b);
    let ready = 0;
    for (let i = 0; i < 300 && ready < bodies.length; i++) {
      ready = (await ch.checkQueue(q)).messageCount;
      if (ready < bodies.length) await sleep(20);
    }
    expect(ready).toBe(bodies.length);
    const consumed: Buffer[] = [];
    await ch.consume(q, (m) => {
      if (!m) return;
      consumed.push(m.content);
      ch.ack(m);
    });
    await waitFor(() => consumed.length === bodies.length, "8 × 5 MB consumed", 20_000);
    expect(consumed.map(sha)).toEqual(bodies.map(sha));
  });

  it("a body over 16 MiB (RabbitMQ's max_message_size) closes the channel with 406; 16 MiB exactly is fine", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = await freshQueue(ch, "maxsize");
    const max = randomBytes(16 << 20);
    ch.sendToQueue(q, max);
    const got = await ch.get(q, { noAck: true });
    expect(got && sha(got.content)).toBe(sha(max));
    const closed = serverClose(ch);
    ch.sendToQueue(q, Buffer.alloc((16 << 20) + 1));
    expect(await closed).toBe(406);
    const ch2 = await conn.createChannel();
    expect((await ch2.checkQueue(q)).messageCount).toBe(0);
  });

  it("over WebSocket too: every byte value and the frame_max boundaries survive, with properties", async () => {
    const client = new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest");
    const conn = await client.connect();
    try {
      const frameMax = conn.frameMax;
      expect(frameMax).toBeGreaterThanOrEqual(4096);
      const ch = await conn.channel();
      const { name: q } = await ch.queueDeclare(uniqueName("ws-bin"));
      const bodies = [0, 1, frameMax - 8, frameMax - 7, 70_000, 1 << 20].map((n) => new Uint8Array(n).map((_, i) => (i * 7) % 256));
      for (const [i, body] of bodies.entries()) {
        await ch.basicPublish("", q, body, { contentType: "application/octet-stream", messageId: String(i), headers: { k: "v", n: i } });
      }
      for (const [i, body] of bodies.entries()) {
        let got = await ch.basicGet(q, { noAck: true });
        for (let t = 0; t < 100 && !got; t++) {
          await sleep(10);
          got = await ch.basicGet(q, { noAck: true });
        }
        if (!got) throw new Error(`basic.get found nothing for message ${i}`);
        expect(got.properties.messageId).toBe(String(i));
        expect(got.bodySize).toBe(body.length);
        expect(sha(got.body ?? new Uint8Array(0)), `${body.length} B`).toBe(sha(body));
        expect(got.properties.contentType).toBe("application/octet-stream");
        expect(got.properties.headers).toEqual({ k: "v", n: i });
      }
    } finally {
      await conn.close();
    }
  });
});
