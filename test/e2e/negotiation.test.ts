import amqp from "amqplib";
import { AMQPWebSocketClient } from "@cloudamqp/amqp-client";
import { describe, expect, it } from "vitest";
import { type AnyMethod, type Command, FrameType, PROTOCOL_HEADER, ReplyCode, encodeFrame, table } from "../../src/amqp";
import { againstRabbitmq, useWarren } from "./harness";
import { hasIpv6Loopback } from "../bridge/helpers";
import { RawClient } from "./raw-client";

// Connection negotiation and connection-level extensions, as RabbitMQ answers them. The file
// runs side by side (WARREN_TEST_AGAINST=rabbitmq): tests marked skipIf(againstRabbitmq) are
// Warren's documented differences (README, "Differences from RabbitMQ's protocol answers").
const warren = useWarren({ sideBySide: true });
const url = () => warren.server.amqpUrl!;
const port = () => warren.server.amqpPort!;

function args<T = Record<string, unknown>>(c: Command): T {
  return c.method.args as T;
}

/** Header and start-ok (PLAIN); the client announces authentication_failure_close as amqplib does. */
async function started(password = "guest"): Promise<{ raw: RawClient; start: Command; tune: Command | null }> {
  const raw = await RawClient.connect(port());
  raw.write(PROTOCOL_HEADER);
  const start = await raw.expect("connection.start");
  raw.send(0, {
    name: "connection.start-ok",
    args: {
      clientProperties: table({ product: "negotiation-test", capabilities: { authentication_failure_close: true } }),
      mechanism: "PLAIN",
      response: `\0guest\0${password}`,
      locale: "en_US",
    },
  });
  const tune = password === "guest" ? await raw.expect("connection.tune") : null;
  return { raw, start, tune };
}

/** A raw client through tune-ok (the given values) and connection.open. */
async function opened(tuneOk: { channelMax: number; frameMax: number }): Promise<RawClient> {
  const { raw } = await started();
  raw.send(0, { name: "connection.tune-ok", args: { ...tuneOk, heartbeat: 0 } });
  raw.send(0, { name: "connection.open", args: { virtualHost: "/", capabilities: "", insist: false } });
  await raw.expect("connection.open-ok");
  return raw;
}

describe("connection.update-secret (RabbitMQ's extension)", () => {
  it("amqplib's updateSecret with the user's password resolves and the connection carries on", async () => {
    const conn = await amqp.connect(url());
    await conn.updateSecret(Buffer.from("guest"), "token refresh");
    const ch = await conn.createChannel();
    const { queue } = await ch.assertQueue("", { exclusive: true });
    expect(queue).toMatch(/^amq\.gen-/);
    await conn.close();
  });

  it.skipIf(againstRabbitmq)(
    "@cloudamqp/amqp-client's updateSecret over WebSocket resolves; a wrong one closes the connection",
    async () => {
      const client = new AMQPWebSocketClient(warren.server.wsUrl, "/", "guest", "guest");
      const conn = await client.connect();
      await conn.updateSecret("guest", "token refresh");
      const ch = await conn.channel();
      await ch.queueDeclare("", { exclusive: true });
      const closed = new Promise<unknown>((resolve) => {
        conn.onerror = resolve;
      });
      void conn.updateSecret("wrong", "token refresh").catch(() => undefined);
      expect(String(await closed)).toMatch(/New secret was refused by one of the backends/);
      expect(conn.closed).toBe(true);
    },
  );

  // RabbitMQ's internal users accept any new secret (rabbit_auth_backend_internal:update_state);
  // Warren checks it as the password, and refuses as rabbit_reader does when a backend refuses.
  it.skipIf(againstRabbitmq)(
    "a wrong secret closes the connection: 530 'New secret was refused by one of the backends', ids 0/0",
    async () => {
      const conn = await amqp.connect(url());
      const closed = new Promise<Error>((resolve) => conn.on("error", resolve));
      conn.updateSecret(Buffer.from("not the password"), "token refresh").catch(() => undefined);
      const err = (await closed) as Error & { code?: number };
      expect(err.code).toBe(ReplyCode.NOT_ALLOWED);
      expect(err.message).toMatch(/NOT_ALLOWED - New secret was refused by one of the backends/);

      const raw = await opened({ channelMax: 2047, frameMax: 131072 });
      raw.send(0, { name: "connection.update-secret", args: { newSecret: "nope", reason: "refresh" } });
      expect(args(await raw.expect("connection.close"))).toEqual({
        replyCode: 530,
        replyText: "NOT_ALLOWED - New secret was refused by one of the backends",
        classId: 0,
        methodId: 0,
      });
      raw.close();
    },
  );
});

const channelOpen: AnyMethod = { name: "channel.open", args: { outOfBand: "" } };

