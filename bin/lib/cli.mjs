// Argument parsing, help, and running one command with rabbitmqctl's conventions for output and
// exit codes.
import { parseArgs } from "node:util";
import { Api } from "./api.mjs";
import { COMMANDS } from "./commands.mjs";
import { CliError, EXIT, UsageError } from "./errors.mjs";

/** Warren's local HTTP port (`npm start`, WARREN_HTTP_PORT): the AMQP WebSocket, /health and /api. */
export const DEFAULT_URL = "http://127.0.0.1:8787";
const DEFAULT_TIMEOUT_SECONDS = 60;

/** @type {Record<string, { type: "string" | "boolean", short?: string }>} */
const GLOBAL_OPTIONS = {
  url: { type: "string" },
  username: { type: "string", short: "u" },
  password: { type: "string" },
  vhost: { type: "string", short: "p" },
  quiet: { type: "boolean", short: "q" },
  silent: { type: "boolean", short: "s" },
  "no-table-headers": { type: "boolean" },
  formatter: { type: "string" },
  timeout: { type: "string", short: "t" },
  help: { type: "boolean", short: "h" },
};

/** @type {Record<string, { type: "string" | "boolean", short?: string }>} */
const COMMAND_OPTIONS = {
  priority: { type: "string" },
  "apply-to": { type: "string" },
  "if-empty": { type: "boolean", short: "e" },
  "if-unused": { type: "boolean" },
  description: { type: "string" },
  tags: { type: "string" },
  "default-queue-type": { type: "string" },
};

const GROUPS = [
  ["Users", ["add_user", "delete_user", "change_password", "clear_password", "authenticate_user", "set_user_tags", "list_users"]],
  ["Virtual hosts", ["add_vhost", "delete_vhost", "list_vhosts"]],
  ["Permissions", ["set_permissions", "clear_permissions", "list_permissions", "list_user_permissions"]],
  ["Queues, exchanges, bindings", ["list_queues", "list_exchanges", "list_bindings", "purge_queue", "delete_queue"]],
  ["Connections, channels, consumers", ["list_connections", "list_channels", "list_consumers", "close_connection"]],
  ["Policies", ["set_policy", "clear_policy", "list_policies"]],
  ["Definitions", ["export_definitions", "import_definitions"]],
  ["Node", ["status", "cluster_status", "environment", "report"]],
];

const EXIT_CODES_HELP = `Exit codes (rabbitmqctl's, from BSD sysexits):
  0   success
  64  usage: unknown command, option or column, wrong number of arguments
  65  data error: invalid input (JSON, --priority, a definitions file), a validation error
      from the API (HTTP 400), authentication failed (authenticate_user), vhost does not exist
  67  the user does not exist
  69  unavailable: the API cannot be reached or answers 502-504, or the object (queue,
      connection, policy...) does not exist
  70  software: an unexpected answer from the API (HTTP 500, not JSON), or the user already exists
  75  the request timed out (--timeout)
  77  the API refused warrenctl's own credentials (HTTP 401/403); rabbitmqctl has no such case
      (its Erlang cookie failures exit 69)`;

/**
 * @typedef {object} Io
 * @property {(text: string) => void} stdout
 * @property {(text: string) => void} stderr
 * @property {() => Promise<string>} stdin
 * @property {Record<string, string | undefined>} env
 */

/**
 * @param {string} name
 */
function usageLine(name) {
  const command = COMMANDS[name];
  return `warrenctl [options] ${name}${command?.usage ? ` ${command.usage}` : ""}`;
}

function mainHelp() {
  const lines = [
    "Usage: warrenctl [options] <command> [<command options>] [<arguments>]",
    "",
    "A rabbitmqctl-like tool for Warren (or RabbitMQ): every command is a request to the",
    "RabbitMQ-compatible management HTTP API.",
    "",
    "Options:",
    `  --url <url>            the server's base URL (env WARREN_URL, default ${DEFAULT_URL});`,
    "                         credentials in the URL (http://user:pass@host) are used too",
    "  -u, --username <name>  (env WARREN_USER, default guest)",
    "  --password <password>  (env WARREN_PASSWORD, default guest)",
    '  -p, --vhost <vhost>    for commands scoped to a virtual host (default "/")',
    '  -q, --quiet            no informational messages ("Listing queues for vhost / ...")',
    "  -s, --silent           no informational messages and no table header row",
    "  --no-table-headers     no table header row",
    "  --formatter <fmt>      table (default: tab-separated columns) or json",
    `  -t, --timeout <secs>   per HTTP request (default ${DEFAULT_TIMEOUT_SECONDS})`,
    "  -h, --help             this help; 'warrenctl help <command>' for one command",
    "",
    "Commands:",
  ];
  for (const [group, names] of GROUPS) {
    lines.push(`  ${group}:`);
    for (const name of /** @type {string[]} */ (names)) lines.push(`    ${name}${COMMANDS[name]?.usage ? ` ${COMMANDS[name].usage}` : ""}`);
  }
  lines.push(
    "",
    "list_* commands take column names (rabbitmqctl's info keys), e.g.",
    "  warrenctl list_queues name messages messages_ready messages_unacknowledged",
    "",
    EXIT_CODES_HELP,
  );
  return `${lines.join("\n")}\n`;
}

/**
 * @param {string} name
 */
function commandHelp(name) {
  const command = COMMANDS[name];
  if (!command) return "";
  const lines = [`Usage: ${usageLine(name)}`, "", command.summary];
  if (command.list) {
    lines.push(
      "",
      `Columns (default: ${command.list.defaults.join(" ")}):`,
      `  ${Object.keys(command.list.columns).join(", ")}`,
      "Columns the management API has no data for print empty; pid-valued ones show the name the API gives.",
    );
  }
  lines.push("", "Run 'warrenctl --help' for the options every command takes and the exit codes.");
  return `${lines.join("\n")}\n`;
}

