"""The application-API examples (examples/app/) run on memory:// and on RabbitMQ with the same outcome.

Each example's ``main(target, suffix)`` returns an outcome record; every test runs it on the
in-process broker and, when RabbitMQ answers on 127.0.0.1:5672, on RabbitMQ, and asserts the same
expected outcome on both.  Without RabbitMQ the amqp cases skip (visibly, with the reason); with
``MINIMQ_REQUIRE_RABBITMQ=1`` they fail instead.  On RabbitMQ every name carries a per-test suffix
and everything declared is deleted afterwards, so reruns start clean.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator

import pytest
from real_rabbitmq import need_rabbitmq

from minimq import Broker, ManualClock
from minimq.app import AsyncTemplate, Template

from examples.app.orders.app import CATALOGUE, Order, Shop, build_shop

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "app"
RABBIT = "amqp://guest:guest@127.0.0.1:5672/"
LIVENESS = 30.0
TARGETS = ["memory", "amqp"]


def delete_on_rabbitmq(queues: Iterator[str] | tuple[str, ...], exchanges: Iterator[str] | tuple[str, ...]) -> None:
    import pika
    connection = pika.BlockingConnection(pika.URLParameters(RABBIT))
    try:
        channel = connection.channel()
        for queue in queues:
            channel.queue_delete(queue)
        for exchange in exchanges:
            channel.exchange_delete(exchange)
    finally:
        connection.close()


def load(script: str) -> ModuleType:
    """An example script as a module (its file name starts with a digit, so no plain import)."""
    spec = importlib.util.spec_from_file_location(f"app_example_{script[:-3]}", EXAMPLES / script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and annotations are resolved through sys.modules
    spec.loader.exec_module(module)
    return module


def run_main(module: ModuleType, kind: str) -> Any:
    """``module.main`` on ``kind``'s target; on RabbitMQ with unique names, deleted afterwards."""
    if kind == "memory":
        return module.main("memory://")
    need_rabbitmq()
    suffix = f"-{uuid.uuid4().hex[:10]}"
    try:
        return module.main(RABBIT, suffix)
    finally:
        delete_on_rabbitmq((q + suffix for q in module.QUEUES), (e + suffix for e in module.EXCHANGES))


