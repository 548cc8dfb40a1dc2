import type { ReplyCodeValue } from "../amqp/constants";
import { BrokerError } from "./errors";

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
