import type { FieldTable } from "../amqp";
import { MAX_EXPIRY_MS } from "../queue/arguments";
import { encodePublishBatch } from "../queue/wire";
import { release } from "../amqp/buffer";
import type { IncomingMessage } from "../storage/message-record";
import type { Broker } from "./broker";
import { type DirectReply, isReplyKey, parseReplyAddress } from "./direct-reply";
import { atom, byteString, type ErlTerm, int, pretty, str, text, tuple } from "./erlang-terms";
import { preconditionFailed } from "./errors";
import { describeExchange } from "./names";
import { delayedOf, type RouteTable } from "./route-table";

/** Destination queues called at once before the publisher yields (see store). */
const RPC_WAVE = 32;

/** Body bytes per publish RPC: Workers RPC refuses payloads over 32 MiB. */
const PUBLISH_RPC_BYTES = 8 << 20;

/** A message and the queues routing found for it. */
export interface RoutedPublish {
  queues: readonly string[];
  message: IncomingMessage;
}

/**
 * Per message of a stored batch: how many queues took it, whether storing it failed anywhere,
 * and whether a full queue refused it (x-overflow reject-publish: nacked under confirms).
 */
export interface StoreOutcome {
  routed: Uint32Array;
  failed: Uint8Array;
  rejected: Uint8Array;
}

/**
 * What every front door checks before it routes a message (406 as RabbitMQ). max_message_size
 * (core/limits.ts, 16 MiB by default) also keeps every message, with a batch of smaller ones,
 * inside the 32 MiB a Durable Object RPC can carry.
 */
export function checkPublishable(
  bodySize: number,
  userId: string | undefined,
  user: string,
  maxMessageSize: number,
  /** The user has the impersonator tag: RabbitMQ lets them set any user_id. */
  impersonator = false,
  /** The expiration property, checked as RabbitMQ does (expirationProblem). */
  expiration?: string,
): void {
  if (bodySize > maxMessageSize) {
    throw preconditionFailed(`message size ${bodySize} is larger than configured max size ${maxMessageSize}`);
  }
  const badExpiration = expiration === undefined ? null : expirationProblem(expiration);
  if (badExpiration) throw preconditionFailed(badExpiration);
  if (userId !== undefined && userId !== user && !impersonator) {
    throw preconditionFailed(`user_id property set to '${userId}' but authenticated user was '${user}'`);
  }
}

/** The expiration property's value in ms, or why RabbitMQ refuses it (rabbit_basic:parse_expiration). */
export function parseExpiration(expiration: string): { ms: number } | { reason: ErlTerm } {
  // Erlang's string:to_integer: a sign, digits, and nothing after them.
  const m = /^([+-]?[0-9]+)(.*)$/s.exec(expiration);
  if (!m) return { reason: atom("no_integer") };
  if (m[2]) return { reason: tuple(atom("leftover_string"), str(m[2])) };
  const n = BigInt(m[1]!);
  if (n < 0n) return { reason: tuple(atom("value_negative"), int(n)) };
  if (n > MAX_EXPIRY_MS) return { reason: tuple(atom("value_too_large"), int(n)) };
  return { ms: Number(n) };
}

/**
 * RabbitMQ's 406 text for an expiration property that is not a number of milliseconds (a
 * string of digits, at most 10 years), or null. RabbitMQ closes the channel with it at publish:
 * "invalid expiration 'abc': no_integer".
 */
export function expirationProblem(expiration: string): string | null {
  const parsed = parseExpiration(expiration);
  if ("ms" in parsed) return null;
  const prefix = `invalid expiration '${expiration}': `;
  // RabbitMQ prints the reason with ~p, laid out for an 80-column line after the text before it.
  return prefix + text(pretty(parsed.reason, byteString(prefix).length + 1, 80));
}

/**
 * Routing and storing of published messages for one vhost, shared by AMQP channels, the
 * management API and queues that dead-letter. A batch costs one RPC per destination queue
 * (split only where a queue's share exceeds what one RPC may carry), never one per message.
 */
export class Publisher {
  constructor(
    private readonly broker: Broker,
    private readonly vhost: () => string,
    readonly routes: RouteTable,
  ) {}

  /** The queues a message reaches; synchronous when the exchanges on the way are cached. */
  route(exchange: string, routingKey: string, headers: FieldTable | undefined): string[] | Promise<string[]> {
    // A direct reply-to address reaches no queue: store() hands it to the requester's connection.
    if (isReplyKey(exchange, routingKey)) return [];
    return this.routes.route(exchange, routingKey, headers);
  }

  /** Stores routed messages, in order per queue. A failed queue is logged and reported, never thrown. */
  async store(batch: readonly RoutedPublish[]): Promise<StoreOutcome> {
    const groups = new Map<string, { messages: IncomingMessage[]; owners: number[] }>();
    batch.forEach((p, i) => {
      for (const q of p.queues) {
        let g = groups.get(q);
        if (!g) groups.set(q, (g = { messages: [], owners: [] }));
        g.messages.push(p.message);
        g.owners.push(i);
      }
    });
    const routed = new Uint32Array(batch.length);
    const failed = new Uint8Array(batch.length);
    const rejected = new Uint8Array(batch.length);
    const vhost = this.vhost();
    const holding = this.hold(vhost, batch, failed);
    const replying = this.reply(batch, routed);
    const all = [...groups];
    for (let start = 0; start < all.length; start += RPC_WAVE) {
      // workerd reads no socket while this object has calls to make: a batch fanning out to
      // thousands of queues goes in waves, so other connections are served in between.
      if (start > 0) await new Promise((resolve) => setTimeout(resolve, 0));
      await this.storeGroups(vhost, all.slice(start, start + RPC_WAVE), { routed, failed, rejected });
    }
    await holding;
    await replying;
    return { routed, failed, rejected };
  }

