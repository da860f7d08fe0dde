"""FastStream's ``RabbitBroker`` on minimq, through ``minimq.compat.aio_pika.install()``.

Two kinds of test:

* ``test_app_*``: a small FastStream app (an order handler that publishes to a second subscriber)
  tested the FastStream way, with ``TestRabbitBroker(broker, with_real=True)``: the handlers'
  ``.mock`` records the calls while every message really goes through the broker.
* ``test_routing[<target>-<scenario>]``: scenarios where FastStream's own test double,
  ``TestRabbitBroker`` without a real connection, does not route as RabbitMQ does.  Each scenario
  runs on minimq and, when a server answers, on RabbitMQ, and both must give the outcome written
  next to the scenario (so the two give the same outcome).  ``test_test_double_differs[<scenario>]``
  runs the same scenario under the plain double and pins what it does instead.

The RabbitMQ half is skipped, visibly, when nothing answers at ``$MINIMQ_RABBITMQ_URL`` (default
the local guest account); with ``MINIMQ_REQUIRE_RABBITMQ=1`` it fails instead.  Names carry a random
suffix and everything a scenario declared on RabbitMQ is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Awaitable, Callable

import pytest

# ImportError, not only ModuleNotFoundError: faststream.rabbit raises ImportError when FastStream is
# installed without its rabbit extra (no aio-pika)
pytest.importorskip("faststream.rabbit", exc_type=ImportError,
                    reason="FastStream with its rabbit extra is not installed (pip install 'faststream[rabbit]')")

import aio_pika  # noqa: E402
from faststream.exceptions import NackMessage, RejectMessage, SubscriberNotFound  # noqa: E402
from faststream.rabbit import (  # noqa: E402
    Channel,
    ExchangeType,
    RabbitBroker,
    RabbitExchange,
    RabbitQueue,
    TestRabbitBroker,
)
from faststream.rabbit.annotations import RabbitMessage  # noqa: E402
from yarl import URL  # noqa: E402

from minimq.compat.aio_pika import current  # noqa: E402

#: the URL the apps are written with; the patch serves it in process
APP_URL = "amqp://guest:guest@localhost:5672/"
RABBITMQ_URL = os.environ.get("MINIMQ_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")

#: a liveness bound, never a timing assertion: a message that never comes fails the test after this
LIVENESS = 10.0
#: after the awaited messages arrived, how long to keep listening for ones that should not come
QUIET = 0.3


def rabbitmq_unreachable() -> str | None:
    """None when RabbitMQ answers at ``RABBITMQ_URL``, else why not."""
    url = URL(RABBITMQ_URL)
    try:
        with socket.create_connection((url.host or "127.0.0.1", url.port or 5672), timeout=1.0):
            return None
    except OSError as error:
        return f"RabbitMQ not reachable at {url.host}:{url.port} ({error}); set MINIMQ_RABBITMQ_URL"


def in_delivery_order(records: list[tuple[int, Any]]) -> list[Any]:
    """The values of ``(delivery tag, value)`` records, in the order the broker delivered them.

    aiormq runs each delivery's callback as a task of its own, so handlers can start in another order
    than their messages arrived (seen on RabbitMQ too); the order a queue delivers in is the
    broker's, and it is what the scenarios compare.
    """
    return [value for _, value in sorted(records, key=lambda record: record[0])]


def tagged(message: Any, value: Any) -> tuple[int, Any]:
    """``(delivery tag, value)`` for :func:`in_delivery_order` (tags grow on a channel).  The test
    double's messages have no tag: it calls handlers inside ``publish``, in order, and a tag of 0 for
    all keeps that order (the sort is stable)."""
    tag = message.raw_message.delivery_tag
    return (0 if tag is None else tag), value


def run(coro: Awaitable[Any]) -> Any:
    """One fresh event loop per test, bounded so a hung test fails instead of hanging the suite."""
    return asyncio.run(asyncio.wait_for(coro, 4 * LIVENESS))


# -- where a scenario runs ------------------------------------------------------------------------

class Target:
    """Where a scenario's FastStream apps run: ``minimq`` (the patch installed), ``rabbitmq`` (a real
    server) or ``test-double`` (``TestRabbitBroker`` alone: no broker, FastStream routes by itself)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._suffix = uuid.uuid4().hex[:8]
        self.queues: list[str] = []
        self.exchanges: list[str] = []
        #: the bodies the test double refused to publish, with what it raised
        self.publish_errors: list[tuple[str, str]] = []

    def queue(self, base: str, **options: Any) -> RabbitQueue:
        """A queue with a name unique to this run (so runs on a shared server never meet)."""
        name = f"fs-{base}-{self._suffix}"
        self.queues.append(name)
        return RabbitQueue(name, **options)

    def exchange(self, base: str, type: ExchangeType, **options: Any) -> RabbitExchange:
        """An exchange with a name unique to this run; auto-deleted on RabbitMQ when unbound."""
        name = f"fs-{base}-{self._suffix}"
        self.exchanges.append(name)
        return RabbitExchange(name, type=type, auto_delete=True, **options)

    def app(self) -> RabbitBroker:
        """A FastStream broker as an application writes it (``logger=None`` keeps the test output
        quiet); on the rabbitmq target it points at the real server."""
        return RabbitBroker(RABBITMQ_URL if self.kind == "rabbitmq" else APP_URL, logger=None)

    @asynccontextmanager
    async def running(self, *apps: RabbitBroker) -> AsyncIterator[None]:
        """Connect and start ``apps`` (all their subscribers consume when this is entered)."""
        if self.kind == "test-double":
            async with TestRabbitBroker(*apps):
                yield
            return
        async with AsyncExitStack() as stack:
            for app in apps:
                await stack.enter_async_context(app)
                await app.start()
            yield

    async def publish(self, app: RabbitBroker, body: Any, **where: Any) -> None:
        """``app.publish(body, **where)``; the double raises SubscriberNotFound when no handler of its
        own matches, where a broker would route (or drop) the message: that is recorded, not raised."""
        try:
            await app.publish(body, **where)
        except SubscriberNotFound:
            self.publish_errors.append((body, "SubscriberNotFound"))

    async def until(self, condition: Callable[[], bool]) -> None:
        """Wait for ``condition`` (which the scenario expects to become true), then listen a little
        longer for deliveries that should not come.  The double does not route as the scenario
        expects, so its condition may never hold: it gets only the quiet period, which is enough
        for handlers it runs in the background."""
        if self.kind == "test-double":
            await asyncio.sleep(QUIET)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIVENESS
        while not condition() and loop.time() < deadline:
            await asyncio.sleep(0.005)
        await asyncio.sleep(QUIET)

    async def delete_declared(self) -> None:
        """On RabbitMQ, delete what the scenario declared (queues are not auto-deleted: some are
        meant to outlive their consumers)."""
        if self.kind != "rabbitmq":
            return
        connection = await aio_pika.connect(RABBITMQ_URL)
        async with connection:
            channel = await connection.channel()
            for name in self.queues:
                await channel.queue_delete(name)
            for name in self.exchanges:
                await channel.exchange_delete(name)


