// The only thing warrenctl talks to: a RabbitMQ-compatible management HTTP API (Warren's /api,
// or RabbitMQ's management plugin), over the global fetch with HTTP basic authentication.
import { CliError, EXIT } from "./errors.mjs";

/**
 * @typedef {object} ApiOptions
 * @property {string} url base URL of the server; "/api/..." is appended to it
 * @property {string} username
 * @property {string} password
 * @property {number} timeoutMs per request
 */

/**
 * @typedef {object} ApiResponse
 * @property {number} status
 * @property {string} statusText
 * @property {string} text the raw body
 * @property {unknown} data the body parsed as JSON, or undefined when it is empty or not JSON
 */

/**
 * @typedef {object} CallOptions
 * @property {unknown} [body] sent as JSON
 * @property {string} [rawBody] sent as is, with content-type application/json
 * @property {Record<string, string>} [headers]
 * @property {{ username: string, password: string }} [auth] instead of the configured user
 * @property {boolean} [allowAuthFailure] return 401/403 instead of throwing (authenticate_user)
 */

/** One path segment: vhost and object names are percent-encoded, "/" becomes %2F. */
export function seg(/** @type {string} */ name) {
  return encodeURIComponent(name);
}

/**
 * The reason a management API error body gives: RabbitMQ answers {"error": ..., "reason": ...},
 * with the reason HTML-escaped.
 * @param {ApiResponse} res
 */
export function reasonOf(res) {
  const data = res.data;
  if (data && typeof data === "object" && !Array.isArray(data)) {
    const { reason, error } = /** @type {Record<string, unknown>} */ (data);
    const text = typeof reason === "string" && reason !== "" ? reason : typeof error === "string" ? error : undefined;
    if (text !== undefined) return unescapeHtml(text).trim();
  }
  const text = res.text.trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text;
}

/** @param {string} text */
function unescapeHtml(text) {
  return text
    .replace(/&lt;/g, "<")
    .replace(/&gt;/g, ">")
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

export class Api {
  /** @param {ApiOptions} options */
  constructor(options) {
    this.base = options.url.replace(/\/+$/, "");
    this.username = options.username;
    this.password = options.password;
    this.timeoutMs = options.timeoutMs;
  }

  /**
   * Make one request. Transport failures, timeouts and 401/403 throw a CliError; every other
   * status is returned for the command to interpret (see `check` for the generic mapping).
   * @param {string} method
   * @param {string} path starting with /api/
   * @param {CallOptions} [options]
   * @returns {Promise<ApiResponse>}
   */
  async call(method, path, options = {}) {
    const auth = options.auth ?? { username: this.username, password: this.password };
    /** @type {Record<string, string>} */
    const headers = {
      // No "accept: application/json": RabbitMQ answers 406 to DELETE /api/queues/{vhost}/{name}/contents
      // with it. fetch's default (*/*) is what rabbitmqadmin and curl send.
      authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`, "utf8").toString("base64")}`,
      ...options.headers,
    };
    /** @type {string | undefined} */
    let body;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined) headers["content-type"] = "application/json";

    const url = this.base + path;
    /** @type {Response} */
    let response;
    let text;
    try {
      /** @type {RequestInit} */
      const init = { method, headers, signal: AbortSignal.timeout(this.timeoutMs), redirect: "manual" };
      if (body !== undefined) init.body = body;
      response = await fetch(url, init);
      text = await response.text();
    } catch (err) {
      throw this.transportError(err, method, path);
    }
    /** @type {unknown} */
    let data;
    if (text.trim() !== "") {
      try {
        data = JSON.parse(text);
      } catch {
        data = undefined;
      }
    }
    const res = { status: response.status, statusText: response.statusText, text, data };
    if ((res.status === 401 || res.status === 403) && !options.allowAuthFailure) {
      const why = reasonOf(res);
      throw new CliError(
        `the management API at ${this.base} refused the request of user "${auth.username}" (${res.status} ${res.statusText}${why ? `: ${why}` : ""}).\n` +
          "Check --username/--password (WARREN_USER/WARREN_PASSWORD) and the user's tags and permissions.",
        EXIT.NOPERM,
      );
    }
    return res;
  }

  /**
   * GET a JSON document; any non-2xx status or a body that is not JSON is an error.
   * @param {string} path
   * @returns {Promise<unknown>}
   */
  async get(path) {
    const res = this.check(await this.call("GET", path), "GET", path);
    if (res.data === undefined) {
      throw new CliError(`unexpected answer to GET ${path}: the body is not JSON (${res.status} ${res.statusText})`, EXIT.SOFTWARE);
    }
    return res.data;
  }

  /**
   * GET a JSON array.
   * @param {string} path
   * @returns {Promise<Record<string, unknown>[]>}
   */
  async list(path) {
    const data = await this.get(path);
    if (!Array.isArray(data)) throw new CliError(`unexpected answer to GET ${path}: expected a JSON array`, EXIT.SOFTWARE);
    return data.filter((x) => x !== null && typeof x === "object");
  }

  /**
   * GET a JSON object.
   * @param {string} path
   * @returns {Promise<Record<string, unknown>>}
   */
  async object(path) {
    const data = await this.get(path);
    if (data === null || typeof data !== "object" || Array.isArray(data)) {
      throw new CliError(`unexpected answer to GET ${path}: expected a JSON object`, EXIT.SOFTWARE);
    }
    return /** @type {Record<string, unknown>} */ (data);
  }

  /**
   * Pass 2xx through; turn anything else into a CliError with an exit code that fits the status.
   * @param {ApiResponse} res
   * @param {string} method
   * @param {string} path
   */
  check(res, method, path) {
    if (res.status >= 200 && res.status < 300) return res;
    const why = reasonOf(res);
    const detail = `${res.status} ${res.statusText}${why ? `: ${why}` : ""}`;
    if (res.status === 400 || res.status === 422) throw new CliError(why || detail, EXIT.DATAERR);
    if (res.status === 404) throw new CliError(`${method} ${path}: ${detail}`, EXIT.UNAVAILABLE);
    if (res.status === 405 || res.status === 501) {
      throw new CliError(`the management API at ${this.base} does not support ${method} ${path} (${detail})`, EXIT.UNAVAILABLE);
    }
    if (res.status === 502 || res.status === 503 || res.status === 504) {
      throw new CliError(`the management API at ${this.base} is unavailable (${method} ${path}: ${detail})`, EXIT.UNAVAILABLE);
    }
    throw new CliError(`${method} ${path} failed: ${detail}`, EXIT.SOFTWARE);
  }

  /**
   * @param {unknown} err
   * @param {string} method
   * @param {string} path
   */
  transportError(err, method, path) {
    const e = /** @type {{ name?: string, message?: string, cause?: { code?: string, message?: string } }} */ (err ?? {});
    if (e.name === "TimeoutError" || e.name === "AbortError") {
      return new CliError(`${method} ${path} timed out after ${this.timeoutMs / 1000} seconds (--timeout)`, EXIT.TEMPFAIL);
    }
    const cause = e.cause?.message ?? e.cause?.code ?? e.message ?? String(err);
    return new CliError(
      `unable to connect to the management API at ${this.base} (${cause}).\n` +
        "Is Warren (npm start) or RabbitMQ's management plugin listening there? Set it with --url or WARREN_URL.",
      EXIT.UNAVAILABLE,
    );
  }
}
