"""The transports of the application API, held to one contract.

Every scenario is written once, as a coroutine over an async session, and runs on all four
transports: memory (sync), memory (asyncio), amqp through pika (sync) and amqp through aio-pika, the
last two against the real RabbitMQ on 127.0.0.1:5672.  Sync sessions are driven through a thin
adapter whose methods call the sync ones, so the assertions are the same code.  Without RabbitMQ the
amqp cases skip (visibly, with the reason); with ``MINIMQ_REQUIRE_RABBITMQ=1`` they fail instead.
Names are unique per test and queues left on RabbitMQ are deleted afterwards.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any, Awaitable, Callable

import pytest
from real_rabbitmq import need_rabbitmq

import minimq
from minimq import Broker, Properties
from minimq.app.aio_memory import AsyncMemoryTransport
from minimq.app.amqp import (AmqpTransport, AsyncAmqpTransport, Backoff, BrokerUnreachable, redact, split_urls,
                             translate_error)
from minimq.app.declarations import Queue
from minimq.app.memory import MemoryTransport
from minimq.app.urls import transport_for

RABBIT = "amqp://guest:guest@127.0.0.1:5672/%2F"
CLOSED = "amqp://guest:guest@127.0.0.1:1/%2F"  # nothing listens on port 1
LIVENESS = 30.0
NO_WAIT = Backoff(rounds=1, initial=0.0, maximum=0.0)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, LIVENESS))


class SyncAsAsync:
    """An async face on a sync session: the scenarios are written once."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @property
    def is_open(self) -> bool:
        return self.session.is_open

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        method = getattr(self.session, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            return method(*args, **kwargs)
        return call


class Opened:
    """One transport under test: ``await opened.session()`` gives an async-faced session."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.sync = kind in ("memory", "amqp")
        self.broker = Broker() if kind.endswith("memory") else None
        self.transport: Any = None
        #: queues named by the test, deleted on RabbitMQ afterwards
        self.named: list[str] = []

    def make(self) -> Any:
        if self.kind == "memory":
            return MemoryTransport(self.broker)
        if self.kind == "aio-memory":
            return AsyncMemoryTransport(self.broker)
        if self.kind == "amqp":
            return AmqpTransport(RABBIT, backoff=NO_WAIT)
        return AsyncAmqpTransport(RABBIT, backoff=NO_WAIT)

    async def session(self) -> Any:
        if self.transport is None:
            self.transport = self.make()
        if self.sync:
            return SyncAsAsync(self.transport.session())
        return await self.transport.session()

    def name(self, what: str) -> str:
        name = f"minimq-test-{what}-{uuid.uuid4().hex[:12]}"
        self.named.append(name)
        return name

    async def close(self) -> None:
        if self.transport is not None:
            if self.sync:
                self.transport.close()
            else:
                await self.transport.close()

    def cleanup(self) -> None:
        if self.broker is not None:
            self.broker.close()
        elif self.named:
            import pika
            connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
            channel = connection.channel()
            for name in self.named:
                channel.queue_delete(name)
            connection.close()


KINDS = ["memory", "aio-memory", "amqp", "aio-amqp"]


@pytest.fixture(params=KINDS)
def opened(request: pytest.FixtureRequest) -> Any:
    if request.param.endswith("amqp"):
        need_rabbitmq()
    transport = Opened(request.param)
    yield transport
    transport.cleanup()


def scenario(opened: Opened, body: Callable[[Opened], Awaitable[None]]) -> None:
    async def main() -> None:
        try:
            await body(opened)
        finally:
            await opened.close()
    run(main())


SCRATCH = Queue("", durable=False, exclusive=True)  # deleted with its connection


# -- the contract ---------------------------------------------------------------------------------

def test_server_named_queue_publish_consume_ack(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        names = await s.declare([SCRATCH])
        queue = names[""]
        assert queue.startswith("amq.gen-")
        sent = Properties(content_type="application/json", headers={"k": "v", "n": 7}, timestamp=1700000000,
                          type="order.created", correlation_id="c-1", delivery_mode=2)
        result = await s.publish("", queue, b'{"a": 1}', sent)
        assert result.acked and result.returned is None
        tag = await s.consume(queue, prefetch=5)
        got = await s.next_delivery(LIVENESS)
        assert got is not None and got.body == b'{"a": 1}'
        assert (got.exchange, got.routing_key, got.redelivered, got.consumer_tag) == ("", queue, False, tag)
        p = got.properties
        assert (p.content_type, p.headers, p.timestamp, p.type, p.correlation_id, p.delivery_mode) == \
            ("application/json", {"k": "v", "n": 7}, 1700000000, "order.created", "c-1", 2)
        await s.ack(got.delivery_tag)
        assert await s.next_delivery(0.05) is None
        await s.cancel(tag)
        assert await s.get(queue) is None
        await s.publish("", queue, b"by get")
        fetched = await s.get(queue)
        assert fetched is not None and fetched.body == b"by get" and fetched.consumer_tag is None
        await s.ack(fetched.delivery_tag)
        assert await s.get(queue) is None
        assert s.is_open
        await s.close()
        assert not s.is_open
    scenario(opened, body)


def test_nack_with_requeue_redelivers(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        queue = (await s.declare([SCRATCH]))[""]
        await s.publish("", queue, b"again")
        await s.consume(queue)
        first = await s.next_delivery(LIVENESS)
        assert first is not None and not first.redelivered
        await s.nack(first.delivery_tag, requeue=True)
        second = await s.next_delivery(LIVENESS)
        assert second is not None and second.body == b"again" and second.redelivered
        await s.nack(second.delivery_tag, requeue=False)  # dropped: the queue has no dead-letter exchange
        assert await s.next_delivery(0.05) is None
    scenario(opened, body)


def test_mandatory_unroutable_publish_is_returned_with_312_no_route(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        key = f"nobody-{uuid.uuid4().hex}"
        result = await s.publish("", key, b"lost?", Properties(headers={"h": 1}), mandatory=True)
        assert result.acked
        returned = result.returned
        assert returned is not None
        assert (returned.reply_code, returned.reply_text, returned.exchange, returned.routing_key, returned.body) == \
            (312, "NO_ROUTE", "", key, b"lost?")
        assert returned.properties.headers == {"h": 1}
        plain = await s.publish("", key, b"dropped")  # not mandatory: dropped, still acked
        assert plain.acked and plain.returned is None
    scenario(opened, body)


def test_reject_publish_overflow_is_a_nack(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        name = t.name("overflow")
        await s.declare([Queue(name, durable=False, exclusive=True,
                               arguments={"x-max-length": 1, "x-overflow": "reject-publish"})])
        assert (await s.publish("", name, b"fits")).acked
        refused = await s.publish("", name, b"does not fit")
        assert refused.acked is False and refused.returned is None
        kept = await s.get(name, auto_ack=True)
        assert kept is not None and kept.body == b"fits"
    scenario(opened, body)


def test_closing_a_session_returns_its_unacked_deliveries(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        name = t.name("unacked")
        a = await t.session()
        await a.declare([Queue(name, durable=False)])
        for n in range(3):
            await a.publish("", name, b"m%d" % n)
        await a.consume(name, prefetch=3)
        held = [await a.next_delivery(LIVENESS) for _ in range(2)]
        assert [d.body for d in held] == [b"m0", b"m1"]
        await a.close()
        b = await t.session()
        back = []
        while (got := await b.get(name, auto_ack=True)) is not None:
            back.append((got.body, got.redelivered))
        # every message exactly once: none lost, none duplicated; the delivered ones marked redelivered
        assert sorted(back) == [(b"m0", True), (b"m1", True), (b"m2", True)]
    scenario(opened, body)


def test_a_missing_queue_raises_not_found_with_rabbitmqs_text(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        missing = f"minimq-test-missing-{uuid.uuid4().hex[:12]}"
        with pytest.raises(minimq.NotFound) as caught:
            await s.consume(missing)
        assert caught.value.reply_code == 404
        assert caught.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
        assert not s.is_open  # a channel error closes the session's channel: the layer above re-opens
        s2 = await t.session()
        with pytest.raises(minimq.NotFound) as caught:
            await s2.get(missing)
        assert caught.value.reply_text == f"NOT_FOUND - no queue '{missing}' in vhost '/'"
    scenario(opened, body)


def test_an_inequivalent_redeclare_raises_precondition_failed(opened: Opened) -> None:
    async def body(t: Opened) -> None:
        s = await t.session()
        name = t.name("redeclare")
        await s.declare([Queue(name, durable=False)])
        with pytest.raises(minimq.PreconditionFailed) as caught:
            await s.declare([Queue(name, durable=True)])
        assert caught.value.reply_code == 406
        assert caught.value.reply_text == (f"PRECONDITION_FAILED - inequivalent arg 'durable' for queue '{name}' "
                                           "in vhost '/': received 'true' but current is 'false'")
        assert not s.is_open
    scenario(opened, body)


# -- failover -------------------------------------------------------------------------------------

@pytest.mark.parametrize("asynchronous", [False, True], ids=["pika", "aio-pika"])
def test_failover_opens_on_the_first_url_that_answers(asynchronous: bool) -> None:
    need_rabbitmq()
    # the second URL gives no credentials and no vhost: it inherits the first's
    urls = f"{CLOSED},amqp://127.0.0.1:5672"
    transport = transport_for(urls, asynchronous=asynchronous)
    transport.backoff = NO_WAIT
    assert transport.urls == [CLOSED, "amqp://guest:guest@127.0.0.1:5672/%2F"]

    async def main() -> None:
        session = await transport.session() if asynchronous else transport.session()
        try:
            assert session.url == "amqp://guest:guest@127.0.0.1:5672/%2F"
            assert session.is_open
        finally:
            await transport.close() if asynchronous else transport.close()
    run(main())


@pytest.mark.parametrize("asynchronous", [False, True], ids=["pika", "aio-pika"])
def test_when_no_url_answers_the_error_names_each_one(asynchronous: bool) -> None:
    urls = ["amqp://guest:secret@127.0.0.1:1/%2F", "amqp://127.0.0.1:2"]
    kind = AsyncAmqpTransport if asynchronous else AmqpTransport
    transport = kind(urls, backoff=Backoff(rounds=2, initial=0.001, maximum=0.002))

    async def main() -> None:
        with pytest.raises(BrokerUnreachable) as caught:
            await transport.session() if asynchronous else transport.session()
        error = caught.value
        assert isinstance(error, ConnectionError)
        assert error.urls == ["amqp://guest:***@127.0.0.1:1/%2F", "amqp://guest:***@127.0.0.1:2/%2F"]
        assert [url for url, _ in error.attempts] == [*transport.urls, *transport.urls]  # two rounds
        text = str(error)
        assert "127.0.0.1:1/" in text and "127.0.0.1:2/" in text and "secret" not in text
    run(main())


def test_backoff_doubles_up_to_its_cap_and_checks_its_arguments() -> None:
    assert Backoff(rounds=5, initial=0.5, maximum=3.0).delays() == [0.5, 1.0, 2.0, 3.0]
    assert Backoff(rounds=1).delays() == []
    with pytest.raises(ValueError, match=r"^rounds must be >= 1, not 0$"):
        Backoff(rounds=0)
    with pytest.raises(ValueError, match=r"^need 0 <= initial <= maximum"):
        Backoff(initial=2.0, maximum=1.0)


def test_urls_inherit_credentials_and_vhost_from_the_first() -> None:
    assert split_urls("amqp://u:p@h1:5673/v1, amqp://h2, amqps://w:q@h3/v3") == [
        "amqp://u:p@h1:5673/v1", "amqp://u:p@h2/v1", "amqps://w:q@h3/v3"]
    assert split_urls(["amqp://u:p@h1/v1", "amqp://h2"], vhost="other/x") == [
        "amqp://u:p@h1/other%2Fx", "amqp://u:p@h2/other%2Fx"]
    assert redact("amqp://u:p@h1/v") == "amqp://u:***@h1/v"
    with pytest.raises(ValueError, match="not an AMQP URL: 'http://h'"):
        split_urls("amqp://h1,http://h")
    with pytest.raises(ValueError, match="no broker URL given"):
        split_urls(" , ")


# -- error translation ----------------------------------------------------------------------------

def test_library_refusals_become_the_cores_errors_with_the_text_unchanged() -> None:
    import aiormq.exceptions as me
    import pika.exceptions as pe
    text = "NOT_FOUND - no queue 'q' in vhost '/'"
    for raised in (pe.ChannelClosedByBroker(404, text), me.ChannelNotFoundEntity(text)):
        error = translate_error(raised)
        assert type(error) is minimq.NotFound
        assert (error.reply_code, error.reply_text, error.explanation) == (404, text, "no queue 'q' in vhost '/'")
    hard = translate_error(pe.ConnectionClosedByBroker(320, "CONNECTION_FORCED - broker forced connection closure"))
    assert type(hard) is minimq.ConnectionForced
    assert hard.reply_text == "CONNECTION_FORCED - broker forced connection closure"
    odd = translate_error(pe.ChannelClosedByBroker(406, "not the usual shape"))
    assert type(odd) is minimq.PreconditionFailed and odd.reply_text == "not the usual shape"
    assert isinstance(translate_error(pe.StreamLostError("lost")), minimq.ConnectionClosed)
    assert isinstance(translate_error(pe.ChannelWrongStateError("closed")), minimq.ChannelClosed)
    assert translate_error(ValueError("mine")) is None


# -- transport_for --------------------------------------------------------------------------------

def test_transport_for_each_accepted_form() -> None:
    broker = Broker()
    try:
        assert type(transport_for(broker)) is MemoryTransport
        on_broker = transport_for(broker, asynchronous=True)
        assert type(on_broker) is AsyncMemoryTransport and on_broker.broker is broker
    finally:
        broker.close()
    fresh = transport_for("memory://")
    assert type(fresh) is MemoryTransport and fresh.owns_broker
    fresh.close()
    assert type(transport_for("amqp://h1,amqp://h2")) is AmqpTransport
    many = transport_for(["amqp://u:p@h1", "amqps://h2"], asynchronous=True)
    assert type(many) is AsyncAmqpTransport and many.urls == ["amqp://u:p@h1", "amqps://u:p@h2"]
    for wrong in ("http://h", "", "memory", 42, ["amqp://h", 3], None):
        with pytest.raises(ValueError, match="expected a minimq.Broker, 'memory://', an 'amqp://'"):
            transport_for(wrong)  # type: ignore[arg-type]
