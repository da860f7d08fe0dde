"""The network transports (``amqp://``, ``amqps://``): sessions on a real RabbitMQ.

:class:`AmqpTransport` opens sync sessions through pika's ``BlockingConnection``;
:class:`AsyncAmqpTransport` opens async ones through aio-pika.  Both speak the session protocol of
:mod:`minimq.app.transport`, so the layers above never know they left the process.

One connection per session.  pika connections are not thread-safe and a session belongs to one
thread, so each sync session owns its connection and one channel.  An async session does the same
(one task's work on one connection), which also keeps one session's failure from closing another's.

Several URLs, failover with back-off.  ``urls`` is a list or a comma-separated string.  A URL after
the first that gives no user (``amqp://h2``) takes the first URL's user and password, and one that
gives no vhost path takes the first's vhost; its host, port and query are its own.  ``vhost=`` given
to the transport overrides every URL's.  Opening a session tries the URLs in order; when none
answers it waits (``retry_delay``, doubled each round up to ``max_retry_delay``) and tries them all
again, up to ``rounds`` times, then raises :class:`BrokerUnreachable` naming every URL tried and why
each failed.  A refusal by a server that did answer (wrong password, unknown vhost) is raised at once
as the core's error: another node of the same cluster would refuse the same way.  Connections are
plain, not "robust": re-opening is the layer above's job, and it knows because a session whose
connection dropped reports ``is_open == False``.

Errors.  RabbitMQ's refusals reach the caller as the core's :mod:`minimq.errors` classes with the
server's ``reply_code`` and ``reply_text`` unchanged (``translate_error`` is the one place that
maps them); a connection lost under a call raises :class:`minimq.errors.ConnectionClosed`.

Properties.  pika's ``BasicProperties`` and aio-pika's messages are converted to and from
:class:`minimq.Properties` (``timestamp`` as integer seconds, ``expiration`` as RabbitMQ's string of
milliseconds).
"""

from __future__ import annotations

import asyncio
import builtins
import time
from collections import deque
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit, urlunsplit

from ..errors import AMQPError, ChannelClosed, ConnectionClosed, LoginRefused, error_for_code
from ..message import PROPERTY_NAMES, Properties
from .declarations import Binding, Declarable, Exchange, Queue
from .messages import Inbound, ReturnedMessage
from .transport import PublishResult

__all__ = ["AmqpTransport", "AmqpSession", "AsyncAmqpTransport", "AsyncAmqpSession", "BrokerUnreachable",
           "Backoff", "split_urls", "translate_error", "redact"]

_EMPTY = Properties()


# -- URLs and back-off --------------------------------------------------------------------------

def split_urls(urls: str | Sequence[str], vhost: str | None = None) -> list[str]:
    """The URLs of ``urls`` (a list, or one comma-separated string), each complete: a URL without
    a user takes the first URL's user and password, one without a vhost path takes the first's;
    ``vhost`` (when given) replaces every URL's.  ``ValueError`` for an empty list or a URL that is
    not ``amqp://`` or ``amqps://``."""
    items = [u.strip() for u in (urls.split(",") if isinstance(urls, str) else urls)]
    items = [u for u in items if u]
    if not items:
        raise ValueError("no broker URL given: expected 'amqp://user:password@host:port/vhost', several "
                         "separated by commas, or a list of them")
    parts = []
    for url in items:
        split = urlsplit(url)
        if split.scheme not in ("amqp", "amqps") or not split.hostname:
            raise ValueError(f"not an AMQP URL: {redact(url)!r} (expected amqp://host or amqps://host)")
        parts.append(split)
    first = parts[0]
    userinfo = first.netloc.rpartition("@")[0] if "@" in first.netloc else ""
    complete = []
    for split in parts:
        netloc = split.netloc
        if "@" not in netloc and userinfo:
            netloc = f"{userinfo}@{netloc}"
        path = split.path if split.path not in ("", "/") or split is first else first.path
        if vhost is not None:
            path = "/" + _quote_vhost(vhost)
        complete.append(urlunsplit((split.scheme, netloc, path, split.query, "")))
    return complete


