import type { Channel, ChannelModel } from "amqplib";
import { AMQPWebSocketClient } from "@cloudamqp/amqp-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { channelCloseCode, connect, drain, openChannel, sync, uid } from "./topology-helpers";

const warren = useWarren();
const url = () => warren.server.amqpUrl!;

type Args = Record<string, unknown>;

/**
 * One routing scenario: bind queues to an exchange, publish, then compare what each queue
 * holds. `@` in keys, header values and bodies stands for a per-test id, so scenarios on the
 * shared amq.* exchanges cannot see each other's messages.
 */
interface RouteCase {
  name: string;
  /** A type declares a fresh exchange; a name starting "amq." uses that standard exchange. */
  exchange: "direct" | "fanout" | "topic" | "headers" | `amq.${string}`;
  bindings: readonly (readonly [queue: string, key: string, args?: Args])[];
  publishes: readonly { key: string; headers?: Args; body?: string }[];
  /** queue → bodies it must hold, in publish order (body defaults to the routing key). */
  expect: Record<string, readonly string[]>;
}

let conn: ChannelModel;
let ch: Channel;

beforeAll(async () => {
  conn = await connect(url());
  ch = await openChannel(conn);
});
afterAll(async () => {
  await conn?.close();
});

async function tempQueue(c: Channel = ch): Promise<string> {
  return (await c.assertQueue("", { exclusive: true })).queue;
}

function subst<T>(value: T, id: string): T {
  if (typeof value === "string") return value.replaceAll("@", id) as T;
  if (Array.isArray(value)) return value.map((v: unknown) => subst(v, id)) as T;
  if (value && typeof value === "object" && !Buffer.isBuffer(value) && !("!" in value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, subst(v, id)])) as T;
  }
  return value;
}

async function runCase(c: RouteCase): Promise<void> {
  const id = uid("r");
  let exchange: string;
  if (c.exchange.startsWith("amq.")) {
    exchange = c.exchange;
  } else {
    exchange = uid(`x-${c.exchange}`);
    await ch.assertExchange(exchange, c.exchange, { durable: false, autoDelete: false });
  }
  const queues = new Map<string, string>();
  for (const label of Object.keys(c.expect)) queues.set(label, await tempQueue());
  for (const [label, key, args] of c.bindings) {
    await ch.bindQueue(queues.get(label)!, exchange, subst(key, id), subst(args ?? {}, id));
  }
  for (const p of c.publishes) {
    const key = subst(p.key, id);
    const headers = p.headers ? subst(p.headers, id) : undefined;
    ch.publish(exchange, key, Buffer.from(subst(p.body ?? p.key, id)), headers ? { headers } : {});
  }
  await sync(ch);
  const got: Record<string, string[]> = {};
  for (const [label, q] of queues) got[label] = await drain(ch, q);
  expect(got).toEqual(subst(c.expect, id));
  for (const q of queues.values()) await ch.deleteQueue(q);
  if (!c.exchange.startsWith("amq.")) await ch.deleteExchange(exchange);
}

// Every topic pattern gets its own queue; each routing key below is published once.
const TOPIC_KEYS = [
  "",
  "a",
  "b",
  "a.b",
  "a.x.b",
  "a.x.y.b",
  "a.b.c",
  "x.a.b",
  "quick.orange.rabbit",
  "lazy.orange.elephant",
  "lazy.brown.fox",
];
const TOPIC_PATTERNS: Record<string, readonly string[]> = {
  "#": TOPIC_KEYS,
  "#.#": TOPIC_KEYS,
  "*": ["a", "b"],
  "": [""],
  "a.b": ["a.b"],
  "a.*": ["a.b"],
  "a.#": ["a", "a.b", "a.x.b", "a.x.y.b", "a.b.c"],
  "a.#.b": ["a.b", "a.x.b", "a.x.y.b"],
  "#.b": ["b", "a.b", "a.x.b", "a.x.y.b", "x.a.b"],
  "*.*": ["a.b"],
  "a.*.#": ["a.b", "a.x.b", "a.x.y.b", "a.b.c"],
  "*.orange.*": ["quick.orange.rabbit", "lazy.orange.elephant"],
  "lazy.#": ["lazy.orange.elephant", "lazy.brown.fox"],
  "*.*.rabbit": ["quick.orange.rabbit"],
};

