// Method payload codec and its types, both derived from METHOD_TABLE.
import { ReplyCode } from "./constants";
import { Reader, Writer } from "./buffer";
import { AmqpError, TruncatedError, connectionError, encodeError } from "./errors";
import { decodeFieldTable, writeFieldTable, type FieldTable } from "./field-table";
import { METHOD_TABLE, type ArgType, type MethodSpec } from "./method-table";
import { decodeHotMethod } from "./hot-decoders";

export { METHOD_TABLE, type ArgType, type MethodSpec } from "./method-table";

type Table = typeof METHOD_TABLE;
export type MethodName = keyof Table;

/**
 * TS type of each argument type. longlong is a number, not a bigint: the
 * only longlongs are delivery tags, which stay far below 2^53; a peer's
 * value above that decodes imprecisely (and then matches no real tag).
 */
export interface ArgTsType {
  octet: number;
  short: number;
  long: number;
  longlong: number;
  shortstr: string;
  longstr: string;
  bit: boolean;
  table: FieldTable;
  timestamp: bigint;
}

export type MethodArgs<N extends MethodName> = {
  [F in Table[N]["fields"][number] as F[0]]: ArgTsType[F[1]];
};
export type Method<N extends MethodName> = { name: N; args: MethodArgs<N> };
export type AnyMethod = { [N in MethodName]: Method<N> }[MethodName];
/** Names of the methods followed by content (publish, return, deliver, get-ok). */
export type ContentMethodName = {
  [N in MethodName]: Table[N] extends { content: true } ? N : never;
}[MethodName];

export const METHOD_NAMES = Object.keys(METHOD_TABLE) as MethodName[];

const byId = new Map<number, MethodName>(
  METHOD_NAMES.map((name) => [(METHOD_TABLE[name].classId << 16) | METHOD_TABLE[name].methodId, name]),
);

function specOf(name: MethodName): MethodSpec {
  const spec: MethodSpec | undefined = METHOD_TABLE[name];
  if (!spec) throw encodeError(`unknown method ${JSON.stringify(name)}`);
  return spec;
}

export function methodIds(name: MethodName): { classId: number; methodId: number } {
  const { classId, methodId } = specOf(name);
  return { classId, methodId };
}

export function methodHasContent(name: MethodName): boolean {
  return specOf(name).content === true;
}

/** The method name for a class/method id pair, or undefined. */
export function methodName(classId: number, methodId: number): MethodName | undefined {
  return byId.get((classId << 16) | methodId);
}

/** Builds a method with every argument given (type-checked). */
export function method<N extends MethodName>(name: N, args: MethodArgs<N>): Method<N> {
  return { name, args };
}

const DEFAULTS: { [T in ArgType]: () => ArgTsType[T] } = {
  octet: () => 0,
  short: () => 0,
  long: () => 0,
  longlong: () => 0,
  shortstr: () => "",
  longstr: () => "",
  bit: () => false,
  table: () => ({}),
  timestamp: () => 0n,
};

/** The all-defaults (0, "", false, {}) arguments of a method. */
export function defaultArgs<N extends MethodName>(name: N): MethodArgs<N> {
  const args: Record<string, unknown> = {};
  for (const [field, type] of specOf(name).fields) args[field] = DEFAULTS[type]();
  return args as MethodArgs<N>;
}

/** Builds a method, filling omitted arguments (typically reserved ones) with defaults. */
export function makeMethod<N extends MethodName>(name: N, args: Partial<MethodArgs<N>> = {}): Method<N> {
  return { name, args: { ...defaultArgs(name), ...args } };
}

// ---------------------------------------------------------------- encoding

/** Writes the method payload (class id, method id, arguments) into w. */
export function writeMethod(w: Writer, m: AnyMethod): void {
  const spec = specOf(m.name);
  const args = m.args as Readonly<Record<string, unknown>>;
  w.u16(spec.classId).u16(spec.methodId);
  // Consecutive bits share octets, least significant bit first (spec 4.2.5.2).
  let bits = 0;
  let nbits = 0;
  for (const [field, type] of spec.fields) {
    const v = args[field];
    if (type === "bit") {
      if (nbits === 8) {
        w.u8(bits);
        bits = nbits = 0;
      }
      if (v === true) bits |= 1 << nbits;
      nbits++;
      continue;
    }
    if (nbits > 0) {
      w.u8(bits);
      bits = nbits = 0;
    }
    writeArg(w, type, v ?? DEFAULTS[type](), field);
  }
  if (nbits > 0) w.u8(bits);
}

function writeArg(w: Writer, type: Exclude<ArgType, "bit">, v: unknown, field: string): void {
  const bad = () => encodeError(`argument ${field}: expected ${type}, got ${typeof v}`);
  switch (type) {
    case "octet":
    case "short":
    case "long":
    case "longlong":
      if (typeof v !== "number") throw bad();
      if (type === "octet") w.u8(v);
      else if (type === "short") w.u16(v);
      else if (type === "long") w.u32(v);
      else w.u64n(v);
      return;
    case "timestamp":
      if (typeof v !== "bigint") throw bad();
      w.u64(v);
      return;
    case "shortstr":
      if (typeof v !== "string") throw bad();
      w.shortstr(v);
      return;
    case "longstr":
      if (typeof v !== "string" && !(v instanceof Uint8Array)) throw bad();
      w.longstr(v);
      return;
    case "table":
      if (typeof v !== "object" || v === null) throw bad();
      writeFieldTable(w, v as FieldTable);
      return;
  }
}

