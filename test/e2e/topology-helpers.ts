import amqp, { type Channel, type ChannelModel } from "amqplib";
import { RawClient } from "./raw-client";

/** Names unique per call, so tests sharing one Warren never see each other's entities. */
export function uid(prefix = "t"): string {
  return `${prefix}-${Math.random().toString(36).slice(2, 10)}`;
}

/** An amqplib connection whose 'error' events are swallowed (tests look at close codes instead). */
export async function connect(url: string): Promise<ChannelModel> {
  const conn = await amqp.connect(url);
  conn.on("error", () => undefined);
  return conn;
}

export async function openChannel(conn: ChannelModel): Promise<Channel> {
  const ch = await conn.createChannel();
  ch.on("error", () => undefined);
  return ch;
}

/** Bodies of everything in the queue, in order, taken with basic.get (no-ack). */
export async function drain(ch: Channel, queue: string): Promise<string[]> {
  const out: string[] = [];
  for (;;) {
    const m = await ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m.content.toString());
  }
}

/**
 * A round trip on the channel: the connection handles commands in order and stores a
 * batch's publishes before answering the next synchronous method, so after this resolves
 * everything published before it has reached its queues.
 */
export async function sync(ch: Channel): Promise<void> {
  await ch.checkExchange("amq.direct");
}

/**
 * Runs `action` on a fresh channel and resolves with the server's channel.close reply code,
 * or -1 if the channel is still open after `timeoutMs`.
 */
export async function channelCloseCode(conn: ChannelModel, action: (ch: Channel) => unknown, timeoutMs = 5000): Promise<number> {
  const ch = await conn.createChannel();
  const closed = new Promise<number>((resolve) => {
    let code = 0;
    const timer = setTimeout(() => resolve(-1), timeoutMs);
    ch.on("error", (err: { code?: number }) => (code = err.code ?? 0));
    ch.on("close", () => {
      clearTimeout(timer);
      resolve(code);
    });
  });
  try {
    await action(ch);
  } catch {
    // The RPC fails with the close; the code arrives on the 'error' event.
  }
  return closed;
}

/**
 * Resolves with the connection.close reply code the server sends (amqplib answers close-ok),
 * or -1 if the connection is still open after `timeoutMs`.
 */
export function connectionCloseCode(conn: ChannelModel, timeoutMs = 5000): Promise<number> {
  return new Promise((resolve) => {
    let code = 0;
    const timer = setTimeout(() => resolve(-1), timeoutMs);
    conn.on("error", (err: { code?: number }) => (code = err.code ?? 0));
    conn.on("close", () => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

export interface CloseReply {
  method: string;
  replyCode: number;
  classId: number;
  methodId: number;
}

/** The args of a channel.close or connection.close received by the raw client. */
export function closeReply(c: { method: { name: string; args: unknown } }): CloseReply {
  const a = c.method.args as { replyCode: number; classId: number; methodId: number };
  return { method: c.method.name, replyCode: a.replyCode, classId: a.classId, methodId: a.methodId };
}

/** A raw client with channel 1 open. */
export async function rawWithChannel(port: number): Promise<RawClient> {
  const raw = await RawClient.open(port);
  raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
  await raw.expect("channel.open-ok");
  return raw;
}
