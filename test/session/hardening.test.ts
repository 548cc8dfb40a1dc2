import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FRAME_END, FrameType, ReplyCode, encodeContentHeader, encodeFrame } from "../../src/amqp";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/limits";
import { Client, closeOf, frame, names, only, protocolHeader, publish } from "./client";
import { FakeBroker } from "./fakes";

const startOk = (password = "guest") =>
  frame(0, "connection.start-ok", { mechanism: "PLAIN", response: `\0guest\0${password}`, locale: "en_US" });

async function opened(limits: Partial<Limits> = {}, ...queues: string[]): Promise<Client> {
  const broker = new FakeBroker();
  for (const q of queues) broker.addQueue(q);
  return new Client(broker, { limits: { ...DEFAULT_LIMITS, ...limits } }).open(1, 2);
}

function body(channel: number, size: number): Uint8Array {
  return encodeFrame(FrameType.Body, channel, new Uint8Array(size));
}

describe("before the connection is open", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("a socket that never sends the protocol header is closed after handshake_timeout", () => {
    const c = new Client(new FakeBroker(), { limits: { ...DEFAULT_LIMITS, handshakeTimeoutMs: 10_000 } });
    vi.advanceTimersByTime(9_999);
    expect(c.transport.closed).toBe(false);
    vi.advanceTimersByTime(1);
    expect(c.transport.closed).toBe(true);
    expect(c.broker.logs.some((l) => l.includes("handshake not completed"))).toBe(true);
  });

  it("a client that stops after connection.start is closed after handshake_timeout too", async () => {
    const c = new Client();
    c.send(protocolHeader());
    await vi.advanceTimersByTimeAsync(DEFAULT_LIMITS.handshakeTimeoutMs);
    expect(c.transport.closed).toBe(true);
  });

  it("a completed handshake cancels the timeout", async () => {
    const c = new Client();
    const done = c.open(1);
    await vi.runOnlyPendingTimersAsync();
    await done;
    await vi.advanceTimersByTimeAsync(DEFAULT_LIMITS.handshakeTimeoutMs * 2);
    expect(c.transport.closed).toBe(false);
    expect(c.connection.isRunning).toBe(true);
  });
});

describe("what an unauthenticated client can make us hold", () => {
  it("before tuning a frame may not exceed 4096 bytes: a bigger one is 501 before it is buffered", async () => {
    const c = new Client();
    const big = encodeFrame(FrameType.Method, 0, new Uint8Array(5000));
    // Only its header arrives: the declared size alone is refused.
    const sent = await c.roundTrip(protocolHeader(), big.subarray(0, 7));
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.FRAME_ERROR);
    expect(c.connection.heldBytes).toBe(0);
  });

  it("more than a few KB before connection.open completes closes the connection (503)", async () => {
    const c = new Client();
    const heartbeat = new Uint8Array([FrameType.Heartbeat, 0, 0, 0, 0, 0, 0, FRAME_END]);
    const many = new Uint8Array(heartbeat.length * 1200);
    for (let i = 0; i < 1200; i++) many.set(heartbeat, i * heartbeat.length);
    const sent = await c.roundTrip(protocolHeader(), many);
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.COMMAND_INVALID);
    expect(only(sent, "connection.close").replyText).toContain(`more than ${DEFAULT_LIMITS.handshakeBytes} bytes`);
  });

  it("content on a channel before open is bounded by the same budget", async () => {
    const c = new Client();
    const sent = await c.roundTrip(
      protocolHeader(),
      publish(1, { routingKey: "q" }, ""),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 1 << 20, {})),
      body(1, 4000),
      body(1, 4000),
    );
    expect(names(sent)).toContain("0:connection.close");
    expect(c.connection.heldBytes).toBe(0);
  });

  it("a pipelined handshake (start-ok, tune-ok, open, channel.open in one write) still works", async () => {
    const c = new Client();
    const sent = await c.roundTrip(
      protocolHeader(),
      startOk(),
      frame(0, "connection.tune-ok", { channelMax: 0, frameMax: 131072, heartbeat: 0 }),
      frame(0, "connection.open", { virtualHost: "/" }),
      frame(1, "channel.open"),
    );
    expect(names(sent)).toEqual(["0:connection.start", "0:connection.tune", "0:connection.open-ok", "1:channel.open-ok"]);
  });
});