def _quote_vhost(vhost: str) -> str:
    from urllib.parse import quote
    return quote(vhost, safe="")


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for error messages and logs)."""
    split = urlsplit(url)
    if split.password is None:
        return url
    user = split.username or ""
    host = split.netloc.rpartition("@")[2]
    return urlunsplit((split.scheme, f"{user}:***@{host}", split.path, split.query, split.fragment))


class BrokerUnreachable(builtins.ConnectionError):
    """No URL answered: ``attempts`` holds ``(url, error)`` for every try (passwords redacted in the
    text), in the order they were made."""

    def __init__(self, attempts: list[tuple[str, BaseException]]) -> None:
        tried = "; ".join(f"{redact(url)}: {_describe(error)}" for url, error in attempts)
        urls = list(dict.fromkeys(redact(url) for url, _ in attempts))
        super().__init__(f"no broker answered at {', '.join(urls)} ({len(attempts)} attempts: {tried})")
        self.attempts = attempts
        self.urls = urls


def _describe(error: BaseException) -> str:
    """``error`` in a few words; pika's connection errors often carry their cause as an argument."""
    text = str(error)
    if not text or text in ("()", "''"):
        inner = next((a for a in getattr(error, "args", ()) if isinstance(a, BaseException)), None)
        text = _describe(inner) if inner is not None else ""
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


class Backoff:
    """How a session retries when no URL answers: ``rounds`` passes over every URL, sleeping
    ``initial`` seconds after the first failed pass, doubled after each one, never more than
    ``maximum``."""

    def __init__(self, rounds: int = 3, initial: float = 0.5, maximum: float = 10.0) -> None:
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, not {rounds}")
        if initial < 0 or maximum < initial:
            raise ValueError(f"need 0 <= initial <= maximum, got initial={initial}, maximum={maximum}")
        self.rounds = rounds
        self.initial = initial
        self.maximum = maximum

    def delays(self) -> list[float]:
        """The sleep after each failed pass but the last (``rounds - 1`` of them)."""
        return [min(self.initial * (2 ** n), self.maximum) for n in range(self.rounds - 1)]


# -- errors -------------------------------------------------------------------------------------

def refusal(reply_code: int, reply_text: str) -> AMQPError | None:
    """The core's error for a close frame from RabbitMQ, with its reply text unchanged (None for a
    code the core has no class for, e.g. 200 for a normal close)."""
    try:
        probe = error_for_code(reply_code, "")
    except KeyError:
        return None
    prefix = f"{probe.name} - "
    explanation = reply_text[len(prefix):] if reply_text.startswith(prefix) else reply_text
    error = error_for_code(reply_code, explanation)
    if error.reply_text != reply_text:  # not RabbitMQ's usual "NAME - explanation": keep its text as sent
        error.reply_text = reply_text
        error.args = (reply_code, reply_text)
    return error


def translate_error(error: BaseException) -> BaseException | None:
    """The minimq error for a pika or aio-pika/aiormq exception, or None when it is none of theirs.

    A channel or connection closed by the broker becomes the core's class for its reply code (same
    code, same text); a connection lost or closed otherwise becomes :class:`ConnectionClosed`, a
    channel used after closing :class:`ChannelClosed`.
    """
    code, text = _close_reason(error)
    if code is not None:
        translated = refusal(code, text)
        if translated is not None:
            return translated
    name = type(error).__name__
    module = type(error).__module__ or ""
    if not module.startswith(("pika", "aiormq", "aio_pika", "pamqp")):
        return None
    if "Channel" in name:
        return ChannelClosed(f"{name}: {error}", None)
    if "Connection" in name or "Stream" in name or "Lost" in name:
        return ConnectionClosed(f"{name}: {error}", None)
    return None


