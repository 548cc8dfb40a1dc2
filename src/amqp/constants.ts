// Protocol numbers of AMQP 0-9-1 (RabbitMQ errata). The per-method table
// (class/method ids and argument lists) lives in method-table.ts.

/** The 8 bytes a client sends first: "AMQP" 0 0 9 1. */
export const PROTOCOL_HEADER: Uint8Array = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);

export const FrameType = { Method: 1, Header: 2, Body: 3, Heartbeat: 8 } as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

export const FRAME_END = 0xce;
/** type (1) + channel (2) + payload size (4). */
export const FRAME_HEADER_SIZE = 7;
/** Header plus the frame-end octet: what a frame costs on top of its payload. */
export const FRAME_OVERHEAD = FRAME_HEADER_SIZE + 1;
/** Smallest frame_max a peer may negotiate; also the limit before tuning. */
export const FRAME_MIN_SIZE = 4096;
/**
 * frame_max 0 means "no limit" on the wire, but one frame is held in memory
 * whole, so the reader still refuses frames beyond this size.
 */
export const FRAME_MAX_UNLIMITED_CAP = 128 * 1024 * 1024 + FRAME_OVERHEAD;
/** RabbitMQ's hard ceiling on a message body (?MAX_MSG_SIZE, 512 MiB). */
export const MAX_BODY_SIZE = 536_870_912;

export const ReplyCode = {
  REPLY_SUCCESS: 200,
  CONTENT_TOO_LARGE: 311,
  NO_ROUTE: 312,
  NO_CONSUMERS: 313,
  CONNECTION_FORCED: 320,
  INVALID_PATH: 402,
  ACCESS_REFUSED: 403,
  NOT_FOUND: 404,
  RESOURCE_LOCKED: 405,
  PRECONDITION_FAILED: 406,
  FRAME_ERROR: 501,
  SYNTAX_ERROR: 502,
  COMMAND_INVALID: 503,
  CHANNEL_ERROR: 504,
  UNEXPECTED_FRAME: 505,
  RESOURCE_ERROR: 506,
  NOT_ALLOWED: 530,
  NOT_IMPLEMENTED: 540,
  INTERNAL_ERROR: 541,
} as const;
export type ReplyCodeName = keyof typeof ReplyCode;
export type ReplyCodeValue = (typeof ReplyCode)[ReplyCodeName];

const replyNames = new Map<number, ReplyCodeName>((Object.keys(ReplyCode) as ReplyCodeName[]).map((name) => [ReplyCode[name], name]));

/** The constant's name, e.g. 404 → "NOT_FOUND" (RabbitMQ prefixes reply-text with it). */
export function replyText(code: number): string {
  return replyNames.get(code) ?? "UNKNOWN_ERROR";
}

// Per the spec, soft errors close only the channel; everything else is a
// hard (connection) error. Unknown codes are treated as hard: safer to drop
// a connection than to keep one whose state we do not understand.
const SOFT_CODES: ReadonlySet<number> = new Set([
  ReplyCode.REPLY_SUCCESS,
  ReplyCode.CONTENT_TOO_LARGE,
  ReplyCode.NO_ROUTE,
  ReplyCode.NO_CONSUMERS,
  ReplyCode.ACCESS_REFUSED,
  ReplyCode.NOT_FOUND,
  ReplyCode.RESOURCE_LOCKED,
  ReplyCode.PRECONDITION_FAILED,
]);

export function isHardError(code: number): boolean {
  return !SOFT_CODES.has(code);
}

export const ClassId = {
  connection: 10,
  channel: 20,
  exchange: 40,
  queue: 50,
  basic: 60,
  confirm: 85,
  tx: 90,
} as const;
export type ClassName = keyof typeof ClassId;
