import { describe, expect, it } from "vitest";
import {
  METHOD_NAMES,
  METHOD_TABLE,
  decodeMethod,
  defaultArgs,
  encodeMethod,
  makeMethod,
  method,
  methodHasContent,
  methodIds,
  methodName,
  type AnyMethod,
  type ArgType,
  type Method,
  type MethodArgs,
  type MethodName,
} from "../../src/amqp";

// A distinct non-default value for every argument type.
function sample(type: ArgType, field: string, name: string, i: number): unknown {
  switch (type) {
    case "octet":
      return 200 + (i % 50);
    case "short":
      return 40000 + i;
    case "long":
      return 3_000_000_000 + i;
    case "longlong":
      return 2 ** 40 + i;
    case "shortstr":
      return `${name}:${field} ✓`;
    case "longstr":
      return `long ${field} ünïcødé \u0000 nul`;
    case "bit":
      return true;
    case "table":
      return { [field]: { type: "S", value: name }, n: { type: "I", value: -(i + 1) } };
    case "timestamp":
      return 1700000000n + BigInt(i);
  }
}

function sampleMethod(name: MethodName, bit: (field: string, index: number) => boolean): AnyMethod {
  const args: Record<string, unknown> = {};
  METHOD_TABLE[name].fields.forEach(([field, type], i) => {
    args[field] = type === "bit" ? bit(field, i) : sample(type, field, name, i);
  });
  return { name, args } as AnyMethod;
}

describe("method table", () => {
  it("has every method of AMQP 0-9-1 with RabbitMQ extensions", () => {
    const expected = [
      "connection.start",
      "connection.start-ok",
      "connection.secure",
      "connection.secure-ok",
      "connection.tune",
      "connection.tune-ok",
      "connection.open",
      "connection.open-ok",
      "connection.close",
      "connection.close-ok",
      "connection.blocked",
      "connection.unblocked",
      "connection.update-secret",
      "connection.update-secret-ok",
      "channel.open",
      "channel.open-ok",
      "channel.flow",
      "channel.flow-ok",
      "channel.close",
      "channel.close-ok",
      "exchange.declare",
      "exchange.declare-ok",
      "exchange.delete",
      "exchange.delete-ok",
      "exchange.bind",
      "exchange.bind-ok",
      "exchange.unbind",
      "exchange.unbind-ok",
      "queue.declare",
      "queue.declare-ok",
      "queue.bind",
      "queue.bind-ok",
      "queue.purge",
      "queue.purge-ok",
      "queue.delete",
      "queue.delete-ok",
      "queue.unbind",
      "queue.unbind-ok",
      "basic.qos",
      "basic.qos-ok",
      "basic.consume",
      "basic.consume-ok",
      "basic.cancel",
      "basic.cancel-ok",
      "basic.publish",
      "basic.return",
      "basic.deliver",
      "basic.get",
      "basic.get-ok",
      "basic.get-empty",
      "basic.ack",
      "basic.reject",
      "basic.recover-async",
      "basic.recover",
      "basic.recover-ok",
      "basic.nack",
      "confirm.select",
      "confirm.select-ok",
      "tx.select",
      "tx.select-ok",
      "tx.commit",
      "tx.commit-ok",
      "tx.rollback",
      "tx.rollback-ok",
    ];
    expect([...METHOD_NAMES].sort()).toEqual([...expected].sort());
  });

  it("ids are unique and looked up both ways", () => {
    const seen = new Set<string>();
    for (const name of METHOD_NAMES) {
      const { classId, methodId } = methodIds(name);
      const key = `${classId}/${methodId}`;
      expect(seen.has(key), key).toBe(false);
      seen.add(key);
      expect(methodName(classId, methodId)).toBe(name);
    }
    expect(methodIds("basic.publish")).toEqual({ classId: 60, methodId: 40 });
    expect(methodIds("exchange.unbind-ok")).toEqual({ classId: 40, methodId: 51 });
    expect(methodIds("basic.nack")).toEqual({ classId: 60, methodId: 120 });
    expect(methodIds("confirm.select")).toEqual({ classId: 85, methodId: 10 });
    expect(methodName(60, 999)).toBeUndefined();
  });

  it("only publish, return, deliver and get-ok carry content", () => {
    expect(METHOD_NAMES.filter(methodHasContent).sort()).toEqual(["basic.deliver", "basic.get-ok", "basic.publish", "basic.return"]);
  });
});

describe("encode → decode round trip of every method", () => {
  for (const name of METHOD_NAMES) {
    it(`${name} with every argument non-default`, () => {
      const m = sampleMethod(name, () => true);
      const payload = encodeMethod(m);
      expect(decodeMethod(payload)).toEqual(m);
      // And the decoded form re-encodes to the same bytes.
      expect(encodeMethod(decodeMethod(payload))).toEqual(payload);
    });

    const bitFields = METHOD_TABLE[name].fields.filter(([, t]) => t === "bit").map(([f]) => f as string);
    if (bitFields.length > 0) {
      it(`${name}: each bit alone lands in its own position`, () => {
        for (const only of bitFields) {
          const m = sampleMethod(name, (field) => field === only);
          expect(decodeMethod(encodeMethod(m))).toEqual(m);
        }
        const none = sampleMethod(name, () => false);
        expect(decodeMethod(encodeMethod(none))).toEqual(none);
      });
    }
  }
});

describe("method builders", () => {
  it("defaultArgs fills zero values", () => {
    expect(defaultArgs("basic.publish")).toEqual({ ticket: 0, exchange: "", routingKey: "", mandatory: false, immediate: false });
    expect(defaultArgs("queue.declare").arguments).toEqual({});
    expect(defaultArgs("tx.select")).toEqual({});
  });

  it("makeMethod merges given args over defaults", () => {
    const m = makeMethod("basic.ack", { deliveryTag: 9 });
    expect(m).toEqual({ name: "basic.ack", args: { deliveryTag: 9, multiple: false } });
  });

  it("method() is typed from the table", () => {
    const m: Method<"basic.consume"> = method("basic.consume", {
      ticket: 0,
      queue: "q",
      consumerTag: "",
      noLocal: false,
      noAck: true,
      exclusive: false,
      noWait: false,
      arguments: {},
    });
    const args: MethodArgs<"basic.consume"> = m.args;
    expect(args.noAck).toBe(true);
    // @ts-expect-error missing arguments are a type error
    method("basic.ack", { deliveryTag: 1 });
    // @ts-expect-error wrong argument type is a type error
    makeMethod("basic.ack", { multiple: "yes" });
    const any: AnyMethod = m;
    if (any.name === "basic.consume") expect(any.args.queue).toBe("q"); // narrows by name
  });

  it("missing arguments at runtime encode as defaults", () => {
    const m = { name: "basic.ack", args: {} } as unknown as AnyMethod;
    expect(decodeMethod(encodeMethod(m))).toEqual(makeMethod("basic.ack"));
  });

  it("longlong above 2^53 decodes to a (lossy) number instead of throwing", () => {
    const bytes = new Uint8Array([0, 60, 0, 80, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1]);
    const m = decodeMethod(bytes);
    expect(m.name).toBe("basic.ack");
    if (m.name === "basic.ack") {
      expect(m.args.deliveryTag).toBe(2 ** 64);
      expect(m.args.multiple).toBe(true);
    }
  });
});
