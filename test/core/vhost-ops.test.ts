import { describe, expect, it } from "vitest";
import { ReplyCode, table } from "../../src/amqp";
import { BrokerError } from "../../src/core/errors";
import { VhostOps } from "../../src/core/vhost-ops";
import { AccessControl, fullAccess, type Permissions } from "../../src/core/permissions";
import { FakeBroker } from "../session/fakes";

const actor = { user: "alice", connection: "conn-42", access: fullAccess("alice", "/") };

function setup(vhost = "/") {
  const broker = new FakeBroker();
  return { broker, ops: new VhostOps(broker, vhost, actor) };
}

const exchange = (name: string, type = "direct", extra: Partial<{ internal: boolean; arguments: ReturnType<typeof table> }> = {}) => ({
  name,
  type,
  durable: true,
  autoDelete: false,
  internal: false,
  arguments: {},
  ...extra,
});
const queue = (name: string) => ({ name, durable: false, exclusive: false, autoDelete: false, arguments: {} });

async function refused(p: Promise<unknown>): Promise<{ code: number; text: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(BrokerError);
    const e = err as BrokerError;
    return { code: e.code, text: e.text };
  }
  throw new Error("expected a BrokerError");
}

describe("VhostOps: exchanges", () => {
  it("refuses the default exchange (403), declared or passive", async () => {
    const { broker, ops } = setup();
    const denied = { code: ReplyCode.ACCESS_REFUSED, text: "operation not permitted on the default exchange" };
    expect(await refused(ops.declareExchange(exchange(""), false))).toEqual(denied);
    expect(await refused(ops.declareExchange(exchange(""), true))).toEqual(denied);
    expect(await refused(ops.deleteExchange("", false))).toEqual(denied);
    expect(await refused(ops.bindExchange("", "amq.direct", "k", {}))).toEqual(denied);
    expect(await refused(ops.bindExchange("amq.direct", "", "k", {}))).toEqual(denied);
    expect(await refused(ops.unbindExchange("amq.direct", "", "k", {}))).toEqual(denied);
    expect(await refused(ops.bindQueue("q", "", "k", {}))).toEqual(denied);
    expect(await refused(ops.unbindQueue("q", "", "k", {}))).toEqual(denied);
    expect(broker.calls).toEqual([]);
  });

  it("bindings with the default exchange: write on the destination first, then 'default exchange', then read (RabbitMQ 3.10.8)", async () => {
    const broker = new FakeBroker();
    const as = (p: Permissions) => new VhostOps(broker, "/", { user: "u", connection: "conn-1", access: new AccessControl("u", "/", p) });
    const nothing = as({ configure: "^$", write: "^$", read: "^$" });
    const writeOnly = as({ configure: "^$", write: ".*", read: "^$" });
    const refusedTo = (what: string) => ({ code: ReplyCode.ACCESS_REFUSED, text: `access to ${what} in vhost '/' refused for user 'u'` });
    const denied = { code: ReplyCode.ACCESS_REFUSED, text: "operation not permitted on the default exchange" };
    expect(await refused(nothing.bindQueue("q", "", "k", {}))).toEqual(refusedTo("queue 'q'"));
    expect(await refused(nothing.unbindQueue("q", "", "k", {}))).toEqual(refusedTo("queue 'q'"));
    expect(await refused(writeOnly.bindQueue("q", "", "k", {}))).toEqual(denied);
    // The default exchange as destination is checked for write as amq.default.
    expect(await refused(nothing.bindExchange("", "x", "k", {}))).toEqual(refusedTo("exchange 'amq.default'"));
    expect(await refused(writeOnly.bindExchange("", "x", "k", {}))).toEqual(denied);
    expect(await refused(writeOnly.bindExchange("x", "", "k", {}))).toEqual(denied);
    expect(await refused(writeOnly.bindQueue("q", "x", "k", {}))).toEqual(refusedTo("exchange 'x'"));
    expect(broker.calls).toEqual([]);
  });

  it("an unknown exchange type → 503, checked before anything else (even the default exchange)", async () => {
    const { broker, ops } = setup();
    expect(await refused(ops.declareExchange(exchange("x", "x-consistent-hash"), false))).toEqual({
      code: ReplyCode.COMMAND_INVALID,
      text: "unknown exchange type 'x-consistent-hash'",
    });
    expect((await refused(ops.declareExchange(exchange("", "bogus"), false))).code).toBe(503);
    expect(broker.calls).toEqual([]);
  });

  it("a passive declare does not check the type and asks the exchange with no declaration", async () => {
    const { broker, ops } = setup();
    broker.addExchange("x", "topic");
    expect((await ops.declareExchange(exchange("x", "whatever"), true)).type).toBe("topic");
    expect(
      broker
        .exchange("/", "x")
        .calls("declare")
        .map((c) => c.args),
    ).toEqual([["/", "x", null]]);
    expect((await refused(ops.declareExchange(exchange("missing"), true))).code).toBe(404);
  });

  it("declares with the vhost filled in", async () => {
    const { broker, ops } = setup("/v");
    await ops.declareExchange(exchange("x", "fanout", { internal: true }), false);
    expect(
      broker
        .exchange("/v", "x")
        .calls("declare")
        .map((c) => c.args),
    ).toEqual([["/v", "x", { vhost: "/v", name: "x", type: "fanout", durable: true, autoDelete: false, internal: true, arguments: {} }]]);
  });

  it("an alternate-exchange argument that is not a string → 406", async () => {
    const { ops } = setup();
    const r = await refused(ops.declareExchange(exchange("x", "direct", { arguments: table({ "alternate-exchange": 7 }) }), false));
    expect(r.code).toBe(ReplyCode.PRECONDITION_FAILED);
    expect(r.text).toMatch(/^invalid type '.' for arg 'alternate-exchange' in exchange 'x' in vhost '\/'$/);
  });

  it("the exchange's own answer comes back as a BrokerError (e.g. 406 inequivalent)", async () => {
    const { broker, ops } = setup();
    broker.addExchange("x", "direct");
    const r = await refused(ops.declareExchange(exchange("x", "fanout"), false));
    expect(r.code).toBe(406);
    expect(r.text).toContain("inequivalent arg 'type'");
  });

  it("amq.* exchanges cannot be deleted (403)", async () => {
    const { broker, ops } = setup();
    expect(await refused(ops.deleteExchange("amq.direct", false))).toEqual({
      code: 403,
      text: "deletion of system exchange 'amq.direct' in vhost '/' not allowed",
    });
    expect(broker.calls).toEqual([]);
  });

  it("exchange.bind: the destination must exist, then the source binds it and the destination records it", async () => {
    const { broker, ops } = setup();
    broker.addExchange("src", "direct");
    broker.addExchange("dst", "fanout");
    await ops.bindExchange("dst", "src", "k", {});
    expect(broker.trace()).toEqual(["exchange dst.declare", "exchange src.bind", "exchange dst.inbound"]);
    expect(broker.exchange("/", "src").bindings).toEqual([{ destination: "e:dst", routingKey: "k", arguments: {} }]);
    expect(broker.exchange("/", "dst").calls("inbound")[0]!.args).toEqual([
      "/",
      "dst",
      { destination: "src", routingKey: "k", arguments: {} },
      true,
    ]);
  });

  it("exchange.bind to a missing destination → 404 before the source is touched", async () => {
    const { broker, ops } = setup();
    broker.addExchange("src", "direct");
    expect((await refused(ops.bindExchange("missing", "src", "k", {}))).code).toBe(404);
    expect(broker.callsTo("exchange", "src")).toEqual([]);
  });

  it("exchange.unbind removes at the source and forgets at the destination", async () => {
    const { broker, ops } = setup();
    broker.addExchange("src", "direct");
    broker.addExchange("dst", "fanout");
    await ops.bindExchange("dst", "src", "k", {});
    await ops.unbindExchange("dst", "src", "k", {});
    expect(broker.exchange("/", "src").bindings).toEqual([]);
    expect(
      broker
        .exchange("/", "dst")
        .calls("inbound")
        .map((c) => c.args[3]),
    ).toEqual([true, false]);
  });
});

