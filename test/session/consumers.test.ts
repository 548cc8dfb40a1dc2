import { describe, expect, it } from "vitest";
import { ReplyCode, table } from "../../src/amqp";
import { Client, delivery, frame, named, names, only, openClient, plain, protocolHeader, publish, utf8 } from "./client";
import { FakeBroker, deferred } from "./fakes";

describe("consumers and deliveries", () => {
  it("basic.consume → consume RPC with the channel's options, consume-ok", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "basic.qos", { prefetchCount: 10 }));
    const sent = await c.roundTrip(
      frame(1, "basic.consume", { queue: "q", consumerTag: "ctag", exclusive: true, arguments: table({ "x-priority": 1 }) }),
    );
    expect(only(sent, "basic.consume-ok")).toEqual({ consumerTag: "ctag" });
    expect(
      c.broker
        .queue("/", "q")
        .calls("consume")
        .map((x) => x.args),
    ).toEqual([["conn-1", 1, "ctag", { noAck: false, exclusive: true, prefetch: 10, arguments: table({ "x-priority": 1 }) }]]);
  });

  it("an empty consumer tag gets a server-generated amq.ctag-*", async () => {
    const c = await openClient("q");
    const tag = only(await c.consume(1, "q", ""), "basic.consume-ok").consumerTag;
    expect(tag).toMatch(/^amq\.ctag-[\w-]{20,}$/);
  });

  it("a delivery becomes basic.deliver with a channel delivery tag, the record's exchange, key and body", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    const result = c.connection.deliver([delivery("q", 41, "t", 1, "hello", { redelivered: true }), delivery("q", 42, "t", 1, "world")]);
    expect(result).toEqual({ gone: false, refused: [], paused: [] });
    await c.settle();
    const sent = named(c.take(), "basic.deliver");
    expect(sent.map((s) => [s.channel, s.method.args, utf8(s.body)])).toEqual([
      [1, { consumerTag: "t", deliveryTag: 1, redelivered: true, exchange: "", routingKey: "q" }, "hello"],
      [1, { consumerTag: "t", deliveryTag: 2, redelivered: false, exchange: "", routingKey: "q" }, "world"],
    ]);
  });

  it("deliveries that race ahead of consume-ok follow it", async () => {
    const c = await openClient("q");
    const consumed = deferred();
    const q = c.broker.queue("/", "q");
    q.script.consume = async () => {
      await consumed.promise;
      return { ok: true, value: undefined };
    };
    c.send(frame(1, "basic.consume", { queue: "q", consumerTag: "t" }));
    await c.settle();
    expect(c.connection.deliver([delivery("q", 1, "t")])).toEqual({ gone: false, refused: [], paused: [] });
    consumed.resolve();
    await c.settle();
    expect(names(c.take())).toEqual(["1:basic.consume-ok", "1:basic.deliver"]);
  });

  it("a consume refused by the queue → channel.close 404 (60, 20)", async () => {
    const c = await openClient();
    const sent = await c.consume(1, "missing", "t");
    expect(only(sent, "channel.close")).toMatchObject({ replyCode: ReplyCode.NOT_FOUND, classId: 60, methodId: 20 });
  });

  it("basic.cancel → cancel RPC, cancel-ok; later deliveries for it are refused", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    const sent = await c.roundTrip(frame(1, "basic.cancel", { consumerTag: "t" }));
    expect(only(sent, "basic.cancel-ok")).toEqual({ consumerTag: "t" });
    expect(
      c.broker
        .queue("/", "q")
        .calls("cancel")
        .map((x) => x.args),
    ).toEqual([["conn-1", "t"]]);
    expect(c.connection.deliver([delivery("q", 5, "t")])).toEqual({ gone: false, refused: [5], paused: ["t"] });
  });

  it("deliveries for an unknown channel or consumer, or from the wrong queue, are refused", async () => {
    const c = await openClient("q", "other");
    await c.consume(1, "q", "t");
    const result = c.connection.deliver([
      delivery("q", 1, "t", 9),
      delivery("q", 2, "nobody"),
      delivery("other", 3, "t"),
      delivery("q", 4, "t"),
    ]);
    expect(result.refused).toEqual([1, 2, 3]);
    expect(result.paused.sort()).toEqual(["nobody", "t"]);
  });

  it("deliveries to a connection that is closing go back and pause their consumers (no retry loop); a closed one says gone", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    await c.roundTrip(frame(1, "channel.open"));
    expect(c.connection.deliver([delivery("q", 1, "t")])).toEqual({ gone: false, refused: [1], paused: ["t"] });
    await c.roundTrip(frame(0, "connection.close-ok"));
    expect(c.connection.deliver([delivery("q", 2, "t")])).toEqual({ gone: true, refused: [2], paused: ["t"] });
  });

  it("consumer_cancel_notify: basic.cancel goes out only to clients that asked for it", async () => {
    const withCap = new Client(new FakeBroker());
    withCap.broker.addQueue("q");
    await withCap.roundTrip(
      protocolHeader(),
      frame(0, "connection.start-ok", {
        clientProperties: table({ capabilities: { consumer_cancel_notify: true } }),
        mechanism: "PLAIN",
        response: plain("guest", "guest"),
      }),
      frame(0, "connection.tune-ok", { frameMax: 131072 }),
      frame(0, "connection.open", { virtualHost: "/" }),
      frame(1, "channel.open"),
      frame(1, "basic.consume", { queue: "q", consumerTag: "t" }),
    );
    withCap.connection.consumerCancelled(1, "t");
    await withCap.settle();
    expect(withCap.take().map((s) => [s.method.name, s.method.args])).toEqual([["basic.cancel", { consumerTag: "t", noWait: true }]]);

    const without = await openClient("q");
    await without.consume(1, "q", "t");
    without.connection.consumerCancelled(1, "t");
    await without.settle();
    expect(without.take()).toEqual([]);
    // Either way the consumer is gone: its deliveries are refused.
    expect(without.connection.deliver([delivery("q", 1, "t")]).refused).toEqual([1]);
  });

  it("basic.get → get-ok with the message and the count left; get-empty when none", async () => {
    const c = await openClient("q");
    await c.roundTrip(publish(1, { routingKey: "q" }, "first", { messageId: "1" }), publish(1, { routingKey: "q" }, "second"));
    const sent = await c.roundTrip(frame(1, "basic.get", { queue: "q" }));
    const got = named(sent, "basic.get-ok");
    expect(got.map((s) => [s.method.args, utf8(s.body), s.properties])).toEqual([
      [{ deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q", messageCount: 1 }, "first", { messageId: "1" }],
    ]);
    await c.roundTrip(frame(1, "basic.get", { queue: "q", noAck: true }));
    expect(names(await c.roundTrip(frame(1, "basic.get", { queue: "q" })))).toEqual(["1:basic.get-empty"]);
    // The no-ack get took no tag: only tag 1 is outstanding.
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 0, multiple: true }));
    expect(
      c.broker
        .queue("/", "q")
        .calls("settle")
        .map((x) => x.args[1]),
    ).toEqual([[1]]);
  });

  it("basic.recover requeues everything unacked, then recover-ok", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 1, "t"), delivery("q", 2, "t")]);
    await c.settle();
    c.take();
    const sent = await c.roundTrip(frame(1, "basic.recover", { requeue: true }));
    expect(names(sent)).toEqual(["1:basic.recover-ok"]);
    expect(
      c.broker
        .queue("/", "q")
        .calls("settle")
        .map((x) => x.args),
    ).toEqual([["conn-1", [], [1, 2]]]);
    expect(only(await c.roundTrip(frame(1, "basic.recover", { requeue: false })), "connection.close").replyCode).toBe(540);
  });

  it("channel.close from the client releases the channel at every queue it touched, then close-ok", async () => {
    const c = await openClient("q1", "q2");
    await c.consume(1, "q1", "t");
    await c.roundTrip(frame(1, "basic.get", { queue: "q2" }));
    const sent = await c.roundTrip(frame(1, "channel.close", { replyCode: 200 }));
    expect(names(sent)).toEqual(["1:channel.close-ok"]);
    expect(c.broker.trace((x) => x.method === "releaseChannel").sort()).toEqual(["queue q1.releaseChannel", "queue q2.releaseChannel"]);
    expect(c.broker.queue("/", "q1").calls("releaseChannel")[0]!.args).toEqual(["conn-1", 1]);
  });

  it("when the connection goes, exclusive queues it declared and queues it used are released, route subscriptions dropped", async () => {
    const c = await openClient("used");
    c.broker.addBinding("amq.direct", "q:used", "k");
    await c.roundTrip(
      frame(1, "queue.declare", { queue: "mine", exclusive: true }),
      frame(1, "queue.declare", { queue: "shared" }),
      frame(1, "basic.get", { queue: "used" }),
      publish(1, { exchange: "amq.direct", routingKey: "k" }, "x"),
    );
    c.connection.transportClosed();
    await c.settle();
    expect(c.broker.trace((x) => x.method === "releaseConnection" || x.method === "unsubscribe").sort()).toEqual([
      "exchange amq.direct.unsubscribe",
      "queue mine.releaseConnection",
      "queue used.releaseConnection",
    ]);
    expect(c.broker.exchange("/", "amq.direct").calls("unsubscribe")[0]!.args).toEqual(["c:conn-1"]);
  });

  it("basic.qos prefetch_size != 0 → 540", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "basic.qos", { prefetchSize: 1000 }));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 540, classId: 60, methodId: 10 });
  });
});

