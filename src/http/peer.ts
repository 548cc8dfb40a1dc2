/**
 * The client's address: Cloudflare's CF-Connecting-IP when deployed (clients cannot set it), else
 * the first X-Forwarded-For hop the local bridge adds for its TCP clients, else loopback (locally
 * workerd listens on 127.0.0.1 only, so a request without either header came from this machine).
 */
export function peerAddress(request: Request): string {
  const cf = request.headers.get("CF-Connecting-IP");
  if (cf) return cf;
  const forwarded = request.headers.get("X-Forwarded-For")?.split(",")[0]?.trim();
  return forwarded || "127.0.0.1";
}

/** The header the Worker passes the client's address to its ConnectionDO in, overwriting any a client sent. */
export const PEER_HEADER = "X-Warren-Peer";

/** The request with the peer header set by us. */
export function withPeer(request: Request): Request {
  const headers = new Headers(request.headers);
  headers.set(PEER_HEADER, peerAddress(request));
  return new Request(request, { headers });
}
