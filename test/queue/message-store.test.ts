import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { MessageStore, PAGE_COUNT, WINDOW_BYTES, WINDOW_COUNT } from "../../src/queue/message-store";
import type { IncomingMessage } from "../../src/queue/types";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { count, doStorage, sqlStorage } from "../storage/sqlite";

/** A queue object's store as it opens: schema migrated first, as QueueDO does. */
function openStore(db: DatabaseSync): MessageStore {
  migrate(doStorage(db), QUEUE_MIGRATIONS);
  return new MessageStore(sqlStorage(db));
}

function message(body: Uint8Array): IncomingMessage {
  return { exchange: "", routingKey: "q", header: new Uint8Array([0, 60, 0, 0]), body, persistent: true };
}

describe("MessageStore bodies over the SQLite row limit", () => {
  it("splits a large body across rows of at most 1 MiB and reassembles it after a restart", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = randomBytes(3.5 * 2 ** 20);
    const small = randomBytes(100);
    const exact = randomBytes(2 ** 20);
    store.append([message(small), message(big), message(exact)], () => false);
    expect(count(db, "SELECT MAX(LENGTH(data)) FROM message_records")).toBeLessThanOrEqual(2 ** 20);
    expect(count(db, "SELECT MAX(LENGTH(data)) FROM message_record_chunks")).toBeLessThanOrEqual(2 ** 20);
    // The record (fields + body) is split: 3.5 MiB + a few bytes in 4 pieces, 1 MiB + a few in 2.
    expect(count(db, "SELECT COUNT(*) FROM message_record_chunks")).toBe(4);

    const restarted = openStore(db);
    restarted.load();
    const bodies = [restarted.shift(), restarted.shift(), restarted.shift()].map((m) => Buffer.from(m!.body));
    expect(bodies[0]!.equals(small)).toBe(true);
    expect(bodies[1]!.equals(big)).toBe(true);
    expect(bodies[2]!.equals(exact)).toBe(true);
  });

  it("removing or clearing messages deletes their extra rows too", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append([message(randomBytes(2.5 * 2 ** 20)), message(randomBytes(10)), message(randomBytes(1.5 * 2 ** 20))], () => false);
    const first = store.shift()!;
    store.remove([first]);
    store.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM message_record_chunks")).toBe(1);
    expect(count(db, "SELECT COUNT(*) FROM message_records")).toBe(2);

    // After a restart the store still knows which messages have extra rows.
    const restarted = openStore(db);
    restarted.load();
    const [a, b] = [restarted.shift()!, restarted.shift()!];
    restarted.remove([a, b]);
    restarted.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM message_record_chunks")).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM message_records")).toBe(0);

    restarted.append([message(randomBytes(3 * 2 ** 20))], () => false);
    restarted.clear();
    expect(count(db, "SELECT COUNT(*) FROM message_record_chunks")).toBe(0);
  });

  it("a message first kept only in memory is split when it is written later", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = randomBytes(2 * 2 ** 20 + 5);
    store.append([message(big)], () => true);
    expect(count(db, "SELECT COUNT(*) FROM message_records")).toBe(0);
    store.persistReady();
    expect(count(db, "SELECT COUNT(*) FROM message_record_chunks")).toBe(2);
    const restarted = openStore(db);
    restarted.load();
    expect(Buffer.from(restarted.shift()!.body).equals(big)).toBe(true);
  });
});

describe("MessageStore batched statements", () => {
  it("writes many small messages in multi-row inserts and reads them back in order", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const bodies = Array.from({ length: 37 }, (_, i) => new Uint8Array([i]));
    store.append(bodies.map(message), () => false);
    const restarted = openStore(db);
    restarted.load();
    const got = Array.from({ length: 37 }, () => restarted.shift()!.body[0]);
    expect(got).toEqual(bodies.map((b) => b[0]));
  });

  it("removes exactly the given messages, contiguous runs and scattered ones alike", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(
      Array.from({ length: 300 }, () => message(new Uint8Array([1]))),
      () => false,
    );
    const all = Array.from({ length: 300 }, () => store.shift()!);
    // seqs 1..300: remove a run (10..150), pairs (200, 201), and scattered odd ones above 250.
    const gone = all.filter((m) => (m.seq >= 10 && m.seq <= 150) || m.seq === 200 || m.seq === 201 || (m.seq > 250 && m.seq % 2 === 1));
    store.remove(gone);
    // remove() only notes the deletes; they reach the table with flushRemovals().
    expect(count(db, "SELECT COUNT(*) FROM message_records")).toBe(300);
    expect(store.pendingRemovals).toBe(gone.length);
    store.flushRemovals();
    expect(store.pendingRemovals).toBe(0);
    const left = db
      .prepare("SELECT seq FROM message_records ORDER BY seq")
      .all()
      .map((r) => Number(r.seq));
    const expected = all.map((m) => m.seq).filter((seq) => !gone.some((g) => g.seq === seq));
    expect(left).toEqual(expected);
  });
});