@pytest.fixture
def minimq_patch(minimq_aio_pika_patch):
    """The aio-pika patch on a fresh broker (minimq's pytest plugin); the broker's invariants are
    checked when the test ends."""
    yield minimq_aio_pika_patch
    minimq_aio_pika_patch.broker._check()


def rabbitmq_unusable() -> str | None:
    """None when the rabbitmq half can reach a real server, else why not."""
    if current() is not None:
        return "the aio-pika patch is installed for the whole run, so no connection reaches RabbitMQ"
    return rabbitmq_unreachable()


@pytest.fixture(params=["minimq", "rabbitmq"])
def target(request):
    """The scenario's target: minimq through the patch, or the real server."""
    if request.param == "minimq":
        request.getfixturevalue("minimq_patch")
    else:
        why = rabbitmq_unusable()
        if why:
            if os.environ.get("MINIMQ_REQUIRE_RABBITMQ") == "1":
                pytest.fail("MINIMQ_REQUIRE_RABBITMQ=1 but " + why)
            pytest.skip(why)
    target = Target(request.param)
    yield target
    run(target.delete_declared())


# -- the app, tested the FastStream way -------------------------------------------------------------

def make_order_app(target: Target) -> tuple[RabbitBroker, Any, Any]:
    """An order service: ``handle_order`` answers each order on the shipments queue, which
    ``record_shipment`` consumes."""
    app = target.app()
    orders = target.queue("orders")
    shipments = target.queue("shipments")

    @app.subscriber(orders)
    @app.publisher(shipments)
    async def handle_order(order: dict) -> dict:
        return {"order": order["id"], "status": "shipped"}

    @app.subscriber(shipments)
    async def record_shipment(shipment: dict) -> None:
        pass

    return app, handle_order, record_shipment


