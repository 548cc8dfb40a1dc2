import { describe, expect, it } from "vitest";
import { effectivePolicy } from "../../src/core/policies";
import { settingsOf } from "../../src/queue/settings";

const policy = (name: string, pattern: string, priority: number, applyTo = "queues") => ({ name, pattern, priority, applyTo });

describe("the policy that applies to a queue", () => {
  it("highest priority among those matching, queues or all; exchanges-only and bad patterns never", () => {
    const all = [
      policy("a", "^q\\.", 1),
      policy("b", "^q\\.x", 5),
      policy("c", ".*", 9, "exchanges"),
      policy("d", "(", 99),
      policy("e", "x$", 3, "all"),
    ];
    expect(effectivePolicy(all, "q.x")?.name).toBe("b");
    expect(effectivePolicy(all, "q.y")?.name).toBe("a");
    expect(effectivePolicy(all, "zx")?.name).toBe("e");
    expect(effectivePolicy(all, "nothing")).toBeNull();
  });
});

describe("arguments and policy together (RabbitMQ's precedence)", () => {
  const args = {
    "x-message-ttl": { type: "I", value: 5000 },
    "x-max-length": { type: "I", value: 10 },
    "x-dead-letter-exchange": { type: "S", value: "from-arg" },
    "x-overflow": { type: "S", value: "reject-publish" },
  } as const;
  it.each([
    ["message-ttl", 1000, "messageTtl", 1000],
    ["message-ttl", 9000, "messageTtl", 5000],
    ["max-length", 3, "maxLength", 3],
    ["max-length", 30, "maxLength", 10],
    ["max-length-bytes", 100, "maxLengthBytes", 100],
    ["expires", 7000, "expires", 7000],
    ["dead-letter-exchange", "from-policy", "deadLetterExchange", "from-arg"],
    ["dead-letter-routing-key", "rk", "deadLetterRoutingKey", "rk"],
    ["overflow", "drop-head", "overflow", "reject-publish"],
    ["delivery-limit", 4, "deliveryLimit", 4],
  ] as const)("policy %s = %s → %s = %s", (key, value, field, expected) => {
    expect(settingsOf(args, { [key]: value })[field]).toBe(expected);
  });

  it("quorum queues: delivery limit 20 unless set; -1 means none; a policy still applies", () => {
    const quorum = { "x-queue-type": { type: "S", value: "quorum" } } as const;
    expect(settingsOf(quorum).deliveryLimit).toBe(20);
    expect(settingsOf({ ...quorum, "x-delivery-limit": { type: "I", value: -1 } }).deliveryLimit).toBeUndefined();
    expect(settingsOf(quorum, { "delivery-limit": 3 }).deliveryLimit).toBe(3);
    expect(settingsOf({}).deliveryLimit).toBeUndefined();
  });
});
