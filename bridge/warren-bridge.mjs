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

// Both loopbacks: clients that resolve "localhost" to ::1 (Node ≥ 17, many systems) must connect.
const DEFAULT_HOSTS = ["127.0.0.1", "::1"];
// A listen address this machine does not have (no IPv6, ::1 not configured): logged and skipped
// as long as another address listens.
const UNAVAILABLE = new Set(["EADDRNOTAVAIL", "EAFNOSUPPORT", "EPROTONOSUPPORT"]);
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
// Flow control with Warren (src/session/flow.ts): offered as a WebSocket subprotocol, so a
// Warren (or any server) that does not know it simply picks "amqp". With it, the bridge reports
// the bytes it has written on to its client ("ack <total>" text frames) and Warren stops
// delivering while too much is unacknowledged; Warren reports the bytes it has processed
// ("consumed <total>") and the bridge stops reading its client while too much is outstanding.
const FLOW_PROTOCOL = "x-warren-flow.v1";
// One ack per this many bytes written to the client, never one per message: Warren's window is
// at least 1 MiB and resumes at half of it, so an unacknowledged tail this small never holds it.
const ACK_STEP = 256 * 1024;
// Bytes sent up but not yet processed by Warren: stop reading the client above, resume below.
const CREDIT_HIGH = 4 * 1024 * 1024;
const CREDIT_LOW = 2 * 1024 * 1024;
// Don't wait forever for a blackholed upstream.
const HANDSHAKE_TIMEOUT_MS = 10_000;
// How long close() waits for the upstream closing handshake before cutting it.
const SHUTDOWN_GRACE_MS = 2_000;
// At most this many new upstream connections being set up at once; later ones wait their turn
// (their TCP data is buffered as before the WS opens). Each upgrade makes Warren create a Durable
// Object (milliseconds of work on workerd's one thread), and workerd reads no socket while it
// has work queued: a thousand clients connecting at once stalled every live connection for the
// seconds the whole storm took. A slot is held until Warren's first message on the new connection
// (its connection.start, which workerd can only send after reading the socket again), so live
// connections are served between admissions; the storm as a whole takes no longer.
const DEFAULT_MAX_CONNECTING = 8;
// A slot is given back at the latest this long after the WS opened, whatever the client does.
const ADMISSION_HOLD_MAX_MS = 2_000;

// BridgeOptions and Bridge are declared (and documented) in warren-bridge.d.mts, which the TS
// tests import; taking them from there makes `npm run typecheck` check this file against it.
/** @import { Bridge, BridgeOptions } from "./warren-bridge.d.mts" */

/**
 * Start a TCP listener that relays each accepted connection to `upstream`.
 * @param {BridgeOptions} [options]
 * @returns {Promise<Bridge>}
 */
