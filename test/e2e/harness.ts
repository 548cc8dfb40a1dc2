import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import amqp from "amqplib";
import { afterAll, beforeAll, beforeEach, expect } from "vitest";
import { startWarren, type WarrenServer } from "../../scripts/warren-server.mjs";

/**
 * The side-by-side mode: `WARREN_TEST_AGAINST=rabbitmq` runs the e2e files that opt in
 * (`useWarren({ sideBySide: true })`) against the RabbitMQ at `RABBITMQ_URL` instead of a
 * Warren, so each expectation is checked against RabbitMQ's real answer. Files that do not
 * opt in still run against Warren. Tests of what only Warren does (its WebSocket, its product
 * name, a documented difference) use `it.skipIf(againstRabbitmq)`.
 */
export const againstRabbitmq = process.env.WARREN_TEST_AGAINST === "rabbitmq";
export const RABBITMQ_URL = process.env.RABBITMQ_URL ?? "amqp://guest:guest@127.0.0.1:5672";
/** That RabbitMQ's management API (rabbitmq_management), for files that arrange users and permissions through it. */
export const RABBITMQ_API_URL = process.env.RABBITMQ_API_URL ?? "http://127.0.0.1:15672";

/** The AMQP URL with the password replaced, for log lines. */
function shown(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, "//$1:***@");
}

/** Whether the management API at `url` answers the AMQP URL's user (a reason when not). */
async function managementAnswers(url: string, amqpUrl: URL): Promise<string | null> {
  const auth = Buffer.from(`${decodeURIComponent(amqpUrl.username)}:${decodeURIComponent(amqpUrl.password)}`).toString("base64");
  try {
    const res = await fetch(`${url}/api/overview`, { headers: { Authorization: `Basic ${auth}` }, signal: AbortSignal.timeout(3000) });
    return res.ok ? null : `HTTP ${res.status}`;
  } catch (err) {
    return String(err);
  }
}

/**
 * Starts one Warren (workerd + bridge on free ports, fresh data dir) for the calling test
 * file and stops it afterwards. Read `.server` inside tests. With `sideBySide` and
 * `WARREN_TEST_AGAINST=rabbitmq`, `.server` is the RabbitMQ at `RABBITMQ_URL` (amqpUrl and
 * amqpPort; httpUrl is its management API at `RABBITMQ_API_URL` when that answers, else "");
 * when none answers (or, with `sideBySide: "api"`, its management API does not) every test of
 * the file is skipped, with a line saying so, and `.skipped` is true (for the file's own
 * beforeAll hooks).
 */
export function useWarren(options: { heartbeat?: number; vars?: Record<string, string>; sideBySide?: boolean | "api" } = {}): {
  readonly server: WarrenServer;
  dataDir: string;
  skipped: boolean;
} {
  const box = { server: undefined as unknown as WarrenServer, dataDir: "", skipped: false };
  if (options.sideBySide && againstRabbitmq) {
    beforeAll(async () => {
      const file = basename(expect.getState().testPath ?? "this file");
      const url = new URL(RABBITMQ_URL);
      try {
        const conn = await amqp.connect(RABBITMQ_URL, { timeout: 3000 });
        await conn.close();
      } catch (err) {
        box.skipped = true;
        console.log(
          `[side-by-side] no RabbitMQ answers at ${shown(RABBITMQ_URL)} (${String(err)}): ${file} skipped. ` +
            "Set RABBITMQ_URL to a running RabbitMQ, or unset WARREN_TEST_AGAINST to test Warren.",
        );
        return;
      }
      const apiProblem = await managementAnswers(RABBITMQ_API_URL, url);
      if (apiProblem !== null && options.sideBySide === "api") {
        box.skipped = true;
        console.log(
          `[side-by-side] no RabbitMQ management API answers at ${RABBITMQ_API_URL} (${apiProblem}): ${file} skipped. ` +
            "Enable rabbitmq_management and set RABBITMQ_API_URL, or unset WARREN_TEST_AGAINST to test Warren.",
        );
        return;
      }
      console.log(
        `[side-by-side] ${file} runs against RabbitMQ at ${shown(RABBITMQ_URL)}` +
          (apiProblem === null ? ` (management API ${RABBITMQ_API_URL})` : ""),
      );
      box.server = {
        httpUrl: apiProblem === null ? RABBITMQ_API_URL : "",
        wsUrl: "",
        amqpUrl: RABBITMQ_URL,
        amqpPort: Number(url.port || 5672),
        close: async () => undefined,
      };
    });
    beforeEach((ctx) => {
      if (box.skipped) ctx.skip();
    });
    return box;
  }
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
