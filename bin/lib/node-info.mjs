// status, cluster_status and environment: rabbitmqctl's sections, filled from what the management
// API reports (/api/overview, /api/nodes, /api/feature-flags). A line whose data the API does not
// return is left out rather than made up; /api/nodes and /api/feature-flags are optional.
import { seg } from "./api.mjs";
import { float, gb } from "./output.mjs";

/** @typedef {import("./api.mjs").Api} Api */
/** @typedef {Record<string, unknown>} Obj */

/** What rabbitmq-diagnostics prints as a listener's purpose, by protocol. */
const PURPOSES = /** @type {Record<string, string>} */ ({
  amqp: "AMQP 0-9-1 and AMQP 1.0",
  "amqp/ssl": "AMQP 0-9-1 and AMQP 1.0 over TLS",
  clustering: "inter-node and CLI tool communication",
  http: "HTTP API",
  https: "HTTP API over TLS (HTTPS)",
  mqtt: "MQTT",
  "mqtt/ssl": "MQTT over TLS",
  stomp: "STOMP",
  "stomp/ssl": "STOMP over TLS",
  stream: "RabbitMQ Stream protocol",
  "stream/ssl": "RabbitMQ Stream protocol over TLS",
  "http/prometheus": "Prometheus exporter API over HTTP",
  "http/web-mqtt": "MQTT over WebSockets",
  "http/web-stomp": "STOMP over WebSockets",
});

/**
 * @param {Api} api
 * @param {string} path
 * @returns {Promise<unknown>} undefined when the API does not have it (any non-2xx answer)
 */
async function optional(api, path) {
  const res = await api.call("GET", path);
  return res.status >= 200 && res.status < 300 ? res.data : undefined;
}

/** @param {unknown} v */
function obj(v) {
  return v !== null && typeof v === "object" && !Array.isArray(v) ? /** @type {Obj} */ (v) : {};
}

/** @param {unknown} v */
function arr(v) {
  return Array.isArray(v) ? v : [];
}

