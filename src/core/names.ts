/** Durable Object name of an exchange or queue: unambiguous for any vhost and entity name. */
export function entityKey(vhost: string, name: string): string {
  return JSON.stringify([vhost, name]);
}

export function describeQueue(vhost: string, name: string): string {
  return `queue '${name}' in vhost '${vhost}'`;
}

export function describeExchange(vhost: string, name: string): string {
  return `exchange '${name}' in vhost '${vhost}'`;
}

/** Binding destinations are kept as one string: "q:<queue>" or "e:<exchange>". */
export type DestinationKind = "queue" | "exchange";

export function destinationKey(kind: DestinationKind, name: string): string {
  return (kind === "queue" ? "q:" : "e:") + name;
}

export function parseDestination(key: string): { kind: DestinationKind; name: string } {
  return { kind: key.startsWith("q:") ? "queue" : "exchange", name: key.slice(2) };
}

export function generatedName(prefix: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  const b64 = btoa(String.fromCharCode(...bytes))
    .replace(/\+/g, "-")
    .replace(/\//g, "_")
    .replace(/=+$/, "");
  return `${prefix}${b64}`;
}

/**
 * Who caches an exchange's routes and must hear when they change: a connection (publishing
 * over AMQP) or a queue (dead-lettering through the exchange). Stored as one string.
 */
export type SubscriberAddress = { kind: "connection"; id: string } | { kind: "queue"; vhost: string; name: string };

export function subscriberKey(a: SubscriberAddress): string {
  return a.kind === "connection" ? `c:${a.id}` : `q:${entityKey(a.vhost, a.name)}`;
}

export function parseSubscriberKey(key: string): SubscriberAddress | null {
  if (key.startsWith("c:")) return { kind: "connection", id: key.slice(2) };
  if (!key.startsWith("q:")) return null;
  const parsed: unknown = JSON.parse(key.slice(2));
  if (!Array.isArray(parsed) || typeof parsed[0] !== "string" || typeof parsed[1] !== "string") return null;
  return { kind: "queue", vhost: parsed[0], name: parsed[1] };
}
