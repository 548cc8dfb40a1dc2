import { isLoopback } from "../core/auth";

/**
 * The client's address. Deployed, Cloudflare's CF-Connecting-IP (clients cannot set it). Locally
 * Miniflare sets it to the TCP peer of workerd, which is loopback for the bridge: only then is the
 * first X-Forwarded-For hop (the bridge's own TCP client) believed. A request with neither header
 * came from this machine (workerd listens on 127.0.0.1 unless told otherwise).
 */
export function peerAddress(request: Request): string {
  const cf = request.headers.get("CF-Connecting-IP");
  if (cf && !isLoopback(cf)) return cf;
  const forwarded = request.headers.get("X-Forwarded-For")?.split(",")[0]?.trim();
  return forwarded || cf || "127.0.0.1";
}

/** The header the Worker passes the client's address to its ConnectionDO in, overwriting any a client sent. */
export const PEER_HEADER = "X-Warren-Peer";

/** The request with the peer header set by us. */
export function withPeer(request: Request): Request {
  const headers = new Headers(request.headers);
  headers.set(PEER_HEADER, peerAddress(request));
  return new Request(request, { headers });
}
