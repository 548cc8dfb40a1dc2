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
    // Valid UTF-8 whatever it quotes: a name taken as raw bytes (a publish's exchange) may hold
    // bytes that are not, and a client must always be able to read why it was closed.
    replyText: truncateUtf8(wellFormed(`${replyText(error.code)} - ${error.message}`), 255),
    classId: error.classId,
    methodId: error.methodId,
  };
}

/** `s` with each lone surrogate (a byte that was not UTF-8, see buffer.ts) as U+FFFD. */
function wellFormed(s: string): string {
  // String.prototype.toWellFormed is ES2024 (Node 20+, workerd); the lib here is ES2023.
  return (s as string & { toWellFormed(): string }).toWellFormed();
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
