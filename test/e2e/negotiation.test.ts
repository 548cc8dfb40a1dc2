import amqp from "amqplib";
import { describe, expect, it } from "vitest";
import { type Command, PROTOCOL_HEADER, ReplyCode, table } from "../../src/amqp";
import { againstRabbitmq, useWarren } from "./harness";
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