describe("message size and assembly caps", () => {
  it("a body over max_message_size is read and dropped, then refused with 406; nothing of it is held", async () => {
    const c = await opened({ maxMessageSize: 1000 }, "q");
    c.send(frame(1, "basic.publish", { routingKey: "q" }), encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 3000, {})));
    c.send(body(1, 1500));
    expect(c.connection.heldBytes).toBe(0);
    const sent = await c.roundTrip(body(1, 1500));
    expect(closeOf(sent, "channel.close")).toEqual([
      406,
      "PRECONDITION_FAILED - message size 3000 is larger than configured max size 1000",
      60,
      40,
    ]);
    expect(c.broker.queue("/", "q").batches).toEqual([]);
  });

  it("partly received messages across channels may not hold more than the connection's cap (506)", async () => {
    const c = await opened({ connectionAssemblyBytes: 5000 }, "q");
    const sent = await c.roundTrip(
      frame(1, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 4000, {})),
      body(1, 3000),
      frame(2, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 2, encodeContentHeader(60, 4000, {})),
      body(2, 3000),
    );
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.RESOURCE_ERROR);
    expect(c.connection.heldBytes).toBe(0);
  });

  it("within the cap, interleaved messages on two channels both arrive", async () => {
    const c = await opened({ connectionAssemblyBytes: 8000 }, "q");
    await c.roundTrip(
      frame(1, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 4000, {})),
      frame(2, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 2, encodeContentHeader(60, 4000, {})),
      body(1, 4000),
      body(2, 4000),
    );
    expect(c.broker.queue("/", "q").messages.map((m) => m.body.length)).toEqual([4000, 4000]);
    expect(c.connection.heldBytes).toBe(0);
  });
});

describe("login brake", () => {
  it("every attempt is reported with the peer and the user; a braked refusal is answered only after the delay", async () => {
    const broker = new FakeBroker();
    broker.loginDelay = 150;
    const c = new Client(broker);
    const started = Date.now();
    const sent = await c.roundTrip(protocolHeader(), startOk("wrong"));
    // Nothing but connection.start until the delay has passed.
    expect(names(sent)).toEqual(["0:connection.start"]);
    while (!names(sent).includes("0:connection.close") && Date.now() - started < 2000) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      sent.push(...c.take());
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.ACCESS_REFUSED);
    expect(broker.logins).toEqual([{ peer: "127.0.0.1", user: "guest", ok: false }]);
    expect(broker.logs.some((l) => l.includes("login refused for user 'guest' from 127.0.0.1"))).toBe(true);
  });

  it("a correct password is reported as such", async () => {
    const c = new Client();
    await c.open();
    expect(c.broker.logins).toEqual([{ peer: "127.0.0.1", user: "guest", ok: true }]);
  });
});

describe("after a frame error", () => {
  it("the client's close-ok in its next write is read, and the socket goes at once", async () => {
    const c = await opened({});
    const bad = frame(1, "basic.qos", { prefetchCount: 1 });
    bad[bad.length - 1] = 0x00;
    const sent = await c.roundTrip(bad);
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.FRAME_ERROR);
    expect(c.transport.closed).toBe(false);
    await c.roundTrip(frame(0, "connection.close-ok"));
    expect(c.transport.closed).toBe(true);
  });
});

describe("a publish that cannot be stored is never silent", () => {
  it("without confirms the connection is closed with 541 and the failure logged", async () => {
    const c = await opened({}, "q");
    c.broker.queue("/", "q").script.publish = async () => {
      throw new Error("SQLITE_CANTOPEN");
    };
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "lost?"));
    expect(closeOf(sent, "connection.close")).toEqual([541, "INTERNAL_ERROR - 1 published message(s) could not be stored", 0, 0]);
    expect(c.broker.logs.some((l) => l.includes("SQLITE_CANTOPEN"))).toBe(true);
  });

  it("with confirms the message is nacked and the channel stays open", async () => {
    const c = await opened({}, "q");
    await c.roundTrip(frame(1, "confirm.select"));
    c.broker.queue("/", "q").script.publish = async () => {
      throw new Error("SQLITE_CANTOPEN");
    };
    const sent = await c.roundTrip(publish(1, { routingKey: "q" }, "lost?"));
    expect(names(sent)).toEqual(["1:basic.nack"]);
  });
});

describe("a closed connection", () => {
  it("releases what it held and tells its owner", async () => {
    const c = await opened({}, "q");
    let closed = false;
    c.connection.onClosed = () => {
      closed = true;
    };
    c.send(
      frame(1, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 4000, {})),
      body(1, 2000),
    );
    expect(c.connection.heldBytes).toBe(2000);
    c.connection.transportClosed();
    await c.settle();
    expect(c.connection.heldBytes).toBe(0);
    expect(closed).toBe(true);
  });
});
