// Big-endian byte Reader/Writer used by every encoder/decoder in this folder.
import { ReplyCode } from "./constants";
import { TruncatedError, connectionError, encodeError } from "./errors";

const frameError = (text: string) => connectionError(ReplyCode.FRAME_ERROR, text);

const utf8Encoder = new TextEncoder();
// ignoreBOM: a leading U+FEFF is part of the string, not a marker to drop.
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
// Not fatal: invalid input shows as U+FFFD instead of a (slow) exception.
const utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

// Strings are byte strings on the wire, and RabbitMQ passes most of them on as bytes: field
// tables (keys too), content properties, the exchange and routing key of basic.publish. So the
// codec decodes them losslessly ("surrogateescape"): valid UTF-8 as usual, and each byte that is
// not part of a valid sequence as the lone surrogate U+DC00 + byte. No valid UTF-8 decodes to a
// lone surrogate, so two byte strings never become the same string, and the encoders write such
// a surrogate back as its byte: decode → encode is byte-exact. Only the short-string arguments
// of methods without content (names, tags) must be valid UTF-8: RabbitMQ closes the connection
// with 501 "Malformed UTF-8 in shortstr" (strictShortstr), and so do we.

/** The first and last lone surrogate that stands for an invalid byte (0x80-0xFF). */
const ESCAPE_MIN = 0xdc80;
const ESCAPE_MAX = 0xdcff;

const TWO_32 = 4294967296;

/** Bytes → string: valid UTF-8 decoded, every other byte b kept as U+DC00 + b (see above). */
export function decodeUtf8(bytes: Uint8Array): string {
  // Short ASCII strings (names, keys) skip TextDecoder's call overhead.
  if (bytes.length <= 64) {
    let s = "";
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i] as number;
      if (b >= 0x80) return decodeNonAscii(bytes);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return decodeNonAscii(bytes);
}

function decodeNonAscii(bytes: Uint8Array): string {
  const s = utf8Decoder.decode(bytes);
  // No U+FFFD: the bytes were valid UTF-8. With one, they may be (EF BF BD) or not: look closer.
  return s.includes("\ufffd") ? decodeEscaped(bytes) : s;
}

/** A short string's UTF-8; 501 FRAME_ERROR (as RabbitMQ) when it is not valid UTF-8. */
export function decodeStrictShortstr(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) {
      try {
        return fatalUtf8.decode(bytes);
      } catch {
        throw frameError("Malformed UTF-8 in shortstr");
      }
    }
    s += String.fromCharCode(b);
  }
  return s;
}

/** Length of the well-formed UTF-8 sequence at i (Unicode table 3-7), 0 if there is none. */
function sequenceAt(b: Uint8Array, i: number): number {
  const b0 = b[i] as number;
  if (b0 < 0x80) return 1;
  const n = b.length;
  const cont = (at: number) => at < n && ((b[at] as number) & 0xc0) === 0x80;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const b1 = b[i + 1] ?? 0;
    // E0 needs A0-BF next (no overlong forms), ED 80-9F (no surrogates).
    const ok = b0 === 0xe0 ? b1 >= 0xa0 && b1 <= 0xbf : b0 === 0xed ? b1 >= 0x80 && b1 <= 0x9f : cont(i + 1);
    return ok && cont(i + 2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const b1 = b[i + 1] ?? 0;
    // F0 needs 90-BF next (no overlong forms), F4 80-8F (nothing above U+10FFFF).
    const ok = b0 === 0xf0 ? b1 >= 0x90 && b1 <= 0xbf : b0 === 0xf4 ? b1 >= 0x80 && b1 <= 0x8f : cont(i + 1);
    return ok && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

/** The slow path of decodeUtf8, for bytes that may not be valid UTF-8: valid runs decoded natively. */
function decodeEscaped(bytes: Uint8Array): string {
  let out = "";
  let run = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceAt(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    if (run < i) out += utf8Decoder.decode(bytes.subarray(run, i));
    out += String.fromCharCode(0xdc00 + (bytes[i] as number));
    run = ++i;
  }
  if (run < bytes.length) out += utf8Decoder.decode(bytes.subarray(run));
  return out;
}

// Typed here: String.prototype.isWellFormed is ES2024 (Node 20+, workerd), the lib is ES2023.
type MaybeWellFormed = string & { isWellFormed(): boolean };

/** Whether s is plain UTF-16 (no lone surrogates), so TextEncoder writes it exactly. */
function isWellFormed(s: string): boolean {
  return (s as MaybeWellFormed).isWellFormed();
}

/**
 * Writes s as UTF-8 into buf at `at` (room for 3 bytes per UTF-16 unit), an escaped byte
 * (U+DC80-U+DCFF) as that byte and any other lone surrogate as U+FFFD, as TextEncoder does.
 */
function encodeEscapedInto(s: string, buf: Uint8Array, at: number): number {
  let p = at;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) {
      buf[p++] = c;
    } else if (c < 0x800) {
      buf[p++] = 0xc0 | (c >> 6);
      buf[p++] = 0x80 | (c & 0x3f);
    } else if (c < 0xd800 || c > 0xdfff) {
      buf[p++] = 0xe0 | (c >> 12);
      buf[p++] = 0x80 | ((c >> 6) & 0x3f);
      buf[p++] = 0x80 | (c & 0x3f);
    } else if (c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      const cp = 0x10000 + ((c - 0xd800) << 10) + (s.charCodeAt(++i) - 0xdc00);
      buf[p++] = 0xf0 | (cp >> 18);
      buf[p++] = 0x80 | ((cp >> 12) & 0x3f);
      buf[p++] = 0x80 | ((cp >> 6) & 0x3f);
      buf[p++] = 0x80 | (cp & 0x3f);
    } else if (c >= ESCAPE_MIN && c <= ESCAPE_MAX) {
      buf[p++] = c - 0xdc00;
    } else {
      buf[p++] = 0xef;
      buf[p++] = 0xbf;
      buf[p++] = 0xbd;
    }
  }
  return p - at;
}

