import { afterEach, describe, expect, it } from "vitest";
import { type Bridge, startBridge } from "../../bridge/warren-bridge.mjs";
import { type FakeUpstream, connect, randomBytes, readBytes, startUpstream, until } from "./helpers";

// The bridge's half of flow control (src/session/flow.ts is Warren's): acks for what it has
// written on to its client, and no more than a few MB read from its client ahead of Warren.

let upstream: FakeUpstream | undefined;
let bridge: Bridge | undefined;
afterEach(async () => {
  await bridge?.close();
  await upstream?.close();
  bridge = upstream = undefined;
});

async function setup(flow: boolean) {
  upstream = await startUpstream({ echo: false, flow });
  bridge = await startBridge({ port: 0, upstream: upstream.url, quiet: true });
  return { upstream, bridge };
}

describe("bridge flow control", () => {
  it("acks (as text frames) the bytes it has written on to its client, cumulatively", async () => {
    const { upstream, bridge } = await setup(true);
    const sock = await connect(bridge.port);
    sock.write("AMQP");
    const ws = await upstream.connection();
    expect(ws.protocol).toBe("x-warren-flow.v1");
    const acks: number[] = [];
    ws.on("message", (data, isBinary) => {
      if (!isBinary) acks.push(Number(/^ack (\d+)$/.exec(String(data))?.[1]));
    });
    const payload = randomBytes(600 * 1024);
    for (let off = 0; off < payload.length; off += 100 * 1024) ws.send(payload.subarray(off, off + 100 * 1024));
    expect((await readBytes(sock, payload.length)).equals(payload)).toBe(true);
    await until(() => acks.at(-1) === payload.length, 3000, "an ack of everything written");
    expect(acks).toEqual([...acks].sort((a, b) => a - b));
    sock.destroy();
  });

  it("stops reading its client while Warren has not reported enough consumed, and reads on when it does", async () => {
    const { upstream, bridge } = await setup(true);
    const sock = await connect(bridge.port);
    const ws = await new Promise<import("ws").WebSocket>((resolve) => {
      sock.write("AMQP");
      void upstream.connection().then(resolve);
    });
    let received = 0;
    ws.on("message", (data, isBinary) => {
      if (isBinary) received += (data as Buffer).length;
    });
    const total = 16 * 1024 * 1024;
    const chunk = randomBytes(64 * 1024);
    let written = 0;
    const writeMore = () => {
      while (written < total && sock.write(chunk)) written += chunk.length;
    };
    sock.on("drain", () => {
      written += chunk.length;
      writeMore();
    });
    writeMore();
    // Nothing reported consumed: the bridge forwards about its 4 MiB credit, then stops reading.
    await until(() => received >= 4 * 1024 * 1024, 5000, "the first 4 MiB");
    await new Promise((r) => setTimeout(r, 500));
    const held = received;
    expect(held).toBeLessThan(6 * 1024 * 1024);
    // Warren catches up: the bridge reads on.
    ws.send(`consumed ${held}`);
    await until(() => received > held + 1024 * 1024, 5000, "more after the report");
    ws.send(`consumed ${total + 4}`);
    await until(() => received === total + 4, 10_000, "everything");
    sock.destroy();
  });

  it("with a server that does not speak the flow subprotocol nothing is held back and no text is sent", async () => {
    const { upstream, bridge } = await setup(false);
    const sock = await connect(bridge.port);
    sock.write("AMQP");
    const ws = await upstream.connection();
    expect(ws.protocol).toBe("amqp");
    let texts = 0;
    let received = 0;
    ws.on("message", (data, isBinary) => {
      if (isBinary) received += (data as Buffer).length;
      else texts++;
    });
    const payload = randomBytes(8 * 1024 * 1024);
    sock.write(payload);
    ws.send(randomBytes(300 * 1024));
    await readBytes(sock, 300 * 1024);
    await until(() => received === payload.length + 4, 10_000, "all 8 MiB without any report");
    expect(texts).toBe(0);
    sock.destroy();
  });
});
