import { BaseRouter } from "./base-router";
import type { FieldTable } from "../../amqp";
import { TopicTrie } from "./topic-trie";
import type { Binding } from "./types";

// Topic exchange: binding keys are dot-separated patterns where "*" matches
// exactly one word and "#" zero or more words; see topic-trie.ts.
export class TopicRouter extends BaseRouter {
  /** Exposed read-only for tests (node count, states visited). */
  readonly trie = new TopicTrie();

  override route(routingKey: string, _headers?: FieldTable): Set<string> {
    const out = new Set<string>();
    this.trie.match(routingKey, out);
    return out;
  }

  protected override onAdd(b: Binding): void {
    this.trie.insert(b.routingKey, b.destination);
  }

  protected override onRemove(b: Binding): void {
    this.trie.remove(b.routingKey, b.destination);
  }
}
