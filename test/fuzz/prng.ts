// A small seeded PRNG (mulberry32) and the helpers the fuzzer draws its choices with. Every case
// gets its own generator derived from (run seed, case index), so one case can be replayed alone
// whatever ran before it or alongside it.

/** mulberry32: 32 bits of state, good enough spread for test-case generation. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** The seed of case `index` of a run with `seed`: independent of every other case. */
export function caseSeed(seed: number, index: number): number {
  const next = mulberry32((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  next();
  return next();
}

/** A fresh random seed (used when WARREN_FUZZ_SEED is not set), printed with every result. */
export function randomSeed(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}

export class Rng {
  private readonly next32: () => number;

  constructor(readonly seed: number) {
    this.next32 = mulberry32(seed);
  }

  u32(): number {
    return this.next32();
  }

  /** A float in [0, 1). */
  float(): number {
    return this.next32() / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  chance(p: number): boolean {
    return this.float() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("pick from an empty list");
    return items[this.int(0, items.length - 1)]!;
  }

  /** One of the entries, with probability proportional to its weight. */
  weighted<T>(entries: readonly (readonly [T, number])[]): T {
    const total = entries.reduce((sum, [, w]) => sum + w, 0);
    let r = this.float() * total;
    for (const [value, w] of entries) {
      r -= w;
      if (r < 0) return value;
    }
    return entries[entries.length - 1]![0];
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next32() & 0xff;
    return out;
  }

  /** A short name from a safe alphabet (never spells out words the reply-text check looks for). */
  word(min = 1, max = 12): string {
    const alphabet = "abcdefghkmpqrstvwxyz0123456789-_.";
    let s = "";
    const n = this.int(min, max);
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }

  /**
   * A name for a short string: mostly ASCII words, sometimes multi-byte UTF-8, sometimes close to
   * the 255-byte limit (never over it).
   */
  name(): string {
    const kind = this.weighted<"ascii" | "utf8" | "long">([
      ["ascii", 7],
      ["utf8", 2],
      ["long", 1],
    ]);
    if (kind === "ascii") return this.word();
    const chars = ["é", "ß", "€", "日", "本", "𝄞", "ø", "ü", "a", "-"];
    let s = "";
    const budget = kind === "long" ? this.int(200, 255) : this.int(2, 40);
    for (;;) {
      const c = this.pick(chars);
      if (new TextEncoder().encode(s + c).length > budget) return s || "x";
      s += c;
    }
  }

  /** Sorted distinct offsets in (0, length): where a stream is cut into writes. */
  cuts(length: number, count: number): number[] {
    const set = new Set<number>();
    for (let i = 0; i < count && length > 1; i++) set.add(this.int(1, length - 1));
    return [...set].sort((a, b) => a - b);
  }
}
