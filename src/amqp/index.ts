// Public API of the AMQP 0-9-1 codec (pure: no Workers or Node imports).
export * from "./constants";
export * from "./errors";
export * from "./buffer";
export * from "./field-table";
export * from "./methods";
export * from "./properties";
export * from "./frame-reader";
export * from "./frame-writer";
export * from "./command-assembler";
