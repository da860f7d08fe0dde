"""minimq.app listeners as asyncio tasks (``async with app``) and async handlers under ``with app``,
on memory://: payloads, concurrency, prefetch, policies, replies, graceful stop, declarations."""

import asyncio
import dataclasses
import threading
import time

import pytest
from app_helpers import publish, ready, unacked

from minimq import Broker, ManualClock, Properties
from minimq.app import App, DeclarationError, Headers, Inbound, Queue, Reject, Requeue, Retry

#: a liveness bound, never a timing assertion: a hung test fails instead of hanging the suite
LIVENESS = 30.0


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, LIVENESS))


async def eventually(condition, timeout=LIVENESS):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.002)


@dataclasses.dataclass
class Order:
    id: int
    sku: str


def _dead_lettered(queue):
    return Queue(queue, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue + ".dlq"})


def test_async_handler_gets_converted_payload_headers_and_inbound_on_the_loop():
    app = App()
    seen = []

    @app.listener(queue="orders")
    async def on_order(order: Order, headers: Headers, message: Inbound) -> None:
        seen.append((order, dict(headers), message.routing_key, asyncio.current_task() is not None))

    async def main():
        async with app:
            publish(app.broker, "orders", b'{"id": 1, "sku": "A-1"}', content_type="application/json",
                    headers={"h": 1})
            await eventually(lambda: seen)

    run(main())
    assert seen == [(Order(1, "A-1"), {"h": 1}, "orders", True)]


def test_sync_handler_under_async_with_runs_in_a_thread_not_on_the_loop():
    app = App()
    threads = []

    @app.listener(queue="work")
    def on_work(body: bytes) -> None:
        threads.append(threading.current_thread())

    async def main():
        async with app:
            publish(app.broker, "work", b"x")
            await eventually(lambda: threads)

    run(main())
    assert threads[0] is not threading.main_thread()


def test_async_handlers_under_plain_with_run_on_a_background_loop():
    app = App()
    loops = []

    @app.listener(queue="work")
    async def on_work(body: bytes) -> None:
        loops.append((asyncio.get_running_loop(), threading.current_thread().name))

    with app:
        publish(app.broker, "work", b"x")
        deadline = time.monotonic() + LIVENESS
        while not loops and time.monotonic() < deadline:
            time.sleep(0.002)
    assert loops and loops[0][1] == "minimq-app-loop"
    app.close()


def test_concurrency_runs_n_async_handlers_at_once():
    app = App()
    n = 3
    passed = []

    async def main():
        barrier = asyncio.Barrier(n)

        @app.listener(queue="work", concurrency=n, prefetch=1)
        async def on_work(body: bytes) -> None:
            await asyncio.wait_for(barrier.wait(), LIVENESS)  # passes only with n handlers inside at once
            passed.append(body)

        async with app:
            for i in range(n):
                publish(app.broker, "work", b"%d" % i)
            await eventually(lambda: len(passed) == n)

    run(main())
    assert sorted(passed) == [b"0", b"1", b"2"]


def test_prefetch_bounds_unacked_messages_of_an_async_worker():
    app = App()
    started = []

    async def main():
        release = asyncio.Event()

        @app.listener(queue="work", prefetch=2)
        async def on_work(body: bytes) -> None:
            started.append(body)
            await release.wait()

        async with app:
            for i in range(6):
                publish(app.broker, "work", b"%d" % i)
            await eventually(lambda: started and unacked(app.broker, "work") == 2)
            assert ready(app.broker, "work") == 4
            release.set()
            await eventually(lambda: len(started) == 6)

    run(main())


def test_reject_and_requeue_policies_with_async_handlers():
    app = App()
    app.declare(Queue("bad.dlq"))
    attempts = []

    @app.listener(queue=_dead_lettered("bad"), error_policy=Reject())
    async def on_bad(body: bytes) -> None:
        raise ValueError("never works")

    @app.listener(queue="flaky", error_policy=Requeue())
    async def on_flaky(body: bytes, message: Inbound) -> None:
        attempts.append(message.redelivered)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    async def main():
        async with app:
            publish(app.broker, "bad", b"x")
            publish(app.broker, "flaky", b"y")
            await eventually(lambda: ready(app.broker, "bad.dlq") == 1 and len(attempts) == 2)
            await eventually(lambda: unacked(app.broker, "flaky") == 0)

    run(main())
    assert attempts == [False, True]


def test_retry_ladder_with_async_tasks_on_a_manual_clock():
    clock = ManualClock()
    broker = Broker(clock=clock)
    app = App(broker)
    app.declare(Queue("work.dlq"))
    counts = []

    @app.listener(queue=_dead_lettered("work"), error_policy=Retry(attempts=3, delay=5.0))
    async def on_work(body: bytes, headers: Headers) -> None:
        counts.append(headers.get("x-retry-count"))
        raise RuntimeError("always fails")

    async def main():
        async with app:
            publish(broker, "work", b"job")
            await eventually(lambda: counts == [None] and ready(broker, "work.retry.5000ms") == 1)
            for retry in (1, 2, 3):
                clock.advance(5.0)
                await eventually(lambda: len(counts) == retry + 1)
            await eventually(lambda: ready(broker, "work.dlq") == 1)

    run(main())
    assert counts == [None, 1, 2, 3]
    assert ready(broker, "work") == 0 and ready(broker, "work.retry.5000ms") == 0
    broker._check()
    broker.close()


def test_async_rpc_server_answers_with_the_correlation_id():
    app = App()

    @app.listener(queue="rpc")
    async def double(n: int) -> int:
        return 2 * n

    async def main():
        async with app:
            client = app.broker.channel(inline=False)
            reply_queue = client.queue_declare("", exclusive=True).queue
            client.basic_publish("", "rpc", b"21", Properties(content_type="application/json",
                                                              reply_to=reply_queue, correlation_id="q-1"))
            await eventually(lambda: ready(app.broker, reply_queue) == 1)
            reply = client.basic_get(reply_queue, auto_ack=True)
            client.close()
            return reply

    reply = run(main())
    assert (reply.body, reply.properties.correlation_id) == (b"42", "q-1")


def test_async_graceful_stop_in_the_middle_loses_and_duplicates_nothing():
    app = App()
    handled = []

    @app.listener(queue="work", concurrency=4, prefetch=10)
    async def on_work(body: bytes) -> None:
        await asyncio.sleep(0.0005)
        handled.append(body)

    def publisher():
        ch = app.broker.channel()
        for i in range(1000):
            ch.basic_publish("", "work", b"%d" % i)
            if i % 50 == 0:
                time.sleep(0.001)
        ch.close()

    async def main():
        await app.start_async()
        thread = threading.Thread(target=publisher)
        thread.start()
        await eventually(lambda: len(handled) >= 200)
        [container] = app.containers
        assert await app.stop_async()
        await asyncio.to_thread(thread.join, LIVENESS)
        return container

    container = run(main())
    assert container.acked == len(handled)
    assert len(set(handled)) == len(handled)
    assert container.acked + ready(app.broker, "work") == 1000
    assert unacked(app.broker, "work") == 0
    assert 0 < container.acked < 1000
    app.broker._check()


def test_async_declaration_refused_at_start():
    app = App()
    app.broker.channel().queue_declare("orders", durable=True, arguments={"x-max-length": 5})

    @app.listener(queue="orders")
    async def on_order(body: bytes) -> None: ...

    async def main():
        with pytest.raises(DeclarationError, match=r"inequivalent arg 'x-max-length' for queue 'orders'"):
            async with app:
                pass
        assert app.containers == ()

    run(main())
