// Every warrenctl command: rabbitmqctl's name, arguments, messages and exit codes, carried out
// with the management API request RabbitMQ's own tools use for it.
import { readFile, writeFile } from "node:fs/promises";
import { seg } from "./api.mjs";
import { CliError, EXIT, UsageError } from "./errors.mjs";
import { BINDINGS, CHANNELS, CONNECTIONS, CONSUMERS, EXCHANGES, QUEUES, selectColumns, VHOSTS } from "./lists.mjs";
import { clusterStatus, clusterStatusText, environment, environmentText, status, statusText } from "./node-info.mjs";
import { cell, jsonList, pick, table } from "./output.mjs";

/** @typedef {import("./api.mjs").Api} Api */
/** @typedef {import("./api.mjs").ApiResponse} ApiResponse */
/** @typedef {import("./lists.mjs").ListKind} ListKind */
/** @typedef {Record<string, unknown>} Item */

/**
 * @typedef {object} Context
 * @property {Api} api
 * @property {string} vhost -p/--vhost
 * @property {boolean} quiet informational messages suppressed (-q, -s, --formatter json)
 * @property {boolean} headers table header rows printed (not with -s/--no-table-headers)
 * @property {boolean} json --formatter json
 * @property {number} timeoutSeconds
 * @property {Record<string, string | boolean | undefined>} options the command's own options
 * @property {(text: string) => void} out write to stdout
 * @property {() => Promise<string>} stdin read all of standard input
 */

/**
 * @typedef {object} Command
 * @property {string} usage the arguments, after the command name
 * @property {string} summary
 * @property {number} min fewest positional arguments
 * @property {number} max most positional arguments
 * @property {string[]} [options] the command's own options (long names)
 * @property {boolean} [vhost] takes -p/--vhost
 * @property {ListKind} [list] for the columns in its help
 * @property {(ctx: Context, args: string[]) => Promise<void>} run
 */

/**
 * An informational line (rabbitmqctl's "Listing queues for vhost / ..."), not with -q, -s or json.
 * @param {Context} ctx
 * @param {string} text
 */
function info(ctx, text) {
  if (!ctx.quiet) ctx.out(`${text}\n`);
}

/**
 * The result of a command that changes something: nothing in table form (its informational line
 * said it all), {"result":"ok"} with --formatter json.
 * @param {Context} ctx
 */
function done(ctx) {
  if (ctx.json) ctx.out(`${JSON.stringify({ result: "ok" })}\n`);
}

/**
 * @param {Context} ctx
 * @param {string} method
 * @param {string} path
 * @param {import("./api.mjs").CallOptions} [options]
 */
function call(ctx, method, path, options) {
  return ctx.api.call(method, path, options);
}

/**
 * @param {Context} ctx
 * @param {ApiResponse} res
 * @param {string} method
 * @param {string} path
 */
function check(ctx, res, method, path) {
  return ctx.api.check(res, method, path);
}

/**
 * Whether GET path finds something (200) or not (404); anything else is an error.
 * @param {Context} ctx
 * @param {string} path
 */
async function exists(ctx, path) {
  const res = await call(ctx, "GET", path);
  if (res.status === 404) return false;
  check(ctx, res, "GET", path);
  return true;
}

/**
 * GET a user, or fail the way rabbitmqctl does when there is none.
 * @param {Context} ctx
 * @param {string} user
 * @returns {Promise<Item>}
 */
async function getUser(ctx, user) {
  const path = `/api/users/${seg(user)}`;
  const res = await call(ctx, "GET", path);
  if (res.status === 404) throw new CliError(`User "${user}" does not exist`, EXIT.NOUSER);
  check(ctx, res, "GET", path);
  const data = res.data;
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    throw new CliError(`unexpected answer to GET ${path}: expected a JSON object`, EXIT.SOFTWARE);
  }
  return /** @type {Item} */ (data);
}

/**
 * A user's tags as a list: RabbitMQ 3.10 answers a list, older versions a comma-separated string.
 * @param {unknown} tags
 * @returns {string[]}
 */
function tagList(tags) {
  if (Array.isArray(tags)) return tags.map(String);
  if (typeof tags === "string") return tags.split(",").filter((t) => t !== "");
  return [];
}

/**
 * PUT /api/users/{name} rewrites the whole user, and a user PUT without password or
 * password_hash loses its password: keep the stored hash when only the tags change.
 * @param {Item} user
 */
