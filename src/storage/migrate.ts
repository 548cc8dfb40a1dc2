/** One numbered schema change of a Durable Object class. */
export interface Migration {
  version: number;
  name: string;
  up(sql: SqlStorage): void;
}

/**
 * Migration 1 of a class: the schema as objects had it before numbered migrations. Its
 * statements must be idempotent (CREATE … IF NOT EXISTS): such objects already have the tables
 * and are adopted as they are.
 */
export function baseline(name: string, up: (sql: SqlStorage) => void): Migration {
  return { version: 1, name, up };
}

/** The part of DurableObjectStorage that migrations need (tests pass an in-memory one). */
export interface MigratableStorage {
  readonly sql: SqlStorage;
  transactionSync<T>(fn: () => T): T;
}

/**
 * Brings an object's SQLite schema up to date: each migration not yet recorded in
 * schema_migrations runs in its own transaction together with its record. Run it inside
 * blockConcurrencyWhile, so no request ever sees a half-migrated object. Returns the versions
 * applied now.
 */
export function migrate(storage: MigratableStorage, migrations: readonly Migration[]): number[] {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1) throw new Error(`migration '${m.name}' has version ${m.version}, expected ${i + 1}`);
  });
  const { sql } = storage;
  sql.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  const done = new Set(
    sql
      .exec<{ version: number }>("SELECT version FROM schema_migrations")
      .toArray()
      .map((r) => r.version),
  );
  const applied: number[] = [];
  for (const m of migrations) {
    if (done.has(m.version)) continue;
    storage.transactionSync(() => {
      m.up(sql);
      sql.exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", m.version, m.name, Date.now());
    });
    applied.push(m.version);
  }
  return applied;
}

export function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}

/** The names of a table's columns (for a migration that adds one only where it is missing). */
export function columnNames(sql: SqlStorage, table: string): Set<string> {
  return new Set(
    sql
      .exec<{ name: string }>("SELECT name FROM pragma_table_info(?)", table)
      .toArray()
      .map((c) => c.name),
  );
}
