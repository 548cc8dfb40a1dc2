import { describe, expect, it } from "vitest";
import { originAllowed } from "../../src/http/origin";

const upgrade = (origin?: string) =>
  new Request("https://warren.example.workers.dev/amqp", { headers: origin === undefined ? {} : { Origin: origin } });

describe("WebSocket origin check", () => {
  it.each([
    ["no Origin (bridge, native clients)", undefined, undefined, true],
    ["the Worker's own origin", "https://warren.example.workers.dev", undefined, true],
    ["another site", "https://evil.example", undefined, false],
    ["another site that is listed", "https://app.example.com", "https://app.example.com, https://other.example", true],
    ["a site not in the list", "https://evil.example", "https://app.example.com", false],
    ["any site with *", "https://evil.example", "*", true],
    ["the same host on another scheme", "http://warren.example.workers.dev", undefined, false],
    ["the literal null origin (sandboxed frames, file://)", "null", undefined, false],
  ])("%s", (_what, origin, list, expected) => {
    expect(originAllowed(upgrade(origin), list)).toBe(expected);
  });
});
