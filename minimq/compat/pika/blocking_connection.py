"""pika's ``BlockingConnection`` and ``BlockingChannel`` on top of the minimq core.

The classes follow pika 1.x's ``pika/adapters/blocking_connection.py`` method by method: same
signatures and defaults, same return values (frames, ``None``, lists), same client-side checks in the
same order, same exceptions.  What pika does with sockets, this module does with the core.

The socket, modelled
--------------------
Core channels are opened with ``inline=False``: whatever the broker "sends" -- deliveries, returned
messages, consumer cancels -- waits in the core channel's inbox, and a core channel or connection that
the broker closed keeps the error that closed it.  That inbox and that state play the part of bytes
waiting in pika's socket.  Nothing reaches the pika layer until the facade *reads frames*
(:meth:`BlockingConnection._read_frames`), and it reads exactly where pika drives its I/O loop: in every
call that waits for the broker (synchronous methods, a publish in confirm mode, ``channel()``,
``close()``), and in ``process_data_events``, ``sleep``, ``start_consuming`` and the ``consume()``
generator.  Asynchronous methods (publish without confirms, ack, nack, reject) read nothing.

docs/semantics.md §1.4 then follows without special cases.  A publish or ack that the core refuses returns
normally: the core closed the channel at once, but the close is "in the socket".  The next call on that
channel that waits for the broker reads it and raises ``ChannelClosedByBroker``; a read caused by
anything else (another channel's call, ``process_data_events`` ...) only marks the channel closed, and
later calls raise ``ChannelWrongStateError`` as pika does.  Consumer callbacks run only when
``process_data_events``/``start_consuming`` dispatch what was read.

Threads.  Like pika, a connection belongs to one thread; only :meth:`BlockingConnection.
add_callback_threadsafe` may be called from others.  Each core channel's ``on_events`` hook (run by the
core on whichever thread produced the events) and ``add_callback_threadsafe`` notify one condition that
a waiting ``process_data_events`` sleeps on.

Errors.  Core errors become pika exceptions in one place, :func:`.translate.translate_error`.

pika's own types.  With pika installed, :class:`BlockingConnection` and :class:`BlockingChannel` subclass
pika's classes (every method is the facade's own), and the events they queue are pika's classes
(:mod:`.events`, :mod:`.timers`).  ``connection._impl`` is a model of pika's ``SelectConnection`` with an
``ioloop`` (:mod:`.select_connection`); the core connection is ``connection._core``.  Logging goes to
pika's logger names (``pika.adapters.blocking_connection``, ``pika.channel``).

Helpers live beside this module: :mod:`.translate` (error translation), :mod:`.validators` (pika's
client-side argument checks), :mod:`.codec` (the modelled wire: encoding checks, tables, properties,
frame size), :mod:`.timers` (the ioloop timers), :mod:`.select_connection` (``_impl`` and its ioloop) and
:mod:`.events` (the queued events).  They do not import this module.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
import uuid
from collections import deque
from enum import Enum
from typing import Any, Callable, Iterator

from ... import errors as core_errors
from ...broker import Broker
from ...channel import PublishOutcome
from ...message import ConsumerCancelled, Delivery, Returned
from . import exceptions, frame, spec
from .codec import (check_channel_number, content_header_error, properties_to_core, properties_to_pika,
                    short_string_ok, wire)
from .connection import Parameters
from .data import as_bytes
from .events import (ReturnedMessage, _ConnectionBlockedEvt, _ConnectionUnblockedEvt, _ConsumerCancellationEvt,
                     _ConsumerDeliveryEvt, _ReturnedMessageEvt)
from .select_connection import SelectConnection
from .timers import _IoloopTimerContext, _TimerEvt
from .translate import CORE_ERRORS, translate_error
from .validators import require_callback, require_string, zero_or_greater

__all__ = ["BlockingConnection", "BlockingChannel", "ReturnedMessage", "default_broker", "reset_default_broker"]

#: pika's logger names for the same events: ``logging.getLogger("pika")`` governs the facade's logging too
LOGGER = logging.getLogger("pika.adapters.blocking_connection")
#: what pika's ``pika.channel.Channel`` logs (the blocking channel's ``_impl``)
CHANNEL_LOGGER = logging.getLogger("pika.channel")
if not spec.USING_PIKA:  # pika's package adds this handler: silent unless the application configures logging
    logging.getLogger("pika").addHandler(logging.NullHandler())

#: pika's negotiated ``channel_max`` against RabbitMQ (client 65535, server 2047)
CHANNEL_MAX = 2047
#: longest single sleep while waiting for events; bounds how late a waiter notices a connection the
#: broker closed when it has no channel to be woken through
_MAX_WAIT = 0.5

_NACKED = PublishOutcome.NACKED


# ------------------------------------------------------------------------------------------------
# The process-wide default broker (used when no ``broker=`` is given)

_default_broker: Broker | None = None
_default_lock = threading.Lock()


def default_broker() -> Broker:
    """The broker that ``BlockingConnection(parameters)`` connects to when no ``broker=`` is given."""
    global _default_broker
    with _default_lock:
        if _default_broker is None:
            _default_broker = Broker()
        return _default_broker


def reset_default_broker() -> None:
    """Close the default broker (its connections get 320 CONNECTION_FORCED) and start afresh next time."""
    global _default_broker
    with _default_lock:
        broker, _default_broker = _default_broker, None
    if broker is not None:
        broker.close()


def _socket_connect_error(error: OSError) -> Any:
    """What pika's ``AMQPConnectionError`` carries for a refused TCP connect (its connector's error)."""
    try:
        from pika.adapters.utils.connection_workflow import AMQPConnectorSocketConnectError
    except ImportError:
        return error
    return AMQPConnectorSocketConnectError(error)


# ------------------------------------------------------------------------------------------------
# pika's classes as bases: with pika installed, facade objects are instances of pika's classes


try:
    from pika.adapters.blocking_connection import BlockingChannel as _PikaBlockingChannel
    from pika.adapters.blocking_connection import BlockingConnection as _PikaBlockingConnection
except ImportError:
    _PikaBlockingConnection = object  # type: ignore[assignment,misc]
    _PikaBlockingChannel = object  # type: ignore[assignment,misc]


# ------------------------------------------------------------------------------------------------
# Consumer bookkeeping (pika's names)


class _ConsumerInfo:
    """A consumer of this channel, in pika's states."""

    __slots__ = ("consumer_tag", "auto_ack", "on_message_callback", "alternate_event_sink", "state")

    SETTING_UP = 1
    ACTIVE = 2
    TEARING_DOWN = 3
    CANCELLED_BY_BROKER = 4

    def __init__(self, consumer_tag: str, auto_ack: bool, on_message_callback: Callable | None = None,
                 alternate_event_sink: Callable | None = None) -> None:
        self.consumer_tag = consumer_tag
        self.auto_ack = auto_ack
        self.on_message_callback = on_message_callback
        self.alternate_event_sink = alternate_event_sink
        self.state = self.SETTING_UP

    @property
    def setting_up(self) -> bool:
        return self.state == self.SETTING_UP

    @property
    def active(self) -> bool:
        return self.state == self.ACTIVE

    @property
    def tearing_down(self) -> bool:
        return self.state == self.TEARING_DOWN

    @property
    def cancelled_by_broker(self) -> bool:
        return self.state == self.CANCELLED_BY_BROKER