  private async storeGroups(
    vhost: string,
    groups: [string, { messages: IncomingMessage[]; owners: number[] }][],
    { routed, failed, rejected }: StoreOutcome,
  ): Promise<void> {
    await Promise.all(
      groups.map(async ([queue, g]) => {
        const stub = this.broker.queue(vhost, queue);
        // Parts go one after another so the queue stores them in publish order.
        for (const [start, end] of rpcSlices(g.messages)) {
          const whole = start === 0 && end === g.messages.length;
          const owners = whole ? g.owners : g.owners.slice(start, end);
          const batch = encodePublishBatch(whole ? g.messages : g.messages.slice(start, end));
          try {
            const answer = await stub.publish(batch);
            if (answer === false) continue;
            for (const i of owners) routed[i]!++;
            if (answer !== true) for (const k of answer.rejected) rejected[owners[k]!] = 1;
          } catch (err) {
            this.broker.log(`publish to queue '${queue}' failed: ${String(err)}`);
            for (const i of owners) failed[i] = 1;
          } finally {
            // The port took a copy (an RPC argument): large bodies are not left for the next full GC.
            release(batch);
          }
        }
      }),
    );
  }

  /**
   * Messages that delayed-message exchanges hold (core/route-table.ts, Routes.delayed): one RPC
   * per exchange, answered once they are stored there. They are not routed yet (as with the
   * plugin, whose routing finds no queue for them: a mandatory one comes back), but a failure
   * is one (a confirm channel nacks).
   */
  private async hold(vhost: string, batch: readonly RoutedPublish[], failed: Uint8Array): Promise<void> {
    const groups = new Map<string, { messages: IncomingMessage[]; owners: number[] }>();
    batch.forEach((p, i) => {
      const held = delayedOf(p.queues);
      if (held === undefined) return;
      for (const x of held) {
        let g = groups.get(x);
        if (!g) groups.set(x, (g = { messages: [], owners: [] }));
        g.messages.push(p.message);
        g.owners.push(i);
      }
    });
    await Promise.all(
      [...groups].map(async ([exchange, g]) => {
        const stub = this.broker.exchange(vhost, exchange);
        for (const [start, end] of rpcSlices(g.messages)) {
          try {
            await stub.hold(vhost, exchange, encodePublishBatch(g.messages.slice(start, end)));
          } catch (err) {
            this.broker.log(`holding messages in delayed ${describeExchange(vhost, exchange)} failed: ${String(err)}`);
            for (const i of g.owners.slice(start, end)) failed[i] = 1;
          }
        }
      }),
    );
  }

  /**
   * Replies to direct reply-to addresses (core/direct-reply.ts): one ConnectionPort.replyTo RPC
   * per requesting connection, in publish order. A reply the requester took counts as routed;
   * one to a gone requester or a forged address is not (a mandatory one comes back, as RabbitMQ).
   */
  private async reply(batch: readonly RoutedPublish[], routed: Uint32Array): Promise<void> {
    const groups = new Map<string, { replies: DirectReply[]; owners: number[] }>();
    batch.forEach((p, i) => {
      if (!isReplyKey(p.message.exchange, p.message.routingKey)) return;
      const address = parseReplyAddress(p.message.routingKey);
      if (!address) return;
      let g = groups.get(address.connection);
      if (!g) groups.set(address.connection, (g = { replies: [], owners: [] }));
      g.replies.push({ channel: address.channel, secret: address.secret, message: p.message });
      g.owners.push(i);
    });
    await Promise.all(
      [...groups].map(async ([connection, g]) => {
        try {
          const taken = await this.broker.connection(connection).replyTo(g.replies);
          taken.forEach((ok, k) => {
            if (ok) routed[g.owners[k]!]!++;
          });
        } catch (err) {
          // A gone or never-existing requester: the reply is dropped, as RabbitMQ drops it.
          this.broker.log(`direct reply to connection ${connection} not delivered: ${String(err)}`);
        }
      }),
    );
  }

  /** Routes and stores in one call (the management API's publish, dead-lettering). */
  async publish(messages: readonly { message: IncomingMessage; headers?: FieldTable | undefined }[]): Promise<StoreOutcome> {
    const batch: RoutedPublish[] = [];
    for (const { message, headers } of messages) {
      batch.push({ message, queues: await this.route(message.exchange, message.routingKey, headers) });
    }
    return this.store(batch);
  }
}

/** Splits a queue's share of a batch into [start, end) runs that each fit one RPC. */
function rpcSlices(messages: readonly IncomingMessage[]): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  let bytes = 0;
  messages.forEach((m, i) => {
    const size = m.header.length + m.body.length;
    if (i > start && bytes + size > PUBLISH_RPC_BYTES) {
      out.push([start, i]);
      start = i;
      bytes = 0;
    }
    bytes += size;
  });
  if (start < messages.length) out.push([start, messages.length]);
  return out;
}
