import type { Channel, ChannelModel, Options } from "amqplib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useWarren } from "./harness";
import { connect, openChannel, sync, uid } from "./topology-helpers";

// Queue, consumer and message arguments checked as RabbitMQ checks them, with its codes and texts
// (captured from RabbitMQ 3.10.8 with these same calls; where 4.x differs, 4.x, as noted).

const warren = useWarren();
const url = () => warren.server.amqpUrl!;

let conn: ChannelModel;

beforeAll(async () => {
  conn = await connect(url());
});
afterAll(async () => {
  await conn?.close();
});

/** The channel.close `action` ends in, as "<code> <reply text>"; "ok" when it does not fail. */
async function outcome(action: (ch: Channel) => Promise<unknown>, on: ChannelModel = conn): Promise<string> {
  const ch = await openChannel(on);
  let closed = "";
  ch.on("error", (err: Error) => (closed = err.message));
  try {
    await action(ch);
    await sync(ch);
  } catch (err) {
    closed ||= (err as Error).message;
  }
  const m = /(\d{3}) \([A-Z-]+\) with message "(.*)"$/s.exec(closed);
  if (!closed) {
    await ch.close();
    return "ok";
  }
  return m ? `${m[1]} ${m[2]}` : closed;
}

const declare = (name: string, args: Options.AssertQueue["arguments"], opts: Options.AssertQueue = {}) =>
  outcome((ch) => ch.assertQueue(name, { durable: false, ...opts, arguments: args }));

const D = (name: string) => `queue '${name}' in vhost '/'`;
const PF = "406 PRECONDITION_FAILED - ";

