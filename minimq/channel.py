"""Connections and channels: the per-channel AMQP state and every client operation.

Every operation is synchronous and non-blocking: it takes the broker lock, validates, mutates, and
returns the answer AMQP would return.  A refusal raises an :class:`~minimq.errors.AMQPError` after
closing what RabbitMQ would close (the channel for soft errors, the connection for hard ones).

Push delivery.  Deliveries, returned messages and server cancels are *events* appended to the
channel under the lock.  After the lock is released the broker wakes each channel that got events:

* a consumer with a ``callback`` on an *inline* channel (the default) has it called right away, on the
  thread whose operation produced the delivery, outside the lock (a channel is drained by one thread
  at a time, so callbacks on one channel never run concurrently and always in order);
* otherwise the event waits in the channel's inbox for :meth:`Channel.get_event` (blocking, with a
  timeout) or :meth:`Channel.pop_event` (non-blocking); an optional ``on_events`` hook tells an event
  loop to look (asyncio facades set it to ``loop.call_soon_threadsafe``).

That one mechanism carries the blocking pika facade, asyncio and plain callbacks.

Cost model (HOT): ``basic_publish`` is one lock round trip, one dict lookup for the exchange, the
exchange's precomputed route, and one :meth:`Queue.publish` per target queue.
"""

from __future__ import annotations

import logging
import threading
import time as _time
from collections import deque
from enum import IntEnum
from typing import TYPE_CHECKING, Any, Callable

from .errors import (AccessRefused, AMQPError, ChannelClosed, ChannelErrorHard, ConnectionClosed,
                     NotAllowed, NotFound, NotImplementedByServer, PreconditionFailed, ResourceLocked)
from .fieldtypes import explain_with_term, is_integer, type_name
from .message import BccMessage, ConsumerCancelled, Delivery, Message, Properties, Returned
from .queue import Consumer, Queue
from .vhost import REPLY_TO, random_name

if TYPE_CHECKING:  # pragma: no cover
    from .broker import Broker
    from .vhost import VirtualHost

__all__ = ["Connection", "Channel", "PublishOutcome", "QueueDeclareOk"]

log = logging.getLogger("minimq")

CHANNEL_MAX = 2047
MAX_BODY = 134_217_728
_REPLY_PREFIX = REPLY_TO + "."


class PublishOutcome(IntEnum):
    """What became of a publish; in confirm mode NACKED is a ``basic.nack``, the others a ``basic.ack``."""

    NACKED = 0
    ROUTED = 1
    UNROUTABLE = 2


_ROUTED = PublishOutcome.ROUTED
_UNROUTABLE = PublishOutcome.UNROUTABLE
_NACKED = PublishOutcome.NACKED


class QueueDeclareOk(tuple):
    """``(queue, message_count, consumer_count)`` with names, as ``queue.declare-ok`` carries them."""

    __slots__ = ()

    def __new__(cls, queue: str, message_count: int, consumer_count: int) -> QueueDeclareOk:
        return tuple.__new__(cls, (queue, message_count, consumer_count))

    queue = property(lambda self: self[0])
    message_count = property(lambda self: self[1])
    consumer_count = property(lambda self: self[2])

    def __repr__(self) -> str:
        return f"QueueDeclareOk(queue={self[0]!r}, message_count={self[1]}, consumer_count={self[2]})"


def _check_name(value: Any, what: str) -> str:
    if type(value) is not str:
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if len(value) > 63 and len(value.encode()) > 255:
        raise ValueError(f"{what} must be at most 255 bytes of UTF-8, got {len(value.encode())}")
    return value


def _coerce_body(body: Any) -> bytes:
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"body must be bytes, not {type(body).__name__} (encode text first)")


def _parse_expiration(value: Any) -> int:
    text = value if isinstance(value, str) else str(value)
    i = 0
    if text[:1] in ("+", "-"):
        i = 1
    j = i
    while j < len(text) and text[j].isdigit() and text[j].isascii():
        j += 1
    prefix = f"invalid expiration '{text}': "
    if j == i:
        raise PreconditionFailed(prefix + "no_integer")
    if j < len(text):
        raise PreconditionFailed(explain_with_term(prefix, "leftover_string", f'"{text[j:]}"'))
    number = int(text[:j])
    if number < 0:
        raise PreconditionFailed(explain_with_term(prefix, "value_negative", str(number)))
    if number > 315_360_000_000:
        raise PreconditionFailed(explain_with_term(prefix, "value_too_large", str(number)))
    return number


