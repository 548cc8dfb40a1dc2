import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { encodeContentHeader } from "../../src/amqp";
import { MessageStore, type WindowLimits } from "../../src/queue/message-store";
import { PriorityStore, type QueueStore } from "../../src/queue/priority-store";
import type { IncomingMessage, QueuedMessage } from "../../src/queue/types";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { caseSeed, randomSeed, Rng } from "../fuzz/prng";
import { doStorage, sqlStorage } from "../storage/sqlite";

// A seeded random walk over the store's operations, checked against a model: which messages are
// ready (in order), out (handed out, unsettled) or gone. Restarts drop what only memory knew,
// as a crash does: settles not flushed come back, so do messages handed out. Small windows and
// pages, so the walk crosses the hot window, cold pages and the requeue heap all the time.
// WARREN_FUZZ_SEED replays a run.

const SEED = Number(process.env.WARREN_FUZZ_SEED ?? randomSeed());
const WINDOW: WindowLimits = { count: 40, bytes: 1 << 20, pageCount: 15, pageBytes: 1 << 20 };

interface Model {
  /** Message id → its priority, for every message not gone. */
  ready: Map<number, number>;
  out: Map<number, QueuedMessage>;
  /** Settled, but only in memory until the next flush. */
  settledUnflushed: Set<number>;
  /** Order of arrival of every id (FIFO within a priority). */
  arrival: Map<number, number>;
  /** Every id's priority as the store files it (its property, capped at the maximum). */
  prio: Map<number, number>;
}

function message(id: number, priority: number): IncomingMessage {
  const body = new Uint8Array(8);
  new DataView(body.buffer).setUint32(0, id);
  return { exchange: "", routingKey: "q", header: encodeContentHeader(60, body.length, { priority }), body, persistent: true };
}

const idOf = (m: { body: Uint8Array }) => new DataView(m.body.buffer, m.body.byteOffset).getUint32(0);

/** The id the store must hand out next: highest priority, then earliest arrival. */
function expectedNext(model: Model, priorities: boolean): number | undefined {
  let best: number | undefined;
  for (const [id, p] of model.ready) {
    if (best === undefined) {
      best = id;
      continue;
    }
    const bp = model.ready.get(best)!;
    const better = priorities && p !== bp ? p > bp : model.arrival.get(id)! < model.arrival.get(best)!;
    if (better) best = id;
  }
  return best;
}

function walk(seed: number, priorities: boolean): void {
  const rng = new Rng(seed);
  const db = new DatabaseSync(":memory:");
  migrate(doStorage(db), QUEUE_MIGRATIONS);
  const open = (): QueueStore => (priorities ? new PriorityStore(sqlStorage(db), 3, WINDOW) : new MessageStore(sqlStorage(db), WINDOW));
  let store = open();
  store.load();
  const model: Model = { ready: new Map(), out: new Map(), settledUnflushed: new Set(), arrival: new Map(), prio: new Map() };
  let nextId = 1;
  const where = (step: number, op: string) => `seed ${seed}, step ${step} (${op})`;
  for (let step = 0; step < 400; step++) {
    const r = rng.int(0, 99);
    let op = "";
    if (r < 25) {
      op = "append";
      const n = rng.int(1, 30);
      const batch: IncomingMessage[] = [];
      for (let i = 0; i < n; i++) {
        const id = nextId++;
        const p = priorities ? rng.int(0, 4) : 0;
        batch.push(message(id, p));
        model.prio.set(id, Math.min(p, 3));
        model.ready.set(id, Math.min(p, 3));
        model.arrival.set(id, id);
      }
      if (store.unloadedCount === 0 && rng.chance(0.3)) {
        store.appendPending(batch);
        // As the queue does: written in the same turn unless taken at once.
        if (rng.chance(0.5)) {
          for (let i = 0; i < rng.int(0, n); i++) {
            const m = store.shift();
            const want = expectedNext(model, priorities);
            expect(m && idOf(m), where(step, "pending shift")).toBe(want);
            if (!m) break;
            model.ready.delete(idOf(m));
            store.remove([m]);
            // A message of this batch was never written; an older one was, and its settle waits.
            if (idOf(m) < batch.map(idOf)[0]!) model.settledUnflushed.add(idOf(m));
          }
        }
        store.writePending();
      } else store.append(batch);
    } else if (r < 55) {
      op = "shift";
      for (let i = rng.int(1, 20); i > 0; i--) {
        const want = expectedNext(model, priorities);
        const m = store.shift();
        expect(m && idOf(m), where(step, op)).toBe(want);
        if (!m) break;
        model.ready.delete(idOf(m));
        model.out.set(idOf(m), m);
      }
    } else if (r < 75) {
      op = "ack";
      for (const [id, m] of [...model.out]) {
        if (!rng.chance(0.6)) continue;
        store.remove([m]);
        model.out.delete(id);
        model.settledUnflushed.add(id);
      }
    } else if (r < 85) {
      op = "requeue";
      const back = [...model.out].filter(() => rng.chance(0.5));
      store.requeue(
        back.map(([, m]) => m),
        true,
      );
      for (const [id] of back) {
        model.out.delete(id);
        model.ready.set(id, model.prio.get(id)!);
      }
    } else if (r < 93) {
      op = "flush";
      store.flushRemovals();
      model.settledUnflushed.clear();
    } else if (r < 97) {
      op = "restart";
      // What only memory knew comes back ready: unflushed settles and messages handed out.
      // Some of what was handed out is still held by a live connection (the queue's reattach).
      const held = [...model.out].filter(() => rng.chance(0.4));
      const heldIds = new Set(held.map(([id]) => id));
      for (const id of model.settledUnflushed) model.ready.set(id, model.prio.get(id)!);
      for (const id of model.out.keys()) if (!heldIds.has(id)) model.ready.set(id, model.prio.get(id)!);
      model.settledUnflushed.clear();
      model.out.clear();
      store = open();
      store.load();
      const taken = store.takeSeqs(new Set(held.map(([, m]) => m.seq)));
      expect(
        taken.map(idOf).sort((a, b) => a - b),
        where(step, "reattach"),
      ).toEqual([...heldIds].sort((a, b) => a - b));
      for (const m of taken) model.out.set(idOf(m), m);
    } else {
      op = "purge";
      const n = store.purge();
      expect(n, where(step, op)).toBe(model.ready.size);
      model.ready.clear();
      model.settledUnflushed.clear();
    }
    expect(store.readyCount, where(step, op)).toBe(model.ready.size);
  }
  // Drain: everything left comes out in order, and then the store is empty on disk too.
  for (const m of model.out.values()) store.remove([m]);
  for (;;) {
    const want = expectedNext(model, priorities);
    const m = store.shift();
    expect(m && idOf(m), `seed ${seed}, drain`).toBe(want);
    if (!m) break;
    model.ready.delete(idOf(m));
    store.remove([m]);
  }
  store.flushRemovals();
  const left = Number(Object.values(db.prepare("SELECT COUNT(*) FROM segments").get()!)[0]);
  expect(left, `seed ${seed}: segments left after everything was settled`).toBe(0);
}

describe(`MessageStore against a model (seeded walk, WARREN_FUZZ_SEED=${SEED})`, () => {
  for (let i = 0; i < 12; i++) {
    const seed = caseSeed(SEED, i);
    it(`plain store, case ${i} (seed ${seed})`, () => walk(seed, false));
  }
  for (let i = 0; i < 6; i++) {
    const seed = caseSeed(SEED, 100 + i);
    it(`priority store, case ${i} (seed ${seed})`, () => walk(seed, true));
  }
});
