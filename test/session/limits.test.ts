import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FRAME_END, FrameReader, FrameType, ReplyCode, encodeContentHeader, encodeFrame, type Frame } from "../../src/amqp";
import { Client, delivery, frame, named, names, only, openClient, plain, protocolHeader, publish, utf8, closeOf } from "./client";
import { FakeBroker } from "./fakes";

/** Every frame the server wrote, read strictly against a frame_max (tolerance 0). */
function framesOf(c: Client, frameMax: number): Frame[] {
  const reader = new FrameReader(frameMax);
  reader.tolerance = 0;
  return reader.push(c.raw());
}

async function openWith(tune: { frameMax?: number; heartbeat?: number }, broker = new FakeBroker()): Promise<Client> {
  const c = new Client(broker);
  const sent = await c.roundTrip(
    protocolHeader(),
    frame(0, "connection.start-ok", { mechanism: "PLAIN", response: plain("guest", "guest") }),
    frame(0, "connection.tune-ok", { frameMax: tune.frameMax ?? 131072, heartbeat: tune.heartbeat ?? 0 }),
    frame(0, "connection.open", { virtualHost: "/" }),
    frame(1, "channel.open"),
  );
  expect(names(sent)).toContain("1:channel.open-ok");
  return c;
}

describe("frame and message limits", () => {
  it("after tune-ok, outgoing content is split into frames within the negotiated frame_max", async () => {
    const broker = new FakeBroker();
    broker.addQueue("q");
    const c = await openWith({ frameMax: 4096 }, broker);
    await c.roundTrip(frame(1, "basic.consume", { queue: "q", consumerTag: "t" }));
    const body = "x".repeat(10_000);
    c.connection.deliver([delivery("q", 1, "t", 1, body)]);
    await c.settle();
    const frames = framesOf(c, 4096);
    const bodies = frames.filter((f) => f.type === FrameType.Body);
    expect(bodies.map((f) => f.payload.length)).toEqual([4088, 4088, 1824]);
    expect(utf8(named(c.take(), "basic.deliver")[0]!.body)).toBe(body);
  });

  it("an incoming frame over the negotiated frame_max → connection.close 501 FRAME_ERROR", async () => {
    const c = await openWith({ frameMax: 4096 });
    const body = new Uint8Array(5000);
    const sent = await c.roundTrip(
      frame(1, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, body.length, {})),
      encodeFrame(FrameType.Body, 1, body),
    );
    expect(only(sent, "connection.close").replyCode).toBe(ReplyCode.FRAME_ERROR);
  });

  it("a message body over 16 MiB → channel.close 406 on basic.publish (60, 40), nothing stored", async () => {
    const c = await openClient("q");
    const size = (16 << 20) + 1;
    const chunk = 131072 - 8;
    const parts = [frame(1, "basic.publish", { routingKey: "q" }), encodeFrame(FrameType.Header, 1, encodeContentHeader(60, size, {}))];
    for (let off = 0; off < size; off += chunk) parts.push(encodeFrame(FrameType.Body, 1, new Uint8Array(Math.min(chunk, size - off))));
    const sent = await c.roundTrip(...parts);
    expect(closeOf(sent, "channel.close")).toEqual([
      406,
      `PRECONDITION_FAILED - message size ${size} is larger than configured max size ${16 << 20}`,
      60,
      40,
    ]);
    expect(c.broker.callsTo(undefined, undefined, "publish")).toEqual([]);
  });

  it("a declared body size over RabbitMQ's hard maximum (512 MiB) → 501 before any body arrives", async () => {
    const c = await openClient("q");
    const sent = await c.roundTrip(
      frame(1, "basic.publish", { routingKey: "q" }),
      encodeFrame(FrameType.Header, 1, encodeContentHeader(60, 600 << 20, {})),
    );
    expect(only(sent, "connection.close")).toMatchObject({ replyCode: ReplyCode.FRAME_ERROR, classId: 60, methodId: 40 });
  });

  it("an empty body is a complete message (no body frame)", async () => {
    const c = await openClient("q");
    await c.roundTrip(publish(1, { routingKey: "q" }));
    expect(c.broker.queue("/", "q").messages.map((m) => m.body.length)).toEqual([0]);
  });
});

describe("timers: heartbeats and keep-alive", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date"] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  const heartbeats = (c: Client) => framesOf(c, 0).filter((f) => f.type === FrameType.Heartbeat);
  const heartbeatFrame = () => new Uint8Array([FrameType.Heartbeat, 0, 0, 0, 0, 0, 0, FRAME_END]);

  it("no heartbeats when the client tunes heartbeat 0", async () => {
    const c = await openWith({ heartbeat: 0 });
    vi.advanceTimersByTime(600_000);
    expect(heartbeats(c)).toEqual([]);
    expect(c.transport.closed).toBe(false);
  });

  it("a quiet connection sends heartbeats at the negotiated interval", async () => {
    const c = await openWith({ heartbeat: 2 });
    expect(heartbeats(c)).toHaveLength(0);
    for (let i = 0; i < 3; i++) {
      vi.advanceTimersByTime(1000);
      c.send(heartbeatFrame());
    }
    expect(heartbeats(c).length).toBeGreaterThanOrEqual(1);
    expect(c.transport.closed).toBe(false);
  });

  it("a client silent for two intervals is dropped (logged)", async () => {
    const c = await openWith({ heartbeat: 2 });
    vi.advanceTimersByTime(3000);
    expect(c.transport.closed).toBe(false);
    vi.advanceTimersByTime(2000);
    expect(c.transport.closed).toBe(true);
    expect(c.broker.logs.some((l) => l.includes("missed heartbeats"))).toBe(true);
  });

  it("client heartbeats keep the connection alive", async () => {
    const c = await openWith({ heartbeat: 2 });
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(1000);
      c.send(heartbeatFrame());
    }
    expect(c.transport.closed).toBe(false);
  });

  it("an idle consuming connection sends queues nothing (they keep their consumers in storage)", async () => {
    const broker = new FakeBroker();
    broker.addQueue("q");
    const c = await openWith({}, broker);
    await c.roundTrip(frame(1, "basic.consume", { queue: "q", consumerTag: "t" }));
    const before = broker.calls.length;
    vi.advanceTimersByTime(60_000);
    expect(broker.calls.slice(before)).toEqual([]);
  });

  it("a server connection.close waits for close-ok at most a few seconds, then drops the socket", async () => {
    const c = await openWith({});
    await c.roundTrip(frame(1, "channel.open"));
    expect(c.transport.closed).toBe(false);
    vi.advanceTimersByTime(3000);
    expect(c.transport.closed).toBe(true);
  });
});