class Connection:
    """One client connection to one vhost: owns channels and exclusive queues."""

    def __init__(self, broker: Broker, vhost: VirtualHost, user: str = "guest") -> None:
        self._broker = broker
        self.vhost = vhost
        self.user = user
        self.channels: dict[int, Channel] = {}
        self._exclusive_queues: list[Queue] = []
        self.close_cause: AMQPError | None = None
        self.is_open = True

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    def channel(self, channel_number: int | None = None, *, inline: bool = True) -> Channel:
        """Open a channel (lowest free number unless given).  ``inline=False``: events wait to be pulled."""
        broker = self._broker
        with broker._lock:
            if not self.is_open:
                raise ConnectionClosed("connection is closed", self.close_cause)
            if channel_number is None:
                channel_number = 1
                while channel_number in self.channels:
                    channel_number += 1
            elif type(channel_number) is not int or not 1 <= channel_number <= 65535:
                raise ValueError(f"channel_number must be an int in 1..65535, got {channel_number!r}")
            if channel_number in self.channels:
                # a second channel.open on an open number: RabbitMQ closes the connection
                error = ChannelErrorHard("second 'channel.open' seen")
                self._close_locked(error)
                raise error
            if len(self.channels) >= CHANNEL_MAX:  # channel_max bounds how many are open, not the numbers
                error = NotAllowed(f"number of channels opened ({len(self.channels)}) has reached the "
                                   f"negotiated channel_max ({CHANNEL_MAX})")
                self._close_locked(error)
                raise error
            channel = Channel(self, channel_number, inline)
            self.channels[channel_number] = channel
            return channel

    def close(self) -> None:
        """Close every channel (unacked messages requeued) and delete this connection's exclusive queues.

        Closing twice is harmless.
        """
        broker = self._broker
        broker._lock.acquire()
        try:
            if self.is_open:
                self._close_locked(None)
        finally:
            broker._release()

    def close_with_error(self, error: AMQPError) -> None:
        """Close as the server does after a hard error it detects outside any channel method (e.g. a
        method sent on a channel number that is not open: 504 CHANNEL_ERROR).  Facades use it for
        protocol violations their client library commits.  A closed connection stays as it was."""
        broker = self._broker
        broker._lock.acquire()
        try:
            self._close_locked(error)
        finally:
            broker._release()

    def _close_locked(self, cause: AMQPError | None) -> None:
        if not self.is_open:
            return
        self.is_open = False
        self.close_cause = cause
        for channel in list(self.channels.values()):
            channel._close_locked(cause)
        for queue in list(self._exclusive_queues):
            queue.vhost.delete_queue_now(queue)
        self._exclusive_queues.clear()
        self._broker._connections.discard(self)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"Connection(vhost={self.vhost.name!r}, channels={len(self.channels)}, {state})"


