import { baseline, type Migration } from "../migrate";

/** ControlDO's schema (users, vhosts, permissions, policies). Append; never edit a step that has shipped. */
export const CONTROL_MIGRATIONS: readonly Migration[] = [
  baseline("users, vhosts, permissions, policies", (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS users (
        name TEXT PRIMARY KEY, password_hash TEXT NOT NULL, hashing_algorithm TEXT NOT NULL, tags TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS vhosts (
        name TEXT PRIMARY KEY, description TEXT NOT NULL, tags TEXT NOT NULL, default_queue_type TEXT NOT NULL,
        limits TEXT NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS permissions (
        user TEXT NOT NULL, vhost TEXT NOT NULL, configure TEXT NOT NULL, write TEXT NOT NULL, read TEXT NOT NULL,
        PRIMARY KEY (user, vhost))`);
    sql.exec(`CREATE TABLE IF NOT EXISTS policies (
        vhost TEXT NOT NULL, name TEXT NOT NULL, pattern TEXT NOT NULL, apply_to TEXT NOT NULL, priority INTEGER NOT NULL,
        definition TEXT NOT NULL, PRIMARY KEY (vhost, name))`);
    // Seeding (the default vhost and user) happens once, recorded here.
    sql.exec("CREATE TABLE IF NOT EXISTS control_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)");
  }),
  {
    version: 2,
    name: "user limits (max-connections)",
    up(sql) {
      sql.exec("ALTER TABLE users ADD COLUMN limits TEXT NOT NULL DEFAULT '{}'");
    },
  },
];