/** @param {unknown} v */
function num(v) {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** @param {unknown} v */
function str(v) {
  return typeof v === "string" ? v : typeof v === "number" ? String(v) : undefined;
}

/**
 * An Erlang version, unless the server says there is none ("n/a").
 * @param {unknown} v
 */
function erlang(v) {
  const s = str(v);
  return s && s !== "n/a" ? s : undefined;
}

/**
 * The overview, and the node it describes (the one answering: Warren and a one-node RabbitMQ).
 * @param {Api} api
 */
async function overviewAndNode(api) {
  const overview = await api.object("/api/overview");
  const nodeName = str(overview.node) ?? "";
  const node = nodeName ? obj(await optional(api, `/api/nodes/${seg(nodeName)}?memory=true`)) : {};
  return { overview, nodeName, node };
}

/** @param {Obj} listener */
function listenerInfo(listener) {
  const ip = str(listener.ip_address) ?? "";
  const protocol = str(listener.protocol) ?? "";
  return {
    interface: ip.includes(":") ? `[${ip}]` : ip,
    node: str(listener.node) ?? "",
    port: listener.port,
    protocol,
    purpose: PURPOSES[protocol] ?? protocol,
  };
}

/** @param {Obj} node */
function alarmsOf(node) {
  const name = str(node.name) ?? "";
  /** @type {string[]} */
  const alarms = [];
  if (node.mem_alarm === true) alarms.push(`Memory alarm on node ${name}`);
  if (node.disk_free_alarm === true) alarms.push(`Free disk space alarm on node ${name}`);
  return alarms;
}

/**
 * @param {Api} api
 */
export async function status(api) {
  const { overview, nodeName, node } = await overviewAndNode(api);
  const vhosts = await optional(api, "/api/vhosts");
  const totals = obj(overview.object_totals);
  const memory = obj(node.memory);
  const uptimeMs = num(node.uptime);
  const fdUsed = num(node.fd_used);
  const socketsUsed = num(node.sockets_used);
  const procUsed = num(node.proc_used);
  return {
    node_name: nodeName,
    pid: node.os_pid !== undefined ? Number(node.os_pid) : undefined,
    uptime: uptimeMs !== undefined ? Math.floor(uptimeMs / 1000) : undefined,
    product_name: str(overview.product_name),
    product_version: str(overview.product_version),
    rabbitmq_version: str(overview.rabbitmq_version),
    release_series_support_status: str(overview.release_series_support_status),
    erlang_version: erlang(overview.erlang_full_version) ?? erlang(overview.erlang_version),
    processes: procUsed !== undefined ? { used: procUsed, limit: num(node.proc_total) } : undefined,
    run_queue: num(node.run_queue),
    net_ticktime: num(node.net_ticktime),
    active_plugins: Array.isArray(node.enabled_plugins) ? node.enabled_plugins.map(String) : undefined,
    data_directory: str(node.db_dir),
    config_files: Array.isArray(node.config_files) ? node.config_files.map(String) : undefined,
    log_files: Array.isArray(node.log_files) ? node.log_files.map(String) : undefined,
    alarms: alarmsOf(node),
    memory: Object.keys(memory).length > 0 ? memory : undefined,
    memory_used: num(node.mem_used),
    vm_memory_calculation_strategy: str(node.mem_calculation_strategy),
    vm_memory_high_watermark_limit: num(node.mem_limit),
    file_descriptors:
      fdUsed !== undefined || socketsUsed !== undefined
        ? { total_used: fdUsed, total_limit: num(node.fd_total), sockets_used: socketsUsed, sockets_limit: num(node.sockets_total) }
        : undefined,
    disk_free: num(node.disk_free),
    disk_free_limit: num(node.disk_free_limit),
    totals: {
      virtual_host_count: Array.isArray(vhosts) ? vhosts.length : undefined,
      connection_count: num(totals.connections),
      queue_count: num(totals.queues),
    },
    listeners: arr(overview.listeners).map((l) => listenerInfo(obj(l))),
  };
}

/**
 * rabbitmq-diagnostics' status text.
 * @param {Awaited<ReturnType<typeof status>>} s
 */
export function statusText(s) {
  /** @type {string[]} */
  const out = [];
  /** @param {string} label @param {unknown} value */
  const line = (label, value) => {
    if (value !== undefined && value !== null && value !== "") out.push(`${label}: ${value}`);
  };
  /** @param {string} title */
  const section = (title) => {
    if (out.length > 0) out.push("");
    out.push(title, "");
  };
  /** @param {string[]} items */
  const bullets = (items) => {
    for (const item of items) out.push(` * ${item}`);
  };

  out.push("Runtime", "");
  line("OS PID", s.pid);
  line("Uptime (seconds)", s.uptime);
  line("RabbitMQ version", s.rabbitmq_version);
  line("RabbitMQ release series support status", s.release_series_support_status);
  if (s.product_name && s.product_name !== "RabbitMQ") line("Product", `${s.product_name} ${s.product_version ?? ""}`.trim());
  line("Node name", s.node_name);
  line("Erlang configuration", s.erlang_version);
  if (s.processes) line("Erlang processes", `${s.processes.used} used, ${s.processes.limit ?? "unknown"} limit`);
  line("Scheduler run queue", s.run_queue);
  line("Cluster heartbeat timeout (net_ticktime)", s.net_ticktime);

  if (s.active_plugins) {
    section("Plugins");
    out.push("Enabled plugins:", "");
    bullets(s.active_plugins);
  }
  if (s.data_directory) {
    section("Data directory");
    line("Node data directory", s.data_directory);
  }
  if (s.config_files) {
    section("Config files");
    bullets(s.config_files);
  }
  if (s.log_files) {
    section("Log file(s)");
    bullets(s.log_files);
  }
  section("Alarms");
  if (s.alarms.length === 0) out.push("(none)");
  else bullets(s.alarms);

  if (s.memory_used !== undefined) {
    section("Memory");
    line("Total memory used", `${gb(s.memory_used)} gb`);
    line("Calculation strategy", s.vm_memory_calculation_strategy);
    if (s.vm_memory_high_watermark_limit !== undefined) line("Memory high watermark", `${gb(s.vm_memory_high_watermark_limit)} gb`);
    const breakdown = memoryBreakdown(s.memory, s.vm_memory_calculation_strategy);
    if (breakdown.length > 0) out.push("", ...breakdown);
  }
  if (s.file_descriptors) {
    section("File Descriptors");
    const fd = s.file_descriptors;
    if (fd.total_used !== undefined) line("Total", `${fd.total_used}, limit: ${fd.total_limit ?? "unknown"}`);
    if (fd.sockets_used !== undefined) line("Sockets", `${fd.sockets_used}, limit: ${fd.sockets_limit ?? "unknown"}`);
  }
  if (s.disk_free !== undefined) {
    section("Free Disk Space");
    if (s.disk_free_limit !== undefined) line("Low free disk space watermark", `${gb(s.disk_free_limit)} gb`);
    line("Free disk space", `${gb(s.disk_free)} gb`);
  }
  section("Totals");
  line("Connection count", s.totals.connection_count);
  line("Queue count", s.totals.queue_count);
  line("Virtual host count", s.totals.virtual_host_count);

  if (s.listeners.length > 0) {
    section("Listeners");
    for (const l of s.listeners) out.push(`Interface: ${l.interface}, port: ${l.port}, protocol: ${l.protocol}, purpose: ${l.purpose}`);
  }
  return `${out.join("\n")}\n`;
}

/**
 * The per-category memory lines ("code: 0.0347 gb (25.17 %)"), largest first, as a share of the
 * total by the node's calculation strategy.
 * @param {Obj | undefined} memory
 * @param {string | undefined} strategy
 */
function memoryBreakdown(memory, strategy) {
  if (!memory) return [];
  const totals = obj(memory.total);
  const total = num(totals[strategy ?? ""]) ?? num(totals.rss) ?? num(totals.erlang);
  const entries = Object.entries(memory)
    .filter(([k, v]) => k !== "total" && k !== "strategy" && typeof v === "number")
    .map(([k, v]) => /** @type {[string, number]} */ ([k, /** @type {number} */ (v)]))
    .sort((a, b) => b[1] - a[1]);
  return entries.map(([k, v]) => `${k}: ${gb(v)} gb${total ? ` (${float(Math.round((v / total) * 10_000) / 100)} %)` : ""}`);
}

/**
 * @param {Api} api
 */
export async function clusterStatus(api) {
  const overview = await api.object("/api/overview");
  const nodeName = str(overview.node) ?? "";
  const nodesData = await optional(api, "/api/nodes");
  const nodes = Array.isArray(nodesData) ? nodesData.map(obj) : [];
  const flags = await optional(api, "/api/feature-flags");
  const names = nodes.map((n) => str(n.name) ?? "").filter((n) => n !== "");
  if (names.length === 0 && nodeName) names.push(nodeName);
  /** @type {Record<string, Obj[]>} */
  const partitions = {};
  for (const n of nodes) {
    const p = arr(n.partitions);
    if (p.length > 0) partitions[str(n.name) ?? ""] = p.map(obj);
  }
  /** @type {Record<string, ReturnType<typeof listenerInfo>[]>} */
  const listeners = {};
  for (const l of arr(overview.listeners)) {
    const info = listenerInfo(obj(l));
    (listeners[info.node] ??= []).push(info);
  }
  /** @type {Record<string, { rabbitmq_name: string, rabbitmq_version: string | undefined, erlang_version: string | undefined }>} */
  const versions = {};
  for (const n of names) {
    // The product and its version (RabbitMQ's own, or e.g. Warren's), as rabbitmqctl shows them.
    const product = str(overview.product_name);
    const productVersion = str(overview.product_version);
    versions[n] = {
      rabbitmq_name: product && productVersion ? product : "RabbitMQ",
      rabbitmq_version: product && productVersion ? productVersion : str(overview.rabbitmq_version),
      erlang_version: erlang(overview.erlang_version),
    };
  }
  return {
    node_name: nodeName,
    cluster_name: str(overview.cluster_name),
    disk_nodes: nodes.length > 0 ? nodes.filter((n) => n.type === "disc" || n.type === undefined).map((n) => str(n.name) ?? "") : names,
    ram_nodes: nodes.filter((n) => n.type === "ram").map((n) => str(n.name) ?? ""),
    running_nodes: nodes.length > 0 ? nodes.filter((n) => n.running !== false).map((n) => str(n.name) ?? "") : names,
    versions,
    alarms: nodes.flatMap(alarmsOf),
    partitions,
    listeners,
    feature_flags: Array.isArray(flags)
      ? flags.map(obj).map((f) => ({ name: str(f.name) ?? "", state: str(f.state) ?? "", desc: str(f.desc), stability: str(f.stability) }))
      : undefined,
  };
}

/**
 * @param {Awaited<ReturnType<typeof clusterStatus>>} c
 */
export function clusterStatusText(c) {
  /** @type {string[]} */
  const out = [];
  /** @param {string} title @param {string[]} lines */
  const section = (title, lines) => {
    if (out.length > 0) out.push("");
    out.push(title, "", ...(lines.length > 0 ? lines : ["(none)"]));
  };
  section("Basics", [`Cluster name: ${c.cluster_name ?? ""}`]);
  section("Disk Nodes", c.disk_nodes);
  if (c.ram_nodes.length > 0) section("RAM Nodes", c.ram_nodes);
  section("Running Nodes", c.running_nodes);
  section(
    "Versions",
    Object.entries(c.versions).map(
      ([n, v]) => `${n}: ${v.rabbitmq_name} ${v.rabbitmq_version ?? "unknown"}${v.erlang_version ? ` on Erlang ${v.erlang_version}` : ""}`,
    ),
  );
  section("Alarms", c.alarms);
  section(
    "Network Partitions",
    Object.entries(c.partitions).map(([n, p]) => `Node ${n} cannot communicate with ${p.map((x) => String(x)).join(", ")}`),
  );
  section(
    "Listeners",
    Object.values(c.listeners)
      .flat()
      .map((l) => `Node: ${l.node}, interface: ${l.interface}, port: ${l.port}, protocol: ${l.protocol}, purpose: ${l.purpose}`),
  );
  if (c.feature_flags)
    section(
      "Feature flags",
      c.feature_flags.map((f) => `Flag: ${f.name}, state: ${f.state}`),
    );
  return `${out.join("\n")}\n`;
}

/**
 * What the management API reports about the node's configuration. (rabbitmqctl environment
 * prints the Erlang application environment, which the HTTP API does not expose.)
 * @param {Api} api
 */
export async function environment(api) {
  const { overview, nodeName, node } = await overviewAndNode(api);
  /** @type {Record<string, string>} */
  const applications = {};
  for (const a of arr(node.applications).map(obj)) {
    const name = str(a.name);
    if (name) applications[name] = str(a.version) ?? "";
  }
  /** @param {unknown} list */
  const enabledNames = (list) =>
    arr(list)
      .map(obj)
      .filter((x) => x.enabled !== false)
      .map((x) => str(x.name) ?? "");
  const env = {
    node: nodeName,
    cluster_name: str(overview.cluster_name),
    product_name: str(overview.product_name),
    product_version: str(overview.product_version),
    rabbitmq_version: str(overview.rabbitmq_version),
    management_version: str(overview.management_version),
    erlang_version: str(overview.erlang_version),
    rates_mode: str(overview.rates_mode),
    config_files: node.config_files,
    log_files: node.log_files,
    db_dir: node.db_dir,
    enabled_plugins: node.enabled_plugins,
    applications: Object.keys(applications).length > 0 ? applications : undefined,
    auth_mechanisms: node.auth_mechanisms !== undefined ? enabledNames(node.auth_mechanisms) : undefined,
    exchange_types: overview.exchange_types !== undefined ? enabledNames(overview.exchange_types) : undefined,
    listeners: arr(overview.listeners).map((l) => listenerInfo(obj(l))),
    contexts: overview.contexts,
    net_ticktime: node.net_ticktime,
    mem_limit: node.mem_limit,
    disk_free_limit: node.disk_free_limit,
  };
  return /** @type {Obj} */ (JSON.parse(JSON.stringify(env)));
}

/**
 * @param {Obj} env
 */
export function environmentText(env) {
  /** @type {string[]} */
  const out = [];
  for (const [key, value] of Object.entries(env)) {
    if (value === null || typeof value !== "object") out.push(`${key}: ${value}`);
    else if (Array.isArray(value) && value.every((v) => v === null || typeof v !== "object")) out.push(`${key}: ${value.join(", ")}`);
    else if (!Array.isArray(value) && Object.values(value).every((v) => v === null || typeof v !== "object")) {
      out.push(`${key}:`);
      for (const [k, v] of Object.entries(value)) out.push(`  ${k}: ${v}`);
    } else {
      out.push(`${key}:`);
      for (const item of Array.isArray(value) ? value : [value]) out.push(`  ${JSON.stringify(item)}`);
    }
  }
  return `${out.join("\n")}\n`;
}
