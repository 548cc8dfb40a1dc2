import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { DELAYED_CHUNK, DelayedStore } from "../../src/exchange/delayed-store";
import { migrate } from "../../src/storage/migrate";
import { EXCHANGE_MIGRATIONS } from "../../src/storage/migrations/exchange";
import { Schedule } from "../../src/storage/schedule";
import { count, doStorage, sqlStorage } from "../storage/sqlite";

/** An exchange object's store as it opens: schema migrated first, as ExchangeDO does. */
function openStore(db: DatabaseSync): DelayedStore {
  migrate(doStorage(db), EXCHANGE_MIGRATIONS);
  return new DelayedStore(sqlStorage(db));
}

const rec = (text: string) => new TextEncoder().encode(text);
const text = (m: { record: Uint8Array }) => new TextDecoder().decode(m.record);
const NOW = 1_760_000_000_000;
const DAY = 86_400_000;

describe("DelayedStore", () => {
  it("gives back only what is due, earliest first, and equal due times in arrival order", () => {
    const store = openStore(new DatabaseSync(":memory:"));
    store.add([
      { due: NOW + 300, record: rec("c") },
      { due: NOW + 100, record: rec("a1") },
      { due: NOW + 200, record: rec("b") },
    ]);
    store.add([{ due: NOW + 100, record: rec("a2") }]);
    store.add([{ due: NOW + 100, record: rec("a3") }]);
    expect(store.due(NOW + 99, 100, 1 << 20)).toEqual([]);
    expect(store.due(NOW + 100, 100, 1 << 20).map(text)).toEqual(["a1", "a2", "a3"]);
    expect(store.due(NOW + 250, 100, 1 << 20).map(text)).toEqual(["a1", "a2", "a3", "b"]);
    expect(store.due(NOW + 1000, 100, 1 << 20).map((m) => [text(m), m.due])).toEqual([
      ["a1", NOW + 100],
      ["a2", NOW + 100],
      ["a3", NOW + 100],
      ["b", NOW + 200],
      ["c", NOW + 300],
    ]);
    expect(store.nextDue()).toBe(NOW + 100);
  });

  it("removing what the queues took leaves the rest, in order, and keeps the count", () => {
    const store = openStore(new DatabaseSync(":memory:"));
    store.add(Array.from({ length: 5 }, (_, i) => ({ due: NOW + i, record: rec(`m${i}`) })));
    expect(store.count()).toBe(5);
    const due = store.due(NOW + 2, 100, 1 << 20);
    store.remove([due[0]!.id, due[2]!.id]);
    expect(store.count()).toBe(3);
    expect(store.due(NOW + 10, 100, 1 << 20).map(text)).toEqual(["m1", "m3", "m4"]);
    expect(store.nextDue()).toBe(NOW + 1);
    store.add([{ due: NOW, record: rec("new") }]);
    expect(store.count()).toBe(4);
    expect(store.due(NOW + 10, 100, 1 << 20).map(text)).toEqual(["new", "m1", "m3", "m4"]);
  });

  it("a restarted object (a new store over the same database) finds everything, counts it, and keeps arrival order", () => {
    const db = new DatabaseSync(":memory:");
    openStore(db).add([
      { due: NOW + 5, record: rec("first") },
      { due: NOW + 5, record: rec("second") },
    ]);
    const again = openStore(db);
    expect(again.count()).toBe(2);
    again.add([{ due: NOW + 5, record: rec("third") }]);
    expect(again.due(NOW + 5, 10, 1 << 20).map(text)).toEqual(["first", "second", "third"]);
  });

  it("30-day and longer delays: due times are epoch milliseconds, exact, no 32-bit overflow", () => {
    const store = openStore(new DatabaseSync(":memory:"));
    const thirty = NOW + 30 * DAY;
    const sixty = NOW + 60 * DAY + 1;
    store.add([
      { due: sixty, record: rec("sixty") },
      { due: thirty, record: rec("thirty") },
      { due: NOW + 2 ** 32, record: rec("2^32 ms") },
    ]);
    expect(store.nextDue()).toBe(thirty);
    expect(store.due(thirty - 1, 10, 1 << 20)).toEqual([]);
    expect(store.due(thirty, 10, 1 << 20).map(text)).toEqual(["thirty"]);
    expect(store.due(sixty - 1, 10, 1 << 20).map(text)).toEqual(["thirty", "2^32 ms"]);
    expect(store.due(sixty, 10, 1 << 20).map((m) => m.due)).toEqual([thirty, NOW + 2 ** 32, sixty]);
  });

  it("reads a bounded batch: at most maxCount, and no more than maxBytes unless the first alone is larger", () => {
    const store = openStore(new DatabaseSync(":memory:"));
    store.add(Array.from({ length: 50 }, (_, i) => ({ due: NOW, record: new Uint8Array(1000).fill(i) })));
    expect(store.due(NOW, 20, 1 << 20)).toHaveLength(20);
    expect(store.due(NOW, 100, 4500)).toHaveLength(4);
    expect(store.due(NOW, 100, 10)).toHaveLength(1);
  });

  it("records over 1 MiB are split across rows and come back whole; removing one removes its pieces", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = randomBytes(2 * DELAYED_CHUNK + 123);
    const exact = randomBytes(DELAYED_CHUNK);
    store.add([
      { due: NOW, record: big },
      { due: NOW, record: exact },
      { due: NOW, record: rec("small") },
    ]);
    expect(count(db, "SELECT COUNT(*) FROM delayed_chunks")).toBe(2);
    const due = store.due(NOW, 10, 64 << 20);
    expect(Buffer.from(due[0]!.record).equals(big)).toBe(true);
    expect(Buffer.from(due[1]!.record).equals(exact)).toBe(true);
    expect(text(due[2]!)).toBe("small");
    store.remove([due[0]!.id]);
    expect(count(db, "SELECT COUNT(*) FROM delayed_chunks")).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM delayed")).toBe(2);
  });
});

