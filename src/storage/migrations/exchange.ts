import { createBindingTable } from "../binding-rows";
import { baseline, type Migration } from "../migrate";
import { createScheduleTable } from "../schedule";

/** ExchangeDO's schema, one numbered step at a time. Append; never edit a step that has shipped. */
export const EXCHANGE_MIGRATIONS: readonly Migration[] = [
  baseline("declaration, bindings, inbound bindings and subscribers", (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS exchange (
        id INTEGER PRIMARY KEY CHECK (id = 1), vhost TEXT NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL,
        durable INTEGER NOT NULL, auto_delete INTEGER NOT NULL, internal INTEGER NOT NULL, arguments BLOB NOT NULL)`);
    createBindingTable(sql, "bindings", "destination");
    createBindingTable(sql, "inbound", "source");
    sql.exec("CREATE TABLE IF NOT EXISTS subscribers (id TEXT PRIMARY KEY)");
  }),
  {
    version: 2,
    name: "subscribers addressed as connection or queue",
    // Subscribers used to be connection ids only; they now carry their kind (core/names.ts).
    up(sql) {
      sql.exec("UPDATE subscribers SET id = 'c:' || id WHERE id NOT LIKE 'c:%' AND id NOT LIKE 'q:%'");
    },
  },
  {
    version: 3,
    name: "exchanges declared before the vhost catalog existed",
    // Such an exchange enters its vhost's catalog the next time it wakes (exchange-do.ts), once.
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS catalog_pending (id INTEGER PRIMARY KEY CHECK (id = 1))");
      sql.exec("INSERT OR IGNORE INTO catalog_pending (id) SELECT 1 FROM exchange");
    },
  },
  {
    version: 4,
    name: "boot epoch",
    // The broker run (core/boot.ts) this exchange last ran in: a different one at wake-up is a restart.
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS boot (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL)");
    },
  },
  {
    version: 5,
    name: "delayed messages and the schedule",
    // A delayed-message exchange holds messages until due (exchange/delayed-store.ts): a row per
    // message, records over 1 MiB continued in delayed_chunks; its alarm runs storage/schedule.ts.
    up(sql) {
      sql.exec(
        "CREATE TABLE IF NOT EXISTS delayed (id INTEGER PRIMARY KEY, due INTEGER NOT NULL, chunks INTEGER NOT NULL, data BLOB NOT NULL)",
      );
      sql.exec("CREATE INDEX IF NOT EXISTS delayed_by_due ON delayed (due, id)");
      sql.exec(
        "CREATE TABLE IF NOT EXISTS delayed_chunks (id INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (id, idx))",
      );
      createScheduleTable(sql);
    },
  },
];
