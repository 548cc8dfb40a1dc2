// Outgoing frames, coalesced so a burst of methods/deliveries becomes one
// transport write.
import { FRAME_END, FRAME_MIN_SIZE, FRAME_OVERHEAD, FrameType } from "./constants";
import { Writer } from "./buffer";
import { encodeError } from "./errors";
import { methodIds, writeMethod, type AnyMethod } from "./methods";
import { peekContentHeader, writeProperties, type BasicProperties } from "./properties";

const DELIVER = methodIds("basic.deliver");

/** Body slices at least this long are referenced, not copied, until take(). */
const INLINE_LIMIT = 1024;

/** One frame: type, channel, size, payload, frame-end. */
export function encodeFrame(type: number, channel: number, payload: Uint8Array): Uint8Array {
  const w = new Writer(payload.length + FRAME_OVERHEAD);
  w.u8(type).u16(channel).u32(payload.length).bytes(payload).u8(FRAME_END);
  return w.finish();
}

export class FrameWriter {
  /** Negotiated frame_max (whole frame incl. 8 bytes overhead); 0 = no limit. */
  frameMax: number;
  private parts: Uint8Array[] = [];
  private partsSize = 0;
  /**
   * Reused across flushes (see Writer.takeCopy); `flushes` tells atomically() it moved on. It
   * starts small (an unauthenticated socket gets only connection.start) and doubles as needed.
   */
  private readonly w = new Writer(512);
  private flushes = 0;

  constructor(frameMax: number = FRAME_MIN_SIZE) {
    this.frameMax = frameMax;
  }

  /** Pending bytes not yet taken. */
  get size(): number {
    return this.partsSize + this.w.length;
  }

  private writer(): Writer {
    return this.w;
  }

  /** Starts a frame in the current writer; returns where its size goes. */
  private begin(type: number, channel: number): number {
    return this.writer().u8(type).u16(channel).reserveU32();
  }

  private end(sizeAt: number): void {
    const w = this.writer();
    w.patchU32(sizeAt, w.length - sizeAt - 4);
    w.u8(FRAME_END);
  }

  private flushWriter(): void {
    if (this.w.length === 0) return;
    const bytes = this.w.takeCopy();
    this.parts.push(bytes);
    this.partsSize += bytes.length;
    this.flushes++;
  }

  // An encode error (bad argument) must not leave half a frame queued:
  // undo everything written since the call began. Nothing can throw after
  // content() starts moving body slices out of the writer.
  private atomically(fn: () => void): void {
    const mark = this.w.length;
    const flushes = this.flushes;
    try {
      fn();
    } catch (err) {
      if (this.flushes === flushes) this.w.truncate(mark);
      throw err;
    }
  }

  method(channel: number, m: AnyMethod): void {
    this.atomically(() => {
      const at = this.begin(FrameType.Method, channel);
      writeMethod(this.writer(), m);
      this.end(at);
    });
  }

  /**
   * A content method, its header and the body split into frames of at most
   * frameMax - 8 payload bytes (one frame when frameMax is 0; none when the
   * body is empty). `header` is either a raw content-header payload (e.g.
   * the publisher's, forwarded untouched; its body-size must equal
   * body.length) or properties to encode.
   */
  content(channel: number, m: AnyMethod, header: Uint8Array | BasicProperties, body: Uint8Array): void {
    const maxPayload = this.checkContent(header, body);
    this.atomically(() => {
      const mAt = this.begin(FrameType.Method, channel);
      writeMethod(this.writer(), m);
      this.end(mAt);
      this.headerFrame(channel, methodIds(m.name).classId, header, body);
    });
    this.bodyFrames(channel, body, maxPayload);
  }

  /**
   * basic.deliver, written without building a method object: `route` is the exchange and the
   * routing key as two ready-encoded short strings (a queue keeps them so). The frames are the
   * ones content() writes for the same delivery; a test checks they are byte-identical.
   */
  deliver(
    channel: number,
    consumerTag: string,
    deliveryTag: number,
    redelivered: boolean,
    route: Uint8Array,
    header: Uint8Array,
    body: Uint8Array,
  ): void {
    const maxPayload = this.checkContent(header, body);
    this.atomically(() => {
      const at = this.begin(FrameType.Method, channel);
      this.writer()
        .u16(DELIVER.classId)
        .u16(DELIVER.methodId)
        .shortstr(consumerTag)
        .u64n(deliveryTag)
        .u8(redelivered ? 1 : 0)
        .bytes(route);
      this.end(at);
      this.headerFrame(channel, DELIVER.classId, header, body);
    });
    this.bodyFrames(channel, body, maxPayload);
  }

  /** Validates a content command before anything is written; returns the body frame size. */
  private checkContent(header: Uint8Array | BasicProperties, body: Uint8Array): number {
    if (header instanceof Uint8Array) {
      const { bodySize } = peekContentHeader(header);
      if (bodySize !== body.length) throw encodeError(`content header body-size ${bodySize} != body length ${body.length}`);
    }
    const maxPayload = this.frameMax === 0 ? Math.max(body.length, 1) : this.frameMax - FRAME_OVERHEAD;
    if (maxPayload < 1) throw encodeError(`frame_max ${this.frameMax} too small`);
    return maxPayload;
  }

  private headerFrame(channel: number, classId: number, header: Uint8Array | BasicProperties, body: Uint8Array): void {
    const hAt = this.begin(FrameType.Header, channel);
    const w = this.writer();
    if (header instanceof Uint8Array) {
      w.bytes(header);
    } else {
      w.u16(classId).u16(0).u64n(body.length);
      writeProperties(w, header);
    }
    this.end(hAt);
  }

  private bodyFrames(channel: number, body: Uint8Array, maxPayload: number): void {
    for (let off = 0; off < body.length; off += maxPayload) {
      const slice = body.subarray(off, Math.min(off + maxPayload, body.length));
      const at = this.begin(FrameType.Body, channel);
      if (slice.length >= INLINE_LIMIT) {
        this.writer().patchU32(at, slice.length);
        this.flushWriter();
        this.parts.push(slice);
        this.partsSize += slice.length;
        this.writer().u8(FRAME_END);
      } else {
        this.writer().bytes(slice);
        this.end(at);
      }
    }
  }

  heartbeat(): void {
    this.frame(FrameType.Heartbeat, 0, new Uint8Array(0));
  }

  /** Any frame with a ready-made payload. */
  frame(type: number, channel: number, payload: Uint8Array): void {
    this.atomically(() => {
      const at = this.begin(type, channel);
      this.writer().bytes(payload);
      this.end(at);
    });
  }

  /** Everything pending as one buffer (owned by the caller), or null if nothing. */
  take(): Uint8Array | null {
    this.flushWriter();
    const parts = this.parts;
    this.parts = [];
    const size = this.partsSize;
    this.partsSize = 0;
    if (parts.length === 0) return null;
    // A lone part is always writer-owned (a body slice is always preceded by
    // its frame header), so it can be handed out without copying.
    if (parts.length === 1) return parts[0] as Uint8Array;
    const out = new Uint8Array(size);
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}
