// warrenctl, run as a binary against a running Warren (its unit tests use a fake API: test/cli).
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { connectionClosed, userConnections } from "./api-helpers";
import { useWarren } from "./harness";
import { uniqueName } from "./messaging-helpers";

const warren = useWarren();
const connectAs = userConnections(() => warren.server);
const BIN = join(import.meta.dirname, "..", "..", "bin", "warrenctl.mjs");

/** Runs warrenctl against this file's Warren; resolves with its exit code and output (never rejects). */
function ctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, "--url", warren.server.httpUrl, ...args], (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

describe("warrenctl against Warren", () => {
  it("manages users, vhosts and permissions; a user it creates can log in", async () => {
    const user = uniqueName("ctl");
    const vhost = uniqueName("ctlv");
    expect((await ctl("add_user", user, "pw1")).code).toBe(0);
    expect((await ctl("set_user_tags", user, "management")).code).toBe(0);
    expect((await ctl("add_vhost", vhost)).code).toBe(0);
    expect((await ctl("set_permissions", "-p", vhost, user, ".*", ".*", ".*")).code).toBe(0);
    const users = await ctl("-s", "list_users");
    expect(users.stdout).toMatch(new RegExp(`^${user}\\t\\[management\\]$`, "m"));
    expect((await ctl("-s", "list_vhosts")).stdout.split("\n")).toContain(vhost);
    expect((await ctl("-s", "list_permissions", "-p", vhost)).stdout).toContain(`${user}\t.*\t.*\t.*`);
    expect((await ctl("-s", "list_user_permissions", user)).stdout).toContain(`${vhost}\t.*\t.*\t.*`);
    expect((await ctl("authenticate_user", user, "pw1")).code).toBe(0);
    expect((await ctl("authenticate_user", user, "wrong")).code).not.toBe(0);

    const conn = await connectAs(user, "pw1", vhost);
    const closed = connectionClosed(conn);
    expect((await ctl("change_password", user, "pw2")).code).toBe(0);
    expect((await closed).code).toBe(320);
    await connectAs(user, "pw2", vhost);
    expect((await ctl("clear_permissions", "-p", vhost, user)).code).toBe(0);
    expect((await ctl("-s", "list_permissions", "-p", vhost)).stdout).not.toContain(user);
    expect((await ctl("delete_user", user)).code).toBe(0);
    expect((await ctl("delete_user", user)).code).toBe(67);
    expect((await ctl("delete_vhost", vhost)).code).toBe(0);
  });

  it("lists queues with selected columns, purges, deletes; lists and closes connections", async () => {
    const q = uniqueName("ctl.q");
    const conn = await connectAs("guest", "guest");
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue(q, { durable: false });
    for (let i = 0; i < 3; i++) ch.sendToQueue(q, Buffer.from("m"));
    await ch.waitForConfirms();
    const listed = await ctl("-s", "list_queues", "name", "messages", "messages_ready", "messages_unacknowledged");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${q}\\t3\\t3\\t0$`, "m"));
    const json = JSON.parse((await ctl("list_queues", "--formatter", "json", "name", "messages")).stdout) as {
      name: string;
      messages: number;
    }[];
    expect(json).toContainEqual({ name: q, messages: 3 });
    expect((await ctl("purge_queue", q)).code).toBe(0);
    expect((await ctl("-s", "list_queues", "name", "messages")).stdout).toMatch(new RegExp(`^${q}\\t0$`, "m"));
    expect((await ctl("-s", "list_exchanges", "name", "type")).stdout).toMatch(/^amq\.topic\ttopic$/m);
    expect((await ctl("-s", "list_bindings")).stdout).toContain(q);

    const names = (await ctl("-s", "list_connections", "name", "user")).stdout.trim().split("\n");
    const name = names.find((l) => l.endsWith("\tguest"))?.split("\t")[0];
    expect(name).toBeDefined();
    const closed = connectionClosed(conn);
    expect((await ctl("close_connection", name!, "bye from warrenctl")).code).toBe(0);
    expect(await closed).toMatchObject({ code: 320 });
    expect((await ctl("delete_queue", q)).code).toBe(0);
    expect((await ctl("-s", "list_queues", "name")).stdout.split("\n")).not.toContain(q);
  });

  it("policies, definitions, status; errors give rabbitmqctl's exit codes", async () => {
    expect((await ctl("set_policy", "cap", "^jobs$", '{"max-length":1000}', "--priority", "1", "--apply-to", "queues")).code).toBe(0);
    expect((await ctl("-s", "list_policies")).stdout).toContain("cap");
    expect((await ctl("set_policy", "bad", ".*", '{"bogus-key":1}')).code).toBe(65);
    expect((await ctl("clear_policy", "cap")).code).toBe(0);
    const defs = JSON.parse((await ctl("export_definitions", "-")).stdout) as { vhosts: { name: string }[] };
    expect(defs.vhosts.map((v) => v.name)).toContain("/");
    expect((await ctl("status")).code).toBe(0);
    expect((await ctl("cluster_status")).code).toBe(0);
    // As rabbitmqctl: an unknown vhost lists no queues, but its permissions are a data error (65).
    expect((await ctl("-s", "list_queues", "-p", "no-such-vhost")).stdout.trim()).toBe("");
    expect((await ctl("list_permissions", "-p", "no-such-vhost")).code).toBe(65);
    expect((await ctl("nonsense_command")).code).toBe(64);
    expect((await ctl("--password", "wrong", "list_users")).code).toBe(77);
  });
});
