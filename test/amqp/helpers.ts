import { expect } from "vitest";
import { AmqpError } from "../../src/amqp";

/** Bytes from hand-written hex: "00 0a ff" (whitespace ignored). */
export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  if (clean.length % 2 !== 0) throw new Error(`odd hex: ${s}`);
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Runs fn, expects an AmqpError with this code and hardness, returns it. */
export function expectAmqpError(fn: () => unknown, code: number, hard = true): AmqpError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught, "expected an AmqpError to be thrown").toBeInstanceOf(AmqpError);
  const err = caught as AmqpError;
  expect({ code: err.code, hard: err.hard, message: err.message }).toMatchObject({ code, hard });
  return err;
}
