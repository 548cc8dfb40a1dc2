// The control plane's cost on the publish path, isolated: the real AMQP session (Connection,
// channels, routing, the publisher) against in-memory fakes, publishing 2,000 messages per
// iteration to a direct exchange — with the connection's real permission checks, and with checks
// replaced by "allow everything" (what publishing cost before permissions existed). Run by
// `npm run bench` (bench/run.mjs) through vitest with bench/vitest.config.ts (not part of npm test).
import { it } from "vitest";
import { concatBytes } from "../src/amqp/buffer";
import { DEFAULT_LIMITS } from "../src/core/limits";
import { AccessControl } from "../src/core/permissions";
import { Connection } from "../src/session/connection";
import { FakeBroker, FakeTransport } from "../test/session/fakes";
import { frame, plain, protocolHeader, publish, settle } from "../test/session/client";

const MESSAGES = 2000;

/** An AccessControl that checks nothing. */
class AllowAll extends AccessControl {
  override allowed(): boolean {
    return true;
  }
  override check(): void {}
}

async function openConnection(checks: boolean): Promise<{ c: Connection; broker: FakeBroker; transport: FakeTransport }> {
  const broker = new FakeBroker();
  await broker.controlPort.putUser({ name: "bench", password: "pw", tags: [] });
  // A realistic restrictive set (anchored alternatives, the default exchange allowed), not ".*".
  await broker.controlPort.setPermissions({
    user: "bench",
    vhost: "/",
    configure: "^bench\\.",
    write: "^(bench|orders)\\.|^$",
    read: "^bench\\.",
  });
  broker.addQueue("bench.q");
  const transport = new FakeTransport();
  const c = new Connection("bench", transport, broker, DEFAULT_LIMITS);
  c.receive(
    concatBytes([
      protocolHeader(),
      frame(0, "connection.start-ok", { mechanism: "PLAIN", response: plain("bench", "pw"), locale: "en_US" }),
      frame(0, "connection.tune-ok", { channelMax: 0, frameMax: 131072, heartbeat: 0 }),
      frame(0, "connection.open", { virtualHost: "/" }),
      frame(1, "channel.open", {}),
    ]),
  );
  await settle(broker, transport);
  if (!checks) c.access = new AllowAll("bench", "/", null);
  return { c, broker, transport };
}

const batch = concatBytes(Array.from({ length: MESSAGES }, () => publish(1, { exchange: "", routingKey: "bench.q" }, "x".repeat(128))));

/** Milliseconds for one batch of MESSAGES publishes to be processed. */
async function once(s: Awaited<ReturnType<typeof openConnection>>): Promise<number> {
  const t = performance.now();
  s.c.receive(batch);
  await settle(s.broker, s.transport);
  const ms = performance.now() - t;
  // Keep the fakes' call log from growing across rounds.
  s.broker.calls.length = 0;
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

// Prints numbers only (no timing assertion): benchmarks are not tests.
it(`publish ${MESSAGES} × 128 B through the AMQP session, with and without permission checks`, async () => {
  const withChecks = await openConnection(true);
  const withoutChecks = await openConnection(false);
  const times = { with: [] as number[], without: [] as number[] };
  for (let round = 0; round < 40; round++) {
    // Alternating order, so neither side always runs on a warmer JIT or a fuller heap.
    const order = round % 2 === 0 ? (["with", "without"] as const) : (["without", "with"] as const);
    for (const side of order) times[side].push(await once(side === "with" ? withChecks : withoutChecks));
  }
  // The first rounds warm the JIT up.
  const w = median(times.with.slice(10));
  const wo = median(times.without.slice(10));
  const perMessage = (ms: number) => ((ms * 1000) / MESSAGES).toFixed(2);
  console.log(
    `ACCESS-CONTROL-BENCH with checks ${perMessage(w)} µs/msg, without ${perMessage(wo)} µs/msg, with/without ${(w / wo).toFixed(3)}`,
  );
}, 120_000);
