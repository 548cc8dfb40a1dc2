// `npm run load`: connection storm and queue-declaration load against a local Warren, with a canary.
//
// Phases (each optional):
//   connect  N AMQP connections opened at once (amqplib, through the TCP bridge), held, then closed
//   queues   M queues declared, one message each published WITHOUT confirms (mandatory, so an
//            unroutable one comes back), then counted with passive declares: stored vs published,
//            and every missing message must be matched by an error a client saw
// Meanwhile a canary, in its own thread (so the load's event loop cannot stall it), does a
// publish → consume round trip every ~50 ms over TCP through the bridge and another one over a
// WebSocket straight to workerd: when only the first stalls, the bridge is the bottleneck.
//
// Without --url it starts Warren as `npm start` does (own process, fresh temp data dir) and
// also reports the CPU time and descriptors of its two processes (Node: bridge + Miniflare host;
// workerd) per phase.
//
//   npm run load                                   both phases, defaults
//   npm run load -- --connections 1000 --queues 0  the connection storm only
//   npm run load -- --url amqp://guest:guest@127.0.0.1:5672 --ws-url ws://127.0.0.1:8787/amqp
import { createWriteStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import amqp from "amqplib";
import { fdCount, openFileLimit, readStat, spawnWarren } from "./warren-process.mjs";
/** @import { Channel, ChannelModel } from "amqplib" */
/** @import { WarrenProcess } from "./warren-process.mjs" */

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @param {unknown} err */
const messageOf = (err) => String(/** @type {{ message?: unknown }} */ (err)?.message ?? err);

/**
 * The p-th percentile of sorted numbers (undefined when empty).
 * @param {number[]} sorted
 * @param {number} p
 */
function pct(sorted, p) {
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** @param {number | undefined} v */
const ms = (v) => (v === undefined ? "—" : v >= 100 ? `${Math.round(v)} ms` : `${v.toFixed(1)} ms`);

// ---- the canary (runs in a worker thread) ------------------------------------------------------

/**
 * @typedef {object} CanaryConfig
 * @property {string} amqpUrl
 * @property {string | null} wsUrl
 * @property {number} intervalMs
 */
/**
 * One round trip: when it started (ms since the canary started), the phase then, and how long it took.
 * @typedef {{ at: number, phase: string, ms: number, kind: "tcp" | "ws", lost?: boolean }} Sample
 */

/** How long one canary round trip may take before it counts as lost. */
const CANARY_GIVE_UP_MS = 60_000;

/**
 * Round trips every intervalMs, one at a time: a stalled one is measured whole, not skipped.
 * @param {CanaryConfig} config
 */
async function canaryThread(config) {
  const port = /** @type {import("node:worker_threads").MessagePort} */ (parentPort);
  let phase = "setup";
  let stopping = false;
  /** @type {Sample[]} */
  const samples = [];
  const t0 = performance.now();
  /** @type {Map<string, { since: number, phase: string }>} in-flight round trips by kind */
  const inFlight = new Map();
  port.on("message", (/** @type {{ phase?: string, stop?: boolean }} */ m) => {
    if (m.phase) phase = m.phase;
    if (m.stop) stopping = true;
  });

  /**
   * @param {"tcp" | "ws"} kind
   * @param {(body: Uint8Array) => void} publish
   * @param {(onMessage: () => void) => void} setOnMessage
   */
  const loop = async (kind, publish, setOnMessage) => {
    /** @type {(() => void) | null} */
    let resolveOne = null;
    setOnMessage(() => resolveOne?.());
    const body = new Uint8Array(64).fill(7);
    while (!stopping) {
      const start = performance.now();
      const startPhase = phase;
      inFlight.set(kind, { since: start, phase: startPhase });
      /** @type {NodeJS.Timeout | undefined} */
      let timer;
      const got = await new Promise((resolve) => {
        resolveOne = () => resolve(true);
        timer = setTimeout(() => resolve(false), CANARY_GIVE_UP_MS);
        publish(body);
      });
      clearTimeout(timer);
      resolveOne = null;
      inFlight.delete(kind);
      const took = performance.now() - start;
      samples.push({ at: start - t0, phase: startPhase, ms: took, kind, ...(got ? {} : { lost: true }) });
      await sleep(Math.max(0, config.intervalMs - took));
    }
  };

  /** @type {Promise<void>[]} */
  const loops = [];
  /** @type {(() => Promise<void>)[]} */
  const closers = [];
  const conn = await amqp.connect(config.amqpUrl, { timeout: 30_000 });
  conn.on("error", () => {});
  const ch = await conn.createChannel();
  const { queue } = await ch.assertQueue("", { exclusive: true });
  /** @type {() => void} */
  let onTcp = () => {};
  await ch.consume(queue, () => onTcp(), { noAck: true });
  loops.push(
    loop(
      "tcp",
      (body) => ch.sendToQueue(queue, Buffer.from(body)),
      (f) => (onTcp = f),
    ),
  );
  closers.push(() => conn.close().catch(() => {}));

  if (config.wsUrl) {
    const { AMQPWebSocketClient } = await import("@cloudamqp/amqp-client");
    const client = new AMQPWebSocketClient(config.wsUrl, "/", "guest", "guest");
    const wsConn = await client.connect();
    const wsCh = await wsConn.channel();
    const { name: wsQueue } = await wsCh.queueDeclare("", { exclusive: true });
    /** @type {() => void} */
    let onWs = () => {};
    await wsCh.basicConsume(wsQueue, { noAck: true }, () => onWs());
    loops.push(
      loop(
        "ws",
        (body) => {
          wsCh.basicPublish("", wsQueue, body).catch(() => {});
        },
        (f) => (onWs = f),
      ),
    );
    closers.push(() => wsConn.close().catch(() => {}));
  }
  port.postMessage({ ready: true });
  await new Promise((resolve) => {
    const check = setInterval(() => {
      if (stopping) {
        clearInterval(check);
        resolve(undefined);
      }
    }, 20);
  });
  // Round trips still waiting at the stop are reported as they stand.
  const now = performance.now();
  for (const [kind, f] of inFlight) {
    samples.push({ at: f.since - t0, phase: f.phase, ms: now - f.since, kind: /** @type {"tcp" | "ws"} */ (kind), lost: true });
  }
  await Promise.race([Promise.all(loops), sleep(2000)]);
  await Promise.race([Promise.all(closers.map((c) => c())), sleep(2000)]);
  port.postMessage({ samples });
}

/**
 * Starts the canary thread; resolves once its connections are up.
 * @param {CanaryConfig} config
 */
async function startCanary(config) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { canary: config } });
  /** @type {Promise<Sample[]>} */
  const result = new Promise((resolve, reject) => {
    worker.on("message", (/** @type {{ samples?: Sample[] }} */ m) => {
      if (m.samples) resolve(m.samples);
    });
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`canary thread exited (${code})`)));
  });
  await new Promise((resolve, reject) => {
    worker.on("message", (/** @type {{ ready?: boolean }} */ m) => {
      if (m.ready) resolve(undefined);
    });
    worker.once("error", reject);
  });
  return {
    /** @param {string} phase */
    phase(phase) {
      worker.postMessage({ phase });
    },
    /** @returns {Promise<Sample[]>} */
    async stop() {
      worker.postMessage({ stop: true });
      const samples = await Promise.race([result, sleep(10_000).then(() => /** @type {Sample[]} */ ([]))]);
      await worker.terminate();
      return samples;
    },
  };
}

