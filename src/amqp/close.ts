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
    replyText: `${replyText(error.code)} - ${error.message}`.slice(0, 255),
    classId: error.classId,
    methodId: error.methodId,
  };
}
