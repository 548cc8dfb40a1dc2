import { encodeUtf8, type FieldType, type FieldValue } from "../amqp";

/**
 * RabbitMQ's error texts print Erlang terms (`{value_negative,-1}`, `"expected integer, got
 * longstr"`, `[{byte,1}]`) with io_lib's ~p. This is enough of ~p to give the same text for the
 * terms those errors contain. Strings and binaries are byte strings here, one char per byte of
 * their UTF-8, as RabbitMQ 3.10 formats them (~s, latin1 ~p): `text` turns the result back.
 */
export type ErlTerm =
  | { t: "int"; v: bigint }
  | { t: "float"; v: number }
  | { t: "atom"; v: string }
  /** A binary (<<"...">>); v is a byte string. */
  | { t: "bin"; v: string }
  /** A list of chars ("..." when printable, else [1,2]); v is a byte string. */
  | { t: "str"; v: string }
  | { t: "list"; v: ErlTerm[] }
  | { t: "tuple"; v: ErlTerm[] };

export const int = (v: number | bigint): ErlTerm => ({ t: "int", v: BigInt(v) });
export const atom = (v: string): ErlTerm => ({ t: "atom", v });
export const tuple = (...v: ErlTerm[]): ErlTerm => ({ t: "tuple", v });
/** A JS string as the Erlang string (char list) of its UTF-8 bytes. */
export const str = (s: string): ErlTerm => ({ t: "str", v: byteString(s) });

/** The UTF-8 bytes of `s`, one char each. */
export function byteString(s: string): string {
  const b = encodeUtf8(s);
  let out = "";
  for (let i = 0; i < b.length; i++) out += String.fromCharCode(b[i]!);
  return out;
}

const utf8 = new TextDecoder();

/** A byte string (as `write` and `pretty` return) read back as the UTF-8 text it holds. */
export function text(bytes: string): string {
  const b = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) b[i] = bytes.charCodeAt(i) & 0xff;
  return utf8.decode(b);
}

/** RabbitMQ's name of a field-table type (rabbit_binary_parser): "byte", "longstr", ... */
export function rabbitType(t: FieldType): string {
  return RABBIT_TYPES[t];
}

const RABBIT_TYPES: Record<FieldType, string> = {
  t: "bool",
  b: "byte",
  B: "unsignedbyte",
  s: "short",
  u: "unsignedshort",
  I: "signedint",
  i: "unsignedint",
  l: "long",
  L: "long",
  f: "float",
  d: "double",
  D: "decimal",
  S: "longstr",
  x: "binary",
  A: "array",
  F: "table",
  T: "timestamp",
  V: "void",
};

/** The Erlang value RabbitMQ holds for a field value (what it prints and compares). */
export function rawTerm(v: FieldValue): ErlTerm {
  switch (v.type) {
    case "t":
      return atom(v.value ? "true" : "false");
    case "b":
    case "B":
    case "s":
    case "u":
    case "I":
    case "i":
    case "l":
    case "L":
    case "T":
      return int(v.value);
    case "f":
    case "d":
      return { t: "float", v: v.value };
    case "D":
      return tuple(int(v.value.scale), int(v.value.value));
    case "S":
      return { t: "bin", v: byteString(v.value) };
    case "x": {
      let s = "";
      for (let i = 0; i < v.value.length; i++) s += String.fromCharCode(v.value[i]!);
      return { t: "bin", v: s };
    }
    case "A":
      return { t: "list", v: v.value.map((e) => tuple(atom(rabbitType(e.type)), rawTerm(e))) };
    case "F":
      return {
        t: "list",
        v: Object.entries(v.value).map(([k, e]) => tuple({ t: "bin", v: byteString(k) }, atom(rabbitType(e.type)), rawTerm(e))),
      };
    case "V":
      return atom("undefined");
  }
}

/** Erlang's =:= (exact: 1 and 1.0 differ). */
export function exactlyEqual(a: ErlTerm, b: ErlTerm): boolean {
  return compare(a, b, true);
}

/** Erlang's == (numbers compare by value: 1 == 1.0). */
export function equal(a: ErlTerm, b: ErlTerm): boolean {
  return compare(a, b, false);
}

