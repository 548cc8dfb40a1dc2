import { BaseRouter } from "./base-router";
import { headerValueEquals } from "./equality";
import type { FieldTable, FieldValue } from "../../amqp";
import type { Binding } from "./types";

// Headers exchange, following rabbit_exchange_type_headers.erl:
// - x-match is "all" (default), "any", "all-with-x" or "any-with-x".
// - The x-match argument itself never takes part in matching; other binding
//   arguments starting with "x-" are ignored unless a "-with-x" mode is used.
// - A void-typed binding argument only requires the header to be present.
// - "all" with no remaining keys matches every message (headers or not);
//   "any" with no remaining keys matches nothing.
// Like RabbitMQ, every binding is tested per message (no index).

export type XMatch = "all" | "any" | "all-with-x" | "any-with-x";

const X_MATCH_VALUES: readonly string[] = ["all", "any", "all-with-x", "any-with-x"];

function isXMatch(s: string): s is XMatch {
  return X_MATCH_VALUES.includes(s);
}

/** Error text for an invalid binding (to become 406 PRECONDITION_FAILED), or null. */
export function validateHeadersBindingArgs(args: FieldTable): string | null {
  const xm = args["x-match"];
  if (xm === undefined) return null; // omitted: means "all"
  if (xm.type !== "S") {
    return `Invalid x-match field type '${xm.type}' (value ${describe(xm)}); expected longstr`;
  }
  if (!isXMatch(xm.value)) {
    return `Invalid x-match field value ${JSON.stringify(xm.value)}; expected all, any, all-with-x, or any-with-x`;
  }
  return null;
}

/**
 * Unknown or mistyped x-match values fall back to "all", as RabbitMQ does
 * for bindings stored before it validated them. New bindings should have
 * been rejected by validateHeadersBindingArgs first.
 */
export function parseXMatch(args: FieldTable): XMatch {
  const xm = args["x-match"];
  return xm?.type === "S" && isXMatch(xm.value) ? xm.value : "all";
}

interface CompiledBinding {
  readonly destination: string;
  readonly any: boolean;
  /** Match keys left after dropping x-match (and x-* unless -with-x). */
  readonly entries: ReadonlyArray<readonly [string, FieldValue]>;
}

function compile(destination: string, args: FieldTable): CompiledBinding {
  const mode = parseXMatch(args);
  const withX = mode === "all-with-x" || mode === "any-with-x";
  const entries: Array<readonly [string, FieldValue]> = [];
  for (const [key, value] of Object.entries(args)) {
    if (key === "x-match") continue;
    if (!withX && key.startsWith("x-")) continue;
    entries.push([key, value]);
  }
  return { destination, any: mode === "any" || mode === "any-with-x", entries };
}

function entryMatches(key: string, want: FieldValue, headers: FieldTable): boolean {
  if (!Object.hasOwn(headers, key)) return false;
  if (want.type === "V") return true; // presence only
  const got = headers[key];
  return got !== undefined && headerValueEquals(want, got);
}

function matches(b: CompiledBinding, headers: FieldTable): boolean {
  return b.any ? b.entries.some(([k, v]) => entryMatches(k, v, headers)) : b.entries.every(([k, v]) => entryMatches(k, v, headers));
}

/** Whether a message with `headers` matches binding arguments `args`. */
export function headersMatch(args: FieldTable, headers: FieldTable | undefined): boolean {
  return matches(compile("", args), headers ?? {});
}

export class HeadersRouter extends BaseRouter {
  readonly #compiled = new Map<Binding, CompiledBinding>();

  override route(_routingKey: string, headers: FieldTable | undefined): Set<string> {
    const out = new Set<string>();
    const h = headers ?? {};
    for (const b of this.#compiled.values()) {
      if (!out.has(b.destination) && matches(b, h)) out.add(b.destination);
    }
    return out;
  }

  protected override onAdd(b: Binding): void {
    this.#compiled.set(b, compile(b.destination, b.arguments));
  }

  protected override onRemove(b: Binding): void {
    this.#compiled.delete(b);
  }
}

function describe(v: FieldValue): string {
  switch (v.type) {
    case "l":
    case "L":
    case "T":
      return v.value.toString();
    case "x":
      return `<${v.value.length} bytes>`;
    case "A":
    case "F":
      return v.type === "A" ? "array" : "table";
    default:
      return JSON.stringify(v.value);
  }
}
