"""The callback-style adapters: SelectConnection (pika's own I/O loop) and AsyncioConnection.
The same flow on each: open, channel, declare, confirm mode, publish three messages, wait for
the confirms, consume and ack them, cancel, queue delete, close channel, close connection."""

import asyncio

import pika
from pika.adapters.asyncio_connection import AsyncioConnection

from common import main, params, uid


class Flow:
    def __init__(self, url, adapter):
        self.adapter = adapter
        self.params = params(url)
        self.queue = uid("pika.async")
        self.steps = []
        self.confirms = []
        self.bodies = []
        self.conn = None
        self.ch = None

    def start(self, **kwargs):
        self.conn = self.adapter(
            self.params,
            on_open_callback=self.on_open,
            on_open_error_callback=lambda _c, err: self.done("open error: %r" % err),
            on_close_callback=self.on_closed,
            **kwargs,
        )
        return self.conn

    def on_open(self, conn):
        self.steps.append("connection open")
        conn.channel(on_open_callback=self.on_channel)

    def on_channel(self, ch):
        self.steps.append("channel open")
        self.ch = ch
        ch.add_on_close_callback(lambda _ch, reason: self.steps.append("channel closed: %s" % reason))
        ch.queue_declare(self.queue, callback=self.on_declared)

    def on_declared(self, frame):
        self.steps.append("declared %d" % frame.method.message_count)
        self.ch.confirm_delivery(self.on_confirm, callback=self.on_select_ok)

    def on_select_ok(self, _frame):
        self.steps.append("confirm mode")
        for n in range(3):
            self.ch.basic_publish("", self.queue, ("m%d" % n).encode())

    def on_confirm(self, frame):
        self.confirms.append([frame.method.NAME, frame.method.delivery_tag, frame.method.multiple])
        if self.confirmed() == 3 and "consuming" not in self.steps:
            self.steps.append("consuming")
            self.ch.basic_qos(prefetch_count=1, callback=lambda _f: self.ch.basic_consume(self.queue, self.on_message, consumer_tag="async"))

    def confirmed(self):
        highest = 0
        for _, tag, _ in self.confirms:
            highest = max(highest, tag)
        return highest

    def on_message(self, ch, method, _props, body):
        self.bodies.append(body.decode())
        ch.basic_ack(method.delivery_tag)
        if len(self.bodies) == 3:
            ch.basic_cancel("async", callback=self.on_cancel_ok)

    def on_cancel_ok(self, _frame):
        self.steps.append("cancelled")
        self.ch.queue_delete(self.queue, callback=self.on_deleted)

    def on_deleted(self, frame):
        self.steps.append("deleted %d" % frame.method.message_count)
        self.ch.close()
        self.conn.close()

    def on_closed(self, _conn, reason):
        self.steps.append("connection closed: %s" % type(reason).__name__)
        self.done(None)

    def done(self, err):
        if err:
            self.steps.append(err)
        self.stop()

    def result(self):
        return {"steps": self.steps, "confirmed": self.confirmed(), "bodies": self.bodies}


def select_connection(url):
    flow = Flow(url, pika.SelectConnection)
    conn = flow.start()
    flow.stop = conn.ioloop.stop
    conn.ioloop.start()
    return flow.result()


def asyncio_connection(url):
    loop = asyncio.new_event_loop()
    flow = Flow(url, AsyncioConnection)
    flow.start(custom_ioloop=loop)
    flow.stop = loop.stop
    loop.run_forever()
    loop.close()
    return flow.result()


def run(url):
    return {"select": select_connection(url), "asyncio": asyncio_connection(url)}


main(run)
