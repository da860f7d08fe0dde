"""minimq.app listeners on worker threads, on memory://: payloads, concurrency, prefetch, error
policies (the retry ladder on a manual clock), replies, graceful stop, declarations refused at start."""

import dataclasses
import logging
import threading
import time
from typing import Optional, TypedDict

import pydantic
import pytest
from app_helpers import publish, ready, unacked

import minimq
from minimq import Broker, ManualClock, Properties
from minimq.app import (App, DeclarationError, Exchange, Headers, Inbound, MessageConversionError, Queue,
                        Reject, Requeue, Retry)
from minimq.app.payloads import analyse

#: a liveness bound, never a timing assertion: a hung test fails instead of hanging the suite
LIVENESS = 30.0


def eventually(condition, timeout=LIVENESS):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never became true")
        time.sleep(0.002)


@dataclasses.dataclass
class Address:
    city: str
    zip: int


@dataclasses.dataclass
class Order:
    id: int
    address: Address
    lines: list[str]
    note: Optional[str] = None


class Point(TypedDict):
    x: int
    y: int


class Invoice(pydantic.BaseModel):
    number: int
    total: float


@pytest.fixture
def app():
    app = App()
    yield app
    app.close()
    app.broker._check()


# -- payloads ---------------------------------------------------------------------------------------

def test_payload_converted_to_nested_dataclass_with_headers_and_inbound_injected(app):
    seen = []

    @app.listener(queue="orders")
    def on_order(order: Order, headers: Headers, message: Inbound) -> None:
        seen.append((order, headers, message.routing_key, message.redelivered))

    with app:
        publish(app.broker, "orders", b'{"id": 7, "address": {"city": "Oslo", "zip": 150}, "lines": ["a", "b"]}',
                content_type="application/json", headers={"tenant": "t1"})
        eventually(lambda: seen)
    assert seen == [(Order(7, Address("Oslo", 150), ["a", "b"]), {"tenant": "t1"}, "orders", False)]
    assert type(seen[0][1]) is Headers


def test_typeddict_pydantic_str_bytes_and_untyped_payloads(app):
    seen = {}

    @app.listener(queue="points")
    def on_point(point: Point) -> None:
        seen["point"] = point

    @app.listener(queue="invoices")
    def on_invoice(invoice: Invoice) -> None:
        seen["invoice"] = invoice

    @app.listener(queue="texts")
    def on_text(text: str) -> None:
        seen["text"] = text

    @app.listener(queue="raw")
    def on_raw(body: bytes) -> None:
        seen["raw"] = body

    @app.listener(queue="any")
    def on_any(value) -> None:
        seen["any"] = value

    with app:
        publish(app.broker, "points", b'{"x": 1, "y": 2}', content_type="application/json")
        publish(app.broker, "invoices", b'{"number": 3, "total": "9.5"}', content_type="application/json")
        publish(app.broker, "texts", "h\u00e9".encode(), content_type="text/plain")
        publish(app.broker, "raw", b'{"not": "parsed"}', content_type="application/json")
        publish(app.broker, "any", b'[1, 2]', content_type="application/json")
        eventually(lambda: len(seen) == 5)
    assert seen == {"point": {"x": 1, "y": 2}, "invoice": Invoice(number=3, total=9.5), "text": "h\u00e9",
                    "raw": b'{"not": "parsed"}', "any": [1, 2]}


def test_payload_that_does_not_convert_goes_to_the_policy_and_is_logged_with_its_identity(app, caplog):
    called = []
    app.declare(Queue("orders.dlq"))

    @app.listener(queue=Queue("orders", arguments={"x-dead-letter-exchange": "",
                                                   "x-dead-letter-routing-key": "orders.dlq"}))
    def on_order(order: Order) -> None:
        called.append(order)

    with caplog.at_level(logging.ERROR, logger="minimq.app"), app:
        publish(app.broker, "orders", b'{"id": 1, "address": {"city": "Oslo", "zip": "x"}, "lines": []}',
                content_type="application/json", message_id="m-1", correlation_id="c-1")
        eventually(lambda: ready(app.broker, "orders.dlq") == 1)
    assert called == []
    [record] = [r for r in caplog.records if r.name == "minimq.app"]
    text = record.getMessage()
    assert "queue 'orders'" in text and "delivery tag 1" in text
    assert "message_id 'm-1'" in text and "correlation_id 'c-1'" in text
    assert "MessageConversionError" in text and "parameter 'order' (Order)" in text
    assert "expected int, got str 'x' at address.zip" in text
    assert isinstance(record.exc_info[1], MessageConversionError)


