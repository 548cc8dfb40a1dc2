// `node bench/ab.mjs <base-ref> [rounds] [head-ref]`: the same scenarios on <head-ref> (default:
// this working tree, uncommitted changes included) and on <base-ref>, each checked out as a git
// worktree, interleaved round by round so both see the same machine state; prints the median of
// each and the ratio. Used to measure what a change costs
// on the hot path (e.g. the control plane: permission checks and counters per publish).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnWarren } from "../scripts/warren-process.mjs";
import * as scenarios from "./scenarios.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const tree = join(here, "..");
const baseRef = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
const headRef = process.argv[4];
if (!baseRef) {
  console.error("usage: node bench/ab.mjs <base-ref> [rounds]   (env BENCH_AB: comma-separated scenarios)");
  process.exit(64);
}
const wanted = (process.env.BENCH_AB ?? "transient,persistent").split(",");

/** @type {Record<string, (url: string) => Promise<Record<string, number>>>} */
const SCENARIOS = {
  transient: (url) => scenarios.transient(url, { count: 100_000 }),
  persistent: (url) => scenarios.persistent(url, { count: 30_000 }),
  batched: (url) => scenarios.persistent(url, { count: 30_000, batch: 100, label: "batched" }),
  fanout: (url) => scenarios.fanout(url, { count: 25_000 }),
  latency: async (url) => {
    const r = await scenarios.latency(url, { count: 1_000 });
    return { p50Ms: r.p50Ms ?? Number.NaN };
  },
  manyQueues: (url) => scenarios.manyQueues(url, { count: 1000 }),
};
/** Rates as integers; small figures (latency in ms) with two decimals. */
const shown = (/** @type {number} */ v) => v.toFixed(v < 100 ? 2 : 0);
/** @type {Record<string, string>} */
const METRIC = {
  transient: "msgsPerSec",
  persistent: "msgsPerSec",
  batched: "msgsPerSec",
  fanout: "deliveriesPerSec",
  latency: "p50Ms",
  manyQueues: "totalSeconds",
};

/** A worktree of `ref` sharing this tree's node_modules. */
function worktree(/** @type {string} */ ref) {
  const dir = mkdtempSync(join(tmpdir(), "warren-ab-"));
  rmSync(dir, { recursive: true });
  execFileSync("git", ["worktree", "add", "--detach", dir, ref], { cwd: tree, stdio: "ignore" });
  symlinkSync(join(tree, "node_modules"), join(dir, "node_modules"));
  return dir;
}

/**
 * Starts the Warren of the checkout `tree` in its own process (building its bundle), on a fresh data dir.
 * @param {string} tree
 */
async function start(tree) {
  const dataDir = mkdtempSync(join(tmpdir(), "warren-ab-data-"));
  const warren = await spawnWarren({ dataDir, tree });
  return {
    url: warren.amqpUrl,
    close: async () => {
      await warren.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const median = (/** @type {number[]} */ xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

const base = worktree(baseRef);
const head = headRef ? worktree(headRef) : tree;
const sha = (/** @type {string} */ ref) => execFileSync("git", ["rev-parse", "--short", ref], { cwd: tree }).toString().trim();
const baseSha = sha(baseRef);
const headSha = headRef ? sha(headRef) : `${sha("HEAD")} + working tree`;
/** @type {Record<string, { head: number[], base: number[] }>} */
const results = {};
try {
  for (let r = 0; r < rounds; r++) {
    // Alternate which side goes first, so drift over the run does not favour one.
    const order =
      r % 2 === 0
        ? [
            ["head", head],
            ["base", base],
          ]
        : [
            ["base", base],
            ["head", head],
          ];
    for (const [side, root] of order) {
      const server = await start(/** @type {string} */ (root));
      try {
        for (const name of wanted) {
          const run = SCENARIOS[name];
          if (!run) throw new Error(`unknown scenario ${name}`);
          await scenarios.transient(server.url, { count: 10_000 }); // warm-up
          const value = (await run(server.url))[METRIC[name] ?? ""] ?? Number.NaN;
          (results[name] ??= { head: [], base: [] })[/** @type {"head" | "base"} */ (side)].push(value);
          console.log(`round ${r + 1} ${side} ${name}: ${shown(value)}`);
        }
      } finally {
        await server.close();
      }
    }
  }
} finally {
  for (const dir of headRef ? [base, head] : [base]) {
    execFileSync("git", ["worktree", "remove", "--force", dir], { cwd: tree, stdio: "ignore" });
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`\nmedian of ${rounds} rounds: HEAD ${headSha} vs base ${baseSha}`);
for (const [name, r] of Object.entries(results)) {
  const h = median(r.head);
  const b = median(r.base);
  console.log(`${name.padEnd(12)} head ${shown(h).padStart(8)}  base ${shown(b).padStart(8)}  head/base ${(h / b).toFixed(3)}`);
}
