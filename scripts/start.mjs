// `npm start`: Warren on workerd with state on disk, plus the TCP bridge on 5672.
import { startWarren } from "./warren-server.mjs";

const env = process.env;
const server = await startWarren({
  host: env.WARREN_HOST ?? "127.0.0.1",
  httpPort: Number(env.WARREN_HTTP_PORT ?? 8787),
  amqpPort: Number(env.WARREN_AMQP_PORT ?? 5672),
  ...(env.WARREN_AMQP_HOST ? { amqpHost: env.WARREN_AMQP_HOST } : {}),
  ...(env.WARREN_DATA_DIR ? { dataDir: env.WARREN_DATA_DIR } : {}),
  heartbeat: Number(env.WARREN_HEARTBEAT ?? 60),
  quiet: env.WARREN_QUIET === "1",
  build: env.WARREN_NO_BUILD !== "1",
});
console.log(`
Warren is running.
  AMQP over TCP:        ${server.amqpUrl}
  AMQP over WebSocket:  ${server.wsUrl}
  Health:               ${server.httpUrl}/health
Press Ctrl-C to stop.`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  console.log("\nwarren: stopping…");
  await server.close();
  process.exit(0);
}
process.on("SIGINT", stop);
process.on("SIGTERM", stop);
