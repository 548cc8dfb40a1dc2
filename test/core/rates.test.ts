import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RateSampler } from "../../src/core/rates";

describe("RateSampler: rates from samples taken when asked, no timer", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.setSystemTime(1_000_000);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("rates over the last interval of at least 5 s, per counter", () => {
    const counts = { publish: 0, ack: 0 };
    const s = new RateSampler(() => counts);
    counts.publish = 100;
    vi.advanceTimersByTime(2000);
    // Less than one interval old: the rate since the first sample, over at least 1 s.
    expect(s.rates()).toEqual({ publish: 50, ack: 0 });
    vi.advanceTimersByTime(3000);
    counts.publish = 600;
    counts.ack = 50;
    // 5 s after the first sample a new one is taken: rates over those 5 s.
    expect(s.rates()).toEqual({ publish: 120, ack: 10 });
    vi.advanceTimersByTime(5000);
    counts.publish = 1100;
    expect(s.rates()).toEqual({ publish: 100, ack: 0 });
  });

  it("a counter that appears later starts from zero", () => {
    const counts: Record<string, number> = {};
    const s = new RateSampler(() => counts);
    vi.advanceTimersByTime(5000);
    counts["in:x"] = 25;
    expect(s.rates()).toEqual({ "in:x": 5 });
  });

  it("roll() on a hot path takes at most one sample per interval", () => {
    let reads = 0;
    const s = new RateSampler(() => {
      reads++;
      return { publish: 1 };
    });
    for (let i = 0; i < 1000; i++) s.roll();
    expect(reads).toBe(1);
    vi.advanceTimersByTime(5000);
    for (let i = 0; i < 1000; i++) s.roll();
    expect(reads).toBe(2);
  });
});
