import { describe, expect, it } from "vitest";
import { decodeProperties, Reader } from "../../src/amqp";
import type { IncomingMessage } from "../../src/queue/types";
import { decodePublishBatch } from "../../src/queue/wire";
import { delivery, frame, names, openClient, publish, utf8 } from "./client";
import type { Call } from "./fakes";

const bodies = (messages: readonly IncomingMessage[]) => messages.map((m) => utf8(m.body));
/** The messages of one recorded publish RPC. */
const published = (call: Call) => call.args[0] as IncomingMessage[];

describe("batching: one RPC per queue per inbound batch", () => {
  it("N publishes to one queue in ONE receive → exactly one publish RPC with all N, in order", async () => {
    const c = await openClient("q");
    const n = 50;
    const frames = Array.from({ length: n }, (_, i) => publish(1, { routingKey: "q" }, `m${i}`));
    expect(await c.roundTrip(...frames)).toEqual([]);
    const q = c.broker.queue("/", "q");
    const rpcs = q.calls("publish");
    expect(rpcs).toHaveLength(1);
    expect(bodies(published(rpcs[0]!))).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
  });

  it("the RPC carries a batch queue/wire.ts decodes: exchange, routing key, raw header, body, persistence", async () => {
    const c = await openClient("q");
    let batch: Uint8Array | undefined;
    c.broker.queue("/", "q").script.publish = async (b) => {
      batch = b;
      return true;
    };
    await c.roundTrip(
      publish(1, { routingKey: "q" }, "one", { contentType: "text/plain", deliveryMode: 2 }),
      publish(1, { routingKey: "q" }, "two", { messageId: "id-2" }),
    );
    expect(batch).toBeDefined();
    const messages = decodePublishBatch(batch!);
    expect(messages.map((m) => [m.exchange, m.routingKey, utf8(m.body), m.persistent])).toEqual([
      ["", "q", "one", true],
      ["", "q", "two", false],
    ]);
    // The content header is forwarded untouched: properties decode from it.
    expect(decodeProperties(new Reader(messages[0]!.header, 12))).toEqual({ contentType: "text/plain", deliveryMode: 2 });
    expect(decodeProperties(new Reader(messages[1]!.header, 12))).toEqual({ messageId: "id-2" });
  });

  it("publishes arriving in two receives make two RPCs", async () => {
    const c = await openClient("q");
    c.send(publish(1, { routingKey: "q" }, "a"));
    c.send(publish(1, { routingKey: "q" }, "b"));
    await c.settle();
    expect(
      c.broker
        .queue("/", "q")
        .calls("publish")
        .map((x) => bodies(published(x))),
    ).toEqual([["a"], ["b"]]);
  });

  it("publishes to two queues → one RPC each, each in publish order", async () => {
    const c = await openClient("q1", "q2");
    await c.roundTrip(
      publish(1, { routingKey: "q1" }, "a"),
      publish(1, { routingKey: "q2" }, "b"),
      publish(1, { routingKey: "q1" }, "c"),
      publish(1, { routingKey: "q2" }, "d"),
    );
    expect(c.broker.trace((x) => x.method === "publish")).toEqual(["queue q1.publish", "queue q2.publish"]);
    expect(c.broker.queue("/", "q1").batches.map(bodies)).toEqual([["a", "c"]]);
    expect(c.broker.queue("/", "q2").batches.map(bodies)).toEqual([["b", "d"]]);
  });

  it("a fanout to two queues: each message once per queue, one RPC per queue", async () => {
    const c = await openClient("q1", "q2");
    c.broker.addExchange("fan", "fanout");
    c.broker.addBinding("fan", "q:q1");
    c.broker.addBinding("fan", "q:q2");
    await c.roundTrip(...["a", "b", "c"].map((b) => publish(1, { exchange: "fan" }, b)));
    expect(c.broker.queue("/", "q1").batches.map(bodies)).toEqual([["a", "b", "c"]]);
    expect(c.broker.queue("/", "q2").batches.map(bodies)).toEqual([["a", "b", "c"]]);
    // The exchange was asked once for its routes, then routing was local.
    expect(c.broker.exchange("/", "fan").calls("snapshot")).toHaveLength(1);
  });

  it("acks arriving in one receive → one settle call per queue", async () => {
    const c = await openClient("q1", "q2");
    await c.consume(1, "q1", "t1");
    await c.consume(1, "q2", "t2");
    // Delivery tags 1..5: q1 seqs 11, 12, 13 and q2 seqs 21, 22, interleaved.
    c.connection.deliver([
      delivery("q1", 11, "t1"),
      delivery("q2", 21, "t2"),
      delivery("q1", 12, "t1"),
      delivery("q2", 22, "t2"),
      delivery("q1", 13, "t1"),
    ]);
    await c.settle();
    expect(c.take().map((s) => s.method.name)).toEqual(Array(5).fill("basic.deliver"));
    await c.roundTrip(
      frame(1, "basic.ack", { deliveryTag: 1 }),
      frame(1, "basic.ack", { deliveryTag: 2 }),
      frame(1, "basic.nack", { deliveryTag: 3, requeue: true }),
      frame(1, "basic.reject", { deliveryTag: 4, requeue: false }),
      frame(1, "basic.ack", { deliveryTag: 5 }),
    );
    expect(
      c.broker
        .queue("/", "q1")
        .calls("settle")
        .map((x) => x.args),
    ).toEqual([["conn-1", [11, 13], [12]]]);
    expect(
      c.broker
        .queue("/", "q2")
        .calls("settle")
        .map((x) => x.args),
      // The reject without requeue goes as a reject: the queue dead-letters it.
    ).toEqual([["conn-1", [21], [], [22]]]);
  });

  it("ack multiple=true settles every outstanding tag up to it in one call", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 1, "t"), delivery("q", 2, "t"), delivery("q", 3, "t")]);
    await c.settle();
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 2, multiple: true }));
    expect(
      c.broker
        .queue("/", "q")
        .calls("settle")
        .map((x) => x.args),
    ).toEqual([["conn-1", [1, 2], []]]);
    // Tag 1 is gone now: acking it again is a channel error (406).
    const sent = await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }));
    expect(names(sent)).toEqual(["1:channel.close"]);
  });

  it("a non-batched method between publishes forces the publishes before it to be sent first", async () => {
    const c = await openClient("q");
    await c.roundTrip(
      publish(1, { routingKey: "q" }, "a"),
      publish(1, { routingKey: "q" }, "b"),
      frame(1, "queue.declare", { queue: "other" }),
      publish(1, { routingKey: "q" }, "c"),
    );
    expect(c.broker.trace((x) => x.method === "publish" || x.method === "declare")).toEqual([
      "queue q.publish",
      "queue other.declare",
      "queue q.publish",
    ]);
    expect(c.broker.queue("/", "q").batches.map(bodies)).toEqual([["a", "b"], ["c"]]);
  });

  it("acks before a non-batched method are settled (and answered) before it runs", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 7, "t")]);
    await c.settle();
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }), frame(1, "basic.get", { queue: "q" }));
    expect(c.broker.trace((x) => x.method === "settle" || x.method === "get")).toEqual(["queue q.settle", "queue q.get"]);
  });

  it("a publish that must load an exchange first still joins its batch", async () => {
    const c = await openClient("q");
    c.broker.addBinding("amq.direct", "q:q", "k");
    await c.roundTrip(...["a", "b", "c", "d"].map((b) => publish(1, { exchange: "amq.direct", routingKey: "k" }, b)));
    expect(c.broker.exchange("/", "amq.direct").calls("snapshot")).toHaveLength(1);
    expect(c.broker.queue("/", "q").batches.map(bodies)).toEqual([["a", "b", "c", "d"]]);
  });
});
