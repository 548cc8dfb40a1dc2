import { randomUUID } from "node:crypto";
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from "amqplib";
import { afterEach } from "vitest";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `cond` holds; the error names what never happened. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Waits until each of the `published` messages is accounted for: ready in one of `queues`
 * (a passive declare on `ch`) or already delivered to us (`delivered()`). A message on its way
 * from a queue to a consumer is neither, so once the sum balances nothing is in flight: a
 * delivery that must not happen (past a prefetch window, to a cancelled consumer) has either
 * arrived already or was never sent. This replaces "sleep, then check nothing more came".
 */
export async function allAccountedFor(
  ch: Channel,
  queues: readonly string[],
  published: number,
  delivered: () => number,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const before = delivered();
    let ready = 0;
    for (const q of queues) ready += (await ch.checkQueue(q)).messageCount;
    const after = delivered();
    // A delivery arriving between the two reads may have been counted as ready too: ask again.
    if (before === after && ready + after >= published) return;
    if (Date.now() > deadline) {
      throw new Error(`only ${ready} ready + ${after} delivered of ${published} published: some message never arrived`);
    }
    await sleep(5);
  }
}

/** A queue name no other test (or earlier run in the same data dir) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

/** The AMQP reply code carried by an amqplib channel/connection error. */
export function replyCode(err: unknown): number | undefined {
  return typeof err === "object" && err !== null && "code" in err && typeof err.code === "number" ? err.code : undefined;
}

/**
 * Resolves with the reply code when the server closes `ch`. Listening also keeps amqplib
 * from rethrowing the 'error' event as an uncaught exception.
 */
export function serverClose(ch: Channel | ConfirmChannel, timeoutMs = 5000): Promise<number | undefined> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not close the channel")), timeoutMs);
    ch.once("error", (err: unknown) => {
      clearTimeout(timer);
      resolve(replyCode(err));
    });
  });
}

/** Runs `op` on a fresh channel expecting the server to close it; returns the reply code. */
export async function channelErrorCode(conn: ChannelModel, op: (ch: Channel) => Promise<unknown>): Promise<number | undefined> {
  const ch = await conn.createChannel();
  const closed = serverClose(ch);
  const outcome = await op(ch).then(
    () => "resolved",
    (err: unknown) => replyCode(err),
  );
  const code = await closed;
  if (outcome === "resolved") throw new Error(`operation succeeded; channel closed with ${code}`);
  return code;
}

/** Whether the queue exists, asked on a throwaway channel (a 404 closes the channel). */
export async function queueExists(conn: ChannelModel, queue: string): Promise<boolean> {
  const ch = await conn.createChannel();
  const closed = serverClose(ch);
  try {
    await ch.checkQueue(queue);
    await ch.close();
    return true;
  } catch (err) {
    if (replyCode(err) !== 404) throw err;
    await closed;
    return false;
  }
}

/** Polls queueExists until it reports `exists` (deletions triggered by a close are asynchronous). */
export async function waitQueueExists(conn: ChannelModel, queue: string, exists: boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await queueExists(conn, queue)) !== exists) {
    if (Date.now() > deadline) throw new Error(`queue '${queue}' ${exists ? "never appeared" : "still exists"}`);
    await sleep(20);
  }
}

/** A connect() for the calling test file; every connection it made is closed after each test. */
export function amqpConnections(url: () => string, socketOptions: { noDelay?: boolean } = {}): () => Promise<ChannelModel> {
  const open: ChannelModel[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  return async () => {
    const conn = await amqp.connect(url(), socketOptions);
    conn.on("error", () => undefined);
    open.push(conn);
    return conn;
  };
}
