import type { ReplyCodeValue } from "../amqp/constants";
import { BrokerError } from "./errors";
import { describeQueue } from "./names";

/** Durable Object methods return errors as values: custom Error fields do not survive RPC. */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; code: ReplyCodeValue; text: string };

export function ok<T>(value: T): RpcResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: ReplyCodeValue, text: string): RpcResult<T> {
  return { ok: false, code, text };
}

/** The value, or the error result thrown as a BrokerError. */
export function unwrap<T>(result: RpcResult<T>): T {
  if (result.ok) return result.value;
  throw new BrokerError(result.code, result.text);
}

/**
 * As unwrap, for a queue object's answer: its "no queue" (the object of a missing queue does not
 * know its own name) becomes RabbitMQ's "no queue 'q' in vhost '/'".
 */
export function unwrapQueue<T>(result: RpcResult<T>, vhost: string, queue: string): T {
  if (!result.ok && result.text === "no queue") throw new BrokerError(result.code, `no ${describeQueue(vhost, queue)}`);
  return unwrap(result);
}
