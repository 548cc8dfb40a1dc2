#!/usr/bin/env node
// warren-bridge: accept plain AMQP 0-9-1 over TCP and relay it, byte for byte,
// over one WebSocket per connection to Warren's `/amqp` endpoint.
//
//   client ──TCP──▶ bridge ──WS (binary, subprotocol "amqp")──▶ Warren Worker
//
// The bridge never parses AMQP: bytes go both ways unchanged and in order.
import net from "node:net";
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WebSocket } from "ws";

const DEFAULT_HOST = "127.0.0.1";
const DEFAULT_PORT = 5672;
const DEFAULT_UPSTREAM = "ws://127.0.0.1:8787/amqp";

// Warren handles every AMQP frame of one WS message in one go, so fewer, larger
// messages are much cheaper than one message per TCP read. Cap the size so a
// single message never gets huge.
const MAX_MESSAGE = 128 * 1024;
// Backpressure thresholds for bytes queued towards the WebSocket (incl. data
// buffered before the WS is open): pause TCP reads above HIGH, resume at LOW.
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
// Don't wait forever for a blackholed upstream.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// How long close() waits for the upstream closing handshake before cutting it.
const SHUTDOWN_GRACE_MS = 2_000;

// BridgeOptions and Bridge are declared (and documented) in warren-bridge.d.mts, which the TS
// tests import; taking them from there makes `npm run typecheck` check this file against it.
/** @import { Bridge, BridgeOptions } from "./warren-bridge.d.mts" */

/**
 * Start a TCP listener that relays each accepted connection to `upstream`.
 * @param {BridgeOptions} [options]
 * @returns {Promise<Bridge>}
 */
export async function startBridge(options = {}) {
  const { host = DEFAULT_HOST, port = DEFAULT_PORT, upstream = DEFAULT_UPSTREAM } = options;
  const log = options.quiet || options.log === false ? () => {} : (options.log ?? console.log);
  if (!/^wss?:\/\//i.test(upstream)) throw new Error(`upstream must be a ws:// or wss:// URL, got ${upstream}`);

  /** @type {Set<() => Promise<void>>} shutdown functions of live connections */
  const live = new Set();
  let nextId = 1;
  const server = net.createServer((tcp) => {
    const shutdown = relay(tcp, upstream, nextId++, log, () => live.delete(shutdown));
    live.add(shutdown);
  });

  await /** @type {Promise<void>} */ (
    new Promise((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve(undefined);
      });
    })
  );
  server.on("error", (err) => log(`listener error: ${err.message}`));
  const address = /** @type {net.AddressInfo} */ (server.address());
  log(`listening on ${formatAddress(address.address, address.port)} -> ${upstream}`);

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    port: address.port,
    host: address.address,
    close() {
      closing ??= (async () => {
        /** @type {Promise<void>} */
        const stopped = new Promise((resolve) => server.close(() => resolve(undefined)));
        await Promise.all([...live].map((shutdown) => shutdown()));
        await stopped;
        log("bridge closed");
      })();
      return closing;
    },
  };
}

/**
 * Pipe one accepted TCP socket to a fresh upstream WebSocket.
 * @param {net.Socket} tcp
 * @param {string} upstream
 * @param {number} id
 * @param {(line: string) => void} log
 * @param {() => void} onDone called once both sides are closed
 * @returns {() => Promise<void>} shutdown: close both sides (used by Bridge.close)
 */
