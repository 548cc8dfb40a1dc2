import type { Context, MiddlewareHandler } from "hono";
import { ReplyCode } from "../../amqp";
import { login } from "../../core/auth";
import type { Actor, Broker } from "../../core/broker";
import { BrokerError } from "../../core/errors";
import { AccessControl } from "../../core/permissions";
import type { Env } from "../../env";
import { peerAddress } from "../peer";

/** The management API's caller, authenticated by HTTP basic auth. */
export interface ApiUser {
  name: string;
  tags: string[];
}

export type ApiEnv = { Bindings: Env; Variables: { user: ApiUser; broker: Broker } };
export type ApiContext = Context<ApiEnv>;

/** An HTTP answer with RabbitMQ's error JSON ({"error": …, "reason": …}). */
export class ApiError extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 415 | 500 | 503,
    readonly error: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

export const badRequest = (reason: string) => new ApiError(400, "bad_request", reason);
export const notAuthorised = (reason = "Not management user") => new ApiError(401, "not_authorised", reason);
export const notFoundError = (reason = "Not Found") => new ApiError(404, "Object Not Found", reason);

/** A broker error as RabbitMQ's management API answers it. */
export function apiErrorOf(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof BrokerError) {
    switch (err.code) {
      case ReplyCode.NOT_FOUND:
        return notFoundError(err.text);
      case ReplyCode.ACCESS_REFUSED:
        return notAuthorised(err.text);
      case ReplyCode.PRECONDITION_FAILED:
      case ReplyCode.RESOURCE_LOCKED:
      case ReplyCode.COMMAND_INVALID:
      case ReplyCode.NOT_ALLOWED:
        return badRequest(err.text);
      default:
        return new ApiError(500, "internal_error", err.text);
    }
  }
  return new ApiError(500, "internal_error", "internal error");
}

export function errorResponse(c: ApiContext, err: ApiError): Response {
  const headers: Record<string, string> = {};
  if (err.status === 401) headers["WWW-Authenticate"] = 'Basic realm="RabbitMQ Management"';
  return c.json({ error: err.error, reason: err.reason }, err.status, headers);
}

/** Basic auth on every request: the same login (brake, loopback rule) as AMQP's. */
export function authenticate(broker: (env: Env) => Broker): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const b = broker(c.env);
    c.set("broker", b);
    const credentials = parseBasic(c.req.header("Authorization"));
    if (!credentials) return errorResponse(c, notAuthorised("Not_Authorized"));
    const result = await login(b, credentials, peerAddress(c.req.raw, c.env));
    if (!result.ok) return errorResponse(c, notAuthorised(result.loopbackOnly ? result.text : "Not_Authorized"));
    // RabbitMQ: only users tagged for management may use the API at all.
    if (!result.tags.some((t) => MANAGEMENT_TAGS.includes(t))) return errorResponse(c, notAuthorised("Not management user"));
    c.set("user", { name: result.user, tags: result.tags });
    return next();
  };
}

const MANAGEMENT_TAGS = ["administrator", "monitoring", "policymaker", "management"];

function parseBasic(header: string | undefined): { username: string; password: string } | null {
  const m = /^Basic\s+(.+)$/i.exec(header ?? "");
  if (!m) return null;
  let text: string;
  try {
    text = new TextDecoder().decode(Uint8Array.from(atob(m[1]!.trim()), (ch) => ch.charCodeAt(0)));
  } catch {
    return null;
  }
  const i = text.indexOf(":");
  return i < 0 ? null : { username: text.slice(0, i), password: text.slice(i + 1) };
}

export function isAdmin(user: ApiUser): boolean {
  return user.tags.includes("administrator");
}

/** Administrators and monitoring users see every vhost and every user's objects. */
export function seesEverything(user: ApiUser): boolean {
  return user.tags.includes("administrator") || user.tags.includes("monitoring");
}

export function requireAdmin(c: ApiContext): void {
  if (!isAdmin(c.var.user)) throw notAuthorised("Not administrator user");
}

export function requirePolicymaker(c: ApiContext): void {
  const tags = c.var.user.tags;
  if (!tags.includes("administrator") && !tags.includes("policymaker")) throw notAuthorised("Not policymaker user");
}

export function requireMonitor(c: ApiContext): void {
  if (!seesEverything(c.var.user)) throw notAuthorised("Not monitor user");
}

/** The caller as an actor in a vhost: their permissions there (401 without any, 404 for no vhost). */
export async function actorIn(c: ApiContext, vhost: string): Promise<Actor> {
  const user = c.var.user;
  const access = await c.var.broker.control().access(user.name, vhost);
  if (!access.vhostExists) throw notFoundError(`no vhost '${vhost}'`);
  if (!access.permissions && !seesEverything(user)) throw notAuthorised(`access to vhost '${vhost}' refused for user '${user.name}'`);
  return { user: user.name, connection: "", access: new AccessControl(user.name, vhost, access.permissions) };
}

/** Which vhosts the caller may see: all for administrators and monitors, else those with permissions. */
export async function visibleVhosts(c: ApiContext): Promise<string[]> {
  const control = c.var.broker.control();
  const all = (await control.vhosts()).map((v) => v.name);
  if (seesEverything(c.var.user)) return all;
  const mine = new Set((await control.permissions({ user: c.var.user.name })).map((p) => p.vhost));
  return all.filter((v) => mine.has(v));
}

/** The request's JSON body as an object; 400 with a reason otherwise. */
export async function jsonBody(c: ApiContext): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === "") return {};
  // As RabbitMQ: JSON only. A form or text/plain body is what a cross-site page can send without
  // asking the browser first, with the Basic credentials it remembers.
  const type = c.req.header("Content-Type")?.split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") throw new ApiError(415, "unsupported_media_type", "Content-Type must be application/json");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw badRequest("Malformed JSON");
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw badRequest("JSON body must be an object");
  return body as Record<string, unknown>;
}

/** A URL path parameter, decoded (vhost "/" arrives as %2F). */
export function param(c: ApiContext, name: string): string {
  const v = c.req.param(name);
  if (v === undefined) throw badRequest(`missing ${name}`);
  return v;
}

/** RabbitMQ's API names the default exchange amq.default in paths. */
export function exchangeParam(c: ApiContext, name = "exchange"): string {
  const v = param(c, name);
  return v === "amq.default" ? "" : v;
}

export function bool(v: unknown, field: string, fallback: boolean): boolean {
  if (v === undefined) return fallback;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw badRequest(`${field} must be a boolean`);
}

export function str(v: unknown, field: string, fallback?: string): string {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== "string") throw badRequest(`${field} must be a string`);
  return v;
}

export function obj(v: unknown, field: string): Record<string, unknown> {
  if (v === undefined || v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw badRequest(`${field} must be an object`);
  return v as Record<string, unknown>;
}
