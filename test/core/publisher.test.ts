import { DEFAULT_LIMITS } from "../../src/core/limits";
import { describe, expect, it } from "vitest";
import { ReplyCode } from "../../src/amqp";
import { BrokerError } from "../../src/core/errors";
import { Publisher, checkPublishable, type RoutedPublish } from "../../src/core/publisher";
import { RouteTable } from "../../src/core/route-table";
import type { IncomingMessage } from "../../src/queue/types";
import { FakeBroker, deferred, type Call } from "../session/fakes";

/** Body bytes per publish RPC (publisher.ts, not exported): Workers RPC refuses payloads over 32 MiB. */
const RPC_BYTES = 8 << 20;

function message(name: string, bodySize = 0, headerSize = 0): IncomingMessage {
  const body = new Uint8Array(bodySize);
  body.set(new TextEncoder().encode(name).subarray(0, bodySize));
  return { exchange: "", routingKey: name, header: new Uint8Array(headerSize), body, persistent: false };
}

function setup(...queues: string[]) {
  const broker = new FakeBroker();
  for (const q of queues) broker.addQueue(q);
  const publisher = new Publisher(broker, () => "/", new RouteTable(broker, () => "/", "c:test"));
  return { broker, publisher };
}

const keys = (call: Call) => (call.args[0] as IncomingMessage[]).map((m) => m.routingKey);
const to = (queues: string[], m: IncomingMessage): RoutedPublish => ({ queues, message: m });