function relay(tcp, upstream, id, log, onDone) {
  const peer = formatAddress(tcp.remoteAddress, tcp.remotePort);
  const started = Date.now();
  let bytesUp = 0; // client -> upstream
  let bytesDown = 0; // upstream -> client
  let reason = "";
  const note = (/** @type {string} */ why) => {
    reason ||= why;
  };

  tcp.setNoDelay(true); // AMQP is chatty request/response; don't let Nagle add latency
  log(`#${id} open ${peer}`);

  const ws = new WebSocket(upstream, "amqp", {
    perMessageDeflate: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
  });
  ws.binaryType = "nodebuffer";

  // ---- TCP -> WS -----------------------------------------------------------
  // Chunks are gathered and sent on setImmediate, i.e. after all the socket
  // reads of this event-loop turn, so a burst of small writes becomes one WS
  // message. Before the WS opens they just accumulate here (in order).
  /** @type {Buffer[]} */
  let pending = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  let tcpPaused = false; // paused by us for WS backpressure
  let tcpEnded = false; // client sent FIN: close the WS once pending data is sent
  let tcpFailed = false;
  let aborted = false; // we cut a still-connecting WS ourselves: its error is expected
  const abort = () => {
    aborted = true;
    ws.terminate();
  };

  const pauseTcp = () => {
    if (!tcpPaused) {
      tcpPaused = true;
      tcp.pause();
    }
  };
  const resumeTcp = () => {
    if (tcpPaused) {
      tcpPaused = false;
      tcp.resume();
    }
  };

  const flush = () => {
    flushScheduled = false;
    if (ws.readyState !== WebSocket.OPEN || pendingBytes === 0) return;
    const data = pending.length === 1 ? /** @type {Buffer} */ (pending[0]) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    for (let off = 0; off < data.length; off += MAX_MESSAGE) {
      ws.send(data.subarray(off, off + MAX_MESSAGE), { binary: true }, onSent);
    }
    if (ws.bufferedAmount > HIGH_WATER) pauseTcp();
  };
  // ws calls this once a message has been handed to its socket; after the
  // last outstanding one, bufferedAmount has drained and reading can go on.
  const onSent = (/** @type {Error | undefined} */ err) => {
    if (!err && tcpPaused && ws.bufferedAmount <= LOW_WATER) resumeTcp();
  };

  tcp.on("data", (/** @type {Buffer} */ chunk) => {
    if (ws.readyState > WebSocket.OPEN) return; // upstream is closing/gone: nowhere to send it
    bytesUp += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (ws.readyState === WebSocket.CONNECTING) {
      if (pendingBytes > HIGH_WATER) pauseTcp(); // bound the pre-open buffer
    } else if (pendingBytes >= MAX_MESSAGE) {
      flush(); // enough for a full message already; don't hold more in memory
    } else if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flush);
    }
  });

  tcp.on("end", () => {
    tcpEnded = true;
    note("client closed");
    if (ws.readyState === WebSocket.OPEN) {
      flush();
      ws.close(1000);
    } // if still connecting, the 'open' handler sends what we have, then closes
  });

  tcp.on("error", (err) => {
    tcpFailed = true;
    note(`client error: ${err.message}`);
    log(`#${id} client error: ${err.message}`);
  });

  tcp.on("close", () => {
    // After a clean end, data still pending (WS not open yet) is sent on 'open'.
    if (tcpFailed || !tcpEnded) {
      // Abrupt TCP loss: the stream is incomplete anyway, so drop the WS.
      pending = [];
      pendingBytes = 0;
      if (ws.readyState === WebSocket.OPEN) ws.close(1011);
      else if (ws.readyState === WebSocket.CONNECTING) abort();
    }
    log(`#${id} closed ${peer} (${reason || "closed"}; up ${bytesUp} B, down ${bytesDown} B, ${Date.now() - started} ms)`);
    maybeDone();
  });

  // ---- WS -> TCP -----------------------------------------------------------
  let wsPaused = false;
  ws.on("open", () => {
    flush();
    if (tcpEnded) ws.close(1000);
    else if (ws.bufferedAmount <= HIGH_WATER) resumeTcp(); // lift the pre-open pause
  });

  ws.on("message", (data) => {
    const buf = /** @type {Buffer} */ (data);
    if (tcp.destroyed || tcp.writableEnded) return; // client is gone; nobody to deliver to
    bytesDown += buf.length;
    // tcp.write never drops data; false only means "slow down": stop reading the WS.
    if (!tcp.write(buf) && !wsPaused) {
      wsPaused = true;
      ws.pause();
    }
  });
  tcp.on("drain", () => {
    if (wsPaused) {
      wsPaused = false;
      ws.resume();
    }
  });

  let wsError = false;
  ws.on("error", (err) => {
    wsError = true;
    if (aborted) return;
    note(`upstream error: ${err.message}`);
    log(`#${id} upstream error: ${err.message}`);
    tcp.destroy();
  });

  ws.on("close", (code, why) => {
    note(`upstream closed ${code}${why.length ? ` ${why}` : ""}`);
    if (!wsError && !tcp.destroyed) {
      tcp.end(); // sends whatever is still queued, then FIN
      resumeTcp(); // keep reading so the client's FIN (and 'close') is seen
    }
    maybeDone();
  });

  let done = false;
  function maybeDone() {
    if (!done && tcp.destroyed && ws.readyState === WebSocket.CLOSED) {
      done = true;
      onDone();
    }
  }

  return () =>
    new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      const timer = setTimeout(abort, SHUTDOWN_GRACE_MS);
      note("bridge shutting down");
      if (ws.readyState === WebSocket.CLOSED) finish();
      else ws.once("close", finish);
      if (ws.readyState === WebSocket.OPEN)
        ws.close(1001); // 1001 = going away
      else if (ws.readyState === WebSocket.CONNECTING) abort();
      tcp.destroy();
    });
}