export async function startBridge(options = {}) {
  const { port = DEFAULT_PORT, upstream = DEFAULT_UPSTREAM } = options;
  const hosts = hostList(options.host ?? DEFAULT_HOSTS);
  const log = options.quiet || options.log === false ? () => {} : (options.log ?? console.log);
  if (!/^wss?:\/\//i.test(upstream)) throw new Error(`upstream must be a ws:// or wss:// URL, got ${upstream}`);
  const maxConnecting = maxConnectingFrom(options.maxConnecting);
  const forwardSecret = options.forwardSecret ?? process.env.WARREN_FORWARD_SECRET ?? "";

  /** @type {Set<() => Promise<void>>} shutdown functions of live connections */
  const live = new Set();
  let nextId = 1;
  const admission = gate(maxConnecting);
  const onConnection = (/** @type {net.Socket} */ tcp) => {
    const shutdown = relay(tcp, upstream, nextId++, log, admission, forwardSecret, () => live.delete(shutdown));
    live.add(shutdown);
  };
  const servers = await listenAll(hosts, port, onConnection, log, options.host === undefined);
  for (const server of servers) server.on("error", (err) => log(`listener error: ${err.message}`));
  const addresses = servers.map((server) => /** @type {net.AddressInfo} */ (server.address()));
  const first = /** @type {net.AddressInfo} */ (addresses[0]);
  log(`listening on ${addresses.map((a) => formatAddress(a.address, a.port)).join(", ")} -> ${upstream}`);

  /** @type {Promise<void> | undefined} */
  let closing;
  return {
    port: first.port,
    host: first.address,
    hosts: addresses.map((a) => a.address),
    close() {
      closing ??= (async () => {
        const stopped = Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
        await Promise.all([...live].map((shutdown) => shutdown()));
        await stopped;
        log("bridge closed");
      })();
      return closing;
    },
  };
}

/**
 * "127.0.0.1,::1" or a list: the addresses to listen on, without blanks or repeats.
 * @param {string | string[]} host
 * @returns {string[]}
 */
export function hostList(host) {
  const list = (Array.isArray(host) ? host : [host]).flatMap((h) => h.split(",")).map((h) => h.trim().replace(/^\[(.*)\]$/, "$1"));
  const hosts = [...new Set(list.filter((h) => h !== ""))];
  if (hosts.length === 0) throw new Error("no address to listen on");
  return hosts;
}

/**
 * Listens on every address with one port (the first listener's when `port` is 0). An address the
 * machine does not have is logged and skipped while another one listens; any other failure (the
 * port taken) closes what was opened and throws, except on the default's ::1 (`lenient`), which
 * is then logged and skipped too. With port 0 a port free on the first address but taken on
 * another is given up and another one tried.
 * @param {string[]} hosts
 * @param {number} port
 * @param {(tcp: net.Socket) => void} onConnection
 * @param {(line: string) => void} log
 * @param {boolean} lenient
 * @returns {Promise<net.Server[]>}
 */
async function listenAll(hosts, port, onConnection, log, lenient) {
  for (let attempt = 0; ; attempt++) {
    /** @type {net.Server[]} */
    const servers = [];
    let chosen = port;
    /** @type {unknown} */
    let firstError;
    try {
      for (const host of hosts) {
        const server = net.createServer(onConnection);
        try {
          await listen(server, chosen, host);
        } catch (err) {
          const code = /** @type {NodeJS.ErrnoException} */ (err).code ?? "";
          const unavailable = UNAVAILABLE.has(code);
          if (!unavailable && !(lenient && servers.length > 0 && port !== 0)) throw err;
          log(
            unavailable
              ? `cannot listen on ${formatAddress(host, chosen)} (${code}): this machine does not have that address; continuing without it`
              : `cannot listen on ${formatAddress(host, chosen)} (${code}); continuing without it`,
          );
          firstError ??= err;
          continue;
        }
        servers.push(server);
        if (chosen === 0) chosen = /** @type {net.AddressInfo} */ (server.address()).port;
      }
      if (servers.length === 0) throw firstError;
      return servers;
    } catch (err) {
      await Promise.all(servers.map((server) => new Promise((resolve) => server.close(() => resolve(undefined)))));
      const inUse = /** @type {NodeJS.ErrnoException} */ (err).code === "EADDRINUSE";
      if (!(port === 0 && inUse && servers.length > 0 && attempt < 10)) throw err;
    }
  }
}

/** @param {net.Server} server @param {number} port @param {string} host @returns {Promise<void>} */
function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

/**
 * A counting semaphore: at most `max` holders at once, the others wait in arrival order.
 * @param {number} max
 */
function gate(max) {
  let active = 0;
  /** @type {Set<() => void>} */
  const waiting = new Set();
  const release = () => {
    active--;
    const [next] = waiting;
    if (next) {
      waiting.delete(next);
      active++;
      next();
    }
  };
  return {
    /**
     * Calls `granted` once a slot is free (at once if one is). Returns a function that gives the
     * slot back, or withdraws from the queue if it was not granted yet; calling it again does nothing.
     * @param {() => void} granted
     * @returns {() => void}
     */
    acquire(granted) {
      let state = "waiting";
      const start = () => {
        state = "held";
        granted();
      };
      if (active < max) {
        active++;
        start();
      } else {
        waiting.add(start);
      }
      return () => {
        if (state === "held") release();
        else if (state === "waiting") waiting.delete(start);
        state = "done";
      };
    },
  };
}

/**
 * The limit of concurrent upstream handshakes: the option, else WARREN_BRIDGE_MAX_CONNECTING, else
 * the default. 0 means no limit.
 * @param {unknown} option
 */
function maxConnectingFrom(option) {
  const value = option ?? process.env.WARREN_BRIDGE_MAX_CONNECTING;
  if (value === undefined || value === "") return DEFAULT_MAX_CONNECTING;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`maxConnecting must be an integer ≥ 0, got ${value}`);
  return n === 0 ? Number.POSITIVE_INFINITY : n;
}

