// pika (Python's most used AMQP 0-9-1 client) against Warren: the scripts in test/e2e/pika/*.py
// drive a BlockingConnection, SelectConnection and AsyncioConnection the way pika programs do,
// and print one JSON result each. pika waits forever on a synchronous method whose reply never
// comes (or comes out of order), so every script runs under a watchdog that dumps its Python
// stack and exits, and under a kill timeout here: a hang fails the test, naming where it hung.
// Runs side by side against RabbitMQ too (WARREN_TEST_AGAINST=rabbitmq, README "Test").
import { execFile, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { againstRabbitmq, useWarren } from "./harness";

const SCRIPTS = join(import.meta.dirname, "pika");
/** Seconds a script may take before its watchdog dumps the Python stack and exits. */
const WATCHDOG_S = 20;
/** Kills a script the watchdog did not stop. */
const KILL_MS = (WATCHDOG_S + 5) * 1000;
const TEST_TIMEOUT_MS = KILL_MS + 10_000;

/** The first Python that can import pika: $PIKA_PYTHON, python3 on PATH, Debian's /usr/bin/python3. */
function findPika(): { python: string; version: string } | { missing: string } {
  const candidates = [process.env.PIKA_PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  for (const python of candidates) {
    const probe = spawnSync(python, ["-c", "import pika; print(pika.__version__)"], { encoding: "utf8", timeout: 10_000 });
    if (probe.status === 0) return { python, version: probe.stdout.trim() };
  }
  return { missing: `no Python among ${candidates.join(", ")} can import pika` };
}

const pika = findPika();
if ("missing" in pika) {
  console.log(
    `[pika] ${pika.missing} (Debian package python3-pika; .ci/run installs it when it can, or set PIKA_PYTHON): pika.test.ts skipped`,
  );
}

type Json = Record<string, unknown>;

describe.skipIf("missing" in pika)("pika", () => {
  const warren = useWarren({ sideBySide: true });

  /** Runs test/e2e/pika/<script> against the broker; its JSON result, or an error with its stderr. */
  function run(script: string): Promise<Json> {
    const { python } = pika as { python: string };
    return new Promise((resolve, reject) => {
      execFile(
        python,
        [join(SCRIPTS, script), warren.server.amqpUrl!],
        {
          timeout: KILL_MS,
          killSignal: "SIGKILL",
          env: { ...process.env, PIKA_SCRIPT_TIMEOUT: String(WATCHDOG_S), PYTHONDONTWRITEBYTECODE: "1" },
        },
        (err, stdout, stderr) => {
          if (!err) {
            resolve(JSON.parse(stdout) as Json);
            return;
          }
          const how = err.killed
            ? `was killed after ${KILL_MS} ms`
            : stderr.includes("Timeout (")
              ? `hung for ${WATCHDOG_S} s (Python stack below)`
              : `exited with ${err.code}`;
          reject(new Error(`${script} ${how}:\n${stderr}${stdout}`));
        },
      );
    });
  }

  it(
    "BlockingConnection: declare, bind, publish with every property and header type, get, consume with acks and qos",
    async () => {
      const r = await run("blocking_basics.py");
      expect(r.server_product).toBe(againstRabbitmq ? "RabbitMQ" : "Warren");
      expect(r.capabilities).toEqual(
        expect.arrayContaining([
          "authentication_failure_close",
          "basic.nack",
          "connection.blocked",
          "consumer_cancel_notify",
          "exchange_exchange_bindings",
          "publisher_confirms",
        ]),
      );
      expect(r).toMatchObject({ declare_ok: [true, 0, 0], server_named: true, get_empty: true });
      expect(r.get).toEqual({
        body: '{"hello": 1}',
        exchange: true,
        routing_key: "a.b",
        redelivered: false,
        message_count: 0,
        same_properties: Object.fromEntries(
          [
            "app_id",
            "content_encoding",
            "content_type",
            "correlation_id",
            "delivery_mode",
            "expiration",
            "message_id",
            "priority",
            "reply_to",
            "timestamp",
            "type",
            "user_id",
          ].map((p) => [p, true]),
        ),
        // The table comes back with the field types pika sent (bytes, decimal, timestamp, ...).
        headers: {
          s: "text",
          b: "b'\\x00\\x01bytes'",
          t: true,
          i: -7,
          l: 2 ** 40,
          d: "Decimal('3.14')",
          ts: "datetime.datetime(2024, 5, 6, 7, 8, 9)",
          f: { nested: "yes", n: 1 },
          a: [1, "two", false],
          v: null,
        },
      });
      // 300 KiB in several body frames of the negotiated frame_max.
      expect(r.big_body).toEqual([307200, true, 131072]);
      // prefetch_count=2: two deliveries until the first ack, then the rest.
      expect(r.qos).toEqual({ first_batch: ["0", "1"], all: ["0", "1", "2", "3", "4"] });
      expect(r.cancel_requeued).toBe(0);
      expect(r).toMatchObject({
        rejected_redelivered: ["r1", true],
        after_nack: 0,
        recovered: ["r2", true],
        consumer_tag: "pika-cb",
        start_consuming: ["c0", "c1", "c2"],
        consumers_after_stop: [],
        e2e_count: 2,
        purged: 2,
        after_unbind: 0,
        deleted_count: 1,
        closed: [true, true],
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "confirm_delivery: acks, mandatory unroutable raises UnroutableError (312 NO_ROUTE), reject-publish raises NackError; tx commit and rollback",
    async () => {
      const r = await run("confirms_tx.py");
      expect(r).toEqual({
        routed_count: 2,
        unroutable: { count: 1, reply: [312, "NO_ROUTE"], body: "lost" },
        unroutable_not_mandatory: "acked",
        nack: "0 message(s) NACKed",
        channel_open_after_nack: true,
        tx_before_commit: 0,
        tx_after_rollback: 0,
        tx_after_commit: 2,
        tx_acked: "committed 1",
        tx_left: 1,
        confirm_on_tx: [406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode"],
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "queue_delete with a consumer on the same channel returns (delete-ok, then basic.cancel); channel and connection close with consumers requeue",
    async () => {
      const r = await run("consumers_close.py");
      expect(r.queue_delete).toEqual({
        message_count: 0,
        delivered: ["before delete"],
        on_cancel: ["del-consumer"],
        consumer_tags: [],
        frames: ["Queue.DeleteOk", "Basic.Cancel"],
        channel_open: true,
        tag: "del-consumer",
        then_get: "after",
      });
      expect(r.generator).toEqual({ got: ["one"], ended: "cancelled by broker", channel_open: true });
      expect(r.channel_close).toEqual({ held: 50, closed: true, requeued: 50 });
      expect(r.connection_close).toEqual({ closed: true, requeued: 50 });
      expect(r.basic_cancel).toEqual({ got: 5, consumer_tags: [] });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "direct reply-to RPC: consume amq.rabbitmq.reply-to with auto_ack, publish with reply_to, a responder answers",
    async () => {
      const r = await run("direct_reply.py");
      expect(r.replies).toEqual(
        [0, 1, 2].map((n) => ({
          body: `re:ping${n}`,
          correlation_id: `c${n}`,
          consumer_tag: "rpc-client",
          exchange: "",
          routing_key_prefixed: true,
          redelivered: false,
        })),
      );
      expect(r.without_consumer).toEqual([406, "PRECONDITION_FAILED - fast reply consumer does not exist"]);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "connection update_secret returns and the connection carries on",
    async () => {
      const r = await run("update_secret.py");
      expect(r).toMatchObject({ after: "still works", open: true });
      // pika 1.3+ has BlockingConnection.update_secret; older pika gets the same RPC from the script.
      const { version } = pika as { version: string };
      const [major = 0, minor = 0] = version.split(".").map(Number);
      expect(r.pika).toBe(version);
      expect(r.how).toBe(
        major > 1 || (major === 1 && minor >= 3)
          ? "BlockingConnection.update_secret"
          : "backport of pika 1.3's update_secret (got Connection.UpdateSecretOk)",
      );
      expect(r.how_again).toBe(r.how);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "errors: ChannelClosedByBroker with RabbitMQ's codes and texts (404 no queue, 406 inequivalent arg, 405, 403, ...); refused logins",
    async () => {
      const r = await run("errors.py");
      expect(r).toEqual({
        passive_missing_queue: [404, "NOT_FOUND - no queue '<missing>' in vhost '/'"],
        passive_missing_exchange: [404, "NOT_FOUND - no exchange '<missing>' in vhost '/'"],
        publish_missing_exchange: [404, "NOT_FOUND - no exchange '<missing>' in vhost '/'"],
        bind_missing_queue: [404, "NOT_FOUND - no queue '<missing>' in vhost '/'"],
        inequivalent_durable: [
          406,
          "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '<q>' in vhost '/': received 'true' but current is 'false'",
        ],
        inequivalent_arg: [
          406,
          "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '<q>' in vhost '/': received '20' but current is '10'",
        ],
        inequivalent_exchange_type: [
          406,
          "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '<x>' in vhost '/': received 'topic' but current is 'fanout'",
        ],
        unknown_delivery_tag: [406, "PRECONDITION_FAILED - unknown delivery tag 99"],
        reserved_name: [403, "ACCESS_REFUSED - queue name 'amq.mine' contains reserved prefix 'amq.*'"],
        consume_missing_queue: [404, "NOT_FOUND - no queue '<missing>' in vhost '/'"],
        exclusive_elsewhere: [
          405,
          "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '<exclusive>' in vhost '/'. " +
            "It could be originally declared on another connection or the exclusive property value does not match that of the original declaration.",
        ],
        exclusive_consumer: [403, "ACCESS_REFUSED - queue '<consumed>' in vhost '/' in exclusive use"],
        connection_open: true,
        wrong_password: [
          "ProbableAuthenticationError",
          "ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.'",
        ],
        missing_vhost: ["ProbableAccessDeniedError", "ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost <vhost> not found'"],
      });
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "heartbeat: the broker proposes 60 s, pika's value wins, 1 s heartbeats keep an idle connection open, 0 disables",
    async () => {
      const r = await run("heartbeat.py");
      expect(r).toMatchObject({ proposed: 60, negotiated: 1, open_after_idle: true, disabled: [0, true], explicit: 7 });
      // 3.5 s at 1 s: the broker sent heartbeats (pika counts them) and pika sent its own.
      expect(r.heartbeats_received).toBeGreaterThanOrEqual(2);
      expect(r.heartbeats_sent).toBeGreaterThanOrEqual(2);
    },
    TEST_TIMEOUT_MS,
  );

  it(
    "SelectConnection and AsyncioConnection: open, declare, confirms, consume and ack, cancel, delete, close",
    async () => {
      const r = await run("async_adapters.py");
      const flow = {
        steps: [
          "connection open",
          "channel open",
          "declared 0",
          "confirm mode",
          "consuming",
          "cancelled",
          "deleted 0",
          "channel closed: (0, 'Normal shutdown')",
          "connection closed: ConnectionClosedByClient",
        ],
        confirmed: 3,
        bodies: ["m0", "m1", "m2"],
      };
      expect(r).toEqual({ select: flow, asyncio: flow });
    },
    TEST_TIMEOUT_MS,
  );
});
