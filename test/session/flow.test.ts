import { describe, expect, it } from "vitest";
import { ReplyCode, table } from "../../src/amqp";
import { DEFAULT_LIMITS, type Limits } from "../../src/core/limits";
import { Client, closeOf, delivery, frame, names, plain, protocolHeader, publish } from "./client";
import { FakeBroker, deferred } from "./fakes";

/** An open client with the given limits; `acks` makes it a flow-acknowledging peer (the bridge). */
async function client(limits: Partial<Limits>, acks: boolean, capabilities: Record<string, boolean> = {}): Promise<Client> {
  const broker = new FakeBroker();
  broker.addQueue("q");
  const c = new Client(broker, { limits: { ...DEFAULT_LIMITS, ...limits } });
  if (acks) c.connection.enableFlowAcks();
  const sent = await c.roundTrip(
    protocolHeader(),
    frame(0, "connection.start-ok", { clientProperties: table({ capabilities }), mechanism: "PLAIN", response: plain("guest", "guest") }),
    frame(0, "connection.tune-ok", { channelMax: 0, frameMax: 131072, heartbeat: 0 }),
    frame(0, "connection.open", { virtualHost: "/" }),
    frame(1, "channel.open"),
  );
  expect(names(sent)).toContain("1:channel.open-ok");
  // The peer has passed the handshake on to its client.
  c.connection.peerAcked(c.transport.byteCount);
  return c;
}

const body = (n: number) => "x".repeat(n);

/**
 * Makes unprocessed commands pile up: the first publish's RPC hangs, a queue.declare behind it
 * waits for it, and ten 1 KB publishes queue behind that. Resolve the returned deferred to let go.
 */
async function pileUp(c: Client) {
  const stall = deferred<boolean>();
  c.broker.queue("/", "q").script.publish = () => stall.promise;
  c.send(publish(1, { routingKey: "q" }, body(100)), frame(1, "queue.declare", { queue: "q", passive: true }));
  await c.settle();
  c.send(...Array.from({ length: 10 }, () => publish(1, { routingKey: "q" }, body(1000))));
  await c.settle();
  return stall;
}

describe("delivery window (peers that acknowledge: the bridge)", () => {
  it("stops taking deliveries once the window is full, pauses the consumer, and says how much room is left", async () => {
    const c = await client({ deliveryWindowBytes: 1 << 20 }, true);
    await c.consume(1, "q", "t");
    c.connection.peerAcked(c.transport.byteCount);
    const result = c.connection.deliver([1, 2, 3, 4, 5].map((seq) => delivery("q", seq, "t", 1, body(400 << 10))));
    // Three fit before the window is reached; the rest stay in the queue.
    expect(result.refused).toEqual([4, 5]);
    expect(result.paused).toEqual(["t"]);
    expect(result.room).toBe(0);
    await c.settle();
    expect(names(c.take()).filter((n) => n.endsWith("basic.deliver"))).toHaveLength(3);
  });

  it("an acknowledgement that drains the window below half resumes the paused consumers with the room left", async () => {
    const c = await client({ deliveryWindowBytes: 1 << 20 }, true);
    await c.consume(1, "q", "t");
    c.connection.peerAcked(c.transport.byteCount);
    c.connection.deliver([1, 2, 3, 4].map((seq) => delivery("q", seq, "t", 1, body(400 << 10))));
    await c.settle();
    const sent = c.transport.byteCount;
    const resumes = () => c.broker.calls.filter((call) => call.method === "resume");
    // Half the window still unacknowledged: not yet.
    c.connection.peerAcked(sent - (600 << 10));
    await c.settle();
    expect(resumes()).toHaveLength(0);
    c.connection.peerAcked(sent);
    await c.settle();
    expect(resumes().map((call) => call.args)).toEqual([["conn-1", ["t"], undefined, 1 << 20]]);
  });

  it("a single delivery larger than the window still goes out (never stuck)", async () => {
    const c = await client({ deliveryWindowBytes: 1 << 20 }, true);
    await c.consume(1, "q", "t");
    c.connection.peerAcked(c.transport.byteCount);
    expect(c.connection.deliver([delivery("q", 1, "t", 1, body(2 << 20))]).refused).toEqual([]);
  });

  it("clients that do not acknowledge (plain WebSocket, no subprotocol) get no window and no room figure", async () => {
    const c = await client({ deliveryWindowBytes: 1 << 20 }, false);
    await c.consume(1, "q", "t");
    const result = c.connection.deliver([1, 2, 3, 4, 5].map((seq) => delivery("q", seq, "t", 1, body(400 << 10))));
    expect(result.refused).toEqual([]);
    expect(result.room).toBeUndefined();
  });
});

describe("input back-pressure", () => {
  it("reports to an acknowledging peer how much input is dealt with, once per 256 KiB, never per message", async () => {
    const c = await client({}, true);
    const before = c.transport.controls.length;
    // Small publishes: no report at all (no WebSocket message per AMQP message).
    await c.roundTrip(...Array.from({ length: 20 }, () => publish(1, { routingKey: "q" }, body(100))));
    expect(c.transport.controls.length).toBe(before);
    // 300 KiB more: one report, covering everything processed so far.
    await c.roundTrip(...Array.from({ length: 3 }, () => publish(1, { routingKey: "q" }, body(100 << 10))));
    const reports = c.transport.controls.slice(before);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatch(/^consumed \d+$/);
    expect(Number(reports[0]!.split(" ")[1])).toBeGreaterThan(300 << 10);
  });

  it("a backlog of unprocessed commands over the mark sends connection.blocked, and unblocked once it drains", async () => {
    const c = await client({ blockedInputBytes: 3000 }, false, { "connection.blocked": true });
    const stall = await pileUp(c);
    expect(names(c.take())).toEqual(["0:connection.blocked"]);
    stall.resolve(true);
    c.broker.queue("/", "q").script.publish = undefined;
    await c.settle();
    expect(names(c.take())).toContain("0:connection.unblocked");
  });

  it("clients that did not ask for connection.blocked are not sent it", async () => {
    const c = await client({ blockedInputBytes: 3000 }, false);
    const stall = await pileUp(c);
    expect(names(c.take())).toEqual([]);
    stall.resolve(true);
  });

  it("a backlog over the hard limit closes the connection with 506 instead of holding it", async () => {
    const c = await client({ maxInputBacklogBytes: 5000 }, false);
    const stall = await pileUp(c);
    const sent = c.take();
    expect(closeOf(sent, "connection.close")[0]).toBe(ReplyCode.RESOURCE_ERROR);
    stall.resolve(true);
  });
});
