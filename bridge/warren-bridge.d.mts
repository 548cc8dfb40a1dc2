// Types for warren-bridge.mjs (plain JS, no build step). The .mjs takes its public types from
// here, so `npm run typecheck` checks the implementation against these declarations.
export interface BridgeOptions {
  /**
   * Addresses to listen on, a list or comma-separated (default 127.0.0.1 and ::1, so clients that
   * resolve localhost to ::1 connect). One the machine does not have is logged and skipped while
   * another listens.
   */
  host?: string | string[];
  /** TCP port to listen on; 0 picks a free one (default 5672). */
  port?: number;
  /** Warren WebSocket URL (default ws://127.0.0.1:8787/amqp). */
  upstream?: string;
  /** Logger; false silences it (default console.log). */
  log?: ((line: string) => void) | false;
  /** Same as `log: false`. */
  quiet?: boolean;
  /**
   * Upstream WebSocket handshakes in progress at once (default 8, env WARREN_BRIDGE_MAX_CONNECTING;
   * 0 = no limit): a storm of connects is admitted a few at a time so live connections stay served.
   */
  maxConnecting?: number;
  /**
   * Sent with each upstream connection (X-Warren-Forwarded-By) so that Warren believes the
   * X-Forwarded-For address the bridge sets; env WARREN_FORWARD_SECRET. Without it Warren sees
   * the bridge's own address.
   */
  forwardSecret?: string;
}

export interface Bridge {
  /** The port actually listened on (useful with port 0). */
  port: number;
  /** The first address listened on. */
  host: string;
  /** Every address listened on (all on `port`). */
  hosts: string[];
  /** Stop listening and close every open connection. */
  close(): Promise<void>;
}

export function startBridge(options?: BridgeOptions): Promise<Bridge>;
/** "127.0.0.1,::1" or a list: the addresses to listen on, without blanks, brackets or repeats. */
export function hostList(host: string | string[]): string[];
