import { CountedSet } from "./counted-set";

// Word trie for topic bindings. Each edge is one word of a binding key; "*"
// and "#" are ordinary edges that the matcher treats specially. Routing cost
// depends on the routing key's length and on the trie branches it can reach,
// never on the total number of bindings.
//
// Word splitting follows RabbitMQ (rabbit_db_topic_exchange:
// split_topic_key_binary): the empty key has zero words, otherwise split on
// every "." so empty words are real words ("a..b" = ["a", "", "b"],
// "a." = ["a", ""]). "*" and "#" are wildcards only as whole words.

export function splitTopicKey(key: string): string[] {
  return key === "" ? [] : key.split(".");
}

interface TrieNode {
  /** Unique per trie; keys the matcher's visited set. */
  readonly id: number;
  /** Reached through a "#" edge: may absorb any number of further words. */
  readonly isHash: boolean;
  readonly children: Map<string, TrieNode>;
  /** Destinations of bindings whose key ends at this node. */
  readonly destinations: CountedSet;
}

export class TopicTrie {
  #nextId = 0;
  #nodeCount = 0;
  readonly #root: TrieNode = this.#newNode(false);
  /** States (node, word position) expanded by the last match(); for tests. */
  lastMatchStates = 0;

  /** Nodes currently allocated, root included; 1 when empty. */
  get nodeCount(): number {
    return this.#nodeCount;
  }

  insert(bindingKey: string, destination: string): void {
    let node = this.#root;
    for (const word of splitTopicKey(bindingKey)) {
      let child = node.children.get(word);
      if (!child) node.children.set(word, (child = this.#newNode(word === "#")));
      node = child;
    }
    node.destinations.add(destination);
  }

  /** Removes one binding; prunes nodes left with no bindings and no children. */
  remove(bindingKey: string, destination: string): boolean {
    const path: Array<{ parent: TrieNode; word: string }> = [];
    let node = this.#root;
    for (const word of splitTopicKey(bindingKey)) {
      const child = node.children.get(word);
      if (!child) return false;
      path.push({ parent: node, word });
      node = child;
    }
    if (!node.destinations.has(destination)) return false;
    node.destinations.delete(destination);
    for (let i = path.length - 1; i >= 0; i--) {
      if (node.children.size > 0 || node.destinations.size > 0) break;
      const step = path[i];
      if (!step) break;
      step.parent.children.delete(step.word);
      this.#nodeCount--;
      node = step.parent;
    }
    return true;
  }

  /**
   * Adds to `out` every destination whose binding key matches `routingKey`.
   *
   * The search runs over states (node, i) = "at this node, having consumed
   * the first i words". From a state we follow the literal word edge and the
   * "*" edge (one word each) and the "#" edge (zero words); a node entered by
   * "#" may also absorb one more word, staying on the same node. Without
   * care, keys like "#.#.#" reach the same state along combinatorially many
   * paths. Only "#" nodes have more than one way in, so recording the states
   * seen at "#" nodes is enough to expand every state at most once: the work
   * is bounded by (reachable nodes) x (words + 1).
   */
  match(routingKey: string, out: Set<string>): void {
    const words = splitTopicKey(routingKey);
    const n = words.length;
    const seenHashStates = new Set<number>();
    const nodes: TrieNode[] = [];
    const positions: number[] = [];
    const push = (node: TrieNode, i: number): void => {
      if (node.isHash) {
        const key = node.id * (n + 1) + i;
        if (seenHashStates.has(key)) return;
        seenHashStates.add(key);
      }
      nodes.push(node);
      positions.push(i);
    };

    let states = 0;
    push(this.#root, 0);
    for (;;) {
      const node = nodes.pop();
      const i = positions.pop();
      if (node === undefined || i === undefined) break;
      states++;
      const hash = node.children.get("#");
      if (hash) push(hash, i);
      const word = words[i];
      if (word === undefined) {
        node.destinations.addAllTo(out);
        continue;
      }
      if (node.isHash) push(node, i + 1);
      const star = node.children.get("*");
      if (star) push(star, i + 1);
      // A routing-key word spelled "*" or "#" would look up a wildcard edge
      // a second time; those edges already cover it.
      if (word !== "*" && word !== "#") {
        const literal = node.children.get(word);
        if (literal) push(literal, i + 1);
      }
    }
    this.lastMatchStates = states;
  }

  #newNode(isHash: boolean): TrieNode {
    this.#nodeCount++;
    return { id: this.#nextId++, isHash, children: new Map(), destinations: new CountedSet() };
  }
}
