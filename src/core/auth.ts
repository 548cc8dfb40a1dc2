import type { Broker } from "./broker";

export interface Credentials {
  username: string;
  password: string;
}

export type LoginResult = { ok: true; user: string; tags: string[] } | { ok: false; text: string; loopbackOnly: boolean };

/** RabbitMQ's loopback check: IPv4 127/8, IPv6 ::1 and IPv4-mapped loopback. */
export function isLoopback(peer: string): boolean {
  const p = peer.replace(/^::ffff:/i, "");
  return p === "::1" || /^127\.\d+\.\d+\.\d+$/.test(p);
}

/** WARREN_LOOPBACK_USERS: default "guest", as RabbitMQ's loopback_users. */
export function loopbackUsersFrom(setting: string | undefined): string[] {
  if (setting === undefined) return ["guest"];
  return setting
    .split(",")
    .map((u) => u.trim())
    .filter((u) => u !== "" && u !== "none");
}

/**
 * A password login from `peer`, for AMQP and the management API alike: the password, then the
 * loopback rule; every attempt is counted per peer and per user, and a braked one is answered
 * only after the brake's delay, right or wrong.
 */
export async function login(broker: Broker, credentials: Credentials | null, peer: string): Promise<LoginResult> {
  const username = credentials?.username ?? "";
  // As RabbitMQ: a blank password never logs in (whatever hash the user has).
  const found =
    credentials && credentials.password !== "" ? await broker.control().login(credentials.username, credentials.password) : null;
  const delay = await broker.loginOutcome(peer, username, found !== null);
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
  if (!found) {
    broker.log(`login refused for user '${username}' from ${peer}`);
    return { ok: false, text: "invalid credentials", loopbackOnly: false };
  }
  if (broker.loopbackUsers.includes(username) && !isLoopback(peer)) {
    broker.log(`login refused for user '${username}' from ${peer}: loopback only`);
    return { ok: false, text: `user '${username}' can only connect via localhost`, loopbackOnly: true };
  }
  return { ok: true, user: username, tags: found.tags };
}
