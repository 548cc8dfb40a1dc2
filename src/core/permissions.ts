import { accessRefused } from "./errors";

/** RabbitMQ's three permission kinds: each is a regular expression over resource names. */
export type PermissionKind = "configure" | "write" | "read";
export type ResourceKind = "exchange" | "queue";

export interface Permissions {
  configure: string;
  write: string;
  read: string;
}

export const FULL_PERMISSIONS: Permissions = { configure: ".*", write: ".*", read: ".*" };

/** The name permissions see for the default exchange (""), as in RabbitMQ. */
const DEFAULT_EXCHANGE = "amq.default";

/**
 * Compiles a permission as RabbitMQ does: unanchored (re:run finds a match anywhere), and the
 * empty string means "^$", which matches no resource (the default exchange is checked as
 * amq.default, see AccessControl.check). Throws on a bad regex.
 */
export function compilePermission(pattern: string): RegExp {
  return new RegExp(pattern === "" ? "^$" : pattern);
}

/** Null when valid; else why the pattern is not a regular expression. */
export function invalidPermission(p: Permissions): string | null {
  for (const kind of ["configure", "write", "read"] as const) {
    const pattern = p[kind];
    if (typeof pattern !== "string") return `${kind} is not a string`;
    try {
      compilePermission(pattern);
    } catch (err) {
      return `invalid ${kind} regular expression '${pattern}': ${(err as Error).message}`;
    }
  }
  return null;
}

/** How many answers per kind a connection remembers before starting afresh (bounded memory). */
const CACHE_LIMIT = 1024;

/**
 * One user's permissions in one vhost, compiled once and with answers cached per name, so a
 * publish costs a map lookup, not a regex run (and never a lookup elsewhere). null
 * permissions refuse everything.
 */
export class AccessControl {
  private compiled: Record<PermissionKind, RegExp> | null = null;
  private readonly cache: Record<PermissionKind, Map<string, boolean>> = {
    configure: new Map(),
    write: new Map(),
    read: new Map(),
  };

  constructor(
    readonly user: string,
    readonly vhost: string,
    permissions: Permissions | null,
  ) {
    this.update(permissions);
  }

  /** The user's permissions changed (set_permissions / clear_permissions). */
  update(permissions: Permissions | null): void {
    this.compiled = permissions
      ? {
          configure: compilePermission(permissions.configure),
          write: compilePermission(permissions.write),
          read: compilePermission(permissions.read),
        }
      : null;
    for (const c of Object.values(this.cache)) c.clear();
  }

  allowed(kind: PermissionKind, name: string): boolean {
    const cache = this.cache[kind];
    let answer = cache.get(name);
    if (answer === undefined) {
      answer = this.compiled?.[kind].test(name) ?? false;
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(name, answer);
    }
    return answer;
  }

  /**
   * Throws RabbitMQ's 403 when the user may not do `kind` on the resource, with its text, which
   * names no permission kind. As rabbit_access_control does, the default exchange ("") is
   * matched and named as amq.default: publishing to it needs write permission on "amq.default".
   */
  check(kind: PermissionKind, resource: ResourceKind, name: string): void {
    const subject = resource === "exchange" && name === "" ? DEFAULT_EXCHANGE : name;
    if (!this.allowed(kind, subject)) {
      throw accessRefused(`access to ${resource} '${subject}' in vhost '${this.vhost}' refused for user '${this.user}'`);
    }
  }
}

/** An AccessControl that allows everything: the broker's own operations (e.g. dead-lettering). */
export function fullAccess(user: string, vhost: string): AccessControl {
  return new AccessControl(user, vhost, FULL_PERMISSIONS);
}