function keepPassword(user) {
  /** @type {Record<string, string>} */
  const body = {};
  if (typeof user.password_hash === "string") body.password_hash = user.password_hash;
  if (typeof user.hashing_algorithm === "string") body.hashing_algorithm = user.hashing_algorithm;
  return body;
}

/**
 * After a permission request failed with 404 or 400 (RabbitMQ's vhost_or_user_not_found): which
 * one is missing, with rabbitmqctl's message and exit code. Returns when both exist.
 * @param {Context} ctx
 * @param {string} vhost
 * @param {string} user
 */
async function vhostAndUserExist(ctx, vhost, user) {
  if (!(await exists(ctx, `/api/vhosts/${seg(vhost)}`))) throw new CliError(`Virtual host ${vhost} does not exist`, EXIT.UNAVAILABLE);
  if (!(await exists(ctx, `/api/users/${seg(user)}`))) throw new CliError(`User ${user} does not exist`, EXIT.NOUSER);
}

/**
 * Print a list as a table or rabbitmqctl's JSON array, after its informational line if given
 * (commands print theirs before the request, as rabbitmqctl does).
 * @param {Context} ctx
 * @param {string | undefined} banner
 * @param {string[]} columns
 * @param {Item[]} items
 * @param {Record<string, import("./lists.mjs").Column>} specs
 */
function printList(ctx, banner, columns, items, specs) {
  if (banner !== undefined) info(ctx, banner);
  if (ctx.json) {
    ctx.out(jsonList(items.map((item) => Object.fromEntries(columns.map((c) => [c, specs[c]?.get(item) ?? ""])))));
    return;
  }
  const rows = items.map((item) =>
    columns.map((c) => {
      const spec = specs[c];
      const value = spec?.get(item);
      return spec?.cell ? spec.cell(value) : value;
    }),
  );
  ctx.out(table(columns, rows, ctx.headers));
}

/**
 * The fixed columns of list_users, list_permissions, list_policies...
 * @param {string[]} names
 * @param {Record<string, string | ((item: Item) => unknown)>} [paths]
 * @returns {Record<string, import("./lists.mjs").Column>}
 */
function fixed(names, paths = {}) {
  return Object.fromEntries(
    names.map((n) => {
      const how = paths[n] ?? n;
      return [n, { get: typeof how === "function" ? how : (/** @type {Item} */ item) => pick(item, how) }];
    }),
  );
}

/**
 * A vhost-scoped list. A 404 means no such vhost, which rabbitmqctl answers with an empty list;
 * if the vhost does exist the API lacks the endpoint, and that is an error.
 * @param {Context} ctx
 * @param {string} path
 */
async function vhostList(ctx, path) {
  const res = await call(ctx, "GET", path);
  if (res.status === 404 && !(await exists(ctx, `/api/vhosts/${seg(ctx.vhost)}`))) return [];
  check(ctx, res, "GET", path);
  if (!Array.isArray(res.data)) throw new CliError(`unexpected answer to GET ${path}: expected a JSON array`, EXIT.SOFTWARE);
  return /** @type {Item[]} */ (res.data.filter((x) => x !== null && typeof x === "object"));
}

/**
 * A list that needs its vhost: 404 is rabbitmqctl's "Virtual host 'x' does not exist" (65).
 * @param {Context} ctx
 * @param {string} path
 */
async function listInVhost(ctx, path) {
  const res = await call(ctx, "GET", path);
  if (res.status === 404) throw new CliError(`Virtual host '${ctx.vhost}' does not exist`, EXIT.DATAERR, { heading: false });
  check(ctx, res, "GET", path);
  if (!Array.isArray(res.data)) throw new CliError(`unexpected answer to GET ${path}: expected a JSON array`, EXIT.SOFTWARE);
  return /** @type {Item[]} */ (res.data.filter((x) => x !== null && typeof x === "object"));
}

/**
 * @param {ListKind} kind
 * @param {(ctx: Context) => string} banner
 * @param {(ctx: Context) => Promise<Item[]>} fetchItems
 * @returns {(ctx: Context, args: string[]) => Promise<void>}
 */
function listCommand(kind, banner, fetchItems) {
  return async (ctx, args) => {
    const columns = selectColumns(kind, args);
    info(ctx, banner(ctx));
    const items = await fetchItems(ctx);
    printList(ctx, undefined, columns, items, kind.columns);
  };
}

