import { describe, expect, it } from "vitest";
import { delivery, frame, names, only, openClient, publish, utf8, closeOf } from "./client";
import { deferred } from "./fakes";

async function transactional(...queues: string[]) {
  const c = await openClient(...queues);
  expect(names(await c.roundTrip(frame(1, "tx.select")))).toEqual(["1:tx.select-ok"]);
  return c;
}

describe("transactions", () => {
  it("publishes inside a transaction are not sent before tx.commit; commit sends them, then commit-ok", async () => {
    const c = await transactional("q1", "q2");
    expect(
      await c.roundTrip(
        publish(1, { routingKey: "q1" }, "a"),
        publish(1, { routingKey: "q2" }, "b"),
        publish(1, { routingKey: "q1" }, "c"),
      ),
    ).toEqual([]);
    // Another batch and a synchronous method in between do not flush them either.
    await c.roundTrip(frame(1, "basic.qos", { prefetchCount: 3 }));
    expect(c.broker.callsTo("queue", undefined, "publish")).toEqual([]);

    // commit-ok waits until the queues have stored the transaction's messages.
    const stored = deferred<boolean>();
    const q1 = c.broker.queue("/", "q1");
    q1.script.publish = async (batch) => {
      await stored.promise;
      delete q1.script.publish;
      return q1.publish(batch);
    };
    expect(await c.roundTrip(frame(1, "tx.commit"))).toEqual([]);
    expect(c.broker.trace((x) => x.method === "publish")).toEqual(["queue q1.publish", "queue q2.publish"]);
    stored.resolve(true);
    await c.settle();
    expect(names(c.take())).toEqual(["1:tx.commit-ok"]);
    expect(c.broker.queue("/", "q1").batches.map((b) => b.map((m) => utf8(m.body)))).toEqual([["a", "c"]]);
    expect(c.broker.queue("/", "q2").batches.map((b) => b.map((m) => utf8(m.body)))).toEqual([["b"]]);
  });

  it("rollback drops the transaction's publishes", async () => {
    const c = await transactional("q");
    await c.roundTrip(publish(1, { routingKey: "q" }, "a"), publish(1, { routingKey: "q" }, "b"));
    expect(names(await c.roundTrip(frame(1, "tx.rollback")))).toEqual(["1:tx.rollback-ok"]);
    expect(names(await c.roundTrip(frame(1, "tx.commit")))).toEqual(["1:tx.commit-ok"]);
    expect(c.broker.callsTo("queue", "q", "publish")).toEqual([]);
    // The channel stays transactional: the next transaction commits normally.
    await c.roundTrip(publish(1, { routingKey: "q" }, "c"), frame(1, "tx.commit"));
    expect(c.broker.queue("/", "q").messages.map((m) => utf8(m.body))).toEqual(["c"]);
  });

  it("acks inside a transaction are sent at commit", async () => {
    const c = await transactional("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 101, "t"), delivery("q", 102, "t")]);
    await c.settle();
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 2 }));
    expect(c.broker.callsTo("queue", "q", "settle")).toEqual([]);
    await c.roundTrip(frame(1, "tx.commit"));
    expect(
      c.broker
        .queue("/", "q")
        .calls("settle")
        .map((x) => x.args),
    ).toEqual([["conn-1", [102], []]]);
  });

  it("acks inside a rolled-back transaction make their tags valid again", async () => {
    const c = await transactional("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 101, "t"), delivery("q", 102, "t"), delivery("q", 103, "t")]);
    await c.settle();
    c.take();
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }), frame(1, "basic.nack", { deliveryTag: 3, requeue: true }));
    expect(names(await c.roundTrip(frame(1, "tx.rollback")))).toEqual(["1:tx.rollback-ok"]);
    // Tag 1 and 3 are outstanding again: acking them (multiple up to 3) is valid.
    const sent = await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 3, multiple: true }), frame(1, "tx.commit"));
    expect(names(sent)).toEqual(["1:tx.commit-ok"]);
    expect(
      c.broker
        .queue("/", "q")
        .calls("settle")
        .map((x) => x.args),
    ).toEqual([["conn-1", [101, 102, 103], []]]);
  });

  it("without a rollback, acking a tag twice in a transaction is 406 unknown delivery tag", async () => {
    const c = await transactional("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 101, "t")]);
    await c.settle();
    c.take();
    const sent = await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }), frame(1, "basic.ack", { deliveryTag: 1 }));
    expect(closeOf(sent, "channel.close")).toEqual([406, "PRECONDITION_FAILED - unknown delivery tag 1", 60, 80]);
  });

  it("mandatory unroutable publishes in a transaction are returned at commit", async () => {
    const c = await transactional();
    expect(await c.roundTrip(publish(1, { routingKey: "nobody", mandatory: true }, "x"))).toEqual([]);
    const sent = await c.roundTrip(frame(1, "tx.commit"));
    expect(names(sent)).toEqual(["1:basic.return", "1:tx.commit-ok"]);
  });

  it("tx.commit / tx.rollback on a channel that is not transactional → 406", async () => {
    const c = await openClient();
    expect(only(await c.roundTrip(frame(1, "tx.commit")), "channel.close")).toMatchObject({ replyCode: 406, classId: 90, methodId: 20 });
    const d = await openClient();
    expect(only(await d.roundTrip(frame(1, "tx.rollback")), "channel.close")).toMatchObject({ replyCode: 406, classId: 90, methodId: 30 });
  });

  it("closing a transactional channel drops its uncommitted publishes", async () => {
    const c = await transactional("q");
    await c.roundTrip(publish(1, { routingKey: "q" }, "a"));
    expect(names(await c.roundTrip(frame(1, "channel.close", { replyCode: 200 })))).toEqual(["1:channel.close-ok"]);
    expect(c.broker.callsTo("queue", "q", "publish")).toEqual([]);
  });
});
