"""Publisher confirms (confirm_delivery: ack, basic.return + ack as UnroutableError, nack as
NackError) and transactions (tx_select, commit, rollback) on a BlockingChannel."""

import pika
import pika.exceptions

from common import connect, error, main, ready_count, uid


def run(url):
    r = {}
    conn = connect(url)
    ch = conn.channel()
    q = uid("pika.confirm")
    ch.queue_declare(q)

    ch.confirm_delivery()
    ch.basic_publish("", q, b"confirmed")  # returns once basic.ack arrives
    ch.basic_publish("", q, b"confirmed too", mandatory=True)
    r["routed_count"] = ready_count(ch, q, 2)
    # Unroutable with mandatory: basic.return, then basic.ack -> UnroutableError.
    try:
        ch.basic_publish("", uid("pika.nowhere"), b"lost", mandatory=True)
        r["unroutable"] = "no error"
    except pika.exceptions.UnroutableError as exc:
        returned = exc.messages[0]
        r["unroutable"] = {
            "count": len(exc.messages),
            "reply": [returned.method.reply_code, returned.method.reply_text],
            "body": returned.body.decode(),
        }
    # Unroutable without mandatory: simply acked.
    ch.basic_publish("", uid("pika.nowhere"), b"dropped")
    r["unroutable_not_mandatory"] = "acked"

    # A full queue with x-overflow=reject-publish nacks: NackError.
    full = uid("pika.full")
    ch.queue_declare(full, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.basic_publish("", full, b"fits")
    try:
        ch.basic_publish("", full, b"refused")
        r["nack"] = "no error"
    except pika.exceptions.NackError as exc:
        r["nack"] = str(exc)
    r["channel_open_after_nack"] = ch.is_open
    ch.queue_delete(full)
    ch.queue_delete(q)

    # Transactions on a second channel.
    tx = conn.channel()
    tq = uid("pika.tx")
    tx.queue_declare(tq)
    tx.tx_select()
    tx.basic_publish("", tq, b"rolled back")
    r["tx_before_commit"] = tx.queue_declare(tq, passive=True).method.message_count
    tx.tx_rollback()
    r["tx_after_rollback"] = tx.queue_declare(tq, passive=True).method.message_count
    tx.basic_publish("", tq, b"committed 1")
    tx.basic_publish("", tq, b"committed 2")
    tx.tx_commit()
    r["tx_after_commit"] = ready_count(tx, tq, 2)
    # An ack inside a transaction takes effect at commit; a rolled back ack leaves it unacked.
    method, _, body = tx.basic_get(tq)
    tx.basic_ack(method.delivery_tag)
    tx.tx_rollback()
    tx.basic_ack(method.delivery_tag)
    tx.tx_commit()
    r["tx_acked"] = body.decode()
    tx.close()
    # The ack was committed: closing the channel requeues nothing.
    ch2 = conn.channel()
    r["tx_left"] = ch2.queue_delete(tq).method.message_count

    # confirm_delivery on a transactional channel: 406.
    both = conn.channel()
    both.tx_select()
    try:
        both.confirm_delivery()
        r["confirm_on_tx"] = "no error"
    except pika.exceptions.ChannelClosedByBroker as exc:
        r["confirm_on_tx"] = error(exc)
    conn.close()
    return r


main(run)
