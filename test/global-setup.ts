import { buildWorker } from "../scripts/warren-server.mjs";

// Bundle the Worker once per `npm test`; each e2e file then starts its own workerd on free ports.
export default async function setup(): Promise<void> {
  await buildWorker({ quiet: true });
}
