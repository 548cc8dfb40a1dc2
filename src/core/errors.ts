import { ReplyCode, isHardError, type ReplyCodeValue } from "../amqp/constants";

/**
 * A broker error as the domain sees it: a reply code and a human text, nothing about which
 * protocol method was running. AMQP's session stamps the method and picks channel or
 * connection close; the management API maps the code to an HTTP status.
 */
export class BrokerError extends Error {
  constructor(
    readonly code: ReplyCodeValue,
    readonly text: string,
  ) {
    super(text);
    this.name = "BrokerError";
  }

  /** Hard errors end the whole connection (AMQP's connection exceptions). */
  get hard(): boolean {
    return isHardError(this.code);
  }
}

export const notFound = (text: string) => new BrokerError(ReplyCode.NOT_FOUND, text);
export const accessRefused = (text: string) => new BrokerError(ReplyCode.ACCESS_REFUSED, text);
export const preconditionFailed = (text: string) => new BrokerError(ReplyCode.PRECONDITION_FAILED, text);
export const resourceLocked = (text: string) => new BrokerError(ReplyCode.RESOURCE_LOCKED, text);
export const commandInvalid = (text: string) => new BrokerError(ReplyCode.COMMAND_INVALID, text);
export const notAllowed = (text: string) => new BrokerError(ReplyCode.NOT_ALLOWED, text);
export const notImplemented = (text: string) => new BrokerError(ReplyCode.NOT_IMPLEMENTED, text);
export const channelErrorCode = (text: string) => new BrokerError(ReplyCode.CHANNEL_ERROR, text);