const CASES: RouteCase[] = [
  {
    name: "direct: exact, case-sensitive keys; one queue may have several keys",
    exchange: "direct",
    bindings: [
      ["q1", "a"],
      ["q2", "b"],
      ["q3", "a"],
      ["q1", "c"],
    ],
    publishes: [{ key: "a" }, { key: "b" }, { key: "c" }, { key: "d" }, { key: "A" }],
    expect: { q1: ["a", "c"], q2: ["b"], q3: ["a"] },
  },
  {
    name: "direct: the empty key is a key like any other",
    exchange: "direct",
    bindings: [
      ["q1", ""],
      ["q2", "x"],
    ],
    publishes: [{ key: "", body: "empty" }, { key: "x" }],
    expect: { q1: ["empty"], q2: ["x"] },
  },
  {
    name: "direct: two bindings with different arguments deliver once",
    exchange: "direct",
    bindings: [
      ["q1", "k", { a: 1 }],
      ["q1", "k", { a: 2 }],
    ],
    publishes: [{ key: "k" }],
    expect: { q1: ["k"] },
  },
  {
    name: "amq.direct",
    exchange: "amq.direct",
    bindings: [
      ["q1", "@-k"],
      ["q2", "@-j"],
    ],
    publishes: [{ key: "@-k" }, { key: "@-other" }],
    expect: { q1: ["@-k"], q2: [] },
  },
  {
    name: "fanout: every bound queue whatever the key",
    exchange: "fanout",
    bindings: [
      ["q1", "x"],
      ["q2", ""],
    ],
    publishes: [{ key: "anything" }, { key: "", body: "empty" }],
    expect: { q1: ["anything", "empty"], q2: ["anything", "empty"], q3: [] },
  },
  {
    name: "amq.fanout",
    exchange: "amq.fanout",
    bindings: [["q1", ""]],
    publishes: [{ key: "k", body: "@" }],
    expect: { q1: ["@"] },
  },
  {
    name: "topic: *, #, a.#.b, # alone, the empty key",
    exchange: "topic",
    bindings: Object.keys(TOPIC_PATTERNS).map((p) => [p, p] as const),
    publishes: TOPIC_KEYS.map((key) => ({ key })),
    expect: TOPIC_PATTERNS,
  },
  {
    name: "topic: a message matching two bindings of one queue arrives once",
    exchange: "topic",
    bindings: [
      ["q1", "a.*"],
      ["q1", "*.b"],
      ["q1", "#"],
    ],
    publishes: [{ key: "a.b" }],
    expect: { q1: ["a.b"] },
  },
  {
    name: "amq.topic",
    exchange: "amq.topic",
    bindings: [
      ["q1", "@.*"],
      ["q2", "@.#"],
      ["q3", "*.@"],
    ],
    publishes: [{ key: "@" }, { key: "@.a" }, { key: "@.a.b" }, { key: "x.@" }],
    expect: { q1: ["@.a"], q2: ["@", "@.a", "@.a.b"], q3: ["x.@"] },
  },
  {
    name: "headers: x-match all / any, default all, empty binding, numbers, void, x- keys",
    exchange: "headers",
    bindings: [
      ["all", "", { "x-match": "all", format: "pdf", type: "report" }],
      ["any", "", { "x-match": "any", format: "pdf", type: "log" }],
      ["implicitAll", "ignored-key", { format: "zip", type: "log" }],
      ["everything", "", {}],
      ["number", "", { n: 5 }],
      ["present", "", { "x-match": "all", flag: null }],
      ["xOnly", "", { "x-match": "any", "x-foo": "bar" }],
    ],
    publishes: [
      { key: "", headers: { format: "pdf", type: "report" }, body: "pdf-report" },
      { key: "", headers: { format: "pdf", type: "log" }, body: "pdf-log" },
      { key: "", headers: { format: "zip" }, body: "zip" },
      { key: "", headers: { format: "zip", type: "log", extra: true }, body: "zip-log" },
      { key: "", headers: { type: "log" }, body: "log" },
      { key: "", body: "none" },
      { key: "", headers: { n: { "!": "long", value: 5 } }, body: "n5-long" },
      { key: "", headers: { n: 6 }, body: "n6" },
      { key: "", headers: { flag: "anything" }, body: "flag" },
      { key: "", headers: { "x-foo": "bar" }, body: "x-foo" },
    ],
    expect: {
      all: ["pdf-report"],
      any: ["pdf-report", "pdf-log", "zip-log", "log"],
      implicitAll: ["zip-log"],
      everything: ["pdf-report", "pdf-log", "zip", "zip-log", "log", "none", "n5-long", "n6", "flag", "x-foo"],
      number: ["n5-long"],
      present: ["flag"],
      xOnly: [],
    },
  },
  {
    // RabbitMQ compares header values with Erlang ==: 5 equals 5.0, a longstr equals the same bytes.
    name: "headers: values compare as RabbitMQ does (int = float, string = bytes)",
    exchange: "headers",
    bindings: [
      ["n", "", { n: 5 }],
      ["s", "", { s: "abc" }],
    ],
    publishes: [
      { key: "", headers: { n: { "!": "double", value: 5 } }, body: "n-double" },
      { key: "", headers: { n: { "!": "double", value: 5.5 } }, body: "n-5.5" },
      { key: "", headers: { s: Buffer.from("abc") }, body: "s-bytes" },
      { key: "", headers: { s: "abd" }, body: "s-other" },
    ],
    expect: { n: ["n-double"], s: ["s-bytes"] },
  },
  {
    name: "amq.headers",
    exchange: "amq.headers",
    bindings: [["q1", "", { "x-match": "any", tag: "@", other: "@" }]],
    publishes: [
      { key: "", headers: { tag: "@" }, body: "yes" },
      { key: "", headers: { tag: "nope" }, body: "no" },
    ],
    expect: { q1: ["yes"] },
  },
  {
    name: "amq.match",
    exchange: "amq.match",
    bindings: [["q1", "", { "x-match": "all", tag: "@", kind: "m" }]],
    publishes: [
      { key: "", headers: { tag: "@", kind: "m" }, body: "yes" },
      { key: "", headers: { tag: "@" }, body: "no" },
    ],
    expect: { q1: ["yes"] },
  },
];

