"""The server side of one in-memory AMQP 0-9-1 connection: frames from aiormq in, a minimq broker behind.

aiormq (and aio-pika above it) run unchanged: they write frames into a writer and read frames from an
``asyncio.StreamReader``, as over a socket.  :class:`Endpoint` is what sits at the other end.  It
decodes the client's frames, plays RabbitMQ's part of the handshake, maps each method onto a core
channel operation and writes back what RabbitMQ 3.10 would: the reply method, the deliveries, returns,
confirms and server cancels, and ``channel.close`` / ``connection.close`` with RabbitMQ's reply code,
reply text and the class and method ids of the method that failed.

Threads.  Everything here runs on the event loop's thread: the client's writes arrive there (aiormq's
writer task), and core events that arrive on other threads (a publish from a worker thread, the
store's commit thread confirming a persistent message, the timer thread expiring a message) reach the
loop through ``call_soon_threadsafe`` from the core channel's ``on_events`` hook.

Order.  A method's reply is written before the events the method caused (``basic.consume-ok`` before
the first ``basic.deliver``; ``basic.return`` before the publish's ``basic.ack``, as the core queues
them), and a channel's events are written in the order the core produced them.

Waiting.  A ``tx.commit`` on a broker with a store is applied at once and answered when the store's
commit covering it is done (the store's callback reaches the loop with ``call_soon_threadsafe``; a
store that can only ``flush()`` is waited for in a worker thread); until then the connection's later
frames wait their turn, so replies never overtake each other.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from typing import Any, Callable

from pamqp import commands as spec
from pamqp import header as pamqp_header
from pamqp import heartbeat as pamqp_heartbeat
from pamqp.body import ContentBody

from ... import errors as core_errors
from ...broker import Broker
from ...channel import PublishOutcome
from ...message import Confirm, ConsumerCancelled, Delivery, Returned
from .frames import HEARTBEAT_FRAME, FrameBuffer, FrameSyntaxError, content_frames, make, method_frame
from .properties import encode_properties, to_core

__all__ = ["Endpoint", "SERVER_PROPERTIES", "FRAME_MAX", "CHANNEL_MAX"]

log = logging.getLogger("minimq.aio_pika")

#: what RabbitMQ 3.10 proposes in ``connection.tune``
FRAME_MAX = 131072
CHANNEL_MAX = 2047
HEARTBEAT = 60

#: ``connection.start``'s server properties, as RabbitMQ 3.10 sends them (the capabilities matter:
#: clients switch features on by them)
SERVER_PROPERTIES: dict[str, Any] = {
    "capabilities": {
        "publisher_confirms": True,
        "exchange_exchange_bindings": True,
        "basic.nack": True,
        "consumer_cancel_notify": True,
        "connection.blocked": True,
        "consumer_priorities": True,
        "authentication_failure_close": True,
        "per_consumer_qos": True,
        "direct_reply_to": True,
    },
    "cluster_name": "minimq@localhost",
    "copyright": "minimq: an in-process broker with RabbitMQ's AMQP 0-9-1 model",
    "information": "minimq, in-process; answers as RabbitMQ 3.10 does",
    "platform": "Python",
    "product": "RabbitMQ",
    "version": "3.10.8",
}

_LOGIN_REFUSED = ("Login was refused using authentication mechanism {}. "
                  "For details see the broker logfile.")


def _short(text: str) -> str:
    """A reply text as RabbitMQ writes it into a short string: over 255 bytes, its first 252 + ``...``."""
    raw = text.encode()
    if len(raw) <= 255:
        return text
    return (raw[:252] + b"...").decode(errors="ignore")


class _ChannelState:
    """One AMQP channel of the connection: its core channel and what the client has half-sent."""

    __slots__ = ("number", "core", "closing", "publish", "properties", "body", "body_size",
                 "confirming", "confirm_seq", "drain_scheduled")

    def __init__(self, number: int, core: Any) -> None:
        self.number = number
        self.core = core
        #: the server sent channel.close and waits for close-ok: the client's other frames are dropped
        self.closing = False
        #: the basic.publish whose content is arriving, its properties and body parts
        self.publish: Any = None
        self.properties: Any = None
        self.body: list[bytes] = []
        self.body_size = 0
        #: confirm mode, and (blocking confirm mode only) the last publish sequence number confirmed
        self.confirming = False
        self.confirm_seq = 0
        self.drain_scheduled = False


class Endpoint:
    """The broker's end of one client connection (see the module docstring)."""

    def __init__(self, broker: Broker, loop: asyncio.AbstractEventLoop, reader: Any, address: str = "") -> None:
        self.broker = broker
        self.loop = loop
        #: where the server's bytes go: the client's ``asyncio.StreamReader`` (or anything with
        #: ``feed_data(bytes)`` and ``feed_eof()``, e.g. a socket's writer behind an adapter)
        self.reader = reader
        #: where the client thinks it connected (for logs)
        self.address = address
        self.frames = FrameBuffer()
        #: handshake state: "header", "start-ok", "tune-ok", "open", "running", "closing", "closed"
        self.state = "header"
        self.user = ""
        self.frame_max = FRAME_MAX
        self.connection: Any = None
        self.channels: dict[int, _ChannelState] = {}
        #: frames that wait while a durable tx.commit is in progress
        self._held: deque | None = None
        self._mechanism = "PLAIN"
        self._loop_thread = threading.get_ident()
        #: the client's capabilities include ``connection.blocked``; its ``connection_name``
        self._wants_blocked = False
        self._client_name: str | None = None
        #: the broker stopped reading this connection (blocked by a resource alarm): frames wait in _held
        self._throttled = False

    # -- the client's bytes ------------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """Bytes the client wrote (loop thread)."""
        if self.state == "closed":
            return
        try:
            for channel, frame in self.frames.feed(data):
                if self._held is not None:
                    self._held.append((channel, frame))
                else:
                    self._handle(channel, frame)
                if self.state == "closed":
                    return
        except FrameSyntaxError as error:
            self._close_connection(501, f"FRAME_ERROR - {error}", 0, 0)

    def client_gone(self) -> None:
        """The client closed its end without ``connection.close`` (or after it): let the broker go."""
        if self.connection is not None and not self.connection.is_closed:
            self.connection.on_close = None
            self.connection.close()
        self._finish()

    # -- sending -----------------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        if self.state != "closed":
            self.reader.feed_data(data)

    def _method(self, channel: int, method: Any) -> None:
        self._send(method_frame(channel, method))

    def _finish(self) -> None:
        if self.state != "closed":
            self.state = "closed"
            self.reader.feed_eof()

    # -- dispatch ----------------------------------------------------------------------------
    def _handle(self, number: int, frame: Any) -> None:
        state = self.state
        if state == "running":
            if number:
                self._channel_frame(number, frame)
            else:
                self._connection_frame(frame)
            return
        if state == "closing":  # waiting for connection.close-ok: everything else is dropped
            if isinstance(frame, spec.Connection.CloseOk):
                self._finish()
            elif isinstance(frame, spec.Connection.Close):
                self._method(0, make(spec.Connection.CloseOk))
            return
        self._handshake(frame)

    def _handshake(self, frame: Any) -> None:
        state = self.state
        if state == "header":
            if not isinstance(frame, pamqp_header.ProtocolHeader):
                # RabbitMQ answers a wrong protocol header with the one it speaks, then closes
                self._send(b"AMQP\x00\x00\x09\x01")
                self._finish()
                return
            self._method(0, make(spec.Connection.Start, server_properties=SERVER_PROPERTIES,
                                                  mechanisms="PLAIN AMQPLAIN", locales="en_US"))
            self.state = "start-ok"
        elif state == "start-ok" and isinstance(frame, spec.Connection.StartOk):
            self._mechanism = frame.mechanism
            client_properties = frame.client_properties or {}
            capabilities = client_properties.get("capabilities") or {}
            self._wants_blocked = bool(capabilities.get("connection.blocked"))
            name = client_properties.get("connection_name")
            self._client_name = None if name is None else str(name)
            user, password = self._credentials(frame)
            try:
                if user is None:
                    raise core_errors.LoginRefused(_LOGIN_REFUSED.format(frame.mechanism))
                self.broker.authenticate(user, password)
            except core_errors.LoginRefused as error:
                if self._mechanism != "PLAIN":
                    error = core_errors.LoginRefused(_LOGIN_REFUSED.format(self._mechanism))
                self._close_connection(error.reply_code, error.reply_text, 0, 0)
                return
            self.user = user
            self._method(0, make(spec.Connection.Tune, channel_max=CHANNEL_MAX, frame_max=FRAME_MAX,
                                                 heartbeat=HEARTBEAT))
            self.state = "tune-ok"
        elif state == "tune-ok" and isinstance(frame, spec.Connection.TuneOk):
            if frame.frame_max:
                self.frame_max = min(FRAME_MAX, frame.frame_max)
                self.frames.frame_max = self.frame_max
            self.state = "open"
        elif state == "open" and isinstance(frame, spec.Connection.Open):
            try:
                connection = self.broker.connect(frame.virtual_host, self.user)
            except core_errors.AMQPError as error:
                self._close_connection(error.reply_code, error.reply_text, *_ids(frame))
                return
            except ConnectionRefusedError:  # the broker went down during the handshake: the socket drops
                self._finish()
                return
            connection.on_close = self._broker_closed
            connection.client_name = self._client_name
            connection.on_blocked = self._core_blocked
            self.connection = connection
            self._method(0, make(spec.Connection.OpenOk))
            self.state = "running"
        elif isinstance(frame, pamqp_heartbeat.Heartbeat):
            return
        else:
            name = getattr(frame, "name", type(frame).__name__)
            self._close_connection(503, f"COMMAND_INVALID - unexpected {name} during the handshake",
                                   *_ids(frame))

    @staticmethod
    def _credentials(frame: spec.Connection.StartOk) -> tuple[str | None, str]:
        response = frame.response
        if isinstance(response, str):
            response = response.encode("latin-1")
        if frame.mechanism == "PLAIN":
            parts = bytes(response).split(b"\x00")
            if len(parts) != 3:
                return None, ""
            return parts[1].decode(errors="replace"), parts[2].decode(errors="replace")
        if frame.mechanism == "AMQPLAIN":
            from pamqp import decode
            try:
                _, table = decode.field_table(b"\x00\x00\x00" + bytes([len(response)]) + bytes(response)
                                              if len(response) < 256 else
                                              len(response).to_bytes(4, "big") + bytes(response))
            except Exception:
                return None, ""
            return str(table.get("LOGIN", "")), str(table.get("PASSWORD", ""))
        return None, ""

    # -- channel 0 -----------------------------------------------------------------------------
    def _connection_frame(self, frame: Any) -> None:
        if isinstance(frame, pamqp_heartbeat.Heartbeat):
            self._send(HEARTBEAT_FRAME)  # keeps the client's missed-heartbeat check quiet
        elif isinstance(frame, spec.Connection.Close):
            if self.connection is not None:
                self.connection.on_close = None
                self.connection.close()
            self._method(0, make(spec.Connection.CloseOk))
            self._finish()
        elif isinstance(frame, spec.Connection.UpdateSecret):
            self._method(0, make(spec.Connection.UpdateSecretOk))
        elif isinstance(frame, (spec.Connection.Blocked, spec.Connection.Unblocked)):
            return
        else:
            name = getattr(frame, "name", type(frame).__name__)
            self._close_connection(503, f"COMMAND_INVALID - unexpected {name} on channel 0", *_ids(frame))

    def _close_connection(self, code: int, text: str, class_id: int, method_id: int) -> None:
        """Send ``connection.close`` and wait for the client's ``close-ok``; the core side closes now."""
        if self.state in ("closing", "closed"):
            return
        if self.connection is not None and not self.connection.is_closed:
            self.connection.on_close = None
            self.connection.close()
        self._method(0, make(spec.Connection.Close, reply_code=code, reply_text=_short(text), class_id=class_id,
                                              method_id=method_id))
        self.state = "closing"

    def _broker_closed(self, cause: core_errors.AMQPError | None) -> None:
        """The core connection closed on the broker's side (any thread): tell the client."""
        if threading.get_ident() != self._loop_thread:
            try:
                self.loop.call_soon_threadsafe(self._broker_closed, cause)
            except RuntimeError:  # the loop is closed
                pass
            return
        if self.loop.is_closed():
            # the client's loop ended without closing this connection (a program or test that left it
            # open, then closed the broker): nobody can read a connection.close any more, and feeding
            # the reader would wake its waiter through the closed loop, which raises
            self.state = "closed"
            return
        if self.state in ("closing", "closed"):
            return
        for state in self.channels.values():
            self._drain(state)  # what the channels received before the close still goes out first
        if cause is None:
            cause = core_errors.ConnectionForced("broker forced connection closure with reason 'shutdown'")
        self._method(0, make(spec.Connection.Close, reply_code=cause.reply_code, reply_text=_short(cause.reply_text),
                                              class_id=0, method_id=0))
        self.state = "closing"

    def _core_blocked(self, reason: str | None) -> None:
        """The core connection's ``on_blocked`` (any thread): send ``connection.blocked(reason)`` or
        ``connection.unblocked`` to a client that asked for them; on unblock, read the held frames."""
        if threading.get_ident() != self._loop_thread:
            try:
                self.loop.call_soon_threadsafe(self._core_blocked, reason)
            except RuntimeError:  # the loop is closed
                pass
            return
        if self.state != "running":
            return
        if self._wants_blocked:
            if reason is not None:
                self._method(0, make(spec.Connection.Blocked, reason=_short(reason)))
            else:
                self._method(0, make(spec.Connection.Unblocked))
        if reason is None and self._throttled:
            self._throttled = False
            held = self._held
            self._held = None
            if held:
                self._replay(held)

    # -- channels ------------------------------------------------------------------------------
    def _channel_frame(self, number: int, frame: Any) -> None:
        state = self.channels.get(number)
        if state is None:
            if isinstance(frame, spec.Channel.Open):
                self._open_channel(number, frame)
            elif isinstance(frame, spec.Channel.CloseOk):
                return  # late close-ok of a channel we already forgot
            else:
                self._close_connection(504, "CHANNEL_ERROR - expected 'channel.open'", *_ids(frame))
            return
        if state.closing:
            if isinstance(frame, spec.Channel.CloseOk):
                del self.channels[number]
            elif isinstance(frame, spec.Channel.Close):
                self._method(number, make(spec.Channel.CloseOk))
            return
        if state.publish is not None:
            self._content(state, frame)
            return
        if type(frame) is spec.Basic.Publish and self.connection.note_publish():
            # blocked by a resource alarm: RabbitMQ stops reading the socket at this publish
            self._throttled = True
            self._held = deque([(number, frame)])
            return
        handler = _HANDLERS.get(type(frame))
        if handler is None:
            if isinstance(frame, (ContentBody, pamqp_header.ContentHeader)):
                self._close_connection(505, "UNEXPECTED_FRAME - expected method frame, got non method frame "
                                       "instead", 0, 0)
            elif isinstance(frame, spec.Channel.Open):
                self._close_connection(504, "CHANNEL_ERROR - second 'channel.open' seen", 20, 10)
            else:
                name = getattr(frame, "name", type(frame).__name__)
                self._close_connection(540, f"NOT_IMPLEMENTED - {name}", *_ids(frame))
            return
        try:
            handler(self, state, frame)
        except core_errors.AMQPError as error:
            self._refused(state, error, frame)
        except core_errors.ChannelClosed:
            return  # the core closed the channel under us (its connection is closing): the hook tells
        except core_errors.ConnectionClosed:
            return
        except Exception as error:  # noqa: BLE001 - a bug here must reach the client as RabbitMQ's 541
            log.exception("minimq.aio_pika: %s on channel %d failed", getattr(frame, "name", frame), number)
            self._close_connection(541, f"INTERNAL_ERROR - {type(error).__name__}: {error}", *_ids(frame))
            return
        if self.state == "running" and not state.closing:
            self._drain(state)

    def _refused(self, state: _ChannelState, error: core_errors.AMQPError, frame: Any) -> None:
        """A core refusal: a soft error closes this channel, a hard one the connection."""
        if error.closes_connection:
            self._close_connection(error.reply_code, error.reply_text, *_ids(frame))
            return
        state.closing = True  # first: the drain must not announce the core's close a second time
        state.publish = None
        self._drain(state)
        class_id, method_id = _ids(frame)
        self._method(state.number, make(spec.Channel.Close, reply_code=error.reply_code,
                                                      reply_text=_short(error.reply_text), class_id=class_id,
                                                      method_id=method_id))

    def _open_channel(self, number: int, frame: Any) -> None:
        try:
            core = self.connection.channel(number, inline=False)
        except core_errors.AMQPError as error:
            self._close_connection(error.reply_code, error.reply_text, *_ids(frame))
            return
        state = _ChannelState(number, core)
        self.channels[number] = state
        core.on_events = lambda: self._events_arrived(state)
        self._method(number, make(spec.Channel.OpenOk))

    def _events_arrived(self, state: _ChannelState) -> None:
        """The core channel's ``on_events`` hook: any thread, outside the broker lock; never raises."""
        if state.drain_scheduled:
            return
        state.drain_scheduled = True
        try:
            if threading.get_ident() == self._loop_thread:
                self.loop.call_soon(self._scheduled_drain, state)
            else:
                self.loop.call_soon_threadsafe(self._scheduled_drain, state)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            state.drain_scheduled = False

    def _scheduled_drain(self, state: _ChannelState) -> None:
        state.drain_scheduled = False
        if self._held is None and self.state == "running" and self.channels.get(state.number) is state:
            self._drain(state)

    def _drain(self, state: _ChannelState) -> None:
        """Write every event the core channel holds, in order."""
        core = state.core
        number = state.number
        frame_max = self.frame_max
        send = self._send
        while True:
            event = core.pop_event()
            if event is None:
                break
            kind = type(event)
            if kind is Delivery:
                message = event.message
                if event.consumer_tag is None:
                    method: Any = make(spec.Basic.GetOk, delivery_tag=event.delivery_tag, redelivered=event.redelivered,
                                                   exchange=event.exchange, routing_key=event.routing_key,
                                                   message_count=event.message_count)
                else:
                    method = make(spec.Basic.Deliver, consumer_tag=event.consumer_tag, delivery_tag=event.delivery_tag,
                                                redelivered=event.redelivered, exchange=event.exchange,
                                                routing_key=event.routing_key)
                send(content_frames(number, method, encode_properties(message.properties), message.body, frame_max))
            elif kind is Confirm:
                if event.ack:
                    self._method(number, make(spec.Basic.Ack, delivery_tag=event.seq, multiple=event.multiple))
                else:
                    self._method(number, make(spec.Basic.Nack, delivery_tag=event.seq, multiple=event.multiple,
                                                         requeue=False))
            elif kind is Returned:
                method = make(spec.Basic.Return, reply_code=event.reply_code, reply_text=event.reply_text,
                                           exchange=event.exchange, routing_key=event.routing_key)
                send(content_frames(number, method, encode_properties(event.message.properties), event.message.body,
                                    frame_max))
            elif kind is ConsumerCancelled:
                self._method(number, make(spec.Basic.Cancel, consumer_tag=event.consumer_tag, nowait=True))
        if core.is_closed and not state.closing and self.state == "running":
            self._core_channel_closed(state)

    def _core_channel_closed(self, state: _ChannelState) -> None:
        """The core closed a channel by itself (not in reply to a method): tell the client."""
        connection = self.connection
        if connection is not None and connection.is_closed:
            return  # the connection hook sends connection.close
        cause = state.core.close_cause
        if cause is None:
            return
        state.closing = True
        self._method(state.number, make(spec.Channel.Close, reply_code=cause.reply_code,
                                                      reply_text=_short(cause.reply_text), class_id=0,
                                                      method_id=0))

    # -- content ---------------------------------------------------------------------------------
    def _content(self, state: _ChannelState, frame: Any) -> None:
        """A content header or body frame of the publish in progress."""
        if state.properties is None:
            if not isinstance(frame, pamqp_header.ContentHeader):
                state.publish = None
                self._close_connection(505, "UNEXPECTED_FRAME - expected content header for class 60, got "
                                       "non content header frame instead", 60, 40)
                return
            state.properties = frame.properties
            state.body_size = frame.body_size
            if frame.body_size == 0:
                self._publish(state)
            return
        if not isinstance(frame, ContentBody):
            state.publish = None
            self._close_connection(505, "UNEXPECTED_FRAME - expected content body, got non content body frame "
                                   "instead", 60, 40)
            return
        state.body.append(frame.value)
        received = sum(len(part) for part in state.body)
        if received >= state.body_size:
            self._publish(state)

    def _publish(self, state: _ChannelState) -> None:
        method = state.publish
        body = b"".join(state.body) if len(state.body) != 1 else bytes(state.body[0])
        properties = to_core(state.properties)
        state.publish = None
        state.properties = None
        state.body = []
        try:
            outcome = state.core.basic_publish(method.exchange, method.routing_key, body, properties,
                                               mandatory=method.mandatory)
        except core_errors.AMQPError as error:
            self._refused(state, error, method)
            return
        except (core_errors.ChannelClosed, core_errors.ConnectionClosed):
            return
        if state.confirming:  # blocking confirm mode (a store without asynchronous commits)
            state.confirm_seq += 1
            self._drain(state)
            if outcome == PublishOutcome.NACKED:
                self._method(state.number, make(spec.Basic.Nack, delivery_tag=state.confirm_seq, requeue=False))
            else:
                self._method(state.number, make(spec.Basic.Ack, delivery_tag=state.confirm_seq))
            return
        self._drain(state)

    # -- waiting off the loop ------------------------------------------------------------------
    def _hold(self) -> Callable[[], None]:
        """Hold the connection's later frames back until the returned ``release()`` is called (on the
        loop): replies never overtake a reply that waits for the disk."""
        self._held = deque()

        def release() -> None:
            held, self._held = self._held, None
            if held:
                self._replay(held)

        return release

    def _hold_until(self, work: Callable[[], Any], done: Callable[[Any, BaseException | None], None]) -> None:
        """Run blocking ``work`` in a worker thread; the connection's later frames wait for ``done``."""
        release = self._hold()

        async def run() -> None:
            result: Any = None
            failure: BaseException | None = None
            try:
                result = await self.loop.run_in_executor(None, work)
            except BaseException as error:  # noqa: BLE001 - handed to done()
                failure = error
            done(result, failure)
            release()

        self.loop.create_task(run())

    def _hold_until_durable(self, ticket: int, done: Callable[[Any, BaseException | None], None]) -> None:
        """Wait for the store's commit covering ``ticket`` without a thread (the store's callback
        reaches the loop with ``call_soon_threadsafe``); the connection's later frames wait for ``done``."""
        release = self._hold()

        def finish(error: BaseException | None) -> None:
            done(None, error)
            release()

        def durable(error: BaseException | None) -> None:  # any thread: the store's committer
            try:
                self.loop.call_soon_threadsafe(finish, error)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass

        self.broker.store.when_durable(ticket, durable)  # type: ignore[union-attr]

    def _replay(self, held: deque) -> None:
        """Handle frames that waited, in order, until one of them makes the connection wait again."""
        while held:
            if self._held is not None:  # a later frame holds again: keep the rest behind it
                self._held.extend(held)
                return
            channel, frame = held.popleft()
            if self.state == "closed":
                return
            self._handle(channel, frame)


