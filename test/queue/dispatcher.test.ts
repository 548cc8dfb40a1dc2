import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { ConsumerList } from "../../src/queue/consumers";
import { type DispatchHost, Dispatcher } from "../../src/queue/dispatcher";
import { MessageStore } from "../../src/queue/message-store";
import type { IncomingMessage, QueuedMessage } from "../../src/queue/types";
import { UnackedTable } from "../../src/queue/unacked";
import { migrate } from "../../src/storage/migrate";
import { QUEUE_MIGRATIONS } from "../../src/storage/migrations/queue";
import { doStorage, sqlStorage } from "../storage/sqlite";

const message = (): IncomingMessage => ({
  exchange: "",
  routingKey: "q",
  header: new Uint8Array([0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0]),
  body: new Uint8Array([1]),
  persistent: true,
});

/** A dispatcher over a real store, one ack-mode consumer, and a connection that takes everything. */
function setup(db: DatabaseSync) {
  migrate(doStorage(db), QUEUE_MIGRATIONS);
  const store = new MessageStore(sqlStorage(db));
  const consumers = new ConsumerList();
  consumers.add({
    tag: "c",
    connId: "conn",
    channel: 1,
    noAck: false,
    exclusive: false,
    prefetch: 0,
    arguments: {},
    unacked: 0,
    paused: false,
    resumedAt: 0,
  });
  const unacked = new UnackedTable();
  const host: DispatchHost = {
    queueName: () => "q",
    store: () => store,
    consumers,
    unacked,
    transaction: (fn) => fn(),
    removeLater: (ms: readonly QueuedMessage[]) => store.remove(ms),
    connectionGone: () => undefined,
    send: async () => ({ gone: false, refused: [], paused: [] }),
    isPeer: () => true,
  };
  return { store, dispatcher: new Dispatcher(host), unacked };
}

/** Lets the dispatch round (and the deliveries' RPCs) finish. */
const settle = () => new Promise((r) => setTimeout(r, 0));

describe("Dispatcher and the delivery watermark", () => {
  it("rounds that need no watermark write still count as handed out: tightening never goes below them", async () => {
    const db = new DatabaseSync(":memory:");
    const { store, dispatcher } = setup(db);
    store.append([message()]);
    dispatcher.kick();
    await settle();
    // The first round wrote the watermark ahead; the next round's delivery is under it, so no write.
    store.append([message(), message()]);
    dispatcher.kick();
    await settle();
    // The alarm's tightening, then a crash: all three were handed out and must come back flagged.
    store.tightenWatermark();
    const restarted = new MessageStore(sqlStorage(db));
    restarted.load();
    const back = [restarted.shift(), restarted.shift(), restarted.shift()];
    expect(back.map((m) => m?.redelivered)).toEqual([true, true, true]);
  });
});