def test_app_handlers_called_through_the_broker(target):
    app, handle_order, record_shipment = make_order_app(target)

    async def scenario():
        async with TestRabbitBroker(app, with_real=True):
            await app.publish({"id": 7}, target.queues[0])
            await record_shipment.wait_call(timeout=LIVENESS)
            handle_order.mock.assert_called_once_with({"id": 7})
            record_shipment.mock.assert_called_once_with({"order": 7, "status": "shipped"})

    run(scenario())


def test_app_messages_really_cross_the_broker(minimq_patch):
    """with_real=True is not the double: the orders queue exists in minimq and saw the message."""
    target = Target("minimq")
    app, handle_order, record_shipment = make_order_app(target)

    async def scenario():
        async with TestRabbitBroker(app, with_real=True):
            await app.publish({"id": 8}, target.queues[0])
            await record_shipment.wait_call(timeout=LIVENESS)
            orders = minimq_patch.broker.get_queue(target.queues[0])
            shipments = minimq_patch.broker.get_queue(target.queues[1])
            return orders.consumer_count, shipments.consumer_count

    assert run(scenario()) == (1, 1)


# -- routing scenarios: each returns its outcome -------------------------------------------------

async def topic_hash_matches_zero_words(target: Target) -> dict:
    """``a.#`` matches ``a`` (``#`` is zero or more words), ``a.b`` and ``a.b.c``, not ``b.a``."""
    app = target.app()
    logs = target.exchange("logs", ExchangeType.TOPIC)
    received: list[tuple[int, str]] = []

    @app.subscriber(target.queue("a-and-below", routing_key="a.#"), logs)
    async def handle(body: str, message: RabbitMessage) -> None:
        received.append(tagged(message, message.raw_message.routing_key))

    async with target.running(app):
        for key in ("a", "b.a", "a.b", "a.b.c"):
            await target.publish(app, key, exchange=logs, routing_key=key)
        await target.until(lambda: len(received) >= 3)
    return {"received": in_delivery_order(received), "publish_errors": target.publish_errors}


async def competing_consumers(target: Target) -> dict:
    """Two instances of one service consume one queue: each message is handled once, by one of them."""
    first, second = target.app(), target.app()
    work = target.queue("work")
    handled: dict[str, list[int]] = {"first": [], "second": []}

    # prefetch 1: an instance holds one message at a time, so the queue hands the next to whichever
    # instance is free, as it would to a pool of workers
    @first.subscriber(work, channel=Channel(prefetch_count=1))
    async def first_instance(n: int) -> None:
        handled["first"].append(n)
        await asyncio.sleep(0.005)  # some work, so the other instance gets its turn

    @second.subscriber(work, channel=Channel(prefetch_count=1))
    async def second_instance(n: int) -> None:
        handled["second"].append(n)
        await asyncio.sleep(0.005)

    async with target.running(first, second):
        for n in range(20):
            await target.publish(first, n, queue=work)
        await target.until(lambda: len(handled["first"]) + len(handled["second"]) >= 20)
    return {"each handled once": sorted(handled["first"] + handled["second"]) == list(range(20)),
            "both instances worked": bool(handled["first"]) and bool(handled["second"]),
            "handlings": len(handled["first"]) + len(handled["second"])}


