import { channelError, connectionError, isHardError, type AmqpError } from "../amqp";

/** Durable Object methods return errors as values: custom Error fields do not survive RPC. */
export type RpcResult<T> = { ok: true; value: T } | { ok: false; code: number; text: string };

export function ok<T>(value: T): RpcResult<T> {
  return { ok: true, value };
}

export function fail<T = never>(code: number, text: string): RpcResult<T> {
  return { ok: false, code, text };
}

/** Turns an error result into the typed AMQP error the channel layer maps to a close. */
export function unwrap<T>(result: RpcResult<T>, classId = 0, methodId = 0): T {
  if (result.ok) return result.value;
  throw toAmqpError(result.code, result.text, classId, methodId);
}

export function toAmqpError(code: number, text: string, classId = 0, methodId = 0): AmqpError {
  return isHardError(code) ? connectionError(code, text, classId, methodId) : channelError(code, text, classId, methodId);
}
