import { tableExists } from "./migrate";

// Small rows that queue and exchange objects read when they wake (their tables come from the
// queue and exchange migrations): the boot epoch they last ran in, and whether they still have
// to enter their vhost's catalog.

/** The boot epoch (core/boot.ts) this object last ran in; null when none was recorded. */
export function storedEpoch(sql: SqlStorage): string | null {
  return sql.exec<{ epoch: string }>("SELECT epoch FROM boot").toArray()[0]?.epoch ?? null;
}

export function recordEpoch(sql: SqlStorage, epoch: string | null): void {
  if (epoch !== null) sql.exec("INSERT OR REPLACE INTO boot (id, epoch) VALUES (1, ?)", epoch);
}

/** Declared before the vhost catalog existed and not yet entered in it. */
export function catalogPending(sql: SqlStorage): boolean {
  return tableExists(sql, "catalog_pending") && sql.exec("SELECT 1 FROM catalog_pending").toArray().length > 0;
}

export function catalogDone(sql: SqlStorage): void {
  sql.exec("DELETE FROM catalog_pending");
}
