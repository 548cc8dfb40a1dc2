import { describe, expect, it } from "vitest";
import { BrokerError } from "../../src/core/errors";
import { AccessControl, compilePermission, invalidPermission } from "../../src/core/permissions";

describe("permissions as RabbitMQ reads them", () => {
  it.each([
    // pattern, name, allowed
    [".*", "anything", true],
    [".*", "", true],
    ["", "", true], // "" is "^$": no resource has the empty name (the default exchange is checked as amq.default)
    ["", "amq.default", false],
    ["", "amq.topic", false],
    ["^$", "x", false],
    ["orders", "my.orders.queue", true], // unanchored: a match anywhere counts, as re:run
    ["^orders", "my.orders.queue", false],
    ["^(orders|billing)\\.", "billing.eu", true],
    ["^(orders|billing)\\.", "shipping.eu", false],
  ])("pattern %j on %j → %s", (pattern, name, allowed) => {
    expect(compilePermission(pattern).test(name)).toBe(allowed);
  });

  it("refuses with RabbitMQ 3.10.8's 403 text: resource, vhost and user, no permission kind", () => {
    const a = new AccessControl("bob", "/", { configure: "^bob\\.", write: ".*", read: "" });
    expect(() => a.check("configure", "queue", "bob.q")).not.toThrow();
    let err: unknown;
    try {
      a.check("configure", "queue", "alice.q");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(BrokerError);
    expect(err).toMatchObject({ code: 403, text: "access to queue 'alice.q' in vhost '/' refused for user 'bob'" });
    expect(() => a.check("read", "exchange", "amq.direct")).toThrow("access to exchange 'amq.direct' in vhost '/' refused for user 'bob'");
  });

  it("the default exchange is matched and named as amq.default, as RabbitMQ checks it", () => {
    // "" (^$) does not let a user publish to the default exchange; "^amq\.default$" does.
    const empty = new AccessControl("bob", "v", { configure: "", write: "", read: "" });
    expect(() => empty.check("write", "exchange", "")).toThrow("access to exchange 'amq.default' in vhost 'v' refused for user 'bob'");
    const named = new AccessControl("bob", "v", { configure: "", write: "^amq\\.default$", read: "" });
    expect(() => named.check("write", "exchange", "")).not.toThrow();
    // Only exchanges: a queue is never the default exchange.
    expect(() => named.check("write", "queue", "")).toThrow("access to queue '' in vhost 'v' refused for user 'bob'");
  });

  it("answers come from a per-kind cache, bounded, and an update replaces them", () => {
    const a = new AccessControl("bob", "/", { configure: ".*", write: "^a", read: ".*" });
    expect(a.allowed("write", "abc")).toBe(true);
    a.update({ configure: ".*", write: "^z", read: ".*" });
    expect(a.allowed("write", "abc")).toBe(false);
    for (let i = 0; i < 5000; i++) a.allowed("write", `name-${i}`);
    expect(a.allowed("write", "zed")).toBe(true);
    a.update(null);
    expect(a.allowed("read", "anything")).toBe(false);
  });

  it("invalid regular expressions are reported per kind", () => {
    expect(invalidPermission({ configure: ".*", write: "(", read: ".*" })).toMatch(/^invalid write regular expression '\('/);
    expect(invalidPermission({ configure: ".*", write: ".*", read: ".*" })).toBeNull();
  });
});
