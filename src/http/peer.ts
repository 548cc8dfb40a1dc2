import { isLoopback } from "../core/auth";

/** What decides whose address a request comes from (Worker variables). */
export interface PeerConfig {
  /** Shared with the TCP bridge: proves its X-Forwarded-For. */
  WARREN_FORWARD_SECRET?: string;
  /** Set only by the local server: the address it listens on. */
  WARREN_LOCAL_HOST?: string;
}

/**
 * The client's address, believing only what cannot be forged:
 * - a request from the TCP bridge (it carries the secret the bridge shares with the Worker):
 *   the bridge's X-Forwarded-For, its own TCP client's address;
 * - locally (scripts/warren-server.mjs): bound to loopback, any other request came from this
 *   machine; bound to anything else, nothing a client sends can be checked, so "unknown" (never
 *   loopback: guest is refused);
 * - deployed: Cloudflare's CF-Connecting-IP, which clients cannot set there.
 */
export function peerAddress(request: Request, config: PeerConfig): string {
  const secret = config.WARREN_FORWARD_SECRET;
  if (secret && request.headers.get(FORWARDED_BY_HEADER) === secret) {
    return request.headers.get("X-Forwarded-For")?.split(",")[0]?.trim() || "unknown";
  }
  if (config.WARREN_LOCAL_HOST !== undefined) {
    return isLoopback(config.WARREN_LOCAL_HOST) || config.WARREN_LOCAL_HOST === "localhost" ? "127.0.0.1" : "unknown";
  }
  return request.headers.get("CF-Connecting-IP") || "unknown";
}

/** The bridge's proof that its X-Forwarded-For is the truth. */
export const FORWARDED_BY_HEADER = "X-Warren-Forwarded-By";

/** The header the Worker passes the client's address to its ConnectionDO in, overwriting any a client sent. */
export const PEER_HEADER = "X-Warren-Peer";

/** The request with the peer header set by us. */
export function withPeer(request: Request, config: PeerConfig): Request {
  const headers = new Headers(request.headers);
  headers.set(PEER_HEADER, peerAddress(request, config));
  return new Request(request, { headers });
}
