import { describe, expect, it, vi } from "vitest";
import { ReplyCode, encodeFieldTable, plainTable, table } from "../../src/amqp";
import { DEFAULT_LIMITS } from "../../src/core/limits";
import { Client, frame, names, only, plain, protocolHeader, utf8 } from "./client";
import { FakeBroker } from "./fakes";

const startOk = (user = "guest", password = "guest", mechanism = "PLAIN") =>
  frame(0, "connection.start-ok", { mechanism, response: plain(user, password), locale: "en_US" });
const tuneOk = (frameMax = 131072, channelMax = 0, heartbeat = 0) => frame(0, "connection.tune-ok", { channelMax, frameMax, heartbeat });
const open = (virtualHost = "/") => frame(0, "connection.open", { virtualHost });

describe("handshake", () => {
  it("answers the protocol header with connection.start: version, PLAIN AMQPLAIN, capabilities", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader());
    expect(names(sent)).toEqual(["0:connection.start"]);
    const start = only(sent, "connection.start");
    expect(start).toMatchObject({ versionMajor: 0, versionMinor: 9, mechanisms: "PLAIN AMQPLAIN", locales: "en_US" });
    const props = plainTable(start.serverProperties);
    expect(props.product).toBe("Warren");
    expect(props.capabilities).toMatchObject({
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      "basic.nack": true,
      consumer_cancel_notify: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
    });
  });

  it("accepts the header split over several receives", async () => {
    const c = new Client();
    const header = protocolHeader();
    c.send(header.subarray(0, 3));
    c.send(header.subarray(3, 7));
    await c.settle();
    expect(c.take()).toEqual([]);
    const sent = await c.roundTrip(header.subarray(7));
    expect(names(sent)).toEqual(["0:connection.start"]);
  });

  it("start-ok PLAIN guest/guest → tune with the connection's limits; tune-ok, open → open-ok", async () => {
    const limits = { ...DEFAULT_LIMITS, heartbeat: 30, frameMax: 65536, channelMax: 100 };
    const c = new Client(new FakeBroker(), { limits });
    await c.roundTrip(protocolHeader());
    const tune = await c.roundTrip(startOk());
    expect(names(tune)).toEqual(["0:connection.tune"]);
    expect(only(tune, "connection.tune")).toEqual({ channelMax: 100, frameMax: 65536, heartbeat: 30 });
    expect(await c.roundTrip(tuneOk(65536, 100))).toEqual([]);
    const opened = await c.roundTrip(open());
    expect(names(opened)).toEqual(["0:connection.open-ok"]);
    expect(c.connection.isRunning).toBe(true);
    expect(c.connection.username).toBe("guest");
    expect(c.connection.vhost).toBe("/");
  });

  it("the default limits are proposed when none are given", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk());
    expect(only(sent, "connection.tune")).toEqual({
      channelMax: DEFAULT_LIMITS.channelMax,
      frameMax: DEFAULT_LIMITS.frameMax,
      heartbeat: DEFAULT_LIMITS.heartbeat,
    });
  });

  it("the whole handshake may arrive in one receive", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(), open(), frame(1, "channel.open"));
    expect(names(sent)).toEqual(["0:connection.start", "0:connection.tune", "0:connection.open-ok", "1:channel.open-ok"]);
  });

  it("AMQPLAIN credentials are accepted too", async () => {
    const c = new Client();
    // AMQPLAIN's response is a field table without its length prefix.
    const response = utf8(encodeFieldTable(table({ LOGIN: "guest", PASSWORD: "guest" })).subarray(4));
    const sent = await c.roundTrip(protocolHeader(), frame(0, "connection.start-ok", { mechanism: "AMQPLAIN", response }));
    expect(names(sent)).toEqual(["0:connection.start", "0:connection.tune"]);
  });

  it("the control plane decides: a user it knows, with permissions on the vhost, logs in and is listed", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.putUser({ name: "alice", password: "s3cret", tags: [] });
    await broker.controlPort.setPermissions({ user: "alice", vhost: "/", configure: "^a", write: "", read: ".*" });
    const c = new Client(broker);
    const sent = await c.roundTrip(protocolHeader(), startOk("alice", "s3cret"), tuneOk(), open());
    expect(names(sent)).toContain("0:connection.open-ok");
    expect(c.connection.actor).toMatchObject({ user: "alice", connection: "conn-1" });
    expect(c.connection.access.allowed("configure", "abc")).toBe(true);
    expect(c.connection.access.allowed("configure", "xyz")).toBe(false);
    // "" is RabbitMQ's "^$", which no exchange matches: the default exchange is checked as amq.default.
    expect(c.connection.access.allowed("write", "amq.default")).toBe(false);
    expect(c.connection.access.allowed("write", "amq.topic")).toBe(false);
    expect([...broker.catalogOf("/").connectionRecords.keys()]).toEqual(["conn-1"]);
    expect(broker.catalogOf("/").connectionRecords.get("conn-1")).toMatchObject({ user: "alice", vhost: "/" });
  });

  it("a blank password never logs in (RabbitMQ), even for a user whose hash would match it", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.putUser({ name: "blank", password: "", tags: [] });
    const c = new Client(broker);
    const close = only(await c.roundTrip(protocolHeader(), startOk("blank", "")), "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.ACCESS_REFUSED, classId: 0, methodId: 0 });
  });

  it("a user without permissions on the vhost → 530 'access to vhost refused' (10, 40), not listed", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.putUser({ name: "bob", password: "pw", tags: [] });
    const c = new Client(broker);
    const sent = await c.roundTrip(protocolHeader(), startOk("bob", "pw"), tuneOk(), open());
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.NOT_ALLOWED, classId: 10, methodId: 40 });
    expect(close.replyText).toBe("NOT_ALLOWED - access to vhost '/' refused for user 'bob'");
    expect(broker.catalogOf("/").connectionRecords.size).toBe(0);
  });

  it("a vhost at its max-connections → 530 with RabbitMQ's text, and the connection is not listed", async () => {
    const broker = new FakeBroker();
    await broker.catalogOf("/").setLimits({ "max-connections": 0 });
    const c = new Client(broker);
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(), open());
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.NOT_ALLOWED, classId: 10, methodId: 40 });
    expect(close.replyText).toBe("NOT_ALLOWED - access to vhost '/' refused for user 'guest': connection limit (0) is reached");
    expect(broker.catalogOf("/").connectionRecords.size).toBe(0);
  });

  it("a user at their max-connections → 530 with RabbitMQ's text", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.setUserLimits("guest", { "max-connections": 1 });
    const first = new Client(broker, { id: "conn-a" });
    expect(names(await first.roundTrip(protocolHeader(), startOk(), tuneOk(), open()))).toContain("0:connection.open-ok");
    // At the limit the catalog rows are checked with their connections: this one is alive.
    broker.connection("conn-a").script.info = async () => first.connection.info();
    const second = new Client(broker, { id: "conn-b" });
    const close = only(await second.roundTrip(protocolHeader(), startOk(), tuneOk(), open()), "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.NOT_ALLOWED, classId: 10, methodId: 40 });
    expect(close.replyText).toBe("NOT_ALLOWED - Connection refused for user 'guest': user connection limit (1) is reached");
  });

  it("a catalog row whose connection is gone does not count against max-connections (and is dropped)", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.setUserLimits("guest", { "max-connections": 1 });
    const first = new Client(broker, { id: "conn-a" });
    await first.roundTrip(protocolHeader(), startOk(), tuneOk(), open());
    // conn-a's object answers info() with null: it is gone (a restart lost it).
    const second = new Client(broker, { id: "conn-b" });
    expect(names(await second.roundTrip(protocolHeader(), startOk(), tuneOk(), open()))).toContain("0:connection.open-ok");
    expect([...broker.catalogOf("/").connectionRecords.keys()]).toEqual(["conn-b"]);
  });

  it("guest from a non-loopback peer → 403 naming the loopback rule (RabbitMQ's loopback_users)", async () => {
    const c = new Client(new FakeBroker(), { peer: "203.0.113.9" });
    const sent = await c.roundTrip(protocolHeader(), startOk("guest", "guest"));
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.ACCESS_REFUSED, classId: 0, methodId: 0 });
    expect(close.replyText).toBe("ACCESS_REFUSED - PLAIN login refused: user 'guest' can only connect via localhost");
  });

  it("guest from a non-loopback peer logs in when loopback_users is empty", async () => {
    const broker = new FakeBroker();
    broker.loopbackUsers = [];
    const c = new Client(broker, { peer: "203.0.113.9" });
    const sent = await c.roundTrip(protocolHeader(), startOk("guest", "guest"), tuneOk(), open());
    expect(names(sent)).toContain("0:connection.open-ok");
  });

  // RabbitMQ 3.10.8, observed: connection.close 403, class 0, method 0 (not start-ok's 10, 11).
  it("wrong password → connection.close 403 with RabbitMQ's text and ids 0/0", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk("guest", "wrong"));
    expect(names(sent)).toEqual(["0:connection.start", "0:connection.close"]);
    const close = only(sent, "connection.close");
    expect(close).toEqual({
      replyCode: ReplyCode.ACCESS_REFUSED,
      replyText: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
      classId: 0,
      methodId: 0,
    });
    expect(c.connection.isRunning).toBe(false);
  });

  it("after a refused login the socket goes shortly, without waiting for close-ok (authentication_failure_close)", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
    try {
      const c = new Client();
      await c.roundTrip(protocolHeader(), startOk("guest", "wrong"));
      expect(c.transport.closed).toBe(false);
      vi.advanceTimersByTime(150);
      expect(c.transport.closed).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it("an unsupported mechanism → 403", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk("guest", "guest", "EXTERNAL"));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 403, classId: 10, methodId: 11 });
  });

  it("a malformed PLAIN response → 403", async () => {
    const c = new Client();
    const bad = frame(0, "connection.start-ok", { mechanism: "PLAIN", response: "guest" });
    const sent = await c.roundTrip(protocolHeader(), bad);
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 403 });
  });

  it.each([
    ["AMQP 0-8", [0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0]],
    ["AMQP 0-8 (as on the AMQP site)", [0x41, 0x4d, 0x51, 0x50, 1, 1, 9, 1]],
    ["AMQP 0-10", [0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10]],
    ["AMQP 0-9-2", [0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 2]],
    ["AMQP 1.0", [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]],
    ["HTTP", [...new TextEncoder().encode("GET / HTTP/1.1\r\n")]],
  ])("wrong protocol header (%s) → server writes AMQP 0 0 9 1 and closes", async (_label, bytes) => {
    const c = new Client();
    c.send(new Uint8Array(bytes));
    await c.settle();
    expect(utf8(c.raw())).toBe("AMQP\x00\x00\x09\x01");
    expect(c.transport.closed).toBe(true);
    expect(c.connection.isClosed).toBe(true);
  });

  it("the AMQP 0-9 header (1 1 0 9) is spoken as 0-9-1, as RabbitMQ does", async () => {
    const c = new Client();
    const sent = await c.roundTrip(new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]));
    expect(names(sent)).toEqual(["0:connection.start"]);
    expect(only(sent, "connection.start")).toMatchObject({ versionMajor: 0, versionMinor: 9 });
  });

  it("a wrong header is refused as soon as the first differing byte arrives", async () => {
    const c = new Client();
    c.send(new TextEncoder().encode("AMQX"));
    await c.settle();
    expect(utf8(c.raw())).toBe("AMQP\x00\x00\x09\x01");
    expect(c.transport.closed).toBe(true);
  });

  it("unknown vhost → connection.close 530 with the ids of connection.open (10, 40)", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(), open("/nope"));
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.NOT_ALLOWED, classId: 10, methodId: 40 });
    expect(close.replyText).toBe("NOT_ALLOWED - vhost /nope not found");
  });

  it("a vhost the broker knows is accepted", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.putVhost({ name: "/other" });
    await broker.controlPort.setPermissions({ user: "guest", vhost: "/other", configure: ".*", write: ".*", read: ".*" });
    const c = new Client(broker);
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(), open("/other"));
    expect(names(sent)).toContain("0:connection.open-ok");
    expect(c.connection.vhost).toBe("/other");
  });

  it("frame_max < 4096 in tune-ok → connection.close 530 (10, 31)", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(4095));
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.NOT_ALLOWED, classId: 10, methodId: 31 });
    expect(close.replyText).toBe("NOT_ALLOWED - negotiated frame_max = 4095 is lower than the minimum allowed value (4096)");
  });

  it("frame_max above the server's → 530 with RabbitMQ's text; exactly 4096 is fine", async () => {
    const c = new Client();
    const close = only(await c.roundTrip(protocolHeader(), startOk(), tuneOk(131073)), "connection.close");
    expect(close.replyText).toBe("NOT_ALLOWED - negotiated frame_max = 131073 is higher than the maximum allowed value (131072)");
    const d = new Client();
    const sent = await d.roundTrip(protocolHeader(), startOk(), tuneOk(4096), open());
    expect(names(sent)).toContain("0:connection.open-ok");
  });

  it("channel_max above the server's → 530 with RabbitMQ's text", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(131072, DEFAULT_LIMITS.channelMax + 1));
    expect(only(sent, "connection.close")).toEqual({
      replyCode: 530,
      replyText: `NOT_ALLOWED - negotiated channel_max = ${DEFAULT_LIMITS.channelMax + 1} is higher than the maximum allowed value (${DEFAULT_LIMITS.channelMax})`,
      classId: 10,
      methodId: 31,
    });
  });

  it("frame_max = 0 and channel_max = 0 in tune-ok ask for no limit: the server's values apply", async () => {
    const limits = { ...DEFAULT_LIMITS, frameMax: 8192, channelMax: 3 };
    const c = new Client(new FakeBroker(), { limits });
    expect(names(await c.roundTrip(protocolHeader(), startOk(), tuneOk(0, 0), open()))).toContain("0:connection.open-ok");
    expect(c.connection.catalogEntry()).toMatchObject({ frameMax: 8192, channelMax: 3 });
    expect(names(await c.roundTrip(frame(1, "channel.open"), frame(2, "channel.open"), frame(3, "channel.open")))).toEqual([
      "1:channel.open-ok",
      "2:channel.open-ok",
      "3:channel.open-ok",
    ]);
    expect(only(await c.roundTrip(frame(4, "channel.open")), "connection.close")).toMatchObject({ replyCode: 530 });
  });

  it("a channel method before connection.open → connection.close 503 COMMAND_INVALID", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), tuneOk(), frame(1, "channel.open"));
    const close = only(sent, "connection.close");
    expect(close).toMatchObject({ replyCode: ReplyCode.COMMAND_INVALID, classId: 20, methodId: 10 });
    expect(close.replyText).toMatch(/^COMMAND_INVALID - /);
  });

  it("handshake steps out of order → 503", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), tuneOk());
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 503, classId: 10, methodId: 31 });
    const d = new Client();
    const sent2 = await d.roundTrip(protocolHeader(), startOk(), open());
    expect(only(sent2, "connection.close")).toMatchObject({ replyCode: 503, classId: 10, methodId: 40 });
  });

  it("a second start-ok → 503", async () => {
    const c = new Client();
    const sent = await c.roundTrip(protocolHeader(), startOk(), startOk());
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 503, classId: 10, methodId: 11 });
  });

  // RabbitMQ 3.10.8, observed: channel_max bounds the number of open channels, not their
  // numbers (channel 1000 opens under channel_max 5); one channel too many is 530, ids 0/0.
  it("channel_max bounds how many channels are open, not their numbers (RabbitMQ's create_channel)", async () => {
    const c = new Client();
    await c.roundTrip(protocolHeader(), startOk(), tuneOk(131072, 2), open());
    expect(names(await c.roundTrip(frame(1000, "channel.open"), frame(65535, "channel.open")))).toEqual([
      "1000:channel.open-ok",
      "65535:channel.open-ok",
    ]);
    const sent = await c.roundTrip(frame(1, "channel.open"));
    expect(only(sent, "connection.close")).toEqual({
      replyCode: ReplyCode.NOT_ALLOWED,
      replyText: "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)",
      classId: 0,
      methodId: 0,
    });
  });

  it("a closed channel frees its place under channel_max", async () => {
    const c = new Client();
    await c.roundTrip(protocolHeader(), startOk(), tuneOk(131072, 1), open());
    expect(names(await c.roundTrip(frame(7, "channel.open")))).toEqual(["7:channel.open-ok"]);
    expect(names(await c.roundTrip(frame(7, "channel.close", { replyCode: 200, replyText: "", classId: 0, methodId: 0 })))).toEqual([
      "7:channel.close-ok",
    ]);
    expect(names(await c.roundTrip(frame(8, "channel.open")))).toEqual(["8:channel.open-ok"]);
  });

  it("connection.blocked / unblocked from a client are accepted once open, refused (503) before", async () => {
    const c = new Client();
    await c.open();
    expect(await c.roundTrip(frame(0, "connection.blocked", { reason: "x" }), frame(0, "connection.unblocked"))).toEqual([]);
    expect(c.connection.isRunning).toBe(true);
    const d = new Client();
    const sent = await d.roundTrip(protocolHeader(), startOk(), tuneOk(), frame(0, "connection.unblocked"));
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 503, classId: 10, methodId: 61 });
  });

  // connection.update-secret is synchronous: RabbitMQ answers connection.update-secret-ok
  // (rabbit_reader handle_method0), and clients block until it comes.
  it("connection.update-secret with the user's password is answered with update-secret-ok", async () => {
    const broker = new FakeBroker();
    const c = new Client(broker);
    await c.open();
    const sent = await c.roundTrip(frame(0, "connection.update-secret", { newSecret: "guest", reason: "refresh" }));
    expect(names(sent)).toEqual(["0:connection.update-secret-ok"]);
    expect(c.connection.isRunning).toBe(true);
    // The secret went through the login (counted by the brake like any attempt).
    expect(broker.logins.at(-1)).toEqual({ peer: "127.0.0.1", user: "guest", ok: true });
  });

  it("a refused new secret closes the connection as RabbitMQ: 530, 'New secret was refused by one of the backends', ids 0/0", async () => {
    const broker = new FakeBroker();
    await broker.controlPort.putUser({ name: "alice", password: "s3cret", tags: [] });
    await broker.controlPort.setPermissions({ user: "alice", vhost: "/", configure: ".*", write: ".*", read: ".*" });
    const c = new Client(broker);
    expect(names(await c.roundTrip(protocolHeader(), startOk("alice", "s3cret"), tuneOk(), open()))).toContain("0:connection.open-ok");
    // guest's password is no secret of alice's.
    const sent = await c.roundTrip(frame(0, "connection.update-secret", { newSecret: "guest", reason: "refresh" }));
    expect(names(sent)).toEqual(["0:connection.close"]);
    expect(only(sent, "connection.close")).toEqual({
      replyCode: ReplyCode.NOT_ALLOWED,
      replyText: "NOT_ALLOWED - New secret was refused by one of the backends",
      classId: 0,
      methodId: 0,
    });
    expect(broker.logins.at(-1)).toEqual({ peer: "127.0.0.1", user: "alice", ok: false });
  });

  it("connection.update-secret before connection.open → 503", async () => {
    const c = new Client();
    const sent = await c.roundTrip(
      protocolHeader(),
      startOk(),
      tuneOk(),
      frame(0, "connection.update-secret", { newSecret: "guest", reason: "r" }),
    );
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: 503, classId: 10, methodId: 70 });
  });

  it("connection.close from the client → close-ok, socket closed, touched queues released", async () => {
    const broker = new FakeBroker();
    broker.addQueue("q");
    const c = await new Client(broker).open(1);
    await c.consume(1, "q", "ctag");
    const sent = await c.roundTrip(frame(0, "connection.close", { replyCode: 200, replyText: "bye" }));
    expect(names(sent)).toEqual(["0:connection.close-ok"]);
    expect(c.transport.closed).toBe(true);
    expect(
      broker
        .queue("/", "q")
        .calls("releaseConnection")
        .map((x) => x.args),
    ).toEqual([["conn-1"]]);
    expect(c.transport.writesAfterClose).toBe(0);
  });

  it("the client losing the socket releases what the connection touched", async () => {
    const broker = new FakeBroker();
    broker.addQueue("q");
    const c = await new Client(broker).open(1);
    await c.consume(1, "q", "ctag");
    c.connection.transportClosed();
    await c.settle();
    expect(broker.queue("/", "q").calls("releaseConnection")).toHaveLength(1);
    expect(c.connection.isClosed).toBe(true);
  });
});
