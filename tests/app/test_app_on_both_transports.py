"""One application test module, run twice: on ``memory://`` and on the CI's RabbitMQ (``amqp://``).

The application code below never branches on the transport; every test asserts the same concrete
outcome on both.  The ``amqp`` half skips visibly when no server answers on 127.0.0.1:5672 and fails
instead when ``MINIMQ_REQUIRE_RABBITMQ=1`` (CI).  Names carry a per-test token and are deleted from
the server afterwards.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from real_rabbitmq import need_rabbitmq

import minimq
from minimq.app import App, Exchange, Headers, Queue, Reject, Requeue, Retry

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
LIVENESS = 30.0


class Names:
    """Unique names for one test, deleted from the real server afterwards."""

    def __init__(self) -> None:
        self.token = uuid.uuid4().hex[:6]
        self.queues: list[str] = []
        self.exchanges: list[str] = []

    def queue(self, name: str) -> str:
        full = f"app.{self.token}.{name}"
        self.queues.append(full)
        return full

    def exchange(self, name: str) -> str:
        full = f"app.{self.token}.{name}"
        self.exchanges.append(full)
        return full

    def cleanup(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
        channel = connection.channel()
        for queue in self.queues + [f"{q}.retry.{ms}ms" for q in self.queues for ms in (100, 200)]:
            channel.queue_delete(queue)
        for exchange in self.exchanges:
            channel.exchange_delete(exchange)
        connection.close()


@pytest.fixture(params=["memory", "amqp"])
def target(request: pytest.FixtureRequest) -> Any:
    """``(url, names)``: ``memory://`` or the real RabbitMQ."""
    names = Names()
    if request.param == "memory":
        yield "memory://", names
        return
    need_rabbitmq()
    try:
        yield AMQP_URL, names
    finally:
        names.cleanup()