class _QueueConsumerGeneratorInfo:
    __slots__ = ("params", "consumer_tag", "pending_events")

    def __init__(self, params: tuple, consumer_tag: str) -> None:
        self.params = params
        self.consumer_tag = consumer_tag
        self.pending_events: deque = deque()

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} params={self.params!r} consumer_tag={self.consumer_tag!r}>"


# ------------------------------------------------------------------------------------------------
# BlockingConnection


class BlockingConnection(_PikaBlockingConnection):  # type: ignore[misc,valid-type]
    """A pika ``BlockingConnection`` to a minimq broker (an instance of pika's class when pika is installed).

    ``BlockingConnection(parameters)`` connects to the process-wide :func:`default_broker`;
    ``BlockingConnection(parameters, broker=b)`` and ``BlockingConnection(b)`` to ``b``.  ``parameters``
    must be what pika accepts (``None``, ``Parameters``, a non-empty sequence of them); anything else is
    refused as pika refuses it (``TypeError`` for an object that is not iterable).  The vhost comes from
    ``parameters.virtual_host`` (default ``/``) and the user and password from
    ``parameters.credentials`` (default ``guest``/``guest``), checked against the broker's users
    (:meth:`minimq.Broker.add_user`): a refused login raises ``ProbableAuthenticationError`` and an
    unknown vhost ``ProbableAccessDeniedError``, as pika does.
    """

    def __init__(self, parameters: Any = None, _impl_class: Any = None, *, broker: Broker | None = None) -> None:
        # held by add_callback_threadsafe against a concurrent close (pika's name)
        self._cleanup_mutex = threading.Lock()
        self._event_dispatch_suspend_depth = 0
        #: connection events ready for dispatch: _TimerEvt
        self._ready_events: deque = deque()
        #: channel numbers asking for dispatch; negative numbers only end process_data_events
        self._channels_pending_dispatch: set[int] = set()
        #: channels open as pika sees them (a channel the broker closed stays until its close is read)
        self._channels: dict[int, BlockingChannel] = {}
        #: the pika-side close reason; None while open
        self._closed_error: BaseException | None = None
        self._read_count = 0
        #: numbers of channels whose core channel signalled events or its close (added from any thread);
        #: a read looks only at these
        self._signalled: set[int] = set()
        #: connection.blocked (a reason) / connection.unblocked (None) "in the socket" (any thread appends)
        self._flow: deque = deque()
        #: publishes the broker has not read yet: the connection is blocked (RabbitMQ stops reading)
        self._held: deque = deque()
        self._blocked_callbacks: list[Callable] = []
        self._unblocked_callbacks: list[Callable] = []
        self._blocked_conn_timer: Any = None

        if isinstance(parameters, Broker):
            if broker is not None:
                raise TypeError("BlockingConnection() got a Broker both as parameters and as broker=")
            parameters, broker = None, parameters
        params = self._first_parameters(parameters)
        self._parameters = params
        #: pika's ``_impl`` (a SelectConnection): the ioloop, the parameters, the pika-side state
        self._impl = SelectConnection(params)
        self._ioloop = self._impl.ioloop
        if broker is None:
            broker = default_broker()
        self._broker = broker
        credentials = getattr(params, "credentials", None)
        user = getattr(credentials, "username", None) or "guest"
        password = getattr(credentials, "password", None)
        if password is None:
            password = "guest" if credentials is None else ""
        vhost = getattr(params, "virtual_host", "/")
        try:
            #: the core connection (what pika's socket leads to)
            self._core = broker.connect(vhost, user, password)
        except core_errors.AMQPError as error:
            self._impl._set_closed()
            raise translate_error(error, opening=True) from None
        except ConnectionRefusedError as error:  # Broker.refuse_connections: as a closed port refuses
            self._impl._set_closed()
            raise exceptions.AMQPConnectionError(_socket_connect_error(error)) from None
        client_properties = getattr(params, "client_properties", None) or {}
        self._core.client_name = client_properties.get("connection_name")
        self._core.on_blocked = self._on_core_blocked

    @staticmethod
    def _first_parameters(parameters: Any) -> Any:
        """The parameters to use, refusing what pika refuses, with pika's exceptions and messages.

        pika accepts ``None``, a ``Parameters`` instance or a non-empty sequence of them (it tries each in
        turn; the facade uses the first).  Anything else fails as in pika's connection workflow: an empty
        value with ``ValueError``, an object that is not iterable with ``TypeError``, a sequence whose
        last item is not parameters with ``AttributeError``.
        """
        if parameters is None:
            return Parameters()
        if isinstance(parameters, Parameters):
            return parameters
        if not parameters:
            raise ValueError(f"Expected a non-empty sequence of connection parameters, but got {parameters!r}.")
        try:
            iter(parameters)
        except Exception as error:
            raise TypeError(f"connection_configs does not support iteration: {error!r}") from None
        parameters[-1].connection_attempts  # pika's workflow reads it first  # noqa: B018
        return parameters[0]

    @property
    def broker(self) -> Broker:
        """The minimq broker this connection is bound to (not part of pika's API)."""
        return self._broker

    def __repr__(self) -> str:
        return f"<{self.__class__.__name__} impl={self._impl_repr()}>"

    def _impl_repr(self) -> str:
        return repr(self._impl)

    def __enter__(self) -> BlockingConnection:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.is_open:
            self.close()

    # -- event dispatch ownership (pika: no dispatch from inside a callback) -----------------
    @contextlib.contextmanager
    def _acquire_event_dispatch(self) -> Iterator[bool]:
        try:
            self._event_dispatch_suspend_depth += 1
            yield self._event_dispatch_suspend_depth == 1
        finally:
            self._event_dispatch_suspend_depth -= 1

    # -- the modelled socket -------------------------------------------------------------------
    def _on_events_hook(self, channel_number: int) -> Callable[[], None]:
        """The core channel's ``on_events``: note the channel for the next read, wake a waiting reader."""
        signalled = self._signalled
        wake = self._ioloop.wake

        def on_events() -> None:
            signalled.add(channel_number)
            wake()

        return on_events

    def _on_core_blocked(self, reason: str | None) -> None:
        """The core connection's ``on_blocked`` (any thread): a Connection.Blocked/Unblocked "arrives"."""
        self._flow.append(reason)
        self._ioloop.wake()

    def _on_flow(self, reason: str | None) -> None:
        """Read a Connection.Blocked (``reason``) or Connection.Unblocked (None), as pika handles them."""
        if reason is not None:
            method_frame = frame.Method(0, spec.Connection.Blocked(reason))
            LOGGER.warning("Received %s from broker", method_frame)
            for callback in self._blocked_callbacks:
                self._ready_events.append(_ConnectionBlockedEvt(callback, method_frame))
            timeout = getattr(self._parameters, "blocked_connection_timeout", None)
            if timeout is not None and self._blocked_conn_timer is None:
                self._blocked_conn_timer = self._adapter_call_later(timeout, self._on_blocked_connection_timeout)
            return
        method_frame = frame.Method(0, spec.Connection.Unblocked())
        LOGGER.warning("Received %s from broker", method_frame)
        if self._blocked_conn_timer is not None:
            self._adapter_remove_timeout(self._blocked_conn_timer)
            self._blocked_conn_timer = None
        for callback in self._unblocked_callbacks:
            self._ready_events.append(_ConnectionUnblockedEvt(callback, method_frame))
        held = self._held
        while held:  # the broker reads the socket again: the held publishes go through, in order
            held.popleft()()

    def _on_blocked_connection_timeout(self) -> None:
        """pika's ``blocked_connection_timeout`` expired: pika tears the connection down (no close
        frame: the broker sees the socket go; what it had not read is lost with it)."""
        self._blocked_conn_timer = None
        self._held.clear()
        self._core.on_blocked = None
        self._core.close()
        self._on_closed(exceptions.ConnectionBlockedTimeout("Blocked connection timeout expired."))

    def _wait_unblocked(self) -> None:
        """A call that waits for the broker, behind held publishes: the broker reads nothing until it
        unblocks the connection (pika's call stays blocked; ``blocked_connection_timeout`` ends it)."""
        if self._held:
            self._flush_output(lambda: not self._held)

    def _read_frames(self) -> None:
        """Read everything the broker has sent: events into channels, closes noticed.

        Raises ``ConnectionClosedByBroker`` when it reads the connection's close.
        """
        self._read_count += 1
        flow = self._flow
        while flow:
            self._on_flow(flow.popleft())
        signalled = self._signalled
        channels = self._channels
        while signalled:
            channel = channels.get(signalled.pop())
            if channel is not None:
                channel._read_frames()
        core = self._core
        if not core.is_open and self._closed_error is None:
            cause = core.close_cause
            error = (translate_error(cause) if cause is not None else
                     exceptions.ConnectionClosedByBroker(320, "CONNECTION_FORCED - closed by the broker"))
            self._on_closed(error)
            raise error

    def _read_closes(self) -> None:
        """Notice closes by the broker without taking deliveries (see ``BlockingChannel._write_async``).

        Raises ``ConnectionClosedByBroker`` when the connection was closed.
        """
        channels = self._channels
        for number in list(self._signalled):
            channel = channels.get(number)
            if channel is not None:
                channel._notice_close()
        if not self._core.is_open and self._closed_error is None:
            self._read_frames()  # reads the connection's close: raises it

    def _on_closed(self, error: BaseException) -> None:
        with self._cleanup_mutex:
            self._closed_error = error
            self._impl._set_closed()
        for channel in list(self._channels.values()):
            channel._on_channel_closed(error)
        self._channels.clear()
        self._ready_events.clear()

    def _flush_output(self, *waiters: Callable[[], bool]) -> None:
        """Read frames and run due timers until any waiter is ready (pika's I/O loop).

        Like pika, the waiters are checked before the first read: a waiter that is already ready means
        nothing is read.  Raises the broker's connection close when it is read.
        """
        if self.is_closed:
            raise exceptions.ConnectionWrongStateError()
        ioloop = self._ioloop
        while not (not waiters or any(ready() for ready in waiters)):
            ioloop.clear_wake()
            self._read_frames()
            ioloop.process_timeouts()
            if self._closed_error is not None and not isinstance(self._closed_error,
                                                                  exceptions.ConnectionClosedByClient):
                raise self._closed_error  # a timer closed it (blocked_connection_timeout)
            if any(ready() for ready in waiters):
                return
            ioloop.wait(_MAX_WAIT)

    def _await_reply(self) -> None:
        """Wait for the reply to a synchronous method: it arrives in the next read."""
        reads = self._read_count
        self._flush_output(lambda: self._read_count != reads)

    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """pika's ioloop timer: every wait with a time limit and every ``call_later`` goes through it."""
        return self._impl._adapter_call_later(delay, callback)

    def _adapter_remove_timeout(self, timer_id: Any) -> None:
        self._impl._adapter_remove_timeout(timer_id)

    def _on_threadsafe_callback(self, user_callback: Callable[[], Any]) -> None:
        """A callback from ``add_callback_threadsafe`` reached the ioloop: pika makes it a 0-delay timer
        (dispatched as a ``_TimerEvt``, so the reentrancy rules of timers apply)."""
        self.call_later(0, user_callback)

    def _request_channel_dispatch(self, channel_number: int) -> None:
        self._channels_pending_dispatch.add(channel_number)

    def _dispatch_channel_events(self) -> None:
        if not self._channels_pending_dispatch:
            return
        with self._acquire_event_dispatch() as dispatch_acquired:
            if not dispatch_acquired:
                return
            candidates = list(self._channels_pending_dispatch)
            self._channels_pending_dispatch.clear()
            for channel_number in candidates:
                if channel_number < 0:
                    continue  # only meant to end process_data_events
                channel = self._channels.get(channel_number)
                if channel is not None and channel.is_open:
                    channel._dispatch_events()

    def _on_timer_ready(self, evt: _TimerEvt) -> None:
        self._ready_events.append(evt)

    def _dispatch_connection_events(self) -> None:
        if not self._ready_events:
            return
        with self._acquire_event_dispatch() as dispatch_acquired:
            if not dispatch_acquired:
                return
            for _ in range(len(self._ready_events)):
                try:
                    evt = self._ready_events.popleft()
                except IndexError:
                    break  # a timer was removed by an earlier callback
                evt.dispatch()

    # -- public API ------------------------------------------------------------------------------
    def add_on_connection_blocked_callback(self, callback: Callable) -> None:
        """Call ``callback(connection, method_frame)`` when the broker blocks this connection
        (``Connection.Blocked``, see ``Broker.block_publishers``); dispatched like a timer."""
        require_callback(callback)
        self._blocked_callbacks.append(functools.partial(callback, self))

    def add_on_connection_unblocked_callback(self, callback: Callable) -> None:
        """Call ``callback(connection, method_frame)`` when the broker unblocks this connection."""
        require_callback(callback)
        self._unblocked_callbacks.append(functools.partial(callback, self))

    def call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """Run ``callback()`` after ``delay`` seconds, from ``process_data_events``/``start_consuming``."""
        require_callback(callback)
        evt = _TimerEvt(callback=callback)
        timer_id = self._adapter_call_later(delay, functools.partial(self._on_timer_ready, evt))
        evt.timer_id = timer_id
        return timer_id

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """Ask the connection's thread to run ``callback()`` as soon as possible (from any thread).

        Wakes a thread blocked in ``process_data_events``/``start_consuming``/``sleep``; the callback runs
        there, like a timer.
        """
        if not callable(callback):
            raise TypeError(f"callback must be a callable, but got {callback!r}")
        with self._cleanup_mutex:
            if self.is_closed:
                raise exceptions.ConnectionWrongStateError(
                    "BlockingConnection.add_callback_threadsafe() called on closed or closing connection.")
            self._impl._adapter_add_callback_threadsafe(functools.partial(self._on_threadsafe_callback, callback))

    def remove_timeout(self, timeout_id: Any) -> None:
        """Cancel a timer from ``call_later`` (also when it is due but not yet dispatched)."""
        self._adapter_remove_timeout(timeout_id)
        for i, evt in enumerate(self._ready_events):
            if isinstance(evt, _TimerEvt) and evt.timer_id == timeout_id:
                del self._ready_events[i]
                break

    def update_secret(self, new_secret: str, reason: str) -> None:
        """Accepted for compatibility (minimq checks no secrets)."""
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"Secret update requires an open connection: {self._impl_repr()}")
        self._await_reply()

    def close(self, reply_code: int = 200, reply_text: str = "Normal shutdown") -> None:
        """Close every channel (cancelling its consumers), then the connection."""
        if not self.is_open:
            msg = f"{self.__class__.__name__}.close({reply_code}, {reply_text!r}) called on closed connection."
            LOGGER.error(msg)
            raise exceptions.ConnectionWrongStateError(msg)
        LOGGER.info("Closing connection (%s): %s", reply_code, reply_text)
        for channel in list(self._channels.values()):
            if channel.is_open:
                try:
                    channel.close(reply_code, reply_text)
                except exceptions.ChannelClosed as exc:
                    LOGGER.warning("Got ChannelClosed while closing channel from connection.close: %r", exc)
        wire(spec.Connection.Close(reply_code, reply_text, 0, 0))
        if self._core.is_open:
            self._core.close()
            self._on_closed(exceptions.ConnectionClosedByClient(reply_code, reply_text))
            return
        self._await_reply()  # the broker's own Connection.Close is read first: raises it

    def process_data_events(self, time_limit: float | None = 0) -> None:
        """Read what arrived and dispatch timers and channel callbacks (not from inside a callback).

        ``time_limit``: wait at most this long for something to dispatch (0: just look; None: no limit).
        """
        with self._acquire_event_dispatch() as dispatch_acquired:
            def common_terminator() -> bool:
                return bool(dispatch_acquired and (self._channels_pending_dispatch or self._ready_events))

            if time_limit is None:
                self._flush_output(common_terminator)
            else:
                with _IoloopTimerContext(time_limit, self) as timer:
                    self._flush_output(timer.is_ready, common_terminator)
        if self._ready_events:
            self._dispatch_connection_events()
        if self._channels_pending_dispatch:
            self._dispatch_channel_events()

    def sleep(self, duration: float) -> None:
        """Sleep ``duration`` seconds while processing events (dispatches callbacks)."""
        assert duration >= 0, duration
        deadline = time.monotonic() + duration
        time_limit = duration
        while True:
            self.process_data_events(time_limit)
            time_limit = deadline - time.monotonic()
            if time_limit <= 0:
                break

    def channel(self, channel_number: int | None = None) -> BlockingChannel:
        """Open a channel: the lowest free number unless ``channel_number`` is given."""
        if not self.is_open:
            raise exceptions.ConnectionWrongStateError(
                f"Channel allocation requires an open connection: {self._impl_repr()}")
        if not channel_number:
            channel_number = self._next_channel_number()
        else:
            check_channel_number(channel_number)  # pika's frame encoding refuses it, the connection stays open
        try:
            impl = self._core.channel(channel_number, inline=False)
        except CORE_ERRORS as error:
            self._await_reply()  # the connection is closed: reading its close raises
            raise translate_error(error) from None
        channel = BlockingChannel(impl, self)
        self._channels[channel_number] = channel
        impl.on_events = self._on_events_hook(channel_number)
        self._await_reply()  # Channel.OpenOk
        return channel

    def _next_channel_number(self) -> int:
        channels = self._channels
        if len(channels) >= CHANNEL_MAX:
            raise exceptions.NoFreeChannels()
        for number in range(1, len(channels) + 1):
            if number not in channels:
                return number
        return len(channels) + 1

    def _basic_get_on_dead_channel(self, channel_number: int, queue: str, no_ack: bool) -> None:
        """pika sends ``Basic.Get`` on the number of a channel it knows is closed (its one method without a
        state check).  The broker answers a method on a channel that is not open with 504, or, if the number
        was reused meanwhile, runs the get on the new channel (whose pika side drops the answer)."""
        channel = self._channels.get(channel_number)
        if channel is None:
            self._core.close_with_error(core_errors.ChannelErrorHard("expected 'channel.open'"))
            return
        with contextlib.suppress(*CORE_ERRORS):
            channel._impl.basic_get(queue, no_ack)

    @property
    def is_closed(self) -> bool:
        return self._closed_error is not None

    @property
    def is_open(self) -> bool:
        return self._closed_error is None

    # server capabilities (RabbitMQ has them all)
    basic_nack_supported = property(lambda self: True)
    consumer_cancel_notify_supported = property(lambda self: True)
    exchange_exchange_bindings_supported = property(lambda self: True)
    publisher_confirms_supported = property(lambda self: True)
    basic_nack = basic_nack_supported
    consumer_cancel_notify = consumer_cancel_notify_supported
    exchange_exchange_bindings = exchange_exchange_bindings_supported
    publisher_confirms = publisher_confirms_supported