def _ids(frame: Any) -> tuple[int, int]:
    """The class and method ids of a method frame (0, 0 for anything else)."""
    index = getattr(frame, "index", 0) or 0
    return index >> 16, index & 0xFFFF


# -- the method table ------------------------------------------------------------------------------
def _channel_close(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.close()
    endpoint._drain(state)
    del endpoint.channels[state.number]
    endpoint._method(state.number, make(spec.Channel.CloseOk))
    state.closing = True  # nothing more is drained for it


def _channel_flow(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    active = state.core.flow(frame.active)
    endpoint._method(state.number, make(spec.Channel.FlowOk, active=active))


def _exchange_declare(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.exchange_declare(frame.exchange, frame.exchange_type, frame.passive, frame.durable,
                                frame.auto_delete, frame.internal, frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Exchange.DeclareOk))


def _exchange_delete(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.exchange_delete(frame.exchange, frame.if_unused)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Exchange.DeleteOk))


def _exchange_bind(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.exchange_bind(frame.destination, frame.source, frame.routing_key, frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Exchange.BindOk))


def _exchange_unbind(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.exchange_unbind(frame.destination, frame.source, frame.routing_key, frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Exchange.UnbindOk))


def _queue_declare(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    ok = state.core.queue_declare(frame.queue, frame.passive, frame.durable, frame.exclusive, frame.auto_delete,
                                  frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Queue.DeclareOk, queue=ok.queue, message_count=ok.message_count,
                                                            consumer_count=ok.consumer_count))


def _queue_bind(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    routing_key = frame.routing_key
    if routing_key == "" and frame.queue == "":
        routing_key = None  # AMQP: an empty key with the channel's last queue binds with that queue's name
    state.core.queue_bind(frame.queue, frame.exchange, routing_key, frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Queue.BindOk))


def _queue_unbind(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    routing_key = frame.routing_key
    if routing_key == "" and frame.queue == "":
        routing_key = None
    state.core.queue_unbind(frame.queue, frame.exchange, routing_key, frame.arguments or None)
    endpoint._method(state.number, make(spec.Queue.UnbindOk))


def _queue_purge(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    count = state.core.queue_purge(frame.queue)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Queue.PurgeOk, message_count=count))


def _queue_delete(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    count = state.core.queue_delete(frame.queue, frame.if_unused, frame.if_empty)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Queue.DeleteOk, message_count=count))


