/** The part of DurableObjectStorage a schedule needs (tests pass a fake). */
export interface AlarmStorage {
  getAlarm(): Promise<number | null>;
  setAlarm(scheduledTime: number): Promise<void>;
}

/**
 * Everything an object must do later, behind its one alarm: a Durable Object has a single
 * alarm, and a timer dies with the object (eviction, restart) where an alarm does not. Tasks
 * are named; a durable task is a row in `schedule` (created by the object's migrations with
 * createScheduleTable), so it survives restarts and the alarm is re-armed from it at wake-up. A
 * volatile task lives in memory only: for work that is moot once the object is gone (a flush
 * of state that is itself only in memory). The alarm is set only when it must fire earlier
 * than it already will: each setAlarm is a write, billed.
 */
export class Schedule {
  private readonly volatile = new Map<string, number>();
  /** When the alarm is set to fire (null: not set, as far as this object knows). */
  private armed: number | null = null;

  constructor(
    private readonly sql: SqlStorage,
    private readonly storage: AlarmStorage,
  ) {}

  /** At wake-up: learns the alarm already set, and sets it for durable tasks if it is not. */
  async restore(): Promise<void> {
    this.armed = await this.storage.getAlarm();
    const next = this.nextDurable();
    if (next !== null) await this.arm(next);
  }

  /** Runs `task` at `due` (epoch ms), replacing an earlier schedule of the same task. */
  async at(task: string, due: number, durable: boolean): Promise<void> {
    if (durable) this.sql.exec("INSERT OR REPLACE INTO schedule (task, due) VALUES (?, ?)", task, due);
    else this.volatile.set(task, due);
    await this.arm(due);
  }

  /**
   * Runs `task` at `due` unless it is already scheduled earlier: the task keeps the earlier of
   * the two times. For work with many due times behind one task (the earliest of them).
   */
  async soonest(task: string, due: number, durable: boolean): Promise<void> {
    let at = due;
    if (durable) {
      this.sql.exec(
        "INSERT INTO schedule (task, due) VALUES (?, ?) ON CONFLICT (task) DO UPDATE SET due = excluded.due WHERE excluded.due < schedule.due",
        task,
        due,
      );
      at = this.sql.exec<{ due: number }>("SELECT due FROM schedule WHERE task = ?", task).toArray()[0]?.due ?? due;
    } else {
      const current = this.volatile.get(task);
      if (current === undefined || due < current) this.volatile.set(task, due);
      else at = current;
    }
    await this.arm(at);
  }

  /** True when the task is scheduled (volatile ones are checked in memory, durable ones in SQLite). */
  has(task: string, durable: boolean): boolean {
    if (!durable) return this.volatile.has(task);
    return this.sql.exec("SELECT 1 FROM schedule WHERE task = ?", task).toArray().length > 0;
  }

  cancel(task: string): void {
    this.volatile.delete(task);
    this.sql.exec("DELETE FROM schedule WHERE task = ?", task);
  }

  /**
   * From the alarm handler: the tasks due at `now`, taken off the schedule, in due order. Call
   * rearm() after running them.
   */
  takeDue(now: number): string[] {
    // The alarm that woke us has fired; whatever remains needs a new one.
    this.armed = null;
    const due: [string, number][] = [];
    for (const [task, at] of this.volatile) if (at <= now) due.push([task, at]);
    for (const [task] of due) this.volatile.delete(task);
    const rows = this.sql.exec<{ task: string; due: number }>("SELECT task, due FROM schedule WHERE due <= ?", now).toArray();
    if (rows.length > 0) this.sql.exec("DELETE FROM schedule WHERE due <= ?", now);
    for (const r of rows) due.push([r.task, r.due]);
    return due.sort((a, b) => a[1] - b[1]).map(([task]) => task);
  }

  /** Sets the alarm for the earliest task left, if any. */
  async rearm(): Promise<void> {
    let next = this.nextDurable();
    for (const at of this.volatile.values()) if (next === null || at < next) next = at;
    if (next !== null) await this.arm(next);
  }

  /** Forgets everything (the object's storage is being deleted). */
  clear(): void {
    this.volatile.clear();
    this.armed = null;
  }

  private nextDurable(): number | null {
    return this.sql.exec<{ due: number | null }>("SELECT MIN(due) AS due FROM schedule").toArray()[0]?.due ?? null;
  }

  private async arm(due: number): Promise<void> {
    if (this.armed !== null && this.armed <= due) return;
    this.armed = due;
    await this.storage.setAlarm(due);
  }
}

export function createScheduleTable(sql: SqlStorage): void {
  sql.exec("CREATE TABLE IF NOT EXISTS schedule (task TEXT PRIMARY KEY, due INTEGER NOT NULL)");
}