/**
 * Pipe one accepted TCP socket to a fresh upstream WebSocket, opened once `admission` lets it.
 * @param {net.Socket} tcp
 * @param {string} upstream
 * @param {number} id
 * @param {(line: string) => void} log
 * @param {ReturnType<typeof gate>} admission
 * @param {string} forwardSecret proves to Warren that the X-Forwarded-For address is ours ("" for none)
 * @param {() => void} onDone called once both sides are closed
 * @returns {() => Promise<void>} shutdown: close both sides (used by Bridge.close)
 */
function relay(tcp, upstream, id, log, admission, forwardSecret, onDone) {
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

  // The WebSocket is created when admission grants a slot; until then the relay is "connecting"
  // as far as everything below is concerned.
  /** @type {WebSocket | null} */
  let ws = null;
  let wsClosed = false; // never opened (TCP went first) counts as closed
  const wsState = () => (ws ? ws.readyState : wsClosed ? WebSocket.CLOSED : WebSocket.CONNECTING);
  /** Gives the admission slot back (Warren answered, or the WS failed) or leaves the queue. */
  let releaseSlot = () => {};

  // ---- TCP -> WS -----------------------------------------------------------
  // Chunks are gathered and sent on setImmediate, i.e. after all the socket
  // reads of this event-loop turn, so a burst of small writes becomes one WS
  // message. Before the WS opens they just accumulate here (in order).
  /** @type {Buffer[]} */
  let pending = [];
  let pendingBytes = 0;
  let flushScheduled = false;
  let tcpPaused = false; // paused by us: WS backpressure, or Warren has not caught up
  let wsFull = false; // WS buffer over HIGH_WATER (or the pre-open buffer)
  let flow = false; // the upstream speaks FLOW_PROTOCOL
  let consumedUp = 0; // bytes Warren has processed (its last "consumed" report)
  let writtenDown = 0; // bytes written on to the client
  let ackedDown = 0; // the last "ack" sent
  let tcpEnded = false; // client sent FIN: close the WS once pending data is sent
  let tcpFailed = false;
  let aborted = false; // we cut a still-connecting WS ourselves: its error is expected
  const abort = () => {
    aborted = true;
    releaseSlot();
    if (ws) ws.terminate();
    else if (!wsClosed) {
      wsClosed = true;
      maybeDone();
    }
  };

  // Reading the client stops for either reason and goes on once neither holds.
  const overCredit = () => flow && bytesUp - consumedUp > CREDIT_HIGH;
  const pauseTcp = () => {
    if (!tcpPaused) {
      tcpPaused = true;
      tcp.pause();
    }
  };
  const resumeTcp = () => {
    if (tcpPaused && !wsFull && !(flow && bytesUp - consumedUp > CREDIT_LOW)) {
      tcpPaused = false;
      tcp.resume();
    }
  };

  const flush = () => {
    flushScheduled = false;
    if (!ws || ws.readyState !== WebSocket.OPEN || pendingBytes === 0) return;
    const data = pending.length === 1 ? /** @type {Buffer} */ (pending[0]) : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    for (let off = 0; off < data.length; off += MAX_MESSAGE) {
      ws.send(data.subarray(off, off + MAX_MESSAGE), { binary: true }, onSent);
    }
    if (ws.bufferedAmount > HIGH_WATER) {
      wsFull = true;
      pauseTcp();
    }
  };
  // ws calls this once a message has been handed to its socket; after the
  // last outstanding one, bufferedAmount has drained and reading can go on.
  const onSent = (/** @type {Error | undefined} */ err) => {
    if (!err && wsFull && ws && ws.bufferedAmount <= LOW_WATER) {
      wsFull = false;
      resumeTcp();
    }
  };

  tcp.on("data", (/** @type {Buffer} */ chunk) => {
    const state = wsState();
    if (state > WebSocket.OPEN) return; // upstream is closing/gone: nowhere to send it
    bytesUp += chunk.length;
    pending.push(chunk);
    pendingBytes += chunk.length;
    if (state === WebSocket.CONNECTING) {
      if (pendingBytes > HIGH_WATER) {
        wsFull = true; // bound the pre-open buffer
        pauseTcp();
      }
    } else if (overCredit()) {
      pauseTcp(); // Warren is behind: TCP back-pressure slows the publisher down
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
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
    if (ws?.readyState === WebSocket.OPEN) {
      flush();
      ws.close(1000);
    } // if still connecting (or waiting to), the 'open' handler sends what we have, then closes
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
      const state = wsState();
      if (state === WebSocket.OPEN) ws?.close(1011);
      else if (state === WebSocket.CONNECTING) abort();
    }
    log(`#${id} closed ${peer} (${reason || "closed"}; up ${bytesUp} B, down ${bytesDown} B, ${Date.now() - started} ms)`);
    maybeDone();
  });

  // ---- WS -> TCP -----------------------------------------------------------
  let wsPaused = false;
  let wsError = false;

  /** Opens the upstream WebSocket: admission has granted a slot. */
  const openUpstream = () => {
    const socket = new WebSocket(upstream, [FLOW_PROTOCOL, "amqp"], {
      perMessageDeflate: false,
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
      // Warren keys its login brake (and loopback-only users) on the client's address; it believes
      // the address only with the secret it shares with this bridge.
      headers: tcp.remoteAddress && forwardSecret ? { "X-Forwarded-For": tcp.remoteAddress, "X-Warren-Forwarded-By": forwardSecret } : {},
    });
    ws = socket;
    socket.binaryType = "nodebuffer";

    socket.on("open", () => {
      flow = socket.protocol === FLOW_PROTOCOL;
      // Warren speaks first only once the client has: with nothing sent, there is nothing to wait for.
      if (pendingBytes === 0) releaseSlot();
      else setTimeout(releaseSlot, ADMISSION_HOLD_MAX_MS).unref();
      flush();
      if (tcpEnded) socket.close(1000);
      else if (socket.bufferedAmount <= HIGH_WATER) {
        wsFull = false;
        resumeTcp(); // lift the pre-open pause
      }
    });

    socket.on("message", (data, isBinary) => {
      releaseSlot(); // Warren has answered: the setup is done (see DEFAULT_MAX_CONNECTING)
      if (!isBinary) {
        // A flow report; AMQP itself is always binary.
        const consumed = flow ? /^consumed (\d+)$/.exec(String(data)) : null;
        if (consumed) {
          consumedUp = Math.max(consumedUp, Number(consumed[1]));
          resumeTcp();
        }
        return;
      }
      const buf = /** @type {Buffer} */ (data);
      if (tcp.destroyed || tcp.writableEnded) return; // client is gone; nobody to deliver to
      bytesDown += buf.length;
      const onWritten = flow
        ? () => {
            writtenDown += buf.length;
            // Acks are cumulative, so one that is lost or late does no harm.
            if (writtenDown - ackedDown >= ACK_STEP) {
              ackedDown = writtenDown;
              if (socket.readyState === WebSocket.OPEN) socket.send(`ack ${writtenDown}`);
            }
          }
        : undefined;
      // tcp.write never drops data; false only means "slow down": stop reading the WS.
      if (!tcp.write(buf, onWritten) && !wsPaused) {
        wsPaused = true;
        socket.pause();
      }
    });

    socket.on("error", (err) => {
      wsError = true;
      releaseSlot();
      if (aborted) return;
      note(`upstream error: ${err.message}`);
      log(`#${id} upstream error: ${err.message}`);
      tcp.destroy();
    });

    socket.on("close", (code, why) => {
      releaseSlot();
      note(`upstream closed ${code}${why.length ? ` ${why}` : ""}`);
      if (!wsError && !tcp.destroyed) {
        tcp.end(); // sends whatever is still queued, then FIN
        flow = false; // no more reports will come: nothing may hold the client back now
        wsFull = false;
        resumeTcp(); // keep reading so the client's FIN (and 'close') is seen
      }
      maybeDone();
    });
  };
  releaseSlot = admission.acquire(openUpstream);

  tcp.on("drain", () => {
    if (wsPaused) {
      wsPaused = false;
      ws?.resume();
    }
  });

  let done = false;
  function maybeDone() {
    if (!done && tcp.destroyed && wsState() === WebSocket.CLOSED) {
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
      const state = wsState();
      if (state === WebSocket.CLOSED) finish();
      else ws?.once("close", finish);
      if (state === WebSocket.OPEN)
        ws?.close(1001); // 1001 = going away
      else if (state === WebSocket.CONNECTING) {
        abort();
        if (!ws) finish();
      }
      tcp.destroy();
    });
}