// ---- process monitor (when we started Warren ourselves) -----------------------------------------

/**
 * CPU seconds and descriptors of Warren's processes, sampled every 250 ms.
 * @param {WarrenProcess} warren
 */
function monitorWarren(warren) {
  const nodePid = warren.pid;
  const workerdPid = warren.workerdPid();
  const cpu = () => ({
    node: readStat(nodePid)?.cpuSeconds ?? 0,
    workerd: workerdPid ? (readStat(workerdPid)?.cpuSeconds ?? 0) : 0,
  });
  let maxFds = { node: 0, workerd: 0 };
  let mark = { t: performance.now(), ...cpu() };
  let busy = false;
  const timer = setInterval(async () => {
    if (busy) return;
    busy = true;
    const [n, w] = [await fdCount(nodePid), workerdPid ? await fdCount(workerdPid) : -1];
    maxFds = { node: Math.max(maxFds.node, n), workerd: Math.max(maxFds.workerd, w) };
    busy = false;
  }, 250);
  return {
    nodePid,
    workerdPid,
    /** CPU use since the last call, as a share of one core, and the most descriptors seen. */
    take() {
      const now = { t: performance.now(), ...cpu() };
      const wall = (now.t - mark.t) / 1000;
      const out = {
        nodeCpu: (now.node - mark.node) / wall,
        workerdCpu: (now.workerd - mark.workerd) / wall,
        nodeFds: maxFds.node,
        workerdFds: maxFds.workerd,
      };
      mark = now;
      maxFds = { node: 0, workerd: 0 };
      return out;
    },
    stop() {
      clearInterval(timer);
    },
  };
}

