// Big-endian byte Reader/Writer used by every encoder/decoder in this folder.
import { ReplyCode } from "./constants";
import { TruncatedError, connectionError, encodeError } from "./errors";

const frameError = (text: string) => connectionError(ReplyCode.FRAME_ERROR, text);

const utf8Encoder = new TextEncoder();
// Long strings are opaque binaries to RabbitMQ: invalid UTF-8 there becomes U+FFFD (the only
// case where decode→encode is not byte-exact). Short strings (names, keys, tags) must be valid
// UTF-8: RabbitMQ closes the connection with 501 "Malformed UTF-8 in shortstr", and so do we,
// so two different byte strings can never become the same name.
const utf8Decoder = new TextDecoder();
// ignoreBOM: a leading U+FEFF is part of the name, not a marker to drop.
const strictUtf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const TWO_32 = 4294967296;

/** A short string's UTF-8; 501 FRAME_ERROR (as RabbitMQ) when it is not valid UTF-8. */
export function decodeShortstr(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) {
      try {
        return strictUtf8Decoder.decode(bytes);
      } catch {
        throw frameError("Malformed UTF-8 in shortstr");
      }
    }
    s += String.fromCharCode(b);
  }
  return s;
}

/** Decodes UTF-8; short ASCII strings (names, keys) skip TextDecoder's call overhead. */
export function decodeUtf8(bytes: Uint8Array): string {
  if (bytes.length <= 64) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b >= 0x80) return utf8Decoder.decode(bytes);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return utf8Decoder.decode(bytes);
}

/** Joins byte arrays; a single part is returned as it is, without copying. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  let size = 0;
  for (const p of parts) size += p.length;
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function encodeUtf8(s: string): Uint8Array {
  return utf8Encoder.encode(s);
}

function checkInt(v: number, min: number, max: number, what: string): number {
  if (!Number.isInteger(v) || v < min || v > max) throw encodeError(`${what} out of range: ${v}`);
  return v;
}

/** A growable big-endian writer. Call finish() once and stop writing, or takeCopy() and go on. */
export class Writer {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
  }

  get length(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): this {
    checkInt(v, 0, 0xff, "octet");
    this.ensure(1);
    this.buf[this.pos++] = v;
    return this;
  }
  i8(v: number): this {
    checkInt(v, -0x80, 0x7f, "signed octet");
    this.ensure(1);
    this.view.setInt8(this.pos++, v);
    return this;
  }
  u16(v: number): this {
    checkInt(v, 0, 0xffff, "short");
    this.ensure(2);
    this.view.setUint16(this.pos, v);
    this.pos += 2;
    return this;
  }
  i16(v: number): this {
    checkInt(v, -0x8000, 0x7fff, "signed short");
    this.ensure(2);
    this.view.setInt16(this.pos, v);
    this.pos += 2;
    return this;
  }
  u32(v: number): this {
    checkInt(v, 0, 0xffffffff, "long");
    this.ensure(4);
    this.view.setUint32(this.pos, v);
    this.pos += 4;
    return this;
  }
  i32(v: number): this {
    checkInt(v, -0x80000000, 0x7fffffff, "signed long");
    this.ensure(4);
    this.view.setInt32(this.pos, v);
    this.pos += 4;
    return this;
  }
  u64(v: bigint): this {
    if (v < 0n || v > 0xffffffffffffffffn) throw encodeError(`longlong out of range: ${v}`);
    this.ensure(8);
    this.view.setBigUint64(this.pos, v);
    this.pos += 8;
    return this;
  }
  i64(v: bigint): this {
    if (v < -0x8000000000000000n || v > 0x7fffffffffffffffn) throw encodeError(`signed longlong out of range: ${v}`);
    this.ensure(8);
    this.view.setBigInt64(this.pos, v);
    this.pos += 8;
    return this;
  }
  /** Unsigned 64-bit from a JS number (delivery tags, body sizes): no bigint allocation. */
  u64n(v: number): this {
    // Any integral double below 2^64 splits exactly into two 32-bit halves.
    if (!Number.isInteger(v) || v < 0 || v >= 2 ** 64) throw encodeError(`longlong out of range: ${v}`);
    this.ensure(8);
    this.view.setUint32(this.pos, Math.floor(v / TWO_32));
    this.view.setUint32(this.pos + 4, v % TWO_32);
    this.pos += 8;
    return this;
  }
  f32(v: number): this {
    this.ensure(4);
    this.view.setFloat32(this.pos, v);
    this.pos += 4;
    return this;
  }
  f64(v: number): this {
    this.ensure(8);
    this.view.setFloat64(this.pos, v);
    this.pos += 8;
    return this;
  }
  bytes(b: Uint8Array): this {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
    return this;
  }

  /** Writes UTF-8 at pos (capacity already ensured for 3 bytes per UTF-16 unit), returns byte count. */
  private utf8At(s: string, at: number): number {
    const buf = this.buf;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return utf8Encoder.encodeInto(s, buf.subarray(at, at + s.length * 3)).written;
      buf[at + i] = c;
    }
    return s.length;
  }

  /** octet length + UTF-8 bytes; more than 255 bytes is an error, never truncated. */
  shortstr(s: string): this {
    // A UTF-8 encoding is never shorter than its UTF-16 length.
    if (s.length > 255) throw encodeError(`shortstr longer than 255 bytes (${s.length} chars)`);
    this.ensure(1 + s.length * 3);
    const n = this.utf8At(s, this.pos + 1);
    if (n > 255) throw encodeError(`shortstr longer than 255 bytes (${n})`);
    this.buf[this.pos] = n;
    this.pos += 1 + n;
    return this;
  }

  /** long length + UTF-8 bytes (string) or the raw bytes. */
  longstr(v: string | Uint8Array): this {
    if (typeof v !== "string") return this.u32(v.length).bytes(v);
    this.ensure(4 + v.length * 3);
    const n = this.utf8At(v, this.pos + 4);
    this.view.setUint32(this.pos, n);
    this.pos += 4 + n;
    return this;
  }

  /** Reserves a u32 to be filled by patchU32 (lengths known only after writing). */
  reserveU32(): number {
    this.ensure(4);
    const at = this.pos;
    this.pos += 4;
    return at;
  }
  patchU32(at: number, v: number): void {
    this.view.setUint32(at, v);
  }

  /** Drops everything written after `length` bytes (to undo a failed encode). */
  truncate(length: number): void {
    if (length < this.pos) this.pos = Math.max(0, length);
  }

  /** The written bytes (a view on the internal buffer, no copy). */
  finish(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  /**
   * A copy of what was written, then empty again for reuse: one exact-size allocation instead
   * of a new buffer regrown from scratch each time. A buffer grown past `keep` is let go.
   */
  takeCopy(keep = 1 << 20): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    if (this.buf.length > keep) {
      this.buf = new Uint8Array(4096);
      this.view = new DataView(this.buf.buffer);
    }
    return out;
  }
}

