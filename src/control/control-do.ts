import { DurableObject } from "cloudflare:workers";
import { ReplyCode } from "../amqp";
import type { AccessAnswer, PermissionRecord, PolicyRecord, UserRecord, UserWrite, VhostRecord } from "../core/control";
import { FULL_PERMISSIONS, invalidPermission, type Permissions } from "../core/permissions";
import type { ControlPort } from "../core/ports";
import { fail, ok, type RpcResult } from "../core/rpc-result";
import type { Env } from "../env";
import { migrate } from "../storage/migrate";
import { CONTROL_MIGRATIONS } from "../storage/migrations/control";
import { DEFAULT_HASHING, hashPassword, isHashingAlgorithm, validHash, verifyPassword } from "./password";

interface UserRow extends Record<string, SqlStorageValue> {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string;
  limits: string;
}

interface VhostRow extends Record<string, SqlStorageValue> {
  name: string;
  description: string;
  tags: string;
  default_queue_type: string;
  limits: string;
}

interface PermissionRow extends Record<string, SqlStorageValue> {
  user: string;
  vhost: string;
  configure: string;
  write: string;
  read: string;
}

interface PolicyRow extends Record<string, SqlStorageValue> {
  vhost: string;
  name: string;
  pattern: string;
  apply_to: string;
  priority: number;
  definition: string;
}

/**
 * Users, vhosts, permissions and policies of the whole broker: one object (named "control"),
 * asked once per login and by the management API, never per message. First start seeds what
 * RabbitMQ seeds: vhost "/" and guest/guest (administrator, loopback-only by default), plus the
 * administrator named by the WARREN_ADMIN_USER / WARREN_ADMIN_PASSWORD secrets when set.
 */
