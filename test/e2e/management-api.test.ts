// The management HTTP API against a running Warren: RabbitMQ's paths, JSON and status codes,
// exact statistics, /metrics through promtool, and rabbitmqadmin (RabbitMQ's own CLI) unchanged.
import { execFile, spawnSync } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { connectionClosed, managementClient, userConnections } from "./api-helpers";
import { amqpConnections, uniqueName, waitFor } from "./messaging-helpers";

const warren = useWarren();
const api = managementClient(() => warren.server);
const connect = amqpConnections(() => warren.server.amqpUrl!);
const connectAs = userConnections(() => warren.server);
const run = promisify(execFile);

type Json = Record<string, unknown>;
const obj = (v: unknown) => v as Json;
const list = (v: unknown) => v as Json[];

describe("authentication and errors", () => {
  it("401 with RabbitMQ's error JSON for no or wrong credentials, and for a user without a management tag", async () => {
    const res = await fetch(`${warren.server.httpUrl}/api/overview`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: "not_authorised", reason: "Not_Authorized" });
    expect((await api("GET", "/overview", undefined, { password: "wrong" })).status).toBe(401);
    const plain = uniqueName("plain");
    expect((await api("PUT", `/users/${plain}`, { password: "pw", tags: "" })).status).toBe(201);
    const refused = await api("GET", "/overview", undefined, { user: plain, password: "pw" });
    expect(refused).toMatchObject({ status: 401, body: { error: "not_authorised", reason: "Not management user" } });
  });

  it("administrator-only resources refuse a management user (401); their own vhost lists work", async () => {
    const m = uniqueName("mgmt");
    expect((await api("PUT", `/users/${m}`, { password: "pw", tags: ["management"] })).status).toBe(201);
    expect((await api("GET", "/users", undefined, { user: m, password: "pw" })).status).toBe(401);
    expect((await api("PUT", "/vhosts/x", {}, { user: m, password: "pw" })).status).toBe(401);
    // No permissions anywhere: sees no vhost.
    expect((await api("GET", "/vhosts", undefined, { user: m, password: "pw" })).body).toEqual([]);
    expect((await api("PUT", `/permissions/%2F/${m}`, { configure: "", write: "", read: ".*" })).status).toBe(201);
    expect(list((await api("GET", "/vhosts", undefined, { user: m, password: "pw" })).body).map((v) => v.name)).toEqual(["/"]);
    // A declare needs configure permission, as over AMQP.
    const q = uniqueName("mq");
    expect((await api("PUT", `/queues/%2F/${q}`, {}, { user: m, password: "pw" })).status).toBe(401);
    // Other users' consumers and connections stay hidden from a management user.
    const conn = await connect();
    const ch = await conn.createChannel();
    const watched = uniqueName("mq.watched");
    await ch.assertQueue(watched, { durable: false });
    await ch.consume(watched, () => undefined);
    expect((await api("GET", "/consumers", undefined, { user: m, password: "pw" })).body).toEqual([]);
    expect((await api("GET", "/connections", undefined, { user: m, password: "pw" })).body).toEqual([]);
    expect(list((await api("GET", "/consumers")).body).some((k) => obj(k.queue).name === watched)).toBe(true);
    // Tags left out of a user update are kept, not stripped.
    expect((await api("PUT", `/users/${m}`, { password: "pw2" })).status).toBe(204);
    expect((await api("GET", `/users/${m}`)).body).toMatchObject({ tags: ["management"] });
  });

  it("400 for malformed JSON or bad fields, 404 for what does not exist", async () => {
    expect((await api("PUT", "/queues/%2F/bad", undefined, { raw: "{not json" })).body).toEqual({
      error: "bad_request",
      reason: "Malformed JSON",
    });
    expect((await api("PUT", "/queues/%2F/bad", { durable: "perhaps" })).status).toBe(400);
    // JSON only (RabbitMQ's content_types_accepted): a form or text/plain body is what a
    // cross-site page could send without the browser asking first.
    const plain = await api("PUT", "/queues/%2F/bad", undefined, { raw: "{}", headers: { "Content-Type": "text/plain" } });
    expect(plain.status).toBe(415);
    const foreign = await api("GET", "/overview", undefined, { headers: { Origin: "https://evil.example" } });
    expect(foreign.status).toBe(403);
    expect((await api("PUT", "/exchanges/%2F/bad", { type: "nonsense" })).status).toBe(400);
    expect((await api("PUT", "/permissions/%2F/guest", { configure: "(", write: ".*", read: ".*" })).status).toBe(400);
    expect((await api("PUT", "/users/nopw", { tags: "" })).status).toBe(400);
    for (const path of [
      "/queues/%2F/missing",
      "/exchanges/%2F/missing",
      "/vhosts/missing",
      "/users/missing",
      "/permissions/%2F/missing",
      "/nope",
    ]) {
      const r = await api("GET", path);
      expect(r.status, path).toBe(404);
      expect(obj(r.body).error, path).toBe("Object Not Found");
    }
    expect((await api("DELETE", "/queues/%2F/missing")).status).toBe(404);
    expect((await api("POST", "/exchanges/%2F/missing/publish", { routing_key: "", payload: "" })).status).toBe(404);
  });
});

