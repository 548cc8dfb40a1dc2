import { describe, expect, it } from "vitest";
import { I, checkCase, routerWith, toBinding } from "./helpers";
import type { BindingSpec, RouteCase } from "./helpers";
import { TopicRouter } from "../../src/exchange/routing/topic";
import { TopicTrie, splitTopicKey } from "../../src/exchange/routing/topic-trie";

// Single-pattern truth table: [binding key, routing key, matches?].
// Word splitting follows RabbitMQ: "" is zero words, otherwise every "." splits
// (so empty words are real). Sources: rabbit_db_topic_exchange.erl
// (split_topic_key_binary, trie_match) and rabbit_db_topic_exchange_SUITE.erl.
const truth: ReadonlyArray<readonly [string, string, boolean]> = [
  // "#" alone matches everything, including the empty key (zero words).
  ["#", "", true],
  ["#", "a", true],
  ["#", "a.b.c", true],
  ["#", ".", true],
  ["#", "a..b", true],
  // "#" in the middle absorbs zero or more words.
  ["a.#.b", "a.b", true],
  ["a.#.b", "a.x.b", true],
  ["a.#.b", "a.x.y.b", true],
  ["a.#.b", "a.b.b", true],
  ["a.#.b", "a.b.c", false],
  ["a.#.b", "a", false],
  ["a.#.b", "x.a.b", false],
  ["#.#", "", true],
  ["#.#", "a", true],
  ["#.#", "a.b.c", true],
  ["#.a", "a", true],
  ["#.a", "x.a", true],
  ["#.a", "x.y.a", true],
  ["#.a", "a.x", false],
  ["#.a", "", false],
  ["a.#", "a", true],
  ["a.#", "a.b", true],
  ["a.#", "a.b.c", true],
  ["a.#", "a.", true],
  ["a.#", "b.a", false],
  ["a.#", "", false],
  ["#.b.c", "b.c", true],
  ["#.b.c", "x.y.b.c", true],
  ["#.b.c", "c", false],
  // "*" is exactly one word, never zero.
  ["*", "", false],
  ["*", "a", true],
  ["*", "a.b", false],
  ["*", ".", false],
  ["a.*", "a", false],
  ["a.*", "a.b", true],
  ["a.*", "a.", true],
  ["a.*", "a.b.c", false],
  ["*.*", "a", false],
  ["*.*", "a.b", true],
  ["*.*", ".", true],
  ["*.*", "", false],
  ["*.#", "", false],
  ["*.#", "a", true],
  ["*.#", "a.b.c", true],
  ["#.*", "", false],
  ["#.*", "a", true],
  ["#.*", "a.b", true],
  ["#.*.#", "", false],
  ["#.*.#", "x", true],
  ["#.*.#", "x.y.z", true],
  // Empty words are real words.
  ["a.*.b", "a..b", true],
  ["a.b", "a..b", false],
  ["a..b", "a..b", true],
  ["a..b", "a.b", false],
  ["a..b", "a.x.b", false],
  ["a.b", "a.b.", false],
  ["a.", "a.", true],
  ["a.", "a", false],
  [".a", ".a", true],
  [".a", "a", false],
  [".", ".", true],
  [".", "", false],
  [".#", ".0.a", true],
  [".*", ".0.a.b.c", false],
  [".*.a.b.c", ".0.a.b.c", true],
  // The empty binding key is zero words: it matches only the empty routing key.
  ["", "", true],
  ["", "a", false],
  ["", ".", false],
  // Wildcards only as whole words; otherwise literal, case-sensitive.
  ["a#b", "a#b", true],
  ["a#b", "aXb", false],
  ["a.*b", "a.xb", false],
  ["a.*b", "a.*b", true],
  ["A", "a", false],
  // Routing keys containing "*" / "#" words are just words.
  ["*", "*", true],
  ["#", "#", true],
  ["a", "*", false],
  ["a", "#", false],
  ["a.#", "a.#.#", true],
  ["传感器.*.摄氏", "传感器.温度.摄氏", true],
];

const truthCases: RouteCase[] = truth.map(([pattern, key, matches]) => ({
  name: `"${pattern}" vs "${key}" → ${matches}`,
  bindings: [["q:x", pattern]],
  key,
  expect: matches ? ["q:x"] : [],
}));

