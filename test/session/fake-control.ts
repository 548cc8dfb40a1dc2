// In-memory ControlPort and CatalogPort for unit tests: plain maps, passwords kept as given
// (hashing is control/password.ts's business, tested on its own).
import { ReplyCode } from "../../src/amqp";
import {
  addCounters,
  emptyCounters,
  type AccessAnswer,
  type CatalogConnection,
  type CatalogExchange,
  type CatalogQueue,
  type CostCounters,
  type MessageCounters,
  type PermissionRecord,
  type PolicyRecord,
  type UserRecord,
  type UserWrite,
  type VhostRecord,
} from "../../src/core/control";
import { FULL_PERMISSIONS, invalidPermission } from "../../src/core/permissions";
import type { CatalogPort, ControlPort } from "../../src/core/ports";
import { fail, ok, type RpcResult } from "../../src/core/rpc-result";

export class FakeControl implements ControlPort {
  readonly passwords = new Map<string, string>([["guest", "guest"]]);
  readonly userRecords = new Map<string, UserRecord>([
    ["guest", { name: "guest", passwordHash: "x", hashingAlgorithm: "plain", tags: ["administrator"], limits: {} }],
  ]);
  readonly vhostRecords = new Map<string, VhostRecord>([
    ["/", { name: "/", description: "", tags: [], defaultQueueType: "classic", limits: {} }],
  ]);
  readonly grants = new Map<string, PermissionRecord>([["guest\0/", { user: "guest", vhost: "/", ...FULL_PERMISSIONS }]]);
  readonly policyRecords = new Map<string, PolicyRecord>();

  async login(username: string, password: string): Promise<{ tags: string[] } | null> {
    const u = this.userRecords.get(username);
    return u && this.passwords.get(username) === password ? { tags: u.tags } : null;
  }

  async access(username: string, vhost: string): Promise<AccessAnswer> {
    const vhostExists = this.vhostRecords.has(vhost);
    const p = this.grants.get(`${username}\0${vhost}`);
    return {
      vhostExists,
      permissions: vhostExists && p ? { configure: p.configure, write: p.write, read: p.read } : null,
      userLimits: this.userRecords.get(username)?.limits ?? {},
    };
  }

  async users(): Promise<UserRecord[]> {
    return [...this.userRecords.values()];
  }

  async user(name: string): Promise<UserRecord | null> {
    return this.userRecords.get(name) ?? null;
  }

  async putUser(u: UserWrite): Promise<RpcResult<{ created: boolean }>> {
    const existing = this.userRecords.get(u.name);
    if (u.password === undefined && u.passwordHash === undefined && !existing) {
      return fail(ReplyCode.PRECONDITION_FAILED, "password or password_hash must be set");
    }
    if (u.password !== undefined) this.passwords.set(u.name, u.password);
    if (u.passwordHash === "") this.passwords.delete(u.name);
    this.userRecords.set(u.name, {
      name: u.name,
      passwordHash: u.passwordHash ?? "x",
      hashingAlgorithm: "plain",
      tags: u.tags,
      limits: existing?.limits ?? {},
    });
    return ok({ created: !existing });
  }

  async setUserLimits(name: string, limits: Record<string, number>): Promise<boolean> {
    const u = this.userRecords.get(name);
    if (!u) return false;
    u.limits = { ...limits };
    return true;
  }

  async deleteUser(name: string): Promise<boolean> {
    for (const k of [...this.grants.keys()]) if (k.startsWith(`${name}\0`)) this.grants.delete(k);
    this.passwords.delete(name);
    return this.userRecords.delete(name);
  }

  async vhosts(): Promise<VhostRecord[]> {
    return [...this.vhostRecords.values()];
  }

  async vhost(name: string): Promise<VhostRecord | null> {
    return this.vhostRecords.get(name) ?? null;
  }

  async putVhost(v: Partial<VhostRecord> & { name: string }): Promise<{ created: boolean }> {
    const existing = this.vhostRecords.get(v.name);
    this.vhostRecords.set(v.name, { description: "", tags: [], defaultQueueType: "classic", limits: {}, ...existing, ...v });
    return { created: !existing };
  }

