/**
 * Browsers send Origin with every WebSocket upgrade and let any page open one, so without this
 * check a page on another site could speak AMQP to Warren from a visitor's browser. Allowed: no
 * Origin (not a browser: the bridge, amqplib, pika …), the Worker's own origin, and the origins
 * listed in WARREN_ALLOWED_ORIGINS (comma-separated, e.g. "https://app.example.com"; "*" allows
 * every origin).
 */
export function originAllowed(request: Request, allowedList: string | undefined): boolean {
  const origin = request.headers.get("Origin");
  if (origin === null) return true;
  const allowed = (allowedList ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  if (allowed.includes("*")) return true;
  let own: string;
  try {
    own = new URL(request.url).origin;
  } catch {
    return false;
  }
  return origin === own || allowed.includes(origin);
}
