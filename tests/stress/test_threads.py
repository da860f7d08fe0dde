"""Many threads on one broker: every message is settled exactly once, nothing deadlocks.

Publisher threads publish unique bodies to a fanout exchange bound to two queues.  ``work`` is
consumed by inline callback consumers that ack from inside the callback (on whatever thread
produced the delivery), by pull consumers (``inline=False`` channels drained with ``get_event``)
that sometimes nack with requeue, and by a "flaky" thread that takes deliveries and closes its
channel without acking (so they are requeued and redelivered).  ``audit`` is drained by
``basic_get`` loops.  A checker thread runs ``broker._check()`` while all that happens.

At the end each body has been acked exactly once per queue, every queue is empty, every thread has
finished within its time budget, and the broker's invariants hold.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter

from minimq import Broker, ChannelClosed, Delivery, PublishOutcome

PUBLISHERS = 4
PER_PUBLISHER = 1500
BODIES = PUBLISHERS * PER_PUBLISHER
QUEUES = ("work", "audit")
POLL = 0.002  # seconds a pulling thread waits for an event before checking whether to stop
BUDGET = 25.0  # seconds for the whole run, joins included


class Ledger:
    """Acks per (queue, body), recorded under a lock; ``done`` is set once every copy is acked."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acked = {q: Counter() for q in QUEUES}
        self.deliveries = Counter()
        self.errors: list[BaseException] = []
        self.done = threading.Event()

    def delivered(self, kind: str) -> None:
        with self.lock:
            self.deliveries[kind] += 1

    def ack(self, queue: str, body: bytes) -> None:
        with self.lock:
            self.acked[queue][body] += 1
            if all(sum(c.values()) >= BODIES for c in self.acked.values()):
                self.done.set()


def _guard(ledger: Ledger, fn, *args) -> None:
    try:
        fn(*args)
    except BaseException as exc:  # surfaced by the test, with the thread's name
        ledger.errors.append(exc)
        ledger.done.set()
        raise


def publisher(broker: Broker, n: int, confirm: bool) -> None:
    ch = broker.channel()
    if confirm:
        ch.confirm_select()
    for i in range(PER_PUBLISHER):
        outcome = ch.basic_publish("fan", "", b"p%d-%d" % (n, i))
        assert outcome is PublishOutcome.ROUTED, outcome
    ch.close()


def inline_consumer(broker: Broker, ledger: Ledger, prefetch: int) -> threading.Event:
    """Subscribes on the calling thread; its callbacks then run on other threads, acking re-entrantly."""
    ch = broker.channel()
    ch.basic_qos(prefetch_count=prefetch)

    def on_message(d: Delivery) -> None:
        ledger.delivered("inline")
        ledger.ack("work", d.body)
        d.ack()

    ch.basic_consume("work", on_message)
    return ch