def _close_reason(error: BaseException) -> tuple[int | None, str]:
    """(reply_code, reply_text) of a close by the broker, as pika and aiormq carry them."""
    code = getattr(error, "reply_code", None)
    if isinstance(code, int):
        return code, str(getattr(error, "reply_text", ""))
    args = getattr(error, "args", ())
    # aiormq's refusals carry the text only; their class says the code
    code = _aiormq_codes().get(type(error))
    if code is not None and args and isinstance(args[0], str):
        return code, args[0]
    # aiormq's ChannelClosed / ConnectionClosed and its refusals: (code, text) or a pamqp Close frame
    if len(args) >= 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[0], args[1]
    frame = args[0] if args else None
    if frame is not None and isinstance(getattr(frame, "reply_code", None), int):
        return frame.reply_code, str(frame.reply_text)
    return None, ""


_AIORMQ_CODES: dict[type, int] = {}


def _aiormq_codes() -> dict[type, int]:
    """aiormq's refusal classes -> reply code (read from its own tables, once; empty without aiormq)."""
    if not _AIORMQ_CODES:
        try:
            from aiormq import channel, connection
        except ImportError:
            return _AIORMQ_CODES
        for table in (connection.EXCEPTION_MAPPING, channel.EXCEPTION_MAPPING):
            for code, cls in table.items():
                _AIORMQ_CODES.setdefault(cls, code)
    return _AIORMQ_CODES


def _raise_translated(error: BaseException) -> None:
    translated = translate_error(error)
    if translated is None:
        raise error
    raise translated from error


# -- properties ---------------------------------------------------------------------------------

def _to_pika(properties: Properties | None) -> Any:
    import pika
    if properties is None:
        return None
    return pika.BasicProperties(**{name: getattr(properties, name) for name in PROPERTY_NAMES})


def _from_fields(source: Any) -> Properties:
    """A minimq Properties from an object with the 14 AMQP property attributes (pika's, pamqp's)."""
    values = {name: getattr(source, name, None) for name in PROPERTY_NAMES}
    if hasattr(source, "message_type"):  # pamqp names ``type`` so, and writes "" for an absent cluster_id
        values["type"] = source.message_type
        values["cluster_id"] = source.cluster_id or None
    if isinstance(values["timestamp"], datetime):
        values["timestamp"] = int(values["timestamp"].timestamp())
    if values["delivery_mode"] is not None:
        values["delivery_mode"] = int(values["delivery_mode"])
    if all(v is None for v in values.values()):
        return _EMPTY
    return Properties(**values)


def _declare_sync(channel: Any, declarables: Iterable[Declarable]) -> dict[str, str]:
    names: dict[str, str] = {}
    for item in declarables:
        if isinstance(item, Queue):
            ok = channel.queue_declare(item.name, durable=item.durable, exclusive=item.exclusive,
                                       auto_delete=item.auto_delete, arguments=dict(item.arguments) or None)
            names[item.name] = ok.method.queue
        elif isinstance(item, Exchange):
            channel.exchange_declare(item.name, item.type, durable=item.durable, auto_delete=item.auto_delete,
                                     internal=item.internal, arguments=dict(item.arguments) or None)
        elif isinstance(item, Binding):
            destination = names.get(item.destination, item.destination)
            if item.destination_type == "queue":
                channel.queue_bind(destination, item.source, item.routing_key, dict(item.arguments) or None)
            else:
                channel.exchange_bind(destination, item.source, item.routing_key, dict(item.arguments) or None)
        else:
            raise TypeError(f"cannot declare {item!r}: expected Queue, Exchange or Binding")
    return names


# -- sync: pika ---------------------------------------------------------------------------------