async def queue_keeps_messages_until_a_consumer_comes(target: Target) -> dict:
    """Messages published to a queue nobody consumes wait in it; a subscriber started later gets them."""
    app = target.app()
    later = target.queue("later")
    received: list[tuple[int, str]] = []

    async with target.running(app):
        await app.declare_queue(later)
        for body in ("first", "second", "third"):
            await target.publish(app, body, queue=later)

        late_subscriber = app.subscriber(later)

        @late_subscriber
        async def record(body: str, message: RabbitMessage) -> None:
            received.append(tagged(message, body))

        await late_subscriber.start()
        await target.until(lambda: len(received) >= 3)
        await late_subscriber.stop()
    return {"received": in_delivery_order(received), "publish_errors": target.publish_errors}


async def headers_exchange_any_and_all(target: Target) -> dict:
    """x-match all needs every binding header, any needs one; with plain all/any, binding arguments
    whose names start with ``x-`` are not compared (all of no headers is always true)."""
    app = target.app()
    documents = target.exchange("documents", ExchangeType.HEADERS)
    received: dict[str, list[tuple[int, str]]] = {"all": [], "any": [], "x-tenant (all)": []}
    wanted = {"format": "pdf", "kind": "report"}

    @app.subscriber(target.queue("pdf-reports", bind_arguments={"x-match": "all", **wanted}), documents)
    async def match_all(body: str, message: RabbitMessage) -> None:
        received["all"].append(tagged(message, body))

    @app.subscriber(target.queue("pdf-or-report", bind_arguments={"x-match": "any", **wanted}), documents)
    async def match_any(body: str, message: RabbitMessage) -> None:
        received["any"].append(tagged(message, body))

    @app.subscriber(target.queue("tenant", bind_arguments={"x-match": "all", "x-tenant": "acme"}), documents)
    async def match_x_key(body: str, message: RabbitMessage) -> None:
        received["x-tenant (all)"].append(tagged(message, body))

    messages = {"pdf report": {"format": "pdf", "kind": "report"},
                "pdf invoice": {"format": "pdf", "kind": "invoice"},
                "zip archive": {"format": "zip"},
                "acme zip": {"format": "zip", "x-tenant": "acme"}}
    async with target.running(app):
        for body, headers in messages.items():
            await target.publish(app, body, exchange=documents, headers=headers)
        await target.until(lambda: sum(map(len, received.values())) >= 7)
    return {"received": {queue: in_delivery_order(records) for queue, records in received.items()},
            "publish_errors": target.publish_errors}


async def exchange_to_exchange_binding(target: Target) -> dict:
    """A topic exchange feeds a fanout exchange through an exchange-to-exchange binding."""
    app = target.app()
    events = target.exchange("events", ExchangeType.TOPIC)
    orders = target.exchange("order-events", ExchangeType.FANOUT, bind_to=events, routing_key="order.*")
    received: list[tuple[int, str]] = []

    @app.subscriber(target.queue("order-audit"), orders)
    async def audit(body: str, message: RabbitMessage) -> None:
        received.append(tagged(message, message.raw_message.routing_key))

    async with target.running(app):
        for key in ("user.created", "order.created", "order.paid"):
            await target.publish(app, key, exchange=events, routing_key=key)
        await target.until(lambda: len(received) >= 2)
    return {"received": in_delivery_order(received), "publish_errors": target.publish_errors}


async def rejected_message_is_dead_lettered(target: Target) -> dict:
    """A handler rejects; the queue's x-dead-letter-exchange sends the message to the DLQ, with x-death."""
    app = target.app()
    dead_letters = target.exchange("dead-letters", ExchangeType.FANOUT)
    payments = target.queue("payments", arguments={"x-dead-letter-exchange": dead_letters.name})
    dead: list[dict] = []
    attempts: list[str] = []

    @app.subscriber(payments)
    async def pay(body: str) -> None:
        attempts.append(body)
        raise RejectMessage()

    @app.subscriber(target.queue("payments-dlq"), dead_letters)
    async def park(body: str, message: RabbitMessage) -> None:
        death = message.headers["x-death"][0]
        dead.append({"body": body, "reason": death["reason"], "count": death["count"],
                     "from queue": death["queue"] == payments.name})

    async with target.running(app):
        await target.publish(app, "card declined", queue=payments)
        await target.until(lambda: len(dead) >= 1)
    return {"attempts": attempts, "dead-lettered": dead, "publish_errors": target.publish_errors}