def pull_consumer(broker: Broker, ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    ch = broker.channel(inline=False)
    ch.basic_qos(prefetch_count=20)
    ch.basic_consume("work")
    while not ledger.done.is_set():
        event = ch.get_event(timeout=POLL)
        if type(event) is not Delivery:
            continue
        ledger.delivered("pull")
        if not event.redelivered and rng.random() < 0.05:
            ch.basic_nack(event.delivery_tag, requeue=True)  # comes back, maybe to someone else
            continue
        ledger.ack("work", event.body)
        ch.basic_ack(event.delivery_tag)
    ch.close()


def flaky_consumer(broker: Broker, ledger: Ledger) -> None:
    """Takes a few deliveries, then closes its channel (or connection) without acking: all requeued."""
    rounds = 0
    while not ledger.done.is_set():
        rounds += 1
        conn = broker.connect()
        ch = conn.channel(inline=False)
        ch.basic_qos(prefetch_count=5)
        ch.basic_consume("work")
        for _ in range(3):
            if ch.get_event(timeout=POLL) is not None:
                ledger.delivered("flaky")
        if rounds % 2:
            ch.close()
        conn.close()


def get_loop(broker: Broker, ledger: Ledger, seed: int) -> None:
    rng = random.Random(seed)
    ch = broker.channel()
    while not ledger.done.is_set():
        d = ch.basic_get("audit")
        if d is None:
            ledger.done.wait(POLL)
            continue
        ledger.delivered("get")
        if rng.random() < 0.03:
            ch.basic_reject(d.delivery_tag, requeue=True)
            continue
        ledger.ack("audit", d.body)
        ch.basic_ack(d.delivery_tag)
    ch.close()


def checker(broker: Broker, ledger: Ledger) -> None:
    while not ledger.done.is_set():
        broker._check()
        ledger.done.wait(POLL * 5)


def test_threads_account_for_every_message_exactly_once():
    broker = Broker()
    ledger = Ledger()
    try:
        setup = broker.channel()
        setup.exchange_declare("fan", "fanout")
        for q in QUEUES:
            setup.queue_declare(q)
            setup.queue_bind(q, "fan")
        inline_channels = [inline_consumer(broker, ledger, prefetch) for prefetch in (1, 10)]
        threads = [threading.Thread(target=_guard, args=(ledger, publisher, broker, n, n % 2 == 0),
                                    name=f"publisher-{n}") for n in range(PUBLISHERS)]
        threads += [threading.Thread(target=_guard, args=(ledger, pull_consumer, broker, ledger, s),
                                     name=f"pull-{s}") for s in range(2)]
        threads += [threading.Thread(target=_guard, args=(ledger, get_loop, broker, ledger, s),
                                     name=f"get-{s}") for s in range(2)]
        threads.append(threading.Thread(target=_guard, args=(ledger, flaky_consumer, broker, ledger), name="flaky"))
        threads.append(threading.Thread(target=_guard, args=(ledger, checker, broker, ledger), name="checker"))
        for t in threads:
            t.daemon = True
            t.start()
        deadline = time.monotonic() + BUDGET
        finished = ledger.done.wait(BUDGET)
        for t in threads:
            t.join(max(0.0, deadline - time.monotonic()))
        stuck = [t.name for t in threads if t.is_alive()]
        assert not ledger.errors, ledger.errors
        assert finished, f"not every message was acked within {BUDGET}s: " \
                         f"{ {q: sum(c.values()) for q, c in ledger.acked.items()} }, stuck: {stuck}"
        assert not stuck, f"threads did not finish (deadlock?): {stuck}"

        expected = {b"p%d-%d" % (n, i) for n in range(PUBLISHERS) for i in range(PER_PUBLISHER)}
        for q in QUEUES:
            counts = ledger.acked[q]
            assert set(counts) == expected, f"{q}: lost {len(expected - set(counts))} bodies"
            duplicated = [b for b, n in counts.items() if n != 1]
            assert not duplicated, f"{q}: acked more than once: {duplicated[:5]}"
            queue = broker.get_queue(q)
            assert queue.message_count == 0 and queue.unacked_count == 0, queue
        assert ledger.deliveries["inline"] > 0 and ledger.deliveries["pull"] > 0 and ledger.deliveries["get"] > 0
        for ch in inline_channels:
            assert ch.unacked_count == 0
        broker._check()
    finally:
        ledger.done.set()
        broker.close()


def test_pull_channel_closed_under_a_waiting_thread():
    """A thread blocked in get_event wakes with ChannelClosed when another thread closes the connection."""
    broker = Broker()
    try:
        conn = broker.connect()
        ch = conn.channel(inline=False)
        outcome: list[object] = []
        waiting = threading.Event()

        def wait_forever() -> None:
            waiting.set()
            try:
                outcome.append(ch.get_event(timeout=None))
            except ChannelClosed as exc:
                outcome.append(exc)

        t = threading.Thread(target=wait_forever, daemon=True)
        t.start()
        assert waiting.wait(5)
        conn.close()
        t.join(5)
        assert not t.is_alive(), "get_event(timeout=None) did not wake when its channel closed"
        assert isinstance(outcome[0], ChannelClosed)
    finally:
        broker.close()
