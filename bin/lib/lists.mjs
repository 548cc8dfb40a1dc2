// The list_* commands' columns ("info keys"): rabbitmqctl's names, in rabbitmqctl's order, each
// read from the management API's JSON. The API has no Erlang pids: pid-valued columns show the
// name the API identifies the object by (a connection's or channel's name, which close_connection
// takes), or stay empty where there is none.
import { UsageError } from "./errors.mjs";
import { clusterStateCell, pick } from "./output.mjs";

/** @typedef {Record<string, unknown>} Item */

/**
 * @typedef {object} Column
 * @property {(item: Item) => unknown} get
 * @property {(value: unknown) => string} [cell] table rendering, when not the generic one
 */

/**
 * @typedef {object} ListKind
 * @property {string} name the command
 * @property {string[]} defaults the columns shown when none are asked for
 * @property {Record<string, Column>} columns every column, in rabbitmqctl's order
 */

/**
 * @param {Record<string, string | ((item: Item) => unknown) | null | Column>} spec
 *   a dotted path into the API's item, a function, null for a column the API has no data for
 * @returns {Record<string, Column>}
 */
function columns(spec) {
  /** @type {Record<string, Column>} */
  const out = {};
  for (const [name, how] of Object.entries(spec)) {
    if (how === null) out[name] = { get: () => undefined };
    else if (typeof how === "string") out[name] = { get: (item) => pick(item, how) };
    else if (typeof how === "function") out[name] = { get: how };
    else out[name] = how;
  }
  return out;
}

/** @type {ListKind} */
export const QUEUES = {
  name: "list_queues",
  defaults: ["name", "messages"],
  columns: columns({
    name: "name",
    durable: "durable",
    auto_delete: "auto_delete",
    arguments: "arguments",
    policy: "policy",
    pid: null,
    owner_pid: "owner_pid_details.name",
    exclusive: "exclusive",
    exclusive_consumer_pid: "exclusive_consumer_details.name",
    exclusive_consumer_tag: "exclusive_consumer_tag",
    messages_ready: "messages_ready",
    messages_unacknowledged: "messages_unacknowledged",
    messages: "messages",
    messages_ready_ram: "messages_ready_ram",
    messages_unacknowledged_ram: "messages_unacknowledged_ram",
    messages_ram: "messages_ram",
    messages_persistent: "messages_persistent",
    message_bytes: "message_bytes",
    message_bytes_ready: "message_bytes_ready",
    message_bytes_unacknowledged: "message_bytes_unacknowledged",
    message_bytes_ram: "message_bytes_ram",
    message_bytes_persistent: "message_bytes_persistent",
    head_message_timestamp: "head_message_timestamp",
    disk_reads: "disk_reads",
    disk_writes: "disk_writes",
    consumers: "consumers",
    consumer_utilisation: "consumer_utilisation",
    consumer_capacity: "consumer_capacity",
    memory: "memory",
    slave_pids: "slave_nodes",
    synchronised_slave_pids: "synchronised_slave_nodes",
    state: "state",
    type: "type",
    leader: "leader",
    members: "members",
    online: "online",
  }),
};

/** @type {ListKind} */
export const EXCHANGES = {
  name: "list_exchanges",
  defaults: ["name", "type"],
  columns: columns({
    name: "name",
    type: "type",
    durable: "durable",
    auto_delete: "auto_delete",
    internal: "internal",
    arguments: "arguments",
    policy: "policy",
  }),
};

/** @type {ListKind} */
export const BINDINGS = {
  name: "list_bindings",
  defaults: ["source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"],
  columns: columns({
    source_name: "source",
    source_kind: () => "exchange",
    destination_name: "destination",
    destination_kind: "destination_type",
    routing_key: "routing_key",
    arguments: "arguments",
  }),
};

/** @type {ListKind} */
export const CONNECTIONS = {
  name: "list_connections",
  defaults: ["user", "peer_host", "peer_port", "state"],
  columns: columns({
    pid: "name",
    name: "name",
    port: "port",
    host: "host",
    peer_port: "peer_port",
    peer_host: "peer_host",
    ssl: "ssl",
    ssl_protocol: "ssl_protocol",
    ssl_key_exchange: "ssl_key_exchange",
    ssl_cipher: "ssl_cipher",
    ssl_hash: "ssl_hash",
    peer_cert_subject: "peer_cert_subject",
    peer_cert_issuer: "peer_cert_issuer",
    peer_cert_validity: "peer_cert_validity",
    state: "state",
    channels: "channels",
    protocol: "protocol",
    auth_mechanism: "auth_mechanism",
    user: "user",
    vhost: "vhost",
    timeout: "timeout",
    frame_max: "frame_max",
    channel_max: "channel_max",
    client_properties: "client_properties",
    recv_oct: "recv_oct",
    recv_cnt: "recv_cnt",
    send_oct: "send_oct",
    send_cnt: "send_cnt",
    send_pend: "send_pend",
    connected_at: "connected_at",
  }),
};

/** @type {ListKind} */
export const CHANNELS = {
  name: "list_channels",
  defaults: ["pid", "user", "consumer_count", "messages_unacknowledged"],
  columns: columns({
    pid: "name",
    connection: "connection_details.name",
    name: "name",
    number: "number",
    user: "user",
    vhost: "vhost",
    transactional: "transactional",
    confirm: "confirm",
    consumer_count: "consumer_count",
    messages_unacknowledged: "messages_unacknowledged",
    messages_uncommitted: "messages_uncommitted",
    acks_uncommitted: "acks_uncommitted",
    messages_unconfirmed: "messages_unconfirmed",
    prefetch_count: "prefetch_count",
    global_prefetch_count: "global_prefetch_count",
  }),
};

/** @type {ListKind} */
export const CONSUMERS = {
  name: "list_consumers",
  defaults: ["queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"],
  columns: columns({
    queue_name: "queue.name",
    channel_pid: "channel_details.name",
    consumer_tag: "consumer_tag",
    ack_required: "ack_required",
    prefetch_count: "prefetch_count",
    active: "active",
    activity_status: "activity_status",
    arguments: "arguments",
  }),
};

/** @type {ListKind} */
export const VHOSTS = {
  name: "list_vhosts",
  defaults: ["name"],
  columns: columns({
    name: "name",
    description: "description",
    tags: "tags",
    tracing: "tracing",
    cluster_state: { get: (item) => item.cluster_state, cell: clusterStateCell },
    default_queue_type: "default_queue_type",
  }),
};

/**
 * The columns a list command was asked for: its defaults when none, names may also be given
 * comma-separated ("name,messages"), as rabbitmqctl accepts.
 * @param {ListKind} kind
 * @param {string[]} args
 */
export function selectColumns(kind, args) {
  const asked = args.flatMap((a) => a.split(",")).filter((a) => a !== "");
  if (asked.length === 0) return kind.defaults;
  const unknown = asked.filter((c) => !Object.hasOwn(kind.columns, c));
  if (unknown.length > 0) throw new UsageError(`Info key(s) ${unknown.join(",")} are not supported`);
  return asked;
}
