import { describe, expect, it } from "vitest";
import { decodeDeliveries, decodePublishBatch, encodeDeliveries, encodePublishBatch } from "../../src/queue/wire";
import { decodeRecord, encodeRecord, recordSize, splitRecord } from "../../src/storage/message-record";
import type { Delivery, IncomingMessage } from "../../src/queue/types";

const bytes = (...b: number[]) => new Uint8Array(b);

describe("RPC batch wire format", () => {
  it("round-trips a publish batch, including empty and non-ASCII fields", () => {
    const messages: IncomingMessage[] = [
      { exchange: "", routingKey: "q", header: bytes(0, 60, 0, 0), body: new Uint8Array(0), persistent: false },
      { exchange: "ëxchänge", routingKey: "a.b.ç", header: bytes(1, 2, 3), body: new Uint8Array(70_000).fill(7), persistent: true },
    ];
    const encoded = encodePublishBatch(messages);
    expect(encoded.byteLength).toBe(encoded.buffer.byteLength);
    const decoded = decodePublishBatch(encoded);
    expect(decoded.map(({ record: _, ...m }) => m)).toEqual(messages);
    // Each message keeps its record: the same bytes as encodeRecord gives, and it decodes back.
    decoded.forEach((m, i) => {
      expect([...m.record!]).toEqual([...encodeRecord(messages[i]!)]);
      const { record: _, ...again } = decodeRecord(m.record!);
      expect(again).toEqual(messages[i]);
    });
  });

  it("round-trips deliveries with flags, large sequence numbers and shared consumer tags", () => {
    const r1 = encodeRecord({ exchange: "", routingKey: "jobs", header: bytes(9), body: bytes(1, 2), persistent: true });
    const r2 = encodeRecord({ exchange: "amq.direct", routingKey: "k", header: bytes(), body: bytes(), persistent: false });
    const deliveries: Delivery[] = [
      { queue: "jobs", seq: 1, channel: 1, consumerTag: "amq.ctag-x", noAck: true, redelivered: false, record: r1 },
      { queue: "jobs", seq: 2 ** 40 + 3, channel: 65535, consumerTag: "c2", noAck: false, redelivered: true, record: r2 },
      { queue: "jobs", seq: 7, channel: 1, consumerTag: "amq.ctag-x", noAck: false, redelivered: false, record: r2 },
    ];
    expect(decodeDeliveries(encodeDeliveries("jobs", deliveries))).toEqual(deliveries);
  });

  it("splits a record into the short strings basic.deliver carries, header and body", () => {
    const record = encodeRecord({ exchange: "ëx", routingKey: "a.b", header: bytes(5, 6), body: bytes(7, 8, 9), persistent: true });
    const { route, header, body } = splitRecord(record);
    const ex = new TextEncoder().encode("ëx");
    expect([...route]).toEqual([ex.length, ...ex, 3, ..."a.b".split("").map((c) => c.charCodeAt(0))]);
    expect([...header]).toEqual([5, 6]);
    expect([...body]).toEqual([7, 8, 9]);
  });

  it("ASCII names: a batch fills its buffer exactly (no trimming copy of every published and delivered byte)", () => {
    const messages: IncomingMessage[] = Array.from({ length: 50 }, (_, i) => ({
      exchange: i % 2 ? "amq.topic" : "",
      routingKey: `a.fairly.long.routing.key.${i}`,
      header: new Uint8Array(14),
      body: new Uint8Array(i % 3 === 0 ? 0 : 100),
      persistent: i % 2 === 0,
    }));
    // The size computed up front is the size written (else the batch is copied to trim it).
    for (const m of messages) expect(recordSize(m)).toBe(encodeRecord(m).length);
    const batch = encodePublishBatch(messages);
    const deliveries: Delivery[] = decodePublishBatch(batch).map((m, i) => ({
      queue: "q",
      seq: i,
      channel: 1,
      consumerTag: `ctag-${i % 3}`,
      noAck: false,
      redelivered: false,
      record: encodeRecord(m),
    }));
    const out = encodeDeliveries("a-queue", deliveries);
    expect(decodeDeliveries(out).map((d) => d.consumerTag)).toEqual(deliveries.map((d) => d.consumerTag));
  });

  it("encodes an empty batch", () => {
    expect(decodePublishBatch(encodePublishBatch([]))).toEqual([]);
    expect(decodeDeliveries(encodeDeliveries("q", []))).toEqual([]);
  });
});
