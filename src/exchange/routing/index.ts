// Public surface of the pure routing logic.
export type { Binding, Router } from "./types";
export { headerValueEquals } from "./equality";
export type { XMatch } from "./headers";
export { headersMatch, parseXMatch, validateHeadersBindingArgs, HeadersRouter } from "./headers";
export { DirectRouter } from "./direct";
export { FanoutRouter } from "./fanout";
export { TopicRouter } from "./topic";
export { splitTopicKey, TopicTrie } from "./topic-trie";
