import { Reader, utf8Bound, Writer } from "../amqp/buffer";
import { readRecord, recordSize, writeRecord, type IncomingMessage } from "../storage/message-record";
import type { Delivery } from "./types";

// Batches cross Durable Object RPC as one byte array each. Structured-cloning thousands of small
// objects with strings and byte arrays cost more CPU (and GC) than the rest of the hot path;
// one buffer clones as a memcpy. Decoded messages are views into the received buffer.

const NO_ACK = 1;
const REDELIVERED = 2;

/** Packs a publish batch: a count, then one record per message. */
export function encodePublishBatch(messages: readonly IncomingMessage[]): Uint8Array {
  let size = 4;
  for (const m of messages) size += recordSize(m);
  const w = new Writer(size);
  w.u32(messages.length);
  for (const m of messages) writeRecord(w, m);
  return exact(w.finish());
}

export function decodePublishBatch(bytes: Uint8Array): IncomingMessage[] {
  const r = new Reader(bytes);
  const count = r.u32();
  const out: IncomingMessage[] = new Array(count);
  for (let i = 0; i < count; i++) out[i] = readRecord(r);
  return out;
}

/**
 * Packs deliveries from one queue to one connection: the queue name and the consumer tags are
 * written once, then per delivery its seq, channel, flags, tag index and the message's record.
 */
export function encodeDeliveries(queue: string, deliveries: readonly Delivery[]): Uint8Array {
  const tags = new Map<string, number>();
  let size = 1 + utf8Bound(queue) + 2 + 4;
  for (const d of deliveries) {
    if (!tags.has(d.consumerTag)) {
      tags.set(d.consumerTag, tags.size);
      size += 1 + utf8Bound(d.consumerTag);
    }
    size += 8 + 2 + 1 + 2 + 4 + d.record.length;
  }
  const w = new Writer(size);
  w.shortstr(queue);
  w.u16(tags.size);
  for (const tag of tags.keys()) w.shortstr(tag);
  w.u32(deliveries.length);
  for (const d of deliveries) {
    w.f64(d.seq);
    w.u16(d.channel);
    w.u8((d.noAck ? NO_ACK : 0) | (d.redelivered ? REDELIVERED : 0));
    w.u16(tags.get(d.consumerTag)!);
    w.u32(d.record.length).bytes(d.record);
  }
  return exact(w.finish());
}

export function decodeDeliveries(bytes: Uint8Array): Delivery[] {
  const r = new Reader(bytes);
  const queue = r.shortstr();
  const tags: string[] = new Array(r.u16());
  for (let i = 0; i < tags.length; i++) tags[i] = r.shortstr();
  const count = r.u32();
  const out: Delivery[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const seq = r.f64();
    const channel = r.u16();
    const flags = r.u8();
    const consumerTag = tags[r.u16()];
    if (consumerTag === undefined) throw new Error("delivery batch: consumer tag index out of range");
    const record = r.bytes(r.u32());
    out[i] = { queue, seq, channel, consumerTag, noAck: (flags & NO_ACK) !== 0, redelivered: (flags & REDELIVERED) !== 0, record };
  }
  return out;
}

// A view with spare capacity behind it would clone the spare bytes too.
function exact(view: Uint8Array): Uint8Array {
  return view.byteOffset === 0 && view.byteLength === view.buffer.byteLength ? view : view.slice();
}