class Channel:
    """An AMQP channel: delivery tags, unacked messages, consumers, prefetch, confirm or tx mode.

    Method names and defaults follow pika's ``BlockingChannel`` so the AMQP model stays recognisable.
    """

    def __init__(self, connection: Connection, number: int, inline: bool = True) -> None:
        broker = connection._broker
        self.connection = connection
        self.number = number
        self._broker = broker
        self._vhost = connection.vhost
        self._inline = inline
        self._next_tag = 1
        #: delivery tag -> Delivery awaiting ack (consumer deliveries and gets), ascending
        self._unacked: dict[int, Delivery] = {}
        self.consumers: dict[str, Consumer] = {}
        self._prefetch = 0
        self._global_prefetch = 0
        self._global_unacked = 0
        self._confirm = False
        self.publish_seq = 0
        self._tx: list[tuple] | None = None
        self._last_queue: str | None = None
        self._reply_token: str | None = None
        self._reply_tag: str | None = None
        self.close_cause: AMQPError | None = None
        self.is_open = True
        #: events for callbacks (inline channels) and events to be pulled
        self._events: deque = deque()
        self._inbox: deque = deque()
        self._wake_pending = False
        self.on_events: Callable[[], None] | None = None
        self._return_callbacks: list[Callable[[Returned], None]] = []
        self._cancel_callbacks: list[Callable[[ConsumerCancelled], None]] = []
        self._dispatch_lock = threading.Lock()  # held by the one thread running this channel's callbacks
        self._waiters = 0
        self._cond = threading.Condition(threading.Lock())  # get_event waiters; notified by _wake

    # -- state ----------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        return not self.is_open

    @property
    def channel_number(self) -> int:
        return self.number

    @property
    def unacked_count(self) -> int:
        return len(self._unacked)

    @property
    def mode(self) -> str:
        return "tx" if self._tx is not None else "confirm" if self._confirm else "normal"

    def _closed_error(self) -> ChannelClosed:
        cause = self.close_cause if self.close_cause is not None else self.connection.close_cause
        return ChannelClosed(f"channel {self.number} is closed", cause)

    def _enter(self) -> None:
        """Take the broker lock for an operation on this channel (raises if the channel is closed)."""
        self._broker._lock.acquire()
        if not self.is_open:
            self._broker._lock.release()
            raise self._closed_error()

    def _fail(self, error: AMQPError) -> None:
        """Close what RabbitMQ closes for this error (lock held)."""
        if error.closes_connection:
            self.connection._close_locked(error)
        else:
            self._close_locked(error)

    def _queue_name(self, queue: str) -> str:
        if queue == "":
            if self._last_queue is None:
                raise NotFound("no previously declared queue")
            return self._last_queue
        return queue

    # -- exchanges ------------------------------------------------------------------------------
    def exchange_declare(self, exchange: str, exchange_type: str = "direct", passive: bool = False,
                         durable: bool = False, auto_delete: bool = False, internal: bool = False,
                         arguments: dict | None = None) -> None:
        _check_name(exchange, "exchange")
        _check_name(exchange_type, "exchange_type")
        self._enter()
        try:
            self._vhost.exchange_declare(exchange, exchange_type, passive, durable, auto_delete, internal,
                                         arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def exchange_delete(self, exchange: str, if_unused: bool = False) -> None:
        _check_name(exchange, "exchange")
        self._enter()
        try:
            self._vhost.exchange_delete(exchange, if_unused)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: dict | None = None) -> None:
        _check_name(destination, "destination")
        _check_name(source, "source")
        _check_name(routing_key, "routing_key")
        self._enter()
        try:
            self._vhost.exchange_bind(destination, source, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def exchange_unbind(self, destination: str, source: str, routing_key: str = "",
                        arguments: dict | None = None) -> None:
        _check_name(destination, "destination")
        _check_name(source, "source")
        _check_name(routing_key, "routing_key")
        self._enter()
        try:
            self._vhost.exchange_unbind(destination, source, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    # -- queues ---------------------------------------------------------------------------------
    def queue_declare(self, queue: str = "", passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: dict | None = None) -> QueueDeclareOk:
        """Declare (or check, with ``passive``) a queue; ``''`` asks the server for a name."""
        _check_name(queue, "queue")
        self._enter()
        try:
            if queue.startswith(REPLY_TO):
                result = self._declare_reply_to(queue)
            else:
                q = self._vhost.queue_declare(self.connection, queue, passive, durable, exclusive, auto_delete,
                                              arguments)
                result = QueueDeclareOk(q.name, q.message_count, q.consumer_count)
            self._last_queue = result[0]
            return result
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def _declare_reply_to(self, name: str) -> QueueDeclareOk:
        if name == REPLY_TO or (name.startswith(_REPLY_PREFIX) and name[len(_REPLY_PREFIX):] in
                                self._vhost.reply_channels):
            return QueueDeclareOk(name, 0, 1)
        raise NotFound(f"no queue '{name}' in vhost '{self._vhost.name}'")

    def queue_bind(self, queue: str, exchange: str, routing_key: str | None = None,
                   arguments: dict | None = None) -> None:
        """Bind ``queue`` to ``exchange``; ``routing_key=None`` means the queue's name (as pika does)."""
        _check_name(queue, "queue")
        _check_name(exchange, "exchange")
        self._enter()
        try:
            name = self._queue_name(queue)
            if routing_key is None or (routing_key == "" and queue == ""):
                routing_key = name
            _check_name(routing_key, "routing_key")
            self._vhost.queue_bind(self.connection, name, exchange, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def queue_unbind(self, queue: str, exchange: str | None = None, routing_key: str | None = None,
                     arguments: dict | None = None) -> None:
        _check_name(queue, "queue")
        exchange = "" if exchange is None else exchange
        _check_name(exchange, "exchange")
        self._enter()
        try:
            name = self._queue_name(queue)
            if routing_key is None or (routing_key == "" and queue == ""):
                routing_key = name
            _check_name(routing_key, "routing_key")
            self._vhost.queue_unbind(self.connection, name, exchange, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def queue_purge(self, queue: str = "") -> int:
        """Drop the ready messages; returns how many."""
        _check_name(queue, "queue")
        self._enter()
        try:
            return self._vhost.queue_purge(self.connection, self._queue_name(queue))
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def queue_delete(self, queue: str = "", if_unused: bool = False, if_empty: bool = False) -> int:
        """Delete a queue; returns the number of ready messages it held (0 if it did not exist)."""
        _check_name(queue, "queue")
        self._enter()
        try:
            return self._vhost.queue_delete(self.connection, self._queue_name(queue), if_unused, if_empty)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    # -- publishing -----------------------------------------------------------------------------
    def basic_publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: Properties | None = None, mandatory: bool = False) -> PublishOutcome:
        """Route and enqueue a message before returning.

        Returns ROUTED, UNROUTABLE (dropped, or returned to this channel's return callbacks / inbox
        when ``mandatory``) or NACKED (a queue refused it: ``x-overflow`` reject-publish).
        """
        if type(body) is not bytes:
            body = _coerce_body(body)
        if type(exchange) is not str or len(exchange) > 63:
            _check_name(exchange, "exchange")
        if type(routing_key) is not str or len(routing_key) > 63:
            _check_name(routing_key, "routing_key")
        broker = self._broker
        sync = None
        broker._lock.acquire()
        try:
            if not self.is_open:
                raise self._closed_error()
            vhost = self._vhost
            target = vhost.exchanges.get(exchange)
            if target is None or target.internal:
                self._fail_publish(exchange)
            headers = extra = ttl = bcc = None
            if properties is not None:
                properties, headers, extra, ttl, bcc = self._check_properties(properties, len(body))
            elif len(body) > MAX_BODY:
                self._check_properties(Properties(), len(body))
            if bcc is None:
                message = Message(body, properties, exchange, routing_key, ttl)
            else:
                message = BccMessage(body, properties, exchange, routing_key, ttl, bcc)
            if exchange == "" and routing_key.startswith(_REPLY_PREFIX):
                self._deliver_reply(message, routing_key)
                queues: Any = ()
            else:
                if extra is None and not target.exchange_destinations:
                    # VirtualHost.route's first case, inlined: one exchange, its precomputed result
                    queues = target.route(routing_key, headers)
                    if not queues and target.alternate_exchange is not None:
                        queues = vhost.route(target, message, routing_key, headers, extra)
                else:
                    queues = vhost.route(target, message, routing_key, headers, extra)
            if self._tx is not None:
                self._tx.append(("publish", message, tuple(queues), mandatory))
                return _ROUTED if queues else _UNROUTABLE
            if self._confirm:
                self.publish_seq += 1
            if queues:
                outcome = _ROUTED
                for queue in queues:
                    if not queue.publish(message):
                        outcome = _NACKED
                if self._confirm and broker._store is not None and properties is not None \
                        and properties.delivery_mode == 2:
                    sync = broker._store  # the confirm waits for the commit covering it (outside the lock)
                if broker._tracer is not None:
                    broker._tracer("publish", self, message, queues, outcome)
                return outcome
            self._unroutable(message, mandatory)
            return _UNROUTABLE
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            broker._release()
            if sync is not None:
                sync.flush()

    def _fail_publish(self, exchange: str) -> None:
        if exchange in self._vhost.exchanges:
            raise AccessRefused(f"cannot publish to internal exchange '{exchange}' in vhost '{self._vhost.name}'")
        raise NotFound(f"no exchange '{exchange}' in vhost '{self._vhost.name}'")

    def _unroutable(self, message: Message, mandatory: bool) -> None:
        if mandatory:
            self._push(Returned(message, message.exchange, message.routing_key), bool(self._return_callbacks))
        else:
            self._vhost.unroutable_dropped += 1
        tracer = self._broker._tracer
        if tracer is not None:
            tracer("unroutable", self, message, (), mandatory)

    def _check_properties(self, properties: Any, size: int) -> tuple:
        """Validate what the server checks; returns (properties, headers, extra keys, ttl)."""
        if type(properties) is not Properties:
            properties = Properties.from_object(properties)
        if size > MAX_BODY:
            raise PreconditionFailed(f"message size {size} is larger than configured max size {MAX_BODY}")
        mode = properties.delivery_mode
        if mode is not None and mode not in (1, 2):
            raise PreconditionFailed(f"invalid message: {{delivery_mode_unknown,{mode}}}")
        user_id = properties.user_id
        if user_id is not None and user_id != self.connection.user:
            raise PreconditionFailed(f"user_id property set to '{user_id}' but authenticated user was "
                                     f"'{self.connection.user}'")
        ttl = None
        if properties.expiration is not None:
            ttl = _parse_expiration(properties.expiration)
        headers = properties.headers
        extra = bcc = None
        if headers:
            if "CC" in headers or "BCC" in headers:
                extra = []
                for key in ("CC", "BCC"):
                    if key in headers:
                        value = headers[key]
                        if not isinstance(value, list):
                            raise PreconditionFailed(
                                f'invalid message: {{unacceptable_type_in_header,"{key}",{type_name(value)}}}')
                        extra.extend(k for k in value if isinstance(k, str))
                if "BCC" in headers:
                    bcc = [k for k in headers["BCC"] if isinstance(k, str)]
                    headers = {k: v for k, v in headers.items() if k != "BCC"}
                    properties = properties.copy(headers=headers)
        if properties.reply_to == REPLY_TO:
            if self._reply_token is None:
                raise PreconditionFailed("fast reply consumer does not exist")
            properties = properties.with_reply_to(_REPLY_PREFIX + self._reply_token)
        return properties, headers, extra, ttl, bcc

    def _deliver_reply(self, message: Message, routing_key: str) -> None:
        channel = self._vhost.reply_channels.get(routing_key[len(_REPLY_PREFIX):])
        if channel is None or not channel.is_open or channel._reply_tag is None:
            return
        delivery = Delivery(channel._reply_tag, channel._next_tag, False, message, channel=channel)
        channel._push(delivery, channel._reply_callback is not None)

    # -- consuming ------------------------------------------------------------------------------
    def basic_consume(self, queue: str = "", callback: Callable[[Delivery], Any] | None = None,
                      auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                      arguments: dict | None = None) -> str:
        """Subscribe to a queue; returns the consumer tag (``amq.ctag-…`` when none is given).

        With a ``callback`` on an inline channel, ``callback(delivery)`` runs for each delivery;
        otherwise deliveries wait for :meth:`get_event`.
        """
        _check_name(queue, "queue")
        _check_name(consumer_tag, "consumer_tag")
        self._enter()
        try:
            name = self._queue_name(queue)
            tag = consumer_tag or random_name("amq.ctag-")
            if tag in self.consumers or tag == self._reply_tag:
                raise NotAllowed(f"attempt to reuse consumer tag '{tag}'")
            if name == REPLY_TO:
                return self._consume_reply_to(tag, auto_ack, callback)
            q = self._vhost.queue_for(self.connection, name)
            arguments = dict(arguments) if arguments else {}
            priority = arguments.get("x-priority", 0)
            if not is_integer(priority):
                raise PreconditionFailed(f"invalid arg 'x-priority' for queue '{name}' in vhost "
                                         f"'{self._vhost.name}': \"expected integer, got {type_name(priority)}\"")
            for arg in arguments:  # consumer arguments of the other queue types
                if arg == "x-stream-offset" or (arg == "x-cancel-on-ha-failover" and q.quorum):
                    kind = "rabbit_quorum_queue" if q.quorum else "rabbit_classic_queue"
                    raise PreconditionFailed(f"invalid arg '{arg}' for queue '{name}' in vhost "
                                             f"'{self._vhost.name}' of queue type {kind}")
            if q.quorum:
                exclusive = False  # RabbitMQ 3.10's quorum queues ignore the flag
            if q.exclusive_consumer is not None or (exclusive and (q.consumer_count or q.single_active)):
                raise AccessRefused(f"queue '{name}' in vhost '{self._vhost.name}' in exclusive use")
            if q.quorum and self._global_prefetch:
                raise NotImplementedByServer(f"queue '{name}' in vhost '{self._vhost.name}' does not "
                                             "support global qos")
            consumer = Consumer(tag, self, q, auto_ack, exclusive, priority, self._prefetch, callback, arguments)
            self.consumers[tag] = consumer
            q.add_consumer(consumer)
            return tag
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    _reply_callback: Callable | None = None

    def _consume_reply_to(self, tag: str, auto_ack: bool, callback: Callable | None) -> str:
        if not auto_ack:
            raise PreconditionFailed("reply consumer cannot acknowledge")
        if self._reply_token is not None:
            raise PreconditionFailed("reply consumer already set")
        token = random_name("")
        self._reply_token = token
        self._reply_tag = tag
        self._reply_callback = callback
        self._vhost.reply_channels[token] = self
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; its unacked messages stay unacked.  Unknown tags are ignored (as RabbitMQ does)."""
        _check_name(consumer_tag, "consumer_tag")
        self._enter()
        try:
            if consumer_tag == self._reply_tag and consumer_tag is not None:
                self._drop_reply_consumer()
                return
            consumer = self.consumers.pop(consumer_tag, None)
            if consumer is not None:
                consumer.queue.remove_consumer(consumer)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def _drop_reply_consumer(self) -> None:
        if self._reply_token is not None:
            self._vhost.reply_channels.pop(self._reply_token, None)
        self._reply_token = self._reply_tag = None
        self._reply_callback = None

    def basic_get(self, queue: str = "", auto_ack: bool = False) -> Delivery | None:
        """Fetch the head message (``message_count`` = ready messages left), or None if empty."""
        if type(queue) is not str or len(queue) > 63:
            _check_name(queue, "queue")
        self._enter()
        try:
            name = queue or self._queue_name(queue)
            if name.startswith(REPLY_TO):
                raise NotFound(f"no queue '{name}' in vhost '{self._vhost.name}'")
            q = self._vhost.queue_for(self.connection, name)
            if q.quorum and q.single_active:
                raise ResourceLocked(
                    f"cannot obtain access to locked queue '{name}' in vhost '{self._vhost.name}'. basic.get "
                    "operations are not supported by quorum queues with single active consumer")
            entry, left = q.get()
            if entry is None:
                return None
            tag = self._next_tag
            self._next_tag = tag + 1
            message = entry.message if not q.quorum else self._message_for(q, entry, fetched=True)
            delivery = Delivery(None, tag, entry.redelivered, message, q, entry, None, self)
            delivery.message_count = left
            if auto_ack:
                q._forget(entry)
            else:
                self._unacked[tag] = delivery
                q.unacked_count += 1
            return delivery
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    @staticmethod
    def _message_for(queue: Queue, entry: Any, fetched: bool = False) -> Message:
        """The message as a quorum queue hands it out: with ``x-delivery-count`` once it was returned,
        and always for ``basic.get`` (RabbitMQ 3.10 adds it, 0 included, on every fetch)."""
        message = entry.message
        if queue.quorum and (entry.delivery_count or fetched):
            props = message.properties or Properties()
            headers = dict(props.headers or {})
            headers["x-delivery-count"] = entry.delivery_count
            message = Message(message.body, props.copy(headers=headers), message.exchange,
                              message.routing_key, message.ttl)
        return message

    def _deliver(self, consumer: Consumer, queue: Queue, entry: Any) -> None:
        """A queue hands a message to one of this channel's consumers (lock held)."""
        tag = self._next_tag
        self._next_tag = tag + 1
        message = entry.message if not queue.quorum else self._message_for(queue, entry)
        delivery = Delivery(consumer.tag, tag, entry.redelivered, message, queue, entry, consumer, self)
        if consumer.no_ack:
            queue._forget(entry)
        else:
            self._unacked[tag] = delivery
            consumer.unacked += 1
            self._global_unacked += 1
            queue.unacked_count += 1
        if self._inline and consumer.callback is not None:
            self._events.append(delivery)
        else:
            self._inbox.append(delivery)
        if not self._wake_pending:
            self._wake_pending = True
            self._broker._wakes.append(self)

    def _server_cancel(self, consumer: Consumer) -> None:
        if self.consumers.get(consumer.tag) is consumer:
            del self.consumers[consumer.tag]
            self._push(ConsumerCancelled(consumer.tag), bool(self._cancel_callbacks))

    def _push(self, event: Any, has_callback: bool) -> None:
        (self._events if self._inline and has_callback else self._inbox).append(event)
        if not self._wake_pending:
            self._wake_pending = True
            self._broker._wakes.append(self)

    # -- acknowledgements -----------------------------------------------------------------------
    def _take(self, delivery_tag: int, multiple: bool) -> list[Delivery]:
        unacked = self._unacked
        if multiple:
            if delivery_tag == 0:
                tags = list(unacked)
            else:
                if delivery_tag not in unacked:
                    raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
                tags = []
                for tag in unacked:
                    if tag > delivery_tag:
                        break
                    tags.append(tag)
        else:
            if delivery_tag not in unacked:
                raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
            tags = [delivery_tag]
        return [unacked.pop(tag) for tag in tags]

    def basic_ack(self, delivery_tag: int = 0, multiple: bool = False) -> None:
        if multiple or type(delivery_tag) is not int:
            self._settle("ack", delivery_tag, multiple, False)
            return
        # the common case, one tag, spelled out: it is half of every get + ack
        broker = self._broker
        broker._lock.acquire()
        try:
            if not self.is_open:
                raise self._closed_error()
            delivery = self._unacked.pop(delivery_tag, None)
            if delivery is None:
                raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
            if self._tx is not None:
                self._tx.append(("ack", [delivery], False))
                return
            delivery.queue.settle_ack(delivery.entry)
            if delivery.consumer is not None:
                self._release_capacity((delivery,))
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            broker._release()

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        self._settle("nack", delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        self._settle("reject", delivery_tag, False, requeue)

    def _settle(self, kind: str, delivery_tag: int, multiple: bool, requeue: bool) -> None:
        if type(delivery_tag) is not int and not is_integer(delivery_tag):
            raise TypeError(f"delivery_tag must be int, not {type(delivery_tag).__name__}")
        self._enter()
        try:
            unacked = self._unacked
            if not multiple and delivery_tag in unacked:  # the common case, without _take's general loop
                deliveries = [unacked.pop(delivery_tag)]
            else:
                deliveries = self._take(delivery_tag, multiple)
            if self._tx is not None:
                self._tx.append((kind, deliveries, requeue))
                return
            self._apply_settlement(kind, deliveries, requeue)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def _apply_settlement(self, kind: str, deliveries: list[Delivery], requeue: bool) -> None:
        if kind == "ack":
            for delivery in deliveries:
                delivery.queue.settle_ack(delivery.entry)
        elif requeue:
            touched: dict[Queue, None] = {}
            for delivery in deliveries:
                delivery.queue.requeue(delivery.entry)
                touched[delivery.queue] = None
            for queue in touched:
                queue.after_requeue()
        else:
            for delivery in deliveries:
                delivery.queue.settle_reject(delivery.entry)
        self._release_capacity(deliveries)

    def _release_capacity(self, deliveries: list[Delivery]) -> None:
        """Settled consumer deliveries free prefetch capacity: blocked consumers rejoin their rotation."""
        if len(deliveries) == 1 and not self._global_prefetch:  # one ack: the general loop, unrolled
            consumer = deliveries[0].consumer
            if consumer is not None:
                consumer.unacked -= 1
                self._global_unacked -= 1
                if consumer.blocked and not consumer.cancelled:
                    consumer.queue.unblock(consumer)
            return
        freed: dict[Consumer, None] = {}
        for delivery in deliveries:
            consumer = delivery.consumer
            if consumer is not None:
                consumer.unacked -= 1
                self._global_unacked -= 1
                freed[consumer] = None
        if not freed:
            return
        if self._global_prefetch:
            candidates = list(self.consumers.values())
        else:
            candidates = [c for c in freed if c.blocked]
        for consumer in candidates:
            if consumer.blocked and not consumer.cancelled:
                consumer.queue.unblock(consumer)

    def basic_recover(self, requeue: bool = False) -> None:
        """Requeue every unacked message of the channel (``requeue=False`` is refused: 540, as RabbitMQ)."""
        self._enter()
        try:
            if not requeue:
                raise NotImplementedByServer("requeue=false")
            deliveries = list(self._unacked.values())
            self._unacked.clear()
            self._apply_settlement("nack", deliveries, True)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        """Per-consumer limit for consumers created afterwards, or (``global_qos``) one channel-wide limit."""
        self._enter()
        try:
            if prefetch_size:
                raise NotImplementedByServer(f"prefetch_size!=0 ({prefetch_size})")
            if global_qos:
                self._global_prefetch = prefetch_count
            else:
                self._prefetch = prefetch_count
                self._global_prefetch = 0
            for consumer in list(self.consumers.values()):
                if consumer.blocked:
                    consumer.queue.unblock(consumer)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def flow(self, active: bool) -> bool:
        self._enter()
        try:
            if not active:
                raise NotImplementedByServer("active=false")
            return True
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    # -- confirms and transactions --------------------------------------------------------------
    def confirm_select(self) -> None:
        self._enter()
        try:
            if self._tx is not None:
                raise PreconditionFailed("cannot switch from tx to confirm mode")
            self._confirm = True
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def tx_select(self) -> None:
        self._enter()
        try:
            if self._confirm:
                raise PreconditionFailed("cannot switch from confirm to tx mode")
            if self._tx is None:
                self._tx = []
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def tx_commit(self) -> None:
        """Enqueue the transaction's publishes, then apply its acks, nacks and rejects, in order."""
        self._enter()
        try:
            if self._tx is None:
                raise PreconditionFailed("channel is not transactional")
            pending, self._tx = self._tx, []
            refused = False
            now = self._broker._clock.now_ms()
            for action in pending:
                if action[0] == "publish":
                    _, message, queues, mandatory = action
                    live = [q for q in queues if not q.deleted]
                    if not live:
                        self._unroutable(message, mandatory)
                    for queue in live:
                        if not queue.publish(message, now):
                            refused = True
            for action in pending:
                if action[0] != "publish":
                    self._apply_settlement(action[0], action[1], action[2])
            if refused:
                raise PreconditionFailed("partial tx completion")
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()
        if self._broker._store is not None:
            self._broker._store.flush()  # tx.commit-ok only once the transaction is durable

    def tx_rollback(self) -> None:
        """Discard pending publishes; pending settlements are undone (the messages are unacked again)."""
        self._enter()
        try:
            if self._tx is None:
                raise PreconditionFailed("channel is not transactional")
            pending, self._tx = self._tx, []
            self._restore_settlements(pending)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._broker._release()

    def _restore_settlements(self, pending: list[tuple]) -> None:
        restored = [d for action in pending if action[0] != "publish" for d in action[1]]
        if restored:
            merged = {d.delivery_tag: d for d in restored}
            merged.update(self._unacked)
            self._unacked = dict(sorted(merged.items()))

    # -- events ---------------------------------------------------------------------------------
    def add_on_return_callback(self, callback: Callable[[Returned], Any]) -> None:
        """``callback(returned)`` for mandatory messages that matched no queue (inline channels)."""
        self._return_callbacks.append(callback)

    def add_on_cancel_callback(self, callback: Callable[[ConsumerCancelled], Any]) -> None:
        """``callback(cancelled)`` when the server cancels a consumer (its queue was deleted)."""
        self._cancel_callbacks.append(callback)

    def pop_event(self) -> Any:
        """The next pulled event (Delivery, Returned, ConsumerCancelled) or None; never blocks."""
        try:
            return self._inbox.popleft()
        except IndexError:
            return None

    def get_event(self, timeout: float | None = None) -> Any:
        """The next pulled event, waiting up to ``timeout`` seconds (None: forever); None on timeout.

        Raises :class:`ChannelClosed` if the channel closes while waiting with nothing left to pull.
        """
        deadline = None if timeout is None else _time.monotonic() + timeout
        cond = self._cond
        while True:
            try:
                return self._inbox.popleft()
            except IndexError:
                pass
            if not self.is_open:
                raise self._closed_error()
            with cond:
                # Count ourselves as a waiter *before* looking at the inbox: _wake reads _waiters
                # after appending, so either it sees us and notifies, or we see its event.
                self._waiters += 1
                try:
                    if self._inbox or not self.is_open:
                        continue
                    remaining = None if deadline is None else deadline - _time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    cond.wait(remaining)
                finally:
                    self._waiters -= 1

    def _wake(self) -> None:
        """Called by the broker after the lock is released, for channels that got events."""
        self._wake_pending = False
        if self._events:
            self.dispatch_events()
        if self._inbox or not self.is_open:
            hook = self.on_events
            if hook is not None:
                hook()
            if self._waiters:
                with self._cond:
                    self._cond.notify_all()

    def dispatch_events(self) -> None:
        """Run callbacks for pending events, in order; one thread at a time per channel.

        The dispatch lock is taken without blocking: a thread (or a callback re-entering through a
        publish) that finds it held leaves its events to the thread that holds it, which looks at the
        queue again after letting go, so an event appended in between is never stranded.
        """
        events = self._events
        lock = self._dispatch_lock
        while events and lock.acquire(False):
            try:
                while events:
                    event = events.popleft()
                    try:
                        self._run_callback(event)
                    except Exception:  # a consumer's bug must not stop delivery to the others
                        log.exception("minimq: callback for %r raised", event)
            finally:
                lock.release()

    def _run_callback(self, event: Any) -> None:
        if type(event) is Delivery:
            consumer = event.consumer
            if consumer is not None:
                consumer.callback(event)
            elif self._reply_callback is not None:
                self._reply_callback(event)
        elif type(event) is Returned:
            for callback in self._return_callbacks:
                callback(event)
        else:
            for callback in self._cancel_callbacks:
                callback(event)

    # -- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the channel: consumers cancelled, unacked messages requeued.  Closing twice is harmless."""
        broker = self._broker
        broker._lock.acquire()
        try:
            if self.is_open:
                self._close_locked(None)
        finally:
            broker._release()

    def _close_locked(self, cause: AMQPError | None) -> None:
        if not self.is_open:
            return
        self.is_open = False
        self.close_cause = cause
        if self._tx is not None:
            self._restore_settlements(self._tx)
            self._tx = None
        self._drop_reply_consumer()
        touched: dict[Queue, None] = {}
        for consumer in list(self.consumers.values()):
            consumer.queue.remove_consumer(consumer, dispatch=False)
            touched[consumer.queue] = None
        self.consumers.clear()
        for delivery in self._unacked.values():
            delivery.queue.requeue(delivery.entry, closing=True)
            touched[delivery.queue] = None
            if delivery.consumer is not None:
                delivery.consumer.unacked -= 1
        self._unacked.clear()
        self._global_unacked = 0
        for queue in touched:
            queue.after_requeue()
            queue.after_consumers_changed()
        if self.connection.channels.get(self.number) is self:
            del self.connection.channels[self.number]
        if not self._wake_pending:
            self._wake_pending = True
            self._broker._wakes.append(self)

    def __enter__(self) -> Channel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self) -> None:
        tags = list(self._unacked)
        assert tags == sorted(tags), "unacked tags out of order"
        assert all(t < self._next_tag for t in tags)
        per_consumer: dict[Consumer, int] = {}
        # settlements pending in a transaction still hold their consumer's capacity until commit
        pending = [d for action in (self._tx or ()) if action[0] != "publish" for d in action[1]]
        for delivery in [*self._unacked.values(), *pending]:
            if delivery.consumer is not None:
                per_consumer[delivery.consumer] = per_consumer.get(delivery.consumer, 0) + 1
        for consumer in self.consumers.values():
            assert consumer.unacked == per_consumer.get(consumer, 0), f"{consumer!r} unacked count drifted"
        assert self._global_unacked == sum(per_consumer.values()), "channel-wide unacked count drifted"

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"Channel({self.number}, {self.mode}, unacked={len(self._unacked)}, {state})"