// ---- the load ---------------------------------------------------------------------------------

/**
 * @typedef {object} LoadOptions
 * @property {string | undefined} url
 * @property {string | undefined} wsUrl
 * @property {number} connections
 * @property {number} holdMs
 * @property {number} queues
 * @property {number} declareConnections
 * @property {number} declareChannels per declaring connection
 * @property {boolean} durable
 * @property {number} intervalMs canary period
 * @property {number} timeoutMs whole run
 * @property {boolean} wsCanary
 * @property {boolean} cleanup delete the queues afterwards (when using --url)
 * @property {string | undefined} json write the results here
 * @property {string | undefined} warrenLog write the output of the Warren we started here
 */

const USAGE = `Usage: npm run load -- [options]

  --connections N         concurrent connections opened at once, 0 = skip     (default 1000)
  --hold MS               keep them open this long before closing              (default 3000)
  --queues M              queues declared, one message each, 0 = skip          (default 10000)
  --declare-connections K connections declaring in parallel                    (default 4)
  --declare-channels C    channels per declaring connection                    (default 4)
  --transient             declare the queues non-durable                       (default durable)
  --interval MS           canary round-trip period                             (default 50)
  --no-ws-canary          only the TCP canary (through the bridge)
  --timeout S             abort the load after S seconds                       (default 120)
  --url AMQP_URL          an already running Warren (default: start one, fresh data dir)
  --ws-url WS_URL         its WebSocket endpoint, for the WS canary
  --no-cleanup            with --url: leave the queues behind
  --json FILE             also write the results as JSON
  --warren-log FILE       write the output of the Warren started here to FILE
  -h, --help
`;

/** @returns {LoadOptions} */
function parseOptions() {
  const { values } = parseArgs({
    options: {
      connections: { type: "string" },
      hold: { type: "string" },
      queues: { type: "string" },
      "declare-connections": { type: "string" },
      "declare-channels": { type: "string" },
      transient: { type: "boolean" },
      interval: { type: "string" },
      "no-ws-canary": { type: "boolean" },
      timeout: { type: "string" },
      url: { type: "string" },
      "ws-url": { type: "string" },
      "no-cleanup": { type: "boolean" },
      json: { type: "string" },
      "warren-log": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const int = (/** @type {string | undefined} */ v, /** @type {number} */ dflt, /** @type {string} */ name, min = 0) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`load: --${name} must be an integer ≥ ${min}, got ${v}\n\n${USAGE}`);
      process.exit(2);
    }
    return n;
  };
  for (const u of [values.url, values["ws-url"]]) {
    if (u && !/^(amqp|ws):\/\/(guest:guest@)?(127\.0\.0\.1|localhost)[:/]/.test(u)) {
      console.error(`load: only a local Warren (127.0.0.1) may be loaded, got ${u}`);
      process.exit(2);
    }
  }
  return {
    url: values.url,
    wsUrl: values["ws-url"],
    connections: int(values.connections, 1000, "connections"),
    holdMs: int(values.hold, 3000, "hold"),
    queues: int(values.queues, 10_000, "queues"),
    declareConnections: int(values["declare-connections"], 4, "declare-connections", 1),
    declareChannels: int(values["declare-channels"], 4, "declare-channels", 1),
    durable: !values.transient,
    intervalMs: int(values.interval, 50, "interval", 1),
    timeoutMs: int(values.timeout, 120, "timeout", 1) * 1000,
    wsCanary: !values["no-ws-canary"],
    cleanup: !values["no-cleanup"],
    json: values.json,
    warrenLog: values["warren-log"],
  };
}

