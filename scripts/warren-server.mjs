// Runs Warren locally: the Worker bundle in workerd (through Miniflare) with Durable Object
// state persisted on disk, plus the TCP bridge. Used by `npm start`, the tests and the bench.
import { randomUUID } from "node:crypto";
import { execFile } from "node:child_process";
import { mkdir, readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { Miniflare, Log, LogLevel } from "miniflare";
import { startBridge } from "../bridge/warren-bridge.mjs";
/** @import { WarrenOptions, WarrenServer } from "./warren-server.d.mts" */

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const BUILD_DIR = join(root, ".warren", "build");

/**
 * Bundles src/ with wrangler (no deploy) into .warren/build/index.js.
 * @param {{ quiet?: boolean }} [options]
 * @returns {Promise<void>}
 */
export async function buildWorker({ quiet = false } = {}) {
  const wrangler = join(root, "node_modules", ".bin", "wrangler");
  await promisify(execFile)(process.execPath, [wrangler, "deploy", "--dry-run", "--outdir", BUILD_DIR], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true" },
  }).catch((/** @type {{ stdout?: string, stderr?: string }} */ err) => {
    // execFile's promise rejects with an error that carries the child's stdout and stderr.
    throw new Error(`wrangler build failed:\n${err.stdout ?? ""}${err.stderr ?? ""}`);
  });
  if (!quiet) console.log(`warren: built worker into ${BUILD_DIR}`);
}

async function wranglerConfig() {
  const toml = await readFile(join(root, "wrangler.toml"), "utf8");
  const date = /^compatibility_date\s*=\s*"([^"]+)"/m.exec(toml)?.[1];
  const flags = /^compatibility_flags\s*=\s*\[([^\]]*)\]/m.exec(toml)?.[1] ?? "";
  return {
    compatibilityDate: date ?? "2026-07-01",
    compatibilityFlags: [...flags.matchAll(/"([^"]+)"/g)].map((m) => m[1]),
  };
}

/**
 * The WARREN_* variables of this process's environment, passed to the Worker (limits such as
 * WARREN_HANDSHAKE_TIMEOUT_MS, WARREN_ALLOWED_ORIGINS; see src/core/limits.ts and README.md).
 * @returns {Record<string, string>}
 */
function warrenVars() {
  /** @type {Record<string, string>} */
  const vars = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("WARREN_") && value !== undefined) vars[key] = value;
  }
  return vars;
}

/** Semi-space size (MB) for workerd's V8 young generation; the operator's own flag wins. */
const SEMI_SPACE_MB = 8;

/**
 * Caps each isolate's young generation. V8 grows it to its default maximum in any isolate that
 * keeps allocating (a queue or connection under load), and locally all of Warren's objects share
 * one workerd process: 1,000,000 messages drained went to ~300 MB RSS with the default, ~185 MB
 * with 8 MB semi-spaces at the same rate (bench/backlog.mjs). Miniflare reads the variable when
 * it spawns workerd.
 */
function youngGeneration() {
  const flags = process.env.MINIFLARE_WORKERD_V8_FLAGS ?? "";
  if (/--max-semi-space-size(=|\s)/.test(flags)) return;
  process.env.MINIFLARE_WORKERD_V8_FLAGS = `${flags} --max-semi-space-size=${SEMI_SPACE_MB}`.trim();
}

/**
 * @param {WarrenOptions} [options]
 * @returns {Promise<WarrenServer>}
 */
