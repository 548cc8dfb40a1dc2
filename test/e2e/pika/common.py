"""Shared by the pika scripts of test/e2e/pika.test.ts.

Each script takes the broker's AMQP URL as its first argument and prints one JSON object on
stdout, or exits non-zero with the traceback on stderr. A watchdog (faulthandler) dumps every
thread's stack and exits when the script outlives PIKA_SCRIPT_TIMEOUT seconds, so a pika call
waiting forever for a frame the broker never sends shows where it waits.
"""

import faulthandler
import json
import os
import sys
import time
import uuid

import pika


def main(run):
    """Runs `run(url)` under the watchdog and prints its result as JSON."""
    faulthandler.dump_traceback_later(float(os.environ.get("PIKA_SCRIPT_TIMEOUT", "20")), exit=True)
    result = run(sys.argv[1])
    faulthandler.cancel_dump_traceback_later()
    print(json.dumps(result, default=repr, sort_keys=True))


def params(url, **options):
    """pika.URLParameters for `url`, with `options` set on it (heartbeat, ...)."""
    p = pika.URLParameters(url)
    p.connection_attempts = 1
    p.socket_timeout = 5
    p.blocked_connection_timeout = 10
    for name, value in options.items():
        setattr(p, name, value)
    return p


def connect(url, **options):
    return pika.BlockingConnection(params(url, **options))


def ready_count(ch, queue, expect, timeout=5):
    """The queue's ready count (passive queue.declare), polled until it is `expect` or `timeout`
    seconds pass: RabbitMQ's count can lag a publish made just before on the same channel."""
    deadline = time.monotonic() + timeout
    while True:
        n = ch.queue_declare(queue, passive=True).method.message_count
        if n == expect or time.monotonic() > deadline:
            return n
        time.sleep(0.05)


def uid(prefix):
    return "%s.%s" % (prefix, uuid.uuid4().hex[:10])


def error(exc):
    """An AMQP error as [code, text], or [class name, str] for other exceptions."""
    args = getattr(exc, "args", ())
    if len(args) == 2 and isinstance(args[0], int):
        return [args[0], args[1]]
    return [type(exc).__name__, str(exc)]


def tap(conn):
    """Records the method frames `conn` receives, as (channel, name), in the returned list."""
    seen = []
    impl = conn._impl
    process = impl._process_frame

    def recording(frame_value):
        method = getattr(frame_value, "method", None)
        if method is not None and hasattr(method, "NAME"):
            seen.append([frame_value.channel_number, method.NAME])
        return process(frame_value)

    impl._process_frame = recording
    return seen
