import type { DatabaseSync, SQLInputValue } from "node:sqlite";
import type { MigratableStorage } from "../../src/storage/migrate";

/** Just enough of the Durable Object SqlStorage API, over node:sqlite, for the storage code. */
export function sqlStorage(db: DatabaseSync): SqlStorage {
  const exec = (query: string, ...bindings: unknown[]) => {
    const stmt = db.prepare(query);
    const args = bindings as SQLInputValue[];
    const select = /^\s*SELECT/i.test(query);
    const changes = select ? 0 : Number(stmt.run(...args).changes);
    const rows = select ? stmt.all(...args) : [];
    return { toArray: () => rows, rowsWritten: changes, [Symbol.iterator]: () => rows[Symbol.iterator]() };
  };
  return { exec } as unknown as SqlStorage;
}

/** A Durable Object's storage as migrations see it: SQL plus synchronous transactions. */
export function doStorage(db: DatabaseSync): MigratableStorage {
  return {
    sql: sqlStorage(db),
    transactionSync<T>(fn: () => T): T {
      db.exec("BEGIN");
      try {
        const result = fn();
        db.exec("COMMIT");
        return result;
      } catch (err) {
        db.exec("ROLLBACK");
        throw err;
      }
    },
  };
}

export const count = (db: DatabaseSync, sql: string): number => Number(Object.values(db.prepare(sql).get()!)[0]);
