"""Listener containers: worker threads (sync) or tasks (async) that feed a queue's messages to a handler.

One :class:`Listener` is what ``@app.listener`` registered: a queue, what to declare for it, the
handler with its signature read once (:mod:`.payloads`), ``concurrency``, ``prefetch`` and an error
policy (:mod:`.policies`).  A container runs it:

* :class:`ListenerContainer`: ``concurrency`` worker threads;
* :class:`AsyncListenerContainer`: ``concurrency`` tasks on the running event loop; ``async def``
  handlers are awaited, plain ones run in ``asyncio.to_thread`` so they never block the loop.

Each worker owns one session (sessions belong to one thread or task).  It declares, consumes with
``prefetch``, then loops: pull the next delivery (``next_delivery(0.1)``: the 0.1 s bounds how long a
stop request waits to be noticed), convert, call the handler, publish a returned value (not None) to
the message's ``reply_to`` with its ``correlation_id`` through the default exchange, then ack.  When
the conversion or the handler raises, the error policy settles the message and the failure is
logged on the ``minimq.app`` logger with the message's identity (queue, delivery tag, message_id,
correlation_id); a handler error never ends the worker.  A session that closes under the worker (the
connection was lost, the queue was deleted) is closed and reopened after a short back-off,
declaring again.

Stopping is graceful: workers stop taking deliveries, in-flight handlers finish and settle, consumers
are cancelled and sessions closed, which returns every delivery a worker prefetched but did not
handle to its queue.  So nothing is lost and nothing is handled twice by the same container.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..errors import AMQPError
from ..message import Properties
from .converters import Converters
from .errors import DeclarationError
from .declarations import Declarable
from .messages import Inbound
from .payloads import HandlerSignature
from .policies import ErrorPolicy, Reject, Settlement
from .transport import AsyncSession, AsyncTransport, Session, Transport

__all__ = ["Listener", "ListenerContainer", "AsyncListenerContainer", "declare_each", "declare_each_async",
           "POLL_INTERVAL"]

LOG = logging.getLogger("minimq.app")

#: how long a worker waits for a delivery before looking at the stop flag again (seconds)
POLL_INTERVAL = 0.1
#: how long a worker waits before reopening a session that closed under it (seconds)
RECONNECT_DELAY = 0.5


@dataclass(frozen=True)
class Listener:
    """One registered listener (what ``@app.listener`` records)."""

    queue: str
    handler: Callable[..., Any]
    signature: HandlerSignature
    #: declared before consuming, in order: the queue, exchange, bindings, the policy's queues
    declarations: tuple[Declarable, ...]
    concurrency: int = 1
    prefetch: int = 10
    error_policy: ErrorPolicy = Reject()

    def __post_init__(self) -> None:
        if not self.queue:
            raise ValueError("a listener needs a named queue (a server-named one changes on every reconnect)")
        if type(self.concurrency) is not int or self.concurrency < 1:
            raise ValueError(f"concurrency must be an int >= 1, not {self.concurrency!r}")
        if type(self.prefetch) is not int or self.prefetch < 0:
            raise ValueError(f"prefetch must be an int >= 0 (0: no limit), not {self.prefetch!r}")

    @property
    def name(self) -> str:
        """The handler's qualified name, for logs and thread names."""
        return getattr(self.handler, "__qualname__", repr(self.handler))


def _refused(item: Declarable, error: AMQPError) -> DeclarationError:
    return DeclarationError(item, error)


def declare_each(session: Session, declarables: Iterable[Declarable]) -> None:
    """Declare one by one, so a refusal raises :class:`DeclarationError` naming the declaration refused
    and RabbitMQ's reply text (the session's channel is closed by the refusal)."""
    for item in declarables:
        try:
            session.declare((item,))
        except AMQPError as error:
            raise _refused(item, error) from error


async def declare_each_async(session: AsyncSession, declarables: Iterable[Declarable]) -> None:
    """:func:`declare_each` on an async session."""
    for item in declarables:
        try:
            await session.declare((item,))
        except AMQPError as error:
            raise _refused(item, error) from error


def _identity(queue: str, message: Inbound) -> str:
    properties = message.properties
    return (f"queue {queue!r}, delivery tag {message.delivery_tag}, message_id {properties.message_id!r}, "
            f"correlation_id {properties.correlation_id!r}")


