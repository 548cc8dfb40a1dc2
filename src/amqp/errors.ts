import { ReplyCode, isHardError } from "./constants";

/**
 * A protocol exception. `message` is the human explanation only; the wire
 * reply-text is conventionally `${replyText(code)} - ${message}`.
 * `hard` means the whole connection must be closed (connection.close),
 * otherwise only the channel (channel.close).
 */
export class AmqpError extends Error {
  readonly code: number;
  readonly hard: boolean;
  readonly classId: number;
  readonly methodId: number;

  constructor(code: number, text: string, hard: boolean, classId = 0, methodId = 0) {
    super(text);
    this.name = "AmqpError";
    this.code = code;
    this.hard = hard;
    this.classId = classId;
    this.methodId = methodId;
  }
}

/**
 * A channel-level exception. If `code` is a hard-error code (e.g. 503, 504,
 * 540) the error is nevertheless marked hard: RabbitMQ escalates any hard
 * code raised on a channel to a connection close, and the spec says hard
 * errors are connection exceptions.
 */
export function channelError(code: number, text: string, classId = 0, methodId = 0): AmqpError {
  return new AmqpError(code, text, isHardError(code), classId, methodId);
}

/** A connection-level exception: always hard, whatever the code. */
export function connectionError(code: number, text: string, classId = 0, methodId = 0): AmqpError {
  return new AmqpError(code, text, true, classId, methodId);
}

/** Thrown by Reader when a payload ends before the value being read does. */
export class TruncatedError extends AmqpError {
  constructor(what: string) {
    super(ReplyCode.SYNTAX_ERROR, `truncated ${what}`, true);
    this.name = "TruncatedError";
  }
}

/**
 * A value the codec cannot put on the wire (shortstr over 255 bytes, number
 * out of range, …). It is our fault, not the peer's, hence INTERNAL_ERROR;
 * callers that encode client-supplied data should validate it first.
 */
export function encodeError(text: string): AmqpError {
  return connectionError(ReplyCode.INTERNAL_ERROR, text);
}