/**
 * The URL, user and password to use: flags, then credentials in the URL, then the environment.
 * @param {{ url?: string, username?: string, password?: string }} flags
 * @param {Record<string, string | undefined>} env
 */
function connection(flags, env) {
  const text = flags.url ?? env.WARREN_URL ?? DEFAULT_URL;
  /** @type {URL} */
  let url;
  try {
    url = new URL(text);
  } catch {
    throw new UsageError(`invalid --url "${text}": expected e.g. ${DEFAULT_URL}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new UsageError(`invalid --url "${text}": expected an http:// or https:// URL`);
  const urlUser = url.username ? decodeURIComponent(url.username) : undefined;
  const urlPassword = url.password ? decodeURIComponent(url.password) : undefined;
  url.username = "";
  url.password = "";
  const base = `${url.origin}${url.pathname}`.replace(/\/+$/, "");
  return {
    url: base,
    username: flags.username ?? urlUser ?? env.WARREN_USER ?? "guest",
    password: flags.password ?? urlPassword ?? env.WARREN_PASSWORD ?? "guest",
  };
}

/**
 * @param {string[]} argv
 */
function parse(argv) {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: { ...GLOBAL_OPTIONS, ...COMMAND_OPTIONS },
      allowPositionals: true,
      strict: true,
    });
    return { values: /** @type {Record<string, string | boolean | undefined>} */ (values), positionals };
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err));
  }
}

/**
 * Run warrenctl with these arguments; resolves to the exit code.
 * @param {string[]} argv
 * @param {Io} io
 * @returns {Promise<number>}
 */
export async function main(argv, io) {
  let json = false;
  /** @type {string | undefined} */
  let commandName;
  try {
    const { values, positionals } = parse(argv);
    const [first, ...args] = positionals;
    commandName = first;
    json = values.formatter === "json";

    if (first === "help") {
      const topic = args[0];
      if (topic === undefined) {
        io.stdout(mainHelp());
        return EXIT.OK;
      }
      if (!COMMANDS[topic]) throw new UsageError(`Command '${topic}' not found. Run 'warrenctl --help' for the list of commands.`);
      io.stdout(commandHelp(topic));
      return EXIT.OK;
    }
    if (first === undefined) {
      if (values.help) {
        io.stdout(mainHelp());
        return EXIT.OK;
      }
      io.stderr(mainHelp());
      return EXIT.USAGE;
    }
    const command = COMMANDS[first];
    if (!command) {
      commandName = undefined;
      throw new UsageError(`Command '${first}' not found. Run 'warrenctl --help' for the list of commands.`);
    }
    if (values.help) {
      io.stdout(commandHelp(first));
      return EXIT.OK;
    }

    if (values.formatter !== undefined && values.formatter !== "json" && values.formatter !== "table") {
      throw new UsageError(`--formatter must be json or table, got "${values.formatter}"`);
    }
    const misplaced = Object.keys(COMMAND_OPTIONS).filter((o) => values[o] !== undefined && !(command.options ?? []).includes(o));
    if (misplaced.length > 0) throw new UsageError(`Invalid options for this command: ${misplaced.map((o) => `--${o}`).join(", ")}`);
    if (args.length < command.min) throw new UsageError("not enough arguments.");
    if (args.length > command.max) throw new UsageError("too many arguments.");

    const timeoutText = typeof values.timeout === "string" ? values.timeout : String(DEFAULT_TIMEOUT_SECONDS);
    const timeoutSeconds = timeoutText === "infinity" ? 24 * 3600 : Number(timeoutText);
    if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
      throw new UsageError(`--timeout must be a positive number of seconds, got "${timeoutText}"`);

    const conn = connection(
      /** @type {{ url?: string, username?: string, password?: string }} */ ({
        url: values.url,
        username: values.username,
        password: values.password,
      }),
      io.env,
    );
    const api = new Api({ ...conn, timeoutMs: Math.round(timeoutSeconds * 1000) });
    const silent = values.silent === true;
    /** @type {Record<string, string | boolean | undefined>} */
    const options = {};
    for (const o of command.options ?? []) options[o] = values[o];
    await command.run(
      {
        api,
        vhost: typeof values.vhost === "string" ? values.vhost : "/",
        quiet: values.quiet === true || silent || json,
        headers: !(silent || values["no-table-headers"] === true),
        json,
        timeoutSeconds,
        options,
        out: io.stdout,
        stdin: io.stdin,
      },
      args,
    );
    return EXIT.OK;
  } catch (err) {
    return report(err, io, json, commandName);
  }
}

/**
 * Print a failure on stderr the way rabbitmqctl does, and give its exit code.
 * @param {unknown} err
 * @param {Io} io
 * @param {boolean} json
 * @param {string | undefined} commandName
 */
function report(err, io, json, commandName) {
  if (!(err instanceof CliError)) {
    const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
    io.stderr(`Error:\nwarrenctl failed unexpectedly: ${message}\n`);
    return EXIT.SOFTWARE;
  }
  if (json) {
    io.stderr(`${JSON.stringify({ message: err.message, result: "error" })}\n`);
  } else if (err instanceof UsageError) {
    const usage = commandName ? `\n\nUsage\n\n${usageLine(commandName)}\n` : "\n";
    io.stderr(`Error (argument validation): ${err.message}${usage}`);
  } else {
    io.stderr(err.heading ? `Error:\n${err.message}\n` : `${err.message}\n`);
  }
  return err.code;
}
