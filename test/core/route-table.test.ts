import { describe, expect, it } from "vitest";
import { ReplyCode, table } from "../../src/amqp";
import { BrokerError } from "../../src/core/errors";
import { RouteTable } from "../../src/core/route-table";
import { FakeBroker, deferred } from "../session/fakes";

function setup() {
  const broker = new FakeBroker();
  const routes = new RouteTable(broker, () => "/", "c:conn-1");
  return { broker, routes };
}

/** Routes, awaiting a load if there is one; sorted for set comparison. */
async function route(routes: RouteTable, exchange: string, key = "", headers = {}): Promise<string[]> {
  return [...(await routes.route(exchange, key, headers))].sort();
}

async function brokerError(p: unknown): Promise<BrokerError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BrokerError);
    return err as BrokerError;
  }
  throw new Error("expected a BrokerError");
}

describe("RouteTable", () => {
  it("the default exchange routes to the queue named by the key, synchronously and without a snapshot", () => {
    const { broker, routes } = setup();
    expect(routes.route("", "orders", undefined)).toEqual(["orders"]);
    expect(broker.calls).toEqual([]);
  });

  it("loads an exchange's snapshot once (as this table's subscriber), then answers synchronously", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "direct");
    broker.addBinding("x", "q:a", "k");
    broker.addBinding("x", "q:b", "other");
    const first = routes.route("x", "k", undefined);
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toEqual(["a"]);
    const second = routes.route("x", "k", undefined);
    expect(second).toEqual(["a"]);
    expect(
      broker
        .exchange("/", "x")
        .calls("snapshot")
        .map((c) => c.args),
    ).toEqual([["/", "x", "c:conn-1"]]);
    expect(routes.cachedExchanges()).toEqual(["x"]);
  });

  it("concurrent first routes share one snapshot", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "fanout");
    broker.addBinding("x", "q:a");
    expect(await Promise.all([routes.route("x", "", undefined), routes.route("x", "", undefined)])).toEqual([["a"], ["a"]]);
    expect(broker.exchange("/", "x").calls("snapshot")).toHaveLength(1);
  });

  it("routes through exchange-to-exchange bindings", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "topic");
    broker.addExchange("y", "fanout");
    broker.addExchange("z", "direct");
    broker.addBinding("x", "e:y", "eu.*");
    broker.addBinding("x", "q:direct-from-x", "#");
    broker.addBinding("y", "q:b");
    broker.addBinding("y", "e:z");
    broker.addBinding("z", "q:c", "eu.fr");
    broker.addBinding("z", "q:never", "us");
    expect(await route(routes, "x", "eu.fr")).toEqual(["b", "c", "direct-from-x"]);
    expect(await route(routes, "x", "us.ny")).toEqual(["direct-from-x"]);
    // Cached now: synchronous.
    expect(Array.isArray(routes.route("x", "eu.de", undefined))).toBe(true);
  });

  it("a cycle of exchange bindings is walked once per exchange", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "fanout");
    broker.addExchange("y", "fanout");
    broker.addBinding("x", "e:y");
    broker.addBinding("y", "e:x");
    broker.addBinding("y", "q:q");
    expect(await route(routes, "x")).toEqual(["q"]);
  });

  it("a bound exchange that no longer exists is skipped", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "fanout");
    broker.addBinding("x", "e:gone");
    broker.addBinding("x", "q:q");
    expect(await route(routes, "x")).toEqual(["q"]);
  });

  it("an unroutable message goes to the alternate exchange; a routable one does not", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "direct", { arguments: table({ "alternate-exchange": "ae" }) });
    broker.addExchange("ae", "fanout");
    broker.addBinding("x", "q:main", "k");
    broker.addBinding("ae", "q:unrouted");
    expect(await route(routes, "x", "k")).toEqual(["main"]);
    expect(await route(routes, "x", "other")).toEqual(["unrouted"]);
  });

  it("alternate exchanges chain, and a cycle of them ends", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "direct", { arguments: table({ "alternate-exchange": "y" }) });
    broker.addExchange("y", "direct", { arguments: table({ "alternate-exchange": "z" }) });
    broker.addExchange("z", "direct", { arguments: table({ "alternate-exchange": "x" }) });
    broker.addBinding("z", "q:last-resort", "k");
    expect(await route(routes, "x", "k")).toEqual(["last-resort"]);
    expect(await route(routes, "x", "nothing")).toEqual([]);
  });

  it("a missing alternate exchange routes nowhere", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "direct", { arguments: table({ "alternate-exchange": "missing" }) });
    expect(await route(routes, "x", "k")).toEqual([]);
  });

  it("a missing exchange → BrokerError 404", async () => {
    const { routes } = setup();
    const err = await brokerError(routes.route("nope", "k", undefined));
    expect([err.code, err.text]).toEqual([ReplyCode.NOT_FOUND, "no exchange 'nope' in vhost '/'"]);
  });

  it("publishing to an internal exchange → BrokerError 403; routing through one is fine", async () => {
    const { broker, routes } = setup();
    broker.addExchange("inner", "fanout", { internal: true });
    broker.addExchange("outer", "fanout");
    broker.addBinding("outer", "e:inner");
    broker.addBinding("inner", "q:q");
    const err = await brokerError(routes.route("inner", "", undefined));
    expect([err.code, err.text]).toEqual([ReplyCode.ACCESS_REFUSED, "cannot publish to internal exchange 'inner' in vhost '/'"]);
    expect(await route(routes, "outer")).toEqual(["q"]);
    // Cached, it is refused synchronously.
    expect(() => routes.route("inner", "", undefined)).toThrow(BrokerError);
  });

  it("headers exchanges route on the message headers", async () => {
    const { broker, routes } = setup();
    broker.addExchange("h", "headers");
    broker.exchange("/", "h").bindings.push({ destination: "q:eu", routingKey: "", arguments: table({ "x-match": "all", region: "eu" }) });
    expect(await route(routes, "h", "", table({ region: "eu" }))).toEqual(["eu"]);
    expect(await route(routes, "h", "", table({ region: "us" }))).toEqual([]);
  });

  it("invalidate() forgets an exchange: the next route loads it again and sees new bindings", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "fanout");
    broker.addBinding("x", "q:a");
    expect(await route(routes, "x")).toEqual(["a"]);
    broker.addBinding("x", "q:b");
    // Still the cached routes until told.
    expect(routes.route("x", "", undefined)).toEqual(["a"]);
    routes.invalidate("x");
    const again = routes.route("x", "", undefined);
    expect(again).toBeInstanceOf(Promise);
    expect([...(await again)].sort()).toEqual(["a", "b"]);
    expect(broker.exchange("/", "x").calls("snapshot")).toHaveLength(2);
  });

  it("a snapshot fetched before an invalidation is used once but not cached", async () => {
    const { broker, routes } = setup();
    broker.addExchange("x", "fanout");
    broker.addBinding("x", "q:a");
    const x = broker.exchange("/", "x");
    const gate = deferred();
    x.script.snapshot = async (vhost, name, subscriber) => {
      await gate.promise;
      delete x.script.snapshot;
      return x.snapshot(vhost, name, subscriber);
    };
    const pending = routes.route("x", "", undefined);
    routes.invalidate("x");
    gate.resolve();
    expect(await pending).toEqual(["a"]);
    expect(routes.cachedExchanges()).toEqual([]);
    expect(routes.route("x", "", undefined)).toBeInstanceOf(Promise);
  });

  it("a nonexistent exchange is not cached: it is asked again (it may be declared meanwhile)", async () => {
    const { broker, routes } = setup();
    await brokerError(routes.route("later", "", undefined));
    broker.addExchange("later", "fanout");
    broker.addBinding("later", "q:q");
    expect(await route(routes, "later")).toEqual(["q"]);
  });
});
