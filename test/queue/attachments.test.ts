import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { Attachments } from "../../src/queue/attachments";
import type { Consumer } from "../../src/queue/consumers";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { count, doStorage } from "../storage/sqlite";

const consumer = (connId: string, tag: string, noAck = false): Consumer => ({
  connId,
  tag,
  channel: 1,
  noAck,
  exclusive: false,
  prefetch: 10,
  arguments: {},
  unacked: 0,
  paused: false,
  resumedAt: 0,
});

function setup() {
  const db = new DatabaseSync(":memory:");
  const storage = doStorage(db);
  migrate(storage, QUEUE_MIGRATIONS);
  return { db, a: new Attachments(storage.sql), fresh: () => new Attachments(doStorage(db).sql) };
}

describe("Attachments: what a restarted queue needs to find its connections", () => {
  it("consumers and peers survive in SQLite; a new object loads them", () => {
    const { a, fresh } = setup();
    a.consumerAdded(consumer("c1", "t1"));
    a.consumerAdded(consumer("c2", "t2", true));
    a.peer("c1");
    a.peer("c3"); // basic.get in ack mode, no consumer
    const loaded = fresh().load();
    expect(loaded.consumers.map((c) => [c.connId, c.tag, c.noAck, c.prefetch])).toEqual([
      ["c1", "t1", false, 10],
      ["c2", "t2", true, 10],
    ]);
    expect(loaded.peers.sort()).toEqual(["c1", "c2", "c3"]);
  });

  it("a peer is written once, however many deliveries it gets", () => {
    const { db, a } = setup();
    for (let i = 0; i < 100; i++) a.peer("c1");
    expect(count(db, "SELECT COUNT(*) FROM peers")).toBe(1);
    expect(count(db, "SELECT COUNT(*) FROM schema_migrations")).toBe(QUEUE_MIGRATIONS.length);
  });

  it("cancel, prefetch change and a vanished connection are written; nothing else is", () => {
    const { db, a, fresh } = setup();
    const c1 = consumer("c1", "t1");
    a.consumerAdded(c1);
    a.consumerAdded(consumer("c1", "t2"));
    a.peer("c1");
    c1.prefetch = 3;
    a.prefetchChanged(c1);
    a.consumersRemoved([consumer("c1", "t2")]);
    expect(
      fresh()
        .load()
        .consumers.map((c) => [c.tag, c.prefetch]),
    ).toEqual([["t1", 3]]);
    a.connectionGone("c1");
    expect(count(db, "SELECT COUNT(*) FROM consumers")).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM peers")).toBe(0);
  });
});
