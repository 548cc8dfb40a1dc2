import type { Channel, ChannelModel } from "amqplib";
import { AMQPWebSocketClient } from "@cloudamqp/amqp-client";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { FrameType, FrameWriter, PROTOCOL_HEADER, ReplyCode, encodeFrame, table } from "../../src/amqp";
import { againstRabbitmq, useWarren } from "./harness";
import { RawClient } from "./raw-client";
import {
  channelCloseCode,
  closeReply,
  connect,
  connectionCloseCode,
  drain,
  openChannel,
  rawWithChannel,
  sync,
  uid,
} from "./topology-helpers";

// Runs side by side against RabbitMQ too (WARREN_TEST_AGAINST=rabbitmq, README "Test").
const warren = useWarren({ sideBySide: true });
const url = () => warren.server.amqpUrl!;
const port = () => warren.server.amqpPort!;

let conn: ChannelModel;
let setup: Channel;

beforeAll(async () => {
  if (warren.skipped) return;
  conn = await connect(url());
});
// A fresh channel per test, so one test's channel error cannot leak into the next.
beforeEach(async () => {
  setup = await openChannel(conn);
});
afterAll(async () => {
  await conn?.close();
});

/** Fresh names for one case: x (exchange) and q (queue) do not exist until `prepare` makes them. */
interface Names {
  x: string;
  q: string;
}

interface SoftCase {
  name: string;
  code: number;
  prepare?: (ch: Channel, n: Names) => Promise<unknown>;
  action: (ch: Channel, n: Names) => unknown;
}

const publishThenSync = (ch: Channel, exchange: string, key: string, options: object = {}) => {
  ch.publish(exchange, key, Buffer.from("m"), options);
  return sync(ch);
};

