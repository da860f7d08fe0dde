"""The same aio-pika test module on two targets: minimq (through ``minimq.compat.aio_pika``) and the
CI's RabbitMQ 3.10 on 127.0.0.1:5672.

Every test is parametrized by ``target`` and asserts concrete outcomes (bodies, flags, counts, reply
codes and texts, exception classes), so the two halves pass only if both servers give the same
answers.  The RabbitMQ half skips visibly when no server answers, and fails instead when
``MINIMQ_REQUIRE_RABBITMQ=1`` (CI).  Names carry a per-run token and are deleted afterwards, so runs
against a shared server do not collide.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest
from real_rabbitmq import need_rabbitmq

aio_pika = pytest.importorskip("aio_pika")
import aiormq.exceptions  # noqa: E402

import minimq  # noqa: E402
from minimq.compat.aio_pika import install, uninstall  # noqa: E402

URL = "amqp://guest:guest@127.0.0.1:5672/"
LIVENESS = 60.0


@pytest.fixture(params=["minimq", "rabbitmq"])
def target(request: pytest.FixtureRequest) -> Any:
    """``minimq``: aio-pika patched onto a fresh broker; ``rabbitmq``: the real server."""
    if request.param == "minimq":
        broker = minimq.Broker()
        install(broker)
        yield request.param
        uninstall()
        broker.close()
        return
    need_rabbitmq()
    yield request.param


class Names:
    """Per-run unique names, deleted on the server afterwards."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:6]
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, name: str) -> str:
        full = f"diff.{self.token}.{name}"
        self.queues.append(full)
        return full

    def exchange(self, name: str) -> str:
        full = f"diff.{self.token}.{name}"
        self.exchanges.append(full)
        return full

    async def cleanup(self) -> None:
        connection = await aio_pika.connect(URL)
        try:
            for name in self.queues:
                channel = await connection.channel()
                await channel.queue_delete(name)
                await channel.close()
            for name in self.exchanges:
                channel = await connection.channel()
                await channel.exchange_delete(name)
                await channel.close()
        finally:
            await connection.close()


def run(test: Callable[[Names], Awaitable[None]]) -> None:
    """Run one scenario on a fresh loop, then delete what it declared."""
    names = Names()

    async def main() -> None:
        try:
            await asyncio.wait_for(test(names), LIVENESS)
        finally:
            await names.cleanup()

    asyncio.run(main())


async def connect() -> Any:
    return await aio_pika.connect(URL)


