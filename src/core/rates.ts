/** How far apart rate samples are (RabbitMQ's default collect_statistics_interval). */
const SAMPLE_MS = 5000;

type Values = Record<string, number>;

/**
 * Rates per second of a set of counters, from samples taken when they are asked for (or when
 * `roll` is called): the change since the sample before the latest one that is at least
 * SAMPLE_MS old. No timer: an idle object takes no samples and costs nothing.
 */
export class RateSampler {
  private sample: { at: number; values: Values };
  private previous: { at: number; values: Values } | null = null;

  constructor(private readonly read: () => Values) {
    this.sample = { at: Date.now(), values: { ...read() } };
  }

  /** Takes a new sample when the last one is old enough. Cheap: callable on a hot path. */
  roll(now = Date.now()): void {
    if (now - this.sample.at < SAMPLE_MS) return;
    this.previous = this.sample;
    this.sample = { at: now, values: { ...this.read() } };
  }

  /** Per-second rates of every counter (rounded to 0.1), over the last sample interval. */
  rates(): Record<string, number> {
    const now = Date.now();
    this.roll(now);
    const base = this.previous ?? this.sample;
    const seconds = Math.max((now - base.at) / 1000, 1);
    const out: Record<string, number> = {};
    for (const [key, value] of Object.entries(this.read())) {
      out[key] = Math.round(((value - (base.values[key] ?? 0)) / seconds) * 10) / 10;
    }
    return out;
  }
}