describe("routing like RabbitMQ", () => {
  it.each(CASES)("$name", runCase);

  it("the default exchange routes by queue name and unknown names go nowhere", async () => {
    const q = await tempQueue();
    ch.publish("", q, Buffer.from("direct-to-queue"));
    ch.publish("", `${q}-missing`, Buffer.from("lost"));
    ch.sendToQueue(q, Buffer.from("second"));
    await sync(ch);
    expect(await drain(ch, q)).toEqual(["direct-to-queue", "second"]);
  });

  it("queue.bind with an empty queue and key binds the last declared queue under its own name", async () => {
    const c = await openChannel(conn);
    const { queue } = await c.assertQueue("", { exclusive: true });
    await c.bindQueue("", "amq.direct", "");
    c.publish("amq.direct", queue, Buffer.from("by-name"));
    c.publish("amq.direct", "", Buffer.from("empty-key"));
    await sync(c);
    expect(await drain(c, queue)).toEqual(["by-name"]);
    await c.unbindQueue("", "amq.direct", "");
    c.publish("amq.direct", queue, Buffer.from("unbound"));
    await sync(c);
    expect(await drain(c, queue)).toEqual([]);
    await c.close();
  });

  it("a mandatory publish that routes nowhere comes back with basic.return 312", async () => {
    const returned = new Promise<{ replyCode: number; routingKey: string }>((resolve) =>
      ch.once("return", (m: { fields: { replyCode: number; routingKey: string } }) => resolve(m.fields)),
    );
    ch.publish("amq.direct", uid("nowhere"), Buffer.from("x"), { mandatory: true });
    expect((await returned).replyCode).toBe(312);
  });
});

