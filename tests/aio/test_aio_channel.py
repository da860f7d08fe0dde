"""minimq.aio's channel: the AMQP methods as coroutines, errors from the awaiting call, closing."""

from __future__ import annotations

import asyncio

import pytest

import minimq
import minimq.aio
from minimq import ChannelClosed, NotFound, PreconditionFailed, Properties, PublishOutcome

from aio_helpers import eventually, run


def test_declare_bind_publish_get_purge_delete(broker):
    async def main():
        async with await minimq.aio.connect(broker) as conn:
            async with await conn.channel() as ch:
                await ch.exchange_declare("logs", "topic")
                ok = await ch.queue_declare("", exclusive=True)
                assert ok.queue.startswith("amq.gen-") and ok.message_count == 0
                await ch.queue_bind(ok.queue, "logs", "kern.*")
                outcome = await ch.basic_publish("logs", "kern.critical", b"disk full",
                                                 Properties(content_type="text/plain"))
                assert outcome is PublishOutcome.ROUTED
                assert await ch.basic_publish("logs", "user.info", b"x") is PublishOutcome.UNROUTABLE
                delivery = await ch.basic_get(ok.queue)
                assert (delivery.body, delivery.routing_key, delivery.message_count) == (b"disk full", "kern.critical", 0)
                assert delivery.properties.content_type == "text/plain"
                await delivery.ack()
                assert delivery.processed
                assert await ch.basic_get(ok.queue) is None
                await ch.basic_publish("logs", "kern.a", b"1")
                assert await ch.queue_purge(ok.queue) == 1
                await ch.queue_unbind(ok.queue, "logs", "kern.*")
                assert await ch.basic_publish("logs", "kern.a", b"1") is PublishOutcome.UNROUTABLE
                await ch.exchange_declare("e2", "fanout")
                await ch.exchange_bind("e2", "logs", "#")
                await ch.exchange_unbind("e2", "logs", "#")
                await ch.exchange_delete("e2")
                assert await ch.queue_delete(ok.queue) == 0
            assert ch.is_closed
        assert conn.is_closed

    run(main())


def test_errors_are_raised_from_the_awaiting_call_and_close_the_channel(broker):
    async def main():
        conn = await minimq.aio.connect(broker)
        ch = await conn.channel()
        with pytest.raises(NotFound) as raised:
            await ch.queue_declare("missing", passive=True)
        assert raised.value.reply_code == 404
        assert ch.is_closed
        with pytest.raises(ChannelClosed) as closed:
            await ch.queue_declare("q")
        assert closed.value.cause is raised.value
        ch2 = await conn.channel()
        await ch2.queue_declare("q")
        await ch2.exchange_declare("x", "direct")
        with pytest.raises(PreconditionFailed):
            await ch2.exchange_declare("x", "fanout")
        await conn.close()

    run(main())


def test_a_consume_refusal_closes_the_channel_with_its_consumers(broker):
    async def main():
        conn = await minimq.aio.connect(broker)
        ch = await conn.channel()
        await ch.queue_declare("q")
        messages = ch.consume("q")
        with pytest.raises(NotFound):
            ch.consume("missing")
        assert ch.is_closed and messages.is_closed
        with pytest.raises(ChannelClosed) as closed:
            await messages.__anext__()
        assert isinstance(closed.value.cause, NotFound)
        assert broker.get_queue("q").consumer_count == 0
        await conn.close()

    run(main())


def test_settling_twice_is_refused_before_the_broker_sees_it(broker):
    async def main():
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q")
            await ch.basic_publish("", "q", b"m")
            delivery = await ch.basic_get("q")
            await delivery.ack()
            with pytest.raises(minimq.aio.MessageProcessError):
                await delivery.reject()
            assert ch.is_open
            await ch.basic_publish("", "q", b"m")
            auto = await ch.basic_get("q", auto_ack=True)
            with pytest.raises(TypeError):
                await auto.ack()

    run(main())


def test_confirms_and_transactions(broker):
    async def main():
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("limited", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
            await ch.confirm_select()
            assert ch.mode == "confirm"
            assert await ch.basic_publish("", "limited", b"1") is PublishOutcome.ROUTED
            assert await ch.basic_publish("", "limited", b"2") is PublishOutcome.NACKED
            with pytest.raises(PreconditionFailed):
                await ch.tx_select()
            tx = await conn.channel()
            await tx.queue_declare("t")
            await tx.tx_select()
            await tx.basic_publish("", "t", b"a")
            assert broker.get_queue("t").message_count == 0
            await tx.tx_commit()
            assert broker.get_queue("t").message_count == 1
            await tx.basic_publish("", "t", b"b")
            await tx.tx_rollback()
            await tx.tx_commit()
            assert broker.get_queue("t").message_count == 1

    run(main())


def test_persistent_confirmed_publish_with_a_store(tmp_path):
    from minimq.persistence import SQLiteStore

    async def main(broker):
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("jobs", durable=True)
            await ch.confirm_select()
            outcomes = await asyncio.gather(*(ch.basic_publish("", "jobs", b"%d" % i, Properties(delivery_mode=2))
                                              for i in range(20)))
            assert set(outcomes) == {PublishOutcome.ROUTED}
            tx = await conn.channel()
            await tx.tx_select()
            await tx.basic_publish("", "jobs", b"tx", Properties(delivery_mode=2))
            await tx.tx_commit()

    path = str(tmp_path / "broker.db")
    with minimq.Broker(store=SQLiteStore(path)) as broker:
        run(main(broker))
    with minimq.Broker(store=SQLiteStore(path)) as broker:
        ch = broker.channel()
        bodies = []
        while (d := ch.basic_get("jobs", auto_ack=True)) is not None:
            bodies.append(d.body)
        assert sorted(bodies) == sorted([b"%d" % i for i in range(20)] + [b"tx"])


def test_mandatory_returns_reach_return_callbacks_on_the_loop(broker):
    async def main():
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            returned = []
            done = asyncio.Event()

            async def on_return(message):
                returned.append((message.routing_key, message.body))
                done.set()

            ch.add_on_return_callback(on_return)
            assert await ch.basic_publish("", "nowhere", b"lost", mandatory=True) is PublishOutcome.UNROUTABLE
            await asyncio.wait_for(done.wait(), 30)
            assert returned == [("nowhere", b"lost")]

    run(main())


def test_a_broker_shutdown_ends_consumers_with_channel_closed(broker):
    async def main():
        conn = await minimq.aio.connect(broker)
        ch = await conn.channel()
        await ch.queue_declare("q")
        messages = ch.consume("q")
        waiter = asyncio.ensure_future(messages.__anext__())
        await asyncio.sleep(0)
        broker.close()
        with pytest.raises(ChannelClosed) as closed:
            await asyncio.wait_for(waiter, 30)
        assert closed.value.cause.reply_code == 320
        await eventually(lambda: ch.is_closed)

    run(main())