async def nacked_message_is_redelivered(target: Target) -> dict:
    """A handler nacks with requeue; the message comes back with the redelivered flag set."""
    app = target.app()
    deliveries: list[tuple[str, bool]] = []

    @app.subscriber(target.queue("flaky"))
    async def flaky(body: str, message: RabbitMessage) -> None:
        redelivered = message.raw_message.redelivered
        deliveries.append((body, redelivered))
        if not redelivered:
            raise NackMessage(requeue=True)

    async with target.running(app):
        await target.publish(app, "retry me", queue=target.queues[0])
        await target.until(lambda: len(deliveries) >= 2)
    return {"deliveries": deliveries, "publish_errors": target.publish_errors}


#: scenario -> (what RabbitMQ 3.10 does, what TestRabbitBroker alone does instead: one outcome, or a
#: list of them where FastStream versions differ)
SCENARIOS: dict[Callable[[Target], Awaitable[dict]], tuple[dict, dict | list[dict]]] = {
    topic_hash_matches_zero_words: (
        {"received": ["a", "a.b", "a.b.c"], "publish_errors": []},
        {"received": ["a.b", "a.b.c"],
         "publish_errors": [("a", "SubscriberNotFound"), ("b.a", "SubscriberNotFound")]},
    ),
    competing_consumers: (
        {"each handled once": True, "both instances worked": True, "handlings": 20},
        # FastStream 0.7.8: both instances handle every message; 0.6.0: only the publishing app's
        [{"each handled once": False, "both instances worked": True, "handlings": 40},
         {"each handled once": True, "both instances worked": False, "handlings": 20}],
    ),
    queue_keeps_messages_until_a_consumer_comes: (
        {"received": ["first", "second", "third"], "publish_errors": []},
        {"received": [], "publish_errors": [("first", "SubscriberNotFound"), ("second", "SubscriberNotFound"),
                                          ("third", "SubscriberNotFound")]},
    ),
    headers_exchange_any_and_all: (
        {"received": {"all": ["pdf report"], "any": ["pdf report", "pdf invoice"],
                      "x-tenant (all)": ["pdf report", "pdf invoice", "zip archive", "acme zip"]},
         "publish_errors": []},
        {"received": {"all": ["pdf report"], "any": ["pdf report", "pdf invoice"], "x-tenant (all)": ["acme zip"]},
         "publish_errors": [("zip archive", "SubscriberNotFound")]},
    ),
    exchange_to_exchange_binding: (
        {"received": ["order.created", "order.paid"], "publish_errors": []},
        {"received": [], "publish_errors": [("user.created", "SubscriberNotFound"),
                                            ("order.created", "SubscriberNotFound"),
                                            ("order.paid", "SubscriberNotFound")]},
    ),
    rejected_message_is_dead_lettered: (
        {"attempts": ["card declined"],
         "dead-lettered": [{"body": "card declined", "reason": "rejected", "count": 1, "from queue": True}],
         "publish_errors": []},
        {"attempts": ["card declined"], "dead-lettered": [], "publish_errors": []},
    ),
    nacked_message_is_redelivered: (
        {"deliveries": [("retry me", False), ("retry me", True)], "publish_errors": []},
        {"deliveries": [("retry me", False)], "publish_errors": []},
    ),
}


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda s: s.__name__)
def test_routing(scenario, target):
    rabbitmq_outcome, _ = SCENARIOS[scenario]
    assert run(scenario(target)) == rabbitmq_outcome


@pytest.mark.parametrize("scenario", list(SCENARIOS), ids=lambda s: s.__name__)
def test_test_double_differs(scenario):
    rabbitmq_outcome, double_outcomes = SCENARIOS[scenario]
    outcome = run(scenario(Target("test-double")))
    assert outcome != rabbitmq_outcome
    assert outcome in (double_outcomes if isinstance(double_outcomes, list) else [double_outcomes])