const SOFT_ERRORS: SoftCase[] = [
  {
    name: "exchange redeclared with another type",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false }),
    action: (ch, n) => ch.assertExchange(n.x, "fanout", { durable: false }),
  },
  {
    name: "exchange redeclared with another durable flag",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false }),
    action: (ch, n) => ch.assertExchange(n.x, "direct", { durable: true }),
  },
  {
    name: "exchange redeclared with another auto-delete flag",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: (ch, n) => ch.assertExchange(n.x, "topic", { durable: false }),
    action: (ch, n) => ch.assertExchange(n.x, "topic", { durable: false, autoDelete: true }),
  },
  {
    name: "exchange redeclared with another alternate-exchange",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false, alternateExchange: "ae-one" }),
    action: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false, alternateExchange: "ae-two" }),
  },
  {
    name: "exchange redeclared without its alternate-exchange",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false, alternateExchange: "ae-one" }),
    action: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false }),
  },
  {
    name: "amq.direct redeclared as fanout",
    code: ReplyCode.PRECONDITION_FAILED,
    action: (ch) => ch.assertExchange("amq.direct", "fanout", { durable: true }),
  },
  {
    name: "passive declare of a missing exchange",
    code: ReplyCode.NOT_FOUND,
    action: (ch, n) => ch.checkExchange(n.x),
  },
  {
    name: "declaring an amq.* exchange",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch, n) => ch.assertExchange(`amq.${n.x}`, "direct"),
  },
  {
    name: "declaring the default exchange",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch) => ch.assertExchange("", "direct"),
  },
  {
    name: "exchange.delete if-unused of an exchange with a binding",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: async (ch, n) => {
      await ch.assertExchange(n.x, "fanout", { durable: false });
      await ch.assertQueue(n.q, { exclusive: true });
      await ch.bindQueue(n.q, n.x, "");
    },
    action: (ch, n) => ch.deleteExchange(n.x, { ifUnused: true }),
  },
  {
    name: "deleting amq.direct",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch) => ch.deleteExchange("amq.direct"),
  },
  {
    name: "deleting the default exchange",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch) => ch.deleteExchange(""),
  },
  {
    name: "binding a queue to the default exchange",
    code: ReplyCode.ACCESS_REFUSED,
    prepare: (ch, n) => ch.assertQueue(n.q, { exclusive: true }),
    action: (ch, n) => ch.bindQueue(n.q, "", n.q),
  },
  {
    name: "exchange.bind with the default exchange as source",
    code: ReplyCode.ACCESS_REFUSED,
    prepare: (ch, n) => ch.assertExchange(n.x, "fanout", { durable: false }),
    action: (ch, n) => ch.bindExchange(n.x, "", "k"),
  },
  {
    name: "exchange.bind with the default exchange as destination",
    code: ReplyCode.ACCESS_REFUSED,
    prepare: (ch, n) => ch.assertExchange(n.x, "fanout", { durable: false }),
    action: (ch, n) => ch.bindExchange("", n.x, "k"),
  },
  {
    name: "exchange.bind from a missing source",
    code: ReplyCode.NOT_FOUND,
    prepare: (ch, n) => ch.assertExchange(n.x, "fanout", { durable: false }),
    action: (ch, n) => ch.bindExchange(n.x, `${n.x}-missing`, ""),
  },
  {
    name: "exchange.bind to a missing destination",
    code: ReplyCode.NOT_FOUND,
    prepare: (ch, n) => ch.assertExchange(n.x, "fanout", { durable: false }),
    action: (ch, n) => ch.bindExchange(`${n.x}-missing`, n.x, ""),
  },
  {
    name: "queue.bind to a missing exchange",
    code: ReplyCode.NOT_FOUND,
    prepare: (ch, n) => ch.assertQueue(n.q, { exclusive: true }),
    action: (ch, n) => ch.bindQueue(n.q, n.x, "k"),
  },
  {
    name: "queue.bind of a missing queue",
    code: ReplyCode.NOT_FOUND,
    prepare: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false }),
    action: (ch, n) => ch.bindQueue(n.q, n.x, "k"),
  },
  {
    name: "headers binding with an unknown x-match",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: async (ch, n) => {
      await ch.assertExchange(n.x, "headers", { durable: false });
      await ch.assertQueue(n.q, { exclusive: true });
    },
    action: (ch, n) => ch.bindQueue(n.q, n.x, "", { "x-match": "some" }),
  },
  {
    name: "headers binding with a non-string x-match",
    code: ReplyCode.PRECONDITION_FAILED,
    prepare: async (ch, n) => {
      await ch.assertExchange(n.x, "headers", { durable: false });
      await ch.assertQueue(n.q, { exclusive: true });
    },
    action: (ch, n) => ch.bindQueue(n.q, n.x, "", { "x-match": 1 }),
  },
  {
    name: "publish to a missing exchange",
    code: ReplyCode.NOT_FOUND,
    action: (ch, n) => publishThenSync(ch, n.x, "k"),
  },
  {
    name: "publish with a user-id other than the connection's user",
    code: ReplyCode.PRECONDITION_FAILED,
    action: (ch) => publishThenSync(ch, "amq.direct", "k", { userId: "mallory" }),
  },
  {
    name: "declaring a queue named amq.*",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch, n) => ch.assertQueue(`amq.${n.q}`),
  },
  {
    name: "declaring a queue with a server-style amq.gen-* name",
    code: ReplyCode.ACCESS_REFUSED,
    action: (ch, n) => ch.assertQueue(`amq.gen-${n.q}`, { exclusive: true }),
  },
  {
    name: "an alternate-exchange argument that is not a string",
    code: ReplyCode.PRECONDITION_FAILED,
    action: (ch, n) => ch.assertExchange(n.x, "direct", { durable: false, arguments: { "alternate-exchange": 5 } }),
  },
  {
    name: "passive declare of a missing amq.* queue",
    code: ReplyCode.NOT_FOUND,
    action: (ch, n) => ch.checkQueue(`amq.${n.q}`),
  },
];

describe("soft errors close the channel, the connection lives on", () => {
  it.each(SOFT_ERRORS)("$name → $code", async (c) => {
    const n: Names = { x: uid("x"), q: uid("q") };
    await c.prepare?.(setup, n);
    expect(await channelCloseCode(conn, (ch) => c.action(ch, n))).toBe(c.code);
    // The same connection still declares, publishes and gets on a new channel.
    const ch = await openChannel(conn);
    const { queue } = await ch.assertQueue("", { exclusive: true });
    ch.sendToQueue(queue, Buffer.from("still-alive"));
    expect(await drain(ch, queue)).toEqual(["still-alive"]);
    await ch.close();
  });
});

