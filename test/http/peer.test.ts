import { describe, expect, it } from "vitest";
import { isLoopback } from "../../src/core/auth";
import { peerAddress } from "../../src/http/peer";

const req = (headers: Record<string, string>) => new Request("http://warren/amqp", { headers });

describe("peerAddress: whose address a login is checked against", () => {
  const local = { WARREN_FORWARD_SECRET: "s3cret", WARREN_LOCAL_HOST: "127.0.0.1" };
  const localPublic = { WARREN_FORWARD_SECRET: "s3cret", WARREN_LOCAL_HOST: "0.0.0.0" };
  const deployed = { WARREN_FORWARD_SECRET: "s3cret" };
  it.each([
    [
      "the bridge (with the shared secret): its X-Forwarded-For",
      local,
      { "X-Warren-Forwarded-By": "s3cret", "X-Forwarded-For": "203.0.113.7" },
      "203.0.113.7",
    ],
    ["a wrong secret proves nothing", local, { "X-Warren-Forwarded-By": "guess", "X-Forwarded-For": "203.0.113.7" }, "127.0.0.1"],
    [
      "locally on loopback, anything else came from this machine",
      local,
      { "X-Forwarded-For": "203.0.113.7", "CF-Connecting-IP": "198.51.100.1" },
      "127.0.0.1",
    ],
    [
      "locally on a public address, a client's headers prove nothing",
      localPublic,
      { "CF-Connecting-IP": "127.0.0.1", "X-Forwarded-For": "127.0.0.1" },
      "unknown",
    ],
    [
      "deployed: Cloudflare's CF-Connecting-IP",
      deployed,
      { "CF-Connecting-IP": "198.51.100.4", "X-Forwarded-For": "127.0.0.1" },
      "198.51.100.4",
    ],
    ["deployed without CF-Connecting-IP: unknown, never loopback", deployed, { "X-Forwarded-For": "127.0.0.1" }, "unknown"],
    [
      "deployed, the bridge with the secret",
      deployed,
      { "X-Warren-Forwarded-By": "s3cret", "X-Forwarded-For": "192.0.2.9", "CF-Connecting-IP": "198.51.100.4" },
      "192.0.2.9",
    ],
  ])("%s", (_what, config, headers, expected) => {
    expect(peerAddress(req(headers), config)).toBe(expected);
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
