import amqp, { type ChannelModel } from "amqplib";
import { afterEach } from "vitest";
import type { WarrenServer } from "../../scripts/warren-server.mjs";

export interface ApiAnswer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** Calls Warren's management API as `user` (default guest). */
export function managementClient(server: () => WarrenServer) {
  return async function api(
    method: string,
    path: string,
    body?: unknown,
    options: { user?: string; password?: string; headers?: Record<string, string>; raw?: string } = {},
  ): Promise<ApiAnswer> {
    const auth = Buffer.from(`${options.user ?? "guest"}:${options.password ?? "guest"}`).toString("base64");
    const res = await fetch(`${server().httpUrl}/api${path}`, {
      method,
      headers: { Authorization: `Basic ${auth}`, "Content-Type": "application/json", ...options.headers },
      ...(options.raw !== undefined ? { body: options.raw } : body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? null : JSON.parse(text);
    } catch {
      // not JSON: the text itself
    }
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** amqplib connections as any user to any vhost through the bridge; closed after each test. */
export function userConnections(server: () => WarrenServer) {
  const open: ChannelModel[] = [];
  afterEach(async () => {
    await Promise.allSettled(open.splice(0).map((c) => c.close()));
  });
  return async (user: string, password: string, vhost = "/"): Promise<ChannelModel> => {
    const port = new URL(server().amqpUrl!).port;
    const conn = await amqp.connect(
      `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@localhost:${port}/${encodeURIComponent(vhost)}`,
    );
    conn.on("error", () => undefined);
    open.push(conn);
    return conn;
  };
}

/** The reply code and text a connection was closed with by the server. */
export function connectionClosed(conn: ChannelModel, timeoutMs = 5000): Promise<{ code: number | undefined; text: string }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the server did not close the connection")), timeoutMs);
    conn.once("close", (err: unknown) => {
      clearTimeout(timer);
      const e = err as { code?: number; message?: string } | undefined;
      resolve({ code: e?.code, text: e?.message ?? "" });
    });
  });
}
