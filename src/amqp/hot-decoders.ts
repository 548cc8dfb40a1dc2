// Hand-unrolled decoders for the methods a busy connection receives once per message
// (basic.publish, basic.ack, basic.nack, basic.reject). They read the payload bytes directly,
// with no Reader, DataView or per-field closure, and give up (return undefined) on anything
// short or odd, so the generic table-driven decoder produces the exact error. Each is used
// only while its row in METHOD_TABLE has the field list it was written for; a test checks
// that both decoders agree.
import { METHOD_TABLE } from "./method-table";
import type { AnyMethod } from "./methods";

const TWO_32 = 2 ** 32;

function sameFields(name: keyof typeof METHOD_TABLE, expected: readonly (readonly [string, string])[]): boolean {
  const fields = METHOD_TABLE[name].fields as readonly (readonly [string, string])[];
  return fields.length === expected.length && fields.every((f, i) => f[0] === expected[i]![0] && f[1] === expected[i]![1]);
}

const PUBLISH_OK = sameFields("basic.publish", [
  ["ticket", "short"],
  ["exchange", "shortstr"],
  ["routingKey", "shortstr"],
  ["mandatory", "bit"],
  ["immediate", "bit"],
]);
const ACK_OK = sameFields("basic.ack", [
  ["deliveryTag", "longlong"],
  ["multiple", "bit"],
]);
const REJECT_OK = sameFields("basic.reject", [
  ["deliveryTag", "longlong"],
  ["requeue", "bit"],
]);
const NACK_OK = sameFields("basic.nack", [
  ["deliveryTag", "longlong"],
  ["multiple", "bit"],
  ["requeue", "bit"],
]);
const BASIC = METHOD_TABLE["basic.publish"].classId;
const PUBLISH = METHOD_TABLE["basic.publish"].methodId;
const ACK = METHOD_TABLE["basic.ack"].methodId;
const REJECT = METHOD_TABLE["basic.reject"].methodId;
const NACK = METHOD_TABLE["basic.nack"].methodId;

/**
 * Short strings a publisher repeats (its exchange and routing keys) are decoded once: the last
 * few are remembered by their bytes. Returns undefined for non-ASCII (the generic path decodes it).
 */
class ShortStrCache {
  private readonly keys: Uint8Array[] = [];
  private readonly values: string[] = [];
  private next = 0;

  read(p: Uint8Array, at: number, n: number): string | undefined {
    const keys = this.keys;
    outer: for (let k = 0; k < keys.length; k++) {
      const key = keys[k]!;
      if (key.length !== n) continue;
      for (let i = 0; i < n; i++) if (key[i] !== p[at + i]) continue outer;
      return this.values[k];
    }
    let s = "";
    for (let i = 0; i < n; i++) {
      const b = p[at + i]!;
      if (b >= 0x80) return undefined;
      s += String.fromCharCode(b);
    }
    const slot = this.next;
    this.next = (slot + 1) % 8;
    this.keys[slot] = p.slice(at, at + n);
    this.values[slot] = s;
    return s;
  }
}

const strings = new ShortStrCache();

function tagAt(p: Uint8Array, at: number): number {
  const hi = ((p[at]! << 24) | (p[at + 1]! << 16) | (p[at + 2]! << 8) | p[at + 3]!) >>> 0;
  const lo = ((p[at + 4]! << 24) | (p[at + 5]! << 16) | (p[at + 6]! << 8) | p[at + 7]!) >>> 0;
  return hi * TWO_32 + lo;
}

/** The decoded method, or undefined to let the generic decoder handle (or reject) it. */
export function decodeHotMethod(p: Uint8Array): AnyMethod | undefined {
  if (p.length < 9 || ((p[0]! << 8) | p[1]!) !== BASIC) return undefined;
  const methodId = (p[2]! << 8) | p[3]!;
  if (methodId === PUBLISH && PUBLISH_OK) return publish(p);
  if (p.length !== 13) return undefined;
  const deliveryTag = tagAt(p, 4);
  const bits = p[12]!;
  if (methodId === ACK && ACK_OK) return { name: "basic.ack", args: { deliveryTag, multiple: (bits & 1) !== 0 } };
  if (methodId === NACK && NACK_OK) {
    return { name: "basic.nack", args: { deliveryTag, multiple: (bits & 1) !== 0, requeue: (bits & 2) !== 0 } };
  }
  if (methodId === REJECT && REJECT_OK) return { name: "basic.reject", args: { deliveryTag, requeue: (bits & 1) !== 0 } };
  return undefined;
}

function publish(p: Uint8Array): AnyMethod | undefined {
  const ticket = (p[4]! << 8) | p[5]!;
  const xLen = p[6]!;
  const kAt = 7 + xLen;
  if (kAt >= p.length) return undefined;
  const kLen = p[kAt]!;
  const bitsAt = kAt + 1 + kLen;
  if (bitsAt !== p.length - 1) return undefined;
  const exchange = strings.read(p, 7, xLen);
  const routingKey = strings.read(p, kAt + 1, kLen);
  if (exchange === undefined || routingKey === undefined) return undefined;
  const bits = p[bitsAt]!;
  return { name: "basic.publish", args: { ticket, exchange, routingKey, mandatory: (bits & 1) !== 0, immediate: (bits & 2) !== 0 } };
}
