import { AmqpError, ReplyCode, connectionError, methodIds, type MethodName } from "../amqp";
import { BrokerError } from "../core/errors";

/**
 * The one place where a failure becomes a protocol error: a domain BrokerError gets the
 * class and method ids of the method that was running (RabbitMQ's handle_exception); codec
 * errors already carry theirs; anything else is our bug, logged and answered with 541
 * without leaking its text. Whether it closes the channel or the connection is decided by
 * the caller from `hard` (the reply code) and the channel number.
 */
export function toAmqpError(err: unknown, method: MethodName | undefined, log: (message: string) => void): AmqpError {
  if (err instanceof AmqpError) {
    if (err.code !== ReplyCode.INTERNAL_ERROR || err.message === "INTERNAL_ERROR") return err;
    // Our own failure (e.g. an encoder refusing a value): the text is for the log, not the client.
    log(`internal error: ${err.message}`);
    return new AmqpError(err.code, "INTERNAL_ERROR", true, err.classId, err.methodId);
  }
  if (err instanceof BrokerError) {
    const ids = method ? methodIds(method) : { classId: 0, methodId: 0 };
    return new AmqpError(err.code, err.text, err.hard, ids.classId, ids.methodId);
  }
  log(`internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return connectionError(ReplyCode.INTERNAL_ERROR, "INTERNAL_ERROR");
}
