import { describe, expect, it } from "vitest";
import { frame, names, only, openClient, closeOf } from "./client";

describe("shortcuts: an empty queue name means the channel's last declared queue", () => {
  it("queue.bind with empty queue and empty routing key after queue.declare uses the last queue's name for both", async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "queue.declare", { queue: "orders" }));
    const sent = await c.roundTrip(frame(1, "queue.bind", { queue: "", exchange: "amq.direct", routingKey: "" }));
    expect(names(sent)).toEqual(["1:queue.bind-ok"]);
    expect(
      c.broker
        .exchange("/", "amq.direct")
        .calls("bind")
        .map((x) => x.args),
    ).toEqual([["/", "amq.direct", { destination: "q:orders", routingKey: "orders", arguments: {} }]]);
    expect(c.broker.queue("/", "orders").calls("access")).toHaveLength(1);
    expect(c.broker.queue("/", "orders").bindings).toEqual([{ exchange: "amq.direct", routingKey: "orders", arguments: {} }]);
  });

  it("an explicit routing key is kept when only the queue is empty", async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "queue.declare", { queue: "orders" }));
    await c.roundTrip(frame(1, "queue.bind", { queue: "", exchange: "amq.topic", routingKey: "eu.#" }));
    expect(c.broker.exchange("/", "amq.topic").bindings).toEqual([{ destination: "q:orders", routingKey: "eu.#", arguments: {} }]);
  });

  it('a server-named queue is the last queue: get, purge, consume and delete with "" reach it', async () => {
    const c = await openClient();
    const declared = only(await c.roundTrip(frame(1, "queue.declare", { queue: "" })), "queue.declare-ok");
    expect(declared.queue).toMatch(/^amq\.gen-/);
    await c.roundTrip(
      frame(1, "basic.get", { queue: "" }),
      frame(1, "queue.purge", { queue: "" }),
      frame(1, "basic.consume", { queue: "", consumerTag: "t" }),
      frame(1, "queue.declare", { queue: "", passive: true }),
      frame(1, "queue.delete", { queue: "" }),
    );
    expect(c.broker.trace((x) => x.kind === "queue" && x.method !== "declare")).toEqual(
      ["get", "access", "purge", "consume", "remove"].map((m) => `queue ${declared.queue}.${m}`),
    );
    expect(
      c.broker
        .queue("/", declared.queue)
        .calls("declare")
        .map((x) => x.args[2]),
    ).toEqual([expect.objectContaining({ name: declared.queue }), null]);
  });

  it('basic.get with "" and no declared queue → channel.close 404 "no previously declared queue" (60, 70)', async () => {
    const c = await openClient();
    const sent = await c.roundTrip(frame(1, "basic.get", { queue: "" }));
    expect(closeOf(sent, "channel.close")).toEqual([404, "NOT_FOUND - no previously declared queue", 60, 70]);
    expect(c.broker.calls).toEqual([]);
  });

  it("the last queue is per channel", async () => {
    const c = await openClient();
    await c.roundTrip(frame(2, "channel.open"), frame(1, "queue.declare", { queue: "mine" }));
    const sent = await c.roundTrip(frame(2, "queue.bind", { queue: "", exchange: "amq.direct" }));
    expect(only(sent, "channel.close")).toMatchObject({ replyCode: 404, classId: 50, methodId: 20 });
  });

  it('an active queue.declare of "" asks for a new server-named queue, not the last one', async () => {
    const c = await openClient();
    await c.roundTrip(frame(1, "queue.declare", { queue: "first" }));
    const declared = only(await c.roundTrip(frame(1, "queue.declare", { queue: "" })), "queue.declare-ok");
    expect(declared.queue).not.toBe("first");
    expect(declared.queue).toMatch(/^amq\.gen-/);
  });

  it("a passive declare sets the last queue too", async () => {
    const c = await openClient("a");
    await c.roundTrip(frame(1, "queue.declare", { queue: "a" }));
    await c.roundTrip(frame(2, "channel.open"), frame(2, "queue.declare", { queue: "a", passive: true }));
    expect(names(await c.roundTrip(frame(2, "basic.get", { queue: "" })))).toEqual(["2:basic.get-empty"]);
  });
});
