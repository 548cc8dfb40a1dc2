import { concatBytes } from "../../amqp/buffer";
import { decodeRecord, encodeRecord } from "../message-record";
import { createBindingTable } from "../binding-rows";
import { baseline, columnNames, type Migration, tableExists } from "../migrate";
import { readChunks, writeRecordRow } from "../record-rows";
import { createScheduleTable } from "../schedule";
import { Reader } from "../../amqp/buffer";
import { readRecord } from "../message-record";
import { bitmap, createSegmentTables, readSegmentData, SEGMENT_BYTES, SEGMENT_COUNT, setBit, writeSegmentRow } from "../segment-rows";

/** QueueDO's schema, one numbered step at a time. Append; never edit a step that has shipped. */
export const QUEUE_MIGRATIONS: readonly Migration[] = [
  baseline("declaration, bindings and message records", (sql) => {
    sql.exec(`CREATE TABLE IF NOT EXISTS queue (
        id INTEGER PRIMARY KEY CHECK (id = 1), vhost TEXT NOT NULL, name TEXT NOT NULL, durable INTEGER NOT NULL,
        exclusive INTEGER NOT NULL, owner TEXT, auto_delete INTEGER NOT NULL, arguments BLOB NOT NULL)`);
    createBindingTable(sql, "bindings", "exchange");
    sql.exec(`CREATE TABLE IF NOT EXISTS message_records (
        seq INTEGER PRIMARY KEY, redelivered INTEGER NOT NULL, data BLOB NOT NULL)`);
    sql.exec(`CREATE TABLE IF NOT EXISTS message_record_chunks (
        seq INTEGER NOT NULL, idx INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (seq, idx))`);
  }),
  {
    version: 2,
    name: "per-column messages become records",
    // Queues written before records kept each field in its own column (tables messages and
    // message_chunks); their messages move to the record tables, seqs and flags kept.
    up(sql) {
      if (!tableExists(sql, "messages")) return;
      const pieces = tableExists(sql, "message_chunks") ? readChunks(sql, "message_chunks") : new Map<number, Uint8Array[]>();
      type OldRow = { seq: number; exchange: string; routing_key: string; header: ArrayBuffer; body: ArrayBuffer; redelivered: number };
      for (const r of sql.exec<OldRow>("SELECT * FROM messages ORDER BY seq")) {
        const body = concatBytes([new Uint8Array(r.body), ...(pieces.get(r.seq) ?? [])]);
        const record = encodeRecord({
          exchange: r.exchange,
          routingKey: r.routing_key,
          header: new Uint8Array(r.header),
          body,
          persistent: true,
        });
        sql.exec("DELETE FROM message_record_chunks WHERE seq = ?", r.seq);
        writeRecordRow(sql, r.seq, r.redelivered === 1, record, "INSERT OR REPLACE");
      }
      sql.exec("DROP TABLE messages");
      sql.exec("DROP TABLE IF EXISTS message_chunks");
    },
  },
  {
    version: 3,
    name: "delivery watermark",
    // The highest seq ever handed to a consumer in ack mode: after a crash every stored message
    // up to it may have been seen, so it comes back redelivered (as RabbitMQ marks them).
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS queue_state (id INTEGER PRIMARY KEY CHECK (id = 1), delivered_through INTEGER NOT NULL)");
    },
  },
  {
    version: 4,
    name: "queues declared before the vhost catalog existed",
    // Such a queue enters its vhost's catalog the next time it wakes (queue-do.ts), once.
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS catalog_pending (id INTEGER PRIMARY KEY CHECK (id = 1))");
      sql.exec("INSERT OR IGNORE INTO catalog_pending (id) SELECT 1 FROM queue");
    },
  },
  {
    version: 5,
    name: "boot epoch",
    // The broker run (core/boot.ts) this queue last ran in: a different one at wake-up is a restart.
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS boot (id INTEGER PRIMARY KEY CHECK (id = 1), epoch TEXT NOT NULL)");
    },
  },
  {
    version: 6,
    name: "consumers and the connections holding unacked messages",
    // What a queue needs to find its consumers again after eviction or a restart of its object
    // (queue/attachments.ts): written when a consumer comes and goes, never per message.
    up(sql) {
      sql.exec(`CREATE TABLE IF NOT EXISTS consumers (
          conn_id TEXT NOT NULL, tag TEXT NOT NULL, channel INTEGER NOT NULL, no_ack INTEGER NOT NULL,
          exclusive INTEGER NOT NULL, prefetch INTEGER NOT NULL, arguments BLOB NOT NULL, PRIMARY KEY (conn_id, tag))`);
      sql.exec("CREATE TABLE IF NOT EXISTS peers (conn_id TEXT PRIMARY KEY)");
    },
  },
  {
    version: 7,
    name: "messages stored in segments",
    // One row per message became one row per run of messages (storage/segment-rows.ts). Rows
    // move in seq order; a gap in seqs (acked messages) starts a new segment, since a segment's
    // messages have consecutive seqs. The per-message redelivered flag goes: the delivery
    // watermark already covers every message handed out, and is raised to cover those flagged.
    up(sql) {
      createSegmentTables(sql);
      if (!tableExists(sql, "message_records")) return;
      const flagged =
        sql.exec<{ s: number | null }>("SELECT MAX(seq) AS s FROM message_records WHERE redelivered = 1").toArray()[0]?.s ?? null;
      if (flagged !== null) {
        sql.exec(
          "INSERT INTO queue_state (id, delivered_through) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET delivered_through = MAX(delivered_through, excluded.delivered_through)",
          flagged,
        );
      }
      let run: { seq: number; record: Uint8Array }[] = [];
      let bytes = 0;
      const close = () => {
        if (run.length === 0) return;
        const transient = bitmap(run.length);
        let anyTransient = false;
        run.forEach((m, i) => {
          // The record's first byte holds its flags (message-record.ts): bit 0 is "persistent".
          if (((m.record[0] ?? 0) & 1) === 0) {
            setBit(transient, i);
            anyTransient = true;
          }
        });
        const data = concatBytes(run.map((m) => m.record));
        writeSegmentRow(
          sql,
          {
            id: run[0]!.seq,
            count: run.length,
            bytes: data.length,
            transient: anyTransient ? transient : null,
            delivered: 0,
            publishedAt: Date.now(),
            bodyBytes: run.reduce((n, m) => n + decodeRecord(m.record).body.length, 0),
            lane: 0,
          },
          data,
        );
        run = [];
        bytes = 0;
      };
      // A page at a time, so a large queue is never read whole.
      for (let after = -1; ; ) {
        const rows = sql
          .exec<{ seq: number; data: ArrayBuffer }>("SELECT seq, data FROM message_records WHERE seq > ? ORDER BY seq LIMIT 500", after)
          .toArray();
        if (rows.length === 0) break;
        const chunks = new Map<number, Uint8Array[]>();
        for (const r of sql.exec<{ seq: number; data: ArrayBuffer }>(
          "SELECT seq, data FROM message_record_chunks WHERE seq BETWEEN ? AND ? ORDER BY seq, idx",
          rows[0]!.seq,
          rows[rows.length - 1]!.seq,
        )) {
          let list = chunks.get(r.seq);
          if (!list) chunks.set(r.seq, (list = []));
          list.push(new Uint8Array(r.data));
        }
        for (const r of rows) {
          const record = concatBytes([new Uint8Array(r.data), ...(chunks.get(r.seq) ?? [])]);
          const last = run[run.length - 1];
          if (last && (last.seq + 1 !== r.seq || bytes + record.length > SEGMENT_BYTES || run.length >= SEGMENT_COUNT)) close();
          run.push({ seq: r.seq, record });
          bytes += record.length;
        }
        after = rows[rows.length - 1]!.seq;
      }
      close();
      sql.exec("DROP TABLE message_records");
      sql.exec("DROP TABLE IF EXISTS message_record_chunks");
    },
  },
  {
    version: 8,
    name: "schedule",
    // What the queue must do later, behind its one alarm (storage/schedule.ts).
    up(sql) {
      createScheduleTable(sql);
    },
  },
  {
    version: 9,
    name: "segments know when they were published and their body bytes",
    // Tables made by migration 7 before these columns existed get them (appended after the
    // records: read only for such early segments), filled from the records.
    up(sql) {
      const columns = columnNames(sql, "segments");
      if (columns.has("body_bytes")) return;
      sql.exec("ALTER TABLE segments ADD COLUMN published_at INTEGER NOT NULL DEFAULT 0");
      sql.exec("ALTER TABLE segments ADD COLUMN body_bytes INTEGER NOT NULL DEFAULT 0");
      const now = Date.now();
      for (const { id } of sql.exec<{ id: number }>("SELECT id FROM segments").toArray()) {
        const data = readSegmentData(sql, [id]).get(id)!;
        const r = new Reader(data);
        let bytes = 0;
        while (!r.atEnd()) bytes += readRecord(r).body.length;
        sql.exec("UPDATE segments SET published_at = ?, body_bytes = ? WHERE id = ?", now, bytes, id);
      }
    },
  },
  {
    version: 10,
    name: "segments belong to a priority lane",
    // Priority queues keep one store per priority (queue/priority-store.ts); tables made before
    // the column get it appended, 0 for all (they had one lane).
    up(sql) {
      const columns = columnNames(sql, "segments");
      if (!columns.has("lane")) sql.exec("ALTER TABLE segments ADD COLUMN lane INTEGER NOT NULL DEFAULT 0");
    },
  },
  {
    version: 11,
    name: "the policy that applies to the queue",
    // Pushed by the control plane when policies change (core/admin-ops.ts), read at wake-up.
    up(sql) {
      sql.exec(
        "CREATE TABLE IF NOT EXISTS queue_policy (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL, definition TEXT NOT NULL)",
      );
    },
  },
  {
    version: 12,
    name: "delivery counts",
    // Queues with a delivery limit (quorum queues) keep each given-back message's count
    // (queue/delivery-counts.ts) so a restart does not reset it.
    up(sql) {
      sql.exec("CREATE TABLE IF NOT EXISTS delivery_counts (seq INTEGER PRIMARY KEY, count INTEGER NOT NULL)");
    },
  },
];
