import { peekPriorityAndExpiration } from "../amqp";
import type { QueueStore } from "./priority-store";
import type { QueueSettings } from "./settings";
import type { QueuedMessage } from "./types";

/**
 * When a message expires (epoch ms): x-message-ttl and its expiration property, the lower
 * (RabbitMQ); undefined: never. `hasExpiration` tells whether the message carried one.
 */
export function expiryOf(
  settings: QueueSettings,
  header: Uint8Array,
  publishedAt: number,
): { expiresAt: number | undefined; hasExpiration: boolean } {
  let ttl = settings.messageTtl;
  let hasExpiration = false;
  // Property flags: bit 8 of the first word is "expiration" (amqp/properties.ts).
  if ((header[12] ?? 0) & 0x01) {
    const expiration = peekPriorityAndExpiration(header).expiration;
    const n = expiration === undefined ? Number.NaN : Number(expiration);
    if (Number.isInteger(n) && n >= 0) {
      hasExpiration = true;
      ttl = ttl === undefined ? n : Math.min(ttl, n);
    }
  }
  return { expiresAt: ttl === undefined ? undefined : publishedAt + ttl, hasExpiration };
}

/** The indexes of messages a full queue refuses (x-overflow reject-publish and reject-publish-dlx). */
export function refusedByLimit(settings: QueueSettings, store: QueueStore, messages: readonly { body: Uint8Array }[]): number[] {
  const { maxLength, maxLengthBytes, overflow } = settings;
  if (overflow === "drop-head" || (maxLength === undefined && maxLengthBytes === undefined)) return [];
  let count = store.readyCount;
  let bytes = store.readyBodyBytes;
  const refused: number[] = [];
  messages.forEach((m, i) => {
    if ((maxLength !== undefined && count + 1 > maxLength) || (maxLengthBytes !== undefined && bytes + m.body.length > maxLengthBytes)) {
      refused.push(i);
      return;
    }
    count++;
    bytes += m.body.length;
  });
  return refused;
}

/** x-overflow drop-head: takes the oldest ready messages while the queue is over its limits. */
export function takeOverLimit(settings: QueueSettings, store: QueueStore): QueuedMessage[] {
  const { maxLength, maxLengthBytes, overflow } = settings;
  if (overflow !== "drop-head" || (maxLength === undefined && maxLengthBytes === undefined)) return [];
  const dropped: QueuedMessage[] = [];
  while (
    (maxLength !== undefined && store.readyCount > maxLength) ||
    (maxLengthBytes !== undefined && store.readyBodyBytes > maxLengthBytes)
  ) {
    const m = store.shift();
    if (!m) break;
    dropped.push(m);
  }
  return dropped;
}