describe("routing to consumers", () => {
  it("a topic exchange feeds consumers on another connection, each message once per queue", async () => {
    const x = uid("consumed");
    await ch.assertExchange(x, "topic", { durable: false });
    const sub = await connect(url());
    const subCh = await openChannel(sub);
    const got = new Map<string, string[]>();
    const done = new Promise<void>((resolve) => {
      let left = 3 + 2; // "errors" gets 3 messages, "eu" gets 2
      const consume = async (name: string, pattern: string) => {
        const { queue } = await subCh.assertQueue("", { exclusive: true });
        await subCh.bindQueue(queue, x, pattern);
        got.set(name, []);
        await subCh.consume(
          queue,
          (m) => {
            if (!m) return;
            got.get(name)!.push(m.content.toString());
            if (--left === 0) resolve();
          },
          { noAck: true },
        );
      };
      void consume("errors", "*.error")
        .then(() => consume("eu", "eu.#"))
        .then(() => {
          for (const key of ["eu.error", "us.error", "eu.info", "us.info", "ap.error"]) ch.publish(x, key, Buffer.from(key));
        });
    });
    await done;
    expect(Object.fromEntries(got)).toEqual({ errors: ["eu.error", "us.error", "ap.error"], eu: ["eu.error", "eu.info"] });
    await sub.close();
  });
});

