// `npm run soak`: crash-safety soak test of Warren's publisher confirms (not part of `npm test`).
//
// Each cycle starts Warren as its own process group (`node scripts/start.mjs`, as `npm start`)
// on a data dir kept across cycles, publishes persistent messages with confirms to a durable queue
// while a consumer acks some of what it gets, kills the whole process group with SIGKILL at a
// random moment mid-stream, restarts Warren on the same data dir, drains the queue and classifies
// every message as the RabbitMQ Jepsen checkers do:
//
//   lost            confirmed, never acked by the consumer, absent after the restart  (must be 0)
//   duplicated      delivered again after the consumer had acked it (at-least-once: allowed)
//   redelivered     delivered before the crash, not acked, delivered again after it; RabbitMQ sets
//                   the redelivered flag on these, so how many came back without it is counted
//   unconfirmed-but-present / unconfirmed-and-absent   both fine
//
// Exit status: 1 if any confirmed message was lost (or, with --strict, if a redelivery came back
// with redelivered=false); 2 on a usage error or when the run could not complete.
//
//   npm run soak -- --cycles 10 --messages 50000 --kill-after 200-2000 --ack-ratio 0.5 --seed 7
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import amqp from "amqplib";
import { killAll, spawnWarren } from "./warren-process.mjs";
/** @import { ChannelModel, ConfirmChannel, ConsumeMessage } from "amqplib" */

// ---- the soak test ------------------------------------------------------------------------------

/**
 * @typedef {object} SoakOptions
 * @property {number} cycles
 * @property {number} messages most messages published per cycle
 * @property {number} size body size in bytes (at least the id)
 * @property {number} window most unconfirmed messages in flight
 * @property {number} prefetch consumer prefetch (0 = unlimited)
 * @property {number} ackRatio share of deliveries the consumer acks (the rest stay unacked)
 * @property {[number, number]} killAfter the kill comes uniformly in this range (ms after publishing starts)
 * @property {number} drainIdleMs the drain ends after this long without a delivery and an empty queue
 * @property {number} cycleTimeoutMs
 * @property {boolean} strict
 * @property {boolean} verbose
 * @property {string | undefined} dataDir
 * @property {boolean} keep keep the data dir
 * @property {number} seed
 */

/**
 * What happened to one message id.
 * @typedef {object} Fate
 * @property {boolean} confirmed basic.ack from the broker
 * @property {boolean} nacked basic.nack from the broker
 * @property {number} before deliveries before the crash
 * @property {boolean} ackedBefore the consumer sent basic.ack for it before the crash
 * @property {number} after deliveries after the restart
 * @property {boolean[]} afterFlags redelivered flag of each delivery after the restart
 * @property {boolean[]} beforeFlags redelivered flag of each delivery before the crash
 */

/**
 * @typedef {object} CycleCounts
 * @property {number} published
 * @property {number} confirmed
 * @property {number} nacked
 * @property {number} lost confirmed, not acked before the crash, not delivered after it
 * @property {number} duplicated delivered after the consumer had acked it (or twice in one phase)
 * @property {number} redelivered delivered-but-unacked at the crash and delivered again after it
 * @property {number} redeliveredFlagMissing of those, how many came back with redelivered=false
 * @property {number} unackedLost delivered-but-unacked at the crash, unconfirmed, and absent after it
 * @property {number} unconfirmedPresent
 * @property {number} unconfirmedAbsent
 * @property {number} freshFlagged delivered for the first time after the restart, yet marked redelivered
 * @property {number} unknown deliveries of ids that were never published
 * @property {number} killAtMs
 * @property {number} midStream 1 when the kill came while messages were still being published
 * @property {number} drainMs
 */

