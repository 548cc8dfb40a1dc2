/**
 * A broker restart as RabbitMQ has one: a new boot epoch. Locally every `npm start` is one;
 * deployed, every new Worker version (a deploy restarts every object anyway). Objects record the
 * epoch they last ran in and, waking in a new one, do what a RabbitMQ node does at boot:
 * non-durable queues and exchanges are gone, durable queues keep only persistent messages,
 * exclusive queues (whose connections cannot have survived) are gone. Eviction of an idle object
 * keeps the epoch, so it is never a restart. Null when no epoch is known (nothing is dropped).
 */
export function bootEpoch(env: { WARREN_BOOT_EPOCH?: string; CF_VERSION_METADATA?: { id: string } }): string | null {
  return env.WARREN_BOOT_EPOCH || env.CF_VERSION_METADATA?.id || null;
}

/** Whether an object that last ran in `stored` wakes after a restart. */
export function restartedSince(stored: string | null, current: string | null): boolean {
  return stored !== null && current !== null && stored !== current;
}
