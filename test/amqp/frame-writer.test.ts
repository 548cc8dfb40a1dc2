import { describe, expect, it } from "vitest";
import {
  CommandAssembler,
  FrameReader,
  FrameType,
  FrameWriter,
  ReplyCode,
  encodeContentHeader,
  makeMethod,
  type Command,
  type Frame,
} from "../../src/amqp";
import { expectAmqpError } from "./helpers";

const deliver = makeMethod("basic.deliver", { consumerTag: "ct", deliveryTag: 1, routingKey: "q" });

function parse(bytes: Uint8Array, frameMax = 0): Frame[] {
  const reader = new FrameReader(frameMax);
  reader.tolerance = 0; // the writer must respect frame_max exactly
  return reader.push(bytes);
}

function commands(frames: Frame[]): Command[] {
  const a = new CommandAssembler();
  return frames.map((f) => a.push(f)).filter((c): c is Command => c !== null);
}

const bodyOf = (n: number) => new Uint8Array(n).map((_, i) => (i * 7) % 256);

describe("FrameWriter content splitting", () => {
  it("body of frameMax-8 → one body frame; frameMax-7 → two", () => {
    for (const [len, expected] of [
      [4088, [4088]],
      [4089, [4088, 1]],
      [3 * 4088, [4088, 4088, 4088]],
      [1, [1]],
    ] as const) {
      const w = new FrameWriter(4096);
      const body = bodyOf(len);
      w.content(1, deliver, { contentType: "a" }, body);
      const frames = parse(w.take() as Uint8Array, 4096);
      expect(frames.map((f) => f.type)).toEqual([FrameType.Method, FrameType.Header, ...expected.map(() => FrameType.Body)]);
      expect(frames.filter((f) => f.type === FrameType.Body).map((f) => f.payload.length)).toEqual([...expected]);
      const [cmd] = commands(frames);
      expect(cmd?.body).toEqual(body);
      expect(cmd?.properties).toEqual({ contentType: "a" });
    }
  });

  it("empty body → no body frames; frameMax 0 → a single body frame", () => {
    const w = new FrameWriter(4096);
    w.content(1, deliver, {}, new Uint8Array(0));
    expect(parse(w.take() as Uint8Array).map((f) => f.type)).toEqual([FrameType.Method, FrameType.Header]);
    const u = new FrameWriter(0);
    u.content(1, deliver, {}, bodyOf(100_000));
    expect(
      parse(u.take() as Uint8Array)
        .map((f) => f.payload.length)
        .slice(2),
    ).toEqual([100_000]);
  });

  it("a raw header payload is forwarded byte for byte", () => {
    const header = encodeContentHeader(60, 3, { headers: { a: { type: "S", value: "b" } }, priority: 1 });
    const w = new FrameWriter(4096);
    w.content(7, deliver, header, new Uint8Array([1, 2, 3]));
    const frames = parse(w.take() as Uint8Array);
    expect(frames[1]).toEqual({ type: FrameType.Header, channel: 7, payload: header });
    expect(commands(frames)[0]).toMatchObject({ channel: 7, header, body: new Uint8Array([1, 2, 3]) });
  });

  it("a raw header whose body-size disagrees with the body is refused", () => {
    const header = encodeContentHeader(60, 4, {});
    expectAmqpError(() => new FrameWriter(4096).content(1, deliver, header, new Uint8Array(3)), ReplyCode.INTERNAL_ERROR);
  });

  it("frameMax change applies to later content", () => {
    const w = new FrameWriter(4096);
    w.frameMax = 131072;
    w.content(1, deliver, {}, bodyOf(100_000));
    expect(parse(w.take() as Uint8Array).length).toBe(3);
  });
});