class AmqpSession:
    """One thread's session on RabbitMQ: its own pika ``BlockingConnection`` and one channel in
    confirm mode.  Deliveries of its consumers wait in a buffer until :meth:`next_delivery`."""

    def __init__(self, connection: Any, url: str) -> None:
        self.connection = connection
        #: the URL this session's connection opened (password included; see :func:`redact`)
        self.url = url
        self.channel = connection.channel()
        self.channel.confirm_delivery()
        self._buffer: deque[Inbound] = deque()

    @property
    def is_open(self) -> bool:
        """False once the channel or the connection closed (by the client, the broker, or the network)."""
        return self.connection.is_open and self.channel.is_open

    def _call(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import pika.exceptions as pe
        try:
            return operation(*args, **kwargs)
        except (pe.AMQPError, OSError) as error:
            if isinstance(error, (pe.UnroutableError, pe.NackError)):
                raise
            _raise_translated(error)

    def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]:
        """Declare each in order; ``{requested queue name: actual name}``."""
        return self._call(_declare_sync, self.channel, declarables)

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                mandatory: bool = False) -> PublishResult:
        """Publish and wait for RabbitMQ's confirm (pika's ``confirm_delivery`` mode)."""
        import pika.exceptions as pe
        try:
            self._call(self.channel.basic_publish, exchange, routing_key, body, _to_pika(properties),
                       mandatory=mandatory)
        except pe.UnroutableError as unroutable:
            returned = unroutable.messages[0]
            method = returned.method
            return PublishResult(True, ReturnedMessage(method.reply_code, method.reply_text, method.exchange,
                                                       method.routing_key, returned.body,
                                                       _from_fields(returned.properties)))
        except pe.NackError:
            return PublishResult(False)
        return PublishResult(True)

    def _on_message(self, channel: Any, method: Any, properties: Any, body: bytes) -> None:
        self._buffer.append(Inbound(body, _from_fields(properties), method.exchange, method.routing_key,
                                    method.delivery_tag, method.redelivered, method.consumer_tag, self))

    def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """``basic.qos`` (when ``prefetch``) and ``basic.consume``; deliveries are buffered."""
        if prefetch:
            self._call(self.channel.basic_qos, prefetch_count=prefetch)
        return self._call(self.channel.basic_consume, queue, self._on_message, auto_ack=auto_ack,
                          exclusive=exclusive)

    def next_delivery(self, timeout: float | None) -> Inbound | None:
        """The next delivery, running pika's I/O for up to ``timeout`` seconds (None: until one comes)."""
        buffer = self._buffer
        deadline = None if timeout is None else time.monotonic() + timeout
        while not buffer:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return None
            self._call(self.connection.process_data_events, time_limit=remaining)
            if not self.channel.is_open and not buffer:
                raise ChannelClosed("the session's channel is closed", None)
        return buffer.popleft()

    def get(self, queue: str, auto_ack: bool = False) -> Inbound | None:
        """``basic.get``."""
        method, properties, body = self._call(self.channel.basic_get, queue, auto_ack=auto_ack)
        if method is None:
            return None
        return Inbound(body, _from_fields(properties), method.exchange, method.routing_key, method.delivery_tag,
                       method.redelivered, None, self)

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge one delivery."""
        self._call(self.channel.basic_ack, delivery_tag)

    def nack(self, delivery_tag: int, requeue: bool) -> None:
        """Negatively acknowledge one delivery."""
        self._call(self.channel.basic_nack, delivery_tag, requeue=requeue)

    def cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer.  pika nacks (requeues) the deliveries it received but had not yet
        dispatched; those already buffered here are still handed out by :meth:`next_delivery`."""
        self._call(self.channel.basic_cancel, consumer_tag)

    def close(self) -> None:
        """Close the connection: RabbitMQ returns the unacked deliveries to their queues.  Harmless twice."""
        self._buffer.clear()
        if self.connection.is_open:
            try:
                self.connection.close()
            except Exception:  # the connection died while closing: nothing is left to return
                pass


