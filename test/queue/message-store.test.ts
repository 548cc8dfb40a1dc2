import { randomBytes } from "node:crypto";
import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { PriorityStore } from "../../src/queue/priority-store";
import { MessageStore, PAGE_COUNT, WATERMARK_AHEAD, WINDOW_BYTES, WINDOW_COUNT, type WindowLimits } from "../../src/queue/message-store";
import type { IncomingMessage } from "../../src/queue/types";
import { encodeRecord } from "../../src/storage/message-record";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { writeRecordRow } from "../../src/storage/record-rows";
import { count, doStorage, sqlStorage } from "../storage/sqlite";

/** A queue object's store as it opens: schema migrated first, as QueueDO does. */
function openStore(db: DatabaseSync, window?: WindowLimits): MessageStore {
  migrate(doStorage(db), QUEUE_MIGRATIONS);
  return new MessageStore(sqlStorage(db), window);
}

function message(body: Uint8Array): IncomingMessage {
  return { exchange: "", routingKey: "q", header: new Uint8Array([0, 60, 0, 0]), body, persistent: true };
}

const numbered = (i: number, size = 128) => {
  const b = new Uint8Array(size);
  new DataView(b.buffer).setUint32(0, i);
  return b;
};
const numberOf = (m: { body: Uint8Array } | undefined) => new DataView(m!.body.buffer, m!.body.byteOffset).getUint32(0);
const drain = (store: MessageStore) => {
  const out = [];
  for (let m = store.shift(); m; m = store.shift()) out.push(m);
  return out;
};

describe("MessageStore segments", () => {
  it("a publish batch is one segment row; it is deleted once every message in it is settled", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(Array.from({ length: 100 }, (_, i) => message(numbered(i))));
    store.append(Array.from({ length: 50 }, (_, i) => message(numbered(100 + i))));
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(2);
    const all = drain(store);
    expect(all.map(numberOf)).toEqual(Array.from({ length: 150 }, (_, i) => i));
    store.remove(all.slice(0, 99));
    store.flushRemovals();
    // 99 of the first 100 settled: the row stays, its settled bitmap is written.
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(2);
    expect(count(db, "SELECT COUNT(*) FROM segment_acks")).toBe(1);
    store.remove(all.slice(99));
    store.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM segment_acks")).toBe(0);
  });

  it("settles written as bitmaps hold across a restart: settled messages do not come back, the rest do in order", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(Array.from({ length: 300 }, (_, i) => message(numbered(i))));
    const all = drain(store);
    const gone = all.filter((m) => (m.seq >= 10 && m.seq <= 150) || m.seq === 200 || m.seq === 201 || (m.seq > 250 && m.seq % 2 === 1));
    store.remove(gone);
    // remove() only notes the settles; they reach the disk with flushRemovals().
    expect(count(db, "SELECT COUNT(*) FROM segment_acks")).toBe(0);
    expect(store.pendingRemovals).toBe(gone.length);
    store.flushRemovals();
    expect(store.pendingRemovals).toBe(0);
    const restarted = openStore(db);
    restarted.load();
    const expected = all.filter((m) => !gone.includes(m)).map((m) => m.seq);
    expect(restarted.readyCount).toBe(expected.length);
    expect(drain(restarted).map((m) => m.seq)).toEqual(expected);
  });

  it("steady state: rows written per message stay far below one (one insert and one delete per batch)", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    let rows = 0;
    const sql = sqlStorage(db);
    const counted = {
      exec: (q: string, ...b: unknown[]) => {
        const c = sql.exec(q, ...(b as SqlStorageValue[]));
        rows += c.rowsWritten;
        return c;
      },
    } as unknown as SqlStorage;
    const s = new MessageStore(counted);
    s.load();
    for (let batch = 0; batch < 100; batch++) {
      s.append(Array.from({ length: 100 }, (_, i) => message(numbered(batch * 100 + i))));
      // A consumer takes and acks in slices of 30, flushing with each publish, as QueueDO does.
      for (let k = 0; k < 100; k += 30) {
        const taken = [];
        for (let j = 0; j < 30; j++) {
          const m = s.shift();
          if (m) taken.push(m);
        }
        s.remove(taken);
        s.flushRemovals();
      }
    }
    s.flushRemovals();
    expect(store.readyCount).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(0);
    // 100 inserts, 100 deletes, plus at most one bitmap per flush of a partly settled segment.
    expect(rows / 10_000).toBeLessThanOrEqual(0.06);
  });
});

