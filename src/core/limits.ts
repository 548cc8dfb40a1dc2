/**
 * Every limit Warren enforces, in one place, with RabbitMQ's names and defaults where RabbitMQ
 * has the limit. Deployments set them as Worker vars (wrangler.toml [vars] or the dashboard);
 * locally `npm start` passes WARREN_* environment variables through.
 */
export interface Limits {
  /** heartbeat: proposed interval in seconds, 0 disables. */
  heartbeat: number;
  /** frame_max offered in connection.tune. */
  frameMax: number;
  /** channel_max offered in connection.tune. */
  channelMax: number;
  /** handshake_timeout: ms from the socket opening to connection.open-ok. */
  handshakeTimeoutMs: number;
  /** Bytes a client may send before connection.open-ok (all it can make us hold unauthenticated). */
  handshakeBytes: number;
  /** max_message_size: larger bodies are refused with 406 and never buffered. */
  maxMessageSize: number;
  /** Bytes of partly received messages one connection may hold across its channels (506 beyond). */
  connectionAssemblyBytes: number;
  /** Deliveries in flight to a flow-acknowledging client (the bridge) before consumers pause. */
  deliveryWindowBytes: number;
  /** Received but unprocessed commands over which publishers get connection.blocked. */
  blockedInputBytes: number;
  /** Received but unprocessed commands over which the connection is closed (506). */
  maxInputBacklogBytes: number;
}

export const DEFAULT_LIMITS: Limits = {
  heartbeat: 60,
  frameMax: 131072,
  channelMax: 2047,
  handshakeTimeoutMs: 10_000,
  handshakeBytes: 8192,
  maxMessageSize: 16 << 20,
  connectionAssemblyBytes: 32 << 20,
  deliveryWindowBytes: 4 << 20,
  blockedInputBytes: 8 << 20,
  maxInputBacklogBytes: 64 << 20,
};

/** The Worker variables that set each limit. */
const VARIABLES: Record<keyof Limits, string> = {
  heartbeat: "WARREN_HEARTBEAT",
  frameMax: "WARREN_FRAME_MAX",
  channelMax: "WARREN_CHANNEL_MAX",
  handshakeTimeoutMs: "WARREN_HANDSHAKE_TIMEOUT_MS",
  handshakeBytes: "WARREN_HANDSHAKE_BYTES",
  maxMessageSize: "WARREN_MAX_MESSAGE_SIZE",
  connectionAssemblyBytes: "WARREN_CONNECTION_ASSEMBLY_BYTES",
  deliveryWindowBytes: "WARREN_DELIVERY_WINDOW_BYTES",
  blockedInputBytes: "WARREN_BLOCKED_INPUT_BYTES",
  maxInputBacklogBytes: "WARREN_MAX_INPUT_BACKLOG_BYTES",
};

/** Limits from Worker variables; a missing or malformed value keeps the default. */
export function limitsFrom(vars: object): Limits {
  const limits = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(VARIABLES) as (keyof Limits)[]) {
    const raw: unknown = (vars as Record<string, unknown>)[VARIABLES[key]];
    const value = typeof raw === "string" && raw.trim() !== "" ? Number(raw) : Number.NaN;
    if (Number.isInteger(value) && value >= 0) limits[key] = value;
  }
  return limits;
}
