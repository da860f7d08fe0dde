"""minimq.app's converters, Template and AsyncTemplate on the in-process transports."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import decimal
import enum
import threading
import uuid
from collections import Counter
from typing import Any, Callable, TypedDict

import pytest

import minimq.aio
from minimq import NotFound, Properties, PublishOutcome
from minimq.app.converters import (BytesConverter, Converters, JsonConverter, MessageConverter, MsgpackConverter,
                                   StrConverter, media_type)
from minimq.app.declarations import Queue
from minimq.app.errors import MessageConversionError, MessageReturnedError, ReplyTimeout
from minimq.app.memory import MemoryTransport, inbound
from minimq.app.messages import ReturnedMessage
from minimq.app.template import NACK_CAUSE, AsyncTemplate, Template
from minimq.app.transport import REPLY_TO, PublishResult

LIVENESS = 30.0  # seconds a thread or call may take before the test calls it stuck (never a speed claim)


# -- values ---------------------------------------------------------------------------------------

@dataclasses.dataclass
class Line:
    sku: str
    quantity: int


@dataclasses.dataclass
class Order:
    id: uuid.UUID
    lines: list[Line]
    total: decimal.Decimal
    placed: datetime.datetime


class Colour(enum.Enum):
    RED = "red"


class Point(TypedDict):
    x: int
    y: int


# -- converters -----------------------------------------------------------------------------------

def test_default_order_is_bytes_str_json():
    c = Converters()
    assert c.to_message(b"\x00\x01") == (b"\x00\x01", "application/octet-stream", None)
    assert c.to_message(bytearray(b"ab")) == (b"ab", "application/octet-stream", None)
    assert c.to_message(memoryview(b"ab")) == (b"ab", "application/octet-stream", None)
    assert c.to_message("héllo") == ("héllo".encode(), "text/plain", "utf-8")
    assert c.to_message({"a": [1, 2.5, None, True]}) == (b'{"a":[1,2.5,null,true]}', "application/json", None)
    assert c.to_message(7) == (b"7", "application/json", None)


def test_json_writes_dataclasses_typeddicts_dates_uuids_decimals_enums_as_plain_values():
    c = Converters()
    order = Order(uuid.UUID(int=1), [Line("a", 2)], decimal.Decimal("10.10"),
                  datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc))
    body, content_type, _ = c.to_message(order)
    assert content_type == "application/json"
    assert c.from_message(body, content_type) == {
        "id": "00000000-0000-0000-0000-000000000001", "lines": [{"sku": "a", "quantity": 2}],
        "total": "10.10", "placed": "2024-05-06T07:08:09+00:00"}
    point: Point = {"x": 1, "y": 2}
    assert c.from_message(*c.to_message(point)[:2]) == {"x": 1, "y": 2}
    assert c.from_message(*c.to_message([Colour.RED, datetime.date(2024, 1, 2)])[:2]) == ["red", "2024-01-02"]


def test_pydantic_style_models_are_written_through_their_json_dict():
    class Model:  # what the converter relies on: model_dump(mode="json") on the class (pydantic v2)
        def model_dump(self, mode: str = "python") -> dict:
            assert mode == "json"
            return {"name": "m", "when": "2024-01-01"}

    body, content_type, _ = Converters().to_message(Model())
    assert (body, content_type) == (b'{"name":"m","when":"2024-01-01"}', "application/json")


def test_msgpack_round_trip_and_read_by_content_type():
    m = MsgpackConverter()
    c = Converters([m])
    body, content_type, encoding = c.to_message({"b": b"\x00", 1: (1, 2), "d": decimal.Decimal("1.5")})
    assert (content_type, encoding) == ("application/msgpack", None)
    assert Converters().from_message(body, "application/msgpack") == {"b": b"\x00", 1: [1, 2], "d": "1.5"}
    with pytest.raises(MessageConversionError, match=r"^MsgpackConverter cannot write dict: "):
        m.write({"x": object()})
    assert m.read(m.write([1])) == [1]  # a failed write leaves nothing behind in the packer


def test_str_charset_comes_from_content_encoding_or_the_content_type():
    latin = Converters([StrConverter("latin-1")])
    assert latin.to_message("café") == (b"caf\xe9", "text/plain", "latin-1")
    c = Converters()
    assert c.from_message(b"caf\xe9", "text/plain", "latin-1") == "café"
    assert c.from_message(b"caf\xe9", "text/plain; charset=latin-1") == "café"
    assert c.from_message("café".encode(), "TEXT/PLAIN") == "café"
    with pytest.raises(MessageConversionError, match=r"^body is not text/plain in utf-8: "):
        c.from_message(b"caf\xe9", "text/plain")
    with pytest.raises(LookupError):
        StrConverter("no-such-codec")


def test_unknown_or_missing_content_type_gives_the_raw_bytes():
    c = Converters()
    assert c.from_message(b"\x89PNG", "image/png") == b"\x89PNG"
    assert c.from_message(b'{"a":1}', None) == b'{"a":1}'
    assert c.from_message(b'{"a":1}', "application/json; charset=utf-8") == {"a": 1}
    assert media_type(" Application/JSON ; charset=x") == "application/json"


def test_conversion_errors_name_the_type_and_the_converters_tried():
    c = Converters()
    with pytest.raises(MessageConversionError, match=(
            r"^no converter can write a value of type set; tried: BytesConverter \(application/octet-stream\), "
            r"StrConverter \(text/plain\), JsonConverter \(application/json\), "
            r"MsgpackConverter \(application/msgpack\)$")):
        c.to_message({1, 2})
    with pytest.raises(MessageConversionError, match=r"^JsonConverter cannot write dict: .*type set$"):
        c.to_message({"inside": {1}})
    with pytest.raises(MessageConversionError, match=r"^JsonConverter cannot write float: "):
        c.to_message(float("nan"))
    with pytest.raises(MessageConversionError, match=r"^body is not valid application/json: "):
        c.from_message(b"{not json", "application/json")
    assert issubclass(MessageConversionError, TypeError)
    with pytest.raises(MessageConversionError, match=r"^no converter can write a value of type str; tried: "
                                                     r"BytesConverter \(application/octet-stream\)$"):
        Converters([BytesConverter()]).to_message("text")


def test_a_custom_converter_first_takes_its_types_and_reads_its_content_type():
    class Upper:
        content_type = "text/x-upper"
        content_encoding = None

        def can_write(self, obj: object) -> bool:
            return isinstance(obj, str)

        def write(self, obj: object) -> bytes:
            return str(obj).upper().encode()

        def read(self, body: bytes, content_encoding: str | None = None) -> object:
            return body.decode().lower()

    assert isinstance(Upper(), MessageConverter)
    c = Converters([Upper(), *Converters().converters])
    assert c.to_message("hi") == (b"HI", "text/x-upper", None)
    assert c.from_message(b"HI", "text/x-upper") == "hi"
    with pytest.raises(TypeError, match=r"is not a MessageConverter"):
        Converters([object()])  # type: ignore[list-item]


# -- the sync template on MemoryTransport -----------------------------------------------------------

@pytest.fixture
def transport(broker):
    t = MemoryTransport(broker)
    yield t
    t.close()


def declare(transport: MemoryTransport, *queues: Queue) -> None:
    session = transport.session()
    session.declare(queues)
    session.close()


class Recorder:
    """The template's callbacks, in the order they ran (from any thread)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[tuple] = []

    def confirm(self, correlation_id: str, ack: bool, cause: str | None) -> None:
        with self.lock:
            self.events.append(("confirm", correlation_id, ack, cause))

    def returned(self, message: ReturnedMessage) -> None:
        with self.lock:
            self.events.append(("return", message.properties.correlation_id, message.reply_code, message.reply_text))


