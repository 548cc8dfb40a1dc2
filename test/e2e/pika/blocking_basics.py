"""BlockingConnection basics: exchanges, queues, bindings, publish, basic_get, consume with
acks, basic_qos, reject/nack/recover, purge, delete, a multi-frame body and a headers table
with every field type pika encodes."""

import datetime
import decimal

import pika

from common import connect, main, ready_count, uid


def run(url):
    r = {}
    conn = connect(url)
    r["server_product"] = conn._impl.server_properties.get("product")
    r["capabilities"] = sorted(k for k, v in conn._impl.server_capabilities.items() if v is True)
    ch = conn.channel()

    x = uid("pika.x")
    q = uid("pika.q")
    ch.exchange_declare(x, exchange_type="topic")
    ok = ch.queue_declare(q)
    r["declare_ok"] = [ok.method.queue == q, ok.method.message_count, ok.method.consumer_count]
    ch.queue_bind(q, x, routing_key="a.*")
    gen = ch.queue_declare("", exclusive=True).method.queue
    r["server_named"] = gen.startswith("amq.gen-")

    # Publish with properties and a headers table of every type pika encodes; basic_get it back.
    headers = {
        "s": "text",
        "b": b"\x00\x01bytes",
        "t": True,
        "i": -7,
        "l": 1 << 40,
        "d": decimal.Decimal("3.14"),
        "ts": datetime.datetime(2024, 5, 6, 7, 8, 9),
        "f": {"nested": "yes", "n": 1},
        "a": [1, "two", False],
        "v": None,
    }
    props = pika.BasicProperties(
        content_type="application/json",
        content_encoding="utf-8",
        headers=headers,
        delivery_mode=2,
        priority=3,
        correlation_id="corr-1",
        reply_to="reply-q",
        expiration="60000",
        message_id="m-1",
        timestamp=1700000000,
        type="kind",
        user_id="guest",
        app_id="pika-test",
    )
    ch.basic_publish(x, "a.b", b'{"hello": 1}', props)
    ch.basic_publish(x, "b.a", b"not routed")
    method, got, body = ch.basic_get(q)
    r["get"] = {
        "body": body.decode(),
        "exchange": method.exchange == x,
        "routing_key": method.routing_key,
        "redelivered": method.redelivered,
        "message_count": method.message_count,
        "same_properties": {
            name: getattr(got, name) == getattr(props, name)
            for name in (
                "content_type",
                "content_encoding",
                "delivery_mode",
                "priority",
                "correlation_id",
                "reply_to",
                "expiration",
                "message_id",
                "timestamp",
                "type",
                "user_id",
                "app_id",
            )
        },
        "headers": got.headers,
    }
    ch.basic_ack(method.delivery_tag)
    r["get_empty"] = ch.basic_get(q) == (None, None, None)

    # A body larger than frame_max arrives whole (several body frames).
    big = bytes(range(256)) * 1200  # 307200 bytes
    ch.basic_publish("", q, big)
    method, _, body = ch.basic_get(q, auto_ack=True)
    r["big_body"] = [len(body), body == big, conn._impl.params.frame_max]

    # basic_qos(prefetch_count=2): two unacked deliveries, then nothing until an ack.
    for n in range(5):
        ch.basic_publish("", q, str(n).encode())
    ch.basic_qos(prefetch_count=2)
    seen = []
    first_batch = None
    for method, _, body in ch.consume(q, inactivity_timeout=0.5):
        if method is None:
            # Half a second without a delivery ends the first batch; then ack it all.
            if seen and first_batch is None:
                first_batch = list(seen)
                ch.basic_ack(delivery_tag=0, multiple=True)
            continue
        seen.append(body.decode())
        if first_batch is not None:
            ch.basic_ack(method.delivery_tag)
            if len(seen) == 5:
                break
    r["qos"] = {"first_batch": first_batch, "all": seen}
    r["cancel_requeued"] = ch.cancel()

    # reject(requeue) redelivers; nack(requeue=False) drops; recover(requeue=True) redelivers.
    ch.basic_publish("", q, b"r1")
    method, _, _ = ch.basic_get(q)
    ch.basic_reject(method.delivery_tag, requeue=True)
    method, _, body = ch.basic_get(q)
    r["rejected_redelivered"] = [body.decode(), method.redelivered]
    ch.basic_nack(method.delivery_tag, requeue=False)
    r["after_nack"] = ready_count(ch, q, 0)
    ch.basic_publish("", q, b"r2")
    method, _, _ = ch.basic_get(q)
    ch.basic_recover(requeue=True)
    method, _, body = ch.basic_get(q, auto_ack=True)
    r["recovered"] = [body.decode(), method.redelivered]

    # Consume with a callback and start_consuming; stop from the callback.
    for n in range(3):
        ch.basic_publish("", q, ("c%d" % n).encode())
    delivered = []

    def on_message(chan, method, _props, body):
        delivered.append(body.decode())
        chan.basic_ack(method.delivery_tag)
        if len(delivered) == 3:
            chan.stop_consuming()

    ch.basic_qos(prefetch_count=0)
    tag = ch.basic_consume(q, on_message, consumer_tag="pika-cb")
    r["consumer_tag"] = tag
    ch.start_consuming()
    r["start_consuming"] = delivered
    r["consumers_after_stop"] = list(ch.consumer_tags)

    # Exchange-to-exchange binding, unbind, purge, delete.
    x2 = uid("pika.x2")
    ch.exchange_declare(x2, exchange_type="fanout")
    ch.exchange_bind(destination=x, source=x2)
    ch.basic_publish(x2, "a.z", b"via e2e")
    ch.basic_publish(x2, "a.z", b"via e2e again")
    r["e2e_count"] = ready_count(ch, q, 2)
    r["purged"] = ch.queue_purge(q).method.message_count
    ch.queue_unbind(q, x, routing_key="a.*")
    ch.basic_publish(x, "a.b", b"unbound")
    r["after_unbind"] = ready_count(ch, q, 0)
    ch.exchange_unbind(destination=x, source=x2)
    ch.exchange_delete(x2)
    ch.exchange_delete(x)
    ch.basic_publish("", q, b"left")
    r["deleted_count"] = ch.queue_delete(q).method.message_count
    ch.close()
    conn.close()
    r["closed"] = [ch.is_closed, conn.is_closed]
    return r


main(run)