describe("resources", () => {
  it("overview, cluster-name, nodes, whoami, health checks and aliveness-test", async () => {
    const o = obj((await api("GET", "/overview")).body);
    expect(o).toMatchObject({ product_name: "Warren", rabbitmq_version: expect.any(String), cluster_name: "warren" });
    expect(obj(o.object_totals)).toHaveProperty("queues");
    expect((await api("GET", "/cluster-name")).body).toEqual({ name: "warren" });
    expect(list((await api("GET", "/nodes")).body)[0]).toMatchObject({ running: true });
    expect((await api("GET", "/whoami")).body).toEqual({ name: "guest", tags: ["administrator"] });
    expect((await api("GET", "/health/checks/alarms")).body).toEqual({ status: "ok" });
    expect((await api("GET", "/aliveness-test/%2F")).body).toEqual({ status: "ok" });
    expect((await api("GET", "/aliveness-test/nope")).status).toBe(404);
  });

  it("vhosts: PUT 201 then 204, GET, permissions per vhost, DELETE", async () => {
    const v = uniqueName("vh");
    expect((await api("PUT", `/vhosts/${v}`, { description: "test vhost" })).status).toBe(201);
    expect((await api("PUT", `/vhosts/${v}`, { description: "changed" })).status).toBe(204);
    expect((await api("GET", `/vhosts/${v}`)).body).toMatchObject({ name: v, description: "changed" });
    expect((await api("PUT", `/permissions/${v}/guest`, { configure: ".*", write: ".*", read: ".*" })).status).toBe(201);
    expect(list((await api("GET", `/vhosts/${v}/permissions`)).body)).toEqual([
      { user: "guest", vhost: v, configure: ".*", write: ".*", read: ".*" },
    ]);
    expect((await api("DELETE", `/vhosts/${v}`)).status).toBe(204);
    expect((await api("GET", `/vhosts/${v}`)).status).toBe(404);
  });

  it("queues and exchanges: declare, show, list, bindings on the four paths, publish (routed true/false), get, purge, delete", async () => {
    const q = uniqueName("api.q");
    const x = uniqueName("api.x");
    expect((await api("PUT", `/queues/%2F/${q}`, { durable: true, arguments: { "x-queue-mode": "lazy" } })).status).toBe(201);
    expect((await api("PUT", `/queues/%2F/${q}`, { durable: true, arguments: { "x-queue-mode": "lazy" } })).status).toBe(204);
    expect((await api("PUT", `/exchanges/%2F/${x}`, { type: "topic", durable: false })).status).toBe(201);
    expect((await api("GET", `/queues/%2F/${q}`)).body).toMatchObject({
      name: q,
      vhost: "/",
      durable: true,
      auto_delete: false,
      exclusive: false,
      arguments: { "x-queue-mode": "lazy" },
      messages: 0,
      consumers: 0,
      state: "running",
    });
    expect((await api("GET", `/exchanges/%2F/${x}`)).body).toMatchObject({ name: x, type: "topic", durable: false });
    expect(list((await api("GET", "/exchanges/%2F")).body).map((e) => e.name)).toEqual(expect.arrayContaining(["", "amq.topic", x]));

    const bind = await api("POST", `/bindings/%2F/e/${x}/q/${q}`, { routing_key: "a.*", arguments: {} });
    expect(bind.status).toBe(201);
    expect(bind.headers.get("Location")).toBe("a.*");
    expect(list((await api("GET", `/bindings/%2F/e/${x}/q/${q}`)).body)).toEqual([
      { source: x, vhost: "/", destination: q, destination_type: "queue", routing_key: "a.*", arguments: {}, properties_key: "a.*" },
    ]);
    expect(list((await api("GET", `/queues/%2F/${q}/bindings`)).body).map((b) => b.source)).toEqual(["", x]);
    expect(list((await api("GET", `/exchanges/%2F/${x}/bindings/source`)).body)).toHaveLength(1);
    const x2 = uniqueName("api.x2");
    expect((await api("PUT", `/exchanges/%2F/${x2}`, { type: "fanout" })).status).toBe(201);
    expect((await api("POST", `/bindings/%2F/e/${x}/e/${x2}`, { routing_key: "#" })).status).toBe(201);
    expect(list((await api("GET", `/exchanges/%2F/${x2}/bindings/destination`)).body)).toHaveLength(1);
    expect((await api("DELETE", `/bindings/%2F/e/${x}/e/${x2}/%23`)).status).toBe(204);

    const publish = (key: string, payload: string) =>
      api("POST", `/exchanges/%2F/${x}/publish`, {
        routing_key: key,
        payload,
        payload_encoding: "string",
        properties: { content_type: "text/plain", headers: { n: 1 } },
      });
    expect((await publish("a.b", "first")).body).toEqual({ routed: true });
    expect((await publish("z", "nowhere")).body).toEqual({ routed: false });
    expect(
      (
        await api("POST", "/exchanges/%2F/amq.default/publish", {
          routing_key: q,
          payload: "//4B",
          payload_encoding: "base64",
          properties: {},
        })
      ).body,
    ).toEqual({ routed: true });
    expect((await api("GET", `/queues/%2F/${q}`)).body).toMatchObject({ messages: 2, messages_ready: 2 });

    const peek = list((await api("POST", `/queues/%2F/${q}/get`, { count: 5, ackmode: "ack_requeue_true", encoding: "auto" })).body);
    expect(peek).toHaveLength(2);
    expect(peek[0]).toMatchObject({
      payload: "first",
      payload_encoding: "string",
      routing_key: "a.b",
      exchange: x,
      redelivered: false,
      properties: { content_type: "text/plain", headers: { n: 1 } },
    });
    // Not UTF-8, so "auto" answers in base64.
    expect(peek[1]).toMatchObject({ payload: "//4B", payload_encoding: "base64", payload_bytes: 3 });
    // Requeued, so still there, now redelivered.
    const take = list((await api("POST", `/queues/%2F/${q}/get`, { count: 1, ackmode: "ack_requeue_false", encoding: "auto" })).body);
    expect(take[0]).toMatchObject({ payload: "first", redelivered: true, message_count: 1 });
    expect((await api("DELETE", `/queues/%2F/${q}/contents`)).status).toBe(204);
    expect((await api("GET", `/queues/%2F/${q}`)).body).toMatchObject({ messages: 0 });
    expect((await api("DELETE", `/bindings/%2F/e/${x}/q/${q}/a.*`)).status).toBe(204);
    expect(list((await api("GET", `/bindings/%2F/e/${x}/q/${q}`)).body)).toEqual([]);
    expect((await api("DELETE", `/exchanges/%2F/${x}`)).status).toBe(204);
    expect((await api("DELETE", `/queues/%2F/${q}`)).status).toBe(204);
    expect((await api("GET", `/queues/%2F/${q}`)).status).toBe(404);
  });

  it("connections, channels and consumers; DELETE /connections/{name} closes it with 320", async () => {
    const conn = await connect();
    const ch = await conn.createChannel();
    const q = uniqueName("api.c");
    await ch.assertQueue(q, { durable: false });
    await ch.consume(q, () => undefined, { consumerTag: "tag-1" });
    const conns = list((await api("GET", "/connections")).body);
    expect(conns.length).toBeGreaterThanOrEqual(1);
    const mine = conns.find((c) => obj(c.client_properties).product === "amqplib") ?? conns[0]!;
    expect(mine).toMatchObject({ user: "guest", vhost: "/", state: "running", channels: 1 });
    const channels = list((await api("GET", `/connections/${encodeURIComponent(String(mine.name))}/channels`)).body);
    expect(channels).toHaveLength(1);
    expect(channels[0]).toMatchObject({ number: 1, consumer_count: 1 });
    const consumers = list((await api("GET", "/consumers/%2F")).body).filter((k) => obj(k.queue).name === q);
    expect(consumers).toEqual([expect.objectContaining({ consumer_tag: "tag-1", ack_required: true })]);
    const closed = connectionClosed(conn);
    const del = await api("DELETE", `/connections/${encodeURIComponent(String(mine.name))}`, undefined, {
      headers: { "X-Reason": "test says bye" },
    });
    expect(del.status).toBe(204);
    const why = await closed;
    expect(why.code).toBe(320);
    const after = list((await api("GET", "/connections")).body);
    expect(after.find((c) => c.name === mine.name)).toBeUndefined();
  });

  it("policies: PUT 201/204, list, show, validation, DELETE", async () => {
    const body = { pattern: "^ttl\\.", definition: { "message-ttl": 60000 }, priority: 1, "apply-to": "queues" };
    expect((await api("PUT", "/policies/%2F/ttl", body)).status).toBe(201);
    expect((await api("PUT", "/policies/%2F/ttl", body)).status).toBe(204);
    expect((await api("GET", "/policies/%2F/ttl")).body).toEqual({ vhost: "/", name: "ttl", ...body });
    expect(list((await api("GET", "/policies")).body).map((p) => p.name)).toContain("ttl");
    expect((await api("PUT", "/policies/%2F/bad", { pattern: "(", definition: { a: 1 } })).status).toBe(400);
    expect((await api("PUT", "/policies/%2F/bad", { pattern: ".*", definition: {}, "apply-to": "queues" })).status).toBe(400);
    expect((await api("DELETE", "/policies/%2F/ttl")).status).toBe(204);
    expect((await api("GET", "/policies/%2F/ttl")).status).toBe(404);
  });

  it("definitions: export, then import into a fresh vhost recreates users, permissions, exchanges, queues and bindings", async () => {
    const v = uniqueName("defs");
    const user = uniqueName("defuser");
    expect((await api("PUT", `/vhosts/${v}`, {})).status).toBe(201);
    expect((await api("PUT", `/users/${user}`, { password: "pw", tags: "management" })).status).toBe(201);
    expect((await api("PUT", `/permissions/${v}/${user}`, { configure: ".*", write: ".*", read: ".*" })).status).toBe(201);
    expect((await api("PUT", `/permissions/${v}/guest`, { configure: ".*", write: ".*", read: ".*" })).status).toBe(201);
    expect((await api("PUT", `/queues/${v}/dq`, { durable: true, arguments: { "x-max-length": 10 } })).status).toBe(201);
    expect((await api("PUT", `/exchanges/${v}/dx`, { type: "direct" })).status).toBe(201);
    expect((await api("POST", `/bindings/${v}/e/dx/q/dq`, { routing_key: "k" })).status).toBe(201);
    const exported = obj((await api("GET", "/definitions")).body);
    const mine = (key: string) => list(exported[key]).filter((e) => e.vhost === v || e.name === v || e.name === user);
    expect(mine("queues")).toEqual([{ name: "dq", vhost: v, durable: true, auto_delete: false, arguments: { "x-max-length": 10 } }]);
    expect(mine("exchanges")).toEqual([expect.objectContaining({ name: "dx", vhost: v, type: "direct" })]);
    expect(mine("bindings")).toEqual([
      { source: "dx", vhost: v, destination: "dq", destination_type: "queue", routing_key: "k", arguments: {} },
    ]);
    const users = list(exported.users).filter((u) => u.name === user);
    expect(users[0]).toMatchObject({ hashing_algorithm: "rabbit_password_hashing_sha256", tags: ["management"] });

    // Wipe and import the same definitions: everything comes back, the password hash included.
    expect((await api("DELETE", `/vhosts/${v}`)).status).toBe(204);
    expect((await api("DELETE", `/users/${user}`)).status).toBe(204);
    const subset = {
      vhosts: list(exported.vhosts).filter((x) => x.name === v),
      users,
      permissions: list(exported.permissions).filter((p) => p.vhost === v),
      queues: mine("queues"),
      exchanges: mine("exchanges"),
      bindings: mine("bindings"),
    };
    expect((await api("POST", "/definitions", subset)).status).toBe(204);
    expect((await api("GET", `/queues/${v}/dq`)).body).toMatchObject({ arguments: { "x-max-length": 10 } });
    expect(list((await api("GET", `/bindings/${v}/e/dx/q/dq`)).body)).toHaveLength(1);
    await connectAs(user, "pw", v);
    // Entities of a vhost that does not exist, and topic permissions, are refused rather than half-imported.
    expect((await api("POST", "/definitions", { queues: [{ name: "q", vhost: "no-such-vhost", durable: true }] })).status).toBe(400);
    const topic = [{ user, vhost: v, exchange: "amq.topic", write: ".*", read: ".*" }];
    expect((await api("POST", "/definitions", { topic_permissions: topic })).status).toBe(400);
  });
});

