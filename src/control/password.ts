/**
 * Password hashes in RabbitMQ's format, so definitions move between RabbitMQ and Warren:
 * base64(salt ‖ H(salt ‖ utf8(password))) with a 4-byte random salt. New hashes use SHA-256
 * (rabbit_password_hashing_sha256, RabbitMQ's default); SHA-512 is accepted on import (MD5, used
 * before RabbitMQ 3.6, is not: Web Crypto has no MD5).
 */
export const DEFAULT_HASHING = "rabbit_password_hashing_sha256";

const DIGESTS: Record<string, string> = {
  rabbit_password_hashing_sha256: "SHA-256",
  rabbit_password_hashing_sha512: "SHA-512",
};

export function isHashingAlgorithm(name: string): boolean {
  return name in DIGESTS;
}

export async function hashPassword(password: string, algorithm = DEFAULT_HASHING): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(4));
  return toBase64(await salted(salt, password, algorithm));
}

/** True when `password` matches; an empty hash (clear_password) matches nothing. */
export async function verifyPassword(password: string, hash: string, algorithm: string): Promise<boolean> {
  if (hash === "" || !(algorithm in DIGESTS)) return false;
  let stored: Uint8Array;
  try {
    stored = fromBase64(hash);
  } catch {
    return false;
  }
  if (stored.length <= 4) return false;
  const computed = await salted(stored.subarray(0, 4), password, algorithm);
  return constantTimeEqual(computed, stored);
}

/** A hash must decode and hold more than the salt: checked before a definitions import stores it. */
export function validHash(hash: string): boolean {
  if (hash === "") return true;
  try {
    return fromBase64(hash).length > 4;
  } catch {
    return false;
  }
}

async function salted(salt: Uint8Array, password: string, algorithm: string): Promise<Uint8Array> {
  const pw = new TextEncoder().encode(password);
  const input = new Uint8Array(salt.length + pw.length);
  input.set(salt);
  input.set(pw, salt.length);
  const digest = new Uint8Array(await crypto.subtle.digest(DIGESTS[algorithm] ?? "SHA-256", input));
  const out = new Uint8Array(salt.length + digest.length);
  out.set(salt);
  out.set(digest, salt.length);
  return out;
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array {
  const s = atob(text);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}
