// Splits a byte stream (after the 8-byte protocol header) into frames.
import { FRAME_END, FRAME_HEADER_SIZE, FRAME_MAX_UNLIMITED_CAP, FRAME_OVERHEAD, FrameType, ReplyCode } from "./constants";
import { AmqpError, connectionError } from "./errors";

export interface Frame {
  type: number;
  channel: number;
  payload: Uint8Array;
}

const frameError = (text: string, channel = 0) => connectionError(ReplyCode.FRAME_ERROR, text + (channel ? ` (channel ${channel})` : ""));

interface PendingHeader {
  type: number;
  channel: number;
  size: number;
}

/** The 7 header bytes at `at`: type, channel, payload size. */
function headerAt(b: Uint8Array, at: number): PendingHeader {
  const channel = (b[at + 1]! << 8) | b[at + 2]!;
  const size = ((b[at + 3]! << 24) | (b[at + 4]! << 16) | (b[at + 5]! << 8) | b[at + 6]!) >>> 0;
  return { type: b[at]!, channel, size };
}

/**
 * Incremental frame parser. Chunks are kept by reference (not copied) until
 * their frames are complete, so callers must not reuse a pushed buffer.
 * A frame inside one chunk is returned as a view on it; a frame spanning
 * chunks is copied once into its own buffer, so the total copying is linear.
 * A malformed frame stops the stream: push throws its error, or, when complete
 * frames came before it in the same push, returns those (they must be handled
 * first, in order) and leaves the error in `error` for the caller to raise.
 * Either way every later push throws it and the connection must be closed.
 */
export class FrameReader {
  /**
   * Negotiated frame_max: the largest whole frame (payload + 8) accepted;
   * 0 = no limit, capped at FRAME_MAX_UNLIMITED_CAP. Update after tune-ok.
   */
  frameMax: number;
  /**
   * Extra bytes tolerated over frameMax. RabbitMQ accepts payloads up to
   * frame_max (not frame_max - 8) because clients are often off by the
   * frame overhead; we do the same by default. Set 0 to be strict.
   */
  tolerance = FRAME_OVERHEAD;

  private chunks: Uint8Array[] = [];
  private first = 0; // index of the oldest unread chunk
  private head = 0; // read offset into chunks[first]
  private buffered = 0; // unread bytes across chunks
  private pending: PendingHeader | null = null;
  private failure: AmqpError | null = null;

  constructor(frameMax: number) {
    this.frameMax = frameMax;
  }

  /** Why the stream stopped (a malformed frame), or null. */
  get error(): AmqpError | null {
    return this.failure;
  }

  /** Bytes received but not yet returned as frames. */
  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Uint8Array): Frame[] {
    if (this.failure) throw this.failure;
    if (chunk.length > 0) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const frames: Frame[] = [];
    try {
      for (;;) {
        if (!this.pending) {
          // Fast path: a whole frame inside the current chunk becomes a view on it directly.
          const c = this.chunks[this.first];
          const h = this.head;
          if (c !== undefined && c.length - h > FRAME_HEADER_SIZE) {
            const { type, channel, size } = headerAt(c, h);
            const endAt = h + FRAME_HEADER_SIZE + size;
            if (endAt < c.length) {
              this.checkHeader(type, channel, size);
              if (c[endAt] !== FRAME_END) throw frameError(`invalid frame end marker 0x${c[endAt]!.toString(16)}`, channel);
              frames.push({ type, channel, payload: c.subarray(h + FRAME_HEADER_SIZE, endAt) });
              this.buffered -= size + FRAME_OVERHEAD;
              this.advance(c, size + FRAME_OVERHEAD);
              continue;
            }
          }
          if (this.buffered < FRAME_HEADER_SIZE) break;
          this.pending = this.readHeader();
        }
        const { type, channel, size } = this.pending;
        if (this.buffered < size + 1) break;
        const payload = this.take(size);
        const end = this.take(1)[0];
        this.pending = null;
        if (end !== FRAME_END) {
          throw frameError(`invalid frame end marker 0x${(end ?? 0).toString(16)}`, channel);
        }
        frames.push({ type, channel, payload });
      }
    } catch (err) {
      if (!(err instanceof AmqpError)) throw err;
      this.failure = err;
      if (frames.length === 0) throw err;
    }
    return frames;
  }

  // Validates as soon as the 7 header bytes are in: an oversized or bogus
  // frame is refused before we wait for (and buffer) its payload.
  private readHeader(): PendingHeader {
    const header = headerAt(this.take(FRAME_HEADER_SIZE), 0);
    this.checkHeader(header.type, header.channel, header.size);
    return header;
  }

  private checkHeader(type: number, channel: number, size: number): void {
    if (type !== FrameType.Method && type !== FrameType.Header && type !== FrameType.Body && type !== FrameType.Heartbeat) {
      throw frameError(`unknown frame type ${type}`, channel);
    }
    const limit = this.frameMax === 0 ? FRAME_MAX_UNLIMITED_CAP : this.frameMax + this.tolerance;
    if (size + FRAME_OVERHEAD > limit) {
      throw frameError(`frame of ${size + FRAME_OVERHEAD} bytes exceeds frame_max ${this.frameMax}`, channel);
    }
    if (type === FrameType.Heartbeat && (channel !== 0 || size !== 0)) {
      // Spec 4.2.7: an invalid heartbeat frame is a 501 frame error.
      throw frameError(`invalid heartbeat frame (channel ${channel}, ${size} payload bytes)`);
    }
  }

  /** Consumes n buffered bytes (caller checked availability). */
  private take(n: number): Uint8Array {
    this.buffered -= n;
    const first = this.chunks[this.first];
    if (n === 0 || first === undefined) return new Uint8Array(0);
    if (first.length - this.head >= n) {
      const out = first.subarray(this.head, this.head + n);
      this.advance(first, n);
      return out;
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[this.first] as Uint8Array;
      const k = Math.min(c.length - this.head, n - filled);
      out.set(c.subarray(this.head, this.head + k), filled);
      filled += k;
      this.advance(c, k);
    }
    return out;
  }

  private advance(chunk: Uint8Array, n: number): void {
    this.head += n;
    if (this.head < chunk.length) return;
    this.head = 0;
    this.first++;
    // Drop consumed chunks in bulk (not shift() per chunk: a large frame fed
    // byte by byte would make that quadratic).
    if (this.first === this.chunks.length) {
      this.chunks = [];
      this.first = 0;
    } else if (this.first >= 1024 && this.first * 2 >= this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