describe("exchange-to-exchange bindings", () => {
  it("exchange.bind forwards what the source routes; unbind stops it", async () => {
    const src = uid("e2e-src");
    const dst = uid("e2e-dst");
    await ch.assertExchange(src, "topic", { durable: false });
    await ch.assertExchange(dst, "direct", { durable: false });
    const q = await tempQueue();
    await ch.bindQueue(q, dst, "a.b");
    await ch.bindExchange(dst, src, "a.*");
    // The routing key travels unchanged: dst (direct) matches it against its own bindings.
    for (const key of ["a.b", "a.c", "x.b"]) ch.publish(src, key, Buffer.from(key));
    await sync(ch);
    expect(await drain(ch, q)).toEqual(["a.b"]);
    await ch.unbindExchange(dst, src, "a.*");
    ch.publish(src, "a.b", Buffer.from("after-unbind"));
    ch.publish(dst, "a.b", Buffer.from("direct"));
    await sync(ch);
    expect(await drain(ch, q)).toEqual(["direct"]);
  });

  it("a chain A → B → C reaches queues at every level", async () => {
    const [a, b, c] = [uid("ea"), uid("eb"), uid("ec")];
    for (const x of [a, b, c]) await ch.assertExchange(x, "fanout", { durable: false });
    await ch.bindExchange(b, a, "");
    await ch.bindExchange(c, b, "");
    const [qa, qc] = [await tempQueue(), await tempQueue()];
    await ch.bindQueue(qa, a, "");
    await ch.bindQueue(qc, c, "");
    ch.publish(a, "k", Buffer.from("m"));
    await sync(ch);
    expect([await drain(ch, qa), await drain(ch, qc)]).toEqual([["m"], ["m"]]);
  });

  it("a loop A → B → A delivers exactly once per queue and does not spin", async () => {
    const [a, b] = [uid("loop-a"), uid("loop-b")];
    await ch.assertExchange(a, "fanout", { durable: false });
    await ch.assertExchange(b, "topic", { durable: false });
    await ch.bindExchange(b, a, "");
    await ch.bindExchange(a, b, "#");
    const [qa, qb, both] = [await tempQueue(), await tempQueue(), await tempQueue()];
    await ch.bindQueue(qa, a, "");
    await ch.bindQueue(qb, b, "#");
    await ch.bindQueue(both, a, "");
    await ch.bindQueue(both, b, "#");
    ch.publish(a, "k", Buffer.from("from-a"));
    ch.publish(b, "k", Buffer.from("from-b"));
    await sync(ch);
    expect(await drain(ch, qa)).toEqual(["from-a", "from-b"]);
    expect(await drain(ch, qb)).toEqual(["from-a", "from-b"]);
    expect(await drain(ch, both)).toEqual(["from-a", "from-b"]);
  });

  it("unroutable messages go to the alternate exchange's queues", async () => {
    const ae = uid("ae");
    const x = uid("with-ae");
    await ch.assertExchange(ae, "fanout", { durable: false });
    await ch.assertExchange(x, "direct", { durable: false, alternateExchange: ae });
    const [routed, alt] = [await tempQueue(), await tempQueue()];
    await ch.bindQueue(routed, x, "known");
    await ch.bindQueue(alt, ae, "");
    for (const key of ["known", "unknown", "other"]) ch.publish(x, key, Buffer.from(key));
    await sync(ch);
    expect(await drain(ch, routed)).toEqual(["known"]);
    expect(await drain(ch, alt)).toEqual(["unknown", "other"]);
  });

  it("a missing alternate exchange just drops the message; mandatory returns it", async () => {
    const x = uid("dangling-ae");
    await ch.assertExchange(x, "direct", { durable: false, alternateExchange: uid("no-such-ae") });
    const returned = new Promise<string>((resolve) => ch.once("return", (m: { content: Buffer }) => resolve(m.content.toString())));
    ch.publish(x, "k", Buffer.from("back"), { mandatory: true });
    expect(await returned).toBe("back");
  });

  it("an alternate-exchange loop and an exchange bound to itself terminate", async () => {
    const [x, y] = [uid("ae-loop-x"), uid("ae-loop-y")];
    await ch.assertExchange(x, "direct", { durable: false, alternateExchange: y });
    await ch.assertExchange(y, "direct", { durable: false, alternateExchange: x });
    await ch.bindExchange(x, x, "self");
    const q = await tempQueue();
    await ch.bindQueue(q, y, "to-y");
    for (const key of ["nowhere", "to-y", "self"]) ch.publish(x, key, Buffer.from(key));
    await sync(ch);
    expect(await drain(ch, q)).toEqual(["to-y"]);
    // Deleting an exchange bound to itself tidies both ends of that binding without hanging.
    await ch.deleteExchange(x);
    await ch.deleteExchange(y);
    expect(await channelCloseCode(conn, (c) => c.checkExchange(x))).toBe(404);
  });

  it("an internal exchange refuses publishes (403) but routes through an exchange binding", async () => {
    const front = uid("front");
    const internal = uid("internal");
    await ch.assertExchange(front, "topic", { durable: false });
    await ch.assertExchange(internal, "fanout", { durable: false, internal: true });
    await ch.bindExchange(internal, front, "#");
    const q = await tempQueue();
    await ch.bindQueue(q, internal, "");
    ch.publish(front, "any.key", Buffer.from("via-front"));
    await sync(ch);
    expect(await drain(ch, q)).toEqual(["via-front"]);
    expect(
      await channelCloseCode(conn, (c) => {
        c.publish(internal, "k", Buffer.from("no"));
        return sync(c);
      }),
    ).toBe(403);
    await sync(ch);
    expect(await drain(ch, q)).toEqual([]);
  });
});

