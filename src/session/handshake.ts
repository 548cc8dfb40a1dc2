import { FRAME_MIN_SIZE, PROTOCOL_HEADER, ReplyCode, connectionError, plainTable, table, type AnyMethod, type Method } from "../amqp";
import { login } from "../core/auth";
import { liveConnectionsOfUser } from "../core/inventory";
import type { Broker } from "../core/broker";
import type { Permissions } from "../core/permissions";
import type { Limits } from "../core/limits";
import { accessRefused, commandInvalid, notAllowed } from "../core/errors";
import { MECHANISMS, parseSaslResponse } from "./sasl";

const SERVER_VERSION = "0.1.0";

/** The AMQP 0-9 protocol header, which RabbitMQ answers as 0-9-1. */
const AMQP_0_9_HEADER = new Uint8Array([0x41, 0x4d, 0x51, 0x50, 1, 1, 0, 9]);

export type HandshakePhase = "header" | "start" | "tune" | "open" | "done";

/** What the handshake needs from its connection. */
export interface HandshakeHost {
  readonly broker: Broker;
  readonly limits: Limits;
  readonly peer: string;
  send(channel: number, m: AnyMethod): void;
  /** Tuning is agreed: frame sizes and heartbeats take effect. */
  tuned(t: { channelMax: number; frameMax: number; heartbeat: number }): void;
  /** The vhost is open to the user: the connection enters its vhost's catalog before open-ok. */
  register(): Promise<void>;
}

/**
 * The opening of an AMQP connection, apart from the session it leads to: protocol header,
 * start / start-ok (SASL, authentication), tune / tune-ok, open (vhost access). Until it is
 * done the connection accepts nothing else.
 */
export class Handshake {
  phase: HandshakePhase = "header";
  username = "";
  tags: string[] = [];
  vhost = "";
  /** The user's permissions in the vhost, as connection.open found them. */
  permissions: Permissions | null = null;
  clientProperties: Record<string, unknown> = {};
  private headerBytes = new Uint8Array(0);

  constructor(private readonly host: HandshakeHost) {}

  /** Before tuning or authentication completes a failure closes at once (authentication_failure_close). */
  get beforeTune(): boolean {
    return this.phase === "header" || this.phase === "start" || this.phase === "tune";
  }

  /**
   * Takes protocol-header bytes: the bytes that follow a complete header, "incomplete" while
   * more are needed, or "refused" for a header that is not AMQP 0-9-1 (the caller answers
   * with ours and closes, as the spec says).
   */
  readHeader(bytes: Uint8Array): Uint8Array | "incomplete" | "refused" {
    const need = PROTOCOL_HEADER.length - this.headerBytes.length;
    const joined = new Uint8Array(this.headerBytes.length + Math.min(need, bytes.length));
    joined.set(this.headerBytes);
    joined.set(bytes.subarray(0, need), this.headerBytes.length);
    this.headerBytes = joined;
    // As rabbit_reader: "AMQP" 0 0 9 1, and the 0-9 header ("AMQP" 1 1 0 9) spoken as 0-9-1.
    // Anything else (0-8, 0-10, 1.0, not AMQP) gets our header back and the socket closes;
    // RabbitMQ also speaks 0-8, Warren does not.
    const known = [PROTOCOL_HEADER, AMQP_0_9_HEADER];
    if (!known.some((h) => joined.every((b, i) => b === h[i]))) return "refused";
    if (joined.length < PROTOCOL_HEADER.length) return "incomplete";
    this.phase = "start";
    this.host.send(0, {
      name: "connection.start",
      args: {
        versionMajor: 0,
        versionMinor: 9,
        serverProperties: serverProperties(),
        mechanisms: MECHANISMS.join(" "),
        locales: "en_US",
      },
    });
    return bytes.subarray(need);
  }

