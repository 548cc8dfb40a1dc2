"""Consumers meeting deletes and closes: queue_delete with a consumer on the same channel (the
broker's queue.delete-ok and basic.cancel, which BlockingChannel.queue_delete must not hang on),
a queue deleted under a consume() generator, channel close and connection close with consumers
holding unacked deliveries."""

import time

from common import connect, main, ready_count, tap, uid


def message_count(conn, queue, expect):
    """The queue's ready count on a fresh channel, polled until `expect` (requeues settle after close)."""
    ch = conn.channel()
    n = ready_count(ch, queue, expect)
    ch.close()
    return n


def run(url):
    r = {}
    conn = connect(url)
    frames = tap(conn)

    # queue_delete with a consumer on the same channel.
    ch = conn.channel()
    q = uid("pika.del")
    ch.queue_declare(q)
    cancelled = []
    ch.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
    delivered = []
    tag = ch.basic_consume(q, lambda c, m, p, b: delivered.append(b.decode()), auto_ack=True, consumer_tag="del-consumer")
    ch.basic_publish("", q, b"before delete")
    conn.process_data_events(time_limit=0.3)
    del frames[:]
    ok = ch.queue_delete(q)
    conn.process_data_events(time_limit=0.3)
    r["queue_delete"] = {
        "message_count": ok.method.message_count,
        "delivered": delivered,
        "on_cancel": cancelled,
        "consumer_tags": list(ch.consumer_tags),
        "frames": [name for number, name in frames if number == ch.channel_number],
        "channel_open": ch.is_open,
        "tag": tag,
    }
    # The channel carries on.
    ch.queue_declare(q, exclusive=True)
    ch.basic_publish("", q, b"after")
    r["queue_delete"]["then_get"] = ch.basic_get(q, auto_ack=True)[2].decode()
    ch.close()

    # A queue deleted (from another connection) under a consume() generator ends the generator.
    ch = conn.channel()
    q = uid("pika.gen")
    ch.queue_declare(q)
    ch.basic_publish("", q, b"one")
    other = connect(url)
    got = []
    ended = "timeout"
    for method, _, body in ch.consume(q, auto_ack=True, inactivity_timeout=3):
        if method is None:
            break
        got.append(body.decode())
        other.channel().queue_delete(q)
    else:
        ended = "cancelled by broker"
    other.close()
    r["generator"] = {"got": got, "ended": ended, "channel_open": ch.is_open}
    ch.close()

    # Channel close with a consumer holding unacked deliveries: all are requeued.
    ch = conn.channel()
    q = uid("pika.chclose")
    ch.queue_declare(q)
    for n in range(50):
        ch.basic_publish("", q, str(n).encode())
    held = []
    ch.basic_consume(q, lambda c, m, p, b: held.append(m.delivery_tag))
    deadline = time.monotonic() + 5
    while len(held) < 50 and time.monotonic() < deadline:
        conn.process_data_events(time_limit=0.1)
    ch.close()
    r["channel_close"] = {"held": len(held), "closed": ch.is_closed, "requeued": message_count(conn, q, 50)}

    # Connection close with consumers on two channels, deliveries in flight.
    conn2 = connect(url)
    for _ in range(2):
        c = conn2.channel()
        c.basic_qos(prefetch_count=10)
        c.basic_consume(q, lambda c, m, p, b: None)
    conn2.process_data_events(time_limit=0.3)
    conn2.close()
    r["connection_close"] = {"closed": conn2.is_closed, "requeued": message_count(conn, q, 50)}

    # basic_cancel with auto_ack returns the messages received but not yet dispatched.
    ch = conn.channel()
    ch.basic_qos(prefetch_count=5)
    got = []
    tag = ch.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=False)
    conn.sleep(0.3)
    ch.basic_cancel(tag)
    r["basic_cancel"] = {"got": len(got), "consumer_tags": list(ch.consumer_tags)}
    ch.queue_delete(q)
    ch.close()
    conn.close()
    return r


main(run)
