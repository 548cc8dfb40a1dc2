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

describe("channel.close while deliveries are in flight, as RabbitMQ 3.10.8 answers it", () => {
  // 12 MiB of messages: more than a broker hands a client that stops reading (Warren's delivery
  // window is 4 MiB), so some are delivered before close-ok and the rest are not.
  const N = 3000;

  /** Waits until `pick` finds something in what the client has received (nothing is consumed). */
  async function until<T>(c: RawClient, pick: () => T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = pick();
      if (found !== undefined) return found;
      if (c.closed || Date.now() > deadline) throw new Error(`no ${what}; got ${c.names().slice(-300)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** A queue of N confirmed 4 KiB messages, published on channel 1 in one write. */
  async function filledQueue(c: RawClient): Promise<string> {
    const q = uid("inflight");
    await declare(c, q);
    const w = new FrameWriter(131072);
    const body = new Uint8Array(4096).fill(0x61);
    for (let i = 0; i < N; i++) {
      w.content(
        1,
        { name: "basic.publish", args: { ticket: 0, exchange: "", routingKey: q, mandatory: false, immediate: false } },
        {},
        body,
      );
    }
    c.write(w.take()!);
    await until(
      c,
      () => c.commands.find((x) => x.method.name === "basic.ack" && x.method.args.deliveryTag === N),
      "confirm of the last message",
      30_000,
    );
    return q;
  }

  function consume(c: RawClient, ch: number, queue: string, noAck: boolean): void {
    c.send(ch, {
      name: "basic.consume",
      args: { ticket: 0, queue, consumerTag: "c", noLocal: false, noAck, exclusive: false, noWait: false, arguments: {} },
    } as AnyMethod);
  }

  /**
   * Once `ready` holds, stops reading (so deliveries back up in the broker's socket), sends
   * channel.close for channel 2, reads again; returns what arrived on channel 2 before and after
   * its close-ok.
   */
  async function closeChannel(c: RawClient, ready: () => boolean): Promise<{ before: string[]; after: string[] }> {
    await until(c, () => (ready() ? true : undefined), "deliveries on channel 2");
    c.socket.pause();
    c.send(2, { name: "channel.close", args: { replyCode: 200, replyText: "bye", classId: 0, methodId: 0 } });
    await new Promise((r) => setTimeout(r, 300));
    c.socket.resume();
    await until(c, () => (c.commands.some((x) => x.channel === 2 && x.method.name === "channel.close-ok") ? true : undefined), "close-ok");
    // Time for anything still on its way to show up.
    await new Promise((r) => setTimeout(r, 500));
    const onTwo = c.commands.filter((x) => x.channel === 2).map((x) => x.method.name);
    const at = onTwo.indexOf("channel.close-ok");
    return { before: onTwo.slice(0, at), after: onTwo.slice(at + 1) };
  }

  async function messageCount(c: RawClient, queue: string): Promise<number> {
    c.send(1, {
      name: "queue.declare",
      args: { ticket: 0, queue, passive: true, durable: false, exclusive: false, autoDelete: false, noWait: false, arguments: {} },
    } as AnyMethod);
    const ok = await c.expect("queue.declare-ok");
    return ok.method.name === "queue.declare-ok" ? ok.method.args.messageCount : -1;
  }

  async function openTwo(c: RawClient): Promise<void> {
    c.send(2, { name: "channel.open", args: { outOfBand: "" } });
    await until(c, () => (c.commands.some((x) => x.channel === 2 && x.method.name === "channel.open-ok") ? true : undefined), "open-ok");
  }

  it("acking consumer: deliveries may precede close-ok, nothing follows it, and every message is back in the queue", async () => {
    raw = await confirmChannel();
    const c = raw;
    const q = await filledQueue(c);
    await openTwo(c);
    consume(c, 2, q, false);
    const { before, after } = await closeChannel(c, () => c.commands.some((x) => x.channel === 2 && x.method.name === "basic.deliver"));
    expect(after).toEqual([]);
    expect(before.slice(0, 2)).toEqual(["channel.open-ok", "basic.consume-ok"]);
    expect(before.slice(2).every((n) => n === "basic.deliver")).toBe(true);
    // Unacked deliveries, sent or not, are requeued: none is lost.
    await expect.poll(() => messageCount(c, q), { timeout: 5000 }).toBe(N);
    // The number is free again at once; reopened, the channel hears nothing of its old consumer.
    c.send(2, { name: "channel.open", args: { outOfBand: "" } });
    await new Promise((r) => setTimeout(r, 300));
    const onTwo = c.commands.filter((x) => x.channel === 2).map((x) => x.method.name);
    expect(onTwo.slice(onTwo.indexOf("channel.close-ok") + 1)).toEqual(["channel.open-ok"]);
  });

  it("no-ack consumer, closed right after basic.consume: nothing after close-ok, and what was not delivered stays queued", async () => {
    raw = await confirmChannel();
    const c = raw;
    const q = await filledQueue(c);
    await openTwo(c);
    consume(c, 2, q, true);
    const { before, after } = await closeChannel(c, () => c.commands.some((x) => x.channel === 2 && x.method.name === "basic.consume-ok"));
    expect(after).toEqual([]);
    expect(before[0]).toBe("channel.open-ok");
    expect(before[1]).toBe("basic.consume-ok");
    const delivered = before.filter((n) => n === "basic.deliver").length;
    expect(before.length).toBe(2 + delivered);
    // No-ack deliveries are settled when sent; those not sent stay in the queue.
    await expect.poll(() => messageCount(c, q), { timeout: 5000 }).toBe(N - delivered);
  });
});