describe("statistics", () => {
  it("exact counts after a known sequence of publishes, deliveries, gets and acks", async () => {
    const conn = await connect();
    const ch = await conn.createConfirmChannel();
    const q = uniqueName("stats");
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 10; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
    await ch.waitForConfirms();
    // Exactly 4 delivered (prefetch 4, nothing acked until the consumer is cancelled), then acked.
    await ch.prefetch(4);
    const got: import("amqplib").ConsumeMessage[] = [];
    const { consumerTag } = await ch.consume(q, (m) => {
      if (m) got.push(m);
    });
    await waitFor(() => got.length === 4, "4 deliveries");
    await ch.cancel(consumerTag);
    for (const m of got) ch.ack(m);
    const delivered = got.length;
    // Then gets: 2 in ack mode (acked), 1 without ack.
    for (let i = 0; i < 2; i++) {
      const m = await ch.get(q);
      if (m) ch.ack(m);
    }
    await ch.get(q, { noAck: true });
    await ch.checkQueue(q);
    const s = obj((await api("GET", `/queues/%2F/${q}`)).body);
    const stats = obj(s.message_stats);
    expect(stats.publish).toBe(10);
    expect(stats.deliver).toBe(delivered);
    expect(stats.get).toBe(2);
    expect(stats.get_no_ack).toBe(1);
    expect(stats.ack).toBe(delivered + 2);
    expect(stats.deliver_get).toBe(delivered + 3);
    expect(s).toMatchObject({ messages: 10 - delivered - 3, messages_ready: 10 - delivered - 3, messages_unacknowledged: 0 });
    // The channel's own counts, as /api/channels reports them.
    const channel = list((await api("GET", "/channels")).body).find((c) => obj(c.message_stats).publish === 10);
    expect(obj(channel?.message_stats)).toMatchObject({ publish: 10, confirm: 10, get: 2, get_no_ack: 1, ack: delivered + 2 });
    // Rates come from samples taken when asked: with the connection open they are not zero.
    expect(obj(obj(channel?.message_stats).publish_details).rate).toBeGreaterThan(0);
    expect(obj(obj(s.message_stats).publish_details).rate).toBeGreaterThan(0);
    const overview = obj((await api("GET", "/overview")).body);
    expect(obj(obj(overview.message_stats).publish_details).rate).toBeGreaterThan(0);
  });
});

