import type { Method } from "../../amqp";
import type { Channel } from "../channel";

export function channelOpen(ch: Channel, _m: Method<"channel.open">): void {
  ch.connection.send(ch.id, { name: "channel.open-ok", args: { channelId: "" } });
}

export function channelClose(ch: Channel, _m: Method<"channel.close">): Promise<void> {
  return ch.closeByClient();
}

/** A close-ok for a close we never sent: nothing to do. */
export function channelCloseOk(_ch: Channel, _m: Method<"channel.close-ok">): void {}

export function channelFlow(ch: Channel, m: Method<"channel.flow">): Promise<void> {
  return ch.setFlow(m.args.active);
}
