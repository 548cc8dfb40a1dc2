"""Heartbeat negotiation with pika's heartbeat parameter: a callable sees the broker's proposal;
an explicit value takes precedence and both ends keep the connection alive across idle time
longer than two intervals; heartbeat=0 turns them off."""

import time

from common import connect, main, uid


def run(url):
    r = {}
    proposed = []

    def choose(_conn, server_value):
        proposed.append(server_value)
        return 1

    conn = connect(url, heartbeat=choose)
    r["proposed"] = proposed[0]
    r["negotiated"] = conn._impl.params.heartbeat
    checker = conn._impl._heartbeat_checker
    start = time.monotonic()
    conn.sleep(3.5)  # three and a half intervals, I/O serviced: heartbeats go both ways
    r["slept"] = round(time.monotonic() - start, 1)
    r["heartbeats_received"] = checker._heartbeat_frames_received
    r["heartbeats_sent"] = checker._heartbeat_frames_sent
    ch = conn.channel()
    q = uid("pika.hb")
    ch.queue_declare(q, exclusive=True)
    r["open_after_idle"] = conn.is_open
    conn.close()

    conn = connect(url, heartbeat=0)
    r["disabled"] = [conn._impl.params.heartbeat, conn._impl._heartbeat_checker is None]
    conn.close()

    conn = connect(url, heartbeat=7)
    r["explicit"] = conn._impl.params.heartbeat
    conn.close()
    return r


main(run)
