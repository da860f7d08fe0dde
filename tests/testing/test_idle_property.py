"""Property: after run_until_idle() returns, every routed message was handled, and it never hangs.

Random topologies (direct and fanout exchanges, queues bound to several of them) and publish
sequences; each queue gets one consumer of a random kind: an inline callback, a pulled channel served
by a thread that keeps the busy-probe contract, a minimq.aio callback consumer
on an event loop in another thread, or a pika facade consumer in ``start_consuming`` on its own
thread.  Publishes come from several threads.  The expected count per queue is computed from the
topology alone; a return of run_until_idle with any handler short of it is an early return.
"""

from __future__ import annotations

import asyncio
import threading

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minimq import Broker
from minimq.aio import connect as aio_connect

KINDS = ("inline", "thread", "aio", "pika")


@st.composite
def scenarios(draw):
    n_exchanges = draw(st.integers(1, 3))
    n_queues = draw(st.integers(1, 4))
    exchanges = [(f"x{i}", draw(st.sampled_from(["direct", "fanout"]))) for i in range(n_exchanges)]
    bindings = draw(st.lists(st.tuples(st.integers(0, n_exchanges - 1), st.integers(0, n_queues - 1),
                                       st.sampled_from(["a", "b"])), max_size=8, unique=True))
    kinds = [draw(st.sampled_from(KINDS)) for _ in range(n_queues)]
    publishes = draw(st.lists(st.tuples(st.integers(0, n_exchanges - 1), st.sampled_from(["a", "b", "c"])),
                              max_size=30))
    threads = draw(st.integers(1, 3))
    return exchanges, bindings, kinds, publishes, threads


def _expected(exchanges, bindings, n_queues, publishes):
    counts = [0] * n_queues
    for x, key in publishes:
        reached = {q for (bx, q, k) in bindings if bx == x and (exchanges[x][1] == "fanout" or k == key)}
        for q in reached:
            counts[q] += 1
    return counts


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_run_until_idle_never_returns_early_and_never_hangs(scenario):
    exchanges, bindings, kinds, publishes, n_threads = scenario
    broker = Broker()
    counts = [0] * len(kinds)
    lock = threading.Lock()
    stop = threading.Event()
    workers: list[threading.Thread] = []
    loop = None
    finish = None

    pause = threading.Event()  # never set: its wait() stands for a handler's real work

    def count(q):
        pause.wait(0.002)  # work takes time, so an early return would find a handler short
        with lock:
            counts[q] += 1

    setup = broker.channel()
    for name, type_ in exchanges:
        setup.exchange_declare(name, type_)
    for q in range(len(kinds)):
        setup.queue_declare(f"q{q}")
    for x, q, key in bindings:
        setup.queue_bind(f"q{q}", exchanges[x][0], key)

    aio_queues = [q for q, kind in enumerate(kinds) if kind == "aio"]
    if aio_queues:
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        finish = asyncio.Event()

        async def aio_main():
            connection = await aio_connect(broker)
            channel = await connection.channel()
            await channel.basic_qos(prefetch_count=3)
            for q in aio_queues:
                async def on_message(delivery, q=q):
                    await asyncio.sleep(0)
                    count(q)
                    await delivery.ack()
                await channel.basic_consume(f"q{q}", on_message)
            ready.set()
            await finish.wait()
            await connection.close()

        workers.append(threading.Thread(target=loop.run_until_complete, args=(aio_main(),)))
        workers[-1].start()
        assert ready.wait(10)

    for q, kind in enumerate(kinds):
        if kind == "inline":
            ch = broker.channel()
            ch.basic_consume(f"q{q}", lambda d, q=q: count(q), auto_ack=True)
        elif kind == "thread":
            ch = broker.connect().channel(inline=False)
            ch.basic_qos(prefetch_count=2)
            ch.basic_consume(f"q{q}", None)
            # a puller that keeps the busy-probe contract: "in hand" is raised before each pop and
            # lowered once the delivery is counted and acked; the channel's on_events hook wakes it
            arrived = threading.Event()
            in_hand = [False]
            ch.on_events = arrived.set
            ch.add_busy_probe(lambda q=q, in_hand=in_hand: f"worker of q{q} has a delivery" if in_hand[0] else None)

            def pull(ch=ch, q=q, arrived=arrived, in_hand=in_hand):
                while not stop.is_set():
                    arrived.wait(0.05)
                    arrived.clear()
                    while True:
                        in_hand[0] = True
                        event = ch.pop_event()
                        if event is None:
                            in_hand[0] = False
                            break
                        count(q)
                        ch.basic_ack(event.delivery_tag)
                        in_hand[0] = False

            workers.append(threading.Thread(target=pull))
            workers[-1].start()
        elif kind == "pika":
            from minimq.compat.pika import BlockingConnection
            started = threading.Event()

            def consume(q=q, started=started):
                connection = BlockingConnection(broker=broker)
                channel = connection.channel()

                def on_message(ch_, method, props, body):
                    if body == b"stop":
                        ch_.stop_consuming()
                        return
                    count(q)

                channel.basic_consume(f"q{q}", on_message, auto_ack=True)
                started.set()
                channel.start_consuming()
                connection.close()

            workers.append(threading.Thread(target=consume))
            workers[-1].start()
            assert started.wait(10)

    def publish(part):
        ch = broker.channel()
        for x, key in part:
            ch.basic_publish(exchanges[x][0], key, b"m")
        ch.connection.close()

    publishers = [threading.Thread(target=publish, args=(publishes[i::n_threads],)) for i in range(n_threads)]
    for t in publishers:
        t.start()
    for t in publishers:
        t.join(10)
    try:
        broker.run_until_idle(timeout=20.0)  # a liveness bound: a hang fails here
        expected = _expected(exchanges, bindings, len(kinds), publishes)
        with lock:
            handled = list(counts)
        assert handled == expected, (handled, expected, scenario)
    finally:
        stop.set()
        for q, kind in enumerate(kinds):
            if kind == "pika":
                broker.channel().basic_publish("", f"q{q}", b"stop")
        if loop is not None:
            loop.call_soon_threadsafe(finish.set)
        for t in workers:
            t.join(20)
        if loop is not None:
            loop.close()
        broker.close()
    assert not any(t.is_alive() for t in workers)
