"""Broker.run_until_idle(), Broker.wait_for() and ManualClock.advance(): waiting without sleeps.

No test here asserts a duration: timeouts are liveness bounds only.
"""

from __future__ import annotations

import asyncio
import threading

import pytest

from minimq import Broker, ManualClock, Properties
from minimq.aio import connect as aio_connect


def test_inline_consumers_are_idle_once_publish_returns():
    broker = Broker()
    ch = broker.channel()
    ch.queue_declare("q")
    got = []
    ch.basic_consume("q", lambda d: got.append(d.body), auto_ack=True)
    ch.basic_publish("", "q", b"1")
    broker.run_until_idle(timeout=5.0)
    assert got == [b"1"] and broker.busy() == []
    broker.close()


def test_an_unpulled_inbox_is_busy_and_the_timeout_names_it():
    broker = Broker()
    ch = broker.connect().channel(inline=False)
    ch.queue_declare("q")
    ch.basic_consume("q", None, auto_ack=True)
    ch.basic_publish("", "q", b"1")
    with pytest.raises(TimeoutError, match=r"^broker still busy after 0\.05 s: channel 1 of connection 1 "
                                           r"\(vhost '/'\): 1 event\(s\) waiting in the inbox to be pulled$"):
        broker.run_until_idle(timeout=0.05)
    assert ch.pop_event().body == b"1"
    broker.run_until_idle(timeout=5.0)
    broker.close()


def test_pulled_channels_on_other_threads():
    broker = Broker()
    ch = broker.connect().channel(inline=False)
    ch.queue_declare("q")
    tag = ch.basic_consume("q", None)
    handled = []
    stop = threading.Event()

    def worker():
        while not stop.is_set():
            event = ch.get_event(timeout=0.05)
            if event is not None:
                handled.append(event.body)
                ch.basic_ack(event.delivery_tag)

    thread = threading.Thread(target=worker)
    thread.start()
    publisher = broker.channel()
    for i in range(200):
        publisher.basic_publish("", "q", b"%d" % i)
    broker.run_until_idle(timeout=10.0)
    # pulled means handed over: the worker may still be appending the last one, so wait for the acks
    broker.wait_for("q", 0, timeout=10.0)
    stop.set()
    thread.join(10)
    assert len(handled) == 200 and tag
    broker.close()


def test_a_full_prefetch_without_a_running_callback_is_idle():
    broker = Broker()
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    held = []
    ch.basic_consume("q", held.append)  # never acks
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    broker.run_until_idle(timeout=5.0)  # nothing more can happen without the application
    assert [d.body for d in held] == [b"0"] and broker.get_queue("q").message_count == 2
    broker.close()


def test_pika_facade_consumers_count_until_their_callback_ran():
    pika = pytest.importorskip("pika")
    from minimq.compat.pika import BlockingConnection

    broker = Broker()
    connection = BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("q")
    got = []
    channel.basic_consume("q", lambda ch, method, props, body: got.append(body), auto_ack=True)
    broker.channel().basic_publish("", "q", b"hello")
    with pytest.raises(TimeoutError, match="waiting in the inbox to be pulled"):
        broker.run_until_idle(timeout=0.05)
    connection.process_data_events(time_limit=0)
    assert got == [b"hello"]
    broker.run_until_idle(timeout=5.0)
    # on a consumer thread in start_consuming, run_until_idle returns only after the callback ran
    done = threading.Event()
    slow = threading.Event()

    def consume():
        c = BlockingConnection(broker=broker)
        ch = c.channel()

        def on_message(ch_, method, props, body):
            slow.wait(10)
            got.append(body)
            ch_.basic_ack(method.delivery_tag)
            if body == b"stop":
                ch_.stop_consuming()

        ch.basic_consume("q2", on_message)
        done.set()
        ch.start_consuming()
        c.close()

    channel.queue_declare("q2")
    thread = threading.Thread(target=consume)
    thread.start()
    assert done.wait(10)
    publisher = broker.channel()
    publisher.basic_publish("", "q2", b"a")
    publisher.basic_publish("", "q2", b"stop")
    with pytest.raises(TimeoutError, match="pika channel 1"):
        broker.run_until_idle(timeout=0.1)  # the callback is blocked: busy
    slow.set()
    broker.run_until_idle(timeout=10.0)
    assert got == [b"hello", b"a", b"stop"]
    thread.join(10)
    connection.close()
    broker.close()


