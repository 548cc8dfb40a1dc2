import { afterEach, describe, expect, it, vi } from "vitest";
import { DEFAULT_LIMITS, limitsFrom } from "../../src/core/limits";
import { Client } from "../session/client";
import { FakeBroker } from "../session/fakes";

describe("limits from Worker variables", () => {
  it("reads each WARREN_* variable; a missing or malformed value keeps the default", () => {
    const l = limitsFrom({
      WARREN_QUEUE_KEEP_ALIVE_MS: "30000",
      WARREN_FRAME_MAX: "65536",
      WARREN_CHANNEL_MAX: "lots",
      WARREN_HEARTBEAT: "-1",
    });
    expect(l.queueKeepAliveMs).toBe(30000);
    expect(l.frameMax).toBe(65536);
    expect(l.channelMax).toBe(DEFAULT_LIMITS.channelMax);
    expect(l.heartbeat).toBe(DEFAULT_LIMITS.heartbeat);
  });
});

describe("queue keep-alive pings follow Limits.queueKeepAliveMs", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  async function pingsIn(intervalMs: number, elapsedMs: number): Promise<number> {
    // Only the interval is faked: the client's settling waits on real setImmediate turns.
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    const broker = new FakeBroker();
    broker.addQueue("q");
    const c = new Client(broker, { limits: { ...DEFAULT_LIMITS, queueKeepAliveMs: intervalMs } });
    await c.open(1);
    await c.consume(1, "q", "t");
    const before = broker.calls.filter((x) => x.method === "keepAlive").length;
    await vi.advanceTimersByTimeAsync(elapsedMs);
    return broker.calls.filter((x) => x.method === "keepAlive").length - before;
  }

  it("every interval while consuming", async () => {
    expect(await pingsIn(1000, 3500)).toBe(3);
  });

  it("never with 0", async () => {
    expect(await pingsIn(0, 10_000)).toBe(0);
  });
});