describe("RabbitMQ's error texts", () => {
  it("basic.consume and basic.get of a missing queue: NOT_FOUND - no queue 'q' in vhost '/'", async () => {
    const q = uid("missing");
    for (const action of [(ch: Channel) => ch.consume(q, () => undefined), (ch: Channel) => ch.get(q)]) {
      const ch = await openChannel(conn);
      ch.on("error", () => undefined);
      await expect(action(ch)).rejects.toThrow(`NOT_FOUND - no queue '${q}' in vhost '/'`);
    }
  });
});

describe("exclusive queues of other connections", () => {
  it("binding one is 405 RESOURCE_LOCKED", async () => {
    const owner = await connect(url());
    const { queue } = await (await openChannel(owner)).assertQueue("", { exclusive: true });
    expect(await channelCloseCode(conn, (ch) => ch.bindQueue(queue, "amq.direct", "k"))).toBe(ReplyCode.RESOURCE_LOCKED);
    await owner.close();
  });
});

describe("declarations RabbitMQ accepts", () => {
  it("redeclaring an exchange with the same properties, and amq.* exchanges as they are", async () => {
    const x = uid("same");
    await setup.assertExchange(x, "topic", { durable: false, arguments: { "alternate-exchange": "ae" } });
    await setup.assertExchange(x, "topic", { durable: false, arguments: { "alternate-exchange": "ae" } });
    // Only alternate-exchange takes part in equivalence; other arguments may differ.
    await setup.assertExchange(x, "topic", { durable: false, arguments: { "alternate-exchange": "ae", "x-other": 1 } });
    await setup.assertExchange("amq.direct", "direct", { durable: true });
    await setup.assertExchange("amq.topic", "topic", { durable: true });
    await setup.checkExchange("amq.headers");
    await setup.checkExchange("amq.match");
    await setup.deleteExchange(x);
  });

  it("a server-named queue: generated amq.gen-* name, passive redeclare by that name", async () => {
    const { queue } = await setup.assertQueue("", { exclusive: true });
    expect(queue).toMatch(/^amq\.gen-/);
    expect((await setup.checkQueue(queue)).queue).toBe(queue);
  });

  it("publishing with user-id equal to the authenticated user", async () => {
    const { queue } = await setup.assertQueue("", { exclusive: true });
    setup.sendToQueue(queue, Buffer.from("mine"), { userId: "guest" });
    expect(await drain(setup, queue)).toEqual(["mine"]);
  });

  it("deleting a missing exchange, unbinding a binding that never existed", async () => {
    const x = uid("never");
    await setup.deleteExchange(x);
    await setup.assertExchange(x, "direct", { durable: false });
    const { queue } = await setup.assertQueue("", { exclusive: true });
    await setup.unbindQueue(queue, x, "no-such-key");
    await setup.unbindExchange("amq.fanout", x, "no-such-key");
    await setup.deleteExchange(x);
  });

  it("unbinding from or of a missing queue or exchange is unbind-ok (RabbitMQ 3.10.8)", async () => {
    const [x, q] = [uid("gone-x"), uid("gone-q")];
    const { queue } = await setup.assertQueue("", { exclusive: true });
    await setup.unbindQueue(queue, x, "k");
    await setup.unbindQueue(q, "amq.direct", "k");
    await setup.unbindQueue(q, x, "k");
    await setup.unbindExchange("amq.fanout", x, "k");
    await setup.unbindExchange(x, "amq.direct", "k");
    await setup.unbindExchange(x, uid("gone-src"), "k");
    // The channel is still open.
    await setup.checkQueue(queue);
  });

  it("exchange.delete if-unused succeeds when the exchange is only a destination", async () => {
    const [src, dst] = [uid("src"), uid("dst")];
    await setup.assertExchange(src, "fanout", { durable: false });
    await setup.assertExchange(dst, "fanout", { durable: false });
    await setup.bindExchange(dst, src, "");
    await setup.deleteExchange(dst, { ifUnused: true });
    expect(await channelCloseCode(conn, (ch) => ch.checkExchange(dst))).toBe(404);
    // The source forgot its binding to the deleted exchange: a new one of that name gets nothing.
    await setup.assertExchange(dst, "fanout", { durable: false });
    const { queue } = await setup.assertQueue("", { exclusive: true });
    await setup.bindQueue(queue, dst, "");
    setup.publish(src, "", Buffer.from("lost"));
    setup.publish(dst, "", Buffer.from("direct"));
    expect(await drain(setup, queue)).toEqual(["direct"]);
  });

  it("x-match is only validated for headers exchanges", async () => {
    const x = uid("direct-xmatch");
    await setup.assertExchange(x, "direct", { durable: false });
    const { queue } = await setup.assertQueue("", { exclusive: true });
    await setup.bindQueue(queue, x, "k", { "x-match": "whatever" });
    setup.publish(x, "k", Buffer.from("routed"));
    expect(await drain(setup, queue)).toEqual(["routed"]);
  });
});

