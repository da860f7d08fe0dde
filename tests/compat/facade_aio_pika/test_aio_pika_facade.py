"""minimq.compat.aio_pika: what only an in-process broker can show (the differential module compares
the rest with RabbitMQ): the patch and its fixtures, threads, the broker side closing, robust
reconnects, persistence, many concurrent calls."""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import textwrap
import threading
from typing import Any

import pytest

aio_pika = pytest.importorskip("aio_pika")
import aiormq.exceptions  # noqa: E402

import minimq  # noqa: E402
from minimq.compat.aio_pika import current, install, uninstall  # noqa: E402

LIVENESS = 60.0


def run(coro: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coro, LIVENESS))


@pytest.fixture
def broker() -> Any:
    broker = minimq.Broker()
    install(broker)
    yield broker
    uninstall()
    broker.close()


def test_install_routes_every_import_style_and_uninstall_restores() -> None:
    import aio_pika.abc
    original = aio_pika.abc.UnderlayConnection.__dict__["make_connection"]
    patch = install()
    try:
        assert current() is patch
        from aio_pika import connect_robust

        async def main() -> None:
            connection = await connect_robust("amqp://guest:guest@localhost/")
            channel = await connection.channel()
            await channel.declare_queue("seen-by-minimq")
            await connection.close()

        run(main())
        assert patch.broker.get_queue("seen-by-minimq") is not None
    finally:
        uninstall()
    assert current() is None
    assert aio_pika.abc.UnderlayConnection.__dict__["make_connection"] is original


def test_a_port_minimq_does_not_serve_is_refused(broker: Any) -> None:
    async def main() -> None:
        with pytest.raises(aiormq.exceptions.AMQPConnectionError) as caught:
            await aio_pika.connect("amqp://guest:guest@localhost:9999/")
        assert "minimq serves ports 5671, 5672" in str(caught.value)
    run(main())