@pytest.mark.parametrize("body, why", [
    (b'{"x": 1}', "missing key(s) ['y'] for Point"),
    (b'{"x": 1, "y": 2, "z": 3}', "unknown key(s) ['z'] for Point"),
    (b'{"x": 1, "y": 2.5}', "expected int, got float 2.5 at y"),
    (b'[1, 2]', "expected a JSON object for Point, got list [1, 2]"),
    (b'not json', "is not JSON"),
])
def test_conversion_errors_name_the_parameter_the_type_and_why(body, why):
    def handler(point: Point) -> None: ...

    message = Inbound(body, Properties(), "", "q", 1, False)
    from minimq.app.converters import Converters
    with pytest.raises(MessageConversionError) as raised:
        analyse(handler).arguments(message, Converters())
    text = str(raised.value)
    assert text.startswith("cannot convert the message to parameter 'point' (Point) of "), text
    assert why in text, text
    assert isinstance(raised.value, TypeError)


def test_signature_analysis_refuses_a_second_payload_parameter():
    def handler(a: int, b: int) -> None: ...

    with pytest.raises(TypeError, match=r"second payload parameter 'b' \(after 'a'\)"):
        analyse(handler)


# -- threads, concurrency, prefetch --------------------------------------------------------------

def test_handler_runs_on_a_worker_thread_not_the_publishers(app):
    threads = []

    @app.listener(queue="work")
    def on_work(body: bytes) -> None:
        threads.append(threading.current_thread())

    with app:
        publish(app.broker, "work", b"x")
        eventually(lambda: threads)
    assert threads[0] is not threading.current_thread()
    assert threads[0].name.startswith("minimq-listener-work-")


def test_concurrency_runs_n_handlers_at_once(app):
    n = 4
    barrier = threading.Barrier(n, timeout=LIVENESS)
    passed = []

    @app.listener(queue="work", concurrency=n, prefetch=1)
    def on_work(body: bytes) -> None:
        barrier.wait()  # returns only when n handlers are inside at the same time
        passed.append(threading.current_thread().name)

    with app:
        for i in range(n):
            publish(app.broker, "work", b"%d" % i)
        eventually(lambda: len(passed) == n)
    assert len(set(passed)) == n


def test_prefetch_bounds_the_unacked_messages_of_a_worker(app):
    release = threading.Event()
    started = []

    @app.listener(queue="work", prefetch=3)
    def on_work(body: bytes) -> None:
        started.append(body)
        release.wait(LIVENESS)

    with app:
        for i in range(10):
            publish(app.broker, "work", b"%d" % i)
        eventually(lambda: started and unacked(app.broker, "work") == 3)
        assert ready(app.broker, "work") == 7
        release.set()
        eventually(lambda: len(started) == 10)
    assert started == [b"%d" % i for i in range(10)]


# -- error policies ------------------------------------------------------------------------------

def _dead_lettered(queue):
    return Queue(queue, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue + ".dlq"})


def test_reject_sends_a_failed_message_to_the_dead_letter_queue_and_the_worker_lives_on(app):
    handled = []
    app.declare(Queue("work.dlq"))

    @app.listener(queue=_dead_lettered("work"), error_policy=Reject())
    def on_work(body: bytes) -> None:
        if body == b"bad":
            raise ValueError("bad input")
        handled.append(body)

    with app:
        publish(app.broker, "work", b"bad")
        publish(app.broker, "work", b"good")
        eventually(lambda: handled == [b"good"] and ready(app.broker, "work.dlq") == 1)
        [container] = app.containers
        assert (container.acked, container.failed) == (1, 1)
    dead = app.broker.channel().basic_get("work.dlq", auto_ack=True)
    assert dead.body == b"bad" and dead.headers["x-death"][0]["reason"] == "rejected"


