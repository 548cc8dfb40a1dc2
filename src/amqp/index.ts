// Public API of the AMQP 0-9-1 codec (pure: no Workers or Node imports).
//
// Error codes raised while decoding (all connection-level, hard):
//   501 FRAME_ERROR      bad frame-end, unknown frame type, oversize frame,
//                        invalid heartbeat, method payload < 4 bytes, content
//                        header < 14 bytes, body overrunning its declared size
//                        or declared size over maxBodySize, a name (short
//                        string of a method without content) that is not
//                        UTF-8 (as RabbitMQ; other strings take any bytes)
//   502 SYNTAX_ERROR     malformed/truncated method arguments, tables, properties
//   503 COMMAND_INVALID  content method on channel 0
//   505 UNEXPECTED_FRAME header/body/method out of order (as RabbitMQ)
//   540 NOT_IMPLEMENTED  unknown class/method id
// Values the encoders cannot represent raise 541 INTERNAL_ERROR.
export * from "./constants";
export * from "./errors";
export * from "./buffer";
export * from "./field-table";
export * from "./methods";
export * from "./properties";
export * from "./frame-reader";
export * from "./frame-writer";
export * from "./command-assembler";
export * from "./close";