describe("MessageStore bodies over the SQLite row limit", () => {
  it("splits a large segment across rows of at most 1 MiB and reassembles it after a restart", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = randomBytes(3.5 * 2 ** 20);
    const small = randomBytes(100);
    const exact = randomBytes(2 ** 20);
    store.append([message(small), message(big), message(exact)]);
    expect(count(db, "SELECT MAX(LENGTH(data)) FROM segments")).toBeLessThanOrEqual(2 ** 20);
    expect(count(db, "SELECT MAX(LENGTH(data)) FROM segment_chunks")).toBeLessThanOrEqual(2 ** 20);
    const restarted = openStore(db);
    restarted.load();
    const bodies = drain(restarted).map((m) => Buffer.from(m.body));
    expect(bodies).toHaveLength(3);
    expect(bodies[0]!.equals(small)).toBe(true);
    expect(bodies[1]!.equals(big)).toBe(true);
    expect(bodies[2]!.equals(exact)).toBe(true);
  });

  it("settling or clearing messages deletes their chunk rows too", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append([message(randomBytes(2.5 * 2 ** 20)), message(randomBytes(10)), message(randomBytes(1.5 * 2 ** 20))]);
    const first = store.shift()!;
    store.remove([first]);
    store.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(2);
    const restarted = openStore(db);
    restarted.load();
    restarted.remove(drain(restarted));
    restarted.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM segment_chunks")).toBe(0);
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(0);
    restarted.append([message(randomBytes(3 * 2 ** 20))]);
    expect(count(db, "SELECT COUNT(*) FROM segment_chunks")).toBeGreaterThan(0);
    restarted.clear();
    expect(count(db, "SELECT COUNT(*) FROM segment_chunks")).toBe(0);
  });
});