# -- routing ---------------------------------------------------------------------------------------
def test_topic_hash_matches_zero_words(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(names.exchange("topic"), aio_pika.ExchangeType.TOPIC,
                                                      auto_delete=True)
            queue = await channel.declare_queue(names.queue("q"))
            await queue.bind(exchange, "a.#")
            for key in ("a", "a.b.c", "b.a", "ab"):
                await exchange.publish(aio_pika.Message(key.encode()), key)
            got = []
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                got.append(message.body)
            assert got == [b"a", b"a.b.c"]
    run(scenario)


def test_headers_exchange_any_and_all(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            exchange = await channel.declare_exchange(names.exchange("h"), aio_pika.ExchangeType.HEADERS,
                                                      auto_delete=True)
            q_all = await channel.declare_queue(names.queue("all"))
            q_any = await channel.declare_queue(names.queue("any"))
            await q_all.bind(exchange, arguments={"x-match": "all", "a": 1, "b": "two"})
            await q_any.bind(exchange, arguments={"x-match": "any", "a": 1, "b": "two"})
            await exchange.publish(aio_pika.Message(b"both", headers={"a": 1, "b": "two"}), "")
            await exchange.publish(aio_pika.Message(b"one", headers={"a": 1}), "")
            await exchange.publish(aio_pika.Message(b"none", headers={"a": 2}), "")
            assert [m.body for m in await _drain(q_all)] == [b"both"]
            assert [m.body for m in await _drain(q_any)] == [b"both", b"one"]
    run(scenario)


def test_exchange_to_exchange_binding(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            upstream = await channel.declare_exchange(names.exchange("up"), aio_pika.ExchangeType.FANOUT)
            downstream = await channel.declare_exchange(names.exchange("down"), aio_pika.ExchangeType.DIRECT)
            await downstream.bind(upstream)
            queue = await channel.declare_queue(names.queue("q"))
            await queue.bind(downstream, "k")
            await upstream.publish(aio_pika.Message(b"hop"), "k")
            await upstream.publish(aio_pika.Message(b"other"), "x")
            assert [m.body for m in await _drain(queue)] == [b"hop"]
    run(scenario)


# -- consuming -----------------------------------------------------------------------------------
def test_competing_consumers_share_a_queue(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=1)
            queue = await channel.declare_queue(names.queue("work"))
            seen: dict[str, list[bytes]] = {"a": [], "b": []}
            done = asyncio.Event()

            def handler(name: str) -> Callable[[Any], Awaitable[None]]:
                async def on_message(message: Any) -> None:
                    async with message.process():
                        seen[name].append(message.body)
                        await asyncio.sleep(0)
                        if len(seen["a"]) + len(seen["b"]) == 10:
                            done.set()
                return on_message

            await queue.consume(handler("a"))
            await queue.consume(handler("b"))
            for n in range(10):
                await channel.default_exchange.publish(aio_pika.Message(str(n).encode()), queue.name)
            await done.wait()
            everything = sorted(seen["a"] + seen["b"], key=int)
            assert everything == [str(n).encode() for n in range(10)]  # each handled exactly once
            assert seen["a"] and seen["b"]  # and spread over both (prefetch 1, round robin)
    run(scenario)


def test_process_rejects_on_error_and_dead_letters(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            dlx = await channel.declare_exchange(names.exchange("dlx"), aio_pika.ExchangeType.FANOUT)
            dlq = await channel.declare_queue(names.queue("dlq"))
            await dlq.bind(dlx)
            queue = await channel.declare_queue(names.queue("q"), arguments={"x-dead-letter-exchange": dlx.name})
            await channel.default_exchange.publish(aio_pika.Message(b"poison"), queue.name)
            message = await queue.get()
            with pytest.raises(ValueError):
                async with message.process():  # requeue=False by default: rejected, dead-lettered
                    raise ValueError("handler failed")
            dead = await _wait_get(dlq)
            death = dead.headers["x-death"][0]
            assert (dead.body, death["reason"], death["queue"], death["count"]) == \
                (b"poison", "rejected", queue.name, 1)
    run(scenario)


def test_nack_requeue_redelivers_with_the_flag(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(names.queue("q"))
            await channel.default_exchange.publish(aio_pika.Message(b"again"), queue.name)
            first = await queue.get()
            assert first.redelivered is False
            await first.nack(requeue=True)
            second = await _wait_get(queue)
            assert (second.body, second.redelivered) == (b"again", True)
            await second.ack()
    run(scenario)


def test_iterator_and_properties_round_trip(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(names.queue("q"))
            sent = aio_pika.Message(b"body", content_type="text/plain", headers={"z": 1, "a": [1, "x"]},
                                    correlation_id="c-1", reply_to="r", message_id="m-1", priority=3,
                                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT, app_id="app", type="t")
            await channel.default_exchange.publish(sent, queue.name)
            async with queue.iterator() as messages:
                async for message in messages:
                    async with message.process():
                        got = (message.body, message.content_type, message.headers, message.correlation_id,
                               message.reply_to, message.message_id, message.priority, message.delivery_mode,
                               message.app_id, message.type, list(message.headers))
                    break
            assert got == (b"body", "text/plain", {"z": 1, "a": [1, "x"]}, "c-1", "r", "m-1", 3,
                           aio_pika.DeliveryMode.PERSISTENT, "app", "t", ["a", "z"])  # pamqp sorts the keys
    run(scenario)


# -- publishing ------------------------------------------------------------------------------------
def test_mandatory_unroutable_is_returned_once(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel(on_return_raises=False)
            returned: list[Any] = []
            channel.return_callbacks.add(lambda _channel, message: returned.append(message))
            exchange = await channel.declare_exchange(names.exchange("d"), aio_pika.ExchangeType.DIRECT,
                                                      auto_delete=True)
            await exchange.publish(aio_pika.Message(b"lost"), "nobody", mandatory=True)
            for _ in range(200):
                if returned:
                    break
                await asyncio.sleep(0.005)
            await asyncio.sleep(0.05)  # a second return would arrive by now
            assert [(m.body, m.routing_key) for m in returned] == [(b"lost", "nobody")]
    run(scenario)


def test_on_return_raises_delivery_error(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel(on_return_raises=True)
            with pytest.raises(aio_pika.exceptions.DeliveryError) as caught:
                await channel.default_exchange.publish(aio_pika.Message(b"x"), names.queue("missing"))
            assert caught.value.frame.reply_code == 312
            assert caught.value.frame.reply_text == "NO_ROUTE"
    run(scenario)


def test_reject_publish_overflow_nacks(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            queue = await channel.declare_queue(names.queue("q"), arguments={"x-max-length": 1,
                                                                            "x-overflow": "reject-publish"})
            await channel.default_exchange.publish(aio_pika.Message(b"1"), queue.name)
            with pytest.raises(aio_pika.exceptions.DeliveryError) as caught:
                await channel.default_exchange.publish(aio_pika.Message(b"2"), queue.name)
            assert type(caught.value.frame).__name__ == "Nack"
    run(scenario)


def test_transaction_commit_and_rollback(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel(publisher_confirms=False)
            queue = await channel.declare_queue(names.queue("q"))
            async with channel.transaction():
                await channel.default_exchange.publish(aio_pika.Message(b"kept"), queue.name)
            tx = channel.transaction()
            await tx.select()
            await channel.default_exchange.publish(aio_pika.Message(b"dropped"), queue.name)
            await tx.rollback()
            assert [m.body for m in await _drain(queue)] == [b"kept"]
    run(scenario)


def test_rpc_pattern_answers_each_call(target: str) -> None:
    async def scenario(names: Names) -> None:
        from aio_pika.patterns import RPC

        async with await connect() as connection:
            channel = await connection.channel()
            rpc = await RPC.create(channel)
            method = names.queue("square")

            async def square(*, x: int) -> int:
                return x * x

            await rpc.register(method, square, auto_delete=True)
            results = await asyncio.gather(*(rpc.call(method, kwargs={"x": n}) for n in range(50)))
            assert results == [n * n for n in range(50)]
            await rpc.close()
    run(scenario)


# -- errors ------------------------------------------------------------------------------------------
def test_passive_declare_of_a_missing_queue(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            missing = names.queue("missing")
            with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity) as caught:
                await channel.declare_queue(missing, passive=True)
            assert caught.value.args[0] == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
            assert channel.is_closed
    run(scenario)


def test_redeclare_with_other_arguments(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            name = names.queue("q")
            await channel.declare_queue(name, arguments={"x-max-length": 5})
            other = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed) as caught:
                await other.declare_queue(name, arguments={"x-max-length": 6})
            assert caught.value.args[0] == (f"PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue "
                                            f"'{name}' in vhost '/': received '6' but current is '5'")
    run(scenario)


def test_exclusive_queue_of_another_connection(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as owner, await connect() as intruder:
            channel = await owner.channel()
            name = names.queue("mine")
            await channel.declare_queue(name, exclusive=True)
            other = await intruder.channel()
            with pytest.raises(aiormq.exceptions.ChannelLockedResource) as caught:
                await other.declare_queue(name)
            assert caught.value.args[0] == (f"RESOURCE_LOCKED - cannot obtain exclusive access to locked queue "
                                            f"'{name}' in vhost '/'. It could be originally declared on another "
                                            f"connection or the exclusive property value does not match that "
                                            f"of the original declaration.")
    run(scenario)


def test_reserved_exchange_name(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as caught:
                await channel.declare_exchange("amq.minimq-test", aio_pika.ExchangeType.DIRECT)
            assert caught.value.args[0] == ("ACCESS_REFUSED - exchange name 'amq.minimq-test' contains reserved "
                                            "prefix 'amq.*'")
    run(scenario)


def test_unknown_vhost_and_bad_login(target: str) -> None:
    async def scenario(names: Names) -> None:
        # aiormq expects connection.open-ok and meets the server's connection.close (530): it raises
        # InvalidFrameError, at times wrapped in a CancelledError by aio-pika; so on both servers
        with pytest.raises(BaseException) as caught:
            await aio_pika.connect("amqp://guest:guest@127.0.0.1:5672/no-such-vhost")
        cause = caught.value.args[0] if type(caught.value) is asyncio.CancelledError else caught.value
        assert isinstance(cause, aiormq.exceptions.InvalidFrameError)
        assert "Expected one of ['Connection.OpenOk'], got <Connection.Close" in str(cause)
        with pytest.raises(aiormq.exceptions.ProbableAuthenticationError) as refused:
            await aio_pika.connect("amqp://guest:wrong@127.0.0.1:5672/")
        assert refused.value.args[0] == ("ACCESS_REFUSED - Login was refused using authentication mechanism "
                                         "PLAIN. For details see the broker logfile.")
    run(scenario)


def test_ack_of_an_unknown_delivery_tag_closes_the_channel(target: str) -> None:
    async def scenario(names: Names) -> None:
        async with await connect() as connection:
            channel = await connection.channel()
            closed: asyncio.Future = asyncio.get_running_loop().create_future()
            channel.close_callbacks.add(lambda _channel, exc: closed.done() or closed.set_result(exc))
            underlay = await channel.get_underlay_channel()
            await underlay.basic_ack(99)
            error = await closed
            assert isinstance(error, aiormq.exceptions.ChannelPreconditionFailed)
            assert error.args[0] == "PRECONDITION_FAILED - unknown delivery tag 99"
    run(scenario)


async def _drain(queue: Any) -> list[Any]:
    got = []
    while (message := await queue.get(no_ack=True, fail=False)) is not None:
        got.append(message)
    return got


async def _wait_get(queue: Any, timeout: float = 5.0) -> Any:
    """A real server may take a moment to requeue or dead-letter: poll (liveness only)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        message = await queue.get(fail=False)
        if message is not None:
            return message
        if loop.time() > deadline:
            raise AssertionError(f"nothing arrived on {queue.name} within {timeout} s")
        await asyncio.sleep(0.01)
