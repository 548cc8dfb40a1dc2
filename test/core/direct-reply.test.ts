import { describe, expect, it } from "vitest";
import { type DirectReply, isReplyKey, parseReplyAddress, REPLY_TO_QUEUE, replyAddress, replySecret } from "../../src/core/direct-reply";
import { Publisher } from "../../src/core/publisher";
import { RouteTable } from "../../src/core/route-table";
import type { IncomingMessage } from "../../src/queue/types";
import { FakeBroker } from "../session/fakes";

const A = "a".repeat(64);
const B = "b".repeat(64);

function reply(routingKey: string, body = ""): IncomingMessage {
  return { exchange: "", routingKey, header: new Uint8Array(0), body: new TextEncoder().encode(body), persistent: false };
}

describe("direct reply-to addresses", () => {
  it("round-trip the connection, channel and secret", () => {
    const secret = replySecret();
    const address = replyAddress({ connection: A, channel: 7, secret });
    expect(address.startsWith(`${REPLY_TO_QUEUE}.`)).toBe(true);
    expect(parseReplyAddress(address)).toEqual({ connection: A, channel: 7, secret });
    expect(isReplyKey("", address)).toBe(true);
    expect(isReplyKey("amq.direct", address)).toBe(false);
  });

  it("use a fresh random secret per channel: nobody can make another connection's address", () => {
    const secrets = new Set(Array.from({ length: 100 }, () => replySecret()));
    expect(secrets.size).toBe(100);
    for (const s of secrets) expect(s).toMatch(/^[0-9a-f]{32}$/);
  });

  it("refuse malformed addresses", () => {
    const secret = replySecret();
    for (const key of [
      REPLY_TO_QUEUE,
      `${REPLY_TO_QUEUE}.garbage`,
      `${REPLY_TO_QUEUE}.${A}.0.${secret}`,
      `${REPLY_TO_QUEUE}.${A}.65536.${secret}`,
      `${REPLY_TO_QUEUE}.${A}.1.${secret.slice(1)}`,
      `${REPLY_TO_QUEUE}.${A}.1`,
    ]) {
      expect(parseReplyAddress(key)).toBeNull();
    }
  });
});

describe("Publisher: direct replies", () => {
  it("route to no queue; one replyTo RPC per requesting connection, in order; a taken reply counts as routed", async () => {
    const broker = new FakeBroker();
    const publisher = new Publisher(broker, () => "/", new RouteTable(broker, () => "/", "c:test"));
    const sa = replySecret();
    const sb = replySecret();
    const toA = replyAddress({ connection: A, channel: 1, secret: sa });
    const toB = replyAddress({ connection: B, channel: 2, secret: sb });
    expect(publisher.route("", toA, undefined)).toEqual([]);
    // Connection A's channel holds secret sa; a forged address with another secret is not taken.
    broker.connection(A).script.replyTo = async (rs: DirectReply[]) => rs.map((r) => r.channel === 1 && r.secret === sa);
    broker.connection(B).script.replyTo = async (rs: DirectReply[]) => rs.map(() => true);
    const forged = replyAddress({ connection: A, channel: 1, secret: sb });
    const outcome = await publisher.store(
      [reply(toA, "1"), reply(toB, "2"), reply(toA, "3"), reply(forged, "4"), reply(`${REPLY_TO_QUEUE}.x`, "5")].map((message) => ({
        queues: [],
        message,
      })),
    );
    expect(broker.trace()).toEqual([`connection ${A}.replyTo`, `connection ${B}.replyTo`]);
    const sent = broker.connection(A).calls("replyTo")[0]!.args[0] as DirectReply[];
    expect(sent.map((r) => new TextDecoder().decode(r.message.body))).toEqual(["1", "3", "4"]);
    expect([...outcome.routed]).toEqual([1, 1, 1, 0, 0]);
    expect([...outcome.failed]).toEqual([0, 0, 0, 0, 0]);
  });

  it("a gone requester (the RPC throws) drops the reply: unrouted, not a failure", async () => {
    const broker = new FakeBroker();
    const publisher = new Publisher(broker, () => "/", new RouteTable(broker, () => "/", "c:test"));
    broker.connection(A).script.replyTo = async () => {
      throw new Error("gone");
    };
    const to = replyAddress({ connection: A, channel: 1, secret: replySecret() });
    const outcome = await publisher.store([{ queues: [], message: reply(to) }]);
    expect([...outcome.routed]).toEqual([0]);
    expect([...outcome.failed]).toEqual([0]);
  });
});