def _basic_qos(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_qos(frame.prefetch_size, frame.prefetch_count, frame.global_)
    endpoint._method(state.number, make(spec.Basic.QosOk))


def _basic_consume(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    tag = state.core.basic_consume(frame.queue, None, frame.no_ack, frame.exclusive, frame.consumer_tag,
                                   frame.arguments or None)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Basic.ConsumeOk, consumer_tag=tag))


def _basic_cancel(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_cancel(frame.consumer_tag)
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Basic.CancelOk, consumer_tag=frame.consumer_tag))


def _basic_publish(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    if frame.immediate:
        raise core_errors.NotImplementedByServer("immediate=true")
    state.publish = frame
    state.properties = None
    state.body = []


def _basic_get(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    delivery = state.core.basic_get(frame.queue, frame.no_ack)
    if delivery is None:
        endpoint._method(state.number, make(spec.Basic.GetEmpty))
        return
    method = make(spec.Basic.GetOk, delivery_tag=delivery.delivery_tag, redelivered=delivery.redelivered,
                              exchange=delivery.exchange, routing_key=delivery.routing_key,
                              message_count=delivery.message_count)
    message = delivery.message
    endpoint._send(content_frames(state.number, method, encode_properties(message.properties), message.body,
                                  endpoint.frame_max))


def _basic_ack(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_ack(frame.delivery_tag, frame.multiple)


def _basic_nack(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_nack(frame.delivery_tag, frame.multiple, frame.requeue)


def _basic_reject(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_reject(frame.delivery_tag, frame.requeue)


def _basic_recover(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.basic_recover(frame.requeue)
    if isinstance(frame, spec.Basic.Recover):
        endpoint._method(state.number, make(spec.Basic.RecoverOk))


def _confirm_select(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    core = state.core
    store = endpoint.broker.store
    if store is None or (hasattr(store, "commit_ticket") and hasattr(store, "when_durable")):
        core.confirm_select(wait=False)  # confirms come as events, written by _drain
    else:
        core.confirm_select(wait=True)  # a store without asynchronous commits: confirm after each publish
        state.confirming = True
    if not frame.nowait:
        endpoint._method(state.number, make(spec.Confirm.SelectOk))


def _tx_select(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.tx_select()
    endpoint._method(state.number, make(spec.Tx.SelectOk))


def _tx_commit(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    if endpoint.broker.store is None:
        state.core.tx_commit()
        endpoint._drain(state)
        endpoint._method(state.number, make(spec.Tx.CommitOk))
        return

    def done(_result: Any, error: BaseException | None) -> None:
        if isinstance(error, core_errors.AMQPError):
            endpoint._refused(state, error, frame)
        elif isinstance(error, (core_errors.ChannelClosed, core_errors.ConnectionClosed)):
            return
        elif error is not None:
            log.error("minimq.aio_pika: tx.commit failed", exc_info=error)
            endpoint._close_connection(541, f"INTERNAL_ERROR - {type(error).__name__}: {error}", *_ids(frame))
        elif endpoint.state == "running" and not state.closing:
            endpoint._drain(state)
            endpoint._method(state.number, make(spec.Tx.CommitOk))

    store = endpoint.broker.store
    if hasattr(store, "commit_ticket") and hasattr(store, "when_durable"):
        try:
            ticket = state.core.tx_commit(wait=False)  # applied now; durable when the ticket's commit is
        except BaseException as error:  # noqa: BLE001 - the same outcomes as the blocking path
            done(None, error)
            return
        if ticket is None:
            done(None, None)
        else:
            endpoint._hold_until_durable(ticket, done)
        return
    endpoint._hold_until(state.core.tx_commit, done)  # a store that can only flush(): wait in a thread


def _tx_rollback(endpoint: Endpoint, state: _ChannelState, frame: Any) -> None:
    state.core.tx_rollback()
    endpoint._method(state.number, make(spec.Tx.RollbackOk))


_HANDLERS: dict[type, Callable[[Endpoint, _ChannelState, Any], None]] = {
    spec.Channel.Close: _channel_close,
    spec.Channel.Flow: _channel_flow,
    spec.Exchange.Declare: _exchange_declare,
    spec.Exchange.Delete: _exchange_delete,
    spec.Exchange.Bind: _exchange_bind,
    spec.Exchange.Unbind: _exchange_unbind,
    spec.Queue.Declare: _queue_declare,
    spec.Queue.Bind: _queue_bind,
    spec.Queue.Unbind: _queue_unbind,
    spec.Queue.Purge: _queue_purge,
    spec.Queue.Delete: _queue_delete,
    spec.Basic.Qos: _basic_qos,
    spec.Basic.Consume: _basic_consume,
    spec.Basic.Cancel: _basic_cancel,
    spec.Basic.Publish: _basic_publish,
    spec.Basic.Get: _basic_get,
    spec.Basic.Ack: _basic_ack,
    spec.Basic.Nack: _basic_nack,
    spec.Basic.Reject: _basic_reject,
    spec.Basic.Recover: _basic_recover,
    spec.Basic.RecoverAsync: _basic_recover,
    spec.Confirm.Select: _confirm_select,
    spec.Tx.Select: _tx_select,
    spec.Tx.Commit: _tx_commit,
    spec.Tx.Rollback: _tx_rollback,
}
