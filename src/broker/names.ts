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
