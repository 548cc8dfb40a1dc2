import { readFile, readdir } from "node:fs/promises";

/** RSS in bytes of the workerd processes this process started (Miniflare's children). */
export async function workerdRss() {
  let total = 0;
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const status = await readFile(`/proc/${pid}/status`, "utf8");
      if (/^Name:\s+(\S+)/m.exec(status)?.[1] !== "workerd") continue;
      if (Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]) !== process.pid) continue;
      total += Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // the process went away meanwhile
    }
  }
  return total;
}

/** Bytes as MB with one decimal. */
export const mb = (/** @type {number} */ b) => `${(b / 2 ** 20).toFixed(1)} MB`;