describe("Schedule.soonest: one task for the earliest of many due times", () => {
  function open(db: DatabaseSync) {
    migrate(doStorage(db), EXCHANGE_MIGRATIONS);
    const state = { alarm: null as number | null, sets: [] as number[] };
    const storage = {
      getAlarm: async () => state.alarm,
      setAlarm: async (at: number) => {
        state.alarm = at;
        state.sets.push(at);
      },
    };
    return { schedule: new Schedule(sqlStorage(db), storage), state, storage };
  }

  it("keeps the earlier time: a later one never moves the task or the alarm; an earlier one does", async () => {
    const db = new DatabaseSync(":memory:");
    const { schedule, state } = open(db);
    const thirtyDays = NOW + 30 * DAY;
    await schedule.soonest("due", thirtyDays, true);
    expect(state.alarm).toBe(thirtyDays);
    await schedule.soonest("due", thirtyDays + 5, true);
    await schedule.soonest("due", NOW + 500, true);
    await schedule.soonest("due", NOW + 900, true);
    expect(state.sets).toEqual([thirtyDays, NOW + 500]);
    expect(schedule.takeDue(NOW + 499)).toEqual([]);
    expect(schedule.takeDue(NOW + 500)).toEqual(["due"]);
  });

  it("a durable task survives a restart with its earliest time; the alarm is set again from it", async () => {
    const db = new DatabaseSync(":memory:");
    await open(db).schedule.soonest("due", NOW + 40 * DAY, true);
    await open(db).schedule.soonest("due", NOW + 10 * DAY, true);
    const after = open(db);
    await after.schedule.restore();
    expect(after.state.alarm).toBe(NOW + 10 * DAY);
    // An object whose alarm is unknown to it (armed is null) still arms the earlier time it keeps.
    const fresh = open(db);
    await fresh.schedule.soonest("due", NOW + 20 * DAY, true);
    expect(fresh.state.alarm).toBe(NOW + 10 * DAY);
  });

  it("volatile tasks keep the earlier time too", async () => {
    const { schedule, state } = open(new DatabaseSync(":memory:"));
    await schedule.soonest("v", NOW + 300, false);
    await schedule.soonest("v", NOW + 600, false);
    expect(schedule.takeDue(NOW + 300)).toEqual(["v"]);
    expect(state.sets).toEqual([NOW + 300]);
  });
});