/** The method payload: class id, method id, arguments. */
export function encodeMethod(m: AnyMethod): Uint8Array {
  const w = new Writer(64);
  writeMethod(w, m);
  return w.finish();
}

// ---------------------------------------------------------------- decoding

/**
 * Decodes a method frame payload. Errors (all connection-level):
 *  - fewer than 4 bytes: FRAME_ERROR 501 (RabbitMQ cannot even classify it);
 *  - unknown class/method id: NOT_IMPLEMENTED 540 (RabbitMQ just crashes the
 *    connection there; 540 is what the spec offers for "not implemented");
 *  - truncated arguments or trailing bytes: FRAME_ERROR 501 "cannot decode <<…>>" with the
 *    method's ids, as RabbitMQ 3.10.8 answers them;
 *  - invalid values (an unknown field-table type, …): SYNTAX_ERROR 502 (RabbitMQ drops the socket).
 */
export function decodeMethod(payload: Uint8Array): AnyMethod {
  return decodeHotMethod(payload) ?? decodeMethodGeneric(payload);
}

/** The table-driven decoder for every method (decodeMethod tries the hot ones first). */
export function decodeMethodGeneric(payload: Uint8Array): AnyMethod {
  if (payload.length < 4) {
    throw connectionError(ReplyCode.FRAME_ERROR, `method frame payload too short (${payload.length} bytes)`);
  }
  const r = new Reader(payload);
  const classId = r.u16();
  const methodId = r.u16();
  const name = methodName(classId, methodId);
  if (!name) {
    throw connectionError(ReplyCode.NOT_IMPLEMENTED, `unknown method ${classId}/${methodId}`, classId, methodId);
  }
  const args: Record<string, unknown> = {};
  try {
    for (const step of decoderOf(name)) step(r, args);
  } catch (err) {
    // Re-tag with the method so the close names the culprit.
    // Frame errors (malformed UTF-8 in a short string) stay as they are: RabbitMQ gives them 0/0.
    if (err instanceof TruncatedError) throw cannotDecode(payload, classId, methodId);
    if (err instanceof AmqpError && err.code !== ReplyCode.FRAME_ERROR) {
      throw connectionError(err.code, `${name}: ${err.message}`, classId, methodId);
    }
    throw err;
  }
  if (!r.atEnd()) throw cannotDecode(payload, classId, methodId);
  return { name, args } as AnyMethod;
}

/** RabbitMQ's answer to arguments that end early or run on: the argument bytes, as Erlang prints a binary. */
function cannotDecode(payload: Uint8Array, classId: number, methodId: number): AmqpError {
  const bytes = Array.from(payload.subarray(4, 4 + 64)).join(",") + (payload.length > 68 ? ",..." : "");
  return connectionError(ReplyCode.FRAME_ERROR, `cannot decode <<${bytes}>>`, classId, methodId);
}

/** Reads one argument (or one octet of packed bits) into the args object. */
type DecodeStep = (r: Reader, args: Record<string, unknown>) => void;

// Each method's decoder is a list of steps compiled once from its row of the table, so decoding
// does not walk the field list and switch on its types for every frame.
const decoders = new Map<MethodName, readonly DecodeStep[]>();

function decoderOf(name: MethodName): readonly DecodeStep[] {
  let steps = decoders.get(name);
  if (!steps) {
    const spec: MethodSpec = METHOD_TABLE[name];
    steps = compileDecoder(spec.fields, spec.content === true);
    decoders.set(name, steps);
  }
  return steps;
}

/**
 * RabbitMQ checks UTF-8 only in the short strings of methods without content (its codegen skips
 * content-bearing methods): basic.publish's exchange and routing key may be any bytes.
 */
function compileDecoder(fields: MethodSpec["fields"], content: boolean): DecodeStep[] {
  const steps: DecodeStep[] = [];
  // Consecutive bits share octets, least significant bit first (spec 4.2.5.2).
  let bits: string[] | null = null;
  for (const [field, type] of fields) {
    if (type === "bit") {
      if (!bits || bits.length === 8) {
        const group: string[] = (bits = []);
        steps.push((r, args) => {
          const octet = r.u8();
          for (let i = 0; i < group.length; i++) args[group[i]!] = (octet & (1 << i)) !== 0;
        });
      }
      bits.push(field);
      continue;
    }
    bits = null;
    if (type === "shortstr" && !content) {
      steps.push((r, args) => {
        args[field] = r.strictShortstr();
      });
      continue;
    }
    steps.push((r, args) => {
      args[field] = readArg(r, type);
    });
  }
  return steps;
}

function readArg(r: Reader, type: Exclude<ArgType, "bit">): unknown {
  switch (type) {
    case "octet":
      return r.u8();
    case "short":
      return r.u16();
    case "long":
      return r.u32();
    case "longlong":
      return r.u64n();
    case "timestamp":
      return r.u64();
    case "shortstr":
      return r.shortstr();
    case "longstr":
      return r.longstr();
    case "table":
      return decodeFieldTable(r);
  }
}
