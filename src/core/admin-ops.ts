import type { Broker } from "./broker";
import type { PermissionRecord, PolicyRecord, UserWrite, VhostRecord } from "./control";
import { notFound, preconditionFailed } from "./errors";
import { connectionsOfUser, inBatches } from "./inventory";
import { invalidPermission, type Permissions } from "./permissions";
import { effectivePolicy, invalidPolicyDefinition } from "./policies";
import { unwrap } from "./rpc-result";

export const VHOST_LIMITS = ["max-connections", "max-queues"];

/** A copy of `limits` with `name` set to `value` (an integer) or, for null, removed. */
function withLimit(limits: Record<string, number>, name: string, value: number | null): Record<string, number> {
  if (value !== null && !Number.isInteger(value)) throw preconditionFailed(`${name} must be an integer`);
  const out = { ...limits };
  if (value === null) delete out[name];
  else out[name] = value;
  return out;
}
const POLICY_TARGETS = ["queues", "exchanges", "all", "classic_queues", "quorum_queues", "streams"] as const;

/**
 * Users, vhosts, permissions and policies with their consequences for live connections: one
 * implementation for the management API (and so warrenctl). Tag checks are the caller's: the
 * HTTP layer decides who may call what.
 */
export class AdminOps {
  constructor(readonly broker: Broker) {}

  private get control() {
    return this.broker.control();
  }

  /** Creates or updates a user; a new password (or none) ends the user's open connections. */
  async putUser(u: UserWrite): Promise<{ created: boolean }> {
    const before = await this.control.user(u.name);
    const result = unwrap(await this.control.putUser(u));
    const passwordChanged = before !== null && (u.password !== undefined || u.passwordHash !== undefined);
    if (passwordChanged) await this.closeConnectionsOf(u.name, `user '${u.name}' password changed`);
    return result;
  }

  async deleteUser(name: string): Promise<void> {
    if (!(await this.control.deleteUser(name))) throw notFound(`no user '${name}'`);
    await this.closeConnectionsOf(name, `user '${name}' is deleted`);
  }

  async putVhost(v: Partial<VhostRecord> & { name: string }): Promise<{ created: boolean }> {
    if (v.name === "") throw preconditionFailed("vhost name must not be empty");
    return this.control.putVhost(v);
  }

  /** Deletes a vhost with everything in it: its queues and exchanges go and its connections close. */
  async deleteVhost(name: string): Promise<void> {
    // The record goes first: from now on no connection.open or declare gets into this vhost.
    if (!(await this.control.deleteVhost(name))) throw notFound(`no vhost '${name}'`);
    const catalog = this.broker.catalog(name);
    const [queues, exchanges, connections] = await Promise.all([catalog.queues(), catalog.exchanges(), catalog.connections()]);
    await Promise.allSettled(connections.map((c) => this.broker.connection(c.id).forceClose(`vhost '${name}' is deleted`)));
    await inBatches(queues, (q) => this.broker.queue(name, q.name).drop());
    await inBatches(exchanges, (x) => this.broker.exchange(name, x.name).remove(name, x.name, false));
    await catalog.clear();
  }

  /**
   * Sets (value) or clears (null) one of a vhost's limits: max-connections, max-queues (a
   * negative value means no limit, as in RabbitMQ). The vhost's catalog enforces them.
   */
  async setVhostLimit(vhost: string, name: string, value: number | null): Promise<void> {
    if (!VHOST_LIMITS.includes(name)) throw preconditionFailed(`unknown vhost limit '${name}' (known: ${VHOST_LIMITS.join(", ")})`);
    const v = await this.control.vhost(vhost);
    if (!v) throw notFound(`no vhost '${vhost}'`);
    const limits = withLimit(v.limits, name, value);
    await this.control.putVhost({ name: vhost, limits });
    await this.broker.catalog(vhost).setLimits(limits);
  }

  async setPermissions(p: PermissionRecord): Promise<void> {
    const invalid = invalidPermission(p);
    if (invalid) throw preconditionFailed(invalid);
    unwrap(await this.control.setPermissions(p));
    await this.tellConnections(p.user, p.vhost, { configure: p.configure, write: p.write, read: p.read });
  }

  async clearPermissions(user: string, vhost: string): Promise<void> {
    if (!(await this.control.clearPermissions(user, vhost))) throw notFound(`no permissions for user '${user}' in vhost '${vhost}'`);
    await this.tellConnections(user, vhost, null);
  }

  async putPolicy(p: PolicyRecord): Promise<void> {
    try {
      new RegExp(p.pattern);
    } catch {
      throw preconditionFailed(`invalid pattern '${p.pattern}'`);
    }
    if (!(POLICY_TARGETS as readonly string[]).includes(p.applyTo)) throw preconditionFailed(`invalid apply-to '${p.applyTo}'`);
    if (!Number.isInteger(p.priority)) throw preconditionFailed("priority must be an integer");
    if (typeof p.definition !== "object" || p.definition === null || Object.keys(p.definition).length === 0) {
      throw preconditionFailed("definition must be a non-empty object");
    }
    const invalid = invalidPolicyDefinition(p.definition);
    if (invalid) throw preconditionFailed(invalid);
    unwrap(await this.control.putPolicy(p));
    await this.applyPolicies(p.vhost);
  }

  async deletePolicy(vhost: string, name: string): Promise<void> {
    if (!(await this.control.deletePolicy(vhost, name))) throw notFound(`no policy '${name}' in vhost '${vhost}'`);
    await this.applyPolicies(vhost);
  }

  /** Tells every queue of the vhost which policy applies to it now (queues that did not answer are logged). */
  private async applyPolicies(vhost: string): Promise<void> {
    const [policies, queues] = await Promise.all([this.control.policies(vhost), this.broker.catalog(vhost).queues()]);
    const results = await inBatches(queues, (q) => {
      const p = effectivePolicy(policies, q.name);
      return this.broker.queue(vhost, q.name).applyPolicy(p ? { name: p.name, definition: p.definition } : null);
    });
    results.forEach((r, i) => {
      if (r.status === "rejected")
        this.broker.log(`policy: queue '${queues[i]!.name}' in vhost '${vhost}' not updated: ${String(r.reason)}`);
    });
  }

  /** Ends every open connection of a user, in every vhost. */
  async closeConnectionsOf(user: string, reason: string): Promise<number> {
    const mine = await connectionsOfUser(this.broker, user);
    await Promise.allSettled(mine.map((c) => this.broker.connection(c.id).forceClose(reason)));
    return mine.length;
  }

  /**
   * Sets (value) or clears (null) a user limit. RabbitMQ's max-connections counts the user's
   * connections in every vhost; max-channels (across all of a user's connections) is refused:
   * counting it would cost a round of RPCs per channel.open.
   */
  async setUserLimit(user: string, name: string, value: number | null): Promise<void> {
    if (name !== "max-connections") throw preconditionFailed(`unsupported user limit '${name}' (supported: max-connections)`);
    const u = await this.control.user(user);
    if (!u) throw notFound(`no user '${user}'`);
    await this.control.setUserLimits(user, withLimit(u.limits, name, value));
  }

  /** Open connections of the user in the vhost take their new permissions at once. */
  private async tellConnections(user: string, vhost: string, permissions: Permissions | null): Promise<void> {
    const mine = (await this.broker.catalog(vhost).connections()).filter((c) => c.user === user);
    await Promise.allSettled(mine.map((c) => this.broker.connection(c.id).permissionsChanged(permissions)));
  }
}