describe("connection negotiation", () => {
  it("connection.start offers 'PLAIN AMQPLAIN' and en_US, AMQP 0-9", async () => {
    const { raw, start } = await started();
    expect(args(start)).toMatchObject({ versionMajor: 0, versionMinor: 9, mechanisms: "PLAIN AMQPLAIN", locales: "en_US" });
    raw.close();
  });

  it("a refused login is connection.close 403 with class and method 0, then the socket closes", async () => {
    const { raw } = await started("wrong");
    expect(args(await raw.expect("connection.close"))).toEqual({
      replyCode: ReplyCode.ACCESS_REFUSED,
      replyText: "ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.",
      classId: 0,
      methodId: 0,
    });
    await raw.waitClosed();
  });

  it("channel_max bounds how many channels are open, not their numbers: one too many is 530, ids 0/0", async () => {
    const raw = await opened({ channelMax: 2, frameMax: 131072 });
    raw.send(1000, channelOpen);
    raw.send(65535, channelOpen);
    expect((await raw.expect("channel.open-ok")).channel).toBe(1000);
    expect((await raw.expect("channel.open-ok")).channel).toBe(65535);
    raw.send(1, channelOpen);
    expect(args(await raw.expect("connection.close"))).toEqual({
      replyCode: ReplyCode.NOT_ALLOWED,
      replyText: "NOT_ALLOWED - number of channels opened (2) has reached the negotiated channel_max (2)",
      classId: 0,
      methodId: 0,
    });
    raw.close();
  });

  // RabbitMQ 3.10 refuses 0 when it has a limit ("negotiated channel_max = 0 (no limit) is
  // higher than the maximum allowed value (2047)", then drops the socket); Warren takes 0 as
  // the spec's "no limit requested" and applies its own values.
  it.skipIf(againstRabbitmq)("tune-ok with channel_max = 0 and frame_max = 0 takes the server's values", async () => {
    const raw = await opened({ channelMax: 0, frameMax: 0 });
    raw.send(1, channelOpen);
    await raw.expect("channel.open-ok");
    // The server's frame_max (131072) still bounds what the client sends: a payload over it is
    // 501 (payloads up to frame_max itself pass, as in RabbitMQ).
    const payload = new Uint8Array(131072 + 1);
    raw.write(encodeFrame(FrameType.Method, 1, payload));
    expect(args(await raw.expect("connection.close"))).toMatchObject({ replyCode: ReplyCode.FRAME_ERROR });
    raw.close();
  });

  it("the AMQP 0-9 header (1 1 0 9) is answered with connection.start, spoken as 0-9-1", async () => {
    const raw = await RawClient.connect(port());
    raw.write(new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]));
    expect(args(await raw.expect("connection.start"))).toMatchObject({ versionMajor: 0, versionMinor: 9 });
    raw.close();
  });

  it.each([
    ["AMQP 1.0", [0x41, 0x4d, 0x51, 0x50, 0, 1, 0, 0]],
    ["AMQP 0-10", [0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 10]],
    ["HTTP", [...new TextEncoder().encode("GET / HTTP/1.1\r\n")]],
  ])("an %s header gets the 0-9-1 header back and the socket closes", async (_label, header) => {
    const raw = await RawClient.connect(port());
    raw.write(new Uint8Array(header));
    await raw.waitClosed();
    expect([...raw.raw]).toEqual([...PROTOCOL_HEADER]);
  });

  // RabbitMQ also speaks AMQP 0-8 (connection.start 8-0); Warren speaks only 0-9-1.
  it.skipIf(againstRabbitmq)("an AMQP 0-8 header gets the 0-9-1 header back and the socket closes", async () => {
    for (const header of [
      [0x41, 0x4d, 0x51, 0x50, 1, 1, 8, 0],
      [0x41, 0x4d, 0x51, 0x50, 1, 1, 9, 1],
    ]) {
      const raw = await RawClient.connect(port());
      raw.write(new Uint8Array(header));
      await raw.waitClosed();
      expect([...raw.raw]).toEqual([...PROTOCOL_HEADER]);
    }
  });
});

// The bridge listens on 127.0.0.1 and ::1 (clients that resolve localhost to ::1 must connect).
const ipv6 = await hasIpv6Loopback();
if (!ipv6) console.log("[negotiation] this machine has no IPv6 loopback (::1): the ::1 client test is skipped");

describe("dual-stack bridge", () => {
  it.skipIf(againstRabbitmq || !ipv6)("amqplib connects over ::1 as well as 127.0.0.1, and guest counts as local", async () => {
    for (const host of ["127.0.0.1", "[::1]"]) {
      const conn = await amqp.connect(`amqp://guest:guest@${host}:${port()}`);
      const ch = await conn.createChannel();
      await ch.assertQueue("", { exclusive: true });
      await conn.close();
    }
  });
});
