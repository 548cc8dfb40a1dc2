import { baseline, type Migration } from "../migrate";

/** VhostDO's schema: the catalog of one vhost. Append; never edit a step that has shipped. */
export const VHOST_MIGRATIONS: readonly Migration[] = [
  baseline("queues, exchanges and connections of a vhost", (sql) => {
    // Each row is one entity's JSON record: written on create and delete only.
    sql.exec("CREATE TABLE IF NOT EXISTS queues (name TEXT PRIMARY KEY, record TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS exchanges (name TEXT PRIMARY KEY, record TEXT NOT NULL)");
    sql.exec("CREATE TABLE IF NOT EXISTS connections (id TEXT PRIMARY KEY, record TEXT NOT NULL)");
  }),
  {
    version: 2,
    name: "vhost limits (max-connections, max-queues)",
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS limits (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
    },
  },
];
