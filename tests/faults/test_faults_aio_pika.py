"""Faults seen through aio-pika (over the in-memory endpoint) as aio-pika code sees them against RabbitMQ:
close callbacks with aiormq's ConnectionClosed, connect_robust recovering topology and consumers,
connection.blocked, a broker down, a restart."""

from __future__ import annotations

import asyncio
import logging

import pytest

aio_pika = pytest.importorskip("aio_pika")
import aiormq  # noqa: E402

from minimq import Broker  # noqa: E402
from minimq.compat.aio_pika import install, uninstall  # noqa: E402
from minimq.persistence import SQLiteStore, restart  # noqa: E402

URL = "amqp://guest:guest@localhost/"
LIVENESS = 10.0  # seconds: only a bound on a hang


@pytest.fixture
def broker():
    broker = Broker()
    patch = install(broker)
    yield patch
    uninstall()
    patch.broker.close()
    broker.close()


async def _robust_consumer(queue: str) -> tuple:
    connection = await aio_pika.connect_robust(URL, reconnect_interval=0.01,
                                               client_properties={"connection_name": "robust"})
    closes: list = []
    connection.close_callbacks.add(lambda _conn, exc: closes.append(exc))
    reconnected = asyncio.Event()
    connection.reconnect_callbacks.add(lambda _conn: reconnected.set())
    channel = await connection.channel()
    declared = await channel.declare_queue(queue)
    got: asyncio.Queue = asyncio.Queue()

    async def on_message(message) -> None:
        async with message.process():
            await got.put(message.body)

    await declared.consume(on_message)
    return connection, channel, closes, reconnected, got


def test_connect_robust_recovers_topology_and_consumer_after_a_forced_close(broker) -> None:
    async def main() -> None:
        connection, channel, closes, reconnected, got = await _robust_consumer("rq")
        await channel.default_exchange.publish(aio_pika.Message(b"before"), "rq")
        assert await asyncio.wait_for(got.get(), LIVENESS) == b"before"
        assert broker.broker.close_connection(lambda info: info.client_name == "robust") == 1
        await asyncio.wait_for(reconnected.wait(), LIVENESS)
        [error] = closes
        assert isinstance(error, aiormq.exceptions.ConnectionClosed)
        assert error.args == (320, "CONNECTION_FORCED - Closed via management plugin")
        await channel.default_exchange.publish(aio_pika.Message(b"after"), "rq")
        assert await asyncio.wait_for(got.get(), LIVENESS) == b"after"
        assert broker.broker.get_queue("rq").consumer_count == 1
        await connection.close()

    asyncio.run(main())


def test_restart_keeps_persistent_messages_and_a_robust_client_reconnects_to_the_new_broker(tmp_path) -> None:
    first = Broker(store=SQLiteStore(tmp_path / "b.db"))
    patch = install(first)
    try:
        async def main() -> Broker:
            connection = await aio_pika.connect_robust(URL, reconnect_interval=0.01)
            reconnected = asyncio.Event()
            connection.reconnect_callbacks.add(lambda _conn: reconnected.set())
            channel = await connection.channel(publisher_confirms=True)
            queue = await channel.declare_queue("durable-q", durable=True)
            for i in range(3):
                await channel.default_exchange.publish(
                    aio_pika.Message(f"m{i}".encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "durable-q")
            new = restart(first)
            patch.use(new)
            await asyncio.wait_for(reconnected.wait(), LIVENESS)
            assert new.get_queue("durable-q").message_count == 3  # recovered from the file
            channel = await connection.channel()
            queue = await channel.declare_queue("durable-q", durable=True)
            got: asyncio.Queue = asyncio.Queue()

            async def on_message(message) -> None:
                async with message.process():
                    await got.put(message.body)

            await queue.consume(on_message)
            bodies = [await asyncio.wait_for(got.get(), LIVENESS) for _ in range(3)]
            assert bodies == [b"m0", b"m1", b"m2"]
            await connection.close()
            return new

        new = asyncio.run(main())
    finally:
        uninstall()
    new.close()


def test_blocked_connection_holds_publishes_until_unblocked(broker, caplog) -> None:
    async def main() -> None:
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        await channel.declare_queue("q")
        await channel.default_exchange.publish(aio_pika.Message(b"first"), "q")
        with caplog.at_level(logging.WARNING, logger="aiormq.connection"):
            broker.broker.block_publishers("low on memory")
            publish = asyncio.ensure_future(channel.default_exchange.publish(aio_pika.Message(b"held"), "q"))
            for _ in range(50):
                await asyncio.sleep(0)
            assert not publish.done()
            assert broker.broker.get_queue("q").message_count == 1
            assert "was blocked by: 'low on memory'" in caplog.text
            broker.broker.unblock_publishers()
            await asyncio.wait_for(publish, LIVENESS)
            assert "was unblocked" in caplog.text
        assert broker.broker.get_queue("q").message_count == 2
        await connection.close()

    asyncio.run(main())


def test_cancel_consumers_reaches_aio_pika(broker, caplog) -> None:
    async def main() -> None:
        connection = await aio_pika.connect(URL)
        channel = await connection.channel()
        queue = await channel.declare_queue("jobs")
        async def ignore(message) -> None:
            return None

        tag = await queue.consume(ignore)
        with caplog.at_level(logging.WARNING, logger="aiormq.channel"):
            assert broker.broker.cancel_consumers("jobs") == 1
            for _ in range(20):
                await asyncio.sleep(0)
        assert f"Consumer {tag!r} cancelled by the broker" in caplog.text
        assert broker.broker.get_queue("jobs").consumer_count == 0  # cancelled, not deleted
        await connection.close()

    asyncio.run(main())


def test_down_refuses_and_robust_connection_comes_back_when_up(broker) -> None:
    async def main() -> None:
        connection, channel, closes, reconnected, got = await _robust_consumer("rq")
        with broker.broker.down():
            with pytest.raises(aiormq.exceptions.AMQPConnectionError) as refused:
                await aio_pika.connect(URL)
            assert isinstance(refused.value, ConnectionError)
            assert refused.value.args[0] == 111
            for _ in range(20):
                await asyncio.sleep(0)
            assert not reconnected.is_set()  # still down: reconnect attempts are refused
        await asyncio.wait_for(reconnected.wait(), LIVENESS)
        assert closes[0].args == (320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
        await channel.default_exchange.publish(aio_pika.Message(b"up"), "rq")
        assert await asyncio.wait_for(got.get(), LIVENESS) == b"up"
        await connection.close()

    asyncio.run(main())
