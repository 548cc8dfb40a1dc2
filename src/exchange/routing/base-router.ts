import { fieldTableEquals, type FieldTable } from "../../amqp";
import type { Binding, Router } from "./types";

// Binding bookkeeping shared by every exchange type: identity is
// (destination, routing key, arguments by value), as in RabbitMQ where the
// binding record includes its arguments. Arguments compare with the codec's
// equality (RabbitMQ's type classes), not the headers exchange's looser one.
// Subclasses only maintain their routing index through onAdd/onRemove.
export abstract class BaseRouter implements Router {
  /** (destination, routingKey) → stored bindings; usually one entry. */
  readonly #byPair = new Map<string, Binding[]>();
  /** Insertion order for bindings(). */
  readonly #all = new Set<Binding>();

  add(b: Binding): boolean {
    const pair = pairKey(b);
    const list = this.#byPair.get(pair);
    if (list?.some((s) => fieldTableEquals(s.arguments, b.arguments))) return false;
    // Store a frozen shallow copy so a caller mutating its object cannot
    // desynchronise the index. The arguments table is shared, not copied:
    // callers must treat it as immutable once bound.
    const stored: Binding = Object.freeze({
      destination: b.destination,
      routingKey: b.routingKey,
      arguments: b.arguments,
    });
    if (list) list.push(stored);
    else this.#byPair.set(pair, [stored]);
    this.#all.add(stored);
    this.onAdd(stored);
    return true;
  }

  remove(b: Binding): boolean {
    const pair = pairKey(b);
    const list = this.#byPair.get(pair);
    const i = list?.findIndex((s) => fieldTableEquals(s.arguments, b.arguments)) ?? -1;
    const stored = list?.[i];
    if (!list || !stored) return false;
    list.splice(i, 1);
    if (list.length === 0) this.#byPair.delete(pair);
    this.#all.delete(stored);
    this.onRemove(stored);
    return true;
  }

  get size(): number {
    return this.#all.size;
  }

  bindings(): Binding[] {
    return [...this.#all];
  }

  abstract route(routingKey: string, headers: FieldTable | undefined): Set<string>;
  protected abstract onAdd(b: Binding): void;
  protected abstract onRemove(b: Binding): void;
}

// Length-prefixing the destination makes the composite key unambiguous
// whatever characters the destination or routing key contain.
function pairKey(b: Binding): string {
  return `${b.destination.length}:${b.destination}${b.routingKey}`;
}
