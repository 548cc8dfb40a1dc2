// Shared builders and a table-driven runner for the routing tests.
import { expect } from "vitest";
import type { FieldTable, FieldValue } from "../../src/amqp";
import { createRouter, type ExchangeType } from "../../src/exchange/registry";
import type { Binding, Router } from "../../src/exchange/routing/types";

export const S = (value: string): FieldValue => ({ type: "S", value });
export const I = (value: number): FieldValue => ({ type: "I", value });
export const b = (value: number): FieldValue => ({ type: "b", value });
export const u = (value: number): FieldValue => ({ type: "u", value });
export const l = (value: bigint): FieldValue => ({ type: "l", value });
export const T = (value: bigint): FieldValue => ({ type: "T", value });
export const d = (value: number): FieldValue => ({ type: "d", value });
export const f = (value: number): FieldValue => ({ type: "f", value });
export const D = (scale: number, value: number): FieldValue => ({ type: "D", value: { scale, value } });
export const t = (value: boolean): FieldValue => ({ type: "t", value });
export const x = (...bytes: number[]): FieldValue => ({ type: "x", value: new Uint8Array(bytes) });
export const A = (...value: FieldValue[]): FieldValue => ({ type: "A", value });
export const F = (value: FieldTable): FieldValue => ({ type: "F", value });
export const V: FieldValue = { type: "V", value: null };

/** [destination, routingKey, arguments?] — compact binding notation for tables. */
export type BindingSpec = readonly [string, string, FieldTable?];

export interface RouteCase {
  name: string;
  bindings: readonly BindingSpec[];
  key: string;
  headers?: FieldTable;
  expect: readonly string[];
}

export function toBinding([destination, routingKey, args]: BindingSpec): Binding {
  return { destination, routingKey, arguments: args ?? {} };
}

export function routerWith(type: ExchangeType, bindings: readonly BindingSpec[]): Router {
  const r = createRouter(type);
  for (const spec of bindings) r.add(toBinding(spec));
  return r;
}

export function checkCase(type: ExchangeType, c: RouteCase): void {
  const r = routerWith(type, c.bindings);
  const got = r.route(c.key, c.headers);
  expect([...got].sort()).toEqual([...c.expect].sort());
}
