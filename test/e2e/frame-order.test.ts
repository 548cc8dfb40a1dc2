import { afterEach, describe, expect, it } from "vitest";
import { FrameWriter, type AnyMethod } from "../../src/amqp";
import { useWarren } from "./harness";
import { RawClient } from "./raw-client";

/** The order and flags of frames one channel sends, as RabbitMQ 3.10.8 sends them (side by side). */
const warren = useWarren({ sideBySide: true });
const port = () => warren.server.amqpPort!;
let raw: RawClient | undefined;
afterEach(() => raw?.close());

const uid = (p: string) => `${p}-${Math.random().toString(36).slice(2, 10)}`;

function publish(c: RawClient, ch: number, exchange: string, routingKey: string, mandatory = false): void {
  const w = new FrameWriter(131072);
  const m: AnyMethod = { name: "basic.publish", args: { ticket: 0, exchange, routingKey, mandatory, immediate: false } };
  w.content(ch, m, {}, new TextEncoder().encode("x"));
  c.write(w.take()!);
}

async function confirmChannel(): Promise<RawClient> {
  const c = await RawClient.open(port());
  c.send(1, { name: "channel.open", args: { outOfBand: "" } });
  await c.expect("channel.open-ok");
  c.send(1, { name: "confirm.select", args: { noWait: false } });
  await c.expect("confirm.select-ok");
  return c;
}

async function declare(c: RawClient, queue: string): Promise<void> {
  c.send(1, {
    name: "queue.declare",
    args: { ticket: 0, queue, passive: false, durable: false, exclusive: true, autoDelete: false, noWait: false, arguments: {} },
  } as AnyMethod);
  await c.expect("queue.declare-ok");
}

async function settle(c: RawClient): Promise<string[]> {
  await new Promise((r) => setTimeout(r, 300));
  return c.commands.splice(0).map((x) => x.method.name);
}

describe("frame order and flags, as RabbitMQ 3.10.8 sends them", () => {
  it("a confirm of one message is basic.ack multiple=false", async () => {
    raw = await confirmChannel();
    const q = uid("one");
    await declare(raw, q);
    publish(raw, 1, "", q);
    expect((await raw.expect("basic.ack")).method.args).toEqual({ deliveryTag: 1, multiple: false });
    publish(raw, 1, "", q);
    expect((await raw.expect("basic.ack")).method.args).toEqual({ deliveryTag: 2, multiple: false });
  });

  it("mandatory unroutable with confirms: basic.return, then basic.ack", async () => {
    raw = await confirmChannel();
    publish(raw, 1, "amq.direct", uid("nowhere"), true);
    expect(await settle(raw)).toEqual(["basic.return", "basic.ack"]);
  });

  it("deleting a queue its own channel consumes from: queue.delete-ok, then basic.cancel", async () => {
    raw = await confirmChannel();
    const q = uid("del");
    await declare(raw, q);
    raw.send(1, {
      name: "basic.consume",
      args: { ticket: 0, queue: q, consumerTag: "c1", noLocal: false, noAck: false, exclusive: false, noWait: false, arguments: {} },
    } as AnyMethod);
    await raw.expect("basic.consume-ok");
    raw.send(1, { name: "queue.delete", args: { ticket: 0, queue: q, ifUnused: false, ifEmpty: false, noWait: false } } as AnyMethod);
    expect(await settle(raw)).toEqual(["queue.delete-ok", "basic.cancel"]);
  });
});