def test_convert_and_send_sets_content_type_and_correlation_id_and_receive_converts_back(transport):
    declare(transport, Queue("q"))
    template = Template(transport)
    given = Properties(headers={"a": 1}, app_id="shop", content_type="ignored/by-the-converter")
    cid = template.convert_and_send("", "q", {"n": 1}, headers={"b": 2}, properties=given)
    message = template.receive("q")
    assert message is not None and message.body == b'{"n":1}'
    props = message.properties
    assert (props.content_type, props.content_encoding, props.correlation_id) == ("application/json", None, cid)
    assert props.headers == {"a": 1, "b": 2} and props.app_id == "shop"
    assert given.headers == {"a": 1} and given.correlation_id is None  # the caller's properties untouched
    prefix, _, number = cid.partition("-")
    assert len(prefix) == 16 and int(prefix, 16) >= 0 and int(number) >= 1  # a process prefix and a counter
    assert template.convert_and_send("", "q", "text", correlation_id="mine") == "mine"
    assert template.receive_and_convert("q") == "text"
    template.send("", "q", b"\x89PNG", Properties(content_type="image/png"))
    assert template.receive_and_convert("q") == b"\x89PNG"
    template.send("", "q", b"caf\xe9", Properties(content_type="text/plain", content_encoding="latin-1"))
    assert template.receive_and_convert("q") == "café"


