#!/usr/bin/env node
// warrenctl: a rabbitmqctl-like command line tool for Warren. It speaks only the RabbitMQ
// management HTTP API (/api), so it works against RabbitMQ's management plugin as well.
// `warrenctl --help` lists the commands, options and exit codes.
import { main } from "./lib/cli.mjs";

// A reader that stops early (`warrenctl list_queues | head -1`) is not an error.
process.stdout.on("error", (err) => {
  if (/** @type {NodeJS.ErrnoException} */ (err).code === "EPIPE") process.exit(0);
  throw err;
});

async function readStdin() {
  /** @type {Buffer[]} */
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk)));
  return Buffer.concat(chunks).toString("utf8");
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: readStdin,
  env: process.env,
});