describe("auto-delete exchanges", () => {
  const gone = (x: string) => channelCloseCode(conn, (ch) => ch.checkExchange(x));

  it("go away when their last queue binding is removed, not before", async () => {
    const x = uid("auto");
    await setup.assertExchange(x, "direct", { durable: false, autoDelete: true });
    const q1 = (await setup.assertQueue("", { exclusive: true })).queue;
    const q2 = (await setup.assertQueue("", { exclusive: true })).queue;
    await setup.bindQueue(q1, x, "a");
    await setup.bindQueue(q2, x, "b");
    await setup.unbindQueue(q1, x, "a");
    await setup.checkExchange(x);
    await setup.unbindQueue(q2, x, "b");
    expect(await gone(x)).toBe(404);
  });

  it("go away when the bound queue is deleted", async () => {
    const x = uid("auto-q");
    await setup.assertExchange(x, "fanout", { durable: false, autoDelete: true });
    const { queue } = await setup.assertQueue("", { exclusive: true });
    await setup.bindQueue(queue, x, "");
    await setup.deleteQueue(queue);
    expect(await gone(x)).toBe(404);
  });

  it("go away when their last exchange binding is removed", async () => {
    const [x, dst] = [uid("auto-src"), uid("auto-dst")];
    await setup.assertExchange(x, "fanout", { durable: false, autoDelete: true });
    await setup.assertExchange(dst, "fanout", { durable: false });
    await setup.bindExchange(dst, x, "");
    await setup.unbindExchange(dst, x, "");
    expect(await gone(x)).toBe(404);
    await setup.checkExchange(dst);
  });

  it("go away when the exchange they were bound to is deleted", async () => {
    const [src, dst] = [uid("auto-cascade"), uid("cascade-dst")];
    await setup.assertExchange(src, "fanout", { durable: false, autoDelete: true });
    await setup.assertExchange(dst, "fanout", { durable: false });
    await setup.bindExchange(dst, src, "");
    await setup.deleteExchange(dst);
    expect(await gone(src)).toBe(404);
  });

  it("stay while never bound", async () => {
    const x = uid("auto-unbound");
    await setup.assertExchange(x, "fanout", { durable: false, autoDelete: true });
    await setup.checkExchange(x);
    await setup.deleteExchange(x);
  });
});