describe("Publisher.store", () => {
  it("groups a batch by queue: one RPC per queue, each in batch order", async () => {
    const { broker, publisher } = setup("q1", "q2", "q3");
    const outcome = await publisher.store([
      to(["q1"], message("a")),
      to(["q2", "q1"], message("b")),
      to(["q3"], message("c")),
      to(["q1", "q3"], message("d")),
      to([], message("e")),
    ]);
    expect(broker.trace()).toEqual(["queue q1.publish", "queue q2.publish", "queue q3.publish"]);
    expect(keys(broker.callsTo("queue", "q1")[0]!)).toEqual(["a", "b", "d"]);
    expect(keys(broker.callsTo("queue", "q2")[0]!)).toEqual(["b"]);
    expect(keys(broker.callsTo("queue", "q3")[0]!)).toEqual(["c", "d"]);
    expect([...outcome.routed]).toEqual([1, 2, 1, 2, 0]);
    expect([...outcome.failed]).toEqual([0, 0, 0, 0, 0]);
  });

  it("a queue that does not exist (publish → false) routes nothing, and is not a failure", async () => {
    const { publisher } = setup("q1");
    const outcome = await publisher.store([to(["q1", "gone"], message("a")), to(["gone"], message("b"))]);
    expect([...outcome.routed]).toEqual([1, 0]);
    expect([...outcome.failed]).toEqual([0, 0]);
  });

  it("a queue's share up to the RPC byte cap goes in one RPC", async () => {
    const { broker, publisher } = setup("q");
    const half = RPC_BYTES / 2;
    await publisher.store([to(["q"], message("a", half - 10, 10)), to(["q"], message("b", half))]);
    expect(broker.callsTo("queue", "q", "publish").map(keys)).toEqual([["a", "b"]]);
  });

  it("splits a queue's share into several RPCs only when it exceeds the cap, preserving order", async () => {
    const { broker, publisher } = setup("q", "small");
    const third = Math.floor(RPC_BYTES / 3);
    const batch = ["a", "b", "c", "d", "e", "f", "g"].map((k) => to(["q"], message(k, third)));
    batch.splice(3, 0, to(["small"], message("s", 10)));
    // 3 * third <= cap: three messages share an RPC, the fourth starts the next.
    const outcome = await publisher.store(batch);
    expect(broker.callsTo("queue", "q", "publish").map(keys)).toEqual([["a", "b", "c"], ["d", "e", "f"], ["g"]]);
    expect(broker.callsTo("queue", "small", "publish").map(keys)).toEqual([["s"]]);
    expect([...outcome.routed]).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
  });

  it("one byte over the cap splits", async () => {
    const { broker, publisher } = setup("q");
    const half = RPC_BYTES / 2;
    await publisher.store([to(["q"], message("a", half, 1)), to(["q"], message("b", half))]);
    expect(broker.callsTo("queue", "q", "publish").map(keys)).toEqual([["a"], ["b"]]);
  });

  it("a message bigger than the cap travels alone", async () => {
    const { broker, publisher } = setup("q");
    await publisher.store([to(["q"], message("a", 10)), to(["q"], message("big", RPC_BYTES + 1)), to(["q"], message("c", 10))]);
    expect(broker.callsTo("queue", "q", "publish").map(keys)).toEqual([["a"], ["big"], ["c"]]);
  });

  it("the parts of a split share go one after another, so the queue stores them in order", async () => {
    const { broker, publisher } = setup("q");
    const q = broker.queue("/", "q");
    const first = deferred<boolean>();
    let calls = 0;
    q.script.publish = async () => (++calls === 1 ? first.promise : true);
    const half = RPC_BYTES / 2;
    const done = publisher.store([to(["q"], message("a", half + 1)), to(["q"], message("b", half))]);
    await new Promise((r) => setImmediate(r));
    expect(q.calls("publish")).toHaveLength(1);
    first.resolve(true);
    await done;
    expect(q.calls("publish").map(keys)).toEqual([["a"], ["b"]]);
  });

  it("a batch fanning out to many queues calls them in waves of 32, yielding in between", async () => {
    const names = Array.from({ length: 40 }, (_, i) => `q${i}`);
    const { broker, publisher } = setup(...names);
    const gate = deferred<boolean>();
    for (const q of names) broker.queue("/", q).script.publish = () => gate.promise;
    const done = publisher.store([{ queues: names, message: message("m") }]);
    await new Promise((r) => setTimeout(r, 20));
    expect(broker.trace().filter((t) => t.endsWith(".publish"))).toHaveLength(32);
    gate.resolve(true);
    const { routed, failed } = await done;
    expect(broker.trace().filter((t) => t.endsWith(".publish"))).toHaveLength(40);
    expect([routed[0], failed[0]]).toEqual([40, 0]);
  });

  it("a failing queue marks only its messages as failed, logs, and does not throw", async () => {
    const { broker, publisher } = setup("ok", "bad");
    broker.queue("/", "bad").script.publish = async () => {
      throw new Error("storage exploded");
    };
    const outcome = await publisher.store([
      to(["ok"], message("a")),
      to(["bad"], message("b")),
      to(["ok", "bad"], message("c")),
      to(["ok"], message("d")),
    ]);
    expect([...outcome.failed]).toEqual([0, 1, 1, 0]);
    expect([...outcome.routed]).toEqual([1, 0, 1, 1]);
    expect(broker.logs).toEqual(["publish to queue 'bad' failed: Error: storage exploded"]);
  });

  it("a failing part of a split share marks only that part's messages", async () => {
    const { broker, publisher } = setup("q");
    let calls = 0;
    broker.queue("/", "q").script.publish = async () => {
      if (++calls === 2) throw new Error("second part lost");
      return true;
    };
    const half = RPC_BYTES / 2;
    const outcome = await publisher.store([
      to(["q"], message("a", half + 1)),
      to(["q"], message("b", half)),
      to(["q"], message("c", half)),
    ]);
    expect(broker.callsTo("queue", "q", "publish").map(keys)).toEqual([["a"], ["b", "c"]]);
    expect([...outcome.failed]).toEqual([0, 1, 1]);
    expect([...outcome.routed]).toEqual([1, 0, 0]);
  });

  it("publish() routes and stores in one call", async () => {
    const { broker, publisher } = setup("q");
    broker.addExchange("fan", "fanout");
    broker.addBinding("fan", "q:q");
    const outcome = await publisher.publish([{ message: { ...message("x"), exchange: "fan" } }, { message: message("q") }]);
    expect([...outcome.routed]).toEqual([1, 1]);
    expect(broker.queue("/", "q").batches.map((b) => b.map((m) => m.routingKey))).toEqual([["x", "q"]]);
  });
});

const MAX_MESSAGE_SIZE = DEFAULT_LIMITS.maxMessageSize;

describe("checkPublishable", () => {
  it("refuses bodies over the max message size and a foreign user_id with 406", () => {
    expect(() => checkPublishable(MAX_MESSAGE_SIZE, undefined, "guest", MAX_MESSAGE_SIZE)).not.toThrow();
    expect(() => checkPublishable(MAX_MESSAGE_SIZE, "guest", "guest", MAX_MESSAGE_SIZE)).not.toThrow();
    for (const [size, userId] of [
      [MAX_MESSAGE_SIZE + 1, undefined],
      [0, "root"],
    ] as const) {
      let caught: unknown;
      try {
        checkPublishable(size, userId, "guest", MAX_MESSAGE_SIZE);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(BrokerError);
      expect((caught as BrokerError).code).toBe(ReplyCode.PRECONDITION_FAILED);
    }
  });
});
