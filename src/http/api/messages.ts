import { encodeContentHeader, decodeContentHeader, table, type BasicProperties } from "../../amqp";
import { jsonTable } from "../../core/json-table";
import { badRequest } from "./context";

// Message properties and payloads as RabbitMQ's API writes them (snake_case, payload_encoding).

const STRING_PROPS = [
  ["content_type", "contentType"],
  ["content_encoding", "contentEncoding"],
  ["correlation_id", "correlationId"],
  ["reply_to", "replyTo"],
  ["expiration", "expiration"],
  ["message_id", "messageId"],
  ["type", "type"],
  ["user_id", "userId"],
  ["app_id", "appId"],
  ["cluster_id", "clusterId"],
] as const;

export function propertiesFromJson(p: Record<string, unknown>): BasicProperties {
  const out: BasicProperties = {};
  for (const [json, prop] of STRING_PROPS) {
    const v = p[json];
    if (v === undefined) continue;
    if (typeof v !== "string") throw badRequest(`properties.${json} must be a string`);
    out[prop] = v;
  }
  if (p.delivery_mode !== undefined) {
    const dm = Number(p.delivery_mode);
    if (dm !== 1 && dm !== 2) throw badRequest("properties.delivery_mode must be 1 or 2");
    out.deliveryMode = dm;
  }
  if (p.priority !== undefined) {
    const pr = Number(p.priority);
    if (!Number.isInteger(pr) || pr < 0 || pr > 255) throw badRequest("properties.priority must be 0..255");
    out.priority = pr;
  }
  if (p.timestamp !== undefined) {
    const ts = Number(p.timestamp);
    if (!Number.isInteger(ts)) throw badRequest("properties.timestamp must be an integer");
    out.timestamp = BigInt(ts);
  }
  if (p.headers !== undefined) {
    if (typeof p.headers !== "object" || p.headers === null || Array.isArray(p.headers))
      throw badRequest("properties.headers must be an object");
    out.headers = table(p.headers as Record<string, unknown>);
  }
  return out;
}

export function propertiesToJson(p: BasicProperties): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [json, prop] of STRING_PROPS) if (p[prop] !== undefined) out[json] = p[prop];
  if (p.deliveryMode !== undefined) out.delivery_mode = p.deliveryMode;
  if (p.priority !== undefined) out.priority = p.priority;
  if (p.timestamp !== undefined) out.timestamp = Number(p.timestamp);
  if (p.headers !== undefined) out.headers = jsonTable(p.headers);
  return out;
}

export function contentHeader(bodySize: number, props: BasicProperties): Uint8Array {
  return encodeContentHeader(60, bodySize, props);
}

export function readHeader(header: Uint8Array): BasicProperties {
  return decodeContentHeader(header).properties;
}

export function payloadBytes(payload: unknown, encoding: unknown): Uint8Array {
  if (typeof payload !== "string") throw badRequest("payload must be a string");
  if (encoding === undefined || encoding === "string") return new TextEncoder().encode(payload);
  if (encoding === "base64") {
    try {
      return Uint8Array.from(atob(payload), (ch) => ch.charCodeAt(0));
    } catch {
      throw badRequest("payload is not valid base64");
    }
  }
  throw badRequest("payload_encoding must be 'string' or 'base64'");
}

/** "auto": text when the body is UTF-8, else base64 (as RabbitMQ's API). */
export function payloadJson(body: Uint8Array, encoding: string): { payload: string; payload_encoding: string } {
  if (encoding !== "base64") {
    try {
      return { payload: new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(body), payload_encoding: "string" };
    } catch {
      // not text: base64 below
    }
  }
  let s = "";
  for (const b of body) s += String.fromCharCode(b);
  return { payload: btoa(s), payload_encoding: "base64" };
}
