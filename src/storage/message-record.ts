import { Reader, utf8Bound, Writer } from "../amqp/buffer";

/** A published message as it travels from a publisher to a queue and is stored there. */
export interface IncomingMessage {
  exchange: string;
  routingKey: string;
  /** The publisher's content-header payload, forwarded untouched. */
  header: Uint8Array;
  body: Uint8Array;
  /** delivery-mode 2: must be on disk before a durable queue confirms it. */
  persistent: boolean;
  /** All of the above as one byte string (see below), when the message came in a batch. */
  record?: Uint8Array;
}

const PERSISTENT = 1;

// A message record: flags, exchange, routing key, content header, body. A publish batch is a
// count followed by records, and a queue stores each record as it arrived, as one SQLite value.

/**
 * The record's size: exact for ASCII names, so a batch of records fills its buffer exactly and
 * needs no trimming copy (queue/wire.ts).
 */
export function recordSize(m: IncomingMessage): number {
  return 1 + 2 + utf8Bound(m.exchange) + utf8Bound(m.routingKey) + 8 + m.header.length + m.body.length;
}

export function writeRecord(w: Writer, m: IncomingMessage): void {
  w.u8(m.persistent ? PERSISTENT : 0);
  w.shortstr(m.exchange);
  w.shortstr(m.routingKey);
  w.u32(m.header.length).bytes(m.header);
  w.u32(m.body.length).bytes(m.body);
}

/** Reads one record; the message's header, body and record are views into `r`'s buffer. */
export function readRecord(r: Reader): IncomingMessage {
  const start = r.offset;
  const flags = r.u8();
  const exchange = r.shortstr();
  const routingKey = r.shortstr();
  const header = r.bytes(r.u32());
  const body = r.bytes(r.u32());
  const record = r.buf.subarray(start, r.offset);
  return { exchange, routingKey, header, body, persistent: (flags & PERSISTENT) !== 0, record };
}

/** The record of a message that did not arrive in a publish batch. */
export function encodeRecord(m: IncomingMessage): Uint8Array {
  const w = new Writer(recordSize(m));
  writeRecord(w, m);
  return w.finish();
}

export function decodeRecord(bytes: Uint8Array): IncomingMessage {
  const r = new Reader(bytes);
  const m = readRecord(r);
  if (!r.atEnd()) throw new Error(`message record has ${r.remaining} trailing bytes`);
  return m;
}

/** The message's record, encoded once if it did not arrive in a publish batch. */
export function recordOf(m: IncomingMessage): Uint8Array {
  return (m.record ??= encodeRecord(m));
}

/**
 * Where a record's parts sit, without decoding its strings: `route` is the exchange and the
 * routing key as two AMQP short strings, exactly as basic.deliver carries them.
 */
export function splitRecord(record: Uint8Array): { route: Uint8Array; header: Uint8Array; body: Uint8Array } {
  const r = new Reader(record, 1);
  r.offset += 1 + r.u8();
  r.offset += 1 + r.u8();
  const route = record.subarray(1, r.offset);
  const header = r.bytes(r.u32());
  const body = r.bytes(r.u32());
  return { route, header, body };
}