describe("VhostOps: queues", () => {
  it("refuses amq.* queue names (403) unless passive", async () => {
    const { broker, ops } = setup();
    expect(await refused(ops.declareQueue(queue("amq.mine"), false))).toEqual({
      code: ReplyCode.ACCESS_REFUSED,
      text: "queue name 'amq.mine' contains reserved prefix 'amq.*'",
    });
    expect(broker.calls).toEqual([]);
    expect((await refused(ops.declareQueue(queue("amq.gen-x"), true))).code).toBe(404);
    expect(broker.queue("/", "amq.gen-x").calls("declare")).toHaveLength(1);
  });

  it("passes actor.connection as the connection id to the queue port", async () => {
    const { broker, ops } = setup();
    await ops.declareQueue(queue("q"), false);
    await ops.declareQueue(queue("q"), true);
    await ops.purgeQueue("q");
    await ops.deleteQueue("q", true, false);
    const q = broker.queue("/", "q");
    expect(q.calls("declare").map((c) => c.args[3])).toEqual(["conn-42", "conn-42"]);
    expect(q.calls("access").map((c) => c.args)).toEqual([["/", "q", "conn-42"]]);
    expect(q.calls("purge").map((c) => c.args)).toEqual([["conn-42"]]);
    expect(q.calls("remove").map((c) => c.args)).toEqual([[true, false, "conn-42"]]);
  });

  it("declare sends the declaration with the vhost, passive sends none; answers the name and counts", async () => {
    const { broker, ops } = setup();
    const q = broker.addQueue("q");
    q.messages.push({ exchange: "", routingKey: "q", header: new Uint8Array(0), body: new Uint8Array(0), persistent: false });
    expect(await ops.declareQueue({ ...queue("q"), durable: true }, false)).toEqual({ name: "q", messageCount: 1, consumerCount: 0 });
    expect(await ops.declareQueue(queue("q"), true)).toEqual({ name: "q", messageCount: 1, consumerCount: 0 });
    expect(q.calls("declare").map((c) => c.args[2])).toEqual([
      { vhost: "/", name: "q", durable: true, exclusive: false, autoDelete: false, arguments: {} },
      null,
    ]);
  });

  it("an empty name gets a server-generated amq.gen-* name", async () => {
    const { ops } = setup();
    const a = await ops.declareQueue(queue(""), false);
    const b = await ops.declareQueue(queue(""), false);
    expect(a.name).toMatch(/^amq\.gen-[\w-]{20,}$/);
    expect(b.name).not.toBe(a.name);
  });

  it("purge checks access first: a missing queue → 404 and no purge", async () => {
    const { broker, ops } = setup();
    expect(await refused(ops.purgeQueue("missing"))).toEqual({ code: 404, text: "no queue 'missing' in vhost '/'" });
    expect(broker.queue("/", "missing").calls("purge")).toEqual([]);
  });

  it("queue.bind: access, bind at the exchange, record at the queue", async () => {
    const { broker, ops } = setup();
    broker.addQueue("q");
    await ops.bindQueue("q", "amq.topic", "a.#", table({ k: "v" }));
    expect(broker.trace()).toEqual(["queue q.access", "exchange amq.topic.bind", "queue q.recordBinding"]);
    expect(broker.queue("/", "q").bindings).toEqual([{ exchange: "amq.topic", routingKey: "a.#", arguments: table({ k: "v" }) }]);
  });

  it("queue.bind to a missing exchange → 404 and nothing recorded at the queue", async () => {
    const { broker, ops } = setup();
    broker.addQueue("q");
    expect(await refused(ops.bindQueue("q", "nope", "k", {}))).toEqual({ code: 404, text: "no exchange 'nope' in vhost '/'" });
    expect(broker.queue("/", "q").calls("recordBinding")).toEqual([]);
  });

  it("queue.unbind: access, unbind at the exchange, forget at the queue", async () => {
    const { broker, ops } = setup();
    broker.addQueue("q");
    await ops.bindQueue("q", "amq.direct", "k", {});
    await ops.unbindQueue("q", "amq.direct", "k", {});
    expect(broker.exchange("/", "amq.direct").bindings).toEqual([]);
    expect(
      broker
        .queue("/", "q")
        .calls("recordBinding")
        .map((c) => c.args[1]),
    ).toEqual([true, false]);
  });
});
