export declare const BUILD_DIR: string;
export declare function buildWorker(options?: { quiet?: boolean }): Promise<void>;
export interface WarrenServer {
  httpUrl: string;
  wsUrl: string;
  amqpUrl: string | null;
  amqpPort: number | null;
  close(): Promise<void>;
}
export declare function startWarren(options?: {
  host?: string;
  httpPort?: number;
  amqpPort?: number | null;
  dataDir?: string;
  heartbeat?: number;
  build?: boolean;
  quiet?: boolean;
  /** Opens workerd's V8 inspector on this port (for profiling). */
  inspectorPort?: number;
}): Promise<WarrenServer>;
