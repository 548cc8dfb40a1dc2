// Benchmark scenarios: each takes an amqplib connection factory and returns numbers.
import amqp from "amqplib";
/** @import { Channel, ConfirmChannel, ConsumeMessage, GetMessage, Options } from "amqplib" */

const TIMEOUT_MS = 180_000;

/**
 * @template T
 * @param {Promise<T>} promise
 * @param {string} label
 * @returns {Promise<T>}
 */
function withTimeout(promise, label) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${label} timed out after ${TIMEOUT_MS / 1000}s`)), TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** @param {string} prefix */
function uniqueName(prefix) {
  return `bench.${prefix}.${Date.now().toString(36)}.${Math.random().toString(36).slice(2, 8)}`;
}

/**
 * Publishes respecting amqplib's write buffer ('drain'), so memory stays bounded.
 * @param {Channel} ch
 * @param {string} exchange
 * @param {string} key
 * @param {number} count
 * @param {Buffer} body
 * @param {Options.Publish} [options]
 */
async function publishAll(ch, exchange, key, count, body, options = {}) {
  for (let i = 0; i < count; i++) {
    if (!ch.publish(exchange, key, body, options)) await /** @type {Promise<unknown>} */ (new Promise((r) => ch.once("drain", r)));
  }
}

/**
 * Publishes on a confirm channel with at most `window` unconfirmed messages.
 * @param {ConfirmChannel} ch
 * @param {string} exchange
 * @param {string} key
 * @param {number} count
 * @param {Buffer} body
 * @param {Options.Publish} [options]
 * @param {number} [window]
 */
async function publishConfirmed(ch, exchange, key, count, body, options = {}, window = 1000) {
  let outstanding = 0;
  /** @type {(() => void) | null} */
  let wake = null;
  /** @type {unknown} */
  let failed = null;
  for (let i = 0; i < count; i++) {
    while (outstanding >= window) await /** @type {Promise<void>} */ (new Promise((r) => (wake = r)));
    outstanding++;
    ch.publish(exchange, key, body, options, (/** @type {unknown} */ err) => {
      if (err) failed = err;
      outstanding--;
      if (wake) {
        const w = wake;
        wake = null;
        w();
      }
    });
  }
  await ch.waitForConfirms();
  if (failed) throw failed;
}

/**
 * Consumes from `queue` until `expected` messages came; resolves with that count.
 * @param {Channel} ch
 * @param {string} queue
 * @param {number} expected
 * @param {{ noAck?: boolean, onMessage?: (msg: ConsumeMessage) => void }} [options]
 * @returns {Promise<number>}
 */
function consumeCount(ch, queue, expected, { noAck, onMessage } = {}) {
  let got = 0;
  return new Promise((resolve) => {
    ch.consume(
      queue,
      (msg) => {
        if (!msg) return;
        onMessage?.(msg);
        if (!noAck) ch.ack(msg);
        if (++got === expected) resolve(got);
      },
      { noAck: Boolean(noAck) },
    );
  });
}

/**
 * @param {string} url
 * @param {{ count?: number }} [options]
 */
export async function transient(url, { count = 100_000 } = {}) {
  const pubConn = await amqp.connect(url);
  const subConn = await amqp.connect(url);
  try {
    const sub = await subConn.createChannel();
    const queue = uniqueName("transient");
    await sub.assertQueue(queue, { durable: false, autoDelete: false });
    const done = consumeCount(sub, queue, count, { noAck: true });
    const pub = await pubConn.createChannel();
    const body = Buffer.alloc(128, 1);
    const start = performance.now();
    await publishAll(pub, "", queue, count, body);
    await withTimeout(done, "transient");
    const seconds = (performance.now() - start) / 1000;
    await sub.deleteQueue(queue);
    return { msgsPerSec: count / seconds };
  } finally {
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}

/**
 * @param {string} url
 * @param {{ count?: number, size?: number, label?: string, prefetch?: number, batch?: number }} [options]
 */
export async function persistent(url, { count = 30_000, size = 128, label = "persistent", prefetch = 100, batch = 0 } = {}) {
  const pubConn = await amqp.connect(url);
  const subConn = await amqp.connect(url);
  try {
    const sub = await subConn.createChannel();
    await sub.prefetch(prefetch);
    const queue = uniqueName(label);
    await sub.assertQueue(queue, { durable: true });
    const done = consumeCount(sub, queue, count, { noAck: false });
    const pub = await pubConn.createConfirmChannel();
    const body = Buffer.alloc(size, 2);
    const start = performance.now();
    if (batch > 0) {
      // The steady state: `batch` publishes, then wait for all their confirms.
      for (let sent = 0; sent < count; sent += batch) {
        for (let i = 0; i < Math.min(batch, count - sent); i++) pub.publish("", queue, body, { persistent: true });
        await pub.waitForConfirms();
      }
    } else await publishConfirmed(pub, "", queue, count, body, { persistent: true }, size > 4096 ? 64 : 1000);
    // When the last confirm came: tells a slow publisher side from a slow consumer side.
    const confirmedSeconds = (performance.now() - start) / 1000;
    await withTimeout(done, label);
    const seconds = (performance.now() - start) / 1000;
    await sub.deleteQueue(queue);
    return { msgsPerSec: count / seconds, mbPerSec: (count * size) / seconds / 1e6, confirmedSeconds, seconds };
  } finally {
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}

/**
 * @param {string} url
 * @param {{ count?: number, queues?: number }} [options]
 */
export async function fanout(url, { count = 25_000, queues = 4 } = {}) {
  const pubConn = await amqp.connect(url);
  const subConn = await amqp.connect(url);
  try {
    const exchange = uniqueName("fanout");
    const sub = await subConn.createChannel();
    await sub.assertExchange(exchange, "fanout", { durable: false, autoDelete: false });
    const done = [];
    const names = [];
    for (let i = 0; i < queues; i++) {
      const { queue } = await sub.assertQueue("", { exclusive: true });
      await sub.bindQueue(queue, exchange, "");
      names.push(queue);
      done.push(consumeCount(sub, queue, count, { noAck: true }));
    }
    const pub = await pubConn.createChannel();
    const body = Buffer.alloc(128, 3);
    const start = performance.now();
    await publishAll(pub, exchange, "", count, body);
    await withTimeout(Promise.all(done), "fanout");
    const seconds = (performance.now() - start) / 1000;
    await sub.deleteExchange(exchange);
    return { deliveriesPerSec: (count * queues) / seconds };
  } finally {
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}

/**
 * @param {string} url
 * @param {{ count?: number }} [options]
 */
export async function latency(url, { count = 1000 } = {}) {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    /** @type {(() => void) | null} */
    let resolveOne = null;
    await ch.consume(queue, () => resolveOne?.(), { noAck: true });
    /** @type {number[]} */
    const samples = [];
    const body = Buffer.alloc(128, 4);
    const run = async () => {
      for (let i = 0; i < count; i++) {
        /** @type {Promise<void>} */
        const got = new Promise((r) => (resolveOne = r));
        const t0 = performance.now();
        ch.publish("", queue, body);
        await got;
        samples.push(performance.now() - t0);
      }
    };
    await withTimeout(run(), "latency");
    samples.sort((a, b) => a - b);
    const pct = (/** @type {number} */ p) => samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))];
    return { p50Ms: pct(50), p99Ms: pct(99) };
  } finally {
    await conn.close().catch(() => {});
  }
}

/**
 * @param {string} url
 * @param {{ count?: number }} [options]
 */
export async function manyQueues(url, { count = 1000 } = {}) {
  const conn = await amqp.connect(url);
  try {
    const ch = await conn.createChannel();
    const prefix = uniqueName("many");
    const names = Array.from({ length: count }, (_, i) => `${prefix}.${i}`);
    const body = Buffer.from("ping");
    const start = performance.now();
    const run = async () => {
      await Promise.all(names.map((q) => ch.assertQueue(q, { durable: false })));
      for (const q of names) ch.sendToQueue(q, body);
      for (const q of names) {
        /** @type {GetMessage | false} */
        let msg = false;
        while (!msg) msg = await ch.get(q, { noAck: true });
      }
    };
    await withTimeout(run(), "many queues");
    const seconds = (performance.now() - start) / 1000;
    await Promise.all(names.map((q) => ch.deleteQueue(q)));
    return { totalSeconds: seconds };
  } finally {
    await conn.close().catch(() => {});
  }
}

/**
 * Transient throughput over WebSocket with @cloudamqp/amqp-client (Warren only).
 * @param {string} wsUrl
 * @param {{ count?: number }} [options]
 */
export async function websocket(wsUrl, { count = 50_000 } = {}) {
  const { AMQPWebSocketClient } = await import("@cloudamqp/amqp-client");
  const pubClient = new AMQPWebSocketClient(wsUrl, "/", "guest", "guest");
  const subClient = new AMQPWebSocketClient(wsUrl, "/", "guest", "guest");
  const pubConn = await pubClient.connect();
  const subConn = await subClient.connect();
  try {
    const sub = await subConn.channel();
    const queue = uniqueName("ws");
    await sub.queueDeclare(queue, { durable: false });
    let got = 0;
    /** @type {Promise<void>} */
    const done = new Promise((resolve) => {
      sub.basicConsume(queue, { noAck: true }, () => {
        if (++got === count) resolve();
      });
    });
    const pub = await pubConn.channel();
    const body = new Uint8Array(128).fill(5);
    const start = performance.now();
    // Publish in slices so the client's write buffer stays bounded.
    for (let i = 0; i < count; i += 1000) {
      const n = Math.min(1000, count - i);
      const batch = [];
      for (let j = 0; j < n; j++) batch.push(pub.basicPublish("", queue, body));
      await Promise.all(batch);
    }
    await withTimeout(done, "websocket");
    const seconds = (performance.now() - start) / 1000;
    await sub.queueDelete(queue);
    return { msgsPerSec: count / seconds };
  } finally {
    await pubConn.close().catch(() => {});
    await subConn.close().catch(() => {});
  }
}
