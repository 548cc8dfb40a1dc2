// Every AMQP 0-9-1 method (RabbitMQ's errata and extensions), written from
// the spec. This table is the single source: codec and TypeScript types
// (methods.ts) are both derived from it. Argument names are camelCase;
// deprecated "reserved" arguments keep RabbitMQ's names (ticket,
// capabilities, insist, knownHosts, outOfBand, channelId, clusterId).
import { ClassId } from "./constants";

export type ArgType = "octet" | "short" | "long" | "longlong" | "shortstr" | "longstr" | "bit" | "table" | "timestamp";

export interface MethodSpec {
  readonly classId: number;
  readonly methodId: number;
  /** Followed by a content header and body frames. */
  readonly content?: boolean;
  readonly fields: readonly (readonly [name: string, type: ArgType])[];
}

const { connection, channel, exchange, queue, basic, confirm, tx } = ClassId;

const closeFields = [
  ["replyCode", "short"],
  ["replyText", "shortstr"],
  ["classId", "short"],
  ["methodId", "short"],
] as const;

export const METHOD_TABLE = {
  "connection.start": {
    classId: connection,
    methodId: 10,
    fields: [
      ["versionMajor", "octet"],
      ["versionMinor", "octet"],
      ["serverProperties", "table"],
      ["mechanisms", "longstr"],
      ["locales", "longstr"],
    ],
  },
  "connection.start-ok": {
    classId: connection,
    methodId: 11,
    fields: [
      ["clientProperties", "table"],
      ["mechanism", "shortstr"],
      ["response", "longstr"],
      ["locale", "shortstr"],
    ],
  },
  "connection.secure": { classId: connection, methodId: 20, fields: [["challenge", "longstr"]] },
  "connection.secure-ok": { classId: connection, methodId: 21, fields: [["response", "longstr"]] },
  "connection.tune": {
    classId: connection,
    methodId: 30,
    fields: [
      ["channelMax", "short"],
      ["frameMax", "long"],
      ["heartbeat", "short"],
    ],
  },
  "connection.tune-ok": {
    classId: connection,
    methodId: 31,
    fields: [
      ["channelMax", "short"],
      ["frameMax", "long"],
      ["heartbeat", "short"],
    ],
  },
  "connection.open": {
    classId: connection,
    methodId: 40,
    fields: [
      ["virtualHost", "shortstr"],
      ["capabilities", "shortstr"],
      ["insist", "bit"],
    ],
  },
  "connection.open-ok": { classId: connection, methodId: 41, fields: [["knownHosts", "shortstr"]] },
  "connection.close": { classId: connection, methodId: 50, fields: closeFields },
  "connection.close-ok": { classId: connection, methodId: 51, fields: [] },
  "connection.blocked": { classId: connection, methodId: 60, fields: [["reason", "shortstr"]] },
  "connection.unblocked": { classId: connection, methodId: 61, fields: [] },
  "connection.update-secret": {
    classId: connection,
    methodId: 70,
    fields: [
      ["newSecret", "longstr"],
      ["reason", "shortstr"],
    ],
  },
  "connection.update-secret-ok": { classId: connection, methodId: 71, fields: [] },

  "channel.open": { classId: channel, methodId: 10, fields: [["outOfBand", "shortstr"]] },
  "channel.open-ok": { classId: channel, methodId: 11, fields: [["channelId", "longstr"]] },
  "channel.flow": { classId: channel, methodId: 20, fields: [["active", "bit"]] },
  "channel.flow-ok": { classId: channel, methodId: 21, fields: [["active", "bit"]] },
  "channel.close": { classId: channel, methodId: 40, fields: closeFields },
  "channel.close-ok": { classId: channel, methodId: 41, fields: [] },

  "exchange.declare": {
    classId: exchange,
    methodId: 10,
    fields: [
      ["ticket", "short"],
      ["exchange", "shortstr"],
      ["type", "shortstr"],
      ["passive", "bit"],
      ["durable", "bit"],
      ["autoDelete", "bit"],
      ["internal", "bit"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  "exchange.declare-ok": { classId: exchange, methodId: 11, fields: [] },
  "exchange.delete": {
    classId: exchange,
    methodId: 20,
    fields: [
      ["ticket", "short"],
      ["exchange", "shortstr"],
      ["ifUnused", "bit"],
      ["noWait", "bit"],
    ],
  },
  "exchange.delete-ok": { classId: exchange, methodId: 21, fields: [] },
  "exchange.bind": {
    classId: exchange,
    methodId: 30,
    fields: [
      ["ticket", "short"],
      ["destination", "shortstr"],
      ["source", "shortstr"],
      ["routingKey", "shortstr"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  "exchange.bind-ok": { classId: exchange, methodId: 31, fields: [] },
  "exchange.unbind": {
    classId: exchange,
    methodId: 40,
    fields: [
      ["ticket", "short"],
      ["destination", "shortstr"],
      ["source", "shortstr"],
      ["routingKey", "shortstr"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  // 51, not 41: a historical quirk of the spec that every broker keeps.
  "exchange.unbind-ok": { classId: exchange, methodId: 51, fields: [] },

  "queue.declare": {
    classId: queue,
    methodId: 10,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["passive", "bit"],
      ["durable", "bit"],
      ["exclusive", "bit"],
      ["autoDelete", "bit"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  "queue.declare-ok": {
    classId: queue,
    methodId: 11,
    fields: [
      ["queue", "shortstr"],
      ["messageCount", "long"],
      ["consumerCount", "long"],
    ],
  },
  "queue.bind": {
    classId: queue,
    methodId: 20,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  "queue.bind-ok": { classId: queue, methodId: 21, fields: [] },
  "queue.purge": {
    classId: queue,
    methodId: 30,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["noWait", "bit"],
    ],
  },
  "queue.purge-ok": { classId: queue, methodId: 31, fields: [["messageCount", "long"]] },
  "queue.delete": {
    classId: queue,
    methodId: 40,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["ifUnused", "bit"],
      ["ifEmpty", "bit"],
      ["noWait", "bit"],
    ],
  },
  "queue.delete-ok": { classId: queue, methodId: 41, fields: [["messageCount", "long"]] },
  "queue.unbind": {
    classId: queue,
    methodId: 50,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
      ["arguments", "table"],
    ],
  },
  "queue.unbind-ok": { classId: queue, methodId: 51, fields: [] },

  "basic.qos": {
    classId: basic,
    methodId: 10,
    fields: [
      ["prefetchSize", "long"],
      ["prefetchCount", "short"],
      ["global", "bit"],
    ],
  },
  "basic.qos-ok": { classId: basic, methodId: 11, fields: [] },
  "basic.consume": {
    classId: basic,
    methodId: 20,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["consumerTag", "shortstr"],
      ["noLocal", "bit"],
      ["noAck", "bit"],
      ["exclusive", "bit"],
      ["noWait", "bit"],
      ["arguments", "table"],
    ],
  },
  "basic.consume-ok": { classId: basic, methodId: 21, fields: [["consumerTag", "shortstr"]] },
  "basic.cancel": {
    classId: basic,
    methodId: 30,
    fields: [
      ["consumerTag", "shortstr"],
      ["noWait", "bit"],
    ],
  },
  "basic.cancel-ok": { classId: basic, methodId: 31, fields: [["consumerTag", "shortstr"]] },
  "basic.publish": {
    classId: basic,
    methodId: 40,
    content: true,
    fields: [
      ["ticket", "short"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
      ["mandatory", "bit"],
      ["immediate", "bit"],
    ],
  },
  "basic.return": {
    classId: basic,
    methodId: 50,
    content: true,
    fields: [
      ["replyCode", "short"],
      ["replyText", "shortstr"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
    ],
  },
  "basic.deliver": {
    classId: basic,
    methodId: 60,
    content: true,
    fields: [
      ["consumerTag", "shortstr"],
      ["deliveryTag", "longlong"],
      ["redelivered", "bit"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
    ],
  },
  "basic.get": {
    classId: basic,
    methodId: 70,
    fields: [
      ["ticket", "short"],
      ["queue", "shortstr"],
      ["noAck", "bit"],
    ],
  },
  "basic.get-ok": {
    classId: basic,
    methodId: 71,
    content: true,
    fields: [
      ["deliveryTag", "longlong"],
      ["redelivered", "bit"],
      ["exchange", "shortstr"],
      ["routingKey", "shortstr"],
      ["messageCount", "long"],
    ],
  },
  "basic.get-empty": { classId: basic, methodId: 72, fields: [["clusterId", "shortstr"]] },
  "basic.ack": {
    classId: basic,
    methodId: 80,
    fields: [
      ["deliveryTag", "longlong"],
      ["multiple", "bit"],
    ],
  },
  "basic.reject": {
    classId: basic,
    methodId: 90,
    fields: [
      ["deliveryTag", "longlong"],
      ["requeue", "bit"],
    ],
  },
  "basic.recover-async": { classId: basic, methodId: 100, fields: [["requeue", "bit"]] },
  "basic.recover": { classId: basic, methodId: 110, fields: [["requeue", "bit"]] },
  "basic.recover-ok": { classId: basic, methodId: 111, fields: [] },
  "basic.nack": {
    classId: basic,
    methodId: 120,
    fields: [
      ["deliveryTag", "longlong"],
      ["multiple", "bit"],
      ["requeue", "bit"],
    ],
  },

  "confirm.select": { classId: confirm, methodId: 10, fields: [["noWait", "bit"]] },
  "confirm.select-ok": { classId: confirm, methodId: 11, fields: [] },

  "tx.select": { classId: tx, methodId: 10, fields: [] },
  "tx.select-ok": { classId: tx, methodId: 11, fields: [] },
  "tx.commit": { classId: tx, methodId: 20, fields: [] },
  "tx.commit-ok": { classId: tx, methodId: 21, fields: [] },
  "tx.rollback": { classId: tx, methodId: 30, fields: [] },
  "tx.rollback-ok": { classId: tx, methodId: 31, fields: [] },
} as const satisfies Record<string, MethodSpec>;