/** A big-endian reader over a Uint8Array; throws TruncatedError (502) on short input. */
export class Reader {
  readonly buf: Uint8Array;
  offset: number;
  private readonly view: DataView;

  constructor(buf: Uint8Array, offset = 0) {
    this.buf = buf;
    this.offset = offset;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get remaining(): number {
    return this.buf.length - this.offset;
  }
  atEnd(): boolean {
    return this.offset >= this.buf.length;
  }

  private need(n: number, what: string): number {
    const at = this.offset;
    if (at + n > this.buf.length) throw new TruncatedError(what);
    this.offset = at + n;
    return at;
  }

  u8(): number {
    return this.view.getUint8(this.need(1, "octet"));
  }
  i8(): number {
    return this.view.getInt8(this.need(1, "octet"));
  }
  u16(): number {
    return this.view.getUint16(this.need(2, "short"));
  }
  i16(): number {
    return this.view.getInt16(this.need(2, "short"));
  }
  u32(): number {
    return this.view.getUint32(this.need(4, "long"));
  }
  i32(): number {
    return this.view.getInt32(this.need(4, "long"));
  }
  u64(): bigint {
    return this.view.getBigUint64(this.need(8, "longlong"));
  }
  i64(): bigint {
    return this.view.getBigInt64(this.need(8, "longlong"));
  }
  /** Unsigned 64-bit as a number; values above 2^53 lose precision (see u64Safe). */
  u64n(): number {
    const at = this.need(8, "longlong");
    return this.view.getUint32(at) * TWO_32 + this.view.getUint32(at + 4);
  }
  /** Unsigned 64-bit as a number, or null when above Number.MAX_SAFE_INTEGER. */
  u64Safe(): number | null {
    const at = this.need(8, "longlong");
    const hi = this.view.getUint32(at);
    if (hi > 0x1fffff) return null;
    return hi * TWO_32 + this.view.getUint32(at + 4);
  }
  f32(): number {
    return this.view.getFloat32(this.need(4, "float"));
  }
  f64(): number {
    return this.view.getFloat64(this.need(8, "double"));
  }
  /** A view on the next n bytes (no copy). */
  bytes(n: number, what = "bytes"): Uint8Array {
    const at = this.need(n, what);
    return this.buf.subarray(at, at + n);
  }
  shortstr(): string {
    return decodeShortstr(this.bytes(this.u8(), "shortstr"));
  }
  longstr(): string {
    return decodeUtf8(this.longstrBytes());
  }
  longstrBytes(): Uint8Array {
    return this.bytes(this.u32(), "longstr");
  }
}
