"""Publishing, RPC and polling for application code: :class:`Template` (threads) and :class:`AsyncTemplate`
(asyncio), in the manner of Spring AMQP's ``RabbitTemplate``.

Sessions.  A session is owned by one thread or task (see :mod:`.transport`).  :class:`Template` keeps
one per thread (``threading.local``), opens it on the thread's first call, opens a new one when the
broker closed it (a refused publish closes the channel, as on RabbitMQ), and :meth:`Template.close`
closes them all.  :class:`AsyncTemplate` keeps two sessions, not one per task: one for publishes and
gets, one for RPC requests and their replies; each is used under its own ``asyncio.Lock``, and a
reader task hands each reply to the call waiting for its correlation id.

Confirms and returns.  Every publish is confirmed (the session's ``publish`` returns once it is).
``confirm_callback(correlation_id, ack, cause)`` then runs exactly once per message the broker
confirmed (``ack``) or nacked (``ack=False``, ``cause`` says why), on the publishing thread or task.
A mandatory message that no queue took comes back first: ``return_callback(returned)`` runs before
its confirm callback.  A publish the broker refuses (no such exchange, say) raises its
:mod:`minimq.errors` class at the call and calls neither callback: no confirm was given.  An exception
raised by a callback reaches the caller of the publishing method, after the other callback ran.

RPC.  ``convert_send_and_receive`` uses direct reply-to: the session consumes
:data:`~minimq.app.transport.REPLY_TO` (auto-ack, once per session) before it publishes the request
with ``reply_to=REPLY_TO`` and a correlation id, then waits for the reply carrying that id; a reply
to an earlier call that timed out is a stray and is dropped.  No reply in time raises
:class:`~minimq.app.errors.ReplyTimeout`.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import logging
import threading
import time
import uuid
from typing import Any, Callable, Mapping

from ..message import PROPERTY_NAMES, Properties
from .converters import Converters
from .errors import MessageReturnedError, ReplyTimeout
from .messages import Inbound, ReturnedMessage
from .transport import REPLY_TO, AsyncSession, AsyncTransport, PublishResult, Session, Transport

__all__ = ["Template", "AsyncTemplate", "ConfirmCallback", "ReturnCallback", "NACK_CAUSE"]

log = logging.getLogger("minimq.app")

#: ``confirm_callback(correlation_id, ack, cause)``; ``cause`` is None for an ack
ConfirmCallback = Callable[[str, bool, "str | None"], Any]
#: ``return_callback(returned_message)``
ReturnCallback = Callable[[ReturnedMessage], Any]

#: the ``cause`` given to the confirm callback of a nacked message
NACK_CAUSE = "nacked by the broker: a queue refused the message (x-overflow reject-publish)"

# polling interval bounds of receive(): start short (a message published just now), back off to
# the cap so an idle poll costs little
_POLL_FIRST = 0.001
_POLL_CAP = 0.05


#: this process's random prefix for correlation ids (drawn once: a fresh UUID per message costs an
#: os.urandom system call, a third of a send on the in-process transport)
_ID_PREFIX = uuid.uuid4().hex[:16]
_NO_OUTCOMES: list[Any] = []  # what _callbacks returns when there are no callbacks (never appended to)
_id_counter = itertools.count(1)


def new_correlation_id() -> str:
    """A fresh correlation id, unique across processes: a random 64-bit prefix drawn once per process
    and a counter (``next`` on ``itertools.count`` is atomic under the GIL)."""
    return f"{_ID_PREFIX}-{next(_id_counter)}"


def build_properties(properties: Properties | None, content_type: str | None, content_encoding: str | None,
                     headers: Mapping[str, Any] | None, correlation_id: str, reply_to: str | None = None) -> Properties:
    """A new :class:`Properties`: a copy of ``properties`` (the caller's is never changed) with the
    converter's content type and encoding, ``headers`` merged over the given ones, the correlation id
    and, for a request, ``reply_to``."""
    if properties is None:
        props = Properties()
    else:
        props = Properties(**{name: getattr(properties, name) for name in PROPERTY_NAMES})
    if content_type is not None:
        props.content_type = content_type
        props.content_encoding = content_encoding
    if headers:
        props.headers = {**(props.headers or {}), **headers}
    props.correlation_id = correlation_id
    if reply_to is not None:
        props.reply_to = reply_to
    return props


def _check_body(body: object) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    raise TypeError(f"send() takes the body as bytes, not {type(body).__qualname__}; "
                    f"use convert_and_send() to send other values")


def _check_timeout(timeout: float | None, name: str) -> float:
    if timeout is None or timeout < 0:
        raise ValueError(f"{name} must be a number of seconds >= 0, not {timeout!r}")
    return float(timeout)


class _Base:
    """What both templates share: settings, converters and the callbacks' order."""

    def __init__(self, converters: Converters | None, exchange: str, routing_key: str, mandatory: bool,
                 confirm_callback: ConfirmCallback | None, return_callback: ReturnCallback | None,
                 reply_timeout: float) -> None:
        self.converters = converters if converters is not None else Converters()
        #: used when a method is given ``exchange=None`` / ``routing_key=None``
        self.exchange = exchange
        self.routing_key = routing_key
        self.mandatory = mandatory
        self.confirm_callback = confirm_callback
        self.return_callback = return_callback
        self.reply_timeout = _check_timeout(reply_timeout, "reply_timeout")

    def _target(self, exchange: str | None, routing_key: str | None) -> tuple[str, str]:
        return (self.exchange if exchange is None else exchange,
                self.routing_key if routing_key is None else routing_key)

    def _message(self, obj: object, headers: Mapping[str, Any] | None, properties: Properties | None,
                 correlation_id: str | None, reply_to: str | None = None) -> tuple[bytes, Properties, str]:
        body, content_type, content_encoding = self.converters.to_message(obj)
        cid = correlation_id or (properties is not None and properties.correlation_id) or new_correlation_id()
        return body, build_properties(properties, content_type, content_encoding, headers, cid, reply_to), cid

    def _raw(self, body: object, properties: Properties | None,
             correlation_id: str | None) -> tuple[bytes, Properties, str]:
        body = _check_body(body)
        cid = correlation_id or (properties is not None and properties.correlation_id) or new_correlation_id()
        return body, build_properties(properties, None, None, None, cid), cid

    def _callbacks(self, result: PublishResult, correlation_id: str) -> list[Any]:
        """Run the return callback, then the confirm callback (even if the first raised); return what
        they returned (AsyncTemplate awaits awaitables among them)."""
        if self.return_callback is None and self.confirm_callback is None:
            return _NO_OUTCOMES
        outcomes: list[Any] = []
        try:
            if result.returned is not None and self.return_callback is not None:
                outcomes.append(self.return_callback(result.returned))
        finally:
            if self.confirm_callback is not None:
                outcomes.append(self.confirm_callback(correlation_id, result.acked,
                                                      None if result.acked else NACK_CAUSE))
        return outcomes

    def _convert_reply(self, reply: Inbound) -> object:
        props = reply.properties
        return self.converters.from_message(reply.body, props.content_type, props.content_encoding)


class _ThreadState(threading.local):
    """One thread's session and whether it consumes direct reply-to yet."""

    session: Session | None = None
    replies: bool = False


class Template(_Base):
    """Sends, requests and receives for threads (see the module docstring); safe to share between threads.

    ``exchange``/``routing_key`` are the defaults used when a method is given None for them;
    ``mandatory`` the default of each publish; ``reply_timeout`` the seconds an RPC call waits
    when given no ``timeout``.
    """

    def __init__(self, transport: Transport, converters: Converters | None = None, *, exchange: str = "",
                 routing_key: str = "", mandatory: bool = False, confirm_callback: ConfirmCallback | None = None,
                 return_callback: ReturnCallback | None = None, reply_timeout: float = 5.0) -> None:
        super().__init__(converters, exchange, routing_key, mandatory, confirm_callback, return_callback,
                         reply_timeout)
        self.transport = transport
        self._local = _ThreadState()
        # guards _sessions, the sessions of every thread (for close())
        self._lock = threading.Lock()
        self._sessions: list[Session] = []

    def session(self) -> Session:
        """This thread's session, opened (again) if it has none or it was closed."""
        local = self._local
        session = local.session
        if session is None or not session.is_open:
            session = self.transport.session()
            with self._lock:
                self._sessions = [s for s in self._sessions if s.is_open]
                self._sessions.append(session)
            local.session = session
            local.replies = False
        return session

    def _publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties,
                 mandatory: bool | None, correlation_id: str) -> PublishResult:
        result = self.session().publish(exchange, routing_key, body, properties,
                                        self.mandatory if mandatory is None else mandatory)
        self._callbacks(result, correlation_id)
        return result

    def convert_and_send(self, exchange: str | None, routing_key: str | None, obj: object,
                         headers: Mapping[str, Any] | None = None, properties: Properties | None = None,
                         mandatory: bool | None = None, correlation_id: str | None = None) -> str:
        """Convert ``obj`` (:meth:`Converters.to_message`) and publish it, confirmed; returns its
        correlation id (``correlation_id``, else the one in ``properties``, else a new one).

        ``headers`` are merged over ``properties.headers``; the converter's content type and
        encoding replace any in ``properties``.  Raises :class:`MessageConversionError` before
        anything is sent, or the broker's refusal (:mod:`minimq.errors`).
        """
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._message(obj, headers, properties, correlation_id)
        self._publish(exchange, routing_key, body, props, mandatory, cid)
        return cid

    def send(self, exchange: str | None, routing_key: str | None, body: bytes, properties: Properties | None = None,
             mandatory: bool | None = None, correlation_id: str | None = None) -> str:
        """Publish ``body`` (bytes) as it is, confirmed, with ``properties`` unchanged but for the
        correlation id (given, else the one in ``properties``, else a new one), which it returns."""
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._raw(body, properties, correlation_id)
        self._publish(exchange, routing_key, body, props, mandatory, cid)
        return cid

    def convert_send_and_receive(self, exchange: str | None, routing_key: str | None, obj: object,
                                 timeout: float | None = None, headers: Mapping[str, Any] | None = None,
                                 properties: Properties | None = None, mandatory: bool | None = None,
                                 correlation_id: str | None = None) -> object:
        """An RPC call: send ``obj`` as a request and return the converted reply.

        Waits up to ``timeout`` seconds (None: the template's ``reply_timeout``), then raises
        :class:`ReplyTimeout`.  A mandatory request that no queue took raises
        :class:`MessageReturnedError` at once (after the return and confirm callbacks ran).
        """
        wait = self.reply_timeout if timeout is None else _check_timeout(timeout, "timeout")
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._message(obj, headers, properties, correlation_id, reply_to=REPLY_TO)
        session = self.session()
        local = self._local
        if not local.replies:
            # consume before publishing: the broker refuses a reply_to=REPLY_TO publish otherwise
            session.consume(REPLY_TO, auto_ack=True)
            local.replies = True
        deadline = time.monotonic() + wait
        result = self._publish(exchange, routing_key, body, props, mandatory, cid)
        if result.returned is not None:
            raise MessageReturnedError(result.returned, cid)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ReplyTimeout(cid, wait, exchange, routing_key)
            reply = session.next_delivery(remaining)
            if reply is None:
                continue
            if reply.properties.correlation_id == cid:
                return self._convert_reply(reply)
            log.debug("dropped a stray reply (correlation id %r) while waiting for %r",
                      reply.properties.correlation_id, cid)

    def receive(self, queue: str, timeout: float = 0.0) -> Inbound | None:
        """``basic.get`` (auto-acked) from ``queue``, polled for up to ``timeout`` seconds; the raw
        :class:`Inbound`, or None when nothing came."""
        wait = _check_timeout(timeout, "timeout")
        session = self.session()
        message = session.get(queue, auto_ack=True)
        if message is not None or wait == 0:
            return message
        deadline = time.monotonic() + wait
        pause = _POLL_FIRST
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            time.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_CAP)
            message = session.get(queue, auto_ack=True)
            if message is not None:
                return message

    def receive_and_convert(self, queue: str, timeout: float = 0.0) -> object:
        """:meth:`receive`, converted by content type (:meth:`Converters.from_message`); None when
        nothing came (use :meth:`receive` to tell that from a JSON ``null`` body)."""
        message = self.receive(queue, timeout)
        return None if message is None else self._convert_reply(message)

    def close(self) -> None:
        """Close every thread's session (those unacked deliveries they hold return to their queues).
        The template stays usable: a thread's next call opens a new session."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            if session.is_open:
                session.close()

    def __enter__(self) -> Template:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncTemplate(_Base):
    """:class:`Template`'s methods as coroutines, for one event loop (see the module docstring).

    Any number of tasks may call it at once: publishes take turns on one session, and concurrent
    RPC calls share one reply consumer, each answered by its own correlation id.
    """

    def __init__(self, transport: AsyncTransport, converters: Converters | None = None, *, exchange: str = "",
                 routing_key: str = "", mandatory: bool = False, confirm_callback: ConfirmCallback | None = None,
                 return_callback: ReturnCallback | None = None, reply_timeout: float = 5.0) -> None:
        super().__init__(converters, exchange, routing_key, mandatory, confirm_callback, return_callback,
                         reply_timeout)
        self.transport = transport
        self._session: AsyncSession | None = None
        self._rpc_session: AsyncSession | None = None
        # created on first use, so the template can be built outside a running loop
        self._locks: tuple[asyncio.Lock, asyncio.Lock, asyncio.Lock] | None = None
        #: RPC calls waiting, by correlation id (the reader task resolves them)
        self._pending: dict[str, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self._reader_ids = itertools.count(1)

    def _lock_set(self) -> tuple[asyncio.Lock, asyncio.Lock, asyncio.Lock]:
        # (publishes and gets, RPC requests, opening the RPC session)
        if self._locks is None:
            self._locks = (asyncio.Lock(), asyncio.Lock(), asyncio.Lock())
        return self._locks

    async def session(self) -> AsyncSession:
        """The publishing session, opened (again) if there is none or it was closed."""
        session = self._session
        if session is None or not session.is_open:
            session = self._session = await self.transport.session()
        return session

    async def _callbacks_async(self, result: PublishResult, correlation_id: str) -> None:
        for outcome in self._callbacks(result, correlation_id):
            if inspect.isawaitable(outcome):
                await outcome

    async def _publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties,
                       mandatory: bool | None, correlation_id: str) -> PublishResult:
        async with self._lock_set()[0]:
            session = await self.session()
            result = await session.publish(exchange, routing_key, body, properties,
                                           self.mandatory if mandatory is None else mandatory)
        await self._callbacks_async(result, correlation_id)
        return result

    async def convert_and_send(self, exchange: str | None, routing_key: str | None, obj: object,
                               headers: Mapping[str, Any] | None = None, properties: Properties | None = None,
                               mandatory: bool | None = None, correlation_id: str | None = None) -> str:
        """:meth:`Template.convert_and_send` as a coroutine (callbacks returning awaitables are awaited)."""
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._message(obj, headers, properties, correlation_id)
        await self._publish(exchange, routing_key, body, props, mandatory, cid)
        return cid

    async def send(self, exchange: str | None, routing_key: str | None, body: bytes,
                   properties: Properties | None = None, mandatory: bool | None = None,
                   correlation_id: str | None = None) -> str:
        """:meth:`Template.send` as a coroutine."""
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._raw(body, properties, correlation_id)
        await self._publish(exchange, routing_key, body, props, mandatory, cid)
        return cid

    async def _rpc(self) -> AsyncSession:
        """The RPC session, consuming direct reply-to, with its reader task running."""
        session = self._rpc_session
        if session is not None and session.is_open and self._reader is not None and not self._reader.done():
            return session
        async with self._lock_set()[2]:
            session = self._rpc_session
            if session is None or not session.is_open:
                session = await self.transport.session()
                await session.consume(REPLY_TO, auto_ack=True)
                self._rpc_session = session
            if self._reader is None or self._reader.done():
                self._reader = asyncio.get_running_loop().create_task(
                    self._read_replies(session), name=f"minimq-app-replies-{next(self._reader_ids)}")
            return session

    async def _read_replies(self, session: AsyncSession) -> None:
        """The reader task: each reply to the call waiting for its correlation id; strays dropped.
        When the session fails, every waiting call gets the error."""
        pending = self._pending
        try:
            while True:
                reply = await session.next_delivery(None)
                if reply is None:
                    if not session.is_open:
                        return
                    continue
                future = pending.get(reply.properties.correlation_id or "")
                if future is None or future.done():
                    log.debug("dropped a stray reply (correlation id %r)", reply.properties.correlation_id)
                    continue
                future.set_result(reply)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the session failed: no reply can come to any waiting call
            for future in list(pending.values()):
                if not future.done():
                    future.set_exception(error)

    async def convert_send_and_receive(self, exchange: str | None, routing_key: str | None, obj: object,
                                       timeout: float | None = None, headers: Mapping[str, Any] | None = None,
                                       properties: Properties | None = None, mandatory: bool | None = None,
                                       correlation_id: str | None = None) -> object:
        """:meth:`Template.convert_send_and_receive` as a coroutine; any number may run at once."""
        wait = self.reply_timeout if timeout is None else _check_timeout(timeout, "timeout")
        exchange, routing_key = self._target(exchange, routing_key)
        body, props, cid = self._message(obj, headers, properties, correlation_id, reply_to=REPLY_TO)
        if cid in self._pending:
            raise ValueError(f"correlation id {cid!r} is already waiting for a reply")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._pending[cid] = future  # registered before the publish: a reply can be quicker than the confirm
        try:
            session = await self._rpc()
            async with self._lock_set()[1]:
                result = await session.publish(exchange, routing_key, body, props,
                                               self.mandatory if mandatory is None else mandatory)
            await self._callbacks_async(result, cid)
            if result.returned is not None:
                raise MessageReturnedError(result.returned, cid)
            try:
                reply: Inbound = await asyncio.wait_for(future, wait)
            except asyncio.TimeoutError:
                raise ReplyTimeout(cid, wait, exchange, routing_key) from None
        finally:
            del self._pending[cid]
        return self._convert_reply(reply)

    async def receive(self, queue: str, timeout: float = 0.0) -> Inbound | None:
        """:meth:`Template.receive` as a coroutine (polling sleeps with ``asyncio.sleep``)."""
        wait = _check_timeout(timeout, "timeout")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        pause = _POLL_FIRST
        while True:
            async with self._lock_set()[0]:
                session = await self.session()
                message = await session.get(queue, auto_ack=True)
            remaining = deadline - loop.time()
            if message is not None or remaining <= 0:
                return message
            await asyncio.sleep(min(pause, remaining))
            pause = min(pause * 2, _POLL_CAP)

    async def receive_and_convert(self, queue: str, timeout: float = 0.0) -> object:
        """:meth:`Template.receive_and_convert` as a coroutine."""
        message = await self.receive(queue, timeout)
        return None if message is None else self._convert_reply(message)

    async def close(self) -> None:
        """Stop the reply reader and close both sessions; waiting RPC calls fail with ``ConnectionError``
        (a builtin one: the template, not the broker, ended them).  Usable again afterwards."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(ConnectionError("the AsyncTemplate was closed while waiting for a reply"))
        for name in ("_session", "_rpc_session"):
            session = getattr(self, name)
            setattr(self, name, None)
            if session is not None and session.is_open:
                await session.close()

    async def __aenter__(self) -> AsyncTemplate:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