describe("MessageStore schema", () => {
  it("migration 2 moves messages stored one field per column (the first schema) into records, and 7 into segments", () => {
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
    expect(count(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('messages', 'message_chunks', 'message_records')")).toBe(0);
    const a = store.shift()!;
    const b = store.shift()!;
    expect([a.seq, a.exchange, a.routingKey, a.redelivered, [...a.body]]).toEqual([5, "amq.topic", "a.b", true, [1, 2, 3]]);
    expect([...a.header]).toEqual([...header]);
    expect([b.seq, b.exchange, b.routingKey]).toEqual([9, "", "q"]);
    expect(Buffer.from(b.body).equals(big)).toBe(true);
    expect(store.shift()).toBeUndefined();

    // A second start finds nothing left to move and the same messages.
    const again = openStore(db);
    again.load();
    expect([again.shift()!.seq, again.shift()!.seq]).toEqual([5, 9]);
  });

  it("migration 7: a queue in the one-row-per-message layout keeps every message, flags and order", () => {
    const db = new DatabaseSync(":memory:");
    const storage = doStorage(db);
    migrate(storage, QUEUE_MIGRATIONS.slice(0, 6));
    const sql = sqlStorage(db);
    const big = randomBytes(2.5 * 2 ** 20);
    // seqs 1..1500 with gaps (acked ones), one chunked, some non-persistent, two requeued (flag 1).
    const seqs = Array.from({ length: 1500 }, (_, i) => i + 1).filter((s) => s % 7 !== 0);
    for (const seq of seqs) {
      const body = seq === 100 ? big : numbered(seq);
      const record = encodeRecord({
        exchange: "x",
        routingKey: `k${seq}`,
        header: new Uint8Array([0, 60, 0, 0]),
        body,
        persistent: seq % 5 !== 0,
      });
      writeRecordRow(sql, seq, seq === 40 || seq === 41, record, "INSERT");
    }
    sql.exec("INSERT INTO queue_state (id, delivered_through) VALUES (1, 20)");
    const store = openStore(db);
    store.load();
    expect(count(db, "SELECT COUNT(*) FROM sqlite_master WHERE name IN ('message_records', 'message_record_chunks')")).toBe(0);
    const all = drain(store);
    expect(all.map((m) => m.seq)).toEqual(seqs);
    for (const m of all) {
      expect(m.routingKey).toBe(`k${m.seq}`);
      expect(m.persistent).toBe(m.seq % 5 !== 0);
      // Up to the watermark, raised to the highest flagged seq (41): redelivered.
      expect(m.redelivered).toBe(m.seq <= 41);
      if (m.seq === 100) expect(Buffer.from(m.body).equals(big)).toBe(true);
      else expect(numberOf(m)).toBe(m.seq);
    }
    // The first restart after the upgrade drops non-persistent messages as any restart does.
    const again = openStore(db);
    again.load();
    expect(again.dropTransient()).toBe(seqs.filter((s) => s % 5 === 0).length);
    expect(drain(again).map((m) => m.seq)).toEqual(seqs.filter((s) => s % 5 !== 0));
  });

  it("a requeued message comes back redelivered after a restart; one never handed out and past the watermark's lead does not", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const n = WATERMARK_AHEAD + 3;
    store.append(Array.from({ length: n }, (_, i) => message(numbered(i))));
    const first = store.shift()!;
    store.markDelivered(first.seq);
    store.requeue([first], true);
    expect(store.shift()).toBe(first);
    expect(first.redelivered).toBe(true);
    const restarted = openStore(db);
    restarted.load();
    const flags = drain(restarted).map((m) => m.redelivered);
    // Handed out: flagged. Up to WATERMARK_AHEAD past it: flagged too (may have been, as RabbitMQ
    // flags every message after a crash). Beyond: not.
    expect(flags).toEqual(Array.from({ length: n }, (_, i) => i <= WATERMARK_AHEAD));
  });

  it("messages handed out in ack mode come back redelivered after a restart; the watermark is written once per WATERMARK_AHEAD; seqs are never reused", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(Array.from({ length: 2 * WATERMARK_AHEAD + 10 }, (_, i) => message(numbered(i))));
    const out = [];
    for (let i = 0; i < WATERMARK_AHEAD + 5; i++) {
      const m = store.shift()!;
      out.push(m);
      store.markDelivered(m.seq);
    }
    // One row for the first, one more once the first lead is used up.
    expect(count(db, "SELECT delivered_through FROM queue_state")).toBe(WATERMARK_AHEAD + 2 + WATERMARK_AHEAD);
    let restarted = openStore(db);
    restarted.load();
    const all = drain(restarted);
    expect(all.every((m) => m.redelivered === m.seq <= 2 * WATERMARK_AHEAD + 2)).toBe(true);
    expect(all.filter((m) => !m.redelivered).length).toBe(8);
    restarted.markDelivered(all[all.length - 1]!.seq);
    restarted.remove(all);
    restarted.flushRemovals();
    restarted = openStore(db);
    restarted.load();
    restarted.append([message(new Uint8Array([4]))]);
    const fresh = restarted.shift()!;
    // Past every seq ever used and past the watermark: not mistaken for one handed out before.
    expect(fresh.seq).toBeGreaterThan(all[all.length - 1]!.seq + WATERMARK_AHEAD);
    const again = openStore(db);
    again.load();
    expect(again.shift()!.redelivered).toBe(false);
  });

  it("after a restart: messages connections still hold leave the ready list with their contents; purge settles the rest", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    for (let i = 0; i < 10; i++) store.append(Array.from({ length: 100 }, (_, k) => message(numbered(i * 100 + k))));
    const restarted = openStore(db);
    restarted.load();
    const held = restarted.takeSeqs(new Set([5, 250, 999, 5000]));
    expect(held.map((m) => [m.seq, numberOf(m)])).toEqual([
      [5, 4],
      [250, 249],
      [999, 998],
    ]);
    expect(restarted.readyCount).toBe(997);
    const first = restarted.shift()!;
    expect(numberOf(first)).toBe(0);
    expect(restarted.purge()).toBe(996);
    expect(restarted.readyCount).toBe(0);
    restarted.remove([first, ...held]);
    restarted.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(0);
  });
});