const USAGE = `Usage: npm run soak -- [options]

Kill -9 Warren mid-stream, restart it, and check that no confirmed message was lost.

  --cycles N          crash/restart cycles                         (env SOAK_CYCLES, default 5)
  --messages N        most messages published per cycle            (env SOAK_MESSAGES, default 30000)
  --size BYTES        message body size                            (default 64)
  --window N          most unconfirmed publishes in flight         (default 500)
  --prefetch N        consumer prefetch, 0 = unlimited             (default 0)
  --ack-ratio R       share of deliveries the consumer acks, 0..1  (default 0.5)
  --kill-after A-B    kill at a random moment A..B ms after publishing starts (default 150-1500)
  --drain-idle MS     drain ends after MS without deliveries       (default 1500)
  --cycle-timeout S   give up on a cycle after S seconds            (default 90)
  --seed N            random seed (the kill moments and ack choices)  (default: time)
  --data-dir DIR      data dir to use (default: a fresh temp dir, removed at the end)
  --keep              keep the data dir
  --strict            also fail when a redelivery comes back with redelivered=false
  --verbose           print Warren's output and per-cycle details
  -h, --help
`;

/**
 * @param {string[]} argv
 * @returns {SoakOptions}
 */
function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      cycles: { type: "string" },
      messages: { type: "string" },
      size: { type: "string" },
      window: { type: "string" },
      prefetch: { type: "string" },
      "ack-ratio": { type: "string" },
      "kill-after": { type: "string" },
      "drain-idle": { type: "string" },
      "cycle-timeout": { type: "string" },
      seed: { type: "string" },
      "data-dir": { type: "string" },
      keep: { type: "boolean" },
      strict: { type: "boolean" },
      verbose: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const env = process.env;
  const int = (/** @type {string | undefined} */ v, /** @type {number} */ dflt, /** @type {string} */ name, min = 0) => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) usage(`--${name} must be an integer ≥ ${min}, got ${v}`);
    return n;
  };
  const ratio = Number(values["ack-ratio"] ?? 0.5);
  if (!(ratio >= 0 && ratio <= 1)) usage(`--ack-ratio must be in 0..1`);
  const range = /^(\d+)-(\d+)$/.exec(values["kill-after"] ?? "150-1500");
  if (!range || Number(range[1]) > Number(range[2])) usage(`--kill-after must look like 150-1500`);
  return {
    cycles: int(values.cycles ?? env.SOAK_CYCLES, 5, "cycles", 1),
    messages: int(values.messages ?? env.SOAK_MESSAGES, 30_000, "messages", 1),
    size: int(values.size, 64, "size", 1),
    window: int(values.window, 500, "window", 1),
    prefetch: int(values.prefetch, 0, "prefetch"),
    ackRatio: ratio,
    killAfter: [Number(range?.[1]), Number(range?.[2])],
    drainIdleMs: int(values["drain-idle"], 1500, "drain-idle", 100),
    cycleTimeoutMs: int(values["cycle-timeout"], 90, "cycle-timeout", 5) * 1000,
    seed: int(values.seed ?? env.SOAK_SEED, Date.now() % 1_000_000, "seed"),
    dataDir: values["data-dir"],
    keep: Boolean(values.keep),
    strict: Boolean(values.strict),
    verbose: Boolean(values.verbose),
  };
}

/** @param {string} why @returns {never} */
function usage(why) {
  console.error(`soak: ${why}\n\n${USAGE}`);
  process.exit(2);
}

