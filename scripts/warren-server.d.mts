// Types for warren-server.mjs (plain JS, no build step). The .mjs takes its public types from
// here, so `npm run typecheck` checks the implementation against these declarations.
export declare const BUILD_DIR: string;
export declare function buildWorker(options?: { quiet?: boolean }): Promise<void>;
export interface WarrenServer {
  httpUrl: string;
  wsUrl: string;
  amqpUrl: string | null;
  amqpPort: number | null;
  close(): Promise<void>;
}
export interface WarrenOptions {
  host?: string;
  httpPort?: number;
  /** null: no TCP bridge (then amqpUrl and amqpPort are null). */
  amqpPort?: number | null;
  /**
   * Addresses the TCP bridge listens on (a list or comma-separated). Default: 127.0.0.1 and ::1
   * when `host` is 127.0.0.1 (the default), else `host`.
   */
  amqpHost?: string | string[];
  dataDir?: string;
  heartbeat?: number;
  build?: boolean;
  quiet?: boolean;
  /** Opens workerd's V8 inspector on this port (for profiling). */
  inspectorPort?: number;
  /** Worker variables (WARREN_* limits, allowed origins); WARREN_* in the environment are passed too. */
  vars?: Record<string, string>;
}
export declare function startWarren(options?: WarrenOptions): Promise<WarrenServer>;