describe("/metrics", () => {
  it("Prometheus text that promtool accepts, with RabbitMQ's metric names", async (ctx) => {
    const auth = `Basic ${Buffer.from("guest:guest").toString("base64")}`;
    expect((await fetch(`${warren.server.httpUrl}/metrics`)).status).toBe(401);
    const res = await fetch(`${warren.server.httpUrl}/metrics`, { headers: { Authorization: auth } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toContain("text/plain");
    const text = await res.text();
    for (const name of [
      "rabbitmq_connections",
      "rabbitmq_queues",
      "rabbitmq_queue_messages_ready",
      "rabbitmq_global_messages_received_total",
    ]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
    if (spawnSync("promtool", ["--version"]).error) {
      ctx.skip("promtool not installed (Debian package prometheus; .ci/run installs it when it can)");
      return;
    }
    const check = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    // promtool exits 0 for valid text; lint remarks (e.g. counter naming) would be printed.
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});

describe("rabbitmqadmin (RabbitMQ's own CLI, unchanged)", () => {
  it("lists, declares, publishes and gets against Warren", async (ctx) => {
    if (spawnSync("rabbitmqadmin", ["--version"]).error) {
      ctx.skip("rabbitmqadmin not installed (Debian package rabbitmq-server; .ci/run installs it when it can)");
      return;
    }
    const { port } = new URL(warren.server.httpUrl);
    const admin = (...args: string[]) => run("rabbitmqadmin", ["-H", "127.0.0.1", "-P", port, "-u", "guest", "-p", "guest", ...args]);
    const q = uniqueName("ra.q");
    const x = uniqueName("ra.x");
    expect((await admin("declare", "queue", `name=${q}`, "durable=false")).stdout).toContain("queue declared");
    expect((await admin("declare", "exchange", `name=${x}`, "type=topic")).stdout).toContain("exchange declared");
    expect((await admin("declare", "binding", `source=${x}`, `destination=${q}`, "routing_key=a.*")).stdout).toContain("binding declared");
    expect((await admin("publish", `exchange=${x}`, "routing_key=a.b", "payload=hello")).stdout).toContain("Message published");
    const listed = (await admin("-f", "tsv", "-q", "list", "queues", "name", "messages")).stdout;
    expect(listed).toMatch(new RegExp(`^${q}\\t1$`, "m"));
    const got = (await admin("-f", "tsv", "get", `queue=${q}`, "ackmode=ack_requeue_false")).stdout;
    expect(got).toContain("hello");
    expect((await admin("-f", "tsv", "-q", "list", "exchanges", "name", "type")).stdout).toMatch(new RegExp(`^${x}\\ttopic$`, "m"));
    expect((await admin("list", "users")).stdout).toContain("guest");
    expect((await admin("delete", "queue", `name=${q}`)).stdout).toContain("queue deleted");
  });
});
