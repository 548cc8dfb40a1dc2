import { replyText } from "./constants";
import type { AmqpError } from "./errors";
import type { MethodArgs } from "./methods";

/**
 * channel.close / connection.close arguments for an error, in RabbitMQ's reply-text shape
 * ("NOT_FOUND - no queue 'q' in vhost '/'"), cut to a shortstr.
 */
export function closeArgs(error: AmqpError): MethodArgs<"connection.close"> {
  return {
    replyCode: error.code,
    replyText: truncateUtf8(`${replyText(error.code)} - ${error.message}`, 255),
    classId: error.classId,
    methodId: error.methodId,
  };
}

/** The longest prefix of `s` whose UTF-8 fits in `max` bytes, cut between characters. */
export function truncateUtf8(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  let bytes = 0;
  let end = 0;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    const n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes + n > max) break;
    bytes += n;
    end += ch.length;
  }
  return s.slice(0, end);
}