def test_defaults_from_the_template_and_bad_arguments(transport):
    declare(transport, Queue("orders"))
    template = Template(transport, exchange="", routing_key="orders")
    template.convert_and_send(None, None, [1, 2])
    assert template.receive_and_convert("orders") == [1, 2]
    with pytest.raises(TypeError, match=r"^send\(\) takes the body as bytes, not dict; use convert_and_send\(\)"):
        template.send(None, None, {"a": 1})  # type: ignore[arg-type]
    with pytest.raises(MessageConversionError):
        template.convert_and_send(None, None, {1, 2})
    with pytest.raises(ValueError, match=r"^timeout must be a number of seconds >= 0, not -1$"):
        template.receive("orders", -1)
    with pytest.raises(ValueError, match=r"^reply_timeout must be a number of seconds >= 0, not -1$"):
        Template(transport, reply_timeout=-1)


def test_receive_and_convert_with_and_without_a_message(transport):
    declare(transport, Queue("q"))
    template = Template(transport)
    assert template.receive_and_convert("q") is None
    assert template.receive("q", timeout=0.01) is None
    template.convert_and_send("", "q", {"x": 1})
    assert template.receive_and_convert("q") == {"x": 1}
    assert template.receive_and_convert("q") is None  # auto-acked: it is gone

    def later() -> None:
        Template(transport).convert_and_send("", "q", "late")
    publisher = threading.Timer(0.05, later)
    publisher.start()
    assert template.receive_and_convert("q", timeout=LIVENESS) == "late"
    publisher.join(LIVENESS)
    assert transport.broker.get_queue("q").message_count == 0


def test_confirm_callback_exactly_once_per_message_including_nacks(transport):
    """1,000 messages to a queue that takes 10 (x-overflow reject-publish): 10 acks, 990 nacks."""
    declare(transport, Queue("small", arguments={"x-max-length": 10, "x-overflow": "reject-publish"}))
    recorder = Recorder()
    template = Template(transport, confirm_callback=recorder.confirm)
    sent = [template.convert_and_send("", "small", {"i": i}) for i in range(1000)]
    assert len(set(sent)) == 1000
    per_message = Counter(cid for _, cid, _, _ in recorder.events)
    assert set(per_message) == set(sent) and set(per_message.values()) == {1}
    acks = [e for e in recorder.events if e[2]]
    nacks = [e for e in recorder.events if not e[2]]
    assert len(acks) == 10 and len(nacks) == 990
    assert [cid for _, cid, _, _ in acks] == sent[:10]
    assert {cause for *_, cause in acks} == {None} and {cause for *_, cause in nacks} == {NACK_CAUSE}
    assert transport.broker.get_queue("small").message_count == 10


