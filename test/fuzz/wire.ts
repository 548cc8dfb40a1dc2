// Byte builders for fuzz streams: frames, methods, content, the valid session prefix, and an
// independent model of AMQP framing used to tell whether a mutated stream ends on a frame boundary.
import {
  type AnyMethod,
  type BasicProperties,
  encodeContentHeader,
  encodeFrame,
  encodeMethod,
  FRAME_END,
  FrameType,
  PROTOCOL_HEADER,
  table,
} from "../../src/amqp";

/** The frame_max Warren proposes in connection.tune (DEFAULT_LIMITS.frameMax). */
export const SERVER_FRAME_MAX = 131072;
/** Largest frame Warren reads before tune-ok takes effect (the spec's minimum frame_max). */
export const PRE_TUNE_FRAME_MAX = 4096;
/** Warren's channel_max (DEFAULT_LIMITS.channelMax), used when tune-ok says 0. */
export const SERVER_CHANNEL_MAX = 2047;

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function frame(type: number, channel: number, payload: Uint8Array): Uint8Array {
  return encodeFrame(type, channel, payload);
}

/** A frame header (type, channel, size) with whatever payload and end octet the caller wants. */
export function rawFrame(type: number, channel: number, size: number, payload: Uint8Array, end: number | null = FRAME_END): Uint8Array {
  const head = new Uint8Array(7);
  const v = new DataView(head.buffer);
  v.setUint8(0, type);
  v.setUint16(1, channel);
  v.setUint32(3, size >>> 0);
  return concat([head, payload, end === null ? new Uint8Array(0) : new Uint8Array([end])]);
}

export function methodFrame(channel: number, m: AnyMethod): Uint8Array {
  return frame(FrameType.Method, channel, encodeMethod(m));
}

export function headerFrame(channel: number, bodySize: number, props: BasicProperties = {}, classId = 60): Uint8Array {
  return frame(FrameType.Header, channel, encodeContentHeader(classId, bodySize, props));
}

export function bodyFrames(channel: number, body: Uint8Array, maxPayload = 4000): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0; at < body.length; at += maxPayload) out.push(frame(FrameType.Body, channel, body.subarray(at, at + maxPayload)));
  return out;
}

/** A content method with its header and body frames. */
export function contentFrames(channel: number, m: AnyMethod, body: Uint8Array, props: BasicProperties = {}): Uint8Array {
  return concat([methodFrame(channel, m), headerFrame(channel, body.length, props), ...bodyFrames(channel, body)]);
}

export function publish(routingKey: string, exchange = "", mandatory = false): AnyMethod {
  return { name: "basic.publish", args: { ticket: 0, exchange, routingKey, mandatory, immediate: false } };
}

export const CHANNEL_OPEN: AnyMethod = { name: "channel.open", args: { outOfBand: "" } };

/** How far the valid prefix goes before the damage. */
export type Stage = "none" | "header" | "start-ok" | "tune-ok" | "open" | "channel";
export const STAGES: readonly Stage[] = ["none", "header", "start-ok", "tune-ok", "open", "channel"];

export interface Session {
  /** channel_max sent in tune-ok (0: the server's). */
  channelMax: number;
  /** frame_max sent in tune-ok (4096 up to the server's). */
  frameMax: number;
  /** The channel the prefix opens. */
  channel: number;
}

/** The valid prefix's parts, one per stage after "none". */
export function prefixParts(s: Session): { stage: Stage; bytes: Uint8Array }[] {
  return [
    { stage: "header", bytes: PROTOCOL_HEADER },
    {
      stage: "start-ok",
      bytes: methodFrame(0, {
        name: "connection.start-ok",
        args: {
          clientProperties: table({ product: "warren-fuzz", capabilities: { consumer_cancel_notify: true } }),
          mechanism: "PLAIN",
          response: "\0guest\0guest",
          locale: "en_US",
        },
      }),
    },
    {
      stage: "tune-ok",
      bytes: methodFrame(0, { name: "connection.tune-ok", args: { channelMax: s.channelMax, frameMax: s.frameMax, heartbeat: 0 } }),
    },
    { stage: "open", bytes: methodFrame(0, { name: "connection.open", args: { virtualHost: "/", capabilities: "", insist: false } }) },
    { stage: "channel", bytes: methodFrame(s.channel, CHANNEL_OPEN) },
  ];
}

/** The server's answer to each prefix stage, to wait for when the client is not pipelining. */
export const STAGE_ANSWER: Record<Stage, string | null> = {
  none: null,
  header: "connection.start",
  "start-ok": "connection.tune",
  "tune-ok": null,
  open: "connection.open-ok",
  channel: "channel.open-ok",
};

// ------------------------------------------------------------------ framing model

export interface FramingVerdict {
  /**
   * complete: every byte belongs to a complete, well-formed frame. incomplete: well-formed so far,
   * the last frame is not complete (a reader must wait). error: a frame is malformed (type, size,
   * heartbeat shape, end octet), which is 501.
   */
  status: "complete" | "incomplete" | "error";
  frames: ModelFrame[];
  /** Where the malformed frame starts, and why (status "error"). */
  errorAt?: number;
  why?: string;
  /** The largest payload size any frame header announced. */
  largest: number;
}

export interface ModelFrame {
  type: number;
  channel: number;
  start: number;
  payload: Uint8Array;
}

/**
 * AMQP 0-9-1 framing (spec 4.2.3, 4.2.7), written apart from src/amqp so the oracle does not
 * check the codec against itself: 7 header octets, the payload, 0xCE. A header is judged as soon
 * as its 7 octets are in (type, size over `maxPayload`, heartbeat with payload or channel), the
 * end octet once the payload is in. `from` is where frames start (after the protocol header).
 */
export function scanFrames(bytes: Uint8Array, from: number, maxPayload: number): FramingVerdict {
  const frames: ModelFrame[] = [];
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let largest = 0;
  let at = from;
  const error = (why: string): FramingVerdict => ({ status: "error", frames, errorAt: at, why, largest });
  while (at < bytes.length) {
    if (bytes.length - at < 7) return { status: "incomplete", frames, largest };
    const type = v.getUint8(at);
    const channel = v.getUint16(at + 1);
    const size = v.getUint32(at + 3);
    largest = Math.max(largest, size);
    if (type !== 1 && type !== 2 && type !== 3 && type !== 8) return error(`frame type ${type}`);
    if (size > maxPayload) return error(`frame size ${size}`);
    if (type === 8 && (size !== 0 || channel !== 0)) return error("heartbeat with payload or channel");
    if (bytes.length - at < 7 + size + 1) return { status: "incomplete", frames, largest };
    if (bytes[at + 7 + size] !== 0xce) return error(`end octet ${bytes[at + 7 + size]}`);
    frames.push({ type, channel, start: at, payload: bytes.subarray(at + 7, at + 7 + size) });
    at += 8 + size;
  }
  return { status: "complete", frames, largest };
}

export function hex(bytes: Uint8Array, max = 4096): string {
  const shown = bytes.length > max ? bytes.subarray(0, max) : bytes;
  const s = Buffer.from(shown).toString("hex");
  return bytes.length > max ? `${s}…(+${bytes.length - max} bytes)` : s;
}
