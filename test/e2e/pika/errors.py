"""Broker errors as pika raises them: channel errors (ChannelClosedByBroker with RabbitMQ's code
and text, the connection carrying on) and connection errors at login. Generated names are
shown in the texts as <missing>, <q> and <x>."""

import pika
import pika.exceptions

from common import connect, error, main, params, uid


def run(url):
    r = {}
    missing, q, x = uid("pika.missing"), uid("pika.eq"), uid("pika.ex")
    names = {"<missing>": missing, "<q>": q, "<x>": x}
    conn = connect(url)

    def channel_error(action):
        """The broker's channel.close that `action` causes, as [code, text]."""
        ch = conn.channel()
        try:
            action(ch)
            return "no error"
        except pika.exceptions.ChannelClosedByBroker as exc:
            code, text = error(exc)
            for shown, name in names.items():
                text = text.replace(name, shown)
            return [code, text]
        finally:
            if ch.is_open:
                ch.close()

    def sync(ch):
        """A round trip, for asynchronous methods whose error arrives later."""
        ch.queue_declare("", exclusive=True)

    r["passive_missing_queue"] = channel_error(lambda ch: ch.queue_declare(missing, passive=True))
    r["passive_missing_exchange"] = channel_error(lambda ch: ch.exchange_declare(missing, passive=True))
    r["publish_missing_exchange"] = channel_error(lambda ch: (ch.basic_publish(missing, "k", b"x"), sync(ch)))
    r["bind_missing_queue"] = channel_error(lambda ch: ch.queue_bind(missing, "amq.direct", "k"))

    setup = conn.channel()
    setup.queue_declare(q, durable=False, arguments={"x-max-length": 10})
    r["inequivalent_durable"] = channel_error(lambda ch: ch.queue_declare(q, durable=True, arguments={"x-max-length": 10}))
    r["inequivalent_arg"] = channel_error(lambda ch: ch.queue_declare(q, arguments={"x-max-length": 20}))
    setup.exchange_declare(x, exchange_type="fanout")
    r["inequivalent_exchange_type"] = channel_error(lambda ch: ch.exchange_declare(x, exchange_type="topic"))
    r["unknown_delivery_tag"] = channel_error(lambda ch: (ch.basic_ack(99), sync(ch)))
    r["reserved_name"] = channel_error(lambda ch: ch.queue_declare("amq.mine"))
    r["consume_missing_queue"] = channel_error(lambda ch: ch.basic_consume(missing, lambda *_: None))
    # Another connection's exclusive queue: 405, and an exclusive consumer's queue: 403.
    owner = connect(url)
    owner.channel().queue_declare(names.setdefault("<exclusive>", uid("pika.excl")), exclusive=True)
    r["exclusive_elsewhere"] = channel_error(lambda ch: ch.queue_declare(names["<exclusive>"], passive=True))
    owner.close()
    consumed = conn.channel()
    consumed.queue_declare(names.setdefault("<consumed>", uid("pika.cons")), auto_delete=True)
    consumed.basic_consume(names["<consumed>"], lambda *_: None, exclusive=True)
    r["exclusive_consumer"] = channel_error(lambda ch: ch.basic_consume(names["<consumed>"], lambda *_: None))
    consumed.close()

    # After all that the connection and its first channel still work.
    setup.queue_delete(q)
    setup.exchange_delete(x)
    r["connection_open"] = conn.is_open
    conn.close()

    # Login refused: pika sees connection.close 403 (authentication_failure_close).
    p = params(url)
    p.credentials = pika.PlainCredentials("guest", "wrong-password")
    try:
        pika.BlockingConnection(p).close()
        r["wrong_password"] = "connected"
    except pika.exceptions.AMQPConnectionError as exc:
        r["wrong_password"] = [type(exc).__name__, str(exc)]

    # A vhost that does not exist: connection.close 530 after connection.open.
    p = params(url)
    p.virtual_host = uid("pika-vhost")
    try:
        pika.BlockingConnection(p).close()
        r["missing_vhost"] = "connected"
    except pika.exceptions.AMQPConnectionError as exc:
        r["missing_vhost"] = [type(exc).__name__, str(exc).replace(p.virtual_host, "<vhost>")]
    return r


main(run)
