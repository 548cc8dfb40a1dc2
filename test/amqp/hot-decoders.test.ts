import { describe, expect, it } from "vitest";
import { decodeMethod, decodeMethodGeneric, encodeMethod, makeMethod, type AnyMethod } from "../../src/amqp";
import { decodeHotMethod } from "../../src/amqp/hot-decoders";

// The hand-unrolled decoders must agree with the table-driven one on every input: the same
// method for valid payloads, the same error (or the generic path) for everything else.
function outcome(f: (p: Uint8Array) => AnyMethod, p: Uint8Array): unknown {
  try {
    return { ok: f(p) };
  } catch (err) {
    const e = err as { code?: number; message?: string };
    return { code: e.code, message: e.message };
  }
}

function agree(p: Uint8Array): void {
  expect(outcome(decodeMethod, p)).toEqual(outcome(decodeMethodGeneric, p));
}

const TAGS = [0, 1, 255, 256, 65535, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 7, Number.MAX_SAFE_INTEGER];
const STRINGS = ["", "a", "amq.direct", "orders.eu.created", "x".repeat(255), "ünïcödé", "日本"];

const samples: AnyMethod[] = [];
for (const deliveryTag of TAGS) {
  for (const b of [false, true]) {
    samples.push(makeMethod("basic.ack", { deliveryTag, multiple: b }));
    samples.push(makeMethod("basic.reject", { deliveryTag, requeue: b }));
    for (const requeue of [false, true]) samples.push(makeMethod("basic.nack", { deliveryTag, multiple: b, requeue }));
  }
}
for (const exchange of STRINGS) {
  for (const routingKey of STRINGS) {
    for (const [mandatory, immediate] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      samples.push(makeMethod("basic.publish", { ticket: 7, exchange, routingKey, mandatory, immediate }));
    }
  }
}

describe("hot method decoders", () => {
  it("decode every sample as the generic decoder does", () => {
    for (const m of samples) {
      const p = encodeMethod(m);
      expect(decodeMethod(p)).toEqual(m);
      agree(p);
    }
  });

  it("take the fast path for ASCII publishes and acks", () => {
    expect(decodeHotMethod(encodeMethod(makeMethod("basic.publish", { exchange: "x", routingKey: "k" })))).toBeDefined();
    expect(decodeHotMethod(encodeMethod(makeMethod("basic.ack", { deliveryTag: 5 })))).toBeDefined();
    expect(decodeHotMethod(encodeMethod(makeMethod("basic.publish", { exchange: "日本" })))).toBeUndefined();
  });

  it("agree on every truncation and on trailing bytes", () => {
    for (const m of samples.filter((_, i) => i % 7 === 0)) {
      const p = encodeMethod(m);
      for (let n = 0; n < p.length; n++) agree(p.subarray(0, n));
      const longer = new Uint8Array(p.length + 3);
      longer.set(p);
      agree(longer);
    }
  });

  it("agree on unused bits and corrupted length octets", () => {
    const p = encodeMethod(makeMethod("basic.publish", { exchange: "ex", routingKey: "key", mandatory: true }));
    for (let at = 4; at < p.length; at++) {
      for (const v of [0, 1, 3, 0x7f, 0xff]) {
        const q = p.slice();
        q[at] = v;
        agree(q);
      }
    }
  });

  it("repeated strings come back equal from the cache, different bytes of the same length do not collide", () => {
    for (let i = 0; i < 20; i++) {
      const key = `k${i % 10}`;
      const m = decodeMethod(encodeMethod(makeMethod("basic.publish", { exchange: "", routingKey: key })));
      expect(m.name === "basic.publish" && m.args.routingKey).toBe(key);
    }
  });
});
