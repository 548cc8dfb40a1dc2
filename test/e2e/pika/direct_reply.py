"""Direct reply-to RPC: the requester consumes amq.rabbitmq.reply-to with auto_ack=True and
publishes with reply_to; a responder (its own connection, on a thread) answers to the
request's reply_to through the default exchange."""

import threading

import pika
import pika.exceptions

from common import connect, main, uid

REPLY_TO = "amq.rabbitmq.reply-to"


def responder(url, queue, ready, stop):
    conn = connect(url)
    ch = conn.channel()
    ch.queue_declare(queue, exclusive=True)

    def on_request(chan, method, props, body):
        chan.basic_publish(
            "",
            props.reply_to,
            b"re:" + body,
            pika.BasicProperties(correlation_id=props.correlation_id),
        )
        chan.basic_ack(method.delivery_tag)

    ch.basic_consume(queue, on_request)
    ready.set()
    while not stop.is_set():
        conn.process_data_events(time_limit=0.05)
    conn.close()


def run(url):
    r = {}
    service = uid("pika.rpc")
    ready, stop = threading.Event(), threading.Event()
    thread = threading.Thread(target=responder, args=(url, service, ready, stop), daemon=True)
    thread.start()
    ready.wait(10)

    conn = connect(url)
    ch = conn.channel()
    replies = []
    ch.basic_consume(REPLY_TO, lambda c, m, p, b: replies.append((m, p, b)), auto_ack=True, consumer_tag="rpc-client")
    for n in range(3):
        ch.basic_publish("", service, ("ping%d" % n).encode(), pika.BasicProperties(reply_to=REPLY_TO, correlation_id="c%d" % n))
    deadline = 50
    while len(replies) < 3 and deadline:
        conn.process_data_events(time_limit=0.1)
        deadline -= 1
    r["replies"] = [
        {
            "body": b.decode(),
            "correlation_id": p.correlation_id,
            "consumer_tag": m.consumer_tag,
            "exchange": m.exchange,
            "routing_key_prefixed": m.routing_key.startswith(REPLY_TO + "."),
            "redelivered": m.redelivered,
        }
        for m, p, b in replies
    ]
    # Publishing with reply_to amq.rabbitmq.reply-to without consuming it first: 406.
    other = conn.channel()
    try:
        other.basic_publish("", service, b"no consumer", pika.BasicProperties(reply_to=REPLY_TO))
        other.queue_declare(uid("pika.sync"), exclusive=True)  # a round trip to see the close
        r["without_consumer"] = "no error"
    except pika.exceptions.ChannelClosedByBroker as exc:
        r["without_consumer"] = [exc.reply_code, exc.reply_text]
    stop.set()
    thread.join(10)
    conn.close()
    return r


main(run)