def test_a_remote_host_is_served_in_process_and_says_so(broker: Any, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        connection = await aio_pika.connect("amqp://guest:guest@rabbit.example.com/")
        channel = await connection.channel()
        await channel.declare_queue("remote-looking")
        await connection.close()

    with caplog.at_level(logging.INFO, logger="minimq.aio_pika"):
        run(main())
    assert broker.get_queue("remote-looking") is not None
    assert any("rabbit.example.com:5672 is served by the in-process broker" in r.getMessage()
               for r in caplog.records)


def test_a_publisher_thread_wakes_an_aio_pika_consumer(broker: Any) -> None:
    async def main() -> None:
        connection = await aio_pika.connect("amqp://localhost/")
        channel = await connection.channel()
        queue = await channel.declare_queue("from-thread")
        received: list[bytes] = []
        done = asyncio.Event()

        async def on_message(message: Any) -> None:
            async with message.process():
                received.append(message.body)
                if len(received) == 500:
                    done.set()

        await queue.consume(on_message)

        def publisher() -> None:
            native = broker.channel()
            for n in range(500):
                native.basic_publish("", "from-thread", str(n).encode())

        thread = threading.Thread(target=publisher)
        thread.start()
        await done.wait()
        thread.join()
        assert received == [str(n).encode() for n in range(500)]
        assert broker.get_queue("from-thread").message_count == 0
        await connection.close()

    run(main())


def test_broker_shutdown_reaches_the_client_as_320(broker: Any) -> None:
    async def main() -> None:
        connection = await aio_pika.connect("amqp://localhost/")
        closed: asyncio.Future = asyncio.get_running_loop().create_future()
        connection.close_callbacks.add(lambda _c, exc: closed.done() or closed.set_result(exc))
        broker.close()
        error = await closed
        assert isinstance(error, aiormq.exceptions.ConnectionClosed)
        assert error.args == (320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")

    run(main())


def test_robust_connection_recovers_topology_and_consumers_after_a_drop(broker: Any) -> None:
    async def main() -> None:
        patch = current()
        connection = await aio_pika.connect_robust("amqp://localhost/", reconnect_interval=0.01)
        channel = await connection.channel()
        exchange = await channel.declare_exchange("robust-x", aio_pika.ExchangeType.FANOUT, auto_delete=True)
        queue = await channel.declare_queue("robust-q", exclusive=True)
        await queue.bind(exchange)
        received: list[bytes] = []
        got = asyncio.Event()

        async def on_message(message: Any) -> None:
            async with message.process():
                received.append(message.body)
                got.set()

        await queue.consume(on_message)
        reconnected = asyncio.Event()
        connection.reconnect_callbacks.add(lambda _c: reconnected.set())
        patch.disconnect_all()  # as a network failure: exclusive queue gone, consumer gone
        await reconnected.wait()
        await patch.wait_for_consumers("robust-q", 1)
        native = broker.channel()
        native.basic_publish("robust-x", "", b"after the drop")
        await got.wait()
        assert received == [b"after the drop"]
        await connection.close()

    run(main())


def test_persistent_confirms_with_a_store(tmp_path: Any) -> None:
    from minimq.persistence import SQLiteStore

    broker = minimq.Broker(store=SQLiteStore(str(tmp_path / "broker.db")))
    install(broker)
    try:
        async def main() -> None:
            connection = await aio_pika.connect("amqp://localhost/")
            channel = await connection.channel()  # publisher confirms on
            queue = await channel.declare_queue("durable-q", durable=True)
            for n in range(200):
                confirmation = await channel.default_exchange.publish(
                    aio_pika.Message(str(n).encode(), delivery_mode=aio_pika.DeliveryMode.PERSISTENT), queue.name)
                assert type(confirmation).__name__ == "Ack"
            await connection.close()

        async def tx() -> None:  # a transaction needs a channel without confirms
            connection = await aio_pika.connect("amqp://localhost/")
            channel = await connection.channel(publisher_confirms=False)
            async with channel.transaction():
                await channel.default_exchange.publish(
                    aio_pika.Message(b"in tx", delivery_mode=aio_pika.DeliveryMode.PERSISTENT), "durable-q")
            await connection.close()

        async def both() -> None:
            await main()
            await tx()

        run(both())
    finally:
        uninstall()
        broker.close()
    reopened = minimq.Broker(store=SQLiteStore(str(tmp_path / "broker.db")))
    try:
        bodies = [d.message.body for d in iter(lambda: reopened.channel().basic_get("durable-q", auto_ack=True), None)]
        assert bodies == [str(n).encode() for n in range(200)] + [b"in tx"]
    finally:
        reopened.close()


def test_a_thousand_concurrent_rpc_calls(broker: Any) -> None:
    async def main() -> None:
        from aio_pika.patterns import RPC

        connection = await aio_pika.connect("amqp://localhost/")
        channel = await connection.channel()
        rpc = await RPC.create(channel)

        async def square(*, x: int) -> int:
            await asyncio.sleep(0)
            return x * x

        await rpc.register("square", square, auto_delete=True)
        results = await asyncio.gather(*(rpc.call("square", kwargs={"x": n}) for n in range(1000)))
        assert results == [n * n for n in range(1000)]
        await rpc.close()
        await connection.close()

    run(main())


def test_the_pytest_plugin_whole_run_switch(tmp_path: Any) -> None:
    """``MINIMQ_AIO_PIKA=1``: an unmodified aio-pika test module runs on minimq, a fresh broker per test."""
    (tmp_path / "test_app.py").write_text(textwrap.dedent('''
        import asyncio
        import aio_pika

        async def roundtrip(body):
            connection = await aio_pika.connect("amqp://guest:guest@rabbitmq.internal:5672/")
            channel = await connection.channel()
            queue = await channel.declare_queue("jobs")
            await channel.default_exchange.publish(aio_pika.Message(body), "jobs")
            message = await queue.get()
            count = queue.declaration_result.message_count
            await connection.close()
            return message.body, count

        def test_first():
            assert asyncio.run(roundtrip(b"one")) == (b"one", 0)

        def test_second_starts_clean():
            # test_first left its message unacked; closing requeued it: on a shared broker this
            # declare would count 1
            assert asyncio.run(roundtrip(b"two")) == (b"two", 0)

        def test_fixture_still_works(minimq_aio_pika):
            asyncio.run(roundtrip(b"three"))
            assert minimq_aio_pika.get_queue("jobs") is not None
    '''))
    env = dict(os.environ, MINIMQ_AIO_PIKA="1")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert "3 passed" in result.stdout, result.stdout + result.stderr