describe("MessageStore schema", () => {
  it("migration 2 moves messages stored one field per column (the first schema) into records, once", () => {
    const db = new DatabaseSync(":memory:");
    db.exec(`CREATE TABLE messages (seq INTEGER PRIMARY KEY, exchange TEXT NOT NULL, routing_key TEXT NOT NULL,
      header BLOB NOT NULL, body BLOB NOT NULL, redelivered INTEGER NOT NULL)`);
    db.exec("CREATE TABLE message_chunks (seq INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (seq, idx))");
    const header = new Uint8Array([0, 60, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0]);
    const big = randomBytes(2 ** 20 + 10);
    const insert = db.prepare("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?)");
    insert.run(5, "amq.topic", "a.b", header, new Uint8Array([1, 2, 3]), 1);
    insert.run(9, "", "q", header, big.subarray(0, 2 ** 20), 0);
    db.prepare("INSERT INTO message_chunks VALUES (?, ?, ?)").run(9, 1, big.subarray(2 ** 20));

    const store = openStore(db);
    store.load();
    expect(count(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('messages', 'message_chunks')")).toBe(0);
    const a = store.shift()!;
    const b = store.shift()!;
    expect([a.seq, a.exchange, a.routingKey, a.redelivered, [...a.body]]).toEqual([5, "amq.topic", "a.b", true, [1, 2, 3]]);
    expect([...a.header]).toEqual([...header]);
    expect([b.seq, b.exchange, b.routingKey, b.redelivered]).toEqual([9, "", "q", false]);
    expect(Buffer.from(b.body).equals(big)).toBe(true);
    expect(store.shift()).toBeUndefined();

    // A second start finds nothing left to move and the same messages.
    const again = openStore(db);
    again.load();
    expect([again.shift()!.seq, again.shift()!.seq]).toEqual([5, 9]);
  });

  it("keeps the redelivered flag across a restart", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append([message(new Uint8Array([7])), message(new Uint8Array([8]))], () => false);
    const first = store.shift()!;
    store.requeue([first], true);
    const restarted = openStore(db);
    restarted.load();
    expect([restarted.shift()!.redelivered, restarted.shift()!.redelivered]).toEqual([true, false]);
  });

  it("messages handed out in ack mode come back redelivered after a restart; seqs are never reused", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append([message(new Uint8Array([1])), message(new Uint8Array([2])), message(new Uint8Array([3]))], () => false);
    const [a, b] = [store.shift()!, store.shift()!];
    store.markDelivered(b.seq);
    let restarted = openStore(db);
    restarted.load();
    const all = [restarted.shift()!, restarted.shift()!, restarted.shift()!];
    expect(all.map((m) => [m.seq, m.redelivered])).toEqual([
      [a.seq, true],
      [b.seq, true],
      [3, false],
    ]);
    // All three handed out, acked and gone: a message published after the next restart gets a
    // fresh seq, so it is not mistaken for one handed out before.
    restarted.markDelivered(3);
    restarted.remove(all);
    restarted.flushRemovals();
    restarted = openStore(db);
    restarted.load();
    restarted.append([message(new Uint8Array([4]))], () => false);
    const fresh = restarted.shift()!;
    expect(fresh.seq).toBeGreaterThan(3);
    const again = openStore(db);
    again.load();
    expect(again.shift()!.redelivered).toBe(false);
  });
});

describe("MessageStore keeps only a window of a backlog in memory", () => {
  const body = (i: number) => {
    const b = new Uint8Array(128);
    new DataView(b.buffer).setUint32(0, i);
    return b;
  };
  const numberOf = (m: { body: Uint8Array } | undefined) => new DataView(m!.body.buffer, m!.body.byteOffset).getUint32(0);

  it("a backlog 3× the window: at most WINDOW_COUNT in memory; all come out intact and in order, across page loads and requeues", () => {
    const total = 3 * WINDOW_COUNT;
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    for (let i = 0; i < total; i += 100) {
      store.append(
        Array.from({ length: 100 }, (_, k) => message(body(i + k))),
        () => false,
      );
    }
    expect(store.readyCount).toBe(total);
    expect(store.unloadedCount).toBeGreaterThanOrEqual(total - WINDOW_COUNT);
    const out: number[] = [];
    const held = [];
    for (let i = 0; i < 5000; i++) held.push(store.shift()!);
    // Some go back (a channel closed): they come out again first, in seq order, redelivered.
    store.requeue(held.slice(4000), true);
    for (const m of held.slice(0, 4000)) out.push(numberOf(m));
    for (;;) {
      const m = store.shift();
      if (!m) break;
      expect(store.readyCount - store.unloadedCount).toBeLessThanOrEqual(WINDOW_COUNT);
      out.push(numberOf(m));
    }
    expect(out).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it("after a restart only an index is read: the contents come a page at a time", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(
      Array.from({ length: 5000 }, (_, i) => message(body(i))),
      () => false,
    );
    const restarted = openStore(db);
    restarted.load();
    expect(restarted.readyCount).toBe(5000);
    expect(restarted.unloadedCount).toBe(5000);
    // PAGE_COUNT (2000) < 5000: the first shift reads one page, not everything.
    expect(numberOf(restarted.shift())).toBe(0);
    expect(restarted.unloadedCount).toBeLessThan(5000);
    expect(restarted.readyCount - restarted.unloadedCount).toBeLessThanOrEqual(PAGE_COUNT);
    const rest: number[] = [];
    for (let m = restarted.shift(); m; m = restarted.shift()) rest.push(numberOf(m));
    expect(rest).toEqual(Array.from({ length: 4999 }, (_, i) => i + 1));
  });

  it("large messages: the window is bounded by bytes (WINDOW_BYTES), and they come back intact", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = (i: number) => {
      const b = new Uint8Array(64 * 1024).fill(i % 251);
      new DataView(b.buffer).setUint32(0, i);
      return b;
    };
    for (let i = 0; i < 500; i += 10)
      store.append(
        Array.from({ length: 10 }, (_, k) => message(big(i + k))),
        () => false,
      );
    expect(store.readyCount - store.unloadedCount).toBeLessThanOrEqual(Math.ceil(WINDOW_BYTES / (64 * 1024)) + 1);
    for (let i = 0; i < 500; i++) {
      const m = store.shift()!;
      expect(numberOf(m)).toBe(i);
      expect(m.body[100]).toBe(i % 251);
    }
  });
});