describe("FrameWriter coalescing", () => {
  it("take() returns everything pending as one buffer, then empties", () => {
    const w = new FrameWriter(4096);
    expect(w.take()).toBeNull();
    expect(w.size).toBe(0);
    w.method(1, makeMethod("basic.ack", { deliveryTag: 1 }));
    w.heartbeat();
    w.content(2, deliver, {}, bodyOf(10_000));
    w.method(3, makeMethod("channel.close-ok"));
    const size = w.size;
    const bytes = w.take() as Uint8Array;
    expect(bytes.length).toBe(size);
    expect(w.size).toBe(0);
    expect(w.take()).toBeNull();
    const frames = parse(bytes, 4096);
    expect(frames.map((f) => [f.type, f.channel])).toEqual([
      [1, 1],
      [8, 0],
      [1, 2],
      [2, 2],
      [3, 2],
      [3, 2],
      [3, 2],
      [1, 3],
    ]);
    const cmds = commands(frames);
    expect(cmds.map((c) => c.method.name)).toEqual(["basic.ack", "basic.deliver", "channel.close-ok"]);
    expect(cmds[1]?.body).toEqual(bodyOf(10_000));
  });

  it("the taken buffer does not alias the caller's body", () => {
    const body = bodyOf(50_000);
    const w = new FrameWriter(0);
    w.content(1, deliver, {}, body);
    const bytes = w.take() as Uint8Array;
    body.fill(0);
    expect(commands(parse(bytes))[0]?.body).toEqual(bodyOf(50_000));
  });

  it("many small writes stay correct across internal buffer growth", () => {
    const w = new FrameWriter(4096);
    for (let i = 0; i < 2000; i++) w.method(1, makeMethod("basic.ack", { deliveryTag: i + 1 }));
    const cmds = commands(parse(w.take() as Uint8Array));
    expect(cmds).toHaveLength(2000);
    expect(cmds[1999]?.method).toEqual(makeMethod("basic.ack", { deliveryTag: 2000 }));
  });
});

describe("FrameWriter.deliver", () => {
  const shortstr = (s: string) => {
    const b = new TextEncoder().encode(s);
    return [b.length, ...b];
  };

  it("writes the same bytes as content() with a basic.deliver method", () => {
    const cases = [
      { tag: "ct", deliveryTag: 1, redelivered: false, exchange: "", routingKey: "q", size: 0, frameMax: 4096 },
      {
        tag: "amq.ctag-ünï",
        deliveryTag: 2 ** 40 + 9,
        redelivered: true,
        exchange: "amq.topic",
        routingKey: "a.b.c",
        size: 5000,
        frameMax: 4096,
      },
      {
        tag: "x".repeat(255),
        deliveryTag: 77,
        redelivered: false,
        exchange: "日本",
        routingKey: "k".repeat(255),
        size: 4088,
        frameMax: 4096,
      },
      { tag: "c", deliveryTag: 3, redelivered: true, exchange: "e", routingKey: "", size: 70_000, frameMax: 0 },
    ];
    for (const c of cases) {
      const body = new Uint8Array(c.size).map((_, i) => i * 7);
      const header = encodeContentHeader(60, body.length, { deliveryMode: 2, headers: { a: { type: "I", value: 1 } } });
      const generic = new FrameWriter(c.frameMax);
      generic.content(
        7,
        makeMethod("basic.deliver", {
          consumerTag: c.tag,
          deliveryTag: c.deliveryTag,
          redelivered: c.redelivered,
          exchange: c.exchange,
          routingKey: c.routingKey,
        }),
        header,
        body,
      );
      const fast = new FrameWriter(c.frameMax);
      fast.deliver(
        7,
        c.tag,
        c.deliveryTag,
        c.redelivered,
        new Uint8Array([...shortstr(c.exchange), ...shortstr(c.routingKey)]),
        header,
        body,
      );
      expect(Buffer.from(fast.take()!).equals(Buffer.from(generic.take()!))).toBe(true);
    }
  });

  it("refuses a header whose body-size disagrees, leaving nothing half written", () => {
    const w = new FrameWriter(4096);
    expect(() => w.deliver(1, "t", 1, false, new Uint8Array([0, 1, 113]), encodeContentHeader(60, 5, {}), new Uint8Array(4))).toThrow();
    expect(w.take()).toBeNull();
  });
});