def test_confirm_callbacks_from_many_threads(transport):
    declare(transport, Queue("q"))
    recorder = Recorder()
    template = Template(transport, confirm_callback=recorder.confirm)
    sent: list[str] = []
    sent_lock = threading.Lock()

    def publish(n: int) -> None:
        mine = [template.convert_and_send("", "q", n) for _ in range(125)]
        with sent_lock:
            sent.extend(mine)
    threads = [threading.Thread(target=publish, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIVENESS)
    assert Counter(cid for _, cid, _, _ in recorder.events) == Counter(set(sent)) and len(sent) == 1000
    assert transport.broker.get_queue("q").message_count == 1000
    template.close()


def test_return_callback_with_312_no_route_runs_before_the_confirm(transport):
    recorder = Recorder()
    template = Template(transport, mandatory=True, confirm_callback=recorder.confirm,
                        return_callback=recorder.returned)
    cid = template.convert_and_send("", "nowhere", {"x": 1})
    assert recorder.events == [("return", cid, 312, "NO_ROUTE"), ("confirm", cid, True, None)]
    recorder.events.clear()
    cid = template.convert_and_send("", "nowhere", 1, mandatory=False)  # dropped: confirmed, not returned
    assert recorder.events == [("confirm", cid, True, None)]


def test_the_confirm_callback_runs_even_when_the_return_callback_raises(transport):
    recorder = Recorder()

    def failing(message: ReturnedMessage) -> None:
        raise RuntimeError("return callback failed")
    template = Template(transport, mandatory=True, confirm_callback=recorder.confirm, return_callback=failing)
    with pytest.raises(RuntimeError, match="^return callback failed$"):
        template.convert_and_send("", "nowhere", 1)
    assert [e[0] for e in recorder.events] == ["confirm"]


def test_a_refused_publish_raises_at_the_call_and_the_thread_gets_a_new_session(transport):
    recorder = Recorder()
    template = Template(transport, confirm_callback=recorder.confirm)
    first = template.session()
    with pytest.raises(NotFound, match=r"no exchange 'missing' in vhost '/'"):
        template.convert_and_send("missing", "k", 1)
    assert recorder.events == []  # no confirm was given, so no callback
    assert not first.is_open
    declare(transport, Queue("q"))
    template.convert_and_send("", "q", 1)
    assert template.session() is not first and len(recorder.events) == 1


def test_one_session_per_thread_and_close_closes_them_all(transport):
    template = Template(transport)
    sessions = []

    def take() -> None:
        sessions.append(template.session())
        assert template.session() is sessions[-1]
    threads = [threading.Thread(target=take) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(LIVENESS)
    assert len({id(s) for s in sessions}) == 4 and all(s.is_open for s in sessions)
    template.close()
    assert not any(s.is_open for s in sessions)
    declare(transport, Queue("q"))
    template.convert_and_send("", "q", 1)  # still usable: a new session
    assert template.receive_and_convert("q") == 1


class Server:
    """An RPC server on its own thread and session: replies to ``reply_to`` with the request's
    correlation id (after ``strays`` replies with a wrong one, to show they are ignored)."""

    def __init__(self, transport: MemoryTransport, queue: str, answer: Callable[[Any], Any], strays: int = 0) -> None:
        self.transport = transport
        self.queue = queue
        self.answer = answer
        self.strays = strays
        self.converters = Converters()
        self.ready = threading.Event()
        self.stopping = threading.Event()
        self.handled = 0
        self.thread = threading.Thread(target=self.run, name=f"rpc-server-{queue}")

    def __enter__(self) -> Server:
        self.thread.start()
        assert self.ready.wait(LIVENESS)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.thread.join(LIVENESS)
        assert not self.thread.is_alive()

    def run(self) -> None:
        session = self.transport.session()
        session.declare([Queue(self.queue)])
        session.consume(self.queue, prefetch=100)
        self.ready.set()
        try:
            while not self.stopping.is_set():
                request = session.next_delivery(0.05)
                if request is None:
                    continue
                props = request.properties
                value = self.converters.from_message(request.body, props.content_type, props.content_encoding)
                body, content_type, encoding = self.converters.to_message(self.answer(value))
                for n in range(self.strays):
                    session.publish("", props.reply_to, b'"stray"',
                                    Properties(correlation_id=f"stray-{n}", content_type="application/json"))
                session.publish("", props.reply_to, body, Properties(correlation_id=props.correlation_id,
                                                                     content_type=content_type,
                                                                     content_encoding=encoding))
                session.ack(request.delivery_tag)
                self.handled += 1
        finally:
            session.close()


def test_rpc_with_a_server_thread_ignores_stray_replies(transport):
    template = Template(transport)
    with Server(transport, "rpc", lambda v: {"double": v["n"] * 2}, strays=2):
        assert template.convert_send_and_receive("", "rpc", {"n": 21}, timeout=LIVENESS) == {"double": 42}
        assert template.convert_send_and_receive("", "rpc", {"n": 1}, timeout=LIVENESS) == {"double": 2}
    template.close()


def test_1000_concurrent_rpc_calls_from_several_threads_each_get_their_own_answer(transport):
    template = Template(transport)
    answers: dict[tuple[int, int], Any] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def caller(t: int) -> None:
        try:
            for i in range(125):
                reply = template.convert_send_and_receive("", "rpc", {"t": t, "i": i}, timeout=LIVENESS)
                with lock:
                    answers[(t, i)] = reply
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            errors.append(error)

    with Server(transport, "rpc", lambda v: {"t": v["t"], "i": v["i"], "sum": v["t"] * 1000 + v["i"]}) as server:
        threads = [threading.Thread(target=caller, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(LIVENESS * 4)
    assert errors == []
    assert len(answers) == 1000 and server.handled == 1000
    assert all(reply == {"t": t, "i": i, "sum": t * 1000 + i} for (t, i), reply in answers.items())
    template.close()


def test_rpc_timeout_raises_reply_timeout_and_a_late_reply_answers_no_later_call(transport):
    declare(transport, Queue("slow"))
    template = Template(transport, reply_timeout=0.05)
    with pytest.raises(ReplyTimeout, match=r"^no reply to correlation id 'first' \(sent to exchange '' with "
                                           r"routing key 'slow'\) within 0.05 s$") as caught:
        template.convert_send_and_receive("", "slow", "question", correlation_id="first")
    assert caught.value.correlation_id == "first" and isinstance(caught.value, TimeoutError)
    # the server answers the first request only now, then the second: the caller gets the second's answer
    with Server(transport, "slow", lambda v: f"answer to {v}"):
        assert template.convert_send_and_receive("", "slow", "second", timeout=LIVENESS) == "answer to second"


def test_a_mandatory_rpc_request_nobody_routes_fails_at_once(transport):
    recorder = Recorder()
    template = Template(transport, confirm_callback=recorder.confirm, return_callback=recorder.returned)
    with pytest.raises(MessageReturnedError, match=r"^request 'r1' returned by the broker: 312 NO_ROUTE "
                                                   r"\(exchange '', routing key 'nobody'\)$") as caught:
        template.convert_send_and_receive("", "nobody", 1, mandatory=True, correlation_id="r1", timeout=LIVENESS)
    assert caught.value.returned.reply_code == 312
    assert [e[0] for e in recorder.events] == ["return", "confirm"]


# -- the async template -----------------------------------------------------------------------------
# The async in-process transport is written in parallel (minimq/app/aio_memory.py); until it is on
# this branch, these tests run on the small AsyncSession below, over minimq.aio.

class _AioSession:
    """An AsyncSession over one minimq.aio channel in confirm mode; direct reply-to consumed on it.
    Enough for the template: publish, consume(REPLY_TO), next_delivery, get, close."""

    def __init__(self, connection: Any, channel: Any) -> None:
        self.connection = connection
        self.channel = channel
        self.inbox: asyncio.Queue = asyncio.Queue()

    @property
    def is_open(self) -> bool:
        return self.channel.is_open

    async def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                      mandatory: bool = False) -> PublishResult:
        outcome = await self.channel.basic_publish(exchange, routing_key, body, properties, mandatory)
        return PublishResult(outcome is not PublishOutcome.NACKED)

    async def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        assert queue == REPLY_TO, "this test session consumes direct reply-to only"
        return await self.channel.basic_consume(queue, lambda d: self.inbox.put_nowait(inbound(d.delivery, self)),
                                                auto_ack=auto_ack)

    async def next_delivery(self, timeout: float | None) -> Any:
        try:
            return await asyncio.wait_for(self.inbox.get(), timeout)
        except asyncio.TimeoutError:
            return None

    async def get(self, queue: str, auto_ack: bool = False) -> Any:
        delivery = await self.channel.basic_get(queue, auto_ack)
        return None if delivery is None else inbound(delivery.delivery, self)

    async def close(self) -> None:
        await self.connection.close()


class _AioTransport:
    def __init__(self, broker: Any) -> None:
        self.broker = broker
        self.url = "memory://"

    async def session(self) -> _AioSession:
        connection = await minimq.aio.connect(self.broker)
        channel = await connection.channel()
        await channel.confirm_select()
        return _AioSession(connection, channel)

    async def close(self) -> None:
        pass


def async_transport(broker: Any) -> Any:
    try:
        from minimq.app.aio_memory import AsyncMemoryTransport
    except ImportError:
        return _AioTransport(broker)
    return AsyncMemoryTransport(broker)


def test_async_convert_and_send_confirms_and_receive(broker, transport):
    declare(transport, Queue("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"}))

    async def main() -> list:
        seen: list = []

        async def confirm(cid: str, ack: bool, cause: str | None) -> None:  # an async callback is awaited
            seen.append((cid, ack))
        async with AsyncTemplate(async_transport(broker), confirm_callback=confirm) as template:
            first = await template.convert_and_send("", "q", {"a": 1})
            second = await template.send("", "q", b"x")
            assert seen == [(first, True), (second, False)]
            assert await template.receive_and_convert("q") == {"a": 1}
            assert await template.receive_and_convert("q", timeout=0.01) is None
        return seen

    assert len(asyncio.run(main())) == 2


def test_1000_concurrent_async_rpc_calls_each_get_their_own_answer(broker, transport):
    async def main() -> list:
        async with AsyncTemplate(async_transport(broker)) as template:
            return await asyncio.gather(*(
                template.convert_send_and_receive("", "rpc", {"i": i}, timeout=LIVENESS) for i in range(1000)))

    with Server(transport, "rpc", lambda v: {"i": v["i"], "square": v["i"] ** 2}, strays=1) as server:
        replies = asyncio.run(main())
    assert replies == [{"i": i, "square": i * i} for i in range(1000)]
    assert server.handled == 1000


def test_async_rpc_timeout(broker, transport):
    declare(transport, Queue("slow"))

    async def main() -> None:
        async with AsyncTemplate(async_transport(broker), reply_timeout=0.05) as template:
            with pytest.raises(ReplyTimeout, match=r"^no reply to correlation id 'c1' "):
                await template.convert_send_and_receive("", "slow", 1, correlation_id="c1")
            assert template._pending == {}

    asyncio.run(main())
