import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { type Migration, migrate } from "../../src/storage/migrate";
import { CONTROL_MIGRATIONS } from "../../src/storage/migrations/control";
import { EXCHANGE_MIGRATIONS } from "../../src/storage/migrations/exchange";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { VHOST_MIGRATIONS } from "../../src/storage/migrations/vhost";
import { count, doStorage } from "./sqlite";

const step = (version: number, sql: string): Migration => ({ version, name: `step ${version}`, up: (s) => void s.exec(sql) });

describe("numbered migrations", () => {
  it("applies each step once, in order, and records it", () => {
    const db = new DatabaseSync(":memory:");
    const steps = [step(1, "CREATE TABLE a (x INTEGER)"), step(2, "INSERT INTO a VALUES (1)")];
    expect(migrate(doStorage(db), steps)).toEqual([1, 2]);
    expect(migrate(doStorage(db), steps)).toEqual([]);
    expect(count(db, "SELECT COUNT(*) FROM a")).toBe(1);
    const more = [...steps, step(3, "INSERT INTO a VALUES (2)")];
    expect(migrate(doStorage(db), more)).toEqual([3]);
    expect(count(db, "SELECT COUNT(*) FROM a")).toBe(2);
    expect(count(db, "SELECT MAX(version) FROM schema_migrations")).toBe(3);
  });

  it("a failing step leaves neither its changes nor its record, and stops the later ones", () => {
    const db = new DatabaseSync(":memory:");
    const failing: Migration = {
      version: 2,
      name: "half done",
      up(sql) {
        sql.exec("INSERT INTO a VALUES (1)");
        throw new Error("boom");
      },
    };
    const steps = [step(1, "CREATE TABLE a (x INTEGER)"), failing, step(3, "INSERT INTO a VALUES (3)")];
    expect(() => migrate(doStorage(db), steps)).toThrow("boom");
    expect(count(db, "SELECT COUNT(*) FROM a")).toBe(0);
    expect(count(db, "SELECT MAX(version) FROM schema_migrations")).toBe(1);
  });

  it("refuses a list whose versions are not 1, 2, 3, …", () => {
    const db = new DatabaseSync(":memory:");
    expect(() => migrate(doStorage(db), [step(1, "SELECT 1"), step(3, "SELECT 1")])).toThrow(/expected 2/);
  });

  it("the shipped lists are numbered from 1 without gaps and bring an empty object to a working schema", () => {
    for (const list of [QUEUE_MIGRATIONS, EXCHANGE_MIGRATIONS, CONTROL_MIGRATIONS, VHOST_MIGRATIONS]) {
      const db = new DatabaseSync(":memory:");
      expect(migrate(doStorage(db), list)).toEqual(list.map((_, i) => i + 1));
    }
  });

  it("an object created before numbered migrations (tables but no record) is adopted without losing rows", () => {
    const db = new DatabaseSync(":memory:");
    // The exchange schema as the code before numbered migrations created it, with a subscriber.
    db.exec("CREATE TABLE subscribers (id TEXT PRIMARY KEY)");
    db.exec("INSERT INTO subscribers VALUES ('0123abcd')");
    migrate(doStorage(db), EXCHANGE_MIGRATIONS);
    // Migration 2 addresses old subscribers as connections.
    expect(db.prepare("SELECT id FROM subscribers").all()).toEqual([{ id: "c:0123abcd" }]);
    migrate(doStorage(db), EXCHANGE_MIGRATIONS);
    expect(db.prepare("SELECT id FROM subscribers").all()).toEqual([{ id: "c:0123abcd" }]);
  });

  it("queues and exchanges declared before the vhost catalog existed are marked to enter it; new ones are not", () => {
    for (const [list, table, before] of [
      [QUEUE_MIGRATIONS, "queue", 3],
      [EXCHANGE_MIGRATIONS, "exchange", 2],
    ] as const) {
      const old = new DatabaseSync(":memory:");
      migrate(doStorage(old), list.slice(0, before));
      const columns =
        table === "queue"
          ? "vhost, name, durable, exclusive, owner, auto_delete, arguments"
          : "vhost, name, type, durable, auto_delete, internal, arguments";
      const values = table === "queue" ? "'/', 'q', 1, 0, NULL, 0, x''" : "'/', 'x', 'direct', 1, 0, 0, x''";
      old.exec(`INSERT INTO ${table} (id, ${columns}) VALUES (1, ${values})`);
      migrate(doStorage(old), list);
      expect(count(old, "SELECT COUNT(*) FROM catalog_pending"), table).toBe(1);
      const fresh = new DatabaseSync(":memory:");
      migrate(doStorage(fresh), list);
      expect(count(fresh, "SELECT COUNT(*) FROM catalog_pending"), table).toBe(0);
    }
  });

  it("control: user limits arrive as an empty object on existing users", () => {
    const db = new DatabaseSync(":memory:");
    migrate(doStorage(db), CONTROL_MIGRATIONS.slice(0, 1));
    db.exec("INSERT INTO users (name, password_hash, hashing_algorithm, tags) VALUES ('u', '', 'rabbit_password_hashing_sha256', '')");
    migrate(doStorage(db), CONTROL_MIGRATIONS);
    expect(db.prepare("SELECT limits FROM users").all()).toEqual([{ limits: "{}" }]);
  });
});