def _reply(queue: str, message: Inbound, value: Any,
           converters: Converters) -> tuple[str, bytes, Properties] | None:
    """(reply_to, body, properties) for a handler's return value, or None when there is nothing to send."""
    if value is None:
        return None
    reply_to = message.properties.reply_to
    if not reply_to:
        LOG.warning("handler returned a value for a message without reply_to (%s): the value is dropped",
                    _identity(queue, message))
        return None
    body, content_type, content_encoding = converters.to_message(value)
    return reply_to, body, Properties(content_type=content_type, content_encoding=content_encoding,
                                      correlation_id=message.properties.correlation_id)


def _decide(listener: Listener, message: Inbound) -> Settlement:
    try:
        return listener.error_policy.decide(message, listener.queue)
    except Exception:
        LOG.exception("error policy %r of %s failed; rejecting (%s)", listener.error_policy, listener.name,
                      _identity(listener.queue, message))
        return Settlement(requeue=False, description="rejected (the error policy failed)")


def _log_failure(listener: Listener, message: Inbound, error: BaseException, settlement: Settlement) -> None:
    LOG.error("listener %s failed on a message (%s): %s: %s; %s", listener.name, _identity(listener.queue, message),
              type(error).__name__, error, settlement.description, exc_info=error)


class _Counters:
    """Messages acked after a successful handling, and failures settled by the policy (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # held for one increment; counters are read without it
        self.acked = 0
        self.failed = 0

    def add(self, acked: int = 0, failed: int = 0) -> None:
        with self._lock:
            self.acked += acked
            self.failed += failed


class _Counted:
    """What both containers report: their messages acked and failed (``_counters``)."""

    _counters: _Counters

    @property
    def acked(self) -> int:
        """Messages handled without error and acked."""
        return self._counters.acked

    @property
    def failed(self) -> int:
        """Messages whose conversion or handler raised, settled by the error policy."""
        return self._counters.failed


class ListenerContainer(_Counted):
    """Runs one :class:`Listener` on ``concurrency`` worker threads, each with its own session."""

    def __init__(self, transport: Transport, listener: Listener, converters: Converters | None = None, *,
                 reconnect_delay: float = RECONNECT_DELAY) -> None:
        self.transport = transport
        self.listener = listener
        self.converters = converters if converters is not None else Converters()
        self.reconnect_delay = reconnect_delay
        self._stopping = threading.Event()  # set once by stop(); workers check it between messages
        self._threads: list[threading.Thread] = []
        self._counters = _Counters()

    @property
    def running(self) -> bool:
        """True while any worker thread is alive."""
        return any(thread.is_alive() for thread in self._threads)

    def start(self, timeout: float = 10.0) -> None:
        """Start the workers and return once each one consumes (so messages published afterwards are
        spread over all of them).  Raises what the first failed worker met opening its session
        (:class:`DeclarationError` for a refused declaration), after stopping the others."""
        if self._threads:
            raise RuntimeError(f"the container of {self.listener.name} was already started")
        outcomes: list[BaseException | None] = []
        ready = [threading.Event() for _ in range(self.listener.concurrency)]
        for index, event in enumerate(ready):
            thread = threading.Thread(target=self._work, args=(event, outcomes), daemon=True,
                                      name=f"minimq-listener-{self.listener.queue}-{index}")
            self._threads.append(thread)
            thread.start()
        deadline = time.monotonic() + timeout
        for event in ready:
            event.wait(max(0.0, deadline - time.monotonic()))
        failures = [outcome for outcome in outcomes if outcome is not None]
        if failures or not all(event.is_set() for event in ready):
            self.stop(timeout)
            if failures:
                raise failures[0]
            raise TimeoutError(f"the workers of {self.listener.name} did not start consuming within {timeout} s")

    def request_stop(self) -> None:
        """Tell the workers to stop after the message each is handling (returns at once)."""
        self._stopping.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop gracefully (see the module docstring) and join the workers; False if some were still
        running a handler when ``timeout`` ran out (they finish and close their session later)."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        alive = [thread.name for thread in self._threads if thread.is_alive()]
        if alive:
            LOG.warning("listener %s: workers %s still running after %s s", self.listener.name, alive, timeout)
        return not alive

    # -- one worker --------------------------------------------------------------------------------

    def _open(self) -> tuple[Session, str]:
        session = self.transport.session()
        try:
            declare_each(session, self.listener.declarations)
            tag = session.consume(self.listener.queue, prefetch=self.listener.prefetch)
        except BaseException:
            _close_quietly(session)
            raise
        return session, tag

    def _work(self, ready: threading.Event, outcomes: list[BaseException | None]) -> None:
        listener = self.listener
        stopping = self._stopping
        session: Session | None = None
        tag = ""
        try:
            while not stopping.is_set():
                if session is None:
                    try:
                        session, tag = self._open()
                    except Exception as error:
                        if not ready.is_set():  # the first open fails start() itself
                            outcomes.append(error)
                            ready.set()
                            return
                        LOG.warning("listener %s: reopening its session failed (%s); retrying in %s s",
                                    listener.name, error, self.reconnect_delay)
                        stopping.wait(self.reconnect_delay)
                        continue
                    if not ready.is_set():
                        outcomes.append(None)
                        ready.set()
                try:
                    message = session.next_delivery(POLL_INTERVAL)
                    if message is not None:
                        self._handle(session, message)
                        continue
                except Exception as error:
                    if session.is_open:
                        LOG.exception("listener %s: unexpected error with its session open", listener.name)
                        continue
                    LOG.warning("listener %s: session lost (%s)", listener.name, error)
                if not session.is_open or tag in getattr(session, "cancelled", ()):
                    LOG.warning("listener %s: session closed or consumer cancelled; reopening in %s s",
                                listener.name, self.reconnect_delay)
                    _close_quietly(session)
                    session = None
                    stopping.wait(self.reconnect_delay)
        finally:
            if not ready.is_set():
                outcomes.append(None)
                ready.set()
            if session is not None:
                _cancel_and_close(session, tag)

    def _handle(self, session: Session, message: Inbound) -> None:
        listener = self.listener
        converters = self.converters
        try:
            result = listener.handler(**listener.signature.arguments(message, converters))
            reply = _reply(listener.queue, message, result, converters)
            if reply is not None:
                reply_to, body, properties = reply
                session.publish("", reply_to, body, properties)
        except Exception as error:
            settlement = _decide(listener, message)
            _log_failure(listener, message, error, settlement)
            _settle(session, message, settlement)
            self._counters.add(failed=1)
            return
        session.ack(message.delivery_tag)
        self._counters.add(acked=1)


def _settle(session: Session, message: Inbound, settlement: Settlement) -> None:
    if settlement.republish is None:
        session.nack(message.delivery_tag, settlement.requeue)
        return
    exchange, routing_key = settlement.republish
    if session.publish(exchange, routing_key, message.body, settlement.properties).acked:
        session.ack(message.delivery_tag)
    else:  # the copy was not taken: keep the original rather than lose the message
        session.nack(message.delivery_tag, True)


def _close_quietly(session: Session) -> None:
    try:
        session.close()
    except Exception:  # closing a session the broker already closed
        LOG.debug("closing a session failed", exc_info=True)


def _cancel_and_close(session: Session, tag: str) -> None:
    try:
        if session.is_open and tag:
            session.cancel(tag)
    except Exception:
        LOG.debug("cancelling consumer %s failed", tag, exc_info=True)
    _close_quietly(session)


class AsyncListenerContainer(_Counted):
    """Runs one :class:`Listener` on ``concurrency`` tasks of the running event loop."""

    def __init__(self, transport: AsyncTransport, listener: Listener, converters: Converters | None = None, *,
                 reconnect_delay: float = RECONNECT_DELAY) -> None:
        self.transport = transport
        self.listener = listener
        self.converters = converters if converters is not None else Converters()
        self.reconnect_delay = reconnect_delay
        self._stopping = False  # set by stop(), read by the tasks between messages (one loop: no lock)
        self._wake: asyncio.Event | None = None  # ends back-off sleeps early on stop
        self._tasks: list[asyncio.Task[None]] = []
        self._counters = _Counters()

    @property
    def running(self) -> bool:
        """True while any worker task is not done."""
        return any(not task.done() for task in self._tasks)

    async def start(self, timeout: float = 10.0) -> None:
        """Start the tasks and return once each consumes; raises what the first failed task met opening
        its session (:class:`DeclarationError` for a refused declaration), after stopping the others."""
        if self._tasks:
            raise RuntimeError(f"the container of {self.listener.name} was already started")
        loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        ready = [loop.create_future() for _ in range(self.listener.concurrency)]
        for index, future in enumerate(ready):
            self._tasks.append(asyncio.create_task(self._work(future),
                                                   name=f"minimq-listener-{self.listener.queue}-{index}"))
        done, pending = await asyncio.wait(ready, timeout=timeout)
        failures = [future.exception() for future in done if future.exception() is not None]
        if failures or pending:
            await self.stop(timeout)
            if failures:
                raise failures[0]  # type: ignore[misc]
            raise TimeoutError(f"the tasks of {self.listener.name} did not start consuming within {timeout} s")

    def request_stop(self) -> None:
        """Tell the tasks to stop after the message each is handling (call on the loop's thread)."""
        self._stopping = True
        if self._wake is not None:
            self._wake.set()

    async def stop(self, timeout: float = 10.0) -> bool:
        """Stop gracefully and wait for the tasks; tasks still running after ``timeout`` are cancelled
        (their unacked message returns to the queue when the session closes).  False if any had to be."""
        self.request_stop()
        if not self._tasks:
            return True
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            LOG.warning("listener %s: %d task(s) still running after %s s were cancelled", self.listener.name,
                        len(pending), timeout)
            await asyncio.gather(*pending, return_exceptions=True)
        return not pending

    async def _sleep(self, seconds: float) -> None:
        assert self._wake is not None
        try:
            await asyncio.wait_for(self._wake.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _open(self) -> tuple[AsyncSession, str]:
        session = await self.transport.session()
        try:
            await declare_each_async(session, self.listener.declarations)
            tag = await session.consume(self.listener.queue, prefetch=self.listener.prefetch)
        except BaseException:
            await _aclose_quietly(session)
            raise
        return session, tag

    async def _work(self, ready: asyncio.Future[None]) -> None:
        listener = self.listener
        session: AsyncSession | None = None
        tag = ""
        try:
            while not self._stopping:
                if session is None:
                    try:
                        session, tag = await self._open()
                    except Exception as error:
                        if not ready.done():
                            ready.set_exception(error)
                            return
                        LOG.warning("listener %s: reopening its session failed (%s); retrying in %s s",
                                    listener.name, error, self.reconnect_delay)
                        await self._sleep(self.reconnect_delay)
                        continue
                    if not ready.done():
                        ready.set_result(None)
                try:
                    message = await session.next_delivery(POLL_INTERVAL)
                    if message is not None:
                        await self._handle(session, message)
                        continue
                except Exception as error:
                    if session.is_open:
                        LOG.exception("listener %s: unexpected error with its session open", listener.name)
                        continue
                    LOG.warning("listener %s: session lost (%s)", listener.name, error)
                if not session.is_open or tag in getattr(session, "cancelled", ()):
                    LOG.warning("listener %s: session closed or consumer cancelled; reopening in %s s",
                                listener.name, self.reconnect_delay)
                    await _aclose_quietly(session)
                    session = None
                    await self._sleep(self.reconnect_delay)
        finally:
            if not ready.done():
                ready.set_result(None)
            if session is not None:
                await _acancel_and_close(session, tag)

    async def _handle(self, session: AsyncSession, message: Inbound) -> None:
        listener = self.listener
        converters = self.converters
        try:
            kwargs = listener.signature.arguments(message, converters)
            if listener.signature.is_async:
                result = await listener.handler(**kwargs)
            else:
                result = await asyncio.to_thread(listener.handler, **kwargs)
            reply = _reply(listener.queue, message, result, converters)
            if reply is not None:
                reply_to, body, properties = reply
                await session.publish("", reply_to, body, properties)
        except Exception as error:
            settlement = _decide(listener, message)
            _log_failure(listener, message, error, settlement)
            await _asettle(session, message, settlement)
            self._counters.add(failed=1)
            return
        await session.ack(message.delivery_tag)
        self._counters.add(acked=1)


async def _asettle(session: AsyncSession, message: Inbound, settlement: Settlement) -> None:
    if settlement.republish is None:
        await session.nack(message.delivery_tag, settlement.requeue)
        return
    exchange, routing_key = settlement.republish
    if (await session.publish(exchange, routing_key, message.body, settlement.properties)).acked:
        await session.ack(message.delivery_tag)
    else:
        await session.nack(message.delivery_tag, True)


async def _aclose_quietly(session: AsyncSession) -> None:
    try:
        await session.close()
    except Exception:
        LOG.debug("closing a session failed", exc_info=True)


async def _acancel_and_close(session: AsyncSession, tag: str) -> None:
    try:
        if session.is_open and tag:
            await session.cancel(tag)
    except Exception:
        LOG.debug("cancelling consumer %s failed", tag, exc_info=True)
    await _aclose_quietly(session)
