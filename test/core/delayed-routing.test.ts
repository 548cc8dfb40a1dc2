// How publishes reach a delayed-message exchange (exchange/delayed.ts): the route table says
// which exchanges hold a message (Routes.delayed), the publisher stores them there with one RPC
// per exchange, and the exchange routes them itself from its snapshot when they are due.
import { describe, expect, it } from "vitest";
import type { FieldTable, FieldValue } from "../../src/amqp";
import { Publisher } from "../../src/core/publisher";
import { delayedOf, RouteTable, type Routes } from "../../src/core/route-table";
import type { IncomingMessage } from "../../src/storage/message-record";
import { FakeBroker } from "../session/fakes";

const I = (value: number): FieldValue => ({ type: "I", value });
const S = (value: string): FieldValue => ({ type: "S", value });
const delay = (ms: number): FieldTable => ({ "x-delay": I(ms) });

function setup() {
  const broker = new FakeBroker();
  const routes = new RouteTable(broker, () => "/", "c:conn-1");
  broker.addExchange("d", "x-delayed-message", { arguments: { "x-delayed-type": S("topic") } });
  broker.addBinding("d", "q:a", "a.*");
  return { broker, routes, publisher: new Publisher(broker, () => "/", routes) };
}

const message = (key: string, exchange = "d"): IncomingMessage => ({
  exchange,
  routingKey: key,
  header: new Uint8Array(14),
  body: new TextEncoder().encode(key),
  persistent: false,
});

describe("RouteTable and delayed-message exchanges", () => {
  it("a positive x-delay: the exchange holds the message, no queue yet; otherwise it routes as its x-delayed-type", async () => {
    const { routes } = setup();
    const held = await routes.route("d", "a.b", delay(500));
    expect([...held]).toEqual([]);
    expect(delayedOf(held)).toEqual(["d"]);
    for (const headers of [undefined, delay(0), delay(-500)]) {
      const now = await routes.route("d", "a.b", headers);
      expect([...now]).toEqual(["a"]);
      expect(delayedOf(now)).toBeUndefined();
    }
  });

  it("reached through an exchange-to-exchange binding, it holds its copy; the other paths route now", async () => {
    const { broker, routes } = setup();
    broker.addExchange("front", "fanout");
    broker.addBinding("front", "e:d");
    broker.addBinding("front", "q:direct");
    const r = await routes.route("front", "a.b", delay(100));
    expect([...r]).toEqual(["direct"]);
    expect(delayedOf(r)).toEqual(["d"]);
  });

  it("its alternate exchange is not taken for a held message (the plugin's #36), but is when nothing matches now", async () => {
    const { broker, routes } = setup();
    broker.addExchange("d2", "x-delayed-message", { arguments: { "x-delayed-type": S("direct"), "alternate-exchange": S("ae") } });
    broker.addExchange("ae", "fanout");
    broker.addBinding("ae", "q:ae-q");
    const held = await routes.route("d2", "nowhere", delay(100));
    expect([...held]).toEqual([]);
    expect(delayedOf(held)).toEqual(["d2"]);
    expect([...(await routes.route("d2", "nowhere", undefined))]).toEqual(["ae-q"]);
  });

  it("routeFrom: the exchange routes its due messages from its own snapshot, internal or not, on through other exchanges", async () => {
    const { broker } = setup();
    broker.addExchange("next", "fanout");
    broker.addBinding("next", "q:n");
    const snapshot = {
      decl: {
        vhost: "/",
        name: "own",
        type: "x-delayed-message" as const,
        durable: true,
        autoDelete: false,
        internal: true,
        arguments: { "x-delayed-type": S("direct") },
      },
      bindings: [
        { destination: "q:k", routingKey: "k", arguments: {} },
        { destination: "e:next", routingKey: "k", arguments: {} },
      ],
    };
    const table = new RouteTable(broker, () => "/", null);
    // Due messages carry a negative x-delay: routed, not held again.
    const r: Routes = await table.routeFrom(snapshot, "k", delay(-300));
    expect([...r].sort()).toEqual(["k", "n"]);
    expect(delayedOf(r)).toBeUndefined();
    expect(broker.exchange("/", "own").calls("snapshot")).toEqual([]);
  });
});

describe("Publisher and delayed-message exchanges", () => {
  it("one hold RPC per exchange per batch, in publish order; held messages count as not routed (a mandatory one comes back) and are not failures", async () => {
    const { broker, routes, publisher } = setup();
    broker.addQueue("a");
    const batch = [];
    for (const [key, headers] of [
      ["a.1", delay(100)],
      ["a.2", undefined],
      ["a.3", delay(200)],
    ] as const) {
      batch.push({ queues: await routes.route("d", key, headers), message: message(key) });
    }
    const outcome = await publisher.store(batch);
    expect(broker.callsTo("exchange", "d", "hold")).toHaveLength(1);
    expect(broker.exchange("/", "d").held.map((b) => b.map((m) => m.routingKey))).toEqual([["a.1", "a.3"]]);
    expect(broker.queue("/", "a").batches.map((b) => b.map((m) => m.routingKey))).toEqual([["a.2"]]);
    expect([...outcome.routed]).toEqual([0, 1, 0]);
    expect([...outcome.failed]).toEqual([0, 0, 0]);
  });

  it("a hold that fails marks its messages failed (a confirm channel nacks them)", async () => {
    const { broker, routes, publisher } = setup();
    broker.exchange("/", "d").script.hold = async () => {
      throw new Error("exchange object unavailable");
    };
    const outcome = await publisher.store([{ queues: await routes.route("d", "a.b", delay(100)), message: message("a.b") }]);
    expect([...outcome.failed]).toEqual([1]);
    expect(broker.logs.join("\n")).toMatch(/holding messages in delayed exchange 'd'/);
  });
});
