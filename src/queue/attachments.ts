import { tableFromBytes, tableToBytes } from "../storage/table-bytes";
import type { Consumer } from "./consumers";

interface ConsumerRow extends Record<string, SqlStorageValue> {
  conn_id: string;
  tag: string;
  channel: number;
  no_ack: number;
  exclusive: number;
  prefetch: number;
  arguments: ArrayBuffer;
}

/**
 * What ties a queue to connections, kept in the queue's SQLite so that an evicted or restarted
 * queue object finds them again (instead of being pinged every few seconds to stay in memory):
 * its consumers, and the connections that hold unacked messages of it ("peers"). Rows are written
 * when a consumer starts or stops and the first time a connection gets an ack-mode delivery,
 * never per message. Which messages a peer holds is not stored: the connection knows (its
 * delivery tags), and tells the queue when it wakes up (ConnectionPort.held).
 */
export class Attachments {
  private readonly peers = new Set<string>();

  constructor(private readonly sql: SqlStorage) {}

  /** The stored consumers and peers (after a restart of the object). */
  load(): { consumers: Omit<Consumer, "unacked" | "paused" | "resumedAt">[]; peers: string[] } {
    const consumers = this.sql
      .exec<ConsumerRow>("SELECT * FROM consumers")
      .toArray()
      .map((r) => ({
        connId: r.conn_id,
        tag: r.tag,
        channel: r.channel,
        noAck: r.no_ack === 1,
        exclusive: r.exclusive === 1,
        prefetch: r.prefetch,
        arguments: tableFromBytes(new Uint8Array(r.arguments)),
      }));
    const peers = this.sql
      .exec<{ conn_id: string }>("SELECT conn_id FROM peers")
      .toArray()
      .map((r) => r.conn_id);
    for (const p of peers) this.peers.add(p);
    return { consumers, peers: [...new Set([...peers, ...consumers.map((c) => c.connId)])] };
  }

  consumerAdded(c: Consumer): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO consumers (conn_id, tag, channel, no_ack, exclusive, prefetch, arguments) VALUES (?, ?, ?, ?, ?, ?, ?)",
      c.connId,
      c.tag,
      c.channel,
      c.noAck ? 1 : 0,
      c.exclusive ? 1 : 0,
      c.prefetch,
      tableToBytes(c.arguments),
    );
  }

  consumersRemoved(removed: readonly Consumer[]): void {
    for (const c of removed) this.sql.exec("DELETE FROM consumers WHERE conn_id = ? AND tag = ?", c.connId, c.tag);
  }

  prefetchChanged(c: Consumer): void {
    this.sql.exec("UPDATE consumers SET prefetch = ? WHERE conn_id = ? AND tag = ?", c.prefetch, c.connId, c.tag);
  }

  /** A connection is getting ack-mode deliveries: recorded once (in the caller's transaction). */
  isPeer(connId: string): boolean {
    return this.peers.has(connId);
  }

  peer(connId: string): void {
    if (this.peers.has(connId)) return;
    this.peers.add(connId);
    this.sql.exec("INSERT OR IGNORE INTO peers (conn_id) VALUES (?)", connId);
  }

  /** The connection is gone or closed: nothing of it is kept. */
  connectionGone(connId: string): void {
    this.sql.exec("DELETE FROM consumers WHERE conn_id = ?", connId);
    if (this.peers.delete(connId)) this.sql.exec("DELETE FROM peers WHERE conn_id = ?", connId);
  }

  /** The object's storage was wiped (the queue was deleted). */
  clear(): void {
    this.peers.clear();
  }
}