# -- the six patterns ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", TARGETS)
def test_hello_world(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_main(load("1_hello_world.py"), kind)
    assert outcome.received == ["Hello World!", "Hello again!"]
    out = capsys.readouterr().out
    assert " [x] Received 'Hello World!'" in out and " [x] Received 'Hello again!'" in out


@pytest.mark.parametrize("kind", TARGETS)
def test_work_queues_share_the_tasks(kind: str) -> None:
    module = load("2_work_queues.py")
    outcome = run_main(module, kind)
    assert outcome.done == list(range(1, module.TASKS + 1))   # each task done, and only once
    # prefetch=1 with three consumers: the first three tasks already go to three different workers
    assert outcome.workers_used == 3


@pytest.mark.parametrize("kind", TARGETS)
def test_publish_subscribe_copies_every_line_to_each_queue(kind: str) -> None:
    module = load("3_publish_subscribe.py")
    outcome = run_main(module, kind)
    assert outcome.screen == list(module.LINES)
    assert outcome.disk == list(module.LINES)


@pytest.mark.parametrize("kind", TARGETS)
def test_routing_by_exact_key(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = run_main(load("4_routing.py"), kind)
    assert (outcome.disk, outcome.screen, outcome.returned) == (["error"], ["info", "warning", "error"], ["debug"])
    assert " [x] 'debug' was returned: 312 NO_ROUTE" in capsys.readouterr().out


@pytest.mark.parametrize("kind", TARGETS)
def test_topics_by_pattern(kind: str) -> None:
    outcome = run_main(load("5_topics.py"), kind)
    assert outcome.q1 == ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox"]
    # lazy.pink.rabbit matches both of Q2's bindings and arrives once
    assert outcome.q2 == ["quick.orange.rabbit", "lazy.orange.elephant", "lazy.brown.fox", "lazy.pink.rabbit",
                          "lazy.orange.new.rabbit", "lazy"]
    assert outcome.returned == ["quick.brown.fox", "orange", "quick.orange.new.rabbit"]


@pytest.mark.parametrize("kind", TARGETS)
def test_rpc_answers_each_call(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    module = load("6_rpc.py")
    outcome = run_main(module, kind)
    assert outcome.answers == {10: 55, 30: 832040, 20: 6765, 50: 12586269025}
    assert outcome.concurrent_calls_right == module.CONCURRENT_CALLS
    assert " [.] Got fib(50) = 12586269025" in capsys.readouterr().out


def test_the_scripts_run_from_the_command_line() -> None:
    """As a reader runs them: ``python examples/app/N_x.py`` (memory://), output ending in the outcome."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    for script in sorted(p.name for p in EXAMPLES.glob("[1-6]_*.py")):
        proc = subprocess.run([sys.executable, str(EXAMPLES / script)], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, f"{script}\n{proc.stderr}"
        assert proc.stdout.splitlines()[-1].startswith("Outcome("), f"{script}\n{proc.stdout}"
    proc = subprocess.run([sys.executable, "-m", "examples.app.orders"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert " [shop] attempts at order 3 (x-retry-count): [0, 1, 2]" in proc.stdout


# -- the order-processing application -----------------------------------------------------------

def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + LIVENESS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {LIVENESS} s: {what}")
        time.sleep(0.01)


class Setup:
    """A shop on one transport and, on memory://, the ManualClock that drives its retry delays."""

    def __init__(self, shop: Shop, clock: ManualClock | None, broker: Broker | None) -> None:
        self.shop = shop
        self.clock = clock
        self.broker = broker

    def run_retry_delay(self) -> None:
        """Let one message's retry delay pass: advance the clock on memory://; on RabbitMQ it is real."""
        if self.clock is None:
            return
        retry_queue = self.broker.get_queue(self.shop.retry_queue)
        wait_until(lambda: retry_queue.message_count == 1, "the failed order waits in the retry queue")
        self.clock.advance(self.shop.retry.delay)


@pytest.fixture(params=TARGETS)
def setup(request: pytest.FixtureRequest) -> Iterator[Setup]:
    logger = logging.getLogger("minimq.app")
    level = logger.level
    logger.setLevel(logging.CRITICAL)  # the failing orders fail on purpose
    try:
        if request.param == "memory":
            clock = ManualClock()
            broker = Broker(clock=clock)
            shop = build_shop(broker, retry_delay=5.0)
            yield Setup(shop, clock, broker)
            shop.app.close()
            broker._check()
            broker.close()
            return
        need_rabbitmq()
        shop = build_shop(RABBIT, suffix=f"-{uuid.uuid4().hex[:10]}", retry_delay=0.2)
        try:
            yield Setup(shop, None, None)
        finally:
            shop.app.close()
            delete_on_rabbitmq(shop.queues, shop.exchanges)
    finally:
        logger.setLevel(level)


def test_orders_are_routed_by_topic(setup: Setup) -> None:
    shop = setup.shop
    returned = []
    client = Template(shop.app.transport, shop.app.converters, return_callback=lambda r: returned.append(r.routing_key))
    with shop.app, client:
        for order, key in ((Order(1, "A-7", 2), "order.new"), (Order(2, "B-2", 3), "order.rush"),
                           (Order(3, "A-7", 1), "order.eu.new"), (Order(4, "A-7", 1), "invoice.paid")):
            client.convert_and_send(shop.names.exchange, key, order, mandatory=True)
        wait_until(lambda: len(shop.confirmed) == 2, "both order.* orders confirmed")
    # '*' is exactly one word: order.eu.new is no order.*, and invoice.paid no order at all
    assert returned == ["order.eu.new", "invoice.paid"]
    assert sorted((c.order.id, c.routing_key, c.total_cents) for c in shop.confirmed) == [
        (1, "order.new", 2 * CATALOGUE["A-7"]), (2, "order.rush", 3 * CATALOGUE["B-2"])]
    assert shop.attempts == {1: [0], 2: [0]}


def test_a_failing_order_is_retried_then_dead_lettered(setup: Setup) -> None:
    shop = setup.shop
    with shop.app:
        shop.place(Order(7, "NO-SUCH-SKU", 1))
        for _ in range(shop.retry.attempts):
            setup.run_retry_delay()
        dead = shop.app.template.receive(shop.names.dead_letters, timeout=LIVENESS)
    assert dead is not None, "the order never reached the dead-letter queue"
    assert shop.app.converters.from_message(dead.body, dead.properties.content_type) == \
        {"id": 7, "sku": "NO-SUCH-SKU", "quantity": 1}
    # the first delivery and two retries, then rejected from the orders queue to the DLQ
    assert shop.attempts == {7: [0, 1, 2]}
    assert dead.headers["x-retry-count"] == 2
    death = dead.headers["x-death"][0]
    assert (death["queue"], death["reason"]) == (shop.names.orders, "rejected")
    assert shop.confirmed == []


def test_price_lookup_by_rpc(setup: Setup) -> None:
    shop = setup.shop
    with shop.app:
        assert shop.quote("C-1", 5) == {"sku": "C-1", "quantity": 5, "unit_cents": 10, "total_cents": 50}
        assert shop.quote("NOPE", 1) == {"sku": "NOPE", "quantity": 1, "unit_cents": None, "total_cents": None}


def test_a_thousand_concurrent_price_lookups_each_get_their_own_answer(setup: Setup) -> None:
    shop = setup.shop
    skus = sorted(CATALOGUE)
    requests = [(skus[i % len(skus)], i + 1) for i in range(1000)]  # every (sku, quantity) pair differs

    async def ask_all() -> list[Any]:
        async with AsyncTemplate(shop.app.async_transport, shop.app.converters, reply_timeout=LIVENESS) as client:
            return await asyncio.gather(*(
                client.convert_send_and_receive("", shop.names.prices, {"sku": sku, "quantity": quantity})
                for sku, quantity in requests))

    with shop.app:
        replies = asyncio.run(asyncio.wait_for(ask_all(), LIVENESS))
        asyncio.run(shop.app.async_transport.close())
    expected = [{"sku": sku, "quantity": quantity, "unit_cents": CATALOGUE[sku],
                 "total_cents": CATALOGUE[sku] * quantity} for sku, quantity in requests]
    assert replies == expected