function compare(a: ErlTerm, b: ErlTerm, exact: boolean): boolean {
  if (!exact && (a.t === "int" || a.t === "float") && (b.t === "int" || b.t === "float")) {
    if (a.t === "int" && b.t === "int") return a.v === b.v;
    return Number(a.v) === Number(b.v);
  }
  if (a.t !== b.t) return false;
  if (a.t === "list" || a.t === "tuple") {
    const bv = b.v as ErlTerm[];
    return a.v.length === bv.length && a.v.every((x, i) => compare(x, bv[i]!, exact));
  }
  if (a.t === "float") return Object.is(a.v, b.v) || a.v === b.v;
  return a.v === b.v;
}

/** ~p on one line, as a byte string. */
export function write(term: ErlTerm): string {
  switch (term.t) {
    case "int":
      return term.v.toString();
    case "float":
      return erlangFloat(term.v);
    case "atom":
      return term.v;
    case "bin":
      if (term.v.length > 0 && isPrintable(term.v)) return `<<${quote(term.v)}>>`;
      return `<<${[...term.v].map((c) => c.charCodeAt(0)).join(",")}>>`;
    case "str":
      if (term.v.length === 0) return "[]";
      if (isPrintable(term.v)) return quote(term.v);
      return `[${[...term.v].map((c) => c.charCodeAt(0)).join(",")}]`;
    case "list":
      return `[${term.v.map(write).join(",")}]`;
    case "tuple":
      return `{${term.v.map(write).join(",")}}`;
  }
}

/**
 * ~p at 1-based column `col` of a line `lineLength` long (80 for ~p, 255 for ~255p), as io_lib_pretty
 * lays it out: on one line when it fits, else a tagged tuple ({atom, ...}) with its elements on the
 * following lines. Other terms that do not fit stay on one line (RabbitMQ's errors hold no others).
 */
export function pretty(term: ErlTerm, col: number, lineLength = 80): string {
  const one = write(term);
  if (one.length < lineLength - col || term.t !== "tuple" || term.v.length < 2 || term.v[0]!.t !== "atom") return one;
  const [tag, ...rest] = term.v.map(write);
  // io_lib_pretty's indentation for a tagged tuple: after the tag when that column is left of the
  // middle of the line, else 4, else 1, past the brace.
  const tagCol = col + tag!.length + 2;
  if (tagCol < Math.floor(lineLength / 2)) return one;
  const indent = col + 4 <= Math.floor(lineLength / 2) ? 4 : 1;
  const pad = " ".repeat(col - 1 + indent);
  let out = `{${tag}`;
  let at = tagCol;
  for (const e of rest) {
    if (e.length + 2 < lineLength - at) {
      out += `,${e}`;
      at += e.length + 1;
    } else {
      out += `,\n${pad}${e}`;
      at = col + indent + e.length;
    }
  }
  return `${out}}`;
}

/** io_lib's printable_latin1_list. */
function isPrintable(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 32 && c <= 126) || (c >= 160 && c <= 255)) continue;
    if (c === 10 || c === 13 || c === 9 || c === 11 || c === 8 || c === 12 || c === 27) continue;
    return false;
  }
  return true;
}

const ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
  "\v": "\\v",
  "\b": "\\b",
  "\f": "\\f",
  "\x1b": "\\e",
};

function quote(s: string): string {
  let out = '"';
  for (const c of s) out += ESCAPES[c] ?? c;
  return `${out}"`;
}

/** Erlang's shortest float text: the digits that read back exactly, plain or with an exponent, whichever is shorter. */
export function erlangFloat(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const sign = x < 0 ? "-" : "";
  const [mantissa, exp] = Math.abs(x).toExponential().split("e") as [string, string];
  const digits = mantissa.replace(".", "");
  const e = Number(exp);
  const place = e + 1;
  let plain: string;
  if (place <= 0) plain = `0.${"0".repeat(-place)}${digits}`;
  else if (place < digits.length) plain = `${digits.slice(0, place)}.${digits.slice(place)}`;
  else plain = `${digits}${"0".repeat(place - digits.length)}.0`;
  const scientific = `${digits[0]}.${digits.length > 1 ? digits.slice(1) : "0"}e${e}`;
  return sign + (plain.length <= scientific.length ? plain : scientific);
}