describe("MessageStore keeps only a window of a backlog in memory", () => {
  const small: WindowLimits = { count: 500, bytes: 1 << 20, pageCount: 200, pageBytes: 1 << 20 };

  it("20,000 messages with a 500-message window: hot stays bounded; all come out intact and in order, across page loads and requeues", () => {
    const total = 20_000;
    const db = new DatabaseSync(":memory:");
    const store = openStore(db, small);
    for (let i = 0; i < total; i += 100) store.append(Array.from({ length: 100 }, (_, k) => message(numbered(i + k))));
    expect(store.readyCount).toBe(total);
    expect(store.readyCount - store.unloadedCount).toBeLessThanOrEqual(small.count);
    // The index is all the backlog costs: one entry per segment (batch), not per message.
    expect(store.segmentCount).toBe(total / 100);
    const out: number[] = [];
    let held = [];
    let requeues = 0;
    for (;;) {
      const m = store.shift();
      if (!m) break;
      expect(store.readyCount - store.unloadedCount).toBeLessThanOrEqual(small.count + small.pageCount + held.length);
      held.push(m);
      // Every 700 taken, the last 300 go back (a channel closed): they come out again first, in order.
      if (held.length === 700) {
        store.requeue(held.slice(400), true);
        requeues++;
        for (const h of held.slice(0, 400)) out.push(numberOf(h));
        store.remove(held.slice(0, 400));
        store.flushRemovals();
        held = [];
      }
    }
    for (const h of held) out.push(numberOf(h));
    expect(requeues).toBeGreaterThan(20);
    expect(out).toEqual(Array.from({ length: total }, (_, i) => i));
  });

  it("after a restart only an index is read: the contents come a page at a time", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    for (let i = 0; i < 5000; i += 100) store.append(Array.from({ length: 100 }, (_, k) => message(numbered(i + k))));
    const restarted = openStore(db);
    restarted.load();
    expect(restarted.readyCount).toBe(5000);
    expect(restarted.unloadedCount).toBe(5000);
    // PAGE_COUNT (2000) < 5000: the first shift reads one page, not everything.
    expect(numberOf(restarted.shift())).toBe(0);
    expect(restarted.unloadedCount).toBeLessThan(5000);
    expect(restarted.readyCount - restarted.unloadedCount).toBeLessThanOrEqual(PAGE_COUNT);
    const rest = drain(restarted).map(numberOf);
    expect(rest).toEqual(Array.from({ length: 4999 }, (_, i) => i + 1));
  });

  it("a page read from disk is freed once every message in its segment is settled, not before", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(Array.from({ length: 10 }, (_, k) => message(numbered(k, 4096))));
    store.append(Array.from({ length: 10 }, (_, k) => message(numbered(10 + k, 4096))));
    const restarted = openStore(db);
    restarted.load();
    const all = drain(restarted);
    const first = all.slice(0, 10);
    const second = all.slice(10);
    // One settle short of the whole segment: its bytes stay readable.
    restarted.remove(first.slice(0, 9));
    restarted.flushRemovals();
    expect(first[9]!.body.length).toBe(4096);
    expect(numberOf(first[9])).toBe(9);
    restarted.remove([first[9]!]);
    restarted.flushRemovals();
    // Freed (the view reads empty), while the other segment's unsettled messages are intact.
    expect(first[9]!.body.buffer.byteLength).toBe(0);
    expect(second.map(numberOf)).toEqual(Array.from({ length: 10 }, (_, i) => 10 + i));
    expect(second.every((m) => m.body.length === 4096)).toBe(true);
  });

  it("large messages: the window is bounded by bytes (WINDOW_BYTES), and they come back intact", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    const big = (i: number) => {
      const b = numbered(i, 64 * 1024).fill(i % 251, 4);
      return b;
    };
    for (let i = 0; i < 500; i += 10) store.append(Array.from({ length: 10 }, (_, k) => message(big(i + k))));
    expect(store.readyCount - store.unloadedCount).toBeLessThanOrEqual(Math.ceil(WINDOW_BYTES / (64 * 1024)) + 1);
    expect(WINDOW_COUNT).toBeGreaterThan(500);
    for (let i = 0; i < 500; i++) {
      const m = store.shift()!;
      expect(numberOf(m)).toBe(i);
      expect(m.body[100]).toBe(i % 251);
    }
  });

  it("messages published behind a cold backlog stay on disk and keep their place", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db, small);
    for (let i = 0; i < 2000; i += 100) store.append(Array.from({ length: 100 }, (_, k) => message(numbered(i + k))));
    const firstFew = [store.shift()!, store.shift()!];
    store.append([message(numbered(2000))]);
    expect(store.unloadedCount).toBe(2000 - small.count + 1);
    expect([...firstFew, ...drain(store)].map(numberOf)).toEqual(Array.from({ length: 2001 }, (_, i) => i));
  });
});

