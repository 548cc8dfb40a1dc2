import type { Socket } from "node:net";
import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import { useWarren } from "./harness";

// A small delivery window, so the test needs few messages to fill it.
const warren = useWarren({ vars: { WARREN_DELIVERY_WINDOW_BYTES: String(1 << 20) } });

describe("flow control through the bridge", () => {
  it("a consumer that stops reading leaves the backlog in the queue; when it reads again every message arrives, in order", async () => {
    const url = warren.server.amqpUrl!;
    const count = 300;
    const pub = await amqp.connect(url);
    const ch = await pub.createConfirmChannel();
    await ch.assertQueue("flow.stalled", { durable: true });
    const body = Buffer.alloc(65536, 1);
    for (let i = 0; i < count; i++) {
      body.writeUInt32BE(i, 0);
      ch.sendToQueue("flow.stalled", body, { persistent: true });
    }
    await ch.waitForConfirms();

    const conn = await amqp.connect(url);
    const socket = (conn as unknown as { connection: { stream: Socket } }).connection.stream;
    const cons = await conn.createChannel();
    const seen: number[] = [];
    await cons.consume("flow.stalled", (m) => m && seen.push(m.content.readUInt32BE(0)), { noAck: true });
    // amqplib reads on 'readable': without its listener nothing is read and the socket's buffers fill.
    const readers = socket.listeners("readable");
    for (const l of readers) socket.removeListener("readable", l);
    // While the client reads nothing, at most the window plus the sockets' buffers (a few MB
    // each way) leave the queue: most of 300 × 64 KB must still be ready there. Without flow
    // control the whole queue is pushed out at once.
    let ready = count;
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 100));
      ready = (await ch.checkQueue("flow.stalled")).messageCount;
    }
    expect(ready).toBeGreaterThan(100);
    for (const l of readers) socket.on("readable", l as () => void);
    for (let i = 0; i < 300 && seen.length < count; i++) await new Promise((r) => setTimeout(r, 100));
    expect(seen).toEqual(Array.from({ length: count }, (_, i) => i));
    expect((await ch.checkQueue("flow.stalled")).messageCount).toBe(0);
    await conn.close();
    await pub.close();
  });
});
