// A set that remembers how many times each member was added. Several
// bindings can share one (destination, routing key) pair when their
// arguments differ; the destination must stay routable until the last of
// them is removed.
export class CountedSet {
  readonly #counts = new Map<string, number>();

  add(member: string): void {
    this.#counts.set(member, (this.#counts.get(member) ?? 0) + 1);
  }

  /** Returns true if the member is now gone entirely. */
  delete(member: string): boolean {
    const n = this.#counts.get(member);
    if (n === undefined) return false;
    if (n > 1) {
      this.#counts.set(member, n - 1);
      return false;
    }
    this.#counts.delete(member);
    return true;
  }

  has(member: string): boolean {
    return this.#counts.has(member);
  }

  get size(): number {
    return this.#counts.size;
  }

  keys(): IterableIterator<string> {
    return this.#counts.keys();
  }

  addAllTo(out: Set<string>): void {
    for (const k of this.#counts.keys()) out.add(k);
  }
}