  async deleteVhost(name: string): Promise<boolean> {
    for (const [k, p] of [...this.grants]) if (p.vhost === name) this.grants.delete(k);
    return this.vhostRecords.delete(name);
  }

  async permissions(filter: { user?: string; vhost?: string }): Promise<PermissionRecord[]> {
    return [...this.grants.values()].filter(
      (p) => (filter.user === undefined || p.user === filter.user) && (filter.vhost === undefined || p.vhost === filter.vhost),
    );
  }

  async setPermissions(p: PermissionRecord): Promise<RpcResult<void>> {
    if (!this.userRecords.has(p.user)) return fail(ReplyCode.NOT_FOUND, `no user '${p.user}'`);
    if (!this.vhostRecords.has(p.vhost)) return fail(ReplyCode.NOT_FOUND, `no vhost '${p.vhost}'`);
    const invalid = invalidPermission(p);
    if (invalid) return fail(ReplyCode.PRECONDITION_FAILED, invalid);
    this.grants.set(`${p.user}\0${p.vhost}`, { ...p });
    return ok(undefined);
  }

  async clearPermissions(user: string, vhost: string): Promise<boolean> {
    return this.grants.delete(`${user}\0${vhost}`);
  }

  async policies(vhost: string | null): Promise<PolicyRecord[]> {
    return [...this.policyRecords.values()].filter((p) => vhost === null || p.vhost === vhost);
  }

  async putPolicy(p: PolicyRecord): Promise<RpcResult<void>> {
    if (!this.vhostRecords.has(p.vhost)) return fail(ReplyCode.NOT_FOUND, `no vhost '${p.vhost}'`);
    this.policyRecords.set(`${p.vhost}\0${p.name}`, p);
    return ok(undefined);
  }

  async deletePolicy(vhost: string, name: string): Promise<boolean> {
    return this.policyRecords.delete(`${vhost}\0${name}`);
  }
}

export class FakeCatalog implements CatalogPort {
  readonly queueRecords = new Map<string, CatalogQueue>();
  readonly exchangeRecords = new Map<string, CatalogExchange>();
  readonly connectionRecords = new Map<string, CatalogConnection>();
  readonly closed = emptyCounters();

  readonly limits: Record<string, number> = {};
  async queueAdded(q: CatalogQueue): Promise<number | null> {
    const max = this.limits["max-queues"];
    if (max !== undefined && max >= 0 && !this.queueRecords.has(q.name) && this.queueRecords.size >= max) return max;
    this.queueRecords.set(q.name, q);
    return null;
  }
  async queueRemoved(name: string): Promise<void> {
    this.queueRecords.delete(name);
  }
  async exchangeAdded(x: CatalogExchange): Promise<void> {
    this.exchangeRecords.set(x.name, x);
  }
  async exchangeRemoved(name: string): Promise<void> {
    this.exchangeRecords.delete(name);
  }
  async connectionOpened(c: CatalogConnection): Promise<number | null> {
    const max = this.limits["max-connections"];
    if (max !== undefined && max >= 0 && this.connectionRecords.size >= max) return max;
    this.connectionRecords.set(c.id, c);
    return null;
  }
  async setLimits(limits: Record<string, number>): Promise<void> {
    for (const k of Object.keys(this.limits)) delete this.limits[k];
    Object.assign(this.limits, limits);
  }
  async connectionClosed(id: string, totals: MessageCounters | null): Promise<void> {
    if (totals) addCounters(this.closed, totals);
    this.connectionRecords.delete(id);
  }
  async queues(): Promise<CatalogQueue[]> {
    return [...this.queueRecords.values()];
  }
  async exchanges(): Promise<CatalogExchange[]> {
    return [...this.exchangeRecords.values()];
  }
  async connections(): Promise<CatalogConnection[]> {
    return [...this.connectionRecords.values()];
  }
  async closedTotals(): Promise<MessageCounters> {
    return { ...this.closed };
  }
  async costTotals(): Promise<CostCounters> {
    return { rowsWritten: 0, rpcCalls: 0, wsMessagesIn: 0 };
  }
  async clear(): Promise<void> {
    this.queueRecords.clear();
    this.exchangeRecords.clear();
    this.connectionRecords.clear();
  }
}