def _open_with_failover(urls: list[str], backoff: Backoff, connect: Callable[[str], Any],
                        sleep: Callable[[float], None]) -> tuple[Any, str]:
    attempts: list[tuple[str, BaseException]] = []
    delays = backoff.delays()
    for round_number in range(backoff.rounds):
        for url in urls:
            try:
                return connect(url), url
            except AMQPError:
                raise
            except Exception as error:  # the network's answer: try the next URL
                attempts.append((url, error))
        if round_number < len(delays):
            sleep(delays[round_number])
    raise BrokerUnreachable(attempts)


class AmqpTransport:
    """``amqp://`` for threads: each :meth:`session` opens its own pika connection, trying ``urls`` in
    order with back-off (see the module docstring)."""

    def __init__(self, urls: str | Sequence[str], vhost: str | None = None, backoff: Backoff | None = None,
                 connect_timeout: float = 5.0) -> None:
        self.urls = split_urls(urls, vhost)
        #: the URLs, passwords redacted, comma-separated
        self.url = ",".join(redact(u) for u in self.urls)
        self.backoff = backoff if backoff is not None else Backoff()
        self.connect_timeout = connect_timeout
        self._sessions: list[AmqpSession] = []
        import threading
        self._lock = threading.Lock()

    def _connect(self, url: str) -> Any:
        import pika
        import pika.exceptions as pe
        parameters = pika.URLParameters(url)
        parameters.connection_attempts = 1
        parameters.socket_timeout = self.connect_timeout
        parameters.stack_timeout = self.connect_timeout
        try:
            return pika.BlockingConnection(parameters)
        except pe.ProbableAuthenticationError as error:
            raise LoginRefused(f"login to {redact(url)} was refused ({error})") from error
        except pe.ConnectionClosedByBroker as error:
            translated = refusal(error.reply_code, error.reply_text)
            if translated is not None and error.reply_code != 320:
                raise translated from error
            raise

    def session(self) -> AmqpSession:
        """A new session on the first URL that answers; :class:`BrokerUnreachable` when none does."""
        connection, url = _open_with_failover(self.urls, self.backoff, self._connect, time.sleep)
        session = AmqpSession(connection, url)
        with self._lock:
            self._sessions = [s for s in self._sessions if s.connection.is_open]
            self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session this transport opened (from the thread that calls it: call it once the
        sessions' threads are done with them)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()


# -- async: aio-pika ----------------------------------------------------------------------------

def _to_pamqp(properties: Properties | None) -> Any:
    from pamqp.commands import Basic
    if properties is None:
        return Basic.Properties()
    values = {name: getattr(properties, name) for name in PROPERTY_NAMES}
    values["message_type"] = values.pop("type")
    if values["timestamp"] is not None:
        values["timestamp"] = datetime.fromtimestamp(values["timestamp"], tz=timezone.utc)
    if values["cluster_id"] is None:
        values["cluster_id"] = ""
    return Basic.Properties(**values)


class AsyncAmqpSession:
    """One task's session on RabbitMQ: its own aio-pika connection (not robust: re-opening is the
    layer above's) and one channel with publisher confirms."""

    def __init__(self, connection: Any, channel: Any, raw: Any, url: str) -> None:
        self.connection = connection
        #: the aio-pika channel (declarations) and aiormq's channel under it (messages, settlements)
        self.channel = channel
        self.raw = raw
        #: the URL this session's connection opened (password included; see :func:`redact`)
        self.url = url
        #: deliveries of this session's consumers; a None wakes next_delivery when the channel closes
        self._buffer: asyncio.Queue[Inbound | None] = asyncio.Queue()
        self._closed = False

    @classmethod
    async def open(cls, url: str, timeout: float) -> AsyncAmqpSession:
        """Connect to ``url`` and open a channel with publisher confirms."""
        import aio_pika
        connection = await aio_pika.connect(url, timeout=timeout)
        try:
            channel = await connection.channel(publisher_confirms=True, on_return_raises=False)
        except BaseException:
            await connection.close()
            raise
        return cls(connection, channel, await channel.get_underlay_channel(), url)

    @property
    def is_open(self) -> bool:
        """False once the channel or the connection closed (by the client, the broker, or the network)."""
        return not (self._closed or self.channel.is_closed or self.connection.is_closed)

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except asyncio.CancelledError:
            raise
        except Exception as error:
            translated = translate_error(error)
            if translated is None:
                raise
            raise translated from error

    async def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]:
        """Declare each in order; ``{requested queue name: actual name}``."""
        names: dict[str, str] = {}
        channel = self.channel
        for item in declarables:
            if isinstance(item, Queue):
                queue = await self._call(channel.declare_queue(
                    item.name, durable=item.durable, exclusive=item.exclusive, auto_delete=item.auto_delete,
                    arguments=dict(item.arguments) or None))
                names[item.name] = queue.name
            elif isinstance(item, Exchange):
                await self._call(channel.declare_exchange(
                    item.name, item.type, durable=item.durable, auto_delete=item.auto_delete,
                    internal=item.internal, arguments=dict(item.arguments) or None))
            elif isinstance(item, Binding):
                destination = names.get(item.destination, item.destination)
                raw = self.raw  # aiormq's channel: binds by name, with no declare round trip
                if item.destination_type == "queue":
                    await self._call(raw.queue_bind(destination, item.source, routing_key=item.routing_key,
                                                    arguments=dict(item.arguments) or None))
                else:
                    await self._call(raw.exchange_bind(destination, item.source, routing_key=item.routing_key,
                                                       arguments=dict(item.arguments) or None))
            else:
                raise TypeError(f"cannot declare {item!r}: expected Queue, Exchange or Binding")
        return names

    async def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                      mandatory: bool = False) -> PublishResult:
        """Publish and await RabbitMQ's confirm; a returned mandatory message comes back in the result.

        Published through aiormq's channel with pamqp properties, so the message carries exactly the
        properties given (aio-pika's ``Message`` would add a message id, a priority and headers)."""
        from aiormq.abc import DeliveredMessage
        from aiormq.exceptions import DeliveryError
        from pamqp.commands import Basic
        try:
            confirmation = await self._call(self.raw.basic_publish(
                body, exchange=exchange, routing_key=routing_key, properties=_to_pamqp(properties),
                mandatory=mandatory))
        except DeliveryError:  # aiormq raises a basic.nack
            return PublishResult(False)
        if isinstance(confirmation, DeliveredMessage):  # the basic.return of an unroutable mandatory message
            frame = confirmation.delivery
            return PublishResult(True, ReturnedMessage(frame.reply_code, frame.reply_text, frame.exchange,
                                                       frame.routing_key, confirmation.body,
                                                       _from_fields(confirmation.header.properties)))
        return PublishResult(isinstance(confirmation, Basic.Ack))

    def _inbound(self, message: Any, consumer_tag: str | None) -> Inbound:
        delivery = message.delivery
        return Inbound(message.body, _from_fields(message.header.properties), delivery.exchange,
                       delivery.routing_key, delivery.delivery_tag, delivery.redelivered, consumer_tag, self)

    async def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """``basic.qos`` (when ``prefetch``) and ``basic.consume``; deliveries are buffered."""
        raw = self.raw
        if prefetch:
            await self._call(raw.basic_qos(prefetch_count=prefetch))
        buffer = self._buffer

        async def on_message(message: Any) -> None:  # aiormq runs it on the loop: buffer only
            buffer.put_nowait(self._inbound(message, message.delivery.consumer_tag))

        ok = await self._call(raw.basic_consume(queue, on_message, no_ack=auto_ack, exclusive=exclusive))
        return ok.consumer_tag

    async def next_delivery(self, timeout: float | None) -> Inbound | None:
        """The next delivery, waiting up to ``timeout`` seconds (None: until one comes)."""
        buffer = self._buffer
        if not buffer.empty():
            return buffer.get_nowait()
        if not self.is_open:
            raise ChannelClosed("the session's channel is closed", None)
        # wait for a delivery or for the channel to close, whichever comes first
        getter = asyncio.ensure_future(buffer.get())
        closing = self.raw.closing
        try:
            await asyncio.wait((getter, closing), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if not getter.done():
                getter.cancel()
        if getter.done() and not getter.cancelled():
            return getter.result()
        if not self.is_open and buffer.empty():
            raise ChannelClosed("the session's channel is closed", None)
        return None

    async def get(self, queue: str, auto_ack: bool = False) -> Inbound | None:
        """``basic.get``."""
        from pamqp.commands import Basic
        message = await self._call(self.raw.basic_get(queue, no_ack=auto_ack))
        if isinstance(message.delivery, Basic.GetEmpty):
            return None
        return self._inbound(message, None)

    async def ack(self, delivery_tag: int) -> None:
        """Acknowledge one delivery."""
        await self._call(self.raw.basic_ack(delivery_tag))

    async def nack(self, delivery_tag: int, requeue: bool) -> None:
        """Negatively acknowledge one delivery."""
        await self._call(self.raw.basic_nack(delivery_tag, requeue=requeue))

    async def cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer; its unacked deliveries stay unacked until settled or the session closes."""
        await self._call(self.raw.basic_cancel(consumer_tag))

    async def close(self) -> None:
        """Close the connection: RabbitMQ returns the unacked deliveries to their queues.  Harmless twice."""
        self._closed = True
        while not self._buffer.empty():
            self._buffer.get_nowait()
        self._buffer.put_nowait(None)
        if not self.connection.is_closed:
            try:
                await self.connection.close()
            except Exception:  # the connection died while closing: nothing is left to return
                pass


class AsyncAmqpTransport:
    """``amqp://`` for asyncio: each :meth:`session` opens its own aio-pika connection, trying ``urls``
    in order with back-off (see the module docstring)."""

    def __init__(self, urls: str | Sequence[str], vhost: str | None = None, backoff: Backoff | None = None,
                 connect_timeout: float = 5.0) -> None:
        self.urls = split_urls(urls, vhost)
        #: the URLs, passwords redacted, comma-separated
        self.url = ",".join(redact(u) for u in self.urls)
        self.backoff = backoff if backoff is not None else Backoff()
        self.connect_timeout = connect_timeout
        self._sessions: list[AsyncAmqpSession] = []

    async def _connect(self, url: str) -> AsyncAmqpSession:
        import aiormq.exceptions as me
        try:
            return await AsyncAmqpSession.open(url, self.connect_timeout)
        except me.ProbableAuthenticationError as error:
            raise LoginRefused(f"login to {redact(url)} was refused ({error})") from error
        except me.ConnectionClosed as error:
            code, text = _close_reason(error)
            translated = refusal(code, text) if code is not None else None
            if translated is not None and code != 320:
                raise translated from error
            raise

    async def session(self) -> AsyncAmqpSession:
        """A new session on the first URL that answers; :class:`BrokerUnreachable` when none does."""
        attempts: list[tuple[str, BaseException]] = []
        delays = self.backoff.delays()
        for round_number in range(self.backoff.rounds):
            for url in self.urls:
                try:
                    session = await self._connect(url)
                except AMQPError:
                    raise
                except Exception as error:  # the network's answer: try the next URL
                    attempts.append((url, error))
                    continue
                # forget sessions whose connection is gone; one with only a closed channel still
                # holds a connection to close
                self._sessions = [s for s in self._sessions if not s.connection.is_closed]
                self._sessions.append(session)
                return session
            if round_number < len(delays):
                await asyncio.sleep(delays[round_number])
        raise BrokerUnreachable(attempts)

    async def close(self) -> None:
        """Close every session this transport opened."""
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            await session.close()
