import { describe, expect, it } from "vitest";
import { AmqpError, ReplyCode, encodeFrame, FrameType } from "../../src/amqp";
import { BrokerError, notFound, preconditionFailed } from "../../src/core/errors";
import { fail } from "../../src/core/rpc-result";
import { toAmqpError } from "../../src/session/errors";
import { Client, delivery, frame, names, only, openClient, publish, closeOf } from "./client";
import { FakeBroker } from "./fakes";

describe("error mapping (toAmqpError + Connection.fail)", () => {
  it("a BrokerError from a port on queue.declare → channel.close with its code and queue.declare's ids (50, 10)", async () => {
    const c = await openClient();
    c.broker.queue("/", "q").script.declare = async () =>
      fail(ReplyCode.RESOURCE_LOCKED, "cannot obtain exclusive access to locked queue 'q'");
    const sent = await c.roundTrip(frame(1, "queue.declare", { queue: "q" }));
    expect(names(sent)).toEqual(["1:channel.close"]);
    expect(closeOf(sent, "channel.close")).toEqual([405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'q'", 50, 10]);
    // A soft error leaves the connection (and other channels) alone.
    expect(c.connection.isRunning).toBe(true);
  });

  it("passive declare of a missing queue → channel.close 404 \"NOT_FOUND - no queue 'q' in vhost '/'\"", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "queue.declare", { queue: "q", passive: true }));
    expect(closeOf(sent, "channel.close")).toEqual([404, "NOT_FOUND - no queue 'q' in vhost '/'", 50, 10]);
  });

  it("basic.publish to a missing exchange → channel.close 404 with basic.publish's ids (60, 40)", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(publish(1, { exchange: "nowhere", routingKey: "k" }, "x"));
    expect(closeOf(sent, "channel.close")).toEqual([404, "NOT_FOUND - no exchange 'nowhere' in vhost '/'", 60, 40]);
  });

  it("a soft error closes only its channel: the other channel keeps working", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(2, "channel.open"));
    const sent = await c.roundTrip(
      frame(1, "queue.declare", { queue: "missing", passive: true }),
      frame(2, "queue.declare", { queue: "q", passive: true }),
    );
    expect(names(sent)).toEqual(["1:channel.close", "2:queue.declare-ok"]);
  });

  it("a hard code (503 unknown exchange type on exchange.declare) → connection.close with (40, 10)", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "exchange.declare", { exchange: "x", type: "nonsense" }));
    expect(names(sent)).toEqual(["0:connection.close"]);
    expect(closeOf(sent, "connection.close")).toEqual([503, "COMMAND_INVALID - unknown exchange type 'nonsense'", 40, 10]);
  });

  it("reusing a consumer tag on the channel → connection.close 530 with basic.consume's ids (60, 20)", async () => {
    const c = await openClient("q");
    expect(names(await c.consume(1, "q", "tag"))).toEqual(["1:basic.consume-ok"]);
    const sent = await c.consume(1, "q", "tag");
    expect(closeOf(sent, "connection.close")).toEqual([530, "NOT_ALLOWED - attempt to reuse consumer tag 'tag'", 60, 20]);
  });

  it("an unexpected exception from a port → connection.close 541 INTERNAL_ERROR, logged, its text not leaked", async () => {
    const c = await openClient();
    c.broker.queue("/", "q").script.declare = async () => {
      throw new TypeError("secret internals: db password is hunter2");
    };
    const sent = await c.roundTrip(frame(1, "queue.declare", { queue: "q" }));
    expect(names(sent)).toEqual(["0:connection.close"]);
    const close = only(sent, "connection.close");
    expect(close.replyCode).toBe(ReplyCode.INTERNAL_ERROR);
    expect(close.replyText).toBe("INTERNAL_ERROR - INTERNAL_ERROR");
    expect(close.replyText).not.toContain("hunter2");
    expect(c.broker.logs.some((l) => l.includes("internal error") && l.includes("hunter2"))).toBe(true);
  });

  it("once the server sent connection.close, only close-ok matters; close-ok closes the socket", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "exchange.declare", { exchange: "x", type: "nonsense" }));
    const callsBefore = c.broker.calls.length;
    const sent = await c.roundTrip(frame(1, "queue.declare", { queue: "q", passive: true }), frame(2, "channel.open"));
    expect(sent).toEqual([]);
    expect(c.broker.calls.length).toBe(callsBefore);
    expect(c.transport.closed).toBe(false);
    await c.roundTrip(frame(0, "connection.close-ok"));
    expect(c.transport.closed).toBe(true);
  });

  it("a crossing connection.close from the client is answered with close-ok", async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "exchange.declare", { exchange: "x", type: "nonsense" }));
    const sent = await c.roundTrip(frame(0, "connection.close", { replyCode: 200 }));
    expect(names(sent)).toEqual(["0:connection.close-ok"]);
  });

  it("after channel.close the channel drops other methods until close-ok, then may be reopened", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "queue.declare", { queue: "missing", passive: true }));
    const callsBefore = c.broker.calls.length;
    const dropped = await c.roundTrip(
      frame(1, "queue.declare", { queue: "q", passive: true }),
      publish(1, { routingKey: "q" }, "dropped"),
      frame(1, "basic.qos", { prefetchCount: 1 }),
    );
    expect(dropped).toEqual([]);
    expect(c.broker.trace((x) => x.method !== "releaseChannel").slice(callsBefore)).toEqual([]);
    expect(c.broker.queue("/", "q").batches).toEqual([]);
    expect(await c.roundTrip(frame(1, "channel.close-ok"))).toEqual([]);
    expect(names(await c.roundTrip(frame(1, "channel.open")))).toEqual(["1:channel.open-ok"]);
    expect(names(await c.roundTrip(frame(1, "queue.declare", { queue: "q", passive: true })))).toEqual(["1:queue.declare-ok"]);
  });

  it("a crossing channel.close from the client on a closing channel is answered with close-ok", async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "queue.declare", { queue: "missing", passive: true }));
    const sent = await c.roundTrip(frame(1, "channel.close", { replyCode: 200 }));
    expect(names(sent)).toEqual(["1:channel.close-ok"]);
  });

  // RabbitMQ's reader ignores every frame but close / close-ok on a closing channel
  // (rabbit_reader: process_frame, channel in `closing`); Warren checks channel.open first.
  it("channel.open on a channel closing after a server channel.close is dropped like any other method", async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "queue.declare", { queue: "missing", passive: true }));
    const sent = await c.roundTrip(frame(1, "channel.open"));
    expect(sent).toEqual([]);
    expect(c.connection.isRunning).toBe(true);
  });

  // Connection.deliver's rule is "after connection.close nothing more may be sent", but a
  // batched method that fails hard (here basic.publish immediate=true, 540) closes the connection
  // mid-batch and the end of the batch still stores the earlier publishes and writes their
  // confirm (and basic.return) after connection.close: Channel.storePublishes only checks its
  // own channel state, not the connection's.
  it("nothing follows the server's connection.close: a confirm of the same batch is not sent after it", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "confirm.select"));
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "a"), publish(1, { routingKey: "q", immediate: true }, "b"));
    expect(names(sent).at(-1)).toBe("0:connection.close");
  });

  it("nothing follows the server's connection.close: no basic.return after it", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(
      publish(1, { routingKey: "nobody", mandatory: true }, "a"),
      publish(1, { routingKey: "q", immediate: true }, "b"),
    );
    expect(names(sent)).toEqual(["0:connection.close"]);
  });

  it("publishes before a channel error in the same batch are still stored", async () => {
    const c = await openClient("q");
    const sent = await c.roundTrip(
      publish(1, { routingKey: "q" }, "kept"),
      publish(1, { exchange: "nowhere" }, "x"),
      publish(1, { routingKey: "q" }, "dropped"),
    );
    expect(names(sent)).toEqual(["1:channel.close"]);
    await c.settle();
    expect(c.broker.queue("/", "q").messages.map((m) => new TextDecoder().decode(m.body))).toEqual(["kept"]);
  });

  it("a client method the server has no handler for on a channel → 540 NOT_IMPLEMENTED", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "basic.get-empty"));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: ReplyCode.NOT_IMPLEMENTED });
    expect(only(sent, "connection.close").replyText).toBe("NOT_IMPLEMENTED - basic.get-empty is not implemented");
  });

  it("an unknown class/method id on a channel → 540", async () => {
    const c = await openClient();
    const payload = new Uint8Array([0, 60, 0x03, 0xe7]); // basic, method 999
    const sent = await c.roundTrip(encodeFrame(FrameType.Method, 1, payload));
    expect(only(sent, "connection.close").replyCode).toBe(ReplyCode.NOT_IMPLEMENTED);
  });

  it("a channel method on channel 0 → 503", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(0, "basic.qos", { prefetchCount: 1 }));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 503, classId: 60, methodId: 10 });
  });

  it("channel.open on an open channel → connection.close 504 CHANNEL_ERROR (20, 10)", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "channel.open"));
    expect(closeOf(sent, "connection.close")).toEqual([ReplyCode.CHANNEL_ERROR, "CHANNEL_ERROR - channel 1 already open", 20, 10]);
  });

  it("a method on a channel that was never opened → 504", async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(7, "basic.qos"));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 504, classId: 60, methodId: 10 });
  });

  it("a codec error (bad frame end) → connection.close 501", async () => {
    const c = await openClient();
    const bad = frame(1, "basic.qos");
    bad[bad.length - 1] = 0;
    const sent = await c.roundTrip(bad);
    expect(only(sent, "connection.close").replyCode).toBe(ReplyCode.FRAME_ERROR);
  });

  it("publish checks: immediate=true → 540, a foreign user_id → 406 on the channel", async () => {
    const c = await openClient("q");
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "x", { userId: "mallory" }));
    expect(closeOf(sent, "channel.close")).toEqual([
      406,
      "PRECONDITION_FAILED - user_id property set to 'mallory' but authenticated user was 'guest'",
      60,
      40,
    ]);
    const d = await openClient("q");
    const sent2 = await d.roundTrip(publish(1, { routingKey: "q", immediate: true }, "x"));
    expect(only(sent2, "connection.close")).toMatchObject({ replyCode: 540, classId: 60, methodId: 40 });
  });

  it("a user with the impersonator tag may publish with another user_id (RabbitMQ's impersonator)", async () => {
    const broker = new FakeBroker();
    broker.addQueue("q");
    await broker.controlPort.putUser({ name: "guest", tags: ["impersonator"] });
    const c = await new Client(broker).open(1);
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "x", { userId: "mallory" }), frame(1, "basic.qos"));
    expect(names(sent)).toEqual(["1:basic.qos-ok"]);
    expect(broker.queue("/", "q").messages).toHaveLength(1);
  });

  it("a settle RPC that fails surfaces as 541 at the next method (logged)", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    c.connection.deliver([delivery("q", 1, "t")]);
    await c.settle();
    c.take();
    c.broker.queue("/", "q").script.settle = async () => {
      throw new Error("queue object reset");
    };
    await c.roundTrip(frame(1, "basic.ack", { deliveryTag: 1 }));
    const sent = await c.roundTrip(frame(1, "basic.qos", { prefetchCount: 5 }));
    expect(only(sent, "connection.close").replyCode).toBe(541);
    expect(c.broker.logs.some((l) => l.includes("queue object reset"))).toBe(true);
  });
});