  async startOk(m: Method<"connection.start-ok">): Promise<void> {
    if (this.phase !== "start") throw commandInvalid("unexpected connection.start-ok");
    this.clientProperties = plainTable(m.args.clientProperties);
    const mechanism = m.args.mechanism;
    if (!(MECHANISMS as readonly string[]).includes(mechanism)) {
      throw accessRefused(`unsupported authentication mechanism '${mechanism}'`);
    }
    const credentials = parseSaslResponse(mechanism, bytesOf(m.args.response));
    const result = await login(this.host.broker, credentials, this.host.peer);
    if (!result.ok) {
      // RabbitMQ names the loopback rule in the reply; a wrong password only in its log. Its
      // close carries class and method 0 (the refusal is not stamped with start-ok's ids).
      throw connectionError(
        ReplyCode.ACCESS_REFUSED,
        result.loopbackOnly
          ? `${mechanism} login refused: ${result.text}`
          : `Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
      );
    }
    this.username = result.user;
    this.tags = result.tags;
    this.phase = "tune";
    const { channelMax, frameMax, heartbeat } = this.host.limits;
    this.host.send(0, { name: "connection.tune", args: { channelMax, frameMax, heartbeat } });
  }

  tuneOk(m: Method<"connection.tune-ok">): void {
    if (this.phase !== "tune") throw commandInvalid("unexpected connection.tune-ok");
    const limits = this.host.limits;
    const { heartbeat } = m.args;
    // 0 is "no limit requested" (the spec): the server's value applies. RabbitMQ 3.10 refuses 0
    // when it has a limit; Warren takes it (a documented difference). Refusals use its texts.
    const frameMax = negotiate("frame_max", m.args.frameMax, FRAME_MIN_SIZE, limits.frameMax);
    const channelMax = negotiate("channel_max", m.args.channelMax, 1, limits.channelMax);
    this.phase = "open";
    this.host.tuned({ channelMax, frameMax, heartbeat });
  }

  async open(m: Method<"connection.open">): Promise<void> {
    if (this.phase !== "open") throw commandInvalid("unexpected connection.open");
    const vhost = m.args.virtualHost;
    const access = await this.host.broker.control().access(this.username, vhost);
    if (!access.vhostExists) throw notAllowed(`vhost ${vhost} not found`);
    if (!access.permissions) throw notAllowed(`access to vhost '${vhost}' refused for user '${this.username}'`);
    const max = access.userLimits["max-connections"];
    // Counted over every vhost's catalog (rows of connections that are gone do not count), only
    // for users who have the limit.
    if (max !== undefined && max >= 0 && (await liveConnectionsOfUser(this.host.broker, this.username, max)) >= max) {
      throw notAllowed(`Connection refused for user '${this.username}': user connection limit (${max}) is reached`);
    }
    this.permissions = access.permissions;
    this.vhost = vhost;
    await this.host.register();
    // A permission change (or the user's deletion) between the first look and the catalog entry
    // would have missed this connection: look again now that changes reach it.
    const again = await this.host.broker.control().access(this.username, vhost);
    if (!again.permissions) throw notAllowed(`access to vhost '${vhost}' refused for user '${this.username}'`);
    this.permissions = again.permissions;
    this.phase = "done";
    this.host.send(0, { name: "connection.open-ok", args: { knownHosts: "" } });
  }

  /**
   * connection.update-secret (RabbitMQ's extension for refreshing credentials, e.g. an OAuth
   * token, on a live connection): the new secret is checked as the connection user's password,
   * through the same login (loopback rule and brake) as at start-ok. A refused one closes the
   * connection as rabbit_reader does: 530 "New secret was refused by one of the backends",
   * class and method 0 (RabbitMQ's protocol_error without a method).
   */
  async updateSecret(m: Method<"connection.update-secret">): Promise<void> {
    const password = new TextDecoder().decode(bytesOf(m.args.newSecret));
    const result = await login(this.host.broker, { username: this.username, password }, this.host.peer);
    if (!result.ok) throw connectionError(ReplyCode.NOT_ALLOWED, "New secret was refused by one of the backends");
    this.tags = result.tags;
    this.host.send(0, { name: "connection.update-secret-ok", args: {} });
  }

  /** The client asked for consumer_cancel_notify (basic.cancel when a queue goes away). */
  get wantsCancelNotify(): boolean {
    return this.capability("consumer_cancel_notify");
  }

  /** The client understands connection.blocked / unblocked. */
  get wantsBlockedNotify(): boolean {
    return this.capability("connection.blocked");
  }

  private capability(name: string): boolean {
    const caps = this.clientProperties.capabilities;
    return typeof caps === "object" && caps !== null && (caps as Record<string, unknown>)[name] === true;
  }
}

function serverProperties() {
  return table({
    product: "Warren",
    version: SERVER_VERSION,
    platform: "Cloudflare Workers",
    copyright: "Warren contributors",
    information: "AMQP 0-9-1 on Durable Objects",
    cluster_name: "warren",
    capabilities: {
      publisher_confirms: true,
      exchange_exchange_bindings: true,
      "basic.nack": true,
      consumer_cancel_notify: true,
      "connection.blocked": true,
      consumer_priorities: true,
      authentication_failure_close: true,
      per_consumer_qos: true,
      direct_reply_to: true,
    },
  });
}

/** A tune-ok value against the server's bounds (rabbit_reader's validate_negotiated_integer_value). */
function negotiate(field: string, client: number, min: number, server: number): number {
  if (client === 0) return server;
  if (client < min) throw notAllowed(`negotiated ${field} = ${client} is lower than the minimum allowed value (${min})`);
  if (server !== 0 && client > server) {
    throw notAllowed(`negotiated ${field} = ${client} is higher than the maximum allowed value (${server})`);
  }
  return client;
}

function bytesOf(v: string | Uint8Array): Uint8Array {
  return typeof v === "string" ? new TextEncoder().encode(v) : v;
}