/** @param {string | undefined} host @param {number | undefined} port */
function formatAddress(host, port) {
  return host?.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---- CLI ---------------------------------------------------------------------

const USAGE = `Usage: warren-bridge [--host ADDR] [--port N] [--upstream URL] [--quiet]

Accept plain AMQP 0-9-1 over TCP and relay each connection to Warren over WebSocket.

  --host ADDR      address to listen on       (env WARREN_BRIDGE_HOST, default ${DEFAULT_HOST})
  --port N         TCP port, 0 = any free one (env WARREN_BRIDGE_PORT, default ${DEFAULT_PORT})
  --upstream URL   Warren AMQP WebSocket URL  (env WARREN_BRIDGE_UPSTREAM, default ${DEFAULT_UPSTREAM})
  --quiet          only log errors
  -h, --help       show this help
`;

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: "string" },
        port: { type: "string" },
        upstream: { type: "string" },
        quiet: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    console.error(`warren-bridge: ${/** @type {Error} */ (err).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return;
  }
  const env = process.env;
  const portText = String(values.port ?? env.WARREN_BRIDGE_PORT ?? DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    console.error(`warren-bridge: invalid port ${portText}`);
    process.exit(2);
  }
  const stamp = (/** @type {string} */ line) => `${new Date().toISOString()} warren-bridge ${line}`;
  const quiet = Boolean(values.quiet);
  const log = (/** @type {string} */ line) => {
    if (!quiet || line.includes("error")) console.log(stamp(line));
  };

  let bridge;
  try {
    bridge = await startBridge({
      host: String(values.host ?? env.WARREN_BRIDGE_HOST ?? DEFAULT_HOST),
      port,
      upstream: String(values.upstream ?? env.WARREN_BRIDGE_UPSTREAM ?? DEFAULT_UPSTREAM),
      log,
    });
  } catch (err) {
    console.error(stamp(`failed to start: ${/** @type {Error} */ (err).message}`));
    process.exit(1);
  }
  const b = bridge;
  const stop = (/** @type {string} */ signal) => {
    console.log(stamp(`${signal} received, closing`));
    // A second signal while closing means "now".
    process.once("SIGINT", () => process.exit(130));
    process.once("SIGTERM", () => process.exit(143));
    b.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
}

const isMain = (() => {
  try {
    return !!process.argv[1] && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (isMain) await main();
