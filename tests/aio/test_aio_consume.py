"""minimq.aio consumers: ``async for``, ``process()``, prefetch, cancellation, threads and loops."""

from __future__ import annotations

import asyncio
import threading
import uuid

import pytest

import minimq
import minimq.aio
from minimq import Properties

from aio_helpers import LIVENESS, eventually, run


async def _channel(broker, queue=None, **arguments):
    conn = await minimq.aio.connect(broker)
    ch = await conn.channel()
    if queue is not None:
        await ch.queue_declare(queue, arguments=arguments or None)
    return conn, ch


def test_thousand_concurrent_rpc_calls_are_answered_with_their_correlation_id(broker):
    async def server(ch):
        await ch.basic_qos(prefetch_count=50)
        async for request in ch.consume("rpc"):
            async with request.process():
                n = int(request.body)
                await ch.basic_publish("", request.reply_to, b"%d" % (n * n),
                                       Properties(correlation_id=request.correlation_id))

    async def main():
        server_conn, server_ch = await _channel(broker, "rpc")
        server_task = asyncio.create_task(server(server_ch))
        client_conn, client = await _channel(broker)
        callback_queue = (await client.queue_declare("", exclusive=True)).queue
        pending: dict[str, asyncio.Future] = {}

        async def on_reply(reply):
            pending.pop(reply.correlation_id).set_result(int(reply.body))

        await client.basic_consume(callback_queue, on_reply, auto_ack=True)

        async def call(n):
            correlation_id = str(uuid.uuid4())
            future = pending[correlation_id] = asyncio.get_running_loop().create_future()
            await client.basic_publish("", "rpc", b"%d" % n,
                                       Properties(reply_to=callback_queue, correlation_id=correlation_id))
            return n, await future

        results = await asyncio.gather(*(call(n) for n in range(1000)))
        assert results == [(n, n * n) for n in range(1000)]
        assert pending == {}
        server_task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await server_task
        assert broker.get_queue("rpc").message_count == 0
        await client_conn.close()
        await server_conn.close()

    run(main())


def test_direct_reply_to_rpc_on_the_publishing_channel(broker):
    async def main():
        conn, ch = await _channel(broker, "rpc")

        async def serve():
            async for request in ch.consume("rpc"):
                async with request.process():
                    await ch.basic_publish("", request.reply_to, request.body.upper(),
                                           Properties(correlation_id=request.correlation_id))

        server = asyncio.create_task(serve())
        replies = ch.consume("amq.rabbitmq.reply-to", auto_ack=True)
        for word in (b"a", b"b"):
            await ch.basic_publish("", "rpc", word,
                                   Properties(reply_to="amq.rabbitmq.reply-to", correlation_id=word.decode()))
            reply = await replies.__anext__()
            assert (reply.body, reply.correlation_id) == (word.upper(), word.decode())
        await replies.close()
        server.cancel()
        await conn.close()

    run(main())


@pytest.mark.parametrize("requeue", [False, True])
def test_a_handler_that_raises_inside_process_rejects_and_reraises(broker, requeue):
    async def main():
        conn, ch = await _channel(broker)
        await ch.exchange_declare("dlx", "fanout")
        await ch.queue_declare("dead")
        await ch.queue_bind("dead", "dlx")
        await ch.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
        await ch.basic_publish("", "work", b"poison")
        async with ch.consume("work") as messages:
            delivery = await messages.__anext__()
            with pytest.raises(ValueError, match="bad input"):
                async with delivery.process(requeue=requeue):
                    raise ValueError("bad input")
            assert delivery.processed
            if requeue:  # back in the queue, redelivered to the same consumer
                again = await asyncio.wait_for(messages.__anext__(), LIVENESS)
                assert again.redelivered and again.body == b"poison"
                await again.ack()
        if requeue:
            assert broker.get_queue("dead").message_count == 0
        else:
            dead = await ch.basic_get("dead", auto_ack=True)
            assert dead.body == b"poison"
            assert dead.headers["x-death"][0]["reason"] == "rejected"
            assert dead.headers["x-death"][0]["queue"] == "work"
        assert broker.get_queue("work").message_count == 0
        await conn.close()

    run(main())