def test_requeue_redelivers_a_failed_message(app):
    attempts = []

    @app.listener(queue="work", error_policy=Requeue())
    def on_work(body: bytes, message: Inbound) -> None:
        attempts.append(message.redelivered)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    with app:
        publish(app.broker, "work", b"x")
        eventually(lambda: len(attempts) == 2)
        eventually(lambda: unacked(app.broker, "work") == 0)
    assert attempts == [False, True]
    assert ready(app.broker, "work") == 0


def test_retry_ladder_retries_exactly_attempts_times_on_the_clock_then_dead_letters():
    clock = ManualClock()
    broker = Broker(clock=clock)
    app = App(broker)
    app.declare(Queue("work.dlq"))
    counts = []

    @app.listener(queue=_dead_lettered("work"), error_policy=Retry(attempts=3, delay=5))
    def on_work(body: bytes, headers: Headers) -> None:
        counts.append(headers.get("x-retry-count"))
        raise RuntimeError("always fails")

    try:
        with app:
            assert broker.get_queue("work.retry.5000ms") is not None
            publish(broker, "work", b"job", message_id="job-1")
            eventually(lambda: counts == [None] and ready(broker, "work.retry.5000ms") == 1)
            for retry in (1, 2, 3):
                clock.advance(4.999)          # not yet due: the copy waits in the retry queue
                assert ready(broker, "work.retry.5000ms") == 1 and len(counts) == retry
                clock.advance(0.001)
                if retry < 3:
                    eventually(lambda: len(counts) == retry + 1 and ready(broker, "work.retry.5000ms") == 1)
            eventually(lambda: len(counts) == 4 and ready(broker, "work.dlq") == 1)
            assert ready(broker, "work") == 0 and ready(broker, "work.retry.5000ms") == 0
        assert counts == [None, 1, 2, 3]
        dead = broker.channel().basic_get("work.dlq", auto_ack=True)
        assert dead.body == b"job" and dead.headers["x-retry-count"] == 3
        assert dead.properties.message_id == "job-1"
        assert ready(broker, "work.dlq") == 0
    finally:
        app.close()
        broker._check()
        broker.close()


def test_retry_arguments_are_checked():
    with pytest.raises(ValueError, match=r"^attempts must be an int >= 1, not 0$"):
        Retry(attempts=0)
    with pytest.raises(ValueError, match=r"^delay must be a number of seconds > 0, not -1$"):
        Retry(delay=-1)


# -- replies -------------------------------------------------------------------------------------

def test_a_returned_value_answers_the_request_at_reply_to_with_its_correlation_id(app):
    @app.listener(queue="rpc")
    def square(n: int) -> dict:
        return {"square": n * n}

    with app:
        client = app.broker.channel(inline=False)
        reply_queue = client.queue_declare("", exclusive=True).queue
        for n, correlation_id in ((3, "a"), (4, "b")):
            client.basic_publish("", "rpc", b"%d" % n, Properties(content_type="application/json",
                                                                  reply_to=reply_queue,
                                                                  correlation_id=correlation_id))
        eventually(lambda: ready(app.broker, reply_queue) == 2)
        replies = [client.basic_get(reply_queue, auto_ack=True) for _ in range(2)]
        client.close()
    assert sorted((r.properties.correlation_id, r.body, r.properties.content_type) for r in replies) == [
        ("a", b'{"square":9}', "application/json"), ("b", b'{"square":16}', "application/json")]


# -- lifecycle -----------------------------------------------------------------------------------