/** @param {string} text */
function parseJson(text) {
  try {
    return { ok: true, value: /** @type {unknown} */ (JSON.parse(text)) };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * An X-Reason header value: header values are bytes, so send the reason's UTF-8 bytes (as
 * RabbitMQ reads them) and no control characters.
 * @param {string} reason
 */
function headerValue(reason) {
  const printable = Array.from(reason, (ch) => {
    const code = ch.codePointAt(0) ?? 0;
    return code < 0x20 || code === 0x7f ? " " : ch;
  }).join("");
  return Buffer.from(printable, "utf8").toString("latin1");
}

/** @type {Record<string, Command>} */
export const COMMANDS = {
  // ─── users ───
  add_user: {
    usage: "<username> <password>",
    summary: "Creates a user (with no tags and no permissions). Fails if the user exists.",
    min: 2,
    max: 2,
    async run(ctx, [user = "", password = ""]) {
      info(ctx, `Adding user "${user}" ...`);
      if (await exists(ctx, `/api/users/${seg(user)}`)) throw new CliError(`User "${user}" already exists`, EXIT.SOFTWARE);
      const path = `/api/users/${seg(user)}`;
      check(ctx, await call(ctx, "PUT", path, { body: { password, tags: "" } }), "PUT", path);
      info(
        ctx,
        "Done. Don't forget to grant the user permissions to some virtual hosts! See 'warrenctl help set_permissions' to learn more.",
      );
      done(ctx);
    },
  },
  delete_user: {
    usage: "<username>",
    summary: "Deletes a user.",
    min: 1,
    max: 1,
    async run(ctx, [user = ""]) {
      info(ctx, `Deleting user "${user}" ...`);
      const path = `/api/users/${seg(user)}`;
      const res = await call(ctx, "DELETE", path);
      if (res.status === 404) throw new CliError(`User "${user}" does not exist`, EXIT.NOUSER);
      check(ctx, res, "DELETE", path);
      done(ctx);
    },
  },
  change_password: {
    usage: "<username> <new_password>",
    summary: "Changes a user's password (keeping its tags).",
    min: 2,
    max: 2,
    async run(ctx, [user = "", password = ""]) {
      info(ctx, `Changing password for user "${user}" ...`);
      const existing = await getUser(ctx, user);
      const path = `/api/users/${seg(user)}`;
      check(ctx, await call(ctx, "PUT", path, { body: { password, tags: tagList(existing.tags).join(",") } }), "PUT", path);
      done(ctx);
    },
  },
  clear_password: {
    usage: "<username>",
    summary: "Removes a user's password: it can no longer log in with one.",
    min: 1,
    max: 1,
    async run(ctx, [user = ""]) {
      info(ctx, `Clearing password for user "${user}" ...`);
      const existing = await getUser(ctx, user);
      const path = `/api/users/${seg(user)}`;
      check(ctx, await call(ctx, "PUT", path, { body: { password_hash: "", tags: tagList(existing.tags).join(",") } }), "PUT", path);
      done(ctx);
    },
  },
  authenticate_user: {
    usage: "<username> <password>",
    summary: "Checks a user's credentials (GET /api/whoami as that user).",
    min: 2,
    max: 2,
    async run(ctx, [user = "", password = ""]) {
      info(ctx, `Authenticating user "${user}" ...`);
      const res = await call(ctx, "GET", "/api/whoami", { auth: { username: user, password }, allowAuthFailure: true });
      // RabbitMQ checks the password first, then refuses users without a management tag with
      // 401 "Not management user": those credentials are valid.
      const valid = (res.status >= 200 && res.status < 300) || /not management user/i.test(res.text);
      if (!valid && (res.status === 401 || res.status === 403)) {
        throw new CliError(`Error: failed to authenticate user "${user}"\nuser '${user}' - invalid credentials`, EXIT.DATAERR);
      }
      if (!valid) check(ctx, res, "GET", "/api/whoami");
      ctx.out(ctx.json ? `${JSON.stringify({ message: "Success" })}\n` : "Success\n");
    },
  },
  set_user_tags: {
    usage: "<username> [<tag> ...]",
    summary: "Sets a user's tags (administrator, monitoring, management, policymaker...); none clears them.",
    min: 1,
    max: Number.POSITIVE_INFINITY,
    async run(ctx, [user = "", ...tags]) {
      info(ctx, `Setting tags for user "${user}" to [${tags.join(", ")}] ...`);
      const existing = await getUser(ctx, user);
      const path = `/api/users/${seg(user)}`;
      check(ctx, await call(ctx, "PUT", path, { body: { ...keepPassword(existing), tags: tags.join(",") } }), "PUT", path);
      done(ctx);
    },
  },
  list_users: {
    usage: "",
    summary: "Lists users and their tags.",
    min: 0,
    max: 0,
    async run(ctx) {
      info(ctx, "Listing users ...");
      const users = await ctx.api.list("/api/users");
      const specs = fixed(["user", "tags"], { user: "name", tags: (u) => tagList(u.tags) });
      printList(ctx, undefined, ["user", "tags"], users, specs);
    },
  },

  // ─── virtual hosts ───
  add_vhost: {
    usage: "<vhost> [--description <text>] [--tags <t1,t2>] [--default-queue-type <classic|quorum|stream>]",
    summary: "Creates a virtual host (succeeds if it exists).",
    min: 1,
    max: 1,
    options: ["description", "tags", "default-queue-type"],
    async run(ctx, [vhost = ""]) {
      info(ctx, `Adding vhost "${vhost}" ...`);
      /** @type {Record<string, string>} */
      const body = {};
      if (typeof ctx.options.description === "string") body.description = ctx.options.description;
      if (typeof ctx.options.tags === "string") body.tags = ctx.options.tags;
      if (typeof ctx.options["default-queue-type"] === "string") body.default_queue_type = ctx.options["default-queue-type"];
      const path = `/api/vhosts/${seg(vhost)}`;
      check(ctx, await call(ctx, "PUT", path, Object.keys(body).length > 0 ? { body } : {}), "PUT", path);
      done(ctx);
    },
  },
  delete_vhost: {
    usage: "<vhost>",
    summary: "Deletes a virtual host and everything in it.",
    min: 1,
    max: 1,
    async run(ctx, [vhost = ""]) {
      info(ctx, `Deleting vhost "${vhost}" ...`);
      const path = `/api/vhosts/${seg(vhost)}`;
      const res = await call(ctx, "DELETE", path);
      if (res.status === 404) throw new CliError(`Virtual host '${vhost}' does not exist`, EXIT.DATAERR, { heading: false });
      check(ctx, res, "DELETE", path);
      done(ctx);
    },
  },
  list_vhosts: {
    usage: "[<column> ...]",
    summary: "Lists virtual hosts.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    list: VHOSTS,
    run: listCommand(
      VHOSTS,
      () => "Listing vhosts ...",
      (ctx) => ctx.api.list("/api/vhosts"),
    ),
  },

  // ─── permissions ───
  set_permissions: {
    usage: "[-p <vhost>] <username> <conf> <write> <read>",
    summary: "Sets a user's configure, write and read permissions (regular expressions) in a vhost.",
    min: 4,
    max: 4,
    vhost: true,
    async run(ctx, [user = "", configure = "", write = "", read = ""]) {
      info(ctx, `Setting permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
      const path = `/api/permissions/${seg(ctx.vhost)}/${seg(user)}`;
      const res = await call(ctx, "PUT", path, { body: { configure, write, read } });
      // RabbitMQ answers 400 vhost_or_user_not_found (other servers 404, or 400 with their own
      // text): say which one is missing, as rabbitmqctl does; if both exist, report the 400 as is.
      if (res.status === 404 || res.status === 400) await vhostAndUserExist(ctx, ctx.vhost, user);
      check(ctx, res, "PUT", path);
      done(ctx);
    },
  },
  clear_permissions: {
    usage: "[-p <vhost>] <username>",
    summary: "Removes a user's permissions in a vhost.",
    min: 1,
    max: 1,
    vhost: true,
    async run(ctx, [user = ""]) {
      info(ctx, `Clearing permissions for user "${user}" in vhost "${ctx.vhost}" ...`);
      const path = `/api/permissions/${seg(ctx.vhost)}/${seg(user)}`;
      const res = await call(ctx, "DELETE", path);
      if (res.status === 404) {
        // Both exist, the user just had no permissions there: nothing to clear, as rabbitmqctl.
        await vhostAndUserExist(ctx, ctx.vhost, user);
      } else {
        check(ctx, res, "DELETE", path);
      }
      done(ctx);
    },
  },
  list_permissions: {
    usage: "[-p <vhost>]",
    summary: "Lists the users' permissions in a vhost.",
    min: 0,
    max: 0,
    vhost: true,
    async run(ctx) {
      info(ctx, `Listing permissions for vhost "${ctx.vhost}" ...`);
      const items = await listInVhost(ctx, `/api/vhosts/${seg(ctx.vhost)}/permissions`);
      const cols = ["user", "configure", "write", "read"];
      printList(ctx, undefined, cols, items, fixed(cols));
    },
  },
  list_user_permissions: {
    usage: "<username>",
    summary: "Lists a user's permissions in every vhost.",
    min: 1,
    max: 1,
    async run(ctx, [user = ""]) {
      info(ctx, `Listing permissions for user "${user}" ...`);
      const path = `/api/users/${seg(user)}/permissions`;
      const res = await call(ctx, "GET", path);
      if (res.status === 404) throw new CliError(`User "${user}" does not exist`, EXIT.NOUSER);
      check(ctx, res, "GET", path);
      if (!Array.isArray(res.data)) throw new CliError(`unexpected answer to GET ${path}: expected a JSON array`, EXIT.SOFTWARE);
      const items = /** @type {Item[]} */ (res.data.filter((x) => x !== null && typeof x === "object"));
      const cols = ["vhost", "configure", "write", "read"];
      printList(ctx, undefined, cols, items, fixed(cols));
    },
  },

  // ─── queues, exchanges, bindings, connections, channels, consumers ───
  list_queues: {
    usage: "[-p <vhost>] [<column> ...]",
    summary: "Lists the queues of a vhost.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    vhost: true,
    list: QUEUES,
    async run(ctx, args) {
      const columns = selectColumns(QUEUES, args);
      info(ctx, `Timeout: ${ctx.timeoutSeconds.toFixed(1)} seconds ...`);
      info(ctx, `Listing queues for vhost ${ctx.vhost} ...`);
      const items = await vhostList(ctx, `/api/queues/${seg(ctx.vhost)}`);
      printList(ctx, undefined, columns, items, QUEUES.columns);
    },
  },
  list_exchanges: {
    usage: "[-p <vhost>] [<column> ...]",
    summary: "Lists the exchanges of a vhost.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    vhost: true,
    list: EXCHANGES,
    run: listCommand(
      EXCHANGES,
      (ctx) => `Listing exchanges for vhost ${ctx.vhost} ...`,
      (ctx) => vhostList(ctx, `/api/exchanges/${seg(ctx.vhost)}`),
    ),
  },
  list_bindings: {
    usage: "[-p <vhost>] [<column> ...]",
    summary: "Lists the bindings of a vhost.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    vhost: true,
    list: BINDINGS,
    run: listCommand(
      BINDINGS,
      (ctx) => `Listing bindings for vhost ${ctx.vhost}...`,
      (ctx) => vhostList(ctx, `/api/bindings/${seg(ctx.vhost)}`),
    ),
  },
  list_connections: {
    usage: "[<column> ...]",
    summary: "Lists client connections (all vhosts). The pid column shows the connection's name.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    list: CONNECTIONS,
    run: listCommand(
      CONNECTIONS,
      () => "Listing connections ...",
      (ctx) => ctx.api.list("/api/connections"),
    ),
  },
  list_channels: {
    usage: "[<column> ...]",
    summary: "Lists channels (all vhosts). The pid and connection columns show names.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    list: CHANNELS,
    run: listCommand(
      CHANNELS,
      () => "Listing channels ...",
      (ctx) => ctx.api.list("/api/channels"),
    ),
  },
  list_consumers: {
    usage: "[-p <vhost>] [<column> ...]",
    summary: "Lists the consumers of a vhost. channel_pid shows the channel's name.",
    min: 0,
    max: Number.POSITIVE_INFINITY,
    vhost: true,
    list: CONSUMERS,
    run: listCommand(
      CONSUMERS,
      (ctx) => `Listing consumers in vhost ${ctx.vhost} ...`,
      (ctx) => vhostList(ctx, `/api/consumers/${seg(ctx.vhost)}`),
    ),
  },
  close_connection: {
    usage: "<connection_name> <reason>",
    summary: "Closes a client connection; its name is list_connections' name column.",
    min: 2,
    max: 2,
    async run(ctx, [name = "", reason = ""]) {
      info(ctx, `Closing connection ${name}, reason: ${reason}...`);
      const path = `/api/connections/${seg(name)}`;
      const res = await call(ctx, "DELETE", path, { headers: { "x-reason": headerValue(reason) } });
      if (res.status === 404) throw new CliError(`Connection "${name}" does not exist`, EXIT.UNAVAILABLE);
      check(ctx, res, "DELETE", path);
      done(ctx);
    },
  },
  purge_queue: {
    usage: "[-p <vhost>] <queue>",
    summary: "Removes every ready message from a queue.",
    min: 1,
    max: 1,
    vhost: true,
    async run(ctx, [queue = ""]) {
      info(ctx, `Purging queue '${queue}' in vhost '${ctx.vhost}' ...`);
      const path = `/api/queues/${seg(ctx.vhost)}/${seg(queue)}/contents`;
      const res = await call(ctx, "DELETE", path);
      if (res.status === 404) throw new CliError(`Queue '${queue}' in vhost '${ctx.vhost}' does not exist`, EXIT.UNAVAILABLE);
      check(ctx, res, "DELETE", path);
      done(ctx);
    },
  },
  delete_queue: {
    usage: "[-p <vhost>] <queue> [--if-empty|-e] [--if-unused]",
    summary: "Deletes a queue; --if-empty / --if-unused make it fail if it has ready messages / consumers.",
    min: 1,
    max: 1,
    vhost: true,
    options: ["if-empty", "if-unused"],
    async run(ctx, [queue = ""]) {
      const ifEmpty = ctx.options["if-empty"] === true;
      const ifUnused = ctx.options["if-unused"] === true;
      const conditions = [ifEmpty ? "empty" : "", ifUnused ? "unused" : ""].filter(Boolean).join(" and ");
      info(ctx, `Deleting queue '${queue}' on vhost '${ctx.vhost}'${conditions ? ` if queue is ${conditions}` : ""} ...`);
      const path = `/api/queues/${seg(ctx.vhost)}/${seg(queue)}`;
      const query = new URLSearchParams();
      if (ifEmpty) query.set("if-empty", "true");
      if (ifUnused) query.set("if-unused", "true");
      const target = query.toString() ? `${path}?${query}` : path;
      const res = await call(ctx, "DELETE", target);
      if (res.status === 404) throw new CliError(`Queue '${queue}' in vhost '${ctx.vhost}' does not exist`, EXIT.UNAVAILABLE);
      check(ctx, res, "DELETE", target);
      // rabbitmqctl adds "with N ready messages": the API's DELETE answers no count, and its
      // queue statistics may be seconds old, so no number rather than a wrong one.
      info(ctx, "Queue was successfully deleted");
      done(ctx);
    },
  },

  // ─── policies ───
  set_policy: {
    usage: "[-p <vhost>] <name> <pattern> <definition> [--priority <n>] [--apply-to <all|queues|exchanges|...>]",
    summary: "Sets a policy: applies the definition (a JSON object) to the queues/exchanges whose names match the pattern.",
    min: 3,
    max: 3,
    vhost: true,
    options: ["priority", "apply-to"],
    async run(ctx, [name = "", pattern = "", definition = ""]) {
      const priorityText = typeof ctx.options.priority === "string" ? ctx.options.priority : "0";
      if (!/^-?\d+$/.test(priorityText)) throw new UsageError(`--priority must be an integer, got "${priorityText}"`, EXIT.DATAERR);
      const priority = Number(priorityText);
      const applyTo = typeof ctx.options["apply-to"] === "string" ? ctx.options["apply-to"] : "all";
      info(
        ctx,
        `Setting policy "${name}" for pattern "${pattern}" to "${definition}" with priority "${priority}" for vhost "${ctx.vhost}" ...`,
      );
      const parsed = parseJson(definition);
      if (!parsed.ok) throw new CliError(`JSON decoding error: ${parsed.error}`, EXIT.DATAERR);
      if (parsed.value === null || typeof parsed.value !== "object" || Array.isArray(parsed.value)) {
        throw new CliError("the policy definition must be a JSON object, e.g. '{\"max-length\":1000}'", EXIT.DATAERR);
      }
      const path = `/api/policies/${seg(ctx.vhost)}/${seg(name)}`;
      const res = await call(ctx, "PUT", path, { body: { pattern, definition: parsed.value, priority, "apply-to": applyTo } });
      if (res.status === 404 && !(await exists(ctx, `/api/vhosts/${seg(ctx.vhost)}`))) {
        throw new CliError(`Virtual host '${ctx.vhost}' does not exist`, EXIT.DATAERR, { heading: false });
      }
      check(ctx, res, "PUT", path);
      done(ctx);
    },
  },
  clear_policy: {
    usage: "[-p <vhost>] <name>",
    summary: "Removes a policy.",
    min: 1,
    max: 1,
    vhost: true,
    async run(ctx, [name = ""]) {
      info(ctx, `Clearing policy "${name}" on vhost "${ctx.vhost}" ...`);
      const path = `/api/policies/${seg(ctx.vhost)}/${seg(name)}`;
      const res = await call(ctx, "DELETE", path);
      if (res.status === 404) throw new CliError(`Policy "${name}" does not exist in vhost "${ctx.vhost}"`, EXIT.UNAVAILABLE);
      check(ctx, res, "DELETE", path);
      done(ctx);
    },
  },
  list_policies: {
    usage: "[-p <vhost>]",
    summary: "Lists the policies of a vhost.",
    min: 0,
    max: 0,
    vhost: true,
    async run(ctx) {
      info(ctx, `Listing policies for vhost "${ctx.vhost}" ...`);
      const items = await listInVhost(ctx, `/api/policies/${seg(ctx.vhost)}`);
      const cols = ["vhost", "name", "pattern", "apply-to", "definition", "priority"];
      // rabbitmqctl shows the definition as JSON text, in tables and in its JSON output alike.
      const specs = fixed(cols, { definition: (p) => JSON.stringify(p.definition ?? {}) });
      printList(ctx, undefined, cols, items, specs);
    },
  },

  // ─── definitions ───
  export_definitions: {
    usage: '<file | "-">',
    summary:
      "Exports every definition (users, vhosts, permissions, policies, queues, exchanges, bindings) as JSON to a file, or stdout with -.",
    min: 1,
    max: 1,
    async run(ctx, [file = ""]) {
      if (file !== "-") info(ctx, `Exporting definitions in JSON to a file at "${file}" ...`);
      const path = "/api/definitions";
      const res = check(ctx, await call(ctx, "GET", path), "GET", path);
      if (res.data === null || typeof res.data !== "object" || Array.isArray(res.data)) {
        throw new CliError(`unexpected answer to GET ${path}: expected a JSON object`, EXIT.SOFTWARE);
      }
      const text = res.text.endsWith("\n") ? res.text : `${res.text}\n`;
      if (file === "-") {
        ctx.out(text);
        return;
      }
      try {
        await writeFile(file, text);
      } catch (err) {
        throw new CliError(`could not write "${file}": ${err instanceof Error ? err.message : String(err)}`, EXIT.DATAERR);
      }
      done(ctx);
    },
  },
  import_definitions: {
    usage: '<file | "-">',
    summary: "Imports definitions from a JSON file, or stdin with -. Existing objects are kept or updated, as by RabbitMQ.",
    min: 1,
    max: 1,
    async run(ctx, [file = ""]) {
      let text;
      if (file === "-") {
        info(ctx, "Importing definitions in JSON from standard input ...");
        text = await ctx.stdin();
      } else {
        try {
          text = await readFile(file, "utf8");
        } catch (err) {
          const e = /** @type {{ code?: string, message?: string }} */ (err);
          const why = e.code === "ENOENT" ? "does not exist" : `cannot be read (${e.message})`;
          throw new UsageError(`Bad argument: File ${file} ${why}`, EXIT.DATAERR);
        }
        info(ctx, `Importing definitions in JSON from a file at "${file}" ...`);
      }
      const parsed = parseJson(text);
      if (!parsed.ok) throw new CliError(`Failed to deserialise input (format: JSON) (error: ${parsed.error})`, EXIT.DATAERR);
      if (parsed.value === null || typeof parsed.value !== "object" || Array.isArray(parsed.value)) {
        throw new CliError("Failed to deserialise input (format: JSON) (error: definitions must be a JSON object)", EXIT.DATAERR);
      }
      const path = "/api/definitions";
      check(ctx, await call(ctx, "POST", path, { rawBody: text }), "POST", path);
      info(ctx, "Successfully imported definitions.");
      done(ctx);
    },
  },

  // ─── node ───
  status: {
    usage: "",
    summary: "Shows the node's status: versions, plugins, memory, file descriptors, disk, totals, listeners.",
    min: 0,
    max: 0,
    async run(ctx) {
      const s = await status(ctx.api);
      if (ctx.json) {
        ctx.out(`${JSON.stringify(s)}\n`);
        return;
      }
      info(ctx, `Status of node ${s.node_name} ...`);
      ctx.out(statusText(s));
    },
  },
  cluster_status: {
    usage: "",
    summary: "Shows the cluster: its name, nodes, versions, alarms, partitions, listeners and feature flags.",
    min: 0,
    max: 0,
    async run(ctx) {
      const c = await clusterStatus(ctx.api);
      if (ctx.json) {
        ctx.out(`${JSON.stringify(c)}\n`);
        return;
      }
      info(ctx, `Cluster status of node ${c.node_name} ...`);
      ctx.out(clusterStatusText(c));
    },
  },
  environment: {
    usage: "",
    summary:
      "Shows the node's configuration as the management API reports it (not the Erlang application environment, which it does not expose).",
    min: 0,
    max: 0,
    async run(ctx) {
      const env = await environment(ctx.api);
      if (ctx.json) {
        ctx.out(`${JSON.stringify(env)}\n`);
        return;
      }
      info(ctx, `Environment of node ${cell(env.node)} (from the management API) ...`);
      ctx.out(environmentText(env));
    },
  },
  report: {
    usage: "",
    summary:
      "status, cluster_status, environment, then connections, channels, and every vhost's queues, exchanges, bindings, permissions and policies.",
    min: 0,
    max: 0,
    async run(ctx) {
      await report(ctx);
    },
  },
};

/**
 * @param {ListKind} kind
 */
function allColumns(kind) {
  return Object.keys(kind.columns);
}

/**
 * @param {Context} ctx
 */
async function report(ctx) {
  const s = await status(ctx.api);
  const c = await clusterStatus(ctx.api);
  const env = await environment(ctx.api);
  const connections = await ctx.api.list("/api/connections");
  const channels = await ctx.api.list("/api/channels");
  const vhostNames = (await ctx.api.list("/api/vhosts")).map((v) => String(v.name));
  /** @type {Record<string, Record<string, Item[]>>} */
  const vhosts = {};
  for (const v of vhostNames) {
    const vctx = { ...ctx, vhost: v };
    vhosts[v] = {
      queues: await vhostList(vctx, `/api/queues/${seg(v)}`),
      exchanges: await vhostList(vctx, `/api/exchanges/${seg(v)}`),
      bindings: await vhostList(vctx, `/api/bindings/${seg(v)}`),
      permissions: await listInVhost(vctx, `/api/vhosts/${seg(v)}/permissions`),
      policies: await listInVhost(vctx, `/api/policies/${seg(v)}`),
    };
  }

  /** @param {ListKind} kind @param {Item[]} items */
  const rowsOf = (kind, items) =>
    items.map((item) => Object.fromEntries(allColumns(kind).map((col) => [col, kind.columns[col]?.get(item) ?? ""])));
  if (ctx.json) {
    /** @type {Record<string, unknown>} */
    const perVhost = {};
    for (const [v, lists] of Object.entries(vhosts)) {
      perVhost[v] = {
        queues: rowsOf(QUEUES, lists.queues ?? []),
        exchanges: rowsOf(EXCHANGES, lists.exchanges ?? []),
        bindings: rowsOf(BINDINGS, lists.bindings ?? []),
        permissions: lists.permissions,
        policies: lists.policies,
      };
    }
    const all = {
      status: s,
      cluster_status: c,
      environment: env,
      connections: rowsOf(CONNECTIONS, connections),
      channels: rowsOf(CHANNELS, channels),
      vhosts: perVhost,
    };
    ctx.out(`${JSON.stringify(all)}\n`);
    return;
  }

  // In a report every section gets its line and header row, as in rabbitmqctl's.
  const rctx = { ...ctx, quiet: false, headers: true };
  ctx.out(`Reporting server status of node ${s.node_name} ...\n\n`);
  ctx.out(`Status of node ${s.node_name} ...\n${statusText(s)}\n`);
  ctx.out(`Cluster status of node ${c.node_name} ...\n${clusterStatusText(c)}\n`);
  ctx.out(`Environment of node ${cell(env.node)} (from the management API) ...\n${environmentText(env)}\n`);
  printList(rctx, "Listing connections ...", allColumns(CONNECTIONS), connections, CONNECTIONS.columns);
  ctx.out("\n");
  printList(rctx, "Listing channels ...", allColumns(CHANNELS), channels, CHANNELS.columns);
  for (const [v, lists] of Object.entries(vhosts)) {
    ctx.out("\n");
    printList(rctx, `Listing queues for vhost ${v} ...`, allColumns(QUEUES), lists.queues ?? [], QUEUES.columns);
    ctx.out("\n");
    printList(rctx, `Listing exchanges for vhost ${v} ...`, allColumns(EXCHANGES), lists.exchanges ?? [], EXCHANGES.columns);
    ctx.out("\n");
    printList(rctx, `Listing bindings for vhost ${v}...`, allColumns(BINDINGS), lists.bindings ?? [], BINDINGS.columns);
    ctx.out("\n");
    const permCols = ["user", "configure", "write", "read"];
    printList(rctx, `Listing permissions for vhost "${v}" ...`, permCols, lists.permissions ?? [], fixed(permCols));
    ctx.out("\n");
    const policyCols = ["vhost", "name", "pattern", "apply-to", "definition", "priority"];
    const policySpecs = fixed(policyCols, { definition: (p) => JSON.stringify(p.definition ?? {}) });
    printList(rctx, `Listing policies for vhost "${v}" ...`, policyCols, lists.policies ?? [], policySpecs);
  }
}