/** Errors seen by the load's clients, by message. */
class ErrorTally {
  /** @type {Map<string, number>} */
  counts = new Map();
  total = 0;
  /** Messages Warren said it could not store (its 541 "N published message(s) could not be stored"). */
  unstored = 0;
  /** @param {string} what @param {unknown} err */
  add(what, err) {
    this.total++;
    const unstored = /(\d+) published message\(s\) could not be stored/.exec(messageOf(err));
    if (unstored && what === "connection") this.unstored += Number(unstored[1]);
    // Strip what varies (queue names, numbers) so equal causes count together.
    const key = `${what}: ${messageOf(err)
      .replace(/load\.[\w.]+/g, "<queue>")
      .replace(/\d{3,}/g, "N")}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
  summary() {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 8)
      .map(([k, n]) => `${n}× ${k}`);
  }
}

/**
 * Opens `n` connections at once and measures each until connection.open-ok.
 * @param {string} url
 * @param {number} n
 * @param {number} deadline performance.now() after which we stop waiting
 * @param {ErrorTally} errors
 */
async function connectStorm(url, n, deadline, errors) {
  /** @type {number[]} */
  const times = [];
  /** @type {ChannelModel[]} */
  const conns = [];
  let failed = 0;
  const start = performance.now();
  const attempts = Array.from({ length: n }, async () => {
    const t0 = performance.now();
    try {
      const conn = await amqp.connect(url, { timeout: Math.max(1000, deadline - t0) });
      conn.on("error", (/** @type {Error} */ err) => errors.add("connection", err));
      times.push(performance.now() - t0);
      conns.push(conn);
    } catch (err) {
      failed++;
      errors.add("connect", err);
    }
  });
  await Promise.race([Promise.all(attempts), sleep(Math.max(0, deadline - performance.now()))]);
  // Attempts still pending at the deadline neither opened nor failed.
  return {
    times: times.sort((a, b) => a - b),
    conns,
    seconds: (performance.now() - start) / 1000,
    failed,
    pending: n - times.length - failed,
  };
}

/**
 * One channel of the pool: which connection it is on, and when it or its connection saw errors.
 * @typedef {{ conn: number, ch: Channel | null, errorsAt: number[] }} Slot
 */

/**
 * A pool of channels over a few connections. A channel or connection the server closed is
 * reopened (a bounded number of times), and every error is stamped on the slots it affected, so a
 * missing message can be matched with an error its publisher saw.
 * @param {string} url
 * @param {number} connections
 * @param {number} channelsEach
 * @param {ErrorTally} errors
 */
async function channelPool(url, connections, channelsEach, errors) {
  /** @type {(ChannelModel | null)[]} */
  const conns = Array.from({ length: connections }, () => null);
  /** @type {Slot[]} */
  const slots = [];
  for (let c = 0; c < connections; c++) for (let j = 0; j < channelsEach; j++) slots.push({ conn: c, ch: null, errorsAt: [] });
  let returned = 0;
  let reopenBudget = 100;
  /** @type {Map<number, Promise<ChannelModel>>} connections being (re)opened */
  const opening = new Map();

  /** @param {number} c */
  const connection = (c) => {
    const open = conns[c];
    if (open) return Promise.resolve(open);
    let p = opening.get(c);
    if (!p) {
      p = amqp.connect(url, { timeout: 30_000 }).then(
        (conn) => {
          conn.on("error", (/** @type {Error} */ err) => {
            errors.add("connection", err);
            const now = performance.now();
            for (const s of slots) if (s.conn === c) s.errorsAt.push(now);
          });
          conn.on("close", () => {
            conns[c] = null;
            for (const s of slots) if (s.conn === c) s.ch = null;
          });
          conns[c] = conn;
          opening.delete(c);
          return conn;
        },
        (err) => {
          opening.delete(c);
          throw err;
        },
      );
      opening.set(c, p);
    }
    return p;
  };

  /** @param {Slot} slot @returns {Promise<Channel>} */
  const channel = async (slot) => {
    if (slot.ch) return slot.ch;
    const conn = await connection(slot.conn);
    const ch = await conn.createChannel();
    ch.on("error", (/** @type {Error} */ err) => {
      errors.add("channel", err);
      slot.errorsAt.push(performance.now());
    });
    ch.on("close", () => {
      if (slot.ch === ch) slot.ch = null;
    });
    ch.on("return", () => {
      returned++;
      errors.add("publish", new Error("basic.return (unroutable)"));
      slot.errorsAt.push(performance.now());
    });
    slot.ch = ch;
    return ch;
  };

  for (const slot of slots) await channel(slot);

  return {
    slots,
    returned: () => returned,
    /**
     * The slot's channel, reopened (with its connection) if the server closed it.
     * @param {Slot} slot
     * @returns {Promise<Channel | null>}
     */
    async channel(slot) {
      if (slot.ch) return slot.ch;
      if (reopenBudget-- <= 0) return null;
      try {
        return await channel(slot);
      } catch (err) {
        errors.add("reopen", err);
        return null;
      }
    },
    /**
     * Runs `op` for every item, one at a time per channel, all channels in parallel.
     * @template T
     * @param {T[]} items
     * @param {(ch: Channel, item: T, slot: number) => Promise<void>} op
     * @param {number} deadline
     * @returns {Promise<{ done: number, latencies: number[] }>}
     */
    async each(items, op, deadline) {
      let next = 0;
      let done = 0;
      /** @type {number[]} */
      const latencies = [];
      await Promise.all(
        slots.map(async (slot, index) => {
          while (next < items.length && performance.now() < deadline) {
            const ch = await this.channel(slot);
            if (!ch) return;
            const item = /** @type {T} */ (items[next++]);
            const t0 = performance.now();
            try {
              await op(ch, item, index);
              latencies.push(performance.now() - t0);
              done++;
            } catch (err) {
              errors.add("op", err);
            }
          }
        }),
      );
      return { done, latencies: latencies.sort((a, b) => a - b) };
    },
    async close() {
      await Promise.all(conns.map((c) => c?.close().catch(() => {})));
    },
  };
}

/**
 * @typedef {{ name: string, seconds: number, canary: Record<string, { n: number, p50: number | undefined, p99: number | undefined, max: number | undefined, lost: number }>,
 *   loopDelayMaxMs: number, warren?: { nodeCpu: number, workerdCpu: number, nodeFds: number, workerdFds: number } }} PhaseReport
 */

async function main() {
  const o = parseOptions();
  const hardDeadline = setTimeout(() => {
    console.error(`load: still running ${o.timeoutMs / 1000 + 60} s after start: giving up`);
    process.exit(3);
  }, o.timeoutMs + 60_000);
  hardDeadline.unref();

  // ---- open-file limits ----
  // This process: one socket per connection. The bridge (Node): two per connection (TCP in, WS
  // out). workerd: one socket per connection, plus the three files (db, -wal, -shm) of the SQLite
  // database it opens for every live Durable Object: every connection's ConnectionDO and every
  // queue touched recently (objects idle for a while are evicted and their files closed).
  const self = await openFileLimit();
  const needClient = o.connections + o.declareConnections * (1 + o.declareChannels) + 100;
  const needBridge = 2 * o.connections + 100;
  const needWorkerd = 4 * o.connections + 3 * o.queues + 200;
  const needWarren = Math.max(needBridge, needWorkerd);
  const limitText = (/** @type {{ soft: number, hard: number } | null} */ l) => (l ? `${l.soft} (hard ${l.hard})` : "unknown");
  if (self && self.soft < needClient) {
    console.warn(
      `load: WARNING: this process may need ${needClient} open files but \`ulimit -n\` is ${limitText(self)}: ` +
        `run \`ulimit -n ${Math.min(self.hard, needClient)}\` first, or lower --connections`,
    );
  }

  /** @type {WarrenProcess | undefined} */
  let warren;
  /** @type {string | undefined} */
  let dataDir;
  let amqpUrl = o.url;
  let wsUrl = o.wsUrl ?? null;
  if (!amqpUrl) {
    dataDir = await mkdtemp(join(tmpdir(), "warren-load-"));
    // Warren gets a soft limit as high as the hard limit allows (as `npm start` does).
    const nofile = self && self.soft < needWarren ? Math.min(self.hard, needWarren) : undefined;
    const log = o.warrenLog ? createWriteStream(o.warrenLog) : undefined;
    warren = await spawnWarren({ dataDir, ...(nofile ? { nofile } : {}), ...(log ? { onOutput: (line) => log.write(`${line}\n`) } : {}) });
    amqpUrl = warren.amqpUrl;
    wsUrl = warren.wsUrl;
    const lim = await openFileLimit(warren.pid);
    const workerd = warren.workerdPid();
    const wlim = workerd ? await openFileLimit(workerd) : null;
    console.log(
      `Warren: ${amqpUrl} (ws ${wsUrl}); node pid ${warren.pid} (bridge + Miniflare host, ulimit -n ${limitText(lim)}), ` +
        `workerd pid ${workerd ?? "?"} (ulimit -n ${limitText(wlim)})`,
    );
    for (const [who, l, need] of /** @type {const} */ ([
      ["the bridge (Node)", lim, needBridge],
      ["workerd", wlim, needWorkerd],
    ])) {
      if (l && l.soft < need) {
        console.warn(
          `load: WARNING: ${who} may need ~${need} open files (bridge: 2 per connection; workerd: 4 per connection, ` +
            `3 per live queue) but its limit is ${limitText(l)}: expect EMFILE, failed publishes and stalls. ` +
            `Lower --connections/--queues${l.hard < need ? ", or raise the hard limit (needs root: ulimit -Hn)" : ""}.`,
        );
      }
    }
  } else {
    console.log(`Warren: ${amqpUrl}${wsUrl ? ` (ws ${wsUrl})` : ""} (already running: its open-file limits are not checked)`);
    console.log(
      `  workerd may need ~${needWorkerd} open files for this load, the bridge ~${needBridge}: check \`ulimit -n\` where it runs.`,
    );
  }
  if (!o.wsCanary) wsUrl = null;
  const url = /** @type {string} */ (amqpUrl);

  const started = performance.now();
  const deadline = started + o.timeoutMs;
  const errors = new ErrorTally();
  const monitor = warren ? monitorWarren(warren) : undefined;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const canary = await startCanary({ amqpUrl: url, wsUrl, intervalMs: o.intervalMs });

  /** @type {{ name: string, start: number, end: number, loopMax: number, warren?: ReturnType<NonNullable<typeof monitor>["take"]> }[]} */
  const phases = [];
  let current = { name: "baseline", start: performance.now() };
  canary.phase("baseline");
  monitor?.take();
  /** @param {string} next */
  const phase = (next) => {
    const end = performance.now();
    phases.push({ ...current, end, loopMax: loop.max / 1e6, ...(monitor ? { warren: monitor.take() } : {}) });
    loop.reset();
    current = { name: next, start: end };
    canary.phase(next);
  };

  /** @type {Record<string, unknown>} */
  const results = { options: o };
  let aborted = false;
  try {
    await sleep(1000); // canary baseline

    if (o.connections > 0) {
      phase("connect");
      const storm = await connectStorm(url, o.connections, deadline, errors);
      const t = storm.times;
      results.connect = {
        requested: o.connections,
        opened: t.length,
        failed: storm.failed,
        pending: storm.pending,
        seconds: storm.seconds,
        p50: pct(t, 50),
        p99: pct(t, 99),
        max: t[t.length - 1],
      };
      if (storm.pending > 0) aborted = true;
      phase("hold");
      await sleep(Math.min(o.holdMs, Math.max(0, deadline - performance.now())));
      phase("disconnect");
      const closeStart = performance.now();
      await Promise.race([Promise.all(storm.conns.map((c) => c.close().catch((err) => errors.add("close", err)))), sleep(30_000)]);
      /** @type {Record<string, unknown>} */ (results.connect).closeSeconds = (performance.now() - closeStart) / 1000;
      phase("idle");
      await sleep(1000);
    }

    if (o.queues > 0 && performance.now() < deadline) {
      const prefix = `load.${Date.now().toString(36)}`;
      const names = Array.from({ length: o.queues }, (_, i) => `${prefix}.${i}`);
      const pool = await channelPool(url, o.declareConnections, o.declareChannels, errors);
      phase("declare");
      const declareStart = performance.now();
      const declared = await pool.each(
        names,
        async (ch, q) => {
          await ch.assertQueue(q, { durable: o.durable, autoDelete: false });
        },
        deadline,
      );
      const declareSeconds = (performance.now() - declareStart) / 1000;
      if (declared.done < names.length) aborted = true;

      phase("publish");
      // One message per declared queue, no confirms, round robin over the channels. Each
      // remembers its channel and when it left, to be matched with errors that channel saw.
      const body = Buffer.from("load");
      const targets = names.slice(0, declared.done);
      const sentOn = new Int32Array(targets.length).fill(-1);
      const sentAt = new Float64Array(targets.length);
      let published = 0;
      for (let i = 0; i < targets.length && performance.now() < deadline; i++) {
        const index = i % pool.slots.length;
        const slot = /** @type {Slot} */ (pool.slots[index]);
        const ch = await pool.channel(slot);
        if (!ch) continue;
        try {
          sentOn[i] = index;
          sentAt[i] = performance.now();
          published++;
          if (!ch.publish("", /** @type {string} */ (targets[i]), body, { mandatory: true })) {
            await Promise.race([new Promise((r) => ch.once("drain", r)), sleep(5000)]);
          }
        } catch (err) {
          errors.add("publish", err);
          slot.errorsAt.push(performance.now());
        }
      }
      // A synchronous method on each channel: Warren has handled everything published before it
      // (and sent any error about it) when the answer comes.
      await Promise.all(pool.slots.map(async (s) => s.ch?.checkQueue(/** @type {string} */ (targets[0])).catch(() => {})));
      await sleep(200);
      const countStart = performance.now();

      phase("count");
      let stored = 0;
      let extra = 0;
      const counts = new Int32Array(targets.length).fill(-1);
      const counted = await pool.each(
        targets.map((q, i) => /** @type {[string, number]} */ ([q, i])),
        async (ch, [q, i]) => {
          const { messageCount } = await ch.checkQueue(q);
          counts[i] = messageCount;
          stored += Math.min(messageCount, 1);
          if (messageCount > 1) extra += messageCount - 1;
        },
        deadline,
      );
      // A missing message is explained when its channel (or connection) saw an error between
      // its publish and the count.
      let missing = 0;
      let explained = 0;
      for (let i = 0; i < targets.length; i++) {
        const on = sentOn[i] ?? -1;
        if (counts[i] !== 0 || on < 0) continue;
        missing++;
        const seen = pool.slots[on]?.errorsAt ?? [];
        if (seen.some((t) => t >= (sentAt[i] ?? 0) && t <= countStart)) explained++;
      }
      results.queues = {
        requested: o.queues,
        declared: declared.done,
        declareSeconds,
        declaresPerSec: declared.done / declareSeconds,
        declareP50: pct(declared.latencies, 50),
        declareP99: pct(declared.latencies, 99),
        declareMax: declared.latencies[declared.latencies.length - 1],
        published,
        counted: counted.done,
        stored,
        missing,
        explained,
        silentlyLost: missing - explained,
        extra,
        returned: pool.returned(),
        reportedUnstored: errors.unstored,
      };
      if (counted.done < targets.length) aborted = true;

      if (!warren && o.cleanup) {
        phase("cleanup");
        await pool.each(
          targets,
          async (ch, q) => {
            await ch.deleteQueue(q);
          },
          performance.now() + 120_000,
        );
      }
      await pool.close();
    }
  } catch (err) {
    console.error(`load: ${messageOf(err)}`);
    aborted = true;
  } finally {
    phase("end");
  }
  const samples = await canary.stop();
  monitor?.stop();

  // ---- report ----
  /** @type {PhaseReport[]} */
  const report = phases.map((p) => {
    /** @type {PhaseReport["canary"]} */
    const canaryStats = {};
    for (const kind of /** @type {const} */ (["tcp", "ws"])) {
      const mine = samples.filter((s) => s.kind === kind && s.phase === p.name);
      if (mine.length === 0) continue;
      const sorted = mine.map((s) => s.ms).sort((a, b) => a - b);
      canaryStats[kind] = {
        n: mine.length,
        p50: pct(sorted, 50),
        p99: pct(sorted, 99),
        max: sorted[sorted.length - 1],
        lost: mine.filter((s) => s.lost).length,
      };
    }
    return {
      name: p.name,
      seconds: (p.end - p.start) / 1000,
      canary: canaryStats,
      loopDelayMaxMs: p.loopMax,
      ...(p.warren ? { warren: p.warren } : {}),
    };
  });
  console.log("");
  console.log(
    "phase         secs   canary tcp p50 / p99 / max (n)        canary ws p50 / p99 / max (n)         client loop max   workerd cpu  node cpu  fds workerd/node",
  );
  for (const r of report) {
    const c = (/** @type {"tcp" | "ws"} */ k) => {
      const s = r.canary[k];
      return s ? `${ms(s.p50)} / ${ms(s.p99)} / ${ms(s.max)} (${s.n}${s.lost ? `, ${s.lost} lost` : ""})` : "—";
    };
    const w = r.warren;
    console.log(
      `${r.name.padEnd(12)} ${r.seconds.toFixed(1).padStart(5)}   ${c("tcp").padEnd(36)}  ${c("ws").padEnd(36)}  ${ms(r.loopDelayMaxMs).padStart(10)}   ` +
        (w
          ? `${(w.workerdCpu * 100).toFixed(0).padStart(9)} %  ${(w.nodeCpu * 100).toFixed(0).padStart(5)} %  ${w.workerdFds}/${w.nodeFds}`
          : ""),
    );
  }
  const all = (/** @type {string[]} */ names, /** @type {"tcp" | "ws"} */ kind) =>
    samples
      .filter((s) => s.kind === kind && names.includes(s.phase))
      .map((s) => s.ms)
      .sort((a, b) => a - b);
  console.log("");
  if (results.connect) {
    const c =
      /** @type {{ requested: number, opened: number, failed: number, pending: number, seconds: number, p50?: number, p99?: number, max?: number, closeSeconds?: number }} */ (
        results.connect
      );
    const during = all(["connect"], "tcp");
    console.log(
      `connect: ${c.opened}/${c.requested} opened (${c.failed} failed, ${c.pending} still pending) in ${c.seconds.toFixed(2)} s; connect time p50 ${ms(c.p50)}, p99 ${ms(c.p99)}, max ${ms(c.max)}; ` +
        `closed in ${c.closeSeconds?.toFixed(2) ?? "—"} s`,
    );
    console.log(
      `  canary during the connects: p50 ${ms(pct(during, 50))}, p99 ${ms(pct(during, 99))}, max ${ms(during[during.length - 1])}`,
    );
  }
  if (results.queues) {
    const q =
      /** @type {{ requested: number, declared: number, declareSeconds: number, declaresPerSec: number, declareP50?: number, declareP99?: number, declareMax?: number, published: number, counted: number, stored: number, missing: number, explained: number, silentlyLost: number, extra: number, returned: number, reportedUnstored: number }} */ (
        results.queues
      );
    const during = all(["declare"], "tcp");
    console.log(
      `queues: ${q.declared}/${q.requested} declared in ${q.declareSeconds.toFixed(1)} s = ${q.declaresPerSec.toFixed(0)}/s ` +
        `(${o.declareConnections}×${o.declareChannels} channels; declare p50 ${ms(q.declareP50)}, p99 ${ms(q.declareP99)}, max ${ms(q.declareMax)})`,
    );
    console.log(
      `  canary during the declares: p50 ${ms(pct(during, 50))}, p99 ${ms(pct(during, 99))}, max ${ms(during[during.length - 1])}`,
    );
    console.log(
      `  published ${q.published} without confirms; counted ${q.counted} queues: stored ${q.stored}, missing ${q.missing}, extra ${q.extra}; ` +
        `returned ${q.returned}`,
    );
    if (q.missing > 0 || q.reportedUnstored > 0) {
      console.log(
        `  missing ${q.missing}: ${q.explained} after an error on their channel or connection, ${q.silentlyLost} with no error seen` +
          `${q.silentlyLost > 0 ? " <-- LOST SILENTLY" : ""}; Warren reported ${q.reportedUnstored} message(s) it could not store`,
      );
    }
    results.silentLoss = q.silentlyLost;
  }
  const everything = samples.filter((s) => s.kind === "tcp").map((s) => s.ms);
  everything.sort((a, b) => a - b);
  console.log(
    `canary overall (tcp): ${everything.length} round trips, p50 ${ms(pct(everything, 50))}, p99 ${ms(pct(everything, 99))}, max ${ms(everything[everything.length - 1])}`,
  );
  console.log(`errors seen by clients: ${errors.total}${errors.total ? `\n  ${errors.summary().join("\n  ")}` : ""}`);
  if (aborted) console.log(`ABORTED: the ${o.timeoutMs / 1000} s budget ran out (or a phase failed); numbers above are partial`);

  if (o.json) {
    await writeFile(o.json, JSON.stringify({ ...results, phases: report, errors: Object.fromEntries(errors.counts), samples }, null, 1));
  }
  if (warren) await warren.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
  process.exit(aborted || Number(results.silentLoss ?? 0) > 0 ? 1 : 0);
}

if (isMainThread) {
  await main();
} else {
  await canaryThread(/** @type {{ canary: CanaryConfig }} */ (workerData).canary);
}