/**
 * mulberry32: a small seeded generator, so a failing run can be repeated with --seed.
 * @param {number} seed
 */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @param {number} ms */
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for `promise`, but gives up after `ms`.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
function within(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** @param {unknown} err */
const messageOf = (err) => String(/** @type {{ message?: unknown }} */ (err)?.message ?? err);

/**
 * A connection whose errors are noted instead of thrown (the broker will vanish under it).
 * @param {string} url
 * @param {string[]} errors
 * @returns {Promise<ChannelModel>}
 */
async function quietConnect(url, errors) {
  const conn = await amqp.connect(url, { timeout: 10_000 });
  conn.on("error", (/** @type {Error} */ err) => errors.push(`connection: ${err.message}`));
  return conn;
}

/**
 * One crash/restart cycle.
 * @param {number} cycle
 * @param {SoakOptions} o
 * @param {string} dataDir
 * @param {() => number} rand
 * @returns {Promise<CycleCounts>}
 */
async function runCycle(cycle, o, dataDir, rand) {
  const log = (/** @type {string} */ line) => {
    if (o.verbose) console.log(`  [cycle ${cycle}] ${line}`);
  };
  const onOutput = o.verbose ? (/** @type {string} */ line) => console.log(`  [warren] ${line}`) : undefined;
  const queue = `soak.${o.seed}.${cycle}`;
  const prefix = `${o.seed}.${cycle}.`;
  /** @type {Map<string, Fate>} */
  const fates = new Map();
  let unknown = 0;
  /** @type {string[]} */
  const errors = [];

  // ---- phase 1: publish and consume until the kill -------------------------------------------
  let warren = await spawnWarren({ dataDir, ...(onOutput ? { onOutput } : {}) });
  log(`Warren up (pid ${warren.pid}, ${warren.amqpUrl})`);
  const pubConn = await quietConnect(warren.amqpUrl, errors);
  const subConn = await quietConnect(warren.amqpUrl, errors);
  const setup = await pubConn.createChannel();
  await setup.assertQueue(queue, { durable: true });
  await setup.close();

  const pub = /** @type {ConfirmChannel} */ (await pubConn.createConfirmChannel());
  pub.on("error", (/** @type {Error} */ err) => errors.push(`publish channel: ${err.message}`));
  const sub = await subConn.createChannel();
  sub.on("error", (/** @type {Error} */ err) => errors.push(`consume channel: ${err.message}`));
  if (o.prefetch > 0) await sub.prefetch(o.prefetch);

  let crashed = false;
  let publishedAll = false;
  await sub.consume(
    queue,
    (/** @type {ConsumeMessage | null} */ msg) => {
      if (!msg || crashed) return;
      const id = msg.content.toString("latin1", 0, msg.content.indexOf(0x20)).trim();
      const fate = fates.get(id);
      if (!fate) {
        unknown++;
        return;
      }
      fate.before++;
      fate.beforeFlags.push(msg.fields.redelivered);
      if (rand() < o.ackRatio) {
        try {
          sub.ack(msg);
          fate.ackedBefore = true;
        } catch {
          // the channel is gone: the ack was not sent
        }
      }
    },
    { noAck: false },
  );

  const pad = Buffer.alloc(Math.max(0, o.size), 0x2e);
  let outstanding = 0;
  /** @type {(() => void) | null} */
  let wake = null;
  const publishing = (async () => {
    for (let i = 0; i < o.messages && !crashed; i++) {
      while (outstanding >= o.window && !crashed) await /** @type {Promise<void>} */ (new Promise((r) => (wake = r)));
      if (crashed) break;
      const id = `${prefix}${i}`;
      const body = Buffer.concat([Buffer.from(`${id} `, "latin1"), pad]);
      /** @type {Fate} */
      const fate = { confirmed: false, nacked: false, before: 0, ackedBefore: false, after: 0, afterFlags: [], beforeFlags: [] };
      fates.set(id, fate);
      outstanding++;
      try {
        pub.sendToQueue(queue, body, { persistent: true, messageId: id }, (/** @type {unknown} */ err) => {
          // amqplib fails the outstanding callbacks when the channel dies: only a basic.nack is a nack.
          if (!err) fate.confirmed = true;
          else if (messageOf(err) === "message nacked") fate.nacked = true;
          outstanding--;
          const w = wake;
          wake = null;
          w?.();
        });
      } catch {
        // The channel closed under us (the crash): this one never left.
        fates.delete(id);
        outstanding--;
        break;
      }
      // Let the event loop breathe now and then, so confirms and deliveries are processed.
      if (i % 200 === 199) await new Promise((r) => setImmediate(r));
    }
    if (!crashed) publishedAll = true;
  })();

  const [lo, hi] = o.killAfter;
  const killAtMs = Math.round(lo + rand() * (hi - lo));
  await sleep(killAtMs);
  const midStream = !publishedAll;
  warren.kill9();
  await warren.exited;
  // From here on, nothing the client hears can come from the dead broker... except bytes the
  // kernel had already delivered to our sockets: give the client a moment to read them.
  await sleep(200);
  crashed = true;
  // (TypeScript cannot see that the publish loop's callbacks assign `wake`.)
  const w = /** @type {(() => void) | null} */ (wake);
  wake = null;
  w?.();
  await publishing.catch(() => {});
  await pubConn.close().catch(() => {});
  await subConn.close().catch(() => {});
  const published = fates.size;
  log(
    `killed at ${killAtMs} ms (${midStream ? "mid-stream" : "after the last publish"}): ${published} published, ${[...fates.values()].filter((f) => f.confirmed).length} confirmed`,
  );

  // ---- phase 2: restart on the same data dir and drain ----------------------------------------
  warren = await spawnWarren({ dataDir, ...(onOutput ? { onOutput } : {}) });
  log(`restarted (pid ${warren.pid})`);
  const drainStart = performance.now();
  try {
    const conn = await quietConnect(warren.amqpUrl, errors);
    const ch = await conn.createChannel();
    await ch.prefetch(1000);
    let lastDelivery = performance.now();
    await ch.consume(
      queue,
      (/** @type {ConsumeMessage | null} */ msg) => {
        if (!msg) return;
        lastDelivery = performance.now();
        const id = msg.content.toString("latin1", 0, msg.content.indexOf(0x20)).trim();
        const fate = fates.get(id);
        if (fate) {
          fate.after++;
          fate.afterFlags.push(msg.fields.redelivered);
        } else {
          unknown++;
        }
        ch.ack(msg);
      },
      { noAck: false },
    );
    // Done when nothing came for drainIdleMs and the queue says it is empty.
    const deadline = performance.now() + o.cycleTimeoutMs;
    for (;;) {
      if (performance.now() > deadline) throw new Error(`drain did not finish within ${o.cycleTimeoutMs} ms`);
      await sleep(250);
      if (performance.now() - lastDelivery < o.drainIdleMs) continue;
      const check = await conn.createChannel();
      const { messageCount } = await within(check.checkQueue(queue), 10_000, "queue.declare passive");
      await check.close();
      if (messageCount === 0) break;
    }
    await ch.close();
    const cleanup = await conn.createChannel();
    await cleanup.deleteQueue(queue);
    await conn.close();
  } finally {
    await warren.stop();
  }
  const drainMs = Math.round(performance.now() - drainStart);

  // ---- classify -------------------------------------------------------------------------------
  /** @type {CycleCounts} */
  const c = {
    published,
    confirmed: 0,
    nacked: 0,
    lost: 0,
    duplicated: 0,
    redelivered: 0,
    redeliveredFlagMissing: 0,
    unackedLost: 0,
    unconfirmedPresent: 0,
    unconfirmedAbsent: 0,
    freshFlagged: 0,
    unknown,
    killAtMs,
    midStream: midStream ? 1 : 0,
    drainMs,
  };
  /** @type {string[]} */
  const lostIds = [];
  for (const [id, f] of fates) {
    if (f.confirmed) c.confirmed++;
    if (f.nacked) c.nacked++;
    const present = f.before + f.after > 0;
    if (f.confirmed && !f.ackedBefore && f.after === 0) {
      c.lost++;
      if (lostIds.length < 10) lostIds.push(id);
    }
    if (!f.confirmed) {
      if (present) c.unconfirmedPresent++;
      else c.unconfirmedAbsent++;
    }
    // Delivered again after the consumer acked it, or more than once within one phase.
    if ((f.ackedBefore && f.after > 0) || f.before > 1 || f.after > 1) c.duplicated++;
    if (f.before > 0 && !f.ackedBefore) {
      if (f.after > 0) {
        c.redelivered++;
        if (f.afterFlags[0] === false) c.redeliveredFlagMissing++;
      } else if (!f.confirmed) {
        c.unackedLost++;
      }
    }
    if (f.before === 0 && f.after > 0 && f.afterFlags[0] === true) c.freshFlagged++;
  }
  if (lostIds.length > 0) console.log(`  cycle ${cycle}: LOST ids (first ${lostIds.length}): ${lostIds.join(", ")}`);
  if (o.verbose && errors.length > 0) log(`client-side errors (expected around the kill): ${[...new Set(errors)].slice(0, 5).join("; ")}`);
  return c;
}

/** @type {(keyof CycleCounts)[]} */
const COLUMNS = [
  "published",
  "confirmed",
  "nacked",
  "lost",
  "duplicated",
  "redelivered",
  "redeliveredFlagMissing",
  "unackedLost",
  "unconfirmedPresent",
  "unconfirmedAbsent",
  "freshFlagged",
  "unknown",
  "killAtMs",
  "midStream",
  "drainMs",
];
const HEADERS = {
  published: "published",
  confirmed: "confirmed",
  nacked: "nacked",
  lost: "LOST",
  duplicated: "dup",
  redelivered: "redeliv",
  redeliveredFlagMissing: "redeliv flag=false",
  unackedLost: "unacked+unconf gone",
  unconfirmedPresent: "unconf present",
  unconfirmedAbsent: "unconf absent",
  freshFlagged: "fresh flag=true",
  unknown: "unknown",
  killAtMs: "kill@ms",
  midStream: "mid-stream",
  drainMs: "drain ms",
};

/** @param {(string | number)[][]} rows */
function printTable(rows) {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => String(r[i] ?? "").length))) ?? [];
  for (const r of rows)
    console.log(r.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i] ?? 0) : String(cell).padStart(widths[i] ?? 0))).join("  "));
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const rand = random(o.seed);
  const dataDir = o.dataDir ?? (await mkdtemp(join(tmpdir(), "warren-soak-")));
  console.log(
    `soak: ${o.cycles} cycles, ≤ ${o.messages} msgs/cycle, window ${o.window}, prefetch ${o.prefetch || "∞"}, ack ratio ${o.ackRatio}, kill after ${o.killAfter[0]}-${o.killAfter[1]} ms, seed ${o.seed}, data ${dataDir}`,
  );
  /** @type {CycleCounts[]} */
  const results = [];
  let failure = "";
  try {
    for (let cycle = 1; cycle <= o.cycles; cycle++) {
      try {
        const c = await within(runCycle(cycle, o, dataDir, rand), o.cycleTimeoutMs * 2 + 60_000, `cycle ${cycle}`);
        results.push(c);
        console.log(
          `cycle ${cycle}: killed at ${c.killAtMs} ms; published ${c.published}, confirmed ${c.confirmed}, LOST ${c.lost}, duplicated ${c.duplicated}, ` +
            `redelivered ${c.redelivered} (flag false: ${c.redeliveredFlagMissing}), unconfirmed present ${c.unconfirmedPresent} / absent ${c.unconfirmedAbsent}`,
        );
      } catch (err) {
        failure = `cycle ${cycle} did not complete: ${messageOf(err)}`;
        console.error(`soak: ${failure}`);
        break;
      }
    }
  } finally {
    killAll();
    if (!o.keep && !o.dataDir) await rm(dataDir, { recursive: true, force: true });
  }

  const total = /** @type {CycleCounts} */ (Object.fromEntries(COLUMNS.map((k) => [k, 0])));
  for (const c of results) for (const k of COLUMNS) total[k] += c[k];
  console.log("");
  printTable([
    ["cycle", ...COLUMNS.map((k) => HEADERS[k])],
    ...results.map((c, i) => [String(i + 1), ...COLUMNS.map((k) => c[k])]),
    ["total", ...COLUMNS.map((k) => (k === "killAtMs" || k === "drainMs" ? "" : total[k]))],
  ]);
  console.log("");
  console.log(`confirmed-and-lost: ${total.lost}${total.lost === 0 ? " (ok)" : "  <-- FAILURE"}`);
  console.log(`duplicated (acked, delivered again): ${total.duplicated} (at-least-once: allowed)`);
  console.log(
    `redelivered after the crash: ${total.redelivered}, of which ${total.redeliveredFlagMissing} came back with redelivered=false` +
      (total.redeliveredFlagMissing > 0 ? " (RabbitMQ sets it: known Warren bug)" : ""),
  );
  if (total.unknown > 0) console.log(`deliveries of ids never published: ${total.unknown}  <-- FAILURE`);

  if (failure) process.exit(2);
  if (total.lost > 0 || total.unknown > 0) process.exit(1);
  if (o.strict && total.redeliveredFlagMissing > 0) process.exit(1);
  process.exit(0);
}

// A script (npm run soak), imported by nothing.
await main();
