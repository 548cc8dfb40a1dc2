import { describe, expect, it } from "vitest";
import { AdminOps } from "../../src/core/admin-ops";
import { FakeBroker } from "../session/fakes";

function setup() {
  const broker = new FakeBroker();
  const catalog = broker.catalogOf("/");
  const conn = (id: string, user: string) =>
    catalog.connectionOpened({
      id,
      name: id,
      user,
      vhost: "/",
      peer: "127.0.0.1",
      protocol: "AMQP 0-9-1",
      connectedAt: 0,
      clientProperties: {},
      channelMax: 0,
      frameMax: 0,
      heartbeat: 0,
    });
  return { broker, ops: new AdminOps(broker), conn };
}

const forced = (broker: FakeBroker) => broker.calls.filter((c) => c.method === "forceClose").map((c) => c.name);

describe("AdminOps: control-plane changes reach live connections", () => {
  it("a changed password closes that user's connections (320), nobody else's", async () => {
    const { broker, ops, conn } = setup();
    await ops.putUser({ name: "bob", password: "one", tags: [] });
    await conn("c-bob", "bob");
    await conn("c-guest", "guest");
    await ops.putUser({ name: "bob", tags: ["management"] });
    expect(forced(broker)).toEqual([]);
    await ops.putUser({ name: "bob", password: "two", tags: [] });
    expect(forced(broker)).toEqual(["c-bob"]);
  });

  it("deleting a user closes their connections; deleting an unknown user is 404", async () => {
    const { broker, ops, conn } = setup();
    await ops.putUser({ name: "bob", password: "one", tags: [] });
    await conn("c-bob", "bob");
    await ops.deleteUser("bob");
    expect(forced(broker)).toEqual(["c-bob"]);
    await expect(ops.deleteUser("bob")).rejects.toMatchObject({ code: 404 });
  });

  it("set/clear permissions push the new permissions to the user's connections in that vhost", async () => {
    const { broker, ops, conn } = setup();
    await ops.putUser({ name: "bob", password: "one", tags: [] });
    await conn("c-bob", "bob");
    await ops.setPermissions({ user: "bob", vhost: "/", configure: "", write: ".*", read: "^r" });
    await ops.clearPermissions("bob", "/");
    const pushed = broker.calls.filter((c) => c.method === "permissionsChanged").map((c) => c.args[0]);
    expect(pushed).toEqual([{ configure: "", write: ".*", read: "^r" }, null]);
    await expect(ops.setPermissions({ user: "bob", vhost: "/", configure: "(", write: "", read: "" })).rejects.toMatchObject({ code: 406 });
  });

  it("deleting a vhost closes its connections, drops its queues, removes its exchanges and forgets it", async () => {
    const { broker, ops, conn } = setup();
    await ops.putVhost({ name: "v" });
    const catalog = broker.catalogOf("v");
    await catalog.queueAdded({ name: "q", durable: true, autoDelete: false, exclusive: false, owner: null, arguments: {} });
    await catalog.exchangeAdded({ name: "x", type: "direct", durable: true, autoDelete: false, internal: false, arguments: {} });
    await catalog.connectionOpened({
      ...{ id: "c-v", name: "c-v", user: "guest", vhost: "v", peer: "", protocol: "", connectedAt: 0 },
      clientProperties: {},
      channelMax: 0,
      frameMax: 0,
      heartbeat: 0,
    });
    void conn;
    await ops.deleteVhost("v");
    expect(forced(broker)).toEqual(["c-v"]);
    expect(broker.calls.some((c) => c.kind === "queue" && c.name === "q" && c.method === "drop")).toBe(true);
    expect(broker.calls.some((c) => c.kind === "exchange" && c.name === "x" && c.method === "remove")).toBe(true);
    expect(await broker.controlPort.vhost("v")).toBeNull();
    expect(catalog.queueRecords.size).toBe(0);
  });

  it("policies are validated: pattern, apply-to, priority, definition", async () => {
    const { ops } = setup();
    const p = { vhost: "/", name: "p", pattern: ".*", applyTo: "queues" as const, priority: 0, definition: { "max-length": 1 } };
    await ops.putPolicy(p);
    await expect(ops.putPolicy({ ...p, pattern: "(" })).rejects.toMatchObject({ code: 406 });
    await expect(ops.putPolicy({ ...p, applyTo: "nonsense" as "queues" })).rejects.toMatchObject({ code: 406 });
    await expect(ops.putPolicy({ ...p, priority: 1.5 })).rejects.toMatchObject({ code: 406 });
    await expect(ops.putPolicy({ ...p, definition: {} })).rejects.toMatchObject({ code: 406 });
    // RabbitMQ's validators: unknown keys and bad values are refused; ha-* is accepted (and ignored).
    await expect(ops.putPolicy({ ...p, definition: { "bogus-key": 1 } })).rejects.toMatchObject({
      code: 406,
      text: expect.stringContaining("'bogus-key'"),
    });
    await expect(ops.putPolicy({ ...p, definition: { "max-length": -1 } })).rejects.toMatchObject({ code: 406 });
    await expect(ops.putPolicy({ ...p, definition: { overflow: "explode" } })).rejects.toMatchObject({ code: 406 });
    await ops.putPolicy({ ...p, definition: { "ha-mode": "all", "message-ttl": 0, overflow: "reject-publish" } });
    await expect(ops.deletePolicy("/", "nope")).rejects.toMatchObject({ code: 404 });
  });
});