describe("binding changes are seen at once by other connections", () => {
  let other: ChannelModel;
  beforeAll(async () => {
    other = await connect(url());
  });
  afterAll(async () => {
    await other?.close();
  });

  it("bind, unbind and delete on B apply to publishes on A that cached the exchange", async () => {
    const x = uid("shared");
    const chB = await openChannel(other);
    await chB.assertExchange(x, "direct", { durable: false });
    const q = await tempQueue(chB);
    // A publishes first, so its connection caches x with no bindings.
    ch.publish(x, "k", Buffer.from("before-bind"));
    await sync(ch);
    await chB.bindQueue(q, x, "k");
    ch.publish(x, "k", Buffer.from("after-bind"));
    await sync(ch);
    expect(await drain(chB, q)).toEqual(["after-bind"]);
    await chB.unbindQueue(q, x, "k");
    ch.publish(x, "k", Buffer.from("after-unbind"));
    await sync(ch);
    expect(await drain(chB, q)).toEqual([]);
    await chB.deleteExchange(x);
    expect(
      await channelCloseCode(conn, (c) => {
        c.publish(x, "k", Buffer.from("gone"));
        return sync(c);
      }),
    ).toBe(404);
    await chB.close();
  });

  it("a binding added downstream of an exchange binding is seen too", async () => {
    const [up, down] = [uid("up"), uid("down")];
    const chB = await openChannel(other);
    await chB.assertExchange(up, "fanout", { durable: false });
    await chB.assertExchange(down, "direct", { durable: false });
    await chB.bindExchange(down, up, "");
    const q = await tempQueue(chB);
    ch.publish(up, "k", Buffer.from("cached"));
    await sync(ch);
    await chB.bindQueue(q, down, "k");
    ch.publish(up, "k", Buffer.from("routed"));
    await sync(ch);
    expect(await drain(chB, q)).toEqual(["routed"]);
    // Re-created under the same name, the exchange starts without the old bindings.
    await chB.deleteExchange(down);
    await chB.assertExchange(down, "direct", { durable: false });
    ch.publish(up, "k", Buffer.from("not-routed"));
    await sync(ch);
    expect(await drain(chB, q)).toEqual([]);
    await chB.close();
  });

  it("deleting a queue removes its bindings: a new queue of that name gets nothing", async () => {
    const x = uid("qdel");
    const qName = uid("qdel-q");
    const chB = await openChannel(other);
    await chB.assertExchange(x, "fanout", { durable: false });
    await chB.assertQueue(qName, { durable: false });
    await chB.bindQueue(qName, x, "");
    ch.publish(x, "", Buffer.from("one"));
    await sync(ch);
    expect(await drain(chB, qName)).toEqual(["one"]);
    await chB.deleteQueue(qName);
    await chB.assertQueue(qName, { durable: false });
    ch.publish(x, "", Buffer.from("two"));
    await sync(ch);
    expect(await drain(chB, qName)).toEqual([]);
    await chB.deleteQueue(qName);
    await chB.close();
  });
});

describe("routing over WebSocket (@cloudamqp/amqp-client)", () => {
  it("topic, headers and exchange bindings", async () => {
    const client = new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest");
    const wsConn = await client.connect();
    const wch = await wsConn.channel();
    const [topic, headers] = [uid("ws-topic"), uid("ws-headers")];
    await wch.exchangeDeclare(topic, "topic", { durable: false });
    await wch.exchangeDeclare(headers, "headers", { durable: false });
    await wch.exchangeBind(headers, topic, "h.#");
    const tq = (await wch.queueDeclare("", { exclusive: true })).name;
    const hq = (await wch.queueDeclare("", { exclusive: true })).name;
    await wch.queueBind(tq, topic, "*.x");
    await wch.queueBind(hq, headers, "", { "x-match": "any", a: "1", b: "2" });
    await wch.basicPublish(topic, "t.x", "t.x");
    await wch.basicPublish(topic, "h.x", "h.x-match", { headers: { b: "2" } });
    await wch.basicPublish(topic, "h.y", "h.y-nomatch", { headers: { b: "3" } });
    await wch.basicPublish(topic, "h.z", "h.z-match", { headers: { a: "1" } });
    const bodies = async (q: string) => {
      const out: string[] = [];
      for (let m = await wch.basicGet(q, { noAck: true }); m; m = await wch.basicGet(q, { noAck: true })) out.push(m.bodyToString() ?? "");
      return out;
    };
    expect(await bodies(tq)).toEqual(["t.x", "h.x-match"]);
    expect(await bodies(hq)).toEqual(["h.x-match", "h.z-match"]);
    await wsConn.close();
  });
});