def test_aio_consumers_on_another_event_loop():
    broker = Broker()
    got = []
    ready = threading.Event()
    loop = asyncio.new_event_loop()
    release = asyncio.Event()
    finish = asyncio.Event()

    async def consumer():
        connection = await aio_connect(broker)
        channel = await connection.channel()
        await channel.queue_declare("q")

        async def on_message(delivery):
            if delivery.body == b"wait":
                await release.wait()
            got.append(delivery.body)
            await delivery.ack()

        await channel.basic_consume("q", on_message)
        ready.set()
        await finish.wait()
        await connection.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(consumer(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    publisher = broker.channel()
    for i in range(20):
        publisher.basic_publish("", "q", b"%d" % i)
    broker.run_until_idle(timeout=10.0)
    assert got == [b"%d" % i for i in range(20)]
    publisher.basic_publish("", "q", b"wait")
    with pytest.raises(TimeoutError, match="running its callback|draining|scheduled"):
        broker.run_until_idle(timeout=0.1)
    loop.call_soon_threadsafe(release.set)
    broker.run_until_idle(timeout=10.0)
    assert got[-1] == b"wait"
    loop.call_soon_threadsafe(finish.set)
    thread.join(10)
    loop.close()
    broker.close()


def test_run_until_idle_async_keeps_the_loop_running():
    broker = Broker()

    async def main():
        with pytest.raises(RuntimeError, match="run_until_idle_async"):
            broker.run_until_idle()
        connection = await aio_connect(broker)
        channel = await connection.channel()
        await channel.queue_declare("q")
        got = []

        async def on_message(delivery):
            await asyncio.sleep(0)
            got.append(delivery.body)

        await channel.basic_consume("q", on_message, auto_ack=True)
        for i in range(5):
            broker.channel().basic_publish("", "q", b"%d" % i)
        await broker.run_until_idle_async(timeout=10.0)
        assert got == [b"%d" % i for i in range(5)]
        await connection.close()

    asyncio.run(main())
    broker.close()


def test_manual_clock_advance_runs_what_became_due():
    clock = ManualClock()
    broker = Broker(clock=clock)
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx", "")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    ch.queue_declare("short-lived", arguments={"x-expires": 1000})
    dead = []
    ch.basic_consume("dead", lambda d: dead.append(d.body), auto_ack=True)
    ch.basic_publish("", "q", b"x", Properties(expiration="500"))
    clock.advance(0.499)
    assert dead == [] and broker.get_queue("short-lived") is not None
    clock.advance(0.001)  # the dead-letter consumer ran inside advance(), no observation needed
    assert dead == [b"x"]
    clock.advance(0.5)
    assert broker.get_queue("short-lived") is None
    broker.run_until_idle(timeout=5.0)
    broker.close()


def test_wait_for_and_its_errors():
    broker = Broker()
    ch = broker.channel()
    ch.queue_declare("q")

    def publish_later():
        for i in range(3):
            broker.channel().basic_publish("", "q", b"%d" % i)

    thread = threading.Thread(target=publish_later)
    thread.start()
    broker.wait_for("q", 3, timeout=10.0)
    thread.join(10)
    with pytest.raises(TimeoutError, match=r"^queue 'q' did not reach 0 ready message\(s\) in 0\.01 s: "
                                           r"3 ready message\(s\)$"):
        broker.wait_for("q", 0, timeout=0.01)
    with pytest.raises(TimeoutError, match="no queue 'nope'"):
        broker.wait_for("nope", 0, timeout=0.01)
    with pytest.raises(ValueError, match=r"^count must be an int >= 0, got -1$"):
        broker.wait_for("q", -1)
    with pytest.raises(ValueError, match=r"^timeout must be a number of seconds > 0, got 0$"):
        broker.run_until_idle(timeout=0)
    broker.close()