def test_graceful_stop_in_the_middle_loses_and_duplicates_nothing(app):
    handled = []
    lock = threading.Lock()

    @app.listener(queue="work", concurrency=4, prefetch=10)
    def on_work(body: bytes) -> None:
        time.sleep(0.0005)  # slow enough that the stop lands mid-stream
        with lock:
            handled.append(body)

    app.start()

    def publisher():
        ch = app.broker.channel()
        for i in range(1000):
            ch.basic_publish("", "work", b"%d" % i)
            if i % 50 == 0:
                time.sleep(0.001)
        ch.close()

    thread = threading.Thread(target=publisher)
    thread.start()
    eventually(lambda: len(handled) >= 200)
    [container] = app.containers
    assert app.stop()
    thread.join(LIVENESS)
    acked = container.acked
    assert acked == len(handled)
    assert len(set(handled)) == len(handled)
    assert acked + ready(app.broker, "work") == 1000
    assert unacked(app.broker, "work") == 0
    assert 0 < acked < 1000, acked
    assert app.broker.get_queue("work").consumer_count == 0


def test_a_deleted_queue_is_declared_again_and_consumed_after_a_back_off(app):
    seen = []

    @app.listener(queue="work")
    def on_work(body: bytes) -> None:
        seen.append(body)

    with app:
        [container] = app.containers
        container.reconnect_delay = 0.01
        ch = app.broker.channel()
        ch.queue_delete("work")
        eventually(lambda: app.broker.get_queue("work") is not None
                   and app.broker.get_queue("work").consumer_count == 1)
        ch.basic_publish("", "work", b"after")
        eventually(lambda: seen == [b"after"])


def test_declaration_refused_at_start_raises_declaration_error_naming_it(app):
    ch = app.broker.channel()
    ch.queue_declare("orders", durable=True, arguments={"x-max-length": 5})

    @app.listener(queue="orders")
    def on_order(body: bytes) -> None: ...

    with pytest.raises(DeclarationError) as raised:
        app.start()
    text = str(raised.value)
    assert text.startswith("cannot declare Queue(name='orders'"), text
    assert "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue 'orders' in vhost '/'" in text
    assert isinstance(raised.value.__cause__, minimq.PreconditionFailed)
    assert app.containers == ()
    assert app.broker.get_queue("orders").consumer_count == 0


def test_exchange_and_routing_keys_are_declared_and_bound(app):
    seen = []

    @app.listener(queue="eu-orders", exchange=Exchange("shop", type="topic"), routing_key=["order.eu.*", "vip.#"])
    def on_order(order: dict) -> None:
        seen.append(order["id"])

    with app:
        ch = app.broker.channel()
        for key, n in (("order.eu.new", 1), ("order.us.new", 2), ("vip.x.y", 3)):
            ch.basic_publish("shop", key, b'{"id": %d}' % n, Properties(content_type="application/json"))
        eventually(lambda: len(seen) == 2)
    assert sorted(seen) == [1, 3]


def test_listener_decorator_returns_the_function_and_minimq_app_is_lazy(app):
    def handler(body: bytes) -> int:
        return 1

    assert app.listener(queue="q")(handler) is handler
    assert minimq.App is App


def test_listeners_reconnect_and_redeclare_after_the_broker_closes_their_connections() -> None:
    """A connection dropped from the server side (320 CONNECTION_FORCED, as an operator or a failing
    node does): each worker reopens its session after a back-off, declares again and keeps consuming."""
    import minimq
    from minimq.app import App, Queue

    broker = minimq.Broker()
    app = App(broker)
    got: list[str] = []

    @app.listener(queue=Queue("resilient", durable=False, exclusive=False, auto_delete=False), concurrency=2)
    def handle(text: str) -> None:
        got.append(text)

    with app:
        app.template.convert_and_send("", "resilient", "before")
        _wait(lambda: got == ["before"])
        closed = broker.close_connection("all")
        assert closed >= 2  # the two workers' connections (and the template's)
        _wait(lambda: broker.get_queue("resilient").consumer_count == 2)
        app.template.convert_and_send("", "resilient", "after")
        _wait(lambda: got == ["before", "after"])
    broker.close()


def _wait(condition, timeout: float = 30.0) -> None:
    import time as _time

    deadline = _time.monotonic() + timeout
    while not condition():
        assert _time.monotonic() < deadline, "condition never became true"
        _time.sleep(0.005)
