import { describe, expect, it } from "vitest";
import { isLoopback } from "../../src/core/auth";
import { peerAddress } from "../../src/http/peer";

const req = (headers: Record<string, string>) => new Request("http://warren/amqp", { headers });

describe("peerAddress: whose address a login is checked against", () => {
  it.each([
    [
      "Cloudflare's CF-Connecting-IP wins over anything a client sends",
      { "CF-Connecting-IP": "198.51.100.4", "X-Forwarded-For": "127.0.0.1" },
      "198.51.100.4",
    ],
    [
      "behind a loopback proxy (the bridge), its X-Forwarded-For hop",
      { "CF-Connecting-IP": "127.0.0.1", "X-Forwarded-For": "203.0.113.7, 10.0.0.1" },
      "203.0.113.7",
    ],
    ["a loopback request without forwarding is loopback", { "CF-Connecting-IP": "::1" }, "::1"],
    ["no header at all: this machine", {}, "127.0.0.1"],
  ])("%s", (_what, headers, expected) => {
    expect(peerAddress(req(headers))).toBe(expected);
  });

  it.each([
    ["127.0.0.1", true],
    ["127.1.2.3", true],
    ["::1", true],
    ["::ffff:127.0.0.1", true],
    ["10.0.0.1", false],
    ["203.0.113.7", false],
    ["::ffff:203.0.113.7", false],
    ["unknown", false],
  ])("isLoopback(%s) = %s", (peer, expected) => {
    expect(isLoopback(peer)).toBe(expected);
  });
});
