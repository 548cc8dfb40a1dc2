import { describe, expect, it } from "vitest";
import { ReplyCode } from "../../src/amqp";
import { frame, named, names, only, openClient, publish, utf8 } from "./client";
import { deferred } from "./fakes";

async function confirming(...queues: string[]) {
  const c = await openClient(...queues);
  expect(names(await c.roundTrip(frame(1, "confirm.select")))).toEqual(["1:confirm.select-ok"]);
  return c;
}

describe("publisher confirms", () => {
  it("N publishes in one batch → a single basic.ack, multiple=true, with the last seq", async () => {
    const c = await confirming("q");
    const sent = await c.roundTrip(...Array.from({ length: 20 }, (_, i) => publish(1, { routingKey: "q" }, `m${i}`)));
    expect(names(sent)).toEqual(["1:basic.ack"]);
    expect(only(sent, "basic.ack")).toEqual({ deliveryTag: 20, multiple: true });
  });

  it("sequence numbers continue across batches", async () => {
    const c = await confirming("q");
    await c.roundTrip(publish(1, { routingKey: "q" }, "a"), publish(1, { routingKey: "q" }, "b"));
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "c"));
    expect(only(sent, "basic.ack")).toEqual({ deliveryTag: 3, multiple: false });
  });

  it("the ack waits for the queue to store the batch", async () => {
    const c = await confirming("q");
    const stored = deferred<boolean>();
    c.broker.queue("/", "q").script.publish = () => stored.promise;
    expect(await c.roundTrip(publish(1, { routingKey: "q" }, "a"))).toEqual([]);
    stored.resolve(true);
    await c.settle();
    expect(only(c.take(), "basic.ack")).toEqual({ deliveryTag: 1, multiple: false });
  });

  it("a queue whose publish RPC throws → basic.nack for its messages, basic.ack for the others (multiple=false)", async () => {
    const c = await confirming("q1", "q2");
    c.broker.queue("/", "q2").script.publish = async () => {
      throw new Error("queue q2 overloaded");
    };
    const sent = await c.roundTrip(
      publish(1, { routingKey: "q1" }, "a"),
      publish(1, { routingKey: "q2" }, "b"),
      publish(1, { routingKey: "q1" }, "c"),
      publish(1, { routingKey: "q2" }, "d"),
    );
    expect(sent.map((s) => [s.method.name, s.method.args])).toEqual([
      ["basic.ack", { deliveryTag: 1, multiple: false }],
      ["basic.nack", { deliveryTag: 2, multiple: false, requeue: false }],
      ["basic.ack", { deliveryTag: 3, multiple: false }],
      ["basic.nack", { deliveryTag: 4, multiple: false, requeue: false }],
    ]);
    expect(c.broker.logs.some((l) => l.includes("q2") && l.includes("overloaded"))).toBe(true);
    // A storage failure is not a protocol error: the channel stays usable.
    expect(names(await c.roundTrip(publish(1, { routingKey: "q1" }, "e")))).toEqual(["1:basic.ack"]);
  });

  it("a message routed to a failing and a working queue is nacked", async () => {
    const c = await confirming("q1", "q2");
    c.broker.addExchange("fan", "fanout");
    c.broker.addBinding("fan", "q:q1");
    c.broker.addBinding("fan", "q:q2");
    c.broker.queue("/", "q2").script.publish = async () => {
      throw new Error("boom");
    };
    const sent = await c.roundTrip(publish(1, { exchange: "fan" }, "x"), publish(1, { routingKey: "q1" }, "y"));
    expect(sent.map((s) => s.method.name)).toEqual(["basic.nack", "basic.ack"]);
    expect(
      c.broker
        .queue("/", "q1")
        .batches.flat()
        .map((m) => utf8(m.body)),
    ).toEqual(["x", "y"]);
  });

  it("an unroutable publish is confirmed (ack), not nacked", async () => {
    const c = await confirming();
    c.broker.addExchange("empty", "direct");
    const sent = await c.roundTrip(
      publish(1, { exchange: "empty", routingKey: "k" }, "x"),
      publish(1, { routingKey: "no-such-queue" }, "y"),
    );
    expect(names(sent)).toEqual(["1:basic.ack"]);
    expect(only(sent, "basic.ack")).toEqual({ deliveryTag: 2, multiple: true });
  });

  it("mandatory and unroutable → basic.return 312 NO_ROUTE with the message, before the ack", async () => {
    const c = await confirming("q");
    c.broker.addExchange("empty", "direct");
    const sent = await c.roundTrip(
      publish(1, { routingKey: "q", mandatory: true }, "routed"),
      publish(1, { exchange: "empty", routingKey: "k", mandatory: true }, "lost", { messageId: "m-1" }),
      publish(1, { routingKey: "no-such-queue", mandatory: true }, "lost too"),
      publish(1, { exchange: "empty", routingKey: "k" }, "lost quietly"),
    );
    expect(names(sent)).toEqual(["1:basic.return", "1:basic.return", "1:basic.ack"]);
    const returns = named(sent, "basic.return");
    expect(returns[0]!.method.args).toEqual({ replyCode: ReplyCode.NO_ROUTE, replyText: "NO_ROUTE", exchange: "empty", routingKey: "k" });
    expect(utf8(returns[0]!.body)).toBe("lost");
    expect(returns[0]!.properties).toEqual({ messageId: "m-1" });
    expect(returns[1]!.method.args).toMatchObject({ replyCode: 312, exchange: "", routingKey: "no-such-queue" });
    expect(only(sent, "basic.ack")).toEqual({ deliveryTag: 4, multiple: true });
  });

  it("mandatory unroutable without confirms → basic.return only", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(publish(1, { routingKey: "nobody", mandatory: true }, "x"));
    expect(names(sent)).toEqual(["1:basic.return"]);
  });

  it("confirm.select nowait → no select-ok, confirms still sent", async () => {
    const c = await openClient("q");
    const sent = await c.roundTrip(frame(1, "confirm.select", { noWait: true }), publish(1, { routingKey: "q" }, "a"));
    expect(names(sent)).toEqual(["1:basic.ack"]);
  });

  it("a publish refused with a channel error is neither stored nor confirmed", async () => {
    const c = await confirming("q");
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "a"), publish(1, { exchange: "missing" }, "b"));
    // The first publish was stored, but the channel closed before its confirm went out.
    expect(names(sent)).toEqual(["1:channel.close"]);
    await c.settle();
    expect(c.broker.queue("/", "q").messages.map((m) => utf8(m.body))).toEqual(["a"]);
  });

  it("confirm and tx modes exclude each other (406)", async () => {
    const c = await confirming();
    const sent = await c.roundTrip(frame(1, "tx.select"));
    expect(only(sent, "channel.close")).toMatchObject({ replyCode: 406, classId: 90, methodId: 10 });
    const d = await openClient();
    await d.roundTrip(frame(1, "tx.select"));
    const sent2 = await d.roundTrip(frame(1, "confirm.select"));
    expect(only(sent2, "channel.close")).toMatchObject({ replyCode: 406, classId: 85, methodId: 10 });
  });
});
