// The bridge as a command: option/env parsing, log lines, clean exit on signals.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { connect, readBytes, startUpstream, until } from "./helpers";

const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "bridge", "warren-bridge.mjs");

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

function run(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [SCRIPT, ...args], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stderr!.on("data", (d: Buffer) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function listeningPort(output: () => string): Promise<number> {
  await until(() => /listening on 127\.0\.0\.1:\d+/.test(output()), 5000, "listening log line");
  return Number(/listening on 127\.0\.0\.1:(\d+)/.exec(output())![1]);
}

describe("warren-bridge CLI", () => {
  it("--help prints usage and exits 0", async () => {
    const { output, exited } = run(["--help"]);
    expect(await exited).toBe(0);
    expect(output()).toMatch(/Usage: warren-bridge/);
    expect(output()).toMatch(/--upstream URL/);
  });

  it("rejects unknown options with exit code 2", async () => {
    const { output, exited } = run(["--nope"]);
    expect(await exited).toBe(2);
    expect(output()).toMatch(/Unknown option/);
  });

  it("relays, logs connections, and exits cleanly on SIGTERM", async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    // Options from the environment; --port on the command line.
    const { child, output, exited } = run(["--port", "0"], { WARREN_BRIDGE_UPSTREAM: upstream.url });
    const port = await listeningPort(output);
    expect(output()).toContain(`-> ${upstream.url}`);

    const sock = await connect(port);
    cleanups.push(() => sock.destroy());
    sock.write("hello");
    expect((await readBytes(sock, 5)).toString()).toBe("hello");
    expect(output()).toMatch(/#1 open 127\.0\.0\.1:\d+/);
    sock.end();
    await until(() => /#1 closed .*up 5 B, down 5 B/.test(output()), 5000, "close log line");

    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(output()).toMatch(/SIGTERM received, closing/);
  });

  it("exits 1 with a message when the port is taken", async () => {
    const a = run(["--port", "0"]);
    const port = await listeningPort(a.output);
    const b = run(["--port", String(port)]);
    expect(await b.exited).toBe(1);
    expect(b.output()).toMatch(/failed to start: .*EADDRINUSE/);
    a.child.kill("SIGINT");
    expect(await a.exited).toBe(0);
  });
});