describe("toAmqpError", () => {
  const noLog = () => {
    throw new Error("must not log");
  };

  it("stamps the running method's ids on a BrokerError; hard follows the code", () => {
    const soft = toAmqpError(notFound("no queue"), "queue.bind", noLog);
    expect(soft).toBeInstanceOf(AmqpError);
    expect([soft.code, soft.hard, soft.classId, soft.methodId, soft.message]).toEqual([404, false, 50, 20, "no queue"]);
    const hard = toAmqpError(new BrokerError(ReplyCode.NOT_ALLOWED, "x"), "basic.consume", noLog);
    expect({ hard: hard.hard, classId: hard.classId, methodId: hard.methodId }).toEqual({ hard: true, classId: 60, methodId: 20 });
  });

  it("without a method the ids are 0, 0", () => {
    const e = toAmqpError(preconditionFailed("x"), undefined, noLog);
    expect([e.classId, e.methodId]).toEqual([0, 0]);
  });

  it("an AmqpError passes through unchanged", () => {
    const original = new AmqpError(505, "unexpected frame", true, 60, 40);
    expect(toAmqpError(original, "queue.declare", noLog)).toBe(original);
  });

  it("anything else is logged and becomes 541 INTERNAL_ERROR without its text", () => {
    const logged: string[] = [];
    const e = toAmqpError("a string thrown", "queue.declare", (m) => logged.push(m));
    expect({ code: e.code, hard: e.hard, message: e.message }).toEqual({ code: 541, hard: true, message: "INTERNAL_ERROR" });
    expect(logged).toEqual(["internal error: a string thrown"]);
  });
});
