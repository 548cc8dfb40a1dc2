import { describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, limitsFrom } from "../../src/core/limits";

describe("limits from Worker variables", () => {
  it("reads each WARREN_* variable; a missing or malformed value keeps the default", () => {
    const l = limitsFrom({
      WARREN_FRAME_MAX: "65536",
      WARREN_CHANNEL_MAX: "lots",
      WARREN_HEARTBEAT: "-1",
      WARREN_HANDSHAKE_TIMEOUT_MS: "2500",
    });
    expect(l.frameMax).toBe(65536);
    expect(l.handshakeTimeoutMs).toBe(2500);
    expect(l.channelMax).toBe(DEFAULT_LIMITS.channelMax);
    expect(l.heartbeat).toBe(DEFAULT_LIMITS.heartbeat);
  });
});
