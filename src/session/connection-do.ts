import { DurableObject } from "cloudflare:workers";
import { moveBytes, release } from "../amqp/buffer";
import type { DirectReply } from "../core/direct-reply";
import { limitsFrom } from "../core/limits";
import type { ConnectionInfo } from "../core/control";
import type { Permissions } from "../core/permissions";
import type { ConnectionPort, HeldOf } from "../core/ports";
import { WorkerBroker } from "../core/worker-broker";
import type { Env } from "../env";
import type { DeliverResult } from "../queue/types";
import { PEER_HEADER } from "../http/peer";
import { Connection } from "./connection";

/**
 * The WebSocket subprotocol of peers that acknowledge what they pass on ("ack <bytes>" text
 * frames) and take "consumed <bytes>" reports (session/flow.ts): the TCP bridge speaks it.
 */
export const FLOW_PROTOCOL = "x-warren-flow.v1";

/**
 * One Durable Object per AMQP connection. It terminates the WebSocket, runs the
 * connection pipeline and is the address queue DOs push deliveries to.
 */
export class ConnectionDO extends DurableObject<Env> implements ConnectionPort {
  private connection: Connection | undefined;
  private used = false;

  override async fetch(request: Request): Promise<Response> {
    if (this.used) return new Response("connection object already in use", { status: 409 });
    this.used = true;
    const pair = new WebSocketPair();
    const client = pair[0];
    const server = pair[1];
    server.accept();
    server.binaryType = "arraybuffer";

    const limits = limitsFrom(this.env);
    const offered = (request.headers.get("Sec-WebSocket-Protocol") ?? "").split(",").map((p) => p.trim());
    // The bridge offers the flow subprotocol first; plain AMQP-over-WebSocket clients never do.
    const protocol = offered.includes(FLOW_PROTOCOL) ? FLOW_PROTOCOL : offered.includes("amqp") ? "amqp" : null;
    const broker = new WorkerBroker(this.env);
    const connection = new Connection(
      this.ctx.id.toString(),
      {
        send: (bytes, owned) => {
          // send() keeps the bytes' backing store itself until written (a kj::Array sharing it, not
          // a copy): detaching ours lets it go once written instead of at the next full GC.
          server.send(bytes);
          if (owned) release(bytes);
        },
        control: (text) => server.send(text),
        close: () => server.close(1000, "connection closed"),
      },
      broker,
      limits,
      request.headers.get(PEER_HEADER) ?? "unknown",
    );
    this.connection = connection;
    if (protocol === FLOW_PROTOCOL) connection.enableFlowAcks();
    // Nothing of a closed connection stays in memory while the object waits to be evicted.
    connection.onClosed = () => {
      // A connection object never writes to storage, so it has nothing to delete. (Locally workerd
      // still keeps an empty database file per object; deleteAll() would only rebuild it, slowly.)
      this.connection = undefined;
    };

    server.addEventListener("message", (event) => {
      connection.cost.wsMessagesIn++;
      const data = event.data;
      if (typeof data === "string") {
        const ack = protocol === FLOW_PROTOCOL ? /^ack (\d+)$/.exec(data) : null;
        // AMQP is binary; other text frames are a client bug, treated as garbage bytes.
        if (ack) connection.peerAcked(Number(ack[1]));
        else connection.receive(new TextEncoder().encode(data));
      } else {
        // Moved: workerd keeps the event's data until a full GC (3,000 × 64 KB published held
        // 214 MB of garbage ArrayBuffers in this isolate); the moved bytes die young.
        connection.receive(new Uint8Array(moveBytes(data)));
      }
    });
    server.addEventListener("close", () => connection.transportClosed());
    server.addEventListener("error", () => connection.transportClosed());

    const headers = new Headers();
    if (protocol) headers.set("Sec-WebSocket-Protocol", protocol);
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** Queue DOs push batches of deliveries here. */
  async deliver(batch: Uint8Array): Promise<DeliverResult> {
    if (!this.connection) return { gone: true, refused: [], paused: [] };
    this.connection.cost.rpcCalls++;
    return this.connection.deliverBatch(batch);
  }

  async replyTo(replies: DirectReply[]): Promise<boolean[]> {
    if (!this.connection) return replies.map(() => false);
    this.connection.cost.rpcCalls++;
    return this.connection.replyTo(replies);
  }

  async consumerCancelled(channel: number, tag: string, _queue: string): Promise<void> {
    if (this.connection) this.connection.cost.rpcCalls++;
    this.connection?.consumerCancelled(channel, tag);
  }

  async info(): Promise<ConnectionInfo | null> {
    return this.connection?.info() ?? null;
  }

  async held(vhost: string, queue: string): Promise<HeldOf | null> {
    if (!this.connection) return null;
    this.connection.cost.rpcCalls++;
    return this.connection.held(vhost, queue);
  }

  async forceClose(reason: string): Promise<void> {
    this.connection?.forceClose(reason);
  }

  async permissionsChanged(permissions: Permissions | null): Promise<void> {
    this.connection?.permissionsChanged(permissions);
  }

  /** An exchange's bindings changed; false tells it this connection no longer exists. */
  async invalidateExchange(_vhost: string, name: string): Promise<boolean> {
    if (!this.connection || this.connection.isClosed) return false;
    this.connection.routes.invalidate(name);
    return true;
  }
}
