import { describe, expect, it } from "vitest";
import { LoginThrottle } from "../../src/auth/login-throttle";

describe("LoginThrottle", () => {
  it("answers the first few failures at once, then spaces them out, doubling", () => {
    const t = new LoginThrottle();
    const now = 1_000_000;
    expect([t.outcome(false, now), t.outcome(false, now), t.outcome(false, now)]).toEqual([0, 0, 0]);
    // Each further failure at the same instant queues behind the previous one.
    expect(t.outcome(false, now)).toBe(100);
    expect(t.outcome(false, now)).toBe(100 + 200);
    expect(t.outcome(false, now)).toBe(100 + 200 + 400);
    expect(t.totalFailures).toBe(6);
  });

  it("caps each penalty, so a sustained guesser gets one answer per cap interval", () => {
    const t = new LoginThrottle();
    let now = 0;
    let delay = 0;
    for (let i = 0; i < 40; i++) {
      delay = t.outcome(false, now);
      now += delay; // the attacker waits for each answer, then tries again
    }
    expect(t.outcome(false, now)).toBe(5_000);
    // 40 guesses took well over a minute instead of the 0.4 s they take unbraked.
    expect(now).toBeGreaterThan(60_000);
  });

  it("while braked, a correct password waits for the next slot too (parallel guessing gains nothing)", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 5; i++) t.outcome(false, 0);
    const pending = 100 + 200;
    expect(t.outcome(true, 0)).toBe(pending);
    expect(t.outcome(true, pending)).toBe(0);
  });

  it("forgets failures after a quiet minute", () => {
    const t = new LoginThrottle();
    for (let i = 0; i < 6; i++) t.outcome(false, 0);
    expect(t.outcome(false, 10_000)).toBeGreaterThan(0);
    expect(t.outcome(false, 10_000 + 61_000)).toBe(0);
    expect(t.outcome(true, 10_000 + 61_000)).toBe(0);
  });
});