export async function startWarren(options = {}) {
  const host = options.host ?? "127.0.0.1";
  const dataDir = resolve(options.dataDir ?? join(root, ".warren", "data"));
  const quiet = options.quiet ?? false;
  if (options.build !== false) await buildWorker({ quiet });
  await mkdir(dataDir, { recursive: true });
  const config = await wranglerConfig();

  // Two workers from the same bundle: connection and login-guard objects keep nothing on disk
  // (they never write), so they run in a worker whose objects are in-memory only. Otherwise
  // workerd creates a SQLite database per connection ever opened: slow under a storm of connects
  // and three files left behind each. Queues and exchanges persist in the first worker.
  // Shared with the bridge only: Warren believes the client addresses it forwards (http/peer.ts).
  const forwardSecret = options.vars?.WARREN_FORWARD_SECRET ?? process.env.WARREN_FORWARD_SECRET ?? randomUUID();
  const script = {
    modules: true,
    scriptPath: join(BUILD_DIR, "index.js"),
    compatibilityDate: config.compatibilityDate,
    compatibilityFlags: config.compatibilityFlags,
    bindings: {
      // Each start is a broker restart (a new boot epoch, src/core/boot.ts): non-durable queues
      // and exchanges and non-persistent messages of the previous run are gone, as in RabbitMQ.
      WARREN_BOOT_EPOCH: `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
      WARREN_FORWARD_SECRET: forwardSecret,
      // Where the local server listens: bound to loopback, a request that did not come through the
      // bridge came from this machine (http/peer.ts).
      WARREN_LOCAL_HOST: host,
      ...warrenVars(),
      WARREN_HEARTBEAT: String(options.heartbeat ?? 60),
      ...options.vars,
    },
  };
  // Bound to loopback, clients reach the Worker on a direct workerd socket: Miniflare's entry
  // Worker would cost ~40 KB per WebSocket, proxy every frame and negotiate permessage-deflate
  // (~200 KB per socket) whatever the Worker's no_web_socket_compression flag says. Bound to
  // anything else, the entry Worker stays: it is what tells the Worker each client's address
  // (CF-Connecting-IP), which the loopback-only rule for guest depends on.
  const direct = host === "127.0.0.1" || host === "localhost" || host === "::1";
  youngGeneration();
  const mf = new Miniflare({
    host,
    port: direct ? 0 : (options.httpPort ?? 8787),
    log: new Log(quiet ? LogLevel.WARN : LogLevel.INFO),
    durableObjectsPersist: join(dataDir, "do"),
    cf: false,
    ...(options.inspectorPort ? { inspectorPort: options.inspectorPort } : {}),
    workers: [
      {
        name: "warren",
        ...script,
        ...(direct ? { unsafeDirectSockets: [{ host, port: options.httpPort ?? 8787 }] } : {}),
        durableObjects: {
          CONNECTION: { className: "ConnectionDO", scriptName: "warren-memory" },
          // The keys a single unnamed worker had: object ids and files of existing data dirs stay.
          EXCHANGE: { className: "ExchangeDO", useSQLite: true, unsafeUniqueKey: "-ExchangeDO" },
          QUEUE: { className: "QueueDO", useSQLite: true, unsafeUniqueKey: "-QueueDO" },
          LOGIN_GUARD: { className: "LoginGuardDO", scriptName: "warren-memory" },
          CONTROL: { className: "ControlDO", useSQLite: true },
          VHOST: { className: "VhostDO", useSQLite: true },
        },
      },
      {
        name: "warren-memory",
        ...script,
        unsafeEphemeralDurableObjects: true,
        durableObjects: {
          CONNECTION: { className: "ConnectionDO" },
          EXCHANGE: { className: "ExchangeDO", scriptName: "warren" },
          QUEUE: { className: "QueueDO", scriptName: "warren" },
          LOGIN_GUARD: { className: "LoginGuardDO" },
          CONTROL: { className: "ControlDO", scriptName: "warren" },
          VHOST: { className: "VhostDO", scriptName: "warren" },
        },
      },
    ],
  });
  const url = direct ? await mf.unsafeGetDirectURL("warren") : await mf.ready;
  const httpUrl = url.toString().replace(/\/$/, "");
  const wsUrl = `${httpUrl.replace(/^http/, "ws")}/amqp`;

  let bridge = null;
  if (options.amqpPort !== null) {
    bridge = await startBridge({
      // Bound to loopback: both loopbacks (127.0.0.1 and ::1, the bridge's default), so clients
      // that resolve localhost to ::1 connect too.
      ...(options.amqpHost !== undefined ? { host: options.amqpHost } : host === "127.0.0.1" ? {} : { host }),
      port: options.amqpPort ?? 5672,
      upstream: wsUrl,
      quiet,
      forwardSecret,
    });
  }
  const amqpUrl = bridge ? `amqp://guest:guest@${host === "127.0.0.1" ? "localhost" : host}:${bridge.port}` : null;
  return {
    httpUrl,
    wsUrl,
    amqpUrl,
    amqpPort: bridge?.port ?? null,
    async close() {
      await bridge?.close();
      await mf.dispose();
    },
  };
}