// Multi-binding cases (several adapted from rabbit_db_topic_exchange_SUITE).
const wildcardSet: BindingSpec[] = [
  ["q:star", "foo.*"],
  ["q:hash", "foo.#"],
  ["q:exact", "foo.bar"],
  ["q:deep", "foo.*.baz"],
  ["q:all", "#"],
];
const overlapping: BindingSpec[] = [
  ["q1", "a.b"],
  ["q2", "a.b.#"],
  ["q3", "a.b.c"],
  ["q4", "a.b.*"],
  ["q5", "a.b.d"],
  ["q6", "a.*.*"],
  ["q7", "a.*.#"],
  ["q8", "*.b.c"],
];
const multiCases: RouteCase[] = [
  { name: "wildcards: foo.bar", bindings: wildcardSet, key: "foo.bar", expect: ["q:all", "q:exact", "q:hash", "q:star"] },
  { name: "wildcards: foo.bar.baz", bindings: wildcardSet, key: "foo.bar.baz", expect: ["q:all", "q:deep", "q:hash"] },
  { name: "wildcards: foo.bar.baz.qux", bindings: wildcardSet, key: "foo.bar.baz.qux", expect: ["q:all", "q:hash"] },
  { name: "wildcards: bar.foo", bindings: wildcardSet, key: "bar.foo", expect: ["q:all"] },
  { name: "wildcards: empty key only hits #", bindings: wildcardSet, key: "", expect: ["q:all"] },
  { name: "overlapping: a.b.c", bindings: overlapping, key: "a.b.c", expect: ["q2", "q3", "q4", "q6", "q7", "q8"] },
  { name: "overlapping: a.b", bindings: overlapping, key: "a.b", expect: ["q1", "q2", "q7"] },
  {
    name: "duplicate binding: one delivery",
    bindings: [
      ["q:a", "a.*"],
      ["q:a", "a.*"],
    ],
    key: "a.b",
    expect: ["q:a"],
  },
  {
    name: "same destination via two matching patterns: once",
    bindings: [
      ["q:a", "a.*"],
      ["q:a", "#.b"],
      ["q:a", "a.b"],
      ["q:b", "x"],
    ],
    key: "a.b",
    expect: ["q:a"],
  },
  {
    name: "same pattern and destination, different args: once",
    bindings: [
      ["q:a", "a.#", { v: I(1) }],
      ["q:a", "a.#", { v: I(2) }],
    ],
    key: "a.b",
    expect: ["q:a"],
  },
  {
    name: "exchange and queue destinations",
    bindings: [
      ["q:a", "a.*"],
      ["e:b", "a.*"],
    ],
    key: "a.z",
    expect: ["q:a", "e:b"],
  },
  { name: "no bindings", bindings: [], key: "a", expect: [] },
];

describe("topic routing", () => {
  it.each(truthCases)("$name", (c) => checkCase("topic", c));
  it.each(multiCases)("$name", (c) => checkCase("topic", c));

  it("splits keys like RabbitMQ", () => {
    expect(splitTopicKey("")).toEqual([]);
    expect(splitTopicKey("a")).toEqual(["a"]);
    expect(splitTopicKey("a..b")).toEqual(["a", "", "b"]);
    expect(splitTopicKey("a.")).toEqual(["a", ""]);
    expect(splitTopicKey(".")).toEqual(["", ""]);
  });
});

describe("topic binding removal", () => {
  it("stops routing after removal; duplicates are not re-added", () => {
    const r = routerWith("topic", [
      ["q:a", "a.#"],
      ["q:b", "a.*"],
    ]);
    expect(r.add(toBinding(["q:a", "a.#"]))).toBe(false);
    expect(r.size).toBe(2);
    expect(r.remove(toBinding(["q:a", "a.#"]))).toBe(true);
    expect([...r.route("a.b", undefined)]).toEqual(["q:b"]);
    expect(r.route("a", undefined).size).toBe(0);
    expect(r.remove(toBinding(["q:a", "a.#"]))).toBe(false);
  });

  it("prunes trie nodes left empty", () => {
    const r = new TopicRouter();
    const specs: BindingSpec[] = [
      ["q:1", "a.b.c"],
      ["q:2", "a.b.d"],
      ["q:3", "a.#"],
      ["q:4", "a"],
      ["q:5", ""],
    ];
    for (const s of specs) r.add(toBinding(s));
    // root, a, a.b, a.b.c, a.b.d, a.# ("" binds at the root, "a" at node a)
    expect(r.trie.nodeCount).toBe(6);
    r.remove(toBinding(["q:1", "a.b.c"]));
    expect(r.trie.nodeCount).toBe(5);
    r.remove(toBinding(["q:2", "a.b.d"]));
    expect(r.trie.nodeCount).toBe(3); // a.b went with its last child
    r.remove(toBinding(["q:4", "a"]));
    expect(r.trie.nodeCount).toBe(3); // node a still leads to a.#
    expect([...r.route("a", undefined)]).toEqual(["q:3"]);
    r.remove(toBinding(["q:3", "a.#"]));
    expect(r.trie.nodeCount).toBe(1);
    expect([...r.route("", undefined)]).toEqual(["q:5"]);
    r.remove(toBinding(["q:5", ""]));
    expect(r.trie.nodeCount).toBe(1);
    expect(r.size).toBe(0);
  });

  it("keeps a shared leaf until its last destination is removed", () => {
    const trie = new TopicTrie();
    trie.insert("a.b", "q:1");
    trie.insert("a.b", "q:2");
    expect(trie.remove("a.b", "q:3")).toBe(false);
    expect(trie.remove("a.x", "q:1")).toBe(false);
    expect(trie.remove("a.b", "q:1")).toBe(true);
    expect(trie.nodeCount).toBe(3);
    expect(trie.remove("a.b", "q:2")).toBe(true);
    expect(trie.nodeCount).toBe(1);
  });
});