describe("exact close replies (raw client)", () => {
  let raw: RawClient | undefined;
  afterAll(() => raw?.close());

  async function channelClose(send: (raw: RawClient) => void) {
    raw = await rawWithChannel(port());
    send(raw);
    const reply = closeReply(await raw.expect("channel.close"));
    // Closing the channel is the client's answer; the connection must then serve a new one.
    raw.send(1, { name: "channel.close-ok", args: {} });
    raw.send(2, { name: "channel.open", args: { outOfBand: "" } });
    await raw.expect("channel.open-ok");
    raw.close();
    return reply;
  }

  async function connectionClose(send: (raw: RawClient) => void) {
    raw = await rawWithChannel(port());
    send(raw);
    const reply = closeReply(await raw.expect("connection.close"));
    raw.send(0, { name: "connection.close-ok", args: {} });
    await raw.waitClosed();
    await sync(setup); // other connections carry on
    return reply;
  }

  const publish =
    (exchange: string, flags: { immediate?: boolean } = {}) =>
    (r: RawClient) => {
      const w = new FrameWriter();
      w.frameMax = 131072;
      const args = { ticket: 0, exchange, routingKey: "k", mandatory: false, immediate: flags.immediate ?? false };
      w.content(1, { name: "basic.publish", args }, {}, new TextEncoder().encode("m"));
      r.write(w.take()!);
    };
  const declare = (exchange: string, type: string) => (r: RawClient) =>
    r.send(1, {
      name: "exchange.declare",
      args: {
        ticket: 0,
        exchange,
        type,
        passive: false,
        durable: false,
        autoDelete: false,
        internal: false,
        noWait: false,
        arguments: table({}),
      },
    });

  // queue.declare of a name given as raw bytes (the codec's encoder only writes valid UTF-8).
  const declareRawName = (name: Uint8Array) => (r: RawClient) => {
    const payload = new Uint8Array([0, 50, 0, 10, 0, 0, name.length, ...name, 0, 0, 0, 0, 0]);
    r.write(encodeFrame(FrameType.Method, 1, payload));
  };

  it("names are UTF-8: 'r\\xff' and 255 bytes of 0xFF are refused as RabbitMQ does (501, 'Malformed UTF-8 in shortstr')", async () => {
    for (const name of [new Uint8Array([0x72, 0xff]), new Uint8Array(255).fill(0xff)]) {
      raw = await rawWithChannel(port());
      declareRawName(name)(raw);
      const close = await raw.expect("connection.close");
      expect(close.method.args).toEqual({
        replyCode: 501,
        replyText: "FRAME_ERROR - Malformed UTF-8 in shortstr",
        classId: 0,
        methodId: 0,
      });
      raw.send(0, { name: "connection.close-ok", args: {} });
      await raw.waitClosed();
    }
    // A valid non-ASCII name is an ordinary queue.
    raw = await rawWithChannel(port());
    declareRawName(new TextEncoder().encode(uid("ré-")))(raw);
    await raw.expect("queue.declare-ok");
    raw.close();
  });

  it("a method frame whose arguments end early or run on: 501 'cannot decode <<…>>' with its ids, as RabbitMQ 3.10.8", async () => {
    const cases: [number[], string][] = [
      [[0, 50, 0, 10, 0, 0, 5, 0x61], "FRAME_ERROR - cannot decode <<0,0,5,97>>"],
      [[0, 50, 0, 10, 0, 0, 1, 0x61, 0, 0, 0, 0, 0, 9, 9], "FRAME_ERROR - cannot decode <<0,0,1,97,0,0,0,0,0,9,9>>"],
      [[0, 50, 0, 10, 0, 0, 1, 0x61, 0, 0, 0, 0, 50], "FRAME_ERROR - cannot decode <<0,0,1,97,0,0,0,0,50>>"],
    ];
    for (const [payload, replyText] of cases) {
      raw = await rawWithChannel(port());
      raw.write(encodeFrame(FrameType.Method, 1, new Uint8Array(payload)));
      const close = await raw.expect("connection.close");
      expect(close.method.args).toEqual({ replyCode: 501, replyText, classId: 50, methodId: 10 });
      raw.close();
    }
  });

  it("connection.open of a missing vhost: 530 'vhost v not found', unquoted as RabbitMQ 3.10.8", async () => {
    raw = await RawClient.connect(port());
    raw.write(PROTOCOL_HEADER);
    await raw.expect("connection.start");
    const response = "\0guest\0guest";
    raw.send(0, { name: "connection.start-ok", args: { clientProperties: {}, mechanism: "PLAIN", response, locale: "en_US" } });
    const tune = await raw.expect("connection.tune");
    if (tune.method.name !== "connection.tune") throw new Error("no tune");
    raw.send(0, { name: "connection.tune-ok", args: { ...tune.method.args, heartbeat: 0 } });
    raw.send(0, { name: "connection.open", args: { virtualHost: "no-such-vhost", capabilities: "", insist: false } });
    const close = await raw.expect("connection.close");
    expect(close.method.args).toEqual({
      replyCode: 530,
      replyText: "NOT_ALLOWED - vhost no-such-vhost not found",
      classId: 10,
      methodId: 40,
    });
    raw.close();
  });

  it("publish to a missing exchange: channel.close 404 naming basic.publish", async () => {
    expect(await channelClose(publish(uid("missing")))).toEqual({ method: "channel.close", replyCode: 404, classId: 60, methodId: 40 });
  });

  it("declaring amq.foo: channel.close 403 naming exchange.declare", async () => {
    expect(await channelClose(declare("amq.foo", "direct"))).toEqual({
      method: "channel.close",
      replyCode: 403,
      classId: 40,
      methodId: 10,
    });
  });

  it("unknown exchange type: connection.close 503 COMMAND_INVALID", async () => {
    expect(await connectionClose(declare(uid("bad-type"), "x-no-such-type"))).toEqual({
      method: "connection.close",
      replyCode: ReplyCode.COMMAND_INVALID,
      classId: 40,
      methodId: 10,
    });
  });

  it("publish with immediate=true: connection.close 540 NOT_IMPLEMENTED", async () => {
    expect(await connectionClose(publish("amq.direct", { immediate: true }))).toEqual({
      method: "connection.close",
      replyCode: ReplyCode.NOT_IMPLEMENTED,
      classId: 60,
      methodId: 40,
    });
  });
});

