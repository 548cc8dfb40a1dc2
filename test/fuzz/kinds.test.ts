// The fuzzer's generators checked against its own framing model (wire.ts), without a server: each
// kind must build the damage its expectation is about, or the oracle would judge the wrong thing.
import { describe, expect, it } from "vitest";
import { PROTOCOL_HEADER } from "../../src/amqp";
import { KINDS } from "./kinds";
import { planCase } from "./runner";
import { rawFrame, scanFrames } from "./wire";

/** Kinds whose damage is malformed framing (type, size, heartbeat shape, end octet). */
const FRAMING = new Set(["bad-frame-end", "unknown-frame-type", "oversize-frame", "heartbeat-payload", "heartbeat-on-channel"]);
/** Kinds whose stream may be anything (random mutation). */
const ANYTHING = new Set(["flipped-bytes"]);

describe("fuzz generators", () => {
  it("every kind has an expectation that names its codes and a reason", () => {
    for (const k of KINDS) {
      expect(k.expect.why.length, k.name).toBeGreaterThan(10);
      if (k.expect.outcome === "close") expect(k.expect.codes?.length, k.name).toBeGreaterThan(0);
    }
  });

  it("the framing model tells complete, incomplete and malformed streams apart", () => {
    const ok = rawFrame(1, 1, 4, new Uint8Array([0, 20, 0, 10]));
    expect(scanFrames(ok, 0, 4096).status).toBe("complete");
    expect(scanFrames(ok.subarray(0, 11), 0, 4096).status).toBe("incomplete");
    expect(scanFrames(rawFrame(1, 1, 4, new Uint8Array(4), 0), 0, 4096).status).toBe("error");
    expect(scanFrames(rawFrame(9, 1, 0, new Uint8Array(0)), 0, 4096).status).toBe("error");
    expect(scanFrames(rawFrame(1, 1, 5000, new Uint8Array(0), null), 0, 4096).status).toBe("error");
    expect(scanFrames(rawFrame(8, 0, 1, new Uint8Array(1)), 0, 4096).status).toBe("error");
    expect(scanFrames(rawFrame(8, 3, 0, new Uint8Array(0)), 0, 4096).status).toBe("error");
    expect(scanFrames(rawFrame(8, 0, 0, new Uint8Array(0)), 0, 4096).status).toBe("complete");
  });

  it("each kind builds what its expectation is about (2000 plans)", () => {
    const seen = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      const plan = planCase(12345, i);
      const name = plan.kind.name;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      const what = `${name} #${i} (${plan.built.note})`;
      if (plan.pipelined) expect(plan.stream.length, what).toBeLessThanOrEqual(6000);
      if (plan.built.stage === "none") {
        const head = plan.stream.subarray(0, 8);
        const prefixOfHeader = head.every((b, k) => b === PROTOCOL_HEADER[k]);
        if (plan.kind.expect.outcome === "header") expect(prefixOfHeader, what).toBe(false);
        else expect(prefixOfHeader && plan.stream.length < 8, what).toBe(true);
        continue;
      }
      if (ANYTHING.has(name)) continue;
      const v = scanFrames(plan.stream, 8, plan.session.frameMax);
      if (FRAMING.has(name)) expect(v.status, what).toBe("error");
      else if (plan.kind.expect.outcome === "silence") expect(v.status, what).toBe("incomplete");
      else {
        expect(v.status, what).toBe("complete");
        if (plan.built.probe)
          expect(
            v.frames.some((f) => f.start === plan.probeAt),
            what,
          ).toBe(true);
      }
    }
    // Every kind came up.
    expect([...seen.keys()].sort()).toEqual(KINDS.map((k) => k.name).sort());
  });
});