/** Joins byte arrays; a single part is returned as it is, without copying. */
/**
 * The most bytes a string takes in UTF-8 here (escaped bytes count one): exact for ASCII, so
 * buffers sized with it need no growing and no trimming copy.
 */
export function utf8Bound(s: string): number {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return s.length * 3;
  return s.length;
}

// Typed here: ArrayBuffer.prototype.transfer is ES2024 (workerd and Node have it), the lib is ES2023.
type Detachable = ArrayBuffer & { transfer?(length?: number): ArrayBuffer };

/**
 * The bytes of `data` moved (not copied) into an ArrayBuffer of our own, `data` left empty. The
 * runtime keeps some buffers it hands out (received WebSocket messages, SQLite values) alive
 * until the isolate's next full GC, which locally comes seldom; a moved buffer dies with its last
 * view. A buffer that cannot be detached is returned as it is.
 */
export function moveBytes(data: ArrayBuffer): ArrayBuffer {
  try {
    return (data as Detachable).transfer?.() ?? data;
  } catch {
    return data;
  }
}

/**
 * Frees a buffer's memory now instead of at the isolate's next GC, which for an ArrayBuffer
 * whose JS object is a few bytes may be hundreds of MB of garbage away: the hot path allocates
 * large buffers (delivery batches, transport writes) that die at a known point. Only a view
 * that spans its whole buffer is freed, and the caller promises no other view of it is used
 * again: a detached view reads as empty.
 */
export function release(bytes: Uint8Array): void {
  const buffer = bytes.buffer as Detachable;
  if (bytes.byteOffset !== 0 || bytes.byteLength !== buffer.byteLength || bytes.byteLength === 0) return;
  try {
    buffer.transfer?.(0);
  } catch {
    // Not detachable (shared, or a host-owned buffer): the GC frees it.
  }
}

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

/** String → UTF-8, giving back the bytes decodeUtf8 kept as lone surrogates. */
export function encodeUtf8(s: string): Uint8Array {
  if (isWellFormed(s)) return utf8Encoder.encode(s);
  const buf = new Uint8Array(s.length * 3);
  return buf.subarray(0, encodeEscapedInto(s, buf, 0));
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

  /**
   * Writes UTF-8 at pos (capacity already ensured for 3 bytes per UTF-16 unit), returns byte
   * count. Escaped bytes (decodeUtf8) go back as the bytes they were.
   */
  private utf8At(s: string, at: number): number {
    const buf = this.buf;
    // Short ASCII (names, keys) is copied here: cheaper than a call into TextEncoder.
    if (s.length <= 64) {
      for (let i = 0; i < s.length; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) return this.utf8NonAscii(s, at);
        buf[at + i] = c;
      }
      return s.length;
    }
    return this.utf8NonAscii(s, at);
  }

  private utf8NonAscii(s: string, at: number): number {
    if (isWellFormed(s)) return utf8Encoder.encodeInto(s, this.buf.subarray(at, at + s.length * 3)).written;
    return encodeEscapedInto(s, this.buf, at);
  }

  /** octet length + UTF-8 bytes; more than 255 bytes is an error, never truncated. */
  shortstr(s: string): this {
    // A UTF-8 encoding is never shorter than its UTF-16 length.
    if (s.length > 255) throw encodeError(`shortstr longer than 255 bytes (${s.length} chars)`);
    this.ensure(1 + utf8Bound(s));
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
  /** A short string as it is, any bytes (see decodeUtf8). */
  shortstr(): string {
    return decodeUtf8(this.bytes(this.u8(), "shortstr"));
  }
  /** A short string that must be valid UTF-8 (a name or tag): 501 FRAME_ERROR otherwise, as RabbitMQ. */
  strictShortstr(): string {
    return decodeStrictShortstr(this.bytes(this.u8(), "shortstr"));
  }
  /** A long string as it is, any bytes (see decodeUtf8). */
  longstr(): string {
    return decodeUtf8(this.longstrBytes());
  }
  longstrBytes(): Uint8Array {
    return this.bytes(this.u32(), "longstr");
  }
}
