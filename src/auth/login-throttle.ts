/** Failed logins that are answered at once; after these each answer waits its turn. */
const FREE_FAILURES = 3;
/** The wait after the first counted failure; it doubles per failure up to MAX_PENALTY_MS. */
const BASE_PENALTY_MS = 100;
const MAX_PENALTY_MS = 5_000;
/** Failures older than this are forgotten. */
const WINDOW_MS = 60_000;

/**
 * The brake on password guessing for one key (a peer address, or a user name). Failures beyond a
 * few get answers spaced out in time: each reserves the next slot, so parallel connections queue
 * behind each other instead of multiplying the rate. While a key is being braked a correct
 * password waits for the next slot too, so guessing in parallel gains nothing.
 */
export class LoginThrottle {
  private failures = 0;
  private lastFailure = 0;
  private nextSlot = 0;
  /** Every failure ever seen by this key (for statistics). */
  totalFailures = 0;

  /** Records a login's outcome; returns how long to wait before answering it. */
  outcome(ok: boolean, now: number): number {
    if (now - this.lastFailure > WINDOW_MS) this.failures = 0;
    if (ok) return this.failures >= FREE_FAILURES ? Math.max(0, this.nextSlot - now) : 0;
    this.failures++;
    this.totalFailures++;
    this.lastFailure = now;
    if (this.failures <= FREE_FAILURES) return 0;
    const penalty = Math.min(BASE_PENALTY_MS * 2 ** (this.failures - FREE_FAILURES - 1), MAX_PENALTY_MS);
    const start = Math.max(now, this.nextSlot);
    this.nextSlot = start + penalty;
    return this.nextSlot - now;
  }
}
