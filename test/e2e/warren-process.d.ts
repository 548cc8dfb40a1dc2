// Types for scripts/warren-process.mjs as the e2e tests import it: the script is typed with JSDoc
// (checked by tsconfig.scripts.json), which this project's test config does not read (no allowJs).
// Keep in step with the @typedef WarrenProcess and spawnWarren's @param list there.
declare module "*/scripts/warren-process.mjs" {
  /** A Warren started by spawnWarren: `node scripts/start.mjs` and its workerd, in their own process group. */
  export interface WarrenProcess {
    readonly amqpUrl: string;
    readonly wsUrl: string;
    /** The start.mjs process, leader of the group. */
    readonly pid: number;
    workerdPid(): number | undefined;
    /** SIGKILL to the whole process group. */
    kill9(): void;
    /** SIGINT (clean shutdown), SIGKILL after 10 s. */
    stop(): Promise<void>;
    /** Resolves with the exit code (null when killed). */
    readonly exited: Promise<number | null>;
  }

  export function spawnWarren(options: {
    dataDir: string;
    nofile?: number;
    startTimeoutMs?: number;
    onOutput?: (line: string) => void;
    /** Another checkout of Warren to run; it builds its own bundle. */
    tree?: string;
    /** false: use the bundle the global setup built. */
    build?: boolean;
  }): Promise<WarrenProcess>;

  /** SIGKILL to every Warren process group started here and still running. */
  export function killAll(): void;
}