def wait_until(condition: Callable[[], bool], timeout: float = LIVENESS,
               tick: Callable[[], None] | None = None) -> None:
    """Liveness only: fail instead of hanging.  ``tick`` runs between looks (a manual clock's advance)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        if tick is not None:
            tick()
        time.sleep(0.005)


@dataclass
class Order:
    id: int
    sku: str


# -- listeners ---------------------------------------------------------------------------------------
def test_topic_listener_gets_typed_payloads_on_worker_threads(target: Any) -> None:
    url, names = target
    app = App(url)
    got: list[tuple[Order, str, bool]] = []
    shop = Exchange(names.exchange("shop"), type="topic", durable=False, auto_delete=True)

    @app.listener(queue=Queue(names.queue("orders"), durable=False), exchange=shop, routing_key="order.*")
    def on_order(order: Order, headers: Headers) -> None:
        got.append((order, headers.get("source"), threading.current_thread() is threading.main_thread()))

    with app:
        app.template.convert_and_send(shop.name, "order.new", {"id": 1, "sku": "A-7"}, headers={"source": "web"})
        app.template.convert_and_send(shop.name, "invoice.new", {"id": 2, "sku": "B"})
        app.template.convert_and_send(shop.name, "order.paid", {"id": 3, "sku": "C"})
        wait_until(lambda: len(got) == 2)
    assert sorted(got, key=lambda g: g[0].id) == [(Order(1, "A-7"), "web", False), (Order(3, "C"), None, False)]


@pytest.mark.parametrize("policy", ["reject", "requeue", "retry"])
def test_a_raising_handler_follows_its_error_policy(target: Any, policy: str) -> None:
    url, names = target
    # the retry ladder's delays are time: in process they run on a manual clock, advanced one delay
    # per look; on the real server they pass in real time
    clock = minimq.ManualClock() if url == "memory://" else None
    broker = None if clock is None else minimq.Broker(clock=clock)
    tick = None if clock is None else (lambda: clock.advance(0.1))
    app = App(url if broker is None else broker)
    dlx = Exchange(names.exchange("dlx"), type="fanout", durable=False, auto_delete=False)
    dlq = Queue(names.queue("dlq"), durable=False)
    app.declare(dlx, dlq)
    from minimq.app import Binding
    app.declare(Binding(dlx.name, dlq.name))
    error_policy = {"reject": Reject(), "requeue": Requeue(), "retry": Retry(attempts=2, delay=0.1)}[policy]
    attempts: list[tuple[bool, Any]] = []

    @app.listener(queue=Queue(names.queue("work"), durable=False, arguments={"x-dead-letter-exchange": dlx.name}),
                  error_policy=error_policy)
    def work(text: str, headers: Headers) -> None:
        attempts.append((len(attempts), headers.get("x-retry-count")))
        if policy == "requeue" and len(attempts) >= 3:
            return  # the third delivery succeeds
        raise ValueError("handler failed")

    with app:
        app.template.convert_and_send("", names.queues[-1], "poison")
        expected = {"reject": 1, "requeue": 3, "retry": 3}[policy]
        wait_until(lambda: len(attempts) == expected, tick=tick)
        if policy != "requeue":
            wait_until(lambda: app.template.receive_and_convert(dlq.name, timeout=0.05) == "poison", tick=tick)
        if tick is not None:
            tick()  # past any further retry's deadline
        time.sleep(0.3)  # no further delivery arrives (a liveness margin, not a timing assertion)
    if broker is not None:
        broker.close()
    assert len(attempts) == expected
    if policy == "retry":
        assert [count for _, count in attempts] == [None, 1, 2]


# -- the template --------------------------------------------------------------------------------------
def test_confirm_and_return_callbacks_exactly_once_per_message(target: Any) -> None:
    url, names = target
    app = App(url)
    queue = Queue(names.queue("bounded"), durable=False, arguments={"x-max-length": 10, "x-overflow": "reject-publish"})
    app.declare(queue)
    confirms: dict[str, list[bool]] = {}
    returns: list[tuple[int, str, str]] = []
    template = app.template
    template.confirm_callback = lambda correlation_id, ack, cause: confirms.setdefault(correlation_id, []).append(ack)
    template.return_callback = lambda returned: returns.append((returned.reply_code, returned.reply_text,
                                                                returned.routing_key))
    with app:
        sent = [template.convert_and_send("", queue.name, {"n": n}, correlation_id=f"ok-{n}") for n in range(30)]
        lost = [template.convert_and_send("", names.queue("nobody"), "x", mandatory=True,
                                          correlation_id=f"lost-{n}") for n in range(5)]
    assert sent == [f"ok-{n}" for n in range(30)] and len(lost) == 5
    assert all(len(acks) == 1 for acks in confirms.values()) and len(confirms) == 35
    assert [confirms[f"ok-{n}"][0] for n in range(30)] == [True] * 10 + [False] * 20  # reject-publish nacks
    assert all(confirms[f"lost-{n}"] == [True] for n in range(5))  # returned, then acked
    assert returns == [(312, "NO_ROUTE", names.queues[-1])] * 5


def test_a_thousand_concurrent_rpc_calls_get_their_own_answers(target: Any) -> None:
    url, names = target
    app = App(url)
    method = names.queue("square")

    @app.listener(queue=Queue(method, durable=False, auto_delete=True), concurrency=4, prefetch=50)
    async def square(n: int) -> dict:
        return {"n": n, "square": n * n}

    async def main() -> list[Any]:
        async with app:
            calls = [app.async_template.convert_send_and_receive("", method, n, timeout=LIVENESS) for n in range(1000)]
            return await asyncio.gather(*calls)

    answers = asyncio.run(main())
    assert answers == [{"n": n, "square": n * n} for n in range(1000)]


def test_sync_rpc_from_several_threads(target: Any) -> None:
    url, names = target
    app = App(url)
    method = names.queue("price")

    @app.listener(queue=Queue(method, durable=False, auto_delete=True), concurrency=2)
    def price(sku: str) -> dict:
        return {"sku": sku, "cents": len(sku) * 100}

    results: dict[int, list[Any]] = {}

    def client(k: int) -> None:
        results[k] = [app.template.convert_send_and_receive("", method, f"{k}-{i}" * (i % 3 + 1), timeout=LIVENESS)
                      for i in range(25)]

    with app:
        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(LIVENESS)
    for k in range(4):
        assert results[k] == [{"sku": f"{k}-{i}" * (i % 3 + 1), "cents": len(f"{k}-{i}" * (i % 3 + 1)) * 100}
                              for i in range(25)]


def test_graceful_stop_loses_nothing(target: Any) -> None:
    url, names = target
    app = App(url)
    queue = Queue(names.queue("jobs"), durable=False)
    handled: list[int] = []
    lock = threading.Lock()

    @app.listener(queue=queue, concurrency=4, prefetch=5)
    def job(n: int) -> None:
        time.sleep(0.001)
        with lock:
            handled.append(n)

    app.declare(queue)
    with app:
        for n in range(300):
            app.template.convert_and_send("", queue.name, n)
        wait_until(lambda: len(handled) >= 50)
    left = []
    while (n := app.template.receive_and_convert(queue.name, timeout=0.2)) is not None:
        left.append(n)
    assert len(handled) == len(set(handled))
    assert sorted(handled + left) == list(range(300))


def test_failover_to_the_second_url_when_the_first_is_down(target: Any) -> None:
    url, names = target
    if url == "memory://":
        pytest.skip("failover is between network addresses")
    app = App(["amqp://guest:guest@127.0.0.1:1/", url])
    got: list[str] = []

    @app.listener(queue=Queue(names.queue("fo"), durable=False, auto_delete=True))
    def on_message(text: str) -> None:
        got.append(text)

    with app:
        app.template.convert_and_send("", names.queues[-1], "reached")
        wait_until(lambda: got == ["reached"])
