import { DurableObject } from "cloudflare:workers";
import type { LoginGuardPort } from "../core/ports";
import type { Env } from "../env";
import { LoginThrottle } from "./login-throttle";

/**
 * One object per peer address and one per user name (core/worker-broker.ts names them), so
 * login attempts on any connection and any Worker isolate meet in one place. It keeps its counts
 * in memory only: it writes nothing, and eviction (after a quiet minute or so) forgets them.
 */
export class LoginGuardDO extends DurableObject<Env> implements LoginGuardPort {
  private readonly throttle = new LoginThrottle();

  async outcome(ok: boolean): Promise<number> {
    const delay = this.throttle.outcome(ok, Date.now());
    if (!ok && delay > 0)
      console.log(`login: ${this.throttle.totalFailures} failures for ${this.ctx.id.name ?? "?"}, answer delayed ${delay} ms`);
    return delay;
  }

  async failures(): Promise<number> {
    return this.throttle.totalFailures;
  }
}
