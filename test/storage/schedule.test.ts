import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { createScheduleTable, Schedule } from "../../src/storage/schedule";
import { sqlStorage } from "./sqlite";

/** The alarm API of a Durable Object's storage, recording each setAlarm (a billed write). */
function fakeAlarm(initial: number | null = null) {
  const state = { alarm: initial, sets: [] as number[] };
  return {
    state,
    storage: {
      getAlarm: async () => state.alarm,
      setAlarm: async (t: number) => {
        state.alarm = t;
        state.sets.push(t);
      },
    },
  };
}

function open(db: DatabaseSync, alarm = fakeAlarm()) {
  const sql = sqlStorage(db);
  createScheduleTable(sql);
  return { schedule: new Schedule(sql, alarm.storage), alarm };
}

describe("Schedule: one alarm for everything an object does later", () => {
  it("sets the alarm only when a task is due earlier than it already fires", async () => {
    const { schedule, alarm } = open(new DatabaseSync(":memory:"));
    await schedule.at("b", 2000, true);
    await schedule.at("c", 3000, false);
    await schedule.at("a", 1000, false);
    expect(alarm.state.sets).toEqual([2000, 1000]);
    expect(schedule.takeDue(1500)).toEqual(["a"]);
    await schedule.rearm();
    expect(alarm.state.alarm).toBe(2000);
    expect(schedule.takeDue(5000)).toEqual(["b", "c"]);
    await schedule.rearm();
    expect(alarm.state.sets).toEqual([2000, 1000, 2000]);
  });

  it("durable tasks survive a restart of the object, and the alarm is set again if it was lost; volatile ones do not", async () => {
    const db = new DatabaseSync(":memory:");
    const first = open(db);
    await first.schedule.at("expire", 5000, true);
    await first.schedule.at("flush", 100, false);
    expect(first.schedule.has("expire", true) && first.schedule.has("flush", false)).toBe(true);
    // A new object over the same storage, its alarm gone (as after a failed alarm or a migration).
    const second = open(db, fakeAlarm(null));
    await second.schedule.restore();
    expect(second.alarm.state.alarm).toBe(5000);
    expect(second.schedule.has("flush", false)).toBe(false);
    expect(second.schedule.takeDue(6000)).toEqual(["expire"]);
    expect(second.schedule.has("expire", true)).toBe(false);
  });

  it("a task scheduled again replaces its earlier time; a cancelled task never comes due", async () => {
    const { schedule } = open(new DatabaseSync(":memory:"));
    await schedule.at("x", 1000, true);
    await schedule.at("x", 4000, true);
    expect(schedule.takeDue(2000)).toEqual([]);
    await schedule.at("y", 1000, false);
    schedule.cancel("y");
    schedule.cancel("x");
    expect(schedule.takeDue(10_000)).toEqual([]);
  });
});