/** @param {string | undefined} host @param {number | undefined} port */
function formatAddress(host, port) {
  return host?.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

// ---- CLI ---------------------------------------------------------------------

const USAGE = `Usage: warren-bridge [--host ADDR[,ADDR…]] [--port N] [--upstream URL] [--max-connecting N] [--quiet]

Accept plain AMQP 0-9-1 over TCP and relay each connection to Warren over WebSocket.

  --host ADDRS     addresses to listen on, comma-separated or repeated; one the machine
                   does not have (no IPv6) is skipped with a log line
                                              (env WARREN_BRIDGE_HOST, default ${DEFAULT_HOSTS.join(",")})
  --port N         TCP port, 0 = any free one (env WARREN_BRIDGE_PORT, default ${DEFAULT_PORT})
  --upstream URL   Warren AMQP WebSocket URL  (env WARREN_BRIDGE_UPSTREAM, default ${DEFAULT_UPSTREAM})
  --max-connecting N
                   upstream WebSocket handshakes in progress at once, 0 = no limit
                                              (env WARREN_BRIDGE_MAX_CONNECTING, default ${DEFAULT_MAX_CONNECTING})
  --quiet          only log errors
  -h, --help       show this help

Env WARREN_FORWARD_SECRET: the secret Warren shares with this bridge (a Worker secret of the same
name); with it Warren believes the client addresses the bridge forwards (X-Forwarded-For), which
its login brake and loopback-only users (guest) depend on. Without it Warren sees the bridge.
`;

async function main() {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        host: { type: "string", multiple: true },
        port: { type: "string" },
        upstream: { type: "string" },
        "max-connecting": { type: "string" },
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
    /** @type {BridgeOptions} */
    const bridgeOptions = {
      port,
      upstream: String(values.upstream ?? env.WARREN_BRIDGE_UPSTREAM ?? DEFAULT_UPSTREAM),
      log,
    };
    // Unset: the default addresses, where a ::1 that cannot be had is skipped, whatever the reason.
    const host = values.host ?? env.WARREN_BRIDGE_HOST;
    if (host !== undefined) bridgeOptions.host = host;
    if (values["max-connecting"] !== undefined) bridgeOptions.maxConnecting = Number(values["max-connecting"]);
    bridge = await startBridge(bridgeOptions);
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
