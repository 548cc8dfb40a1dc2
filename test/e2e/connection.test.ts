import { connect as tcpConnect } from "node:net";
import amqp from "amqplib";
import { AMQPWebSocketClient } from "@cloudamqp/amqp-client";
import WebSocket from "ws";
import { describe, expect, it } from "vitest";
import { FrameType, ReplyCode, encodeFrame } from "../../src/amqp";
import { useWarren } from "./harness";
import { RawClient } from "./raw-client";

// A short handshake_timeout, so the test of it does not wait RabbitMQ's 10 s.
const warren = useWarren({ vars: { WARREN_HANDSHAKE_TIMEOUT_MS: "2000" } });
const amqpUrl = () => warren.server.amqpUrl!;
const port = () => warren.server.amqpPort!;

function closeCode(c: { method: { name: string; args: unknown } }): number {
  return (c.method.args as { replyCode: number }).replyCode;
}

describe("connections", () => {
  it("amqplib through the bridge: connect, 50 channels, close them, close", async () => {
    const conn = await amqp.connect(amqpUrl());
    const channels = await Promise.all(Array.from({ length: 50 }, () => conn.createChannel()));
    expect(channels).toHaveLength(50);
    await Promise.all(channels.map((ch) => ch.close()));
    await conn.close();
  });

  it("server properties advertise RabbitMQ's capabilities", async () => {
    const conn = await amqp.connect(amqpUrl());
    const props = conn.connection.serverProperties as Record<string, unknown>;
    expect(props.product).toBe("Warren");
    const caps = props.capabilities as Record<string, boolean>;
    for (const cap of [
      "publisher_confirms",
      "exchange_exchange_bindings",
      "basic.nack",
      "consumer_cancel_notify",
      "connection.blocked",
      "authentication_failure_close",
      "per_consumer_qos",
    ]) {
      expect(caps[cap], cap).toBe(true);
    }
    await conn.close();
  });

  it("@cloudamqp/amqp-client over WebSocket: connect, channel, close", async () => {
    const client = new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest");
    const conn = await client.connect();
    const ch = await conn.channel();
    expect(ch.id).toBeGreaterThan(0);
    await ch.close();
    await conn.close();
  });

  it("refuses a wrong password with 403 ACCESS_REFUSED", async () => {
    await expect(amqp.connect(`amqp://guest:wrong@localhost:${port()}`)).rejects.toThrow(/ACCESS_REFUSED|403/);
    const raw = await RawClient.connect(port());
    raw.write(new TextEncoder().encode("AMQP\0\0\x09\x01"));
    await raw.expect("connection.start");
    raw.send(0, {
      name: "connection.start-ok",
      args: { clientProperties: {}, mechanism: "PLAIN", response: "\0guest\0nope", locale: "en_US" },
    });
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.ACCESS_REFUSED);
    await raw.waitClosed();
  });

  it("accepts AMQPLAIN credentials", async () => {
    const raw = await RawClient.connect(port());
    raw.write(new TextEncoder().encode("AMQP\0\0\x09\x01"));
    await raw.expect("connection.start");
    // AMQPLAIN: a field table without its length prefix.
    const body = [5, ..."LOGIN"].map((x) => (typeof x === "string" ? x.charCodeAt(0) : x));
    const entry = (key: string, value: string) => [key.length, ...Buffer.from(key), 0x53, 0, 0, 0, value.length, ...Buffer.from(value)];
    const response = Buffer.from([...entry("LOGIN", "guest"), ...entry("PASSWORD", "guest")]).toString("latin1");
    expect(body.length).toBe(6);
    raw.send(0, { name: "connection.start-ok", args: { clientProperties: {}, mechanism: "AMQPLAIN", response, locale: "en_US" } });
    await raw.expect("connection.tune");
    raw.close();
  });

  it("refuses an unknown vhost with 530 NOT_ALLOWED", async () => {
    await expect(amqp.connect(`${amqpUrl()}/nope`)).rejects.toThrow(/ConnectionClose/);
    const raw = await RawClient.connect(port());
    raw.write(new TextEncoder().encode("AMQP\0\0\x09\x01"));
    await raw.expect("connection.start");
    raw.send(0, {
      name: "connection.start-ok",
      args: { clientProperties: {}, mechanism: "PLAIN", response: "\0guest\0guest", locale: "en_US" },
    });
    await raw.expect("connection.tune");
    raw.send(0, { name: "connection.tune-ok", args: { channelMax: 0, frameMax: 131072, heartbeat: 0 } });
    raw.send(0, { name: "connection.open", args: { virtualHost: "nope", capabilities: "", insist: false } });
    expect(closeCode(await raw.expect("connection.close"))).toBe(ReplyCode.NOT_ALLOWED);
    const client = new AMQPWebSocketClient(warren.server.wsUrl, "no-such-vhost", "guest", "guest");
    await expect(client.connect()).rejects.toThrow(/NOT_ALLOWED|530|vhost/);
  });

  it("answers a wrong protocol header with AMQP 0-9-1 and closes", async () => {
    const raw = await RawClient.connect(port());
    raw.write(new TextEncoder().encode("AMQP\x01\x01\x00\x0a"));
    await raw.waitClosed();
    expect([...raw.raw.subarray(0, 8)]).toEqual([0x41, 0x4d, 0x51, 0x50, 0, 0, 9, 1]);
  });

  it("answers an HTTP request on the AMQP port with the header too", async () => {
    const raw = await RawClient.connect(port());
    raw.write(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
    await raw.waitClosed();
    expect(raw.raw.subarray(0, 8).toString("latin1")).toBe("AMQP\0\0\x09\x01");
  });

  it("keeps an idle client with a 1 s heartbeat connected for 4 s", async () => {
    const conn = await amqp.connect(`${amqpUrl()}?heartbeat=1`);
    let closed = false;
    conn.on("close", () => (closed = true));
    conn.on("error", () => undefined);
    // Idle for 4 s: that is the action under test, not a wait for something to (not) happen.
    await new Promise((r) => setTimeout(r, 4000));
    // A round trip after it: had the server given up on us during the idle time, its close (or the
    // dropped socket) would come before channel.open-ok.
    const ch = await conn.createChannel();
    expect(closed).toBe(false);
    await ch.close();
    await conn.close();
  });

  it("sends heartbeats and closes a client that stops sending them", async () => {
    const raw = await RawClient.open(port(), { heartbeat: 1 });
    // We never send a heartbeat: after two silent intervals the server must drop us.
    await raw.waitClosed(6000);
    expect(raw.heartbeats).toBeGreaterThan(0);
  });

  it("closes the connection with 504 for a frame on a channel that is not open", async () => {
    const raw = await RawClient.open(port());
    raw.send(5, { name: "basic.qos", args: { prefetchSize: 0, prefetchCount: 1, global: false } });
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.CHANNEL_ERROR);
    raw.send(0, { name: "connection.close-ok", args: {} });
    await raw.waitClosed();
  });

  it("closes the connection with 501 for a bad frame-end octet", async () => {
    const raw = await RawClient.open(port());
    const frame = encodeFrame(FrameType.Method, 0, new Uint8Array([0, 10, 0, 51]));
    frame[frame.length - 1] = 0x00;
    raw.write(frame);
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.FRAME_ERROR);
    await raw.waitClosed();
  });

  it("closes the connection with 501 for a frame larger than frame_max", async () => {
    const raw = await RawClient.open(port());
    const frame = encodeFrame(FrameType.Method, 1, new Uint8Array(200_000));
    raw.write(frame);
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.FRAME_ERROR);
    await raw.waitClosed();
  });

  it("closes the connection with 501 for garbage and keeps serving others", async () => {
    const other = await amqp.connect(amqpUrl());
    const raw = await RawClient.open(port());
    raw.write(new Uint8Array([0x99, 0, 0, 0, 0, 0, 1, 0xff, 0xce]));
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.FRAME_ERROR);
    await raw.waitClosed();
    const ch = await other.createChannel();
    await ch.checkExchange("amq.direct");
    await other.close();
  });

  it("closes with 503 COMMAND_INVALID for a channel method sent on channel 0", async () => {
    const raw = await RawClient.open(port());
    raw.send(0, { name: "channel.open", args: { outOfBand: "" } });
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.COMMAND_INVALID);
  });

  it("answers channel.flow and lets the client close the channel", async () => {
    const raw = await RawClient.open(port());
    raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
    await raw.expect("channel.open-ok");
    raw.send(1, { name: "channel.flow", args: { active: false } });
    const ok = await raw.expect("channel.flow-ok");
    expect((ok.method.args as { active: boolean }).active).toBe(false);
    raw.send(1, { name: "channel.close", args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 } });
    await raw.expect("channel.close-ok");
    raw.send(0, { name: "connection.close", args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 } });
    await raw.expect("connection.close-ok");
    await raw.waitClosed();
  });

  it("reopening an open channel is a 504 connection error", async () => {
    const raw = await RawClient.open(port());
    raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
    await raw.expect("channel.open-ok");
    raw.send(1, { name: "channel.open", args: { outOfBand: "" } });
    const close = await raw.expect("connection.close");
    expect(closeCode(close)).toBe(ReplyCode.CHANNEL_ERROR);
  });

  it("a socket that never completes the handshake is closed after handshake_timeout", async () => {
    const s = tcpConnect(port(), "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    const started = Date.now();
    const closed = new Promise<number>((resolve) => s.once("close", () => resolve(Date.now() - started)));
    s.on("error", () => undefined);
    const after = await Promise.race([closed, new Promise<number>((r) => setTimeout(() => r(-1), 8000))]);
    s.destroy();
    expect(after).toBeGreaterThan(1000);
    expect(after).toBeLessThan(6000);
  });

  it("refuses a WebSocket upgrade from another site's page (Origin), accepts its own origin", async () => {
    const wsUrl = warren.server.wsUrl;
    const status = (origin: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(wsUrl, { origin });
        ws.on("unexpected-response", (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on("open", () => {
          resolve(101);
          ws.close();
        });
        ws.on("error", () => undefined);
      });
    expect(await status("https://evil.example")).toBe(403);
    expect(await status(new URL(warren.server.httpUrl).origin)).toBe(101);
  });

  it("a plain TCP connection to the bridge with nothing sent can be closed", async () => {
    const s = tcpConnect(port(), "127.0.0.1");
    await new Promise((r) => s.once("connect", r));
    s.destroy();
  });
});
