import { decodeFieldTable, fromFieldValue } from "../amqp/field-table";
import { Reader } from "../amqp/buffer";

/** SASL mechanisms offered in connection.start, in RabbitMQ's order. */
export const MECHANISMS = ["PLAIN", "AMQPLAIN"] as const;

import type { Credentials } from "../core/auth";

/** Parses a SASL response; null when the mechanism is unknown or the response malformed. */
export function parseSaslResponse(mechanism: string, response: Uint8Array): Credentials | null {
  if (mechanism === "PLAIN") return parsePlain(response);
  if (mechanism === "AMQPLAIN") return parseAmqplain(response);
  return null;
}

// PLAIN is "authzid NUL authcid NUL password" (RFC 4616); the authzid is ignored like RabbitMQ does.
function parsePlain(response: Uint8Array): Credentials | null {
  const text = new TextDecoder().decode(response);
  const parts = text.split("\0");
  if (parts.length !== 3) return null;
  return { username: parts[1] ?? "", password: parts[2] ?? "" };
}

// AMQPLAIN is a field table without its leading length: LOGIN and PASSWORD.
function parseAmqplain(response: Uint8Array): Credentials | null {
  const prefixed = new Uint8Array(response.length + 4);
  new DataView(prefixed.buffer).setUint32(0, response.length);
  prefixed.set(response, 4);
  try {
    const table = decodeFieldTable(new Reader(prefixed));
    const login = table.LOGIN;
    const password = table.PASSWORD;
    if (!login || !password) return null;
    return { username: String(fromFieldValue(login)), password: String(fromFieldValue(password)) };
  } catch {
    return null;
  }
}
