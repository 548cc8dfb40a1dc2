import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll } from "vitest";
import { startWarren, type WarrenServer } from "../../scripts/warren-server.mjs";

/**
 * Starts one Warren (workerd + bridge on free ports, fresh data dir) for the calling test
 * file and stops it afterwards. Read `.server` inside tests.
 */
export function useWarren(options: { heartbeat?: number; vars?: Record<string, string> } = {}): {
  readonly server: WarrenServer;
  dataDir: string;
} {
  const box = { server: undefined as unknown as WarrenServer, dataDir: "" };
  beforeAll(async () => {
    box.dataDir = await mkdtemp(join(tmpdir(), "warren-test-"));
    box.server = await startWarren({
      httpPort: 0,
      amqpPort: 0,
      dataDir: box.dataDir,
      build: false,
      quiet: true,
      ...(options.heartbeat !== undefined ? { heartbeat: options.heartbeat } : {}),
      ...(options.vars !== undefined ? { vars: options.vars } : {}),
    });
  });
  afterAll(async () => {
    await box.server?.close();
    if (box.dataDir) await rm(box.dataDir, { recursive: true, force: true });
  });
  return box;
}