describe("hard errors close one connection, the others carry on", () => {
  const HARD: { name: string; code: number; action: (ch: Channel) => unknown }[] = [
    { name: "unknown exchange type", code: ReplyCode.COMMAND_INVALID, action: (ch) => ch.assertExchange(uid("bad"), "no-such-type") },
    {
      name: "unknown exchange type on an amq.* name",
      code: ReplyCode.COMMAND_INVALID,
      action: (ch) => ch.assertExchange("amq.direct", "no-such-type"),
    },
  ];

  it.each(HARD)("$name → connection.close $code", async (c) => {
    const victim = await connect(url());
    const closed = connectionCloseCode(victim);
    const ch = await openChannel(victim);
    await Promise.resolve(c.action(ch)).catch(() => undefined);
    expect(await closed).toBe(c.code);
    // The shared connection opened before is untouched.
    const { queue } = await setup.assertQueue("", { exclusive: true });
    setup.sendToQueue(queue, Buffer.from("unaffected"));
    expect(await drain(setup, queue)).toEqual(["unaffected"]);
  });
});

// Warren's own WebSocket endpoint: nothing to compare with RabbitMQ (no Web-AMQP plugin there).
describe.skipIf(againstRabbitmq)("errors over WebSocket (@cloudamqp/amqp-client)", () => {
  it("soft errors close the channel with the RabbitMQ code, hard ones the connection", async () => {
    const client = new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest");
    const ws = await client.connect();
    const x = uid("ws-x");

    const ch1 = await ws.channel();
    await ch1.exchangeDeclare(x, "direct", { durable: false });
    await expect(ch1.exchangeDeclare(x, "topic", { durable: false })).rejects.toThrow(/PRECONDITION_FAILED.*\(406\)/);

    const ch2 = await ws.channel();
    await ch2.basicPublish(uid("ws-missing"), "k", "m");
    await expect(ch2.queueDeclare("", { exclusive: true })).rejects.toThrow(/NOT_FOUND.*\(404\)/);

    const ch3 = await ws.channel();
    await expect(ch3.queueBind("amq.gen-nope", x, "k")).rejects.toThrow(/\(404\)/);

    const ch4 = await ws.channel();
    await expect(ch4.exchangeDeclare("amq.ws", "direct")).rejects.toThrow(/ACCESS_REFUSED.*\(403\)/);

    // The connection still works after four channel errors.
    const ch5 = await ws.channel();
    const q = await ch5.queueDeclare("", { exclusive: true });
    await ch5.basicPublish("", q.name, "ok");
    expect((await ch5.basicGet(q.name, { noAck: true }))?.bodyToString()).toBe("ok");

    // A hard error closes this connection only.
    await expect(ch5.exchangeDeclare(uid("ws-bad"), "nonsense" as "direct")).rejects.toThrow(/COMMAND_INVALID|\(503\)/);
    expect(ws.closed).toBe(true);
    await setup.checkExchange(x);
    await setup.deleteExchange(x);
  });
});