describe("MessageStore messages not written yet (appendPending)", () => {
  it("messages a no-ack consumer takes at once are never written; those left are, in order, and survive a restart", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.appendPending(Array.from({ length: 10 }, (_, i) => message(numbered(i))));
    const taken = [store.shift()!, store.shift()!, store.shift()!];
    store.remove(taken);
    // One was refused by its connection and came back.
    const refused = store.shift()!;
    store.requeue([refused], false);
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(0);
    store.writePending();
    expect(store.hasPending).toBe(false);
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(1);
    const restarted = openStore(db);
    restarted.load();
    expect(drain(restarted).map(numberOf)).toEqual([3, 4, 5, 6, 7, 8, 9]);
  });

  it("all taken: nothing is written at all", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.appendPending([message(numbered(1)), message(numbered(2))]);
    store.remove(drain(store));
    store.writePending();
    store.flushRemovals();
    expect(count(db, "SELECT COUNT(*) FROM segments") + count(db, "SELECT COUNT(*) FROM queue_state")).toBe(0);
  });

  it("handed out in ack mode at once: the segment row carries the delivery mark, no watermark row; a restart flags exactly those", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.appendPending(Array.from({ length: 5 }, (_, i) => message(numbered(i))));
    const [a, b] = [store.shift()!, store.shift()!];
    store.markDelivered(b.seq);
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(1);
    expect(count(db, "SELECT COUNT(*) FROM queue_state")).toBe(0);
    // Written already: writing again adds nothing.
    store.writePending();
    expect(count(db, "SELECT COUNT(*) FROM segments")).toBe(1);
    const restarted = openStore(db);
    restarted.load();
    expect(drain(restarted).map((m) => [numberOf(m), m.redelivered])).toEqual([
      [numberOf(a), true],
      [numberOf(b), true],
      [2, false],
      [3, false],
      [4, false],
    ]);
  });

  it("a segment whose mark covers older messages still stored: deleting it writes the watermark first", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append([message(numbered(0))]);
    const old = store.shift()!;
    store.appendPending([message(numbered(1))]);
    const fresh = store.shift()!;
    // Both go out in one round: the new segment's mark (seq 2) also covers seq 1.
    store.markDelivered(fresh.seq);
    expect(count(db, "SELECT COUNT(*) FROM queue_state")).toBe(0);
    store.remove([fresh]);
    store.flushRemovals();
    expect(count(db, "SELECT delivered_through FROM queue_state")).toBe(fresh.seq);
    const restarted = openStore(db);
    restarted.load();
    const back = restarted.shift()!;
    expect([back.seq, back.redelivered]).toEqual([old.seq, true]);
  });
});

