"""connection.update-secret (RabbitMQ's extension) through pika. BlockingConnection.update_secret
exists from pika 1.3; for older pika (Debian 12 ships 1.2.0) the same RPC is made as pika 1.3
makes it: Connection.UpdateSecret (10, 70) sent on channel 0, waiting for UpdateSecretOk (10, 71)."""

import struct

import pika
import pika.spec
from pika import amqp_object, data

from common import connect, main, uid


class UpdateSecret(amqp_object.Method):
    INDEX = 0x000A0046  # 10, 70
    NAME = "Connection.UpdateSecret"

    def __init__(self, new_secret, reason):
        self.new_secret = new_secret
        self.reason = reason

    @property
    def synchronous(self):
        return True

    def encode(self):
        value = self.new_secret.encode("utf-8") if isinstance(self.new_secret, str) else self.new_secret
        pieces = [struct.pack(">I", len(value)), value]
        data.encode_short_string(pieces, self.reason)
        return pieces


class UpdateSecretOk(amqp_object.Method):
    INDEX = 0x000A0047  # 10, 71
    NAME = "Connection.UpdateSecretOk"

    @property
    def synchronous(self):
        return False

    def decode(self, encoded, offset=0):
        return self

    def encode(self):
        return []


def update_secret(conn, new_secret, reason):
    if hasattr(conn, "update_secret"):
        conn.update_secret(new_secret, reason)
        return "BlockingConnection.update_secret"
    pika.spec.methods.setdefault(UpdateSecretOk.INDEX, UpdateSecretOk)
    done = []
    conn._impl._rpc(0, UpdateSecret(new_secret, reason), lambda frame: done.append(frame.method.NAME), [UpdateSecretOk])
    conn._flush_output(lambda: bool(done))
    return "backport of pika 1.3's update_secret (got %s)" % done[0]


def run(url):
    r = {"pika": pika.__version__}
    conn = connect(url)
    ch = conn.channel()
    r["how"] = update_secret(conn, "guest", "token refresh")
    r["how_again"] = update_secret(conn, b"guest", "second refresh")
    q = uid("pika.secret")
    ch.queue_declare(q, exclusive=True)
    ch.basic_publish("", q, b"still works")
    r["after"] = ch.basic_get(q, auto_ack=True)[2].decode()
    r["open"] = conn.is_open
    conn.close()
    return r


main(run)
