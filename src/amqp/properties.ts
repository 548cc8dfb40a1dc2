// Content header payload: class-id, weight, body-size, property flags and
// the basic-class properties present.
import { ReplyCode } from "./constants";
import { Reader, Writer } from "./buffer";
import { connectionError } from "./errors";
import { decodeFieldTable, writeFieldTable, type FieldTable } from "./field-table";

export interface BasicProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  timestamp?: bigint;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

type PropType = "shortstr" | "table" | "octet" | "timestamp";

/** In wire order; the i-th property's presence flag is bit 15 - i. */
export const BASIC_PROPERTIES = [
  ["contentType", "shortstr"],
  ["contentEncoding", "shortstr"],
  ["headers", "table"],
  ["deliveryMode", "octet"],
  ["priority", "octet"],
  ["correlationId", "shortstr"],
  ["replyTo", "shortstr"],
  ["expiration", "shortstr"],
  ["messageId", "shortstr"],
  ["timestamp", "timestamp"],
  ["type", "shortstr"],
  ["userId", "shortstr"],
  ["appId", "shortstr"],
  ["clusterId", "shortstr"],
] as const satisfies readonly (readonly [keyof BasicProperties, PropType])[];

/** class-id (2) + weight (2) + body-size (8) + first flags word (2). */
export const CONTENT_HEADER_MIN_SIZE = 14;

/** Writes the property flags and the properties present. */
export function writeProperties(w: Writer, props: BasicProperties): void {
  const values = props as Readonly<Record<string, unknown>>;
  let flags = 0;
  BASIC_PROPERTIES.forEach(([name], i) => {
    if (values[name] !== undefined) flags |= 1 << (15 - i);
  });
  w.u16(flags);
  for (const [name, type] of BASIC_PROPERTIES) {
    const v = values[name];
    if (v === undefined) continue;
    switch (type) {
      case "shortstr":
        w.shortstr(v as string);
        break;
      case "octet":
        w.u8(v as number);
        break;
      case "timestamp":
        w.u64(v as bigint);
        break;
      case "table":
        writeFieldTable(w, v as FieldTable);
        break;
    }
  }
}

/** A content header payload. bodySize must be the exact total body length. */
export function encodeContentHeader(classId: number, bodySize: number, props: BasicProperties): Uint8Array {
  const w = new Writer(64);
  w.u16(classId).u16(0).u64n(bodySize);
  writeProperties(w, props);
  return w.finish();
}

/**
 * Reads property flags and values up to the end of the reader's input.
 * Flag words with the continuation bit (bit 0) set are followed by more flag
 * words; the basic class defines no properties there, so any bit set in them
 * is a SYNTAX_ERROR rather than being silently misparsed. Bit 1 of the first
 * word is unused and ignored (as RabbitMQ does).
 */
export function decodeProperties(src: Reader | Uint8Array): BasicProperties {
  const r = src instanceof Reader ? src : new Reader(src);
  const flags = r.u16();
  let more = flags & 1;
  while (more) {
    const extra = r.u16();
    if (extra & 0xfffe) throw connectionError(ReplyCode.SYNTAX_ERROR, "unknown content properties in continuation flags");
    more = extra & 1;
  }
  const props: Record<string, unknown> = {};
  for (let i = 0; i < BASIC_PROPERTIES.length; i++) {
    if (!(flags & (1 << (15 - i)))) continue;
    const [name, type] = BASIC_PROPERTIES[i]!;
    switch (type) {
      case "shortstr":
        props[name] = r.shortstr();
        break;
      case "octet":
        props[name] = r.u8();
        break;
      case "timestamp":
        props[name] = r.u64();
        break;
      case "table":
        props[name] = decodeFieldTable(r);
        break;
    }
  }
  if (!r.atEnd()) throw connectionError(ReplyCode.SYNTAX_ERROR, `${r.remaining} trailing bytes after content properties`);
  return props as BasicProperties;
}

export interface ContentHeader {
  classId: number;
  weight: number;
  bodySize: number;
  properties: BasicProperties;
}

/**
 * Decodes a content header payload. Shorter than 14 bytes or a body size
 * above Number.MAX_SAFE_INTEGER: FRAME_ERROR (as RabbitMQ, which cannot
 * classify such a frame / refuses oversized bodies with frame_error);
 * malformed properties: SYNTAX_ERROR.
 */
export function decodeContentHeader(payload: Uint8Array): ContentHeader {
  const { classId, weight, bodySize } = peekContentHeader(payload);
  const properties = decodeProperties(new Reader(payload, 12));
  return { classId, weight, bodySize, properties };
}

/** The fixed part of a content header, without decoding properties. */
export function peekContentHeader(payload: Uint8Array): { classId: number; weight: number; bodySize: number } {
  if (payload.length < CONTENT_HEADER_MIN_SIZE) {
    throw connectionError(ReplyCode.FRAME_ERROR, `content header too short (${payload.length} bytes)`);
  }
  const p = payload;
  const classId = (p[0]! << 8) | p[1]!;
  const weight = (p[2]! << 8) | p[3]!;
  const hi = ((p[4]! << 24) | (p[5]! << 16) | (p[6]! << 8) | p[7]!) >>> 0;
  if (hi > 0x1fffff) throw connectionError(ReplyCode.FRAME_ERROR, "content body size exceeds 2^53");
  const bodySize = hi * 2 ** 32 + (((p[8]! << 24) | (p[9]! << 16) | (p[10]! << 8) | p[11]!) >>> 0);
  return { classId, weight, bodySize };
}

/**
 * The priority and expiration properties of a content header payload, read without decoding
 * the rest (a queue needs them for every message it takes in: priority lanes and TTL). The
 * header was validated when the message was published.
 */
export function peekPriorityAndExpiration(payload: Uint8Array): { priority?: number; expiration?: string } {
  const r = new Reader(payload, 12);
  const flags = r.u16();
  let more = flags & 1;
  while (more) more = r.u16() & 1;
  const out: { priority?: number; expiration?: string } = {};
  // Up to expiration (the 8th property), skipping what lies before it.
  for (let i = 0; i < 8; i++) {
    if (!(flags & (1 << (15 - i)))) continue;
    const type = BASIC_PROPERTIES[i]![1];
    if (type === "shortstr") {
      if (i === 7) out.expiration = r.shortstr();
      else r.offset += 1 + r.u8();
    } else if (type === "table") r.offset += 4 + r.u32();
    else if (type === "octet") {
      const v = r.u8();
      if (i === 4) out.priority = v;
    }
  }
  return out;
}
