// The policy keys RabbitMQ 3.10 accepts, each with its value check (rabbit_policy validators):
// a definition with any other key, or a bad value, is refused with 400 as RabbitMQ does. Which
// keys the queue engine applies is up to the queue features (README: differences).

type Check = (v: unknown) => boolean;

const nonNegInt: Check = (v) => Number.isInteger(v) && (v as number) >= 0;
const posInt: Check = (v) => Number.isInteger(v) && (v as number) > 0;
const str: Check = (v) => typeof v === "string";
const oneOf =
  (...values: string[]): Check =>
  (v) =>
    typeof v === "string" && values.includes(v);
const any: Check = () => true;

export const POLICY_KEYS: Readonly<Record<string, Check>> = {
  "message-ttl": nonNegInt,
  expires: posInt,
  "max-length": nonNegInt,
  "max-length-bytes": nonNegInt,
  overflow: oneOf("drop-head", "reject-publish", "reject-publish-dlx"),
  "dead-letter-exchange": str,
  "dead-letter-routing-key": str,
  "queue-mode": oneOf("default", "lazy"),
  "queue-master-locator": oneOf("min-masters", "client-local", "random"),
  "queue-leader-locator": oneOf("client-local", "balanced"),
  "delivery-limit": nonNegInt,
  "max-age": str,
  "max-in-memory-length": nonNegInt,
  "max-in-memory-bytes": nonNegInt,
  "stream-max-segment-size-bytes": nonNegInt,
  "alternate-exchange": str,
  "federation-upstream": str,
  "federation-upstream-set": str,
  // Classic mirroring: accepted and ignored (RabbitMQ 4 removed it; Warren has one copy per queue).
  "ha-mode": oneOf("all", "exactly", "nodes"),
  "ha-params": any,
  "ha-sync-mode": oneOf("manual", "automatic"),
  "ha-sync-batch-size": posInt,
  "ha-promote-on-shutdown": oneOf("when-synced", "always"),
  "ha-promote-on-failure": oneOf("when-synced", "always"),
};

/** Null when every key is known and its value valid; else RabbitMQ-style reason text. */
export function invalidPolicyDefinition(definition: Record<string, unknown>): string | null {
  const unknown = Object.keys(definition).filter((k) => !(k in POLICY_KEYS));
  if (unknown.length > 0) return `Validation failed\n\n${unknown.map((k) => `'${k}'`).join(", ")} are not recognised policy settings`;
  for (const [key, value] of Object.entries(definition)) {
    if (!POLICY_KEYS[key]?.(value)) return `Validation failed\n\n${JSON.stringify(value)} is not a valid value for '${key}'`;
  }
  return null;
}

/** The policy that applies to a queue: the highest priority one whose pattern matches its name. */
export function effectivePolicy<P extends { pattern: string; applyTo: string; priority: number; name: string }>(
  policies: readonly P[],
  queue: string,
): P | null {
  let best: P | null = null;
  for (const p of policies) {
    if (p.applyTo !== "queues" && p.applyTo !== "all") continue;
    let matches = false;
    try {
      matches = new RegExp(p.pattern).test(queue);
    } catch {
      continue;
    }
    if (matches && (best === null || p.priority > best.priority)) best = p;
  }
  return best;
}