export class ControlDO extends DurableObject<Env> implements ControlPort {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      migrate(ctx.storage, CONTROL_MIGRATIONS);
      await this.seed();
    });
  }

  private async seed(): Promise<void> {
    const seeded = this.sql.exec("SELECT 1 FROM control_meta WHERE key = 'seeded'").toArray().length > 0;
    if (!seeded) {
      const guestHash = await hashPassword("guest");
      this.ctx.storage.transactionSync(() => {
        this.writeVhost({ name: "/", description: "Default virtual host", tags: [], defaultQueueType: "classic", limits: {} });
        this.writeUser({ name: "guest", passwordHash: guestHash, hashingAlgorithm: DEFAULT_HASHING, tags: ["administrator"], limits: {} });
        this.writePermissions({ user: "guest", vhost: "/", ...FULL_PERMISSIONS });
        this.sql.exec("INSERT INTO control_meta (key, value) VALUES ('seeded', ?)", String(Date.now()));
      });
    }
    const admin = this.env.WARREN_ADMIN_USER;
    const password = this.env.WARREN_ADMIN_PASSWORD;
    // The deploy-time administrator is created once; afterwards it is managed like any user (an
    // operator who deletes it, e.g. because the secret leaked, does not get it back at the next start).
    const seededAdmin = this.sql.exec("SELECT 1 FROM control_meta WHERE key = 'admin_seeded'").toArray().length > 0;
    if (admin && password && !seededAdmin && !this.userRow(admin)) {
      const hash = await hashPassword(password);
      this.ctx.storage.transactionSync(() => {
        this.writeUser({ name: admin, passwordHash: hash, hashingAlgorithm: DEFAULT_HASHING, tags: ["administrator"], limits: {} });
        if (this.vhostRow("/")) this.writePermissions({ user: admin, vhost: "/", ...FULL_PERMISSIONS });
        this.sql.exec("INSERT OR REPLACE INTO control_meta (key, value) VALUES ('admin_seeded', ?)", admin);
      });
    }
  }

  async login(username: string, password: string): Promise<{ tags: string[] } | null> {
    const row = this.userRow(username);
    if (!row) return null;
    const good = await verifyPassword(password, row.password_hash, row.hashing_algorithm);
    return good ? { tags: splitTags(row.tags) } : null;
  }

  async access(username: string, vhost: string): Promise<AccessAnswer> {
    const vhostExists = this.vhostRow(vhost) !== undefined;
    const p = this.sql.exec<PermissionRow>("SELECT * FROM permissions WHERE user = ? AND vhost = ?", username, vhost).toArray()[0];
    const user = this.userRow(username);
    return { vhostExists, permissions: vhostExists && p ? permissionsOf(p) : null, userLimits: user ? limitsOf(user) : {} };
  }

  async users(): Promise<UserRecord[]> {
    return this.sql.exec<UserRow>("SELECT * FROM users ORDER BY name").toArray().map(userOf);
  }

  async user(name: string): Promise<UserRecord | null> {
    const row = this.userRow(name);
    return row ? userOf(row) : null;
  }

  async putUser(u: UserWrite): Promise<RpcResult<{ created: boolean }>> {
    const existing = this.userRow(u.name);
    let passwordHash: string;
    let hashingAlgorithm = u.hashingAlgorithm ?? DEFAULT_HASHING;
    if (u.password !== undefined) {
      hashingAlgorithm = DEFAULT_HASHING;
      passwordHash = await hashPassword(u.password);
    } else if (u.passwordHash !== undefined) {
      if (!isHashingAlgorithm(hashingAlgorithm))
        return fail(ReplyCode.PRECONDITION_FAILED, `unknown hashing_algorithm ${hashingAlgorithm}`);
      if (!validHash(u.passwordHash)) return fail(ReplyCode.PRECONDITION_FAILED, "password_hash is not a valid hash");
      passwordHash = u.passwordHash;
    } else if (existing) {
      // Changing tags only keeps the password.
      passwordHash = existing.password_hash;
      hashingAlgorithm = existing.hashing_algorithm;
    } else {
      return fail(ReplyCode.PRECONDITION_FAILED, "password or password_hash must be set");
    }
    this.writeUser({ name: u.name, passwordHash, hashingAlgorithm, tags: u.tags, limits: existing ? limitsOf(existing) : {} });
    return ok({ created: !existing });
  }

  async deleteUser(name: string): Promise<boolean> {
    if (!this.userRow(name)) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM users WHERE name = ?", name);
      this.sql.exec("DELETE FROM permissions WHERE user = ?", name);
    });
    return true;
  }

  async setUserLimits(name: string, limits: Record<string, number>): Promise<boolean> {
    return this.sql.exec("UPDATE users SET limits = ? WHERE name = ?", JSON.stringify(limits), name).rowsWritten > 0;
  }

  async vhosts(): Promise<VhostRecord[]> {
    return this.sql.exec<VhostRow>("SELECT * FROM vhosts ORDER BY name").toArray().map(vhostOf);
  }

  async vhost(name: string): Promise<VhostRecord | null> {
    const row = this.vhostRow(name);
    return row ? vhostOf(row) : null;
  }

  async putVhost(v: Partial<VhostRecord> & { name: string }): Promise<{ created: boolean }> {
    const existing = this.vhostRow(v.name);
    const before = existing ? vhostOf(existing) : { name: v.name, description: "", tags: [], defaultQueueType: "classic", limits: {} };
    this.writeVhost({ ...before, ...definedOnly(v) });
    return { created: !existing };
  }

  async deleteVhost(name: string): Promise<boolean> {
    if (!this.vhostRow(name)) return false;
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM vhosts WHERE name = ?", name);
      this.sql.exec("DELETE FROM permissions WHERE vhost = ?", name);
      this.sql.exec("DELETE FROM policies WHERE vhost = ?", name);
    });
    return true;
  }

  async permissions(filter: { user?: string; vhost?: string }): Promise<PermissionRecord[]> {
    return this.sql
      .exec<PermissionRow>("SELECT * FROM permissions ORDER BY vhost, user")
      .toArray()
      .filter((p) => (filter.user === undefined || p.user === filter.user) && (filter.vhost === undefined || p.vhost === filter.vhost))
      .map((p) => ({ user: p.user, vhost: p.vhost, ...permissionsOf(p) }));
  }

  async setPermissions(p: PermissionRecord): Promise<RpcResult<void>> {
    if (!this.userRow(p.user)) return fail(ReplyCode.NOT_FOUND, `no user '${p.user}'`);
    if (!this.vhostRow(p.vhost)) return fail(ReplyCode.NOT_FOUND, `no vhost '${p.vhost}'`);
    const invalid = invalidPermission(p);
    if (invalid) return fail(ReplyCode.PRECONDITION_FAILED, invalid);
    this.writePermissions(p);
    return ok(undefined);
  }

  async clearPermissions(user: string, vhost: string): Promise<boolean> {
    return this.sql.exec("DELETE FROM permissions WHERE user = ? AND vhost = ?", user, vhost).rowsWritten > 0;
  }

  async policies(vhost: string | null): Promise<PolicyRecord[]> {
    return this.sql
      .exec<PolicyRow>("SELECT * FROM policies ORDER BY vhost, priority DESC, name")
      .toArray()
      .filter((p) => vhost === null || p.vhost === vhost)
      .map((p) => ({
        vhost: p.vhost,
        name: p.name,
        pattern: p.pattern,
        applyTo: p.apply_to as PolicyRecord["applyTo"],
        priority: p.priority,
        definition: JSON.parse(p.definition) as Record<string, unknown>,
      }));
  }

  async putPolicy(p: PolicyRecord): Promise<RpcResult<void>> {
    if (!this.vhostRow(p.vhost)) return fail(ReplyCode.NOT_FOUND, `no vhost '${p.vhost}'`);
    this.sql.exec(
      "INSERT OR REPLACE INTO policies (vhost, name, pattern, apply_to, priority, definition) VALUES (?, ?, ?, ?, ?, ?)",
      p.vhost,
      p.name,
      p.pattern,
      p.applyTo,
      p.priority,
      JSON.stringify(p.definition),
    );
    return ok(undefined);
  }

  async deletePolicy(vhost: string, name: string): Promise<boolean> {
    return this.sql.exec("DELETE FROM policies WHERE vhost = ? AND name = ?", vhost, name).rowsWritten > 0;
  }

  private userRow(name: string): UserRow | undefined {
    return this.sql.exec<UserRow>("SELECT * FROM users WHERE name = ?", name).toArray()[0];
  }

  private vhostRow(name: string): VhostRow | undefined {
    return this.sql.exec<VhostRow>("SELECT * FROM vhosts WHERE name = ?", name).toArray()[0];
  }

  private writeUser(u: UserRecord): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO users (name, password_hash, hashing_algorithm, tags, limits) VALUES (?, ?, ?, ?, ?)",
      u.name,
      u.passwordHash,
      u.hashingAlgorithm,
      u.tags.join(","),
      JSON.stringify(u.limits),
    );
  }

  private writeVhost(v: VhostRecord): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO vhosts (name, description, tags, default_queue_type, limits) VALUES (?, ?, ?, ?, ?)",
      v.name,
      v.description,
      v.tags.join(","),
      v.defaultQueueType,
      JSON.stringify(v.limits),
    );
  }

  private writePermissions(p: PermissionRecord): void {
    this.sql.exec(
      "INSERT OR REPLACE INTO permissions (user, vhost, configure, write, read) VALUES (?, ?, ?, ?, ?)",
      p.user,
      p.vhost,
      p.configure,
      p.write,
      p.read,
    );
  }
}

function splitTags(tags: string): string[] {
  return tags === "" ? [] : tags.split(",");
}

function userOf(r: UserRow): UserRecord {
  return {
    name: r.name,
    passwordHash: r.password_hash,
    hashingAlgorithm: r.hashing_algorithm,
    tags: splitTags(r.tags),
    limits: limitsOf(r),
  };
}

function limitsOf(r: UserRow): Record<string, number> {
  return JSON.parse(r.limits) as Record<string, number>;
}

function vhostOf(r: VhostRow): VhostRecord {
  return {
    name: r.name,
    description: r.description,
    tags: splitTags(r.tags),
    defaultQueueType: r.default_queue_type,
    limits: JSON.parse(r.limits) as Record<string, number>,
  };
}

function permissionsOf(p: PermissionRow): Permissions {
  return { configure: p.configure, write: p.write, read: p.read };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