// Independent reference: glob-style DP over word arrays.
function referenceMatch(pattern: string, key: string): boolean {
  const p = splitTopicKey(pattern);
  const w = splitTopicKey(key);
  // ok[j] = pattern prefix p[0..i) matches key prefix w[0..j)
  let ok = w.map(() => false).concat(false);
  ok[0] = true;
  for (const pw of p) {
    const next = ok.map(() => false);
    for (let j = 0; j <= w.length; j++) {
      if (pw === "#") next[j] = ok[j] === true || (j > 0 && next[j - 1] === true);
      else if (j > 0 && ok[j - 1] === true && (pw === "*" || pw === w[j - 1])) next[j] = true;
    }
    ok = next;
  }
  return ok[w.length] === true;
}

// Small deterministic PRNG so failures reproduce.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe("topic routing at scale", () => {
  it("agrees with a reference matcher on random patterns and keys", () => {
    const rnd = prng(42);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
    const patWords = ["a", "b", "c", "", "*", "#"];
    const keyWords = ["a", "b", "c", ""];
    const gen = (words: readonly string[]): string => {
      const n = Math.floor(rnd() * 5);
      return n === 0 && rnd() < 0.5 ? "" : Array.from({ length: Math.max(n, 1) }, () => pick(words)).join(".");
    };
    const router = new TopicRouter();
    const patterns: string[] = [];
    for (let i = 0; i < 300; i++) {
      const p = gen(patWords);
      patterns.push(p);
      router.add({ destination: `q:${i}`, routingKey: p, arguments: {} });
    }
    for (let k = 0; k < 500; k++) {
      const key = gen(keyWords);
      const want = patterns.flatMap((p, i) => (referenceMatch(p, key) ? [`q:${i}`] : []));
      expect([...router.route(key, undefined)].sort(), `key "${key}"`).toEqual(want.sort());
    }
  });

  it("routes correctly among 10k bindings, visiting only relevant states", () => {
    const r = new TopicRouter();
    for (let i = 0; i < 10_000; i++) {
      r.add({ destination: `q:${i}`, routingKey: `svc${i % 100}.region${i % 7}.evt${i}`, arguments: {} });
    }
    r.add({ destination: "q:audit", routingKey: "svc42.#", arguments: {} });
    r.add({ destination: "q:errors", routingKey: "*.*.evt1242", arguments: {} });
    expect(r.size).toBe(10_002);

    const got = r.route("svc42.region3.evt1242", undefined);
    expect([...got].sort()).toEqual(["q:1242", "q:audit", "q:errors"]);
    // A linear scan would touch 10k bindings; the trie expands a handful of states.
    expect(r.trie.lastMatchStates).toBeLessThan(20);

    expect([...r.route("svc42.region3.nope", undefined)]).toEqual(["q:audit"]);
    expect(r.route("nosuch.region3.evt1242", undefined)).toEqual(new Set(["q:errors"]));

    for (let i = 0; i < 10_000; i++) {
      r.remove({ destination: `q:${i}`, routingKey: `svc${i % 100}.region${i % 7}.evt${i}`, arguments: {} });
    }
    expect([...r.route("svc42.region3.evt1242", undefined)].sort()).toEqual(["q:audit", "q:errors"]);
    r.remove({ destination: "q:audit", routingKey: "svc42.#", arguments: {} });
    r.remove({ destination: "q:errors", routingKey: "*.*.evt1242", arguments: {} });
    expect(r.trie.nodeCount).toBe(1);
  });

  it('handles many "#" without combinatorial blow-up', () => {
    // From RabbitMQ's topic_match_many_hashes: 15 "#" against 31 words has
    // C(46, 15) paths to one state; memoisation makes it linear-ish.
    const r = new TopicRouter();
    const key = Array(31).fill("a").join(".");
    r.add({ destination: "q:many", routingKey: Array(15).fill("#").join("."), arguments: {} });
    r.add({ destination: "q:miss", routingKey: `${Array(14).fill("#").join(".")}.b`, arguments: {} });
    expect([...r.route(key, undefined)]).toEqual(["q:many"]);
    // Bound: (trie nodes) x (words + 1) = 31 x 32.
    expect(r.trie.lastMatchStates).toBeLessThanOrEqual(r.trie.nodeCount * 32);

    // A long run of "#" failing at the end must not explode either.
    const deep = new TopicRouter();
    deep.add({ destination: "q:x", routingKey: `${Array(100).fill("#").join(".")}.z`, arguments: {} });
    const longKey = Array(120).fill("a").join(".");
    expect(deep.route(longKey, undefined).size).toBe(0);
    expect(deep.trie.lastMatchStates).toBeLessThanOrEqual(deep.trie.nodeCount * 121);
    expect([...deep.route(`${longKey}.z`, undefined)]).toEqual(["q:x"]);
  });
});
