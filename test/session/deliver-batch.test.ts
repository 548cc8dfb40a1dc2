// Connection.deliverBatch (what ConnectionDO.deliver runs): the batch is freed once handled, so
// nothing written may still point into it. Bodies over the writer's inline limit are the case
// that would break: their frames reference the batch until flush.
import { describe, expect, it } from "vitest";
import { encodeDeliveries } from "../../src/queue/wire";
import type { Delivery } from "../../src/queue/types";
import { delivery, frame, named, openClient, type Client } from "./client";
import { deferred } from "./fakes";

/** A batch as the RPC brings it, through deliverBatch; checks it was freed. */
function deliverBatch(c: Client, ds: Delivery[]) {
  const batch = encodeDeliveries("q", ds).slice();
  const result = c.connection.deliverBatch(batch);
  expect(batch.buffer.byteLength).toBe(0);
  return result;
}

const big = (seq: number, n = 5000) => String.fromCharCode(65 + (seq % 26)).repeat(n);

function bodiesOf(c: Client): string[] {
  return named(c.take(), "basic.deliver").map((s) => new TextDecoder().decode(s.body));
}

describe("Connection.deliverBatch frees the batch and every byte of it still arrives", () => {
  it("ready consumer, bodies over INLINE_LIMIT, several body frames each", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    const ds = [1, 2, 3].map((s) => delivery("q", s, "t", 1, big(s, 300_000)));
    expect(deliverBatch(c, ds).refused).toEqual([]);
    await c.settle();
    expect(bodiesOf(c)).toEqual([1, 2, 3].map((s) => big(s, 300_000)));
  });

  it("deliveries ahead of consume-ok (early), then consume-ok", async () => {
    const c = await openClient("q");
    const consumed = deferred();
    c.broker.queue("/", "q").script.consume = async () => {
      await consumed.promise;
      return { ok: true, value: undefined };
    };
    c.send(frame(1, "basic.consume", { queue: "q", consumerTag: "t" }));
    await c.settle();
    expect(
      deliverBatch(
        c,
        [1, 2].map((s) => delivery("q", s, "t", 1, big(s))),
      ).refused,
    ).toEqual([]);
    consumed.resolve();
    await c.settle();
    expect(bodiesOf(c)).toEqual([big(1), big(2)]);
  });

  it("a channel in tx mode, and one with flow off, and a global prefetch", async () => {
    const c = await openClient("q");
    await c.roundTrip(frame(1, "tx.select"));
    await c.consume(1, "q", "t");
    expect(
      deliverBatch(
        c,
        [1].map((s) => delivery("q", s, "t", 1, big(s))),
      ).refused,
    ).toEqual([]);
    await c.settle();
    expect(bodiesOf(c)).toEqual([big(1)]);
    await c.roundTrip(frame(1, "basic.qos", { prefetchCount: 1, global: true }));
    const r = deliverBatch(
      c,
      [2, 3].map((s) => delivery("q", s, "t", 1, big(s))),
    );
    await c.settle();
    expect(r.refused).toEqual([2, 3]);
    expect(bodiesOf(c)).toEqual([]);
  });

  it("connection closing (server sent connection.close): everything refused, nothing kept", async () => {
    const c = await openClient("q");
    await c.consume(1, "q", "t");
    c.connection.forceClose("bye");
    const r = deliverBatch(
      c,
      [1, 2].map((s) => delivery("q", s, "t", 1, big(s))),
    );
    expect(r.refused).toEqual([1, 2]);
    await c.settle();
    expect(bodiesOf(c)).toEqual([]);
  });
});