describe("queue.declare: each argument's check", () => {
  // [arguments, reason in "invalid arg '<key>' for queue 'q' in vhost '/': <reason>", key when not the first]
  const cases: [Record<string, unknown>, string, string?][] = [
    [{ "x-message-ttl": "10" }, '"expected integer, got longstr"'],
    [{ "x-message-ttl": -1 }, "{value_negative,-1}"],
    [{ "x-message-ttl": 315_360_000_001 }, "{value_too_large,315360000001}"],
    [{ "x-expires": 0 }, "{value_zero,0}"],
    [{ "x-expires": -1 }, "{value_negative,-1}"],
    [{ "x-expires": true }, '"expected integer, got bool"'],
    [{ "x-max-length": -1 }, "{value_negative,-1}"],
    [{ "x-max-length": 1.5 }, '"expected integer, got double"'],
    [{ "x-max-length-bytes": -1 }, "{value_negative,-1}"],
    [{ "x-max-length-bytes": { "!": "timestamp", value: 10 } }, '"expected integer, got timestamp"'],
    [{ "x-max-priority": 256 }, "{max_value_exceeded,256}"],
    [{ "x-max-priority": -1 }, "{value_negative,-1}"],
    [{ "x-max-priority": { "!": "decimal", value: { places: 1, digits: 15 } } }, '"expected integer, got decimal"'],
    [{ "x-overflow": "foo" }, "invalid_overflow"],
    [{ "x-overflow": 5 }, "{unacceptable_type,byte}"],
    [{ "x-dead-letter-routing-key": "rk" }, "routing_key_but_no_dlx_defined"],
    [{ "x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": 5 }, "{unacceptable_type,byte}", "x-dead-letter-routing-key"],
    [{ "x-single-active-consumer": "true" }, "{unacceptable_type,longstr}"],
    [{ "x-queue-type": "foo" }, "\"unsupported queue type 'foo'\""],
    [{ "x-queue-type": Buffer.from("classic") }, "{unacceptable_type,binary}"],
    [{ "x-queue-mode": "foo" }, "\"unsupported queue mode 'foo'\""],
    [{ "x-queue-version": 3 }, "\"unsupported queue version '3'\""],
    [{ "x-queue-version": { "!": "float", value: 1 } }, '"expected integer, got float"'],
    [{ "x-message-ttl": -1, "x-queue-type": "foo" }, "\"unsupported queue type 'foo'\"", "x-queue-type"],
    [{ "x-message-ttl": -1, "x-expires": -1 }, "{value_negative,-1}", "x-expires"],
  ];
  it.each(cases)("%j → 406 %s", async (args, reason, key = Object.keys(args)[0]) => {
    const q = uid("qa");
    expect(await declare(q, args)).toBe(`${PF}invalid arg '${key}' for ${D(q)}: ${reason}`);
  });

  it("accepts every valid value, with every AMQP integer type", async () => {
    for (const args of [
      { "x-message-ttl": 0, "x-expires": 1, "x-max-length": 0, "x-max-length-bytes": 0 },
      { "x-message-ttl": { "!": "uint32", value: 60_000 }, "x-expires": { "!": "int64", value: 315_360_000_000 } },
      { "x-max-priority": { "!": "uint8", value: 255 }, "x-queue-version": { "!": "uint16", value: 2 } },
      { "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "rk" },
      { "x-single-active-consumer": true, "x-queue-mode": "lazy", "x-queue-type": "classic", "x-unknown": [1, "a"] },
      { "x-queue-master-locator": "min-masters", "x-queue-leader-locator": "balanced" },
    ]) {
      const q = uid("qok");
      expect(await declare(q, args)).toBe("ok");
    }
  });

  it("x-dead-letter-exchange of another type than longstr has RabbitMQ's channel text", async () => {
    const q = uid("qa");
    expect(await declare(q, { "x-dead-letter-exchange": 5, "x-message-ttl": -1 })).toBe(
      `${PF}invalid type 'byte' for arg 'x-dead-letter-exchange' in ${D(q)}`,
    );
  });

  it("an argument of another queue type is refused, naming the type", async () => {
    const q = uid("qa");
    expect(await declare(q, { "x-delivery-limit": 5 })).toBe(
      `${PF}invalid arg 'x-delivery-limit' for ${D(q)} of queue type rabbit_classic_queue`,
    );
    expect(await declare(q, { "x-max-age": "1D" })).toBe(`${PF}invalid arg 'x-max-age' for ${D(q)} of queue type rabbit_classic_queue`);
  });

  it("a refused declare leaves no queue behind and the connection open", async () => {
    const q = uid("qa");
    expect(await declare(q, { "x-max-length": -1 })).toMatch(/^406 /);
    expect(await outcome((ch) => ch.checkQueue(q))).toBe(`404 NOT_FOUND - no ${D(q)}`);
    expect(await declare(q, { "x-max-length": 1 })).toBe("ok");
  });
});

describe("queue.declare: quorum and stream queues", () => {
  it.each([
    [{ durable: false }, "invalid property 'non-durable' for"],
    [{ durable: true, exclusive: true }, "invalid property 'exclusive-owner' for"],
    [{ durable: true, autoDelete: true }, "invalid property 'auto-delete' for"],
    [{ durable: false, exclusive: true, autoDelete: true }, "invalid property 'auto-delete' for"],
  ])("quorum %j → 406 %s", async (opts, text) => {
    const q = uid("qq");
    expect(await declare(q, { "x-queue-type": "quorum" }, opts)).toBe(`${PF}${text} ${D(q)}`);
  });

  it("quorum: classic-only arguments are refused, quorum ones checked; a valid one is declared", async () => {
    const q = uid("qq");
    for (const arg of ["x-max-priority", "x-queue-mode", "x-queue-version"]) {
      expect(await declare(q, { "x-queue-type": "quorum", [arg]: arg === "x-queue-mode" ? "lazy" : 2 }, { durable: true })).toBe(
        `${PF}invalid arg '${arg}' for ${D(q)} of queue type rabbit_quorum_queue`,
      );
    }
    expect(await declare(q, { "x-queue-type": "quorum", "x-dead-letter-strategy": "foo" }, { durable: true })).toBe(
      `${PF}invalid arg 'x-dead-letter-strategy' for ${D(q)}: invalid_dlx_strategy`,
    );
    expect(await declare(q, { "x-queue-type": "quorum", "x-quorum-initial-group-size": 0 }, { durable: true })).toBe(
      `${PF}invalid arg 'x-quorum-initial-group-size' for ${D(q)}: {value_zero,0}`,
    );
    expect(
      await declare(
        q,
        { "x-queue-type": "quorum", "x-delivery-limit": 5, "x-overflow": "reject-publish-dlx", "x-single-active-consumer": true },
        { durable: true },
      ),
    ).toBe("ok");
  });

  it("quorum and stream queues cannot be server-named", async () => {
    expect(await declare("", { "x-queue-type": "quorum" }, { durable: true })).toBe(
      `${PF}Cannot declare a server-named queue for type rabbit_quorum_queue`,
    );
    expect(await declare("", { "x-queue-type": "stream" }, { durable: true })).toBe(
      `${PF}Cannot declare a server-named queue for type rabbit_stream_queue`,
    );
  });

  it("stream: RabbitMQ's checks, then Warren refuses the declare (no stream queues yet)", async () => {
    const q = uid("qs");
    expect(await declare(q, { "x-queue-type": "stream" }, { durable: false })).toBe(`${PF}invalid property 'non-durable' for ${D(q)}`);
    expect(await declare(q, { "x-queue-type": "stream", "x-message-ttl": 5 }, { durable: true })).toBe(
      `${PF}invalid arg 'x-message-ttl' for ${D(q)} of queue type rabbit_stream_queue`,
    );
    expect(await declare(q, { "x-queue-type": "stream", "x-max-age": "1X" }, { durable: true })).toBe(
      `${PF}invalid arg 'x-max-age' for ${D(q)}: invalid_max_age`,
    );
    expect(await declare(q, { "x-queue-type": "stream" }, { durable: true })).toBe(
      `${PF}cannot declare ${D(q)} of type 'stream': Warren does not support stream queues yet`,
    );
  });
});

describe("queue.declare of an existing queue: compared, not checked (rabbit_misc:assert_args_equivalence)", () => {
  const redeclare = async (first: Record<string, unknown>, second: Record<string, unknown>, opts: Options.AssertQueue = {}) => {
    const q = uid("qe");
    expect(await declare(q, first, opts)).toBe("ok");
    return { q, result: await declare(q, second, opts) };
  };

  it.each([
    [{ "x-max-length": 10 }, { "x-max-length": 20 }, "x-max-length", "received '20' but current is '10'"],
    [{ "x-max-length": 10 }, {}, "x-max-length", "received none but current is the value '10' of type 'byte'"],
    [{}, { "x-max-length": 10 }, "x-max-length", "received the value '10' of type 'byte' but current is none"],
    [{ "x-max-length": 10 }, { "x-max-length": "10" }, "x-max-length", "received '10' but current is '10'"],
    [{ "x-dead-letter-exchange": "a" }, {}, "x-dead-letter-exchange", "received none but current is the value 'a' of type 'longstr'"],
    [
      { "x-single-active-consumer": true },
      { "x-single-active-consumer": false },
      "x-single-active-consumer",
      "received 'false' but current is 'true'",
    ],
    [{}, { "x-queue-type": "quorum" }, "x-queue-type", "received the value 'quorum' of type 'longstr' but current is none"],
    // A value that would be refused for a new queue is compared with the existing one.
    [{ "x-message-ttl": 10 }, { "x-message-ttl": -1 }, "x-message-ttl", "received '-1' but current is '10'"],
    [{}, { "x-message-ttl": -1 }, "x-message-ttl", "received the value '-1' of type 'byte' but current is none"],
  ])("%j then %j → 406 inequivalent arg '%s'", async (first, second, key, text) => {
    const { q, result } = await redeclare(first, second);
    expect(result).toBe(`${PF}inequivalent arg '${key}' for ${D(q)}: ${text}`);
  });

  it("equivalent redeclares succeed: other integer types, classic vs no x-queue-type, unknown arguments, another type's argument", async () => {
    expect((await redeclare({ "x-max-length": 10 }, { "x-max-length": { "!": "int64", value: 10 } })).result).toBe("ok");
    expect((await redeclare({ "x-queue-type": "classic" }, {})).result).toBe("ok");
    expect((await redeclare({}, { "x-queue-type": "classic" })).result).toBe("ok");
    expect((await redeclare({ "x-foo": 1 }, { "x-foo": 2 })).result).toBe("ok");
    // x-delivery-limit is refused on a new classic queue, but not compared on an existing one.
    expect((await redeclare({}, { "x-delivery-limit": 5 })).result).toBe("ok");
  });

  it("a quorum queue compares x-delivery-limit", async () => {
    const { q, result } = await redeclare(
      { "x-queue-type": "quorum", "x-delivery-limit": 5 },
      { "x-queue-type": "quorum", "x-delivery-limit": 6 },
      { durable: true },
    );
    expect(result).toBe(`${PF}inequivalent arg 'x-delivery-limit' for ${D(q)}: received '6' but current is '5'`);
  });
});

describe("basic.publish: the expiration property", () => {
  it.each([
    ["abc", "invalid expiration 'abc': no_integer"],
    ["-1", "invalid expiration '-1': {value_negative,-1}"],
    ["10abc", "invalid expiration '10abc': {leftover_string,\"abc\"}"],
    ["1.5", "invalid expiration '1.5': {leftover_string,\".5\"}"],
    ["", "invalid expiration '': no_integer"],
    ["315360000001", "invalid expiration '315360000001': {value_too_large,315360000001}"],
    ["9999999999999999999", `invalid expiration '9999999999999999999': {value_too_large,\n${" ".repeat(43)}9999999999999999999}`],
  ])("%j closes the channel: 406 %s", async (expiration, text) => {
    const q = uid("qx");
    const result = await outcome(async (ch) => {
      await ch.assertQueue(q, { durable: false, autoDelete: false });
      ch.sendToQueue(q, Buffer.from("before"));
      ch.sendToQueue(q, Buffer.from("bad"), { expiration });
    });
    expect(result).toBe(`${PF}${text}`);
    // What was published before it still landed; the bad one did not.
    const ch = await openChannel(conn);
    expect((await ch.checkQueue(q)).messageCount).toBe(1);
    await ch.deleteQueue(q);
    await ch.close();
  });

  it("valid expirations are accepted", async () => {
    for (const expiration of ["0", "60000", "+5", "315360000000"]) {
      expect(
        await outcome((ch) =>
          ch.assertQueue(uid("qx"), { durable: false }).then((r) => ch.sendToQueue(r.queue, Buffer.from("m"), { expiration })),
        ),
      ).toBe("ok");
    }
  });
});

describe("basic.consume: consumer arguments", () => {
  const consume = async (args: Record<string, unknown>, queueArgs: Record<string, unknown> = {}, opts: Options.AssertQueue = {}) => {
    const q = uid("qc");
    const result = await outcome(async (ch) => {
      await ch.assertQueue(q, { durable: false, ...opts, arguments: queueArgs });
      await ch.consume(q, () => undefined, { arguments: args });
    });
    return { q, result };
  };

  it.each([
    [{ "x-priority": "high" }, "longstr"],
    [{ "x-priority": 1.5 }, "double"],
    [{ "x-priority": true }, "bool"],
    [{ "x-priority": { "!": "timestamp", value: 7 } }, "timestamp"],
  ])("%j → 406 expected integer", async (args, type) => {
    const { q, result } = await consume(args);
    expect(result).toBe(`${PF}invalid arg 'x-priority' for ${D(q)}: "expected integer, got ${type}"`);
  });

  it("x-priority of any integer type is taken, negative or large", async () => {
    for (const p of [5, -5, 2 ** 40, { "!": "uint32", value: 7 }]) expect((await consume({ "x-priority": p })).result).toBe("ok");
  });

  it("x-stream-offset (and x-stream-filter, 4.x) are for streams: refused on classic and quorum queues", async () => {
    let r = await consume({ "x-stream-offset": "first" });
    expect(r.result).toBe(`${PF}invalid arg 'x-stream-offset' for ${D(r.q)} of queue type rabbit_classic_queue`);
    r = await consume({ "x-stream-filter": "a" });
    expect(r.result).toBe(`${PF}invalid arg 'x-stream-filter' for ${D(r.q)} of queue type rabbit_classic_queue`);
    r = await consume({ "x-stream-offset": 5 }, { "x-queue-type": "quorum" }, { durable: true });
    expect(r.result).toBe(`${PF}invalid arg 'x-stream-offset' for ${D(r.q)} of queue type rabbit_quorum_queue`);
  });

  it("a missing queue is 404 and another connection's exclusive queue 405, before the arguments", async () => {
    const missing = uid("qc");
    expect(await outcome((ch) => ch.consume(missing, () => undefined, { arguments: { "x-priority": "high" } }))).toBe(
      `404 NOT_FOUND - no ${D(missing)}`,
    );
    const other = await connect(url());
    try {
      const q = uid("qc");
      expect(await outcome((ch) => ch.assertQueue(q, { exclusive: true }), other)).toBe("ok");
      expect(await outcome((ch) => ch.consume(q, () => undefined, { arguments: { "x-priority": "high" } }))).toMatch(
        /^405 RESOURCE_LOCKED - /,
      );
    } finally {
      await other.close();
    }
  });

  it("a refused consume leaves no consumer", async () => {
    const { q } = await consume({ "x-priority": "high" });
    const ch = await openChannel(conn);
    expect((await ch.checkQueue(q)).consumerCount).toBe(0);
    await ch.close();
  });
});
