"""The process the crash test kills: recover, report what was recovered, then publish and consume until killed.

Usage: ``python crash_child.py DB LOG FIRST_ID SEED SYNCHRONOUS [--dump-only]``

Every line of LOG is written with one ``os.write`` on an ``O_APPEND`` descriptor *after* the operation
it reports returned, so a line in the log means the operation happened (the kill can only lose the
last, unwritten lines):

``R queue id redelivered ok``  a recovered message (``ok``: body and headers are the ones published)
``READY``                      recovery reported in full
``P id``                       about to publish (the message may exist from here on)
``C id``                       publish confirmed (returned in confirm mode: committed)
``D queue id``                 delivered by basic_get
``A id`` / ``J id`` / ``N id``  acked / rejected to the dead-letter queue / nacked with requeue
``S``                          store.flush() returned: every A and J logged before it is durable

Two publisher threads (ids of thread ``t`` are ``FIRST_ID + 2 * n + t``, increasing) and one
consumer thread share the broker.
"""

from __future__ import annotations

import datetime
import decimal
import os
import random
import sys
import threading
import time

from minimq import Broker, Properties
from minimq.persistence import SQLiteStore


def body_of(mid: int) -> bytes:
    return b"%d:" % mid + bytes((mid * 7 + k) % 256 for k in range(16))


def headers_of(mid: int) -> dict:
    return {"id": mid, "dec": decimal.Decimal(f"{mid}.25"),
            "when": datetime.datetime(2020, 1, 1) + datetime.timedelta(seconds=mid), "nest": {"l": [mid, str(mid)]}}


def id_of(body: bytes) -> int:
    return int(body.split(b":", 1)[0])


def main() -> None:
    db, log_path, first_id, seed, sync = sys.argv[1:6]
    dump_only = "--dump-only" in sys.argv
    first_id, seed = int(first_id), int(seed)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def log(line: str) -> None:
        os.write(fd, (line + "\n").encode())

    store = SQLiteStore(db, synchronous=sync, commit_interval=0.005)
    broker = Broker(store=store)
    ch = broker.channel()
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare("q", durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    for name in ("q", "dlq"):
        for entry in broker.get_queue(name)._all_ready():
            message = entry.message
            mid = id_of(message.body)
            headers = dict(message.properties.headers)
            if name == "dlq":  # a dead-lettered copy: the original headers plus RabbitMQ's x-death history
                death = headers.pop("x-death")[0]
                ok = (death["queue"], death["reason"], death["count"]) == ("q", "rejected", 1) and \
                    headers.pop("x-first-death-queue") == "q" and headers.pop("x-first-death-reason") == "rejected" \
                    and headers.pop("x-first-death-exchange") == ""
            else:
                ok = True
            ok = ok and message.body == body_of(mid) and headers == headers_of(mid) and \
                message.properties.delivery_mode == 2
            log(f"R {name} {mid} {int(entry.redelivered)} {int(ok)}")
    log("READY")
    if dump_only:
        broker.close()
        return

    def publisher(t: int) -> None:
        pch = broker.channel()
        pch.confirm_select()
        n = 0
        while True:
            mid = first_id + 2 * n + t
            n += 1
            log(f"P {mid}")
            pch.basic_publish("", "q", body_of(mid), Properties(delivery_mode=2, headers=headers_of(mid)))
            log(f"C {mid}")

    def consumer() -> None:
        rng = random.Random(seed)
        cch = broker.channel()
        held = []
        while True:
            queue = "dlq" if rng.random() < 0.15 else "q"
            d = cch.basic_get(queue)
            if d is None:
                time.sleep(0.002)
                continue
            mid = id_of(d.body)
            log(f"D {queue} {mid}")
            r = rng.random()
            if queue == "dlq" or r < 0.5:
                cch.basic_ack(d.delivery_tag)
                log(f"A {mid}")
            elif r < 0.62:
                cch.basic_reject(d.delivery_tag, requeue=False)
                log(f"J {mid}")
            elif r < 0.72:
                cch.basic_nack(d.delivery_tag, requeue=True)
                log(f"N {mid}")
            else:
                held.append(d)
            if len(held) > 12:
                old = held.pop(0)
                cch.basic_ack(old.delivery_tag)
                log(f"A {id_of(old.body)}")
            if rng.random() < 0.1:
                store.flush()
                log("S")
            time.sleep(rng.random() * 0.003)

    threads = [threading.Thread(target=publisher, args=(t,), daemon=True) for t in (0, 1)]
    threads.append(threading.Thread(target=consumer, daemon=True))
    for thread in threads:
        thread.start()
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
