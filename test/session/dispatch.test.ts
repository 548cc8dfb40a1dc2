import { describe, expect, it } from "vitest";
import { METHOD_NAMES, METHOD_TABLE, type MethodName } from "../../src/amqp";
import { METHODS, isBatched, lookup } from "../../src/session/dispatch";

/** Requests only the server sends: a client never does. */
const SERVER_REQUESTS = new Set<MethodName>([
  "connection.start",
  "connection.secure",
  "connection.tune",
  "basic.return",
  "basic.deliver",
  "basic.get-empty",
]);
/** Replies a client sends to a server's request; every other *-ok is the server's reply. */
const CLIENT_REPLIES = new Set<MethodName>([
  "connection.start-ok",
  "connection.secure-ok",
  "connection.tune-ok",
  "connection.close-ok",
  "channel.flow-ok",
  "channel.close-ok",
]);
/**
 * Client-sendable, but RabbitMQ refuses them: secure-ok answers connection.secure, which no
 * mechanism we offer (PLAIN, AMQPLAIN) sends; RabbitMQ has no handler for channel.flow-ok
 * (rabbit_channel answers "unimplemented method") and never sends channel.flow itself.
 */
const NOT_ACCEPTED = new Set<MethodName>(["connection.secure-ok", "channel.flow-ok"]);

const clientSendable = METHOD_NAMES.filter((n) => !SERVER_REQUESTS.has(n) && (!n.endsWith("-ok") || CLIENT_REPLIES.has(n)));
const accepted = clientSendable.filter((n) => !NOT_ACCEPTED.has(n));

describe("the method table (dispatch.ts)", () => {
  it("the derived client list is what the spec's chassis says (sanity of the derivation)", () => {
    expect(accepted).toEqual(
      expect.arrayContaining([
        "connection.start-ok",
        "connection.open",
        "channel.open",
        "basic.publish",
        "basic.ack",
        "basic.nack",
        "basic.cancel",
        "tx.commit",
      ]),
    );
    for (const serverOnly of [
      "connection.start",
      "connection.tune",
      "connection.open-ok",
      "basic.deliver",
      "basic.get-ok",
      "basic.consume-ok",
      "queue.declare-ok",
    ] as const) {
      expect(clientSendable).not.toContain(serverOnly);
    }
    expect(accepted.length).toBeGreaterThanOrEqual(35);
  });

  it("every method RabbitMQ accepts from a client has an entry", () => {
    const missing = accepted.filter((n) => lookup(n) === undefined);
    expect(missing).toEqual([]);
  });

  it("has no entry for a method a client never sends (the server's own replies and requests)", () => {
    const extra = Object.keys(METHODS).filter((n) => !clientSendable.includes(n as MethodName));
    expect(extra).toEqual([]);
  });

  it("each entry's scope matches its class: connection.* on channel 0, everything else on a channel", () => {
    for (const [name, entry] of Object.entries(METHODS)) {
      expect(METHOD_TABLE[name as MethodName], name).toBeDefined();
      expect(`${name}: ${entry.scope}`).toBe(`${name}: ${name.startsWith("connection.") ? "connection" : "channel"}`);
      expect(typeof entry.handle, name).toBe("function");
    }
  });

  it("exactly basic.publish, ack, nack and reject are batched", () => {
    expect(METHOD_NAMES.filter(isBatched).sort()).toEqual(["basic.ack", "basic.nack", "basic.publish", "basic.reject"]);
  });
});