describe("MessageStore delivery watermark", () => {
  it("written ahead while delivering, brought back to what went out by tightenWatermark (so an eviction flags nothing new)", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.append(Array.from({ length: 10 }, (_, i) => message(numbered(i))));
    const [a, b] = [store.shift()!, store.shift()!];
    store.markDelivered(b.seq);
    expect(store.watermarkAhead).toBe(true);
    expect(count(db, "SELECT delivered_through FROM queue_state")).toBe(b.seq + WATERMARK_AHEAD);
    store.tightenWatermark();
    expect(store.watermarkAhead).toBe(false);
    expect(count(db, "SELECT delivered_through FROM queue_state")).toBe(b.seq);
    // The next delivery past it writes a lead again.
    const c = store.shift()!;
    expect(store.needsDeliveryMark(c.seq)).toBe(true);
    store.markDelivered(c.seq);
    store.tightenWatermark();
    const restarted = openStore(db);
    restarted.load();
    expect(drain(restarted).map((m) => [numberOf(m), m.redelivered])).toEqual(Array.from({ length: 10 }, (_, i) => [i, i <= numberOf(c)]));
    // What a restart flagged stays flagged: tightening never goes below it.
    restarted.tightenWatermark();
    const again = openStore(db);
    again.load();
    expect(
      drain(again)
        .filter((m) => m.redelivered)
        .map(numberOf),
    ).toEqual([numberOf(a), numberOf(b), numberOf(c)]);
  });
});

describe("DeliveryCounts", () => {
  it("keeps a given-back message's count across a restart, and forgets it once settled", async () => {
    const { DeliveryCounts } = await import("../../src/queue/delivery-counts");
    const db = new DatabaseSync(":memory:");
    migrate(doStorage(db), QUEUE_MIGRATIONS);
    const counts = new DeliveryCounts(sqlStorage(db));
    counts.load();
    const m = { ...message(numbered(1)), seq: 7, redelivered: true, deliveries: 2 };
    counts.record([m]);
    const again = new DeliveryCounts(sqlStorage(db));
    again.load();
    expect(again.of(7)).toBe(2);
    again.forget([m]);
    again.flush();
    const third = new DeliveryCounts(sqlStorage(db));
    third.load();
    expect(third.of(7)).toBe(0);
  });
});

describe("MessageStore expiry", () => {
  it("TTL 0: live at the time its publish pinned (the round that publish starts), expired at any later time", () => {
    const db = new DatabaseSync(":memory:");
    const store = openStore(db);
    store.expiryOf = (_m, publishedAt) => publishedAt;
    // Published a few ms ago: the clock has moved on since, as it does locally while code runs.
    const publishedAt = Date.now() - 5;
    store.appendPending([message(numbered(1))], publishedAt);
    expect(numberOf(store.at(publishedAt, () => store.peek()))).toBe(1);
    // Unpinned again: judged by the clock, it has expired and is taken out for the queue.
    expect(store.peek()).toBeUndefined();
    expect(store.takeExpired().map(numberOf)).toEqual([1]);
  });

  it("a priority queue pins the clock for all its lanes", () => {
    const db = new DatabaseSync(":memory:");
    migrate(doStorage(db), QUEUE_MIGRATIONS);
    const store = new PriorityStore(sqlStorage(db), 3);
    store.expiryOf = (_m, publishedAt) => publishedAt;
    const publishedAt = Date.now() - 5;
    store.appendPending([message(numbered(7))], publishedAt);
    expect(numberOf(store.at(publishedAt, () => store.peek()))).toBe(7);
    expect(store.peek()).toBeUndefined();
  });
});