# ------------------------------------------------------------------------------------------------
# BlockingChannel

_OPEN = "open"
_CLOSED = "closed"


class BlockingChannel(_PikaBlockingChannel):  # type: ignore[misc,valid-type]
    """A pika ``BlockingChannel`` over one core channel (opened with ``inline=False``)."""

    def __init__(self, channel_impl: Any, connection: BlockingConnection) -> None:
        self._impl = channel_impl
        self._connection = connection
        self._channel_number: int = channel_impl.number
        self._state = _OPEN
        self._consumer_infos: dict[str, _ConsumerInfo] = {}
        self._queue_consumer_generator: _QueueConsumerGeneratorInfo | None = None
        self._delivery_confirmation = False
        self._pending_events: deque = deque()
        self._puback_return: Any = None
        self._closing_reason: BaseException | None = None
        self._return_callbacks: list[Callable] = []
        self._cancel_callbacks: list[Callable] = []
        #: consumer tags whose basic.cancel is on its way (deliveries for them are refused, as pika does)
        self._cancelling: set[str] = set()
        #: pika's impl keeps its basic_get callback until GetOk/GetEmpty arrives (DuplicateGetOkCallback)
        self._getok_pending = False
        #: what Broker.run_until_idle asks about (see _busy): reading from the core channel, running callbacks
        self._reading = False
        self._dispatching = 0
        channel_impl.add_busy_probe(self._busy)
        LOGGER.info("Created channel=%s", self._channel_number)

    def _busy(self) -> str | None:
        """The core channel's busy probe (any thread, broker lock held): events this channel took from
        the core and has not handled yet.  Looked at in the order events move: being read, pending for
        ``process_data_events``/``start_consuming`` or the ``consume()`` generator, being dispatched."""
        where = f"pika channel {self._channel_number}"
        if self._reading:
            return f"{where} is reading events"
        pending = len(self._pending_events)
        if pending:
            return f"{where} has {pending} event(s) waiting for process_data_events/start_consuming"
        generator = self._queue_consumer_generator
        if generator is not None and generator.pending_events:
            return f"{where} has {len(generator.pending_events)} delivery(ies) waiting in its consume() generator"
        if self._dispatching:
            return f"{where} is running a callback"
        return None

    def __int__(self) -> int:
        return self._channel_number

    def __repr__(self) -> str:
        state = "OPEN" if self.is_open else "CLOSED"
        return (f"<{self.__class__.__name__} impl=<Channel number={self._channel_number} {state} "
                f"conn={self._connection._impl_repr()}>>")

    def __enter__(self) -> BlockingChannel:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.is_open:
            self.close()

    def _cleanup(self) -> None:
        self._pending_events = deque()
        self._consumer_infos = {}
        self._queue_consumer_generator = None

    @property
    def channel_number(self) -> int:
        return self._channel_number

    @property
    def connection(self) -> BlockingConnection:
        return self._connection

    @property
    def is_closed(self) -> bool:
        return self._state is _CLOSED

    @property
    def is_open(self) -> bool:
        return self._state is _OPEN

    @property
    def consumer_tags(self) -> list[str]:
        return list(self._consumer_infos.keys())

    # -- state and I/O -----------------------------------------------------------------------------
    def _raise_if_not_open(self) -> None:
        if self._state is not _OPEN:
            raise exceptions.ChannelWrongStateError("Channel is closed.")

    def _on_channel_closed(self, reason: BaseException) -> None:
        """The channel closed: by the broker (a close frame was read), the client, or its connection."""
        if self._state is _CLOSED:
            return
        self._state = _CLOSED
        self._closing_reason = reason
        connection = self._connection
        if connection._channels.get(self._channel_number) is self:
            del connection._channels[self._channel_number]
        if isinstance(reason, exceptions.ChannelClosedByBroker):
            self._cleanup()
            connection._request_channel_dispatch(-self._channel_number)

    def _read_frames(self) -> None:
        """Take what the broker sent this channel; notice a close by the broker (soft error)."""
        impl = self._impl
        pop = impl.pop_event
        self._reading = True  # before the pop: an event in hand is never invisible to _busy
        try:
            event = pop()
            while event is not None:
                self._on_frame(event)
                event = pop()
        finally:
            self._reading = False
        self._notice_close()

    def _notice_close(self) -> None:
        """Take a close by the broker (soft error); a hard error is read by the connection, which
        closes every channel."""
        impl = self._impl
        if self._state is _OPEN and not impl.is_open:
            cause = impl.close_cause
            if cause is not None and not cause.closes_connection:
                self._on_channel_closed(translate_error(cause))

    def _on_frame(self, event: Any) -> None:
        kind = type(event)
        if kind is Delivery:
            self._on_deliver(event)
        elif kind is Returned:
            method = spec.Basic.Return(event.reply_code, event.reply_text, event.exchange, event.routing_key)
            properties = properties_to_pika(event.properties)
            body = event.body
            for callback in self._return_callbacks:
                self._add_pending_event(_ReturnedMessageEvt(callback, self, method, properties, body))
            if self._delivery_confirmation:
                LOGGER.warning("Published message was returned: _delivery_confirmation=%s; channel=%s; method=%r; "
                               "properties=%r; body_size=%d; body_prefix=%.255r", self._delivery_confirmation,
                               self._channel_number, method, properties, len(body), body)
                self._puback_return = ReturnedMessage(method, properties, body)
        elif kind is ConsumerCancelled:
            self._on_consumer_cancelled_by_broker(event.consumer_tag)

    def _on_deliver(self, delivery: Delivery) -> None:
        tag = delivery.consumer_tag
        info = self._consumer_infos.get(tag)
        if tag in self._cancelling:
            # pika's impl refuses deliveries for a consumer it is cancelling (auto-ack ones are dropped)
            if info is None or not info.auto_ack:
                with contextlib.suppress(*CORE_ERRORS):
                    self._impl.basic_reject(delivery.delivery_tag, True)
            return
        if info is None:
            CHANNEL_LOGGER.error("Unexpected delivery: %r", delivery)
            return
        method = spec.Basic.Deliver(tag, delivery.delivery_tag, delivery.redelivered, delivery.exchange,
                                    delivery.routing_key)
        evt = _ConsumerDeliveryEvt(method, properties_to_pika(delivery.properties), delivery.body)
        if info.alternate_event_sink is not None:
            info.alternate_event_sink(evt)
        else:
            self._add_pending_event(evt)

    def _on_consumer_cancelled_by_broker(self, consumer_tag: str) -> None:
        info = self._consumer_infos.get(consumer_tag)
        if info is None:
            return
        evt = _ConsumerCancellationEvt(frame.Method(self._channel_number,
                                                    spec.Basic.Cancel(consumer_tag=consumer_tag, nowait=True)))
        if not info.tearing_down:
            info.state = _ConsumerInfo.CANCELLED_BY_BROKER
        if info.alternate_event_sink is not None:
            info.alternate_event_sink(evt)
        else:
            self._add_pending_event(evt)

    def _on_consumer_generator_event(self, evt: Any) -> None:
        self._queue_consumer_generator.pending_events.append(evt)  # type: ignore[union-attr]
        self._connection._request_channel_dispatch(-self._channel_number)

    def _add_pending_event(self, evt: Any) -> None:
        self._pending_events.append(evt)
        self._connection._request_channel_dispatch(self._channel_number)

    def _flush_output(self, *waiters: Callable[[], bool]) -> None:
        """pika's channel wait: read until a waiter is ready; raise this channel's close by the broker."""
        if self.is_closed:
            self._raise_if_not_open()
        if not waiters:
            waiters = (lambda: True,)
        self._connection._flush_output(lambda: self.is_closed, *waiters)
        self._raise_if_closed_by_broker()

    def _raise_if_closed_by_broker(self) -> None:
        """pika raises the broker's close of a channel from the call that read it."""
        if self.is_closed and isinstance(self._closing_reason, exceptions.ChannelClosedByBroker):
            raise self._closing_reason

    def _rpc(self, operation: Callable, *args: Any) -> Any:
        """Send a synchronous method (``operation`` is the core call) and wait for the reply.

        A refusal closed the channel or the connection in the core; reading the reply reads that close,
        which raises it.  A channel the broker had already closed ignores the method; the close is read
        the same way.
        """
        connection = self._connection
        if connection._held:
            connection._wait_unblocked()
            self._raise_if_not_open()
        reads = connection._read_count
        try:
            result = operation(*args)
        except CORE_ERRORS as error:
            self._flush_output(lambda: connection._read_count != reads)
            raise translate_error(error) from None  # the core refused without closing anything
        self._flush_output(lambda: connection._read_count != reads)
        return result

    def _send_async(self, operation: Callable, *args: Any) -> Any:
        """Send an asynchronous method as pika's impl does: nothing is read; a refusal is found by a
        later read."""
        try:
            return operation(*args)
        except CORE_ERRORS:
            return None

    def _write_async(self, operation: Callable, *args: Any) -> Any:
        """Send an asynchronous method from a public call (publish without confirms, ack, nack, reject).

        pika's write of the frame also reads what the broker has sent by then, so a close caused by an
        earlier call is raised here.  In one process everything the broker said about earlier calls has
        arrived; what it says about *this* call is read by the next call that does I/O (a refusal of it
        closes the channel in the core and is found then).  Only closes are taken here: deliveries and
        returns wait for the next waiting call, which then reads them all at once, as pika does when
        they come back a network round trip after the writes that caused them.
        """
        self._connection._read_closes()
        self._raise_if_closed_by_broker()
        self._raise_if_not_open()
        return self._send_async(operation, *args)

    def _frame(self, method: Any) -> Any:
        return frame.Method(self._channel_number, method)

    # -- dispatch ----------------------------------------------------------------------------------
    def _dispatch_events(self) -> None:
        self._dispatching += 1  # before the pop: an event in hand is never invisible to _busy
        try:
            while self._pending_events:
                evt = self._pending_events.popleft()
                if type(evt) is _ConsumerDeliveryEvt:
                    consumer_info = self._consumer_infos[evt.method.consumer_tag]
                    consumer_info.on_message_callback(self, evt.method, evt.properties, evt.body)
                elif type(evt) is _ConsumerCancellationEvt:
                    del self._consumer_infos[evt.method_frame.method.consumer_tag]
                    for callback in list(self._cancel_callbacks):
                        callback(evt.method_frame)
                else:
                    evt.dispatch()
        finally:
            self._dispatching -= 1

    # -- closing -----------------------------------------------------------------------------------
    def close(self, reply_code: int = 0, reply_text: str = "Normal shutdown") -> None:
        """Cancel this channel's consumers, then close it (the broker requeues its unacked messages)."""
        LOGGER.debug("Channel.close(%s, %s)", reply_code, reply_text)
        self._raise_if_not_open()
        try:
            self._cancel_all_consumers()
            wire(spec.Channel.Close(reply_code, reply_text, 0, 0))
            connection = self._connection
            reads = connection._read_count
            if self._impl.is_open:
                self._impl.close()
                self._on_channel_closed(exceptions.ChannelClosedByClient(reply_code, reply_text))
            # else the broker closed it first: its Channel.Close is read now and wins
            connection._flush_output(lambda: connection._read_count != reads)  # Channel.CloseOk
            self._raise_if_closed_by_broker()
        finally:
            self._cleanup()

    def flow(self, active: bool) -> bool:
        """``channel.flow``; RabbitMQ supports only ``active=True`` (False closes the connection: 540)."""
        self._raise_if_not_open()
        method = wire(spec.Channel.Flow(active))
        return bool(self._rpc(self._impl.flow, method.active))

    def add_on_cancel_callback(self, callback: Callable) -> None:
        """``callback(method_frame)`` when the broker cancels a consumer (its queue was deleted)."""
        self._cancel_callbacks.append(callback)

    def add_on_return_callback(self, callback: Callable) -> None:
        """``callback(channel, method, properties, body)`` for returned messages (Basic.Return)."""
        self._return_callbacks.append(callback)

    # -- consuming ---------------------------------------------------------------------------------
    def _generate_consumer_tag(self) -> str:
        return "ctag%i.%s" % (self._channel_number, uuid.uuid4().hex)

    def basic_consume(self, queue: str, on_message_callback: Callable, auto_ack: bool = False,
                      exclusive: bool = False, consumer_tag: str | None = None,
                      arguments: dict | None = None) -> str:
        """Start a consumer; ``on_message_callback(channel, method, properties, body)`` runs from
        ``process_data_events``/``start_consuming``.  Returns the consumer tag (``ctag<n>.<hex>`` if none)."""
        require_string(queue, "queue")
        require_callback(on_message_callback, "on_message_callback")
        return self._basic_consume_impl(queue=queue, on_message_callback=on_message_callback, auto_ack=auto_ack,
                                        exclusive=exclusive, consumer_tag=consumer_tag, arguments=arguments)

    def _basic_consume_impl(self, queue: str, auto_ack: bool, exclusive: bool, consumer_tag: str | None,
                            arguments: dict | None = None, on_message_callback: Callable | None = None,
                            alternate_event_sink: Callable | None = None) -> str:
        if (on_message_callback is None) == (alternate_event_sink is None):
            raise ValueError(("exactly one of on_message_callback/alternate_event_sink must be non-None",
                              on_message_callback, alternate_event_sink))
        if not consumer_tag:
            consumer_tag = self._generate_consumer_tag()
        if consumer_tag in self._consumer_infos:
            raise exceptions.DuplicateConsumerTag(consumer_tag)
        self._consumer_infos[consumer_tag] = _ConsumerInfo(consumer_tag, auto_ack=auto_ack,
                                                           on_message_callback=on_message_callback,
                                                           alternate_event_sink=alternate_event_sink)
        try:
            require_string(queue, "queue")
            self._raise_if_not_open()
            method = wire(spec.Basic.Consume(queue=queue, consumer_tag=consumer_tag, no_ack=auto_ack,
                                              exclusive=exclusive, arguments=arguments or dict()))
            self._rpc(self._impl.basic_consume, method.queue, None, method.no_ack, method.exclusive,
                      method.consumer_tag, method.arguments)
        except Exception:
            if consumer_tag in self._consumer_infos:
                del self._consumer_infos[consumer_tag]
                self._connection._request_channel_dispatch(-self._channel_number)
            raise
        if self._consumer_infos[consumer_tag].setting_up:
            self._consumer_infos[consumer_tag].state = _ConsumerInfo.ACTIVE
        return consumer_tag

    def basic_cancel(self, consumer_tag: str) -> list:
        """Cancel a consumer.  auto_ack=False: deliveries received but not yet dispatched are rejected
        (requeued) first, returns ``[]``; auto_ack=True: returns them as ``(method, properties, body)``."""
        try:
            consumer_info = self._consumer_infos[consumer_tag]
        except KeyError:
            LOGGER.warning("User is attempting to cancel an unknown consumer=%s; already cancelled by user or "
                           "broker?", consumer_tag)
            return []
        try:
            assert consumer_info.active or consumer_info.cancelled_by_broker, consumer_info.state
            auto_ack = consumer_info.auto_ack
            cancelled_by_broker = consumer_info.cancelled_by_broker
            consumer_info.state = _ConsumerInfo.TEARING_DOWN
            if not auto_ack:
                for message in self._remove_pending_deliveries(consumer_tag):
                    self._raise_if_not_open()
                    self._send_async(self._impl.basic_reject, message.method.delivery_tag, True)
            require_string(consumer_tag, "consumer_tag")
            self._raise_if_not_open()
            if cancelled_by_broker:
                # pika's impl already forgot the consumer: it sends nothing and waits for nothing
                self._flush_output()
            else:
                wire(spec.Basic.Cancel(consumer_tag=consumer_tag, nowait=False))
                self._cancelling.add(consumer_tag)
                try:
                    self._rpc(self._impl.basic_cancel, consumer_tag)
                finally:
                    self._cancelling.discard(consumer_tag)
            if auto_ack:
                return [(evt.method, evt.properties, evt.body)
                        for evt in self._remove_pending_deliveries(consumer_tag)]
            messages = self._remove_pending_deliveries(consumer_tag)
            assert not messages, messages
            return []
        finally:
            if consumer_tag in self._consumer_infos:
                del self._consumer_infos[consumer_tag]
                self._connection._request_channel_dispatch(-self._channel_number)

    def _remove_pending_deliveries(self, consumer_tag: str) -> list:
        remaining: deque = deque()
        unprocessed = []
        self._reading = True  # events in hand while they are sorted: _busy must still see them
        try:
            while self._pending_events:
                evt = self._pending_events.popleft()
                if type(evt) is _ConsumerDeliveryEvt and evt.method.consumer_tag == consumer_tag:
                    unprocessed.append(evt)
                    continue
                if type(evt) is _ConsumerCancellationEvt and evt.method_frame.method.consumer_tag == consumer_tag:
                    continue  # the broker's cancel arrived before ours completed
                remaining.append(evt)
            self._pending_events = remaining
        finally:
            self._reading = False
        return unprocessed

    def _cancel_all_consumers(self) -> None:
        if self._consumer_infos:
            LOGGER.debug("Cancelling %i consumers", len(self._consumer_infos))
            if self._queue_consumer_generator is not None:
                self.cancel()
            for consumer_tag in list(self._consumer_infos.keys()):
                self.basic_cancel(consumer_tag)

    def start_consuming(self) -> None:
        """Dispatch consumer callbacks (and timers) until every consumer of this channel is cancelled."""
        with self._connection._acquire_event_dispatch() as dispatch_allowed:
            if not dispatch_allowed:
                raise exceptions.ReentrancyError(
                    "start_consuming may not be called from the scope of another BlockingConnection or "
                    "BlockingChannel callback")
        self._raise_if_not_open()
        while self._consumer_infos:
            self._process_data_events(time_limit=None)

    def stop_consuming(self, consumer_tag: str | None = None) -> None:
        """Cancel one consumer, or all of them (which ends ``start_consuming``)."""
        if consumer_tag:
            self.basic_cancel(consumer_tag)
        else:
            self._cancel_all_consumers()

    def consume(self, queue: str, auto_ack: bool = False, exclusive: bool = False, arguments: dict | None = None,
                inactivity_timeout: float | None = None, consumer_tag: str | None = None) -> Iterator[tuple]:
        """Generator of ``(method, properties, body)``; ``(None, None, None)`` after ``inactivity_timeout``
        seconds without a message.  Ends when the broker cancels the consumer; ``cancel()`` stops it."""
        self._raise_if_not_open()
        params = (queue, auto_ack, exclusive)
        if self._queue_consumer_generator is not None:
            if params != self._queue_consumer_generator.params:
                raise ValueError(
                    "Consume with different params not allowed on existing queue consumer generator; previous "
                    f"params: {self._queue_consumer_generator.params!r}; new params: {(queue, auto_ack, exclusive)!r}")
        else:
            if not consumer_tag:
                consumer_tag = self._generate_consumer_tag()
            self._queue_consumer_generator = _QueueConsumerGeneratorInfo(params, consumer_tag)
            try:
                self._basic_consume_impl(queue=queue, auto_ack=auto_ack, exclusive=exclusive,
                                         consumer_tag=consumer_tag, arguments=arguments,
                                         alternate_event_sink=self._on_consumer_generator_event)
            except Exception:
                self._queue_consumer_generator = None
                raise

        while self._queue_consumer_generator is not None:
            if self._queue_consumer_generator.pending_events:
                evt = self._queue_consumer_generator.pending_events.popleft()
                if type(evt) is _ConsumerCancellationEvt:
                    self._queue_consumer_generator = None  # cancelled by the broker
                    break
                yield (evt.method, evt.properties, evt.body)
                continue
            if inactivity_timeout is None:
                self._process_data_events(time_limit=None)
                continue
            deadline = time.monotonic() + inactivity_timeout
            delta = inactivity_timeout
            while self._queue_consumer_generator is not None and not self._queue_consumer_generator.pending_events:
                self._process_data_events(time_limit=delta)
                if not self._queue_consumer_generator:
                    break  # cancelled by the client
                if self._queue_consumer_generator.pending_events:
                    break
                delta = deadline - time.monotonic()
                if delta <= 0.0:
                    yield (None, None, None)
                    break

    def _process_data_events(self, time_limit: float | None) -> None:
        self._connection.process_data_events(time_limit=time_limit)
        self._raise_if_closed_by_broker()

    def get_waiting_message_count(self) -> int:
        """Messages the ``consume()`` generator can yield without waiting."""
        if self._queue_consumer_generator is None:
            return 0
        pending = self._queue_consumer_generator.pending_events
        count = len(pending)
        if count and type(pending[-1]) is _ConsumerCancellationEvt:
            count -= 1
        return count

    def cancel(self) -> int:
        """Cancel the ``consume()`` generator's consumer, rejecting (requeueing) what it has not yielded."""
        if self._queue_consumer_generator is None:
            LOGGER.warning("cancel: queue consumer generator is inactive (already cancelled by client or broker?)")
            return 0
        try:
            _, auto_ack, _ = self._queue_consumer_generator.params
            if not auto_ack:
                pending = self._queue_consumer_generator.pending_events
                for _ in range(self.get_waiting_message_count()):
                    evt = pending.popleft()
                    self._raise_if_not_open()
                    self._send_async(self._impl.basic_reject, evt.method.delivery_tag, True)
            self.basic_cancel(self._queue_consumer_generator.consumer_tag)
        finally:
            self._queue_consumer_generator = None
        return 0

    # -- acknowledgements (asynchronous) -------------------------------------------------------------
    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        self._raise_if_not_open()
        if type(delivery_tag) is not int or not 0 <= delivery_tag < 1 << 64:
            delivery_tag = wire(spec.Basic.Ack(delivery_tag, multiple)).delivery_tag
        self._write_async(self._impl.basic_ack, delivery_tag, bool(multiple))

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        self._raise_if_not_open()
        if type(delivery_tag) is not int or not 0 <= delivery_tag < 1 << 64:
            delivery_tag = wire(spec.Basic.Nack(delivery_tag, multiple, requeue)).delivery_tag
        self._write_async(self._impl.basic_nack, delivery_tag, bool(multiple), bool(requeue))

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._raise_if_not_open()
        if not isinstance(delivery_tag, int):
            raise TypeError("delivery_tag must be an integer")
        if type(delivery_tag) is not int or not 0 <= delivery_tag < 1 << 64:
            delivery_tag = wire(spec.Basic.Reject(delivery_tag, requeue)).delivery_tag
        self._write_async(self._impl.basic_reject, delivery_tag, bool(requeue))

    # -- get / publish -----------------------------------------------------------------------------
    def basic_get(self, queue: str, auto_ack: bool = False) -> tuple:
        """``(Basic.GetOk, BasicProperties, body)``, or ``(None, None, None)`` if the queue is empty."""
        require_string(queue, "queue")
        require_string(queue, "queue")
        if self._getok_pending:
            raise exceptions.DuplicateGetOkCallback()
        self._getok_pending = True
        method = wire(spec.Basic.Get(queue=queue, no_ack=auto_ack))
        connection = self._connection
        if connection.is_closed:
            raise exceptions.ConnectionWrongStateError("Attempted to send a frame on closed connection.")
        if self.is_closed:
            # pika checks nothing before sending Basic.Get; the broker answers the dead channel number
            connection._basic_get_on_dead_channel(self._channel_number, method.queue, method.no_ack)
            self._raise_if_not_open()
        delivery = self._rpc(self._impl.basic_get, method.queue, method.no_ack)
        self._getok_pending = False
        if delivery is None:
            return None, None, None
        get_ok = spec.Basic.GetOk(delivery.delivery_tag, delivery.redelivered, delivery.exchange,
                                  delivery.routing_key, delivery.message_count)
        return get_ok, properties_to_pika(delivery.properties), delivery.body

    def basic_publish(self, exchange: str, routing_key: str, body: Any, properties: Any = None,
                      mandatory: bool = False) -> None:
        """Publish.  In confirm mode waits for the confirm: ``UnroutableError`` if the message was returned,
        ``NackError`` if nacked; otherwise returns at once (a refusal surfaces at the next waiting call)."""
        self._raise_if_not_open()
        body = as_bytes(body)
        if not (short_string_ok(exchange) and short_string_ok(routing_key)):
            method = wire(spec.Basic.Publish(exchange=exchange, routing_key=routing_key, mandatory=mandatory))
            exchange, routing_key = method.exchange, method.routing_key
        core_properties = None
        if properties is not None:
            core_properties, header_size = properties_to_core(properties)
            too_large = content_header_error(header_size)
            if too_large is not None:
                # RabbitMQ cannot take the content header frame: it closes the connection
                self._connection._core.close_with_error(too_large)
                if self._delivery_confirmation:
                    self._connection._await_reply()  # reads the close: raises it
                return
        connection = self._connection
        if self._delivery_confirmation:
            if connection._held or connection._core.note_publish():
                # blocked: the broker reads nothing until it unblocks the connection, so no confirm comes
                connection._held.append(lambda: None)  # what the publish waits behind
                connection._wait_unblocked()
                self._raise_if_not_open()
            outcome = self._rpc(self._impl.basic_publish, exchange, routing_key, body, core_properties,
                                bool(mandatory))
            if outcome is _NACKED:
                returned = [self._puback_return] if self._puback_return is not None else []
                self._puback_return = None
                LOGGER.warning("Message was Nack'ed by broker: channel=%s; exchange=%s; routing_key=%s; "
                               "mandatory=%r", self._channel_number, exchange, routing_key, mandatory)
                raise exceptions.NackError(returned)
            if self._puback_return is not None:
                messages = [self._puback_return]
                self._puback_return = None
                raise exceptions.UnroutableError(messages)
        else:
            impl = self._impl
            if connection._held or connection._core.note_publish():
                connection._read_closes()
                self._raise_if_closed_by_broker()
                connection._held.append(functools.partial(self._send_async, impl.basic_publish, exchange,
                                                          routing_key, body, core_properties, bool(mandatory)))
                return
            self._write_async(impl.basic_publish, exchange, routing_key, body, core_properties, bool(mandatory))

    # -- qos, recover, confirms ---------------------------------------------------------------------
    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        self._raise_if_not_open()
        zero_or_greater("prefetch_size", prefetch_size)
        zero_or_greater("prefetch_count", prefetch_count)
        method = wire(spec.Basic.Qos(prefetch_size, prefetch_count, global_qos))
        self._rpc(self._impl.basic_qos, method.prefetch_size, method.prefetch_count, method.global_qos)

    def basic_recover(self, requeue: bool = False) -> None:
        """Requeue the channel's unacked messages.  pika's default ``requeue=False`` is refused by
        RabbitMQ with 540 (the connection closes)."""
        self._raise_if_not_open()
        method = wire(spec.Basic.Recover(requeue))
        self._rpc(self._impl.basic_recover, method.requeue)

    def confirm_delivery(self) -> None:
        """Publisher confirms: ``basic_publish`` then waits for each confirm.  Repeating is harmless."""
        if self._delivery_confirmation:
            LOGGER.error("confirm_delivery: confirmation was already enabled on channel=%s", self._channel_number)
            return
        self._raise_if_not_open()
        self._rpc(self._impl.confirm_select)
        self._delivery_confirmation = True

    # -- exchanges ---------------------------------------------------------------------------------
    def exchange_declare(self, exchange: str, exchange_type: Any = spec.ExchangeType.direct,
                         passive: bool = False, durable: bool = False, auto_delete: bool = False,
                         internal: bool = False, arguments: dict | None = None) -> Any:
        require_string(exchange, "exchange")
        require_string(exchange, "exchange")
        self._raise_if_not_open()
        if isinstance(exchange_type, Enum):
            exchange_type = exchange_type.value
        m = wire(spec.Exchange.Declare(0, exchange, exchange_type, passive, durable, auto_delete, internal,
                                        False, arguments or dict()))
        self._rpc(self._impl.exchange_declare, m.exchange, m.type, m.passive, m.durable, m.auto_delete,
                  m.internal, m.arguments)
        return self._frame(spec.Exchange.DeclareOk())

    def exchange_delete(self, exchange: str | None = None, if_unused: bool = False) -> Any:
        self._raise_if_not_open()
        m = wire(spec.Exchange.Delete(0, exchange, if_unused, False))
        self._rpc(self._impl.exchange_delete, m.exchange, m.if_unused)
        return self._frame(spec.Exchange.DeleteOk())

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: dict | None = None) -> Any:
        require_string(destination, "destination")
        require_string(source, "source")
        self._raise_if_not_open()
        m = wire(spec.Exchange.Bind(0, destination, source, routing_key, False, arguments or dict()))
        self._rpc(self._impl.exchange_bind, m.destination, m.source, m.routing_key, m.arguments)
        return self._frame(spec.Exchange.BindOk())

    def exchange_unbind(self, destination: str | None = None, source: str | None = None, routing_key: str = "",
                        arguments: dict | None = None) -> Any:
        self._raise_if_not_open()
        m = wire(spec.Exchange.Unbind(0, destination, source, routing_key, False, arguments))
        self._rpc(self._impl.exchange_unbind, m.destination, m.source, m.routing_key, m.arguments)
        return self._frame(spec.Exchange.UnbindOk())

    # -- queues ------------------------------------------------------------------------------------
    def queue_declare(self, queue: str, passive: bool = False, durable: bool = False, exclusive: bool = False,
                      auto_delete: bool = False, arguments: dict | None = None) -> Any:
        """Declare a queue (``''``: server-named); the frame's ``method`` is ``Queue.DeclareOk(queue,
        message_count, consumer_count)``."""
        require_string(queue, "queue")
        require_string(queue, "queue")
        self._raise_if_not_open()
        m = wire(spec.Queue.Declare(0, queue, passive, durable, exclusive, auto_delete, False, arguments or dict()))
        ok = self._rpc(self._impl.queue_declare, m.queue, m.passive, m.durable, m.exclusive, m.auto_delete,
                       m.arguments)
        return self._frame(spec.Queue.DeclareOk(ok.queue, ok.message_count, ok.consumer_count))

    def queue_delete(self, queue: str, if_unused: bool = False, if_empty: bool = False) -> Any:
        self._raise_if_not_open()
        require_string(queue, "queue")
        m = wire(spec.Queue.Delete(0, queue, if_unused, if_empty, False))
        count = self._rpc(self._impl.queue_delete, m.queue, m.if_unused, m.if_empty)
        return self._frame(spec.Queue.DeleteOk(count))

    def queue_purge(self, queue: str) -> Any:
        self._raise_if_not_open()
        require_string(queue, "queue")
        m = wire(spec.Queue.Purge(0, queue, False))
        count = self._rpc(self._impl.queue_purge, m.queue)
        return self._frame(spec.Queue.PurgeOk(count))

    def queue_bind(self, queue: str, exchange: str, routing_key: str | None = None,
                   arguments: dict | None = None) -> Any:
        """Bind; ``routing_key=None`` means the queue's name (pika sends the queue name as the key)."""
        require_string(queue, "queue")
        require_string(exchange, "exchange")
        require_string(queue, "queue")
        require_string(exchange, "exchange")
        self._raise_if_not_open()
        if routing_key is None:
            routing_key = queue
        m = wire(spec.Queue.Bind(0, queue, exchange, routing_key, False, arguments or dict()))
        self._rpc(self._impl.queue_bind, m.queue, m.exchange, m.routing_key, m.arguments)
        return self._frame(spec.Queue.BindOk())

    def queue_unbind(self, queue: str, exchange: str, routing_key: str | None = None,
                     arguments: dict | None = None) -> Any:
        self._raise_if_not_open()
        require_string(queue, "queue")
        if routing_key is None:
            routing_key = queue
        m = wire(spec.Queue.Unbind(0, queue, exchange, routing_key, arguments or dict()))
        self._rpc(self._impl.queue_unbind, m.queue, m.exchange, m.routing_key, m.arguments)
        return self._frame(spec.Queue.UnbindOk())

    # -- transactions ------------------------------------------------------------------------------
    def tx_select(self) -> Any:
        self._raise_if_not_open()
        self._rpc(self._impl.tx_select)
        return self._frame(spec.Tx.SelectOk())

    def tx_commit(self) -> Any:
        self._raise_if_not_open()
        self._rpc(self._impl.tx_commit)
        return self._frame(spec.Tx.CommitOk())

    def tx_rollback(self) -> Any:
        self._raise_if_not_open()
        self._rpc(self._impl.tx_rollback)
        return self._frame(spec.Tx.RollbackOk())