describe("channel.flow", () => {
  it("active=false → flow-ok; deliveries meanwhile are refused and their consumers paused; active=true → resume RPC", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    expect(only(await c.roundTrip(frame(1, "channel.flow", { active: false })), "channel.flow-ok")).toEqual({ active: false });

    expect(c.connection.deliver([delivery("q", 1, "t"), delivery("q", 2, "t")])).toEqual({ gone: false, refused: [1, 2], paused: ["t"] });
    await c.settle();
    expect(c.take()).toEqual([]);
    expect(c.broker.callsTo("queue", "q", "resume")).toEqual([]);

    const sent = await c.roundTrip(frame(1, "channel.flow", { active: true }));
    expect(only(sent, "channel.flow-ok")).toEqual({ active: true });
    expect(
      c.broker
        .queue("/", "q")
        .calls("resume")
        .map((x) => x.args),
    ).toEqual([["conn-1", ["t"]]]);
    // Flowing again: deliveries are taken.
    expect(c.connection.deliver([delivery("q", 3, "t")])).toEqual({ gone: false, refused: [], paused: [] });
  });

  it("flow back on with nothing paused sends no resume", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    await c.roundTrip(frame(1, "channel.flow", { active: false }), frame(1, "channel.flow", { active: true }));
    expect(c.broker.callsTo(undefined, undefined, "resume")).toEqual([]);
  });

  it("a full channel-wide prefetch pauses consumers; an ack makes room and resumes them", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    await c.roundTrip(frame(1, "basic.qos", { prefetchCount: 1, global: true }));
    // The channel told the queue about the new limit for its consumer.
    expect(
      c.broker
        .queue("/", "q")
        .calls("resume")
        .map((x) => x.args),
    ).toEqual([["conn-1", ["t"], 1]]);
    expect(c.connection.deliver([delivery("q", 1, "t"), delivery("q", 2, "t")])).toEqual({ gone: false, refused: [2], paused: ["t"] });
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }), frame(1, "basic.qos", { prefetchCount: 1, global: true }));
    expect(c.broker.trace((x) => x.method === "settle" || x.method === "resume")).toEqual([
      "queue q.resume",
      "queue q.settle",
      "queue q.resume",
    ]);
    expect(c.broker.queue("/", "q").calls("resume")[1]!.args).toEqual(["conn-1", ["t"]]);
  });

  it("held(): what the connection holds of a queue whose object restarted — consumers, unacked tags, acks in an open tx", async () => {
    const c = await openClient("q", "other");
    await c.consume(1, "q", "t1");
    await c.consume(1, "other", "t9");
    c.connection.deliver([delivery("q", 5, "t1"), delivery("q", 6, "t1"), delivery("other", 7, "t9")]);
    await c.settle();
    await c.roundTrip(frame(2, "channel.open"), frame(2, "tx.select"));
    // A basic.get in ack mode on channel 2, acked inside the open transaction: still unacked to the queue.
    c.broker.queue("/", "q").script.get = async () => ({
      ok: true,
      value: { delivery: { ...delivery("q", 8, "", 2), consumerTag: "" }, messageCount: 0 },
    });
    await c.roundTrip(frame(2, "basic.get", { queue: "q" }));
    await c.roundTrip(frame(2, "basic.ack", { deliveryTag: 1 }));
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }));
    const held = c.connection.held("/", "q");
    expect(held).toEqual({
      consumers: [{ channel: 1, tag: "t1" }],
      unacked: [
        { seq: 6, channel: 1, consumer: "t1" },
        { seq: 8, channel: 2, consumer: null },
      ],
    });
    expect(c.connection.held("/other-vhost", "q")).toBeNull();
  });
});