def test_process_acks_on_success_and_honours_its_options(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        for body in (b"ok", b"manual", b"redelivered"):
            await ch.basic_publish("", "q", body)
        async with ch.consume("q") as messages:
            first = await messages.__anext__()
            async with first.process():
                pass
            assert first.processed
            second = await messages.__anext__()
            async with second.process(ignore_processed=True):
                await second.nack(requeue=False)  # settled by hand: process() leaves it alone
            third = await messages.__anext__()
            with pytest.raises(RuntimeError):
                async with third.process(requeue=True):
                    raise RuntimeError("first attempt")
            again = await messages.__anext__()
            assert again.redelivered and again.body == b"redelivered"
            with pytest.raises(RuntimeError):
                async with again.process(requeue=True, reject_on_redelivered=True):
                    raise RuntimeError("second attempt")
        assert broker.get_queue("q").message_count == 0
        assert broker.get_queue("q").unacked_count == 0
        await conn.close()

    run(main())


def test_cancelling_the_iterating_task_returns_its_unacked_messages(broker):
    async def main():
        conn, ch = await _channel(broker, "jobs")
        await ch.basic_qos(prefetch_count=3)
        for i in range(5):
            await ch.basic_publish("", "jobs", b"%d" % i)
        held = []
        started = asyncio.Event()

        async def worker():
            async for delivery in ch.consume("jobs"):
                held.append(delivery)
                if len(held) == 3:
                    started.set()
                    async with delivery.process():
                        await asyncio.Event().wait()  # busy forever: cancelled while processing

        task = asyncio.create_task(worker())
        await asyncio.wait_for(started.wait(), LIVENESS)
        queue = broker.get_queue("jobs")
        assert queue.message_count == 2 and queue.unacked_count == 3
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await eventually(lambda: queue.consumer_count == 0)
        assert queue.message_count == 5 and queue.unacked_count == 0
        with pytest.raises(minimq.ChannelClosed):  # it went back: settling it now is refused
            await held[0].ack()
        assert ch.is_open  # the consumer's cancellation does not close the aio channel
        got = [await ch.basic_get("jobs", auto_ack=True) for _ in range(5)]
        assert [(d.body, d.redelivered) for d in got] == [
            (b"0", True), (b"1", True), (b"2", True), (b"3", False), (b"4", False)]
        await conn.close()

    run(main())


def test_cancelling_a_task_waiting_for_a_delivery_cancels_its_consumer_at_once(broker):
    async def main():
        conn, ch = await _channel(broker, "jobs")
        await ch.basic_publish("", "jobs", b"kept")
        got = asyncio.Event()

        async def worker():
            async for delivery in ch.consume("jobs"):
                got.set()  # never settled; the task then waits for the next delivery

        task = asyncio.create_task(worker())
        await asyncio.wait_for(got.wait(), LIVENESS)
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        queue = broker.get_queue("jobs")
        assert queue.consumer_count == 0 and queue.message_count == 1
        assert ch.consumer_tags == []
        await conn.close()

    run(main())


def test_leaving_async_for_with_break_cancels_the_consumer(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        for i in range(4):
            await ch.basic_publish("", "q", b"%d" % i)
        queue = broker.get_queue("q")
        async for delivery in ch.consume("q"):
            assert queue.consumer_count == 1
            break  # unsettled: it returns to the queue with the rest
        await eventually(lambda: queue.consumer_count == 0)
        assert queue.message_count == 4 and queue.unacked_count == 0
        async with ch.consume("q") as messages:  # the deterministic spelling
            async for delivery in messages:
                await delivery.ack()
                break
        assert queue.consumer_count == 0 and queue.message_count == 3
        assert ch.consumer_tags == []
        await conn.close()

    run(main())


def test_prefetch_bounds_unacked_deliveries(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        await ch.basic_qos(prefetch_count=2)
        for i in range(10):
            await ch.basic_publish("", "q", b"%d" % i)
        queue = broker.get_queue("q")
        async with ch.consume("q") as messages:
            first = await messages.__anext__()
            second = await messages.__anext__()
            assert queue.message_count == 8 and queue.unacked_count == 2
            await first.ack()
            assert queue.message_count == 7 and queue.unacked_count == 2
            received = [first, second]
            while len(received) < 10:
                delivery = await messages.__anext__()  # came once the ack above freed a slot
                assert queue.unacked_count == 2
                await received[-1].ack()
                received.append(delivery)
            await received[-1].ack()
        assert [d.body for d in received] == [b"%d" % i for i in range(10)]
        assert queue.message_count == 0 and queue.unacked_count == 0
        await conn.close()

    run(main())


def test_a_publisher_thread_wakes_an_asyncio_consumer(broker):
    count = 500

    def publisher():
        ch = broker.channel()
        for i in range(count):
            ch.basic_publish("", "q", b"%d" % i)
        ch.close()

    async def main():
        conn, ch = await _channel(broker, "q")
        thread = threading.Thread(target=publisher)
        received = []
        async with ch.consume("q") as messages:
            thread.start()
            async for delivery in messages:
                await delivery.ack()
                received.append(int(delivery.body))
                if len(received) == count:
                    break
        thread.join(LIVENESS)
        assert received == list(range(count))
        await conn.close()

    run(main())


def test_two_event_loops_in_two_threads_on_one_broker(broker):
    """A ping-pong between two loops: each consumes its queue and publishes to the other's."""
    rounds = 200
    setup = broker.channel()
    setup.queue_declare("ping")
    setup.queue_declare("pong")
    errors = []

    async def player(mine, other, serve_first):
        conn, ch = await _channel(broker)
        if serve_first:
            await ch.basic_publish("", other, b"0")
        async with ch.consume(mine) as messages:
            async for delivery in messages:
                async with delivery.process():
                    n = int(delivery.body)
                    if n + 1 < 2 * rounds:
                        await ch.basic_publish("", other, b"%d" % (n + 1))
                if n + 2 >= 2 * rounds:
                    break
        await conn.close()
        return n

    def thread_main(*args):
        try:
            results.append(run(player(*args)))
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    results = []
    threads = [threading.Thread(target=thread_main, args=("pong", "ping", False)),
               threading.Thread(target=thread_main, args=("ping", "pong", True))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIVENESS)
    assert not errors, errors
    assert sorted(results) == [2 * rounds - 2, 2 * rounds - 1]
    assert broker.get_queue("ping").message_count == broker.get_queue("pong").message_count == 0


def test_callback_consumers_and_basic_cancel(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        seen = []
        done = asyncio.Event()

        async def handle(delivery):
            async with delivery.process():
                seen.append(delivery.body)
                if len(seen) == 3:
                    done.set()

        tag = await ch.basic_consume("q", handle)
        assert ch.consumer_tags == [tag]
        for body in (b"a", b"b", b"c"):
            await ch.basic_publish("", "q", body)
        await asyncio.wait_for(done.wait(), LIVENESS)
        await ch.basic_cancel(tag)
        assert ch.consumer_tags == [] and broker.get_queue("q").consumer_count == 0
        await ch.basic_publish("", "q", b"d")
        await asyncio.sleep(0)
        assert seen == [b"a", b"b", b"c"] and broker.get_queue("q").message_count == 1
        await conn.close()

    run(main())


def test_queue_deletion_ends_the_iteration_after_earlier_deliveries(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        await ch.basic_publish("", "q", b"last")
        bodies = []
        messages = ch.consume("q", auto_ack=True)
        await asyncio.sleep(0)
        other = await conn.channel()
        await other.queue_delete("q")
        async for delivery in messages:
            bodies.append(delivery.body)
        assert bodies == [b"last"] and messages.is_closed
        await conn.close()

    run(main())


def test_closing_the_channel_ends_iteration_and_returns_unacked(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        await ch.basic_publish("", "q", b"m")
        messages = ch.consume("q")
        delivery = await messages.__anext__()
        await ch.close()
        with pytest.raises(StopAsyncIteration):
            await messages.__anext__()
        queue = broker.get_queue("q")
        assert queue.message_count == 1 and queue.consumer_count == 0
        with pytest.raises(minimq.ChannelClosed):
            await delivery.ack()
        await conn.close()

    run(main())


def test_a_reused_consumer_tag_closes_the_connection(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        ch.consume("q", consumer_tag="worker")
        with pytest.raises(minimq.NotAllowed):
            ch.consume("q", consumer_tag="worker")
        assert conn.is_closed and ch.is_closed
        assert broker.get_queue("q").consumer_count == 0

    run(main())


def test_the_end_of_the_task_that_created_a_consumer_cancels_it(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        await ch.basic_publish("", "q", b"m")

        async def worker():
            messages = ch.consume("q")  # held in a local: the traceback keeps it alive
            async for delivery in messages:
                raise ValueError(delivery.body)

        with pytest.raises(ValueError):
            await asyncio.create_task(worker())
        queue = broker.get_queue("q")
        await eventually(lambda: queue.consumer_count == 0)
        assert queue.message_count == 1 and queue.unacked_count == 0
        await conn.close()

    run(main())


def test_a_long_lived_task_can_open_and_close_many_consumers(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        for i in range(100):
            await ch.basic_publish("", "q", b"%d" % i)
            async with ch.consume("q") as messages:
                delivery = await messages.__anext__()
                await delivery.ack()
            assert delivery.body == b"%d" % i
        assert broker.get_queue("q").consumer_count == 0 and ch.consumer_tags == []
        assert len(conn.core.channels) == 1  # every consumer's channel is closed
        await conn.close()

    run(main())


def test_timer_dead_lettering_reaches_an_asyncio_consumer(broker):
    """Deliveries produced by another thread's clock advance (no publish on the loop) wake the loop."""
    clock = minimq.ManualClock()
    timed = minimq.Broker(clock=clock)

    async def main():
        conn, ch = await _channel(timed)
        await ch.exchange_declare("dlx", "fanout")
        await ch.queue_declare("dead")
        await ch.queue_bind("dead", "dlx")
        await ch.queue_declare("work", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "dlx"})
        await ch.basic_publish("", "work", b"late")
        async with ch.consume("dead") as messages:
            advancer = threading.Thread(target=clock.advance, args=(1.0,))
            advancer.start()
            delivery = await asyncio.wait_for(messages.__anext__(), LIVENESS)
            advancer.join(LIVENESS)
            async with delivery.process():
                assert delivery.body == b"late"
                assert delivery.headers["x-death"][0]["reason"] == "expired"
        await conn.close()

    run(main())
    timed._check()
    timed.close()


def test_publisher_threads_and_consumers_on_several_loops_share_work_exactly_once(broker):
    publishers, per_publisher, loops = 3, 300, 3
    broker.channel().queue_declare("work")
    received: list[bytes] = []
    lock = threading.Lock()
    errors = []

    async def consumer():
        conn, ch = await _channel(broker)
        await ch.basic_qos(prefetch_count=5)
        async with ch.consume("work") as messages:
            async for delivery in messages:
                async with delivery.process():
                    with lock:
                        received.append(delivery.body)
                        if delivery.body == b"stop":
                            break
        await conn.close()

    def loop_thread():
        try:
            run(consumer())
        except BaseException as error:
            errors.append(error)

    def publisher(p):
        ch = broker.channel()
        for i in range(per_publisher):
            ch.basic_publish("", "work", b"%d-%d" % (p, i))
        ch.close()

    consumers = [threading.Thread(target=loop_thread) for _ in range(loops)]
    for t in consumers:
        t.start()
    producers = [threading.Thread(target=publisher, args=(p,)) for p in range(publishers)]
    for t in producers:
        t.start()
    for t in producers:
        t.join(LIVENESS)
    ch = broker.channel()
    for _ in range(loops):  # one stop message per consumer, after all the work
        ch.basic_publish("", "work", b"stop")
    for t in consumers:
        t.join(LIVENESS)
    assert not errors, errors
    work = sorted(b for b in received if b != b"stop")
    assert work == sorted(b"%d-%d" % (p, i) for p in range(publishers) for i in range(per_publisher))
    assert received.count(b"stop") == loops
    assert broker.get_queue("work").message_count == 0


def test_a_publish_on_the_loop_thread_reaches_its_consumer_without_a_callback_per_message(broker):
    """The consumer's pump drains inside the publish: no loop callback is scheduled per delivery, and
    the next delivery is there without a turn of the loop."""
    async def main():
        conn, ch = await _channel(broker, "q")
        loop = asyncio.get_running_loop()
        scheduled = []
        call_soon, call_soon_threadsafe = loop.call_soon, loop.call_soon_threadsafe
        loop.call_soon = lambda *a, **k: scheduled.append(a) or call_soon(*a, **k)
        loop.call_soon_threadsafe = lambda *a, **k: scheduled.append(a) or call_soon_threadsafe(*a, **k)
        try:
            async with ch.consume("q") as messages:
                for i in range(100):
                    await ch.basic_publish("", "q", b"%d" % i)
                    receive = messages.__anext__()
                    with pytest.raises(StopIteration) as got:  # ready on the first step: no suspension
                        receive.send(None)
                    delivery = got.value.value
                    assert delivery.body == b"%d" % i
                    await delivery.ack()
                assert scheduled == []
        finally:
            loop.call_soon, loop.call_soon_threadsafe = call_soon, call_soon_threadsafe
        queue = broker.get_queue("q")
        assert queue.message_count == 0 and queue.unacked_count == 0
        await conn.close()

    run(main())


def test_tasks_waiting_on_one_iterator_each_get_a_delivery_and_a_cancel_is_their_own(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        messages = ch.consume("q")
        first = asyncio.ensure_future(messages.__anext__())
        second = asyncio.ensure_future(messages.__anext__())
        await asyncio.sleep(0)
        await ch.basic_publish("", "q", b"a")
        await ch.basic_publish("", "q", b"b")
        got = sorted([(await first).body, (await second).body])
        assert got == [b"a", b"b"]
        # two waiters again; cancelling one cancels the consumer (its task owned the wait), and the other
        # ends its iteration instead of being cancelled too
        third = asyncio.ensure_future(messages.__anext__())
        fourth = asyncio.ensure_future(messages.__anext__())
        await asyncio.sleep(0)
        third.cancel()
        with pytest.raises(asyncio.CancelledError):
            await third
        with pytest.raises(StopAsyncIteration):
            await fourth
        queue = broker.get_queue("q")
        assert queue.consumer_count == 0 and queue.message_count == 2  # both unacked ones returned
        await conn.close()

    run(main())


def test_settling_after_a_channel_error_raises_the_channels_closed_error_with_its_cause(broker):
    async def main():
        conn, ch = await _channel(broker, "q")
        await ch.basic_publish("", "q", b"m")
        messages = ch.consume("q")
        delivery = await messages.__anext__()
        with pytest.raises(minimq.NotFound) as raised:
            await ch.queue_declare("missing", passive=True)
        with pytest.raises(minimq.ChannelClosed) as closed:
            await delivery.ack()
        assert closed.value.cause is raised.value
        assert not delivery.processed
        assert broker.get_queue("q").message_count == 1  # returned when the channel closed
        await conn.close()

    run(main())
