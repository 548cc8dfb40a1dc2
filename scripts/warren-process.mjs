// Warren as a separate process group, for the scripts that start, kill and restart it
// (scripts/soak.mjs, scripts/load.mjs, bench/run.mjs, bench/ab.mjs): importing it starts nothing.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildWorker } from "./warren-server.mjs";

/** @import { ChildProcess } from "node:child_process" */
/** @import { AddressInfo } from "node:net" */

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * A Warren started by spawnWarren: `node scripts/start.mjs` (bridge and Miniflare host) and its
 * workerd child, in their own process group.
 * @typedef {object} WarrenProcess
 * @property {string} amqpUrl
 * @property {string} wsUrl
 * @property {number} pid the start.mjs process, leader of the group
 * @property {() => number | undefined} workerdPid the workerd child's pid, when found
 * @property {() => void} kill9 SIGKILL to the whole process group
 * @property {() => Promise<void>} stop SIGINT (clean shutdown), SIGKILL after 10 s
 * @property {Promise<number | null>} exited resolves with the exit code (null when killed)
 */

/** @returns {Promise<number>} a TCP port that was free on 127.0.0.1 a moment ago */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = /** @type {AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The soft and hard open-file limits of a process (from /proc/<pid>/limits; Linux only).
 * @param {number | "self"} [pid]
 * @returns {Promise<{ soft: number, hard: number } | null>}
 */
export async function openFileLimit(pid = "self") {
  try {
    const text = await readFile(`/proc/${pid}/limits`, "utf8");
    const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
    if (!m) return null;
    const num = (/** @type {string | undefined} */ s) => (s === "unlimited" ? Number.POSITIVE_INFINITY : Number(s));
    return { soft: num(m[1]), hard: num(m[2]) };
  } catch {
    return null;
  }
}

let built = false;

/**
 * Starts Warren as `npm start` does, in its own process group so that kill9() takes workerd too.
 * @param {object} options
 * @param {string} options.dataDir
 * @param {number} [options.nofile] raise the open-file soft limit of Warren to this (up to the hard limit)
 * @param {number} [options.startTimeoutMs]
 * @param {(line: string) => void} [options.onOutput] Warren's stdout/stderr lines after startup
 * @param {string} [options.tree] another checkout of Warren to run (bench/ab.mjs); it builds its own bundle
 * @param {boolean} [options.build] false: use the bundle already built (tests: the global setup built
 *   it once, and a rebuild would rewrite it under other test files' feet)
 * @returns {Promise<WarrenProcess>}
 */
export async function spawnWarren({ dataDir, nofile, startTimeoutMs = 60_000, onOutput, tree = root, build = true }) {
  if (build && !built && tree === root) {
    await buildWorker({ quiet: true });
    built = true;
  }
  const [httpPort, amqpPort] = [await freePort(), await freePort()];
  const env = {
    ...process.env,
    WARREN_HTTP_PORT: String(httpPort),
    WARREN_AMQP_PORT: String(amqpPort),
    WARREN_DATA_DIR: dataDir,
    WARREN_QUIET: "1",
    WARREN_NO_BUILD: tree === root ? "1" : "0",
    WARREN_HOST: "127.0.0.1",
  };
  const startScript = join(tree, "scripts", "start.mjs");
  /** @type {ChildProcess} */
  let child;
  if (nofile) {
    // A process cannot raise another's limit: let a shell raise its own, then exec Node.
    child = spawn("/bin/sh", ["-c", `ulimit -n ${Math.floor(nofile)} 2>/dev/null; exec "$0" "$@"`, process.execPath, startScript], {
      // workerd refuses paths that climb out of its working directory: run in the checkout.
      cwd: tree,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
  } else {
    child = spawn(process.execPath, [startScript], { cwd: tree, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  }
  const pid = /** @type {number} */ (child.pid);
  /** @type {Promise<number | null>} */
  const exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
  const kill9 = () => {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  liveGroups.add(kill9);
  exited.then(() => liveGroups.delete(kill9));

  let out = "";
  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        kill9();
        reject(new Error(`Warren did not start within ${startTimeoutMs} ms:\n${out}`));
      }, startTimeoutMs);
      const onData = (/** @type {Buffer} */ d) => {
        out += d;
        if (out.includes("Warren is running")) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on("data", onData);
      child.stderr?.on("data", onData);
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`Warren exited early (${code}):\n${out}`));
      });
    })
  );
  // After startup: pass output on (or drop it) so the pipes never fill up.
  for (const stream of [child.stdout, child.stderr]) {
    stream?.removeAllListeners("data");
    stream?.on("data", (/** @type {Buffer} */ d) => {
      for (const line of d.toString().split("\n")) if (line.trim()) onOutput?.(line);
    });
  }

  /** @type {number | undefined} */
  let workerd;
  return {
    amqpUrl: `amqp://guest:guest@127.0.0.1:${amqpPort}`,
    wsUrl: `ws://127.0.0.1:${httpPort}/amqp`,
    pid,
    workerdPid: () => (workerd ??= findDescendant(pid, "workerd")),
    kill9,
    exited,
    async stop() {
      try {
        process.kill(pid, "SIGINT");
      } catch {
        return;
      }
      const timer = setTimeout(kill9, 10_000);
      await exited;
      clearTimeout(timer);
      kill9(); // anything left in the group
    },
  };
}

/** @type {Set<() => void>} process groups still running, killed if this script exits */
const liveGroups = new Set();
process.on("exit", () => killAll());

/** SIGKILL to every Warren process group started here and still running. */
export function killAll() {
  for (const kill of liveGroups) kill();
}

/**
 * The first process under `pid` (children, then grandchildren) whose command name starts with `name`.
 * @param {number} pid
 * @param {string} name
 * @returns {number | undefined}
 */
export function findDescendant(pid, name) {
  /** @type {Map<number, { ppid: number, comm: string }>} */
  const procs = new Map();
  /** @type {string[]} */
  let entries = [];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    const stat = readStat(Number(e));
    if (stat) procs.set(Number(e), stat);
  }
  /** @type {number[]} */
  let frontier = [pid];
  for (let depth = 0; depth < 4 && frontier.length > 0; depth++) {
    /** @type {number[]} */
    const next = [];
    for (const [p, s] of procs) {
      if (!frontier.includes(s.ppid)) continue;
      if (s.comm.startsWith(name)) return p;
      next.push(p);
    }
    frontier = next;
  }
  return undefined;
}

/**
 * /proc/<pid>/stat: parent, command name and CPU time (user + system, in seconds).
 * @param {number} pid
 * @returns {{ ppid: number, comm: string, cpuSeconds: number, threads: number } | null}
 */
export function readStat(pid) {
  try {
    // Synchronous: /proc never blocks on a disk.
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    const close = text.lastIndexOf(")");
    const comm = text.slice(text.indexOf("(") + 1, close);
    const f = text
      .slice(close + 2)
      .split(" ")
      .map(Number);
    // Fields after "(comm)": state=0 ppid=1 ... utime=11 stime=12 ... num_threads=17
    return { ppid: f[1] ?? 0, comm, cpuSeconds: ((f[11] ?? 0) + (f[12] ?? 0)) / CLOCK_TICKS, threads: f[17] ?? 0 };
  } catch {
    return null;
  }
}
const CLOCK_TICKS = 100; // USER_HZ; 100 on every Linux this runs on

/**
 * How many file descriptors a process holds (-1 when it cannot be read).
 * @param {number} pid
 */
export async function fdCount(pid) {
  try {
    return (await readdir(`/proc/${pid}/fd`)).length;
  } catch {
    return -1;
  }
}
