import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { encodeContentHeader } from "../../src/amqp";
import { PriorityStore } from "../../src/queue/priority-store";
import type { IncomingMessage } from "../../src/queue/types";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { doStorage, sqlStorage } from "../storage/sqlite";

function open(db: DatabaseSync, max = 9, window = { count: 50, bytes: 1 << 20, pageCount: 20, pageBytes: 1 << 20 }): PriorityStore {
  migrate(doStorage(db), QUEUE_MIGRATIONS);
  return new PriorityStore(sqlStorage(db), max, window);
}

function message(text: string, priority?: number): IncomingMessage {
  const body = new TextEncoder().encode(text);
  const header = encodeContentHeader(60, body.length, priority === undefined ? {} : { priority });
  return { exchange: "", routingKey: "q", header, body, persistent: true };
}

const text = (m: { body: Uint8Array } | undefined) => new TextDecoder().decode(m!.body);
const drain = (s: PriorityStore) => {
  const out: string[] = [];
  for (let m = s.shift(); m; m = s.shift()) out.push(text(m));
  return out;
};

describe("PriorityStore (x-max-priority)", () => {
  it("higher priority first, FIFO within a priority; above the maximum counts as the maximum; none is 0", () => {
    const s = open(new DatabaseSync(":memory:"), 5);
    s.append([message("a0"), message("b3", 3), message("c9", 9), message("d3", 3), message("e1", 1), message("f5", 5)]);
    expect(s.readyCount).toBe(6);
    expect(drain(s)).toEqual(["c9", "f5", "b3", "d3", "e1", "a0"]);
  });

  it("requeued messages go back to their own priority, ahead of later ones of it", () => {
    const s = open(new DatabaseSync(":memory:"));
    s.append([message("x2", 2), message("y2", 2), message("z1", 1)]);
    const x = s.shift()!;
    s.append([message("w2", 2)]);
    s.requeue([x], true);
    const out = [s.shift()!, ...[s.shift()!, s.shift()!, s.shift()!]];
    expect(out.map(text)).toEqual(["x2", "y2", "w2", "z1"]);
    expect(out[0]!.redelivered).toBe(true);
  });

  it("a backlog beyond each lane's window pages from disk in order, and a restart keeps priorities and order", () => {
    const db = new DatabaseSync(":memory:");
    const s = open(db);
    const expected: string[] = [];
    for (let i = 0; i < 300; i++) s.append([message(`p${i % 3}-${i}`, i % 3)]);
    for (const p of [2, 1, 0]) for (let i = 0; i < 300; i++) if (i % 3 === p) expected.push(`p${p}-${i}`);
    expect(s.unloadedCount).toBeGreaterThan(0);
    const first = s.shift()!;
    expect(text(first)).toBe(expected[0]);
    s.remove([first]);
    s.flushRemovals();
    const restarted = open(db);
    restarted.load();
    expect(restarted.readyCount).toBe(299);
    expect(drain(restarted)).toEqual(expected.slice(1));
  });

  it("seqs are unique across priorities (acks and unacked tracking go by seq)", () => {
    const s = open(new DatabaseSync(":memory:"));
    s.append([message("a", 1), message("b", 2), message("c", 1), message("d", 0)]);
    const seqs = [s.shift()!, s.shift()!, s.shift()!, s.shift()!].map((m) => m.seq);
    expect(new Set(seqs).size).toBe(4);
  });

  it("settling one priority's segments never deletes another's stored between them (they share the tables)", () => {
    const db = new DatabaseSync(":memory:");
    const s = open(db);
    s.append([message("a0"), message("b0")]); // priority 0: seqs 1-2
    s.append([message("c5", 5)]); // priority 5: seq 3
    s.append([message("d0"), message("e0")]); // priority 0: seqs 4-5
    const high = s.shift()!;
    expect(text(high)).toBe("c5");
    s.requeue([high], false);
    const low = [s.shift()!, s.shift()!, s.shift()!, s.shift()!, s.shift()!].filter((m) => text(m) !== "c5");
    s.remove(low);
    s.flushRemovals();
    const restarted = open(db);
    restarted.load();
    expect(drain(restarted)).toEqual(["c5"]);
  });
});
