// Turns frames into commands: a method, plus header and body for content
// methods. Error codes follow RabbitMQ's rabbit_command_assembler.
import { FrameType, MAX_BODY_SIZE, ReplyCode } from "./constants";
import { connectionError } from "./errors";
import type { Frame } from "./frame-reader";
import { decodeMethod, methodHasContent, methodIds, type AnyMethod } from "./methods";
import { decodeProperties, peekContentHeader, type BasicProperties } from "./properties";
import { Reader, concatBytes } from "./buffer";

export interface Command {
  channel: number;
  method: AnyMethod;
  /** Content commands only (basic.publish etc.): the decoded properties. */
  properties?: BasicProperties;
  /** Content commands only: the raw content-header payload, for zero-copy forwarding. */
  header?: Uint8Array;
  /** Content commands only: the whole body, in one buffer (empty when `oversize`). */
  body?: Uint8Array;
  /** Set when the declared body size exceeded maxMessageSize: the body was read and dropped. */
  oversize?: number;
}

interface PendingContent {
  method: AnyMethod;
  classId: number;
  methodId: number;
  header: Uint8Array | null; // null until the header frame arrives
  properties: BasicProperties;
  bodySize: number;
  received: number;
  parts: Uint8Array[];
  /** Over maxMessageSize: body bytes are counted, not kept. */
  discard: boolean;
}

export interface CommandAssemblerOptions {
  /** Largest body accepted; bigger declared sizes are FRAME_ERROR (RabbitMQ: 512 MiB). */
  maxBodySize?: number;
  /**
   * Bodies declared larger than this are read but not kept: the command completes with
   * `oversize` set, so the session can refuse it (406) without ever holding it.
   */
  maxMessageSize?: number;
  /** Body bytes of partly received messages held across all channels; beyond it 506 RESOURCE_ERROR. */
  maxPendingBytes?: number;
}

/**
 * Per-channel state machine: method → (content method) header → body frames
 * until body-size bytes. Out-of-order frames are UNEXPECTED_FRAME (505), as
 * in RabbitMQ; a body frame overrunning the declared size and a declared
 * size over maxBodySize are FRAME_ERROR (501), also as in RabbitMQ. All are
 * connection errors. Heartbeat frames are ignored (return null).
 */
export class CommandAssembler {
  maxBodySize: number;
  maxMessageSize: number;
  maxPendingBytes: number;
  private readonly pending = new Map<number, PendingContent>();
  /** Body bytes kept in `pending` across channels. */
  private held = 0;

  constructor(options: CommandAssemblerOptions = {}) {
    this.maxBodySize = options.maxBodySize ?? MAX_BODY_SIZE;
    this.maxMessageSize = options.maxMessageSize ?? this.maxBodySize;
    this.maxPendingBytes = options.maxPendingBytes ?? Number.POSITIVE_INFINITY;
  }

  /** Body bytes of partly received messages held now. */
  get pendingBytes(): number {
    return this.held;
  }

  /** Forget a partly received message (channel closed or reopened). */
  resetChannel(channel: number): void {
    const state = this.pending.get(channel);
    if (state && !state.discard) this.held -= state.received;
    this.pending.delete(channel);
  }

  reset(): void {
    this.pending.clear();
    this.held = 0;
  }

  /** Whether the channel is in the middle of a content command. */
  isAssembling(channel: number): boolean {
    return this.pending.has(channel);
  }

  push(frame: Frame): Command | null {
    const { channel } = frame;
    const state = this.pending.get(channel);
    switch (frame.type) {
      case FrameType.Method: {
        if (state) {
          throw unexpected(
            state,
            state.header
              ? "expected content body, got method frame instead"
              : `expected content header for class ${state.classId}, got method frame instead`,
          );
        }
        const method = decodeMethod(frame.payload);
        if (!methodHasContent(method.name)) return { channel, method };
        const { classId, methodId } = methodIds(method.name);
        if (channel === 0) {
          throw connectionError(ReplyCode.COMMAND_INVALID, `${method.name} on channel 0`, classId, methodId);
        }
        this.pending.set(channel, {
          method,
          classId,
          methodId,
          header: null,
          properties: {},
          bodySize: 0,
          received: 0,
          parts: [],
          discard: false,
        });
        return null;
      }
      case FrameType.Header: {
        if (!state) throw unexpectedNoMethod(frame);
        if (state.header) throw unexpected(state, "expected content body, got content header instead");
        const { classId, weight, bodySize } = peekContentHeader(frame.payload);
        if (classId !== state.classId) {
          throw unexpected(state, `expected content header for class ${state.classId}, got one for class ${classId} instead`);
        }
        if (weight !== 0) throw unexpected(state, `content header weight ${weight}, expected 0`);
        if (bodySize > this.maxBodySize) {
          throw connectionError(
            ReplyCode.FRAME_ERROR,
            `content body size ${bodySize} exceeds maximum allowed size ${this.maxBodySize}`,
            state.classId,
            state.methodId,
          );
        }
        state.properties = decodeProperties(new Reader(frame.payload, 12));
        state.header = frame.payload;
        state.bodySize = bodySize;
        state.discard = bodySize > this.maxMessageSize;
        return bodySize === 0 ? this.complete(channel, state) : null;
      }
      case FrameType.Body: {
        if (!state) throw unexpectedNoMethod(frame);
        if (!state.header) {
          throw unexpected(state, `expected content header for class ${state.classId}, got content body instead`);
        }
        const remaining = state.bodySize - state.received;
        if (frame.payload.length > remaining) {
          throw connectionError(
            ReplyCode.FRAME_ERROR,
            `content body frame of ${frame.payload.length} bytes exceeds remaining content size ${remaining}`,
            state.classId,
            state.methodId,
          );
        }
        if (frame.payload.length > 0 && !state.discard) {
          this.held += frame.payload.length;
          if (this.held > this.maxPendingBytes) {
            throw connectionError(
              ReplyCode.RESOURCE_ERROR,
              `partly received messages hold ${this.held} bytes, over the connection's limit of ${this.maxPendingBytes}`,
              state.classId,
              state.methodId,
            );
          }
          state.parts.push(frame.payload);
        }
        state.received += frame.payload.length;
        return state.received === state.bodySize ? this.complete(channel, state) : null;
      }
      case FrameType.Heartbeat:
        return null;
      default:
        throw connectionError(ReplyCode.FRAME_ERROR, `unknown frame type ${frame.type}`);
    }
  }

  private complete(channel: number, state: PendingContent): Command {
    this.pending.delete(channel);
    const command: Command = {
      channel,
      method: state.method,
      properties: state.properties,
      header: state.header ?? new Uint8Array(0),
      body: state.discard ? new Uint8Array(0) : concatBytes(state.parts),
    };
    if (state.discard) command.oversize = state.bodySize;
    else this.held -= state.received;
    return command;
  }
}

/** One body frame: its own view, no copy. Several: one allocation of the known size. */

function unexpected(state: PendingContent, text: string) {
  return connectionError(ReplyCode.UNEXPECTED_FRAME, `${text} (${state.method.name})`, state.classId, state.methodId);
}

function unexpectedNoMethod(frame: Frame) {
  const kind = frame.type === FrameType.Header ? "content header" : "content body";
  return connectionError(ReplyCode.UNEXPECTED_FRAME, `expected method frame, got ${kind} instead (channel ${frame.channel})`);
}
