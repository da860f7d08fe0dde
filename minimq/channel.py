"""Channels: the per-channel AMQP state and every client operation on it.

Every operation is synchronous and non-blocking: it takes the kernel's lock, validates, mutates,
and returns the answer AMQP would return.  A refusal raises an :class:`~minimq.errors.AMQPError`
after closing what RabbitMQ would close (the channel for soft errors, the connection for hard ones).
The lock is always given back through ``Kernel.release``, which wakes the channels that received
events (see :mod:`minimq.inbox` for how events reach callbacks, waiting threads and event loops).

What lives elsewhere: the connection (:mod:`minimq.connection`), the event inbox and its threads
(:mod:`minimq.inbox`, a base class of :class:`Channel`), publish validation
(:mod:`minimq.publish_checks`), direct reply-to (:mod:`minimq.reply_to`), routing
(:mod:`minimq.routing`), the consumer protocol and prefetch credit (:mod:`minimq.consumer`).

Cost model (HOT).  ``basic_publish``: one lock round trip, one dict lookup for the exchange,
``routing.route`` (a stored tuple in the common case), one ``Queue.publish`` per target queue.
A delivery (``_deliver``): one :class:`~minimq.message.Delivery`, one dict insert into the unacked
table, one deque append, and one list append for the first event of a lock hold.  ``basic_ack`` of
one tag: one lock round trip, one dict pop, two counter decrements.
"""

from __future__ import annotations

import threading
import time as _time
from collections import deque
from enum import IntEnum
from typing import Any, Callable

from . import reply_to
from .connection import Connection
from .consumer import Consumer, Credit
from .errors import (AccessRefused, AMQPError, ChannelClosed, ConfirmTimeout, NotAllowed, NotFound, NotImplementedByServer,
                     PreconditionFailed, PublishNacked, ResourceLocked)
from .fieldtypes import is_integer, type_name
from .inbox import EventInbox, check_callback
from .message import BccMessage, Confirm, ConsumerCancelled, Delivery, Message, Properties, Returned
from .names import REPLY_PREFIX, check_name, random_name
from .publish_checks import MAX_BODY, check_properties, coerce_body
from .queue import Queue
from .routing import route

__all__ = ["Channel", "PublishOutcome", "QueueDeclareOk", "MAX_BODY"]


class PublishOutcome(IntEnum):
    """What became of a publish; in confirm mode NACKED is a ``basic.nack``, the others a ``basic.ack``."""

    NACKED = 0
    ROUTED = 1
    UNROUTABLE = 2


_ROUTED = PublishOutcome.ROUTED
_UNROUTABLE = PublishOutcome.UNROUTABLE
_NACKED = PublishOutcome.NACKED


class _Confirms:
    """A channel's publisher-confirm bookkeeping (lock held, except ``cond``'s waits)."""

    __slots__ = ("pending", "confirmed_seq", "asked_ticket", "durable_ticket", "nacked", "error", "callbacks",
                 "cond")

    def __init__(self) -> None:
        #: asynchronous confirm mode (``confirm_select(wait=False)``): (seq, ack, ticket) of the
        #: publishes not confirmed yet, in order; None in blocking confirm mode and outside confirm mode
        self.pending: deque | None = None
        #: every publish up to this sequence number is confirmed (asynchronous mode)
        self.confirmed_seq = 0
        #: the last store ticket a durability callback was asked for, and the last one that completed
        self.asked_ticket = -1
        self.durable_ticket = -1
        #: nacks since the last wait_for_confirms, and the store error of the first of them
        self.nacked = 0
        self.error: BaseException | None = None
        self.callbacks: list[Callable[[Confirm], Any]] = []
        #: wait_for_confirms sleeps here; notified after confirms arrive and when the channel closes
        self.cond = threading.Condition(threading.Lock())


class QueueDeclareOk(tuple):
    """``(queue, message_count, consumer_count)`` with names, as ``queue.declare-ok`` carries them."""

    __slots__ = ()

    def __new__(cls, queue: str, message_count: int, consumer_count: int) -> QueueDeclareOk:
        return tuple.__new__(cls, (queue, message_count, consumer_count))

    queue = property(lambda self: self[0], doc="The queue's name (server-generated for ``''``).")
    message_count = property(lambda self: self[1], doc="Ready messages in the queue.")
    consumer_count = property(lambda self: self[2], doc="Consumers of the queue.")

    def __repr__(self) -> str:
        return f"QueueDeclareOk(queue={self[0]!r}, message_count={self[1]}, consumer_count={self[2]})"


class Channel(EventInbox):
    """An AMQP channel: delivery tags, unacked messages, consumers, prefetch, confirm or tx mode.

    Method names and defaults follow pika's ``BlockingChannel`` so the AMQP model stays recognisable.
    Opened by :meth:`Connection.channel`.
    """

    def __init__(self, connection: Connection, number: int, inline: bool = True) -> None:
        kernel = connection.kernel
        super().__init__(kernel, inline)
        self.connection = connection
        self.number = number
        self._vhost = connection.vhost
        self._user = connection.user
        self._next_tag = 1
        #: delivery tag -> Delivery awaiting ack (consumer deliveries and gets), ascending
        self._unacked: dict[int, Delivery] = {}
        self.consumers: dict[str, Consumer] = {}
        #: per-consumer prefetch for consumers created from now on (``basic.qos``)
        self._prefetch = 0
        #: the channel-wide limit and count, shared with every consumer of this channel
        self._credit = Credit()
        #: confirm mode (a bool: the publish path tests it, and only True/False test fast); asynchronous
        #: confirms are told by ``_confirms.pending`` not being None
        self._confirm = False
        #: publishes so far in confirm mode (the confirm sequence number of the last one)
        self.publish_seq = 0
        #: confirm bookkeeping beyond the flag (one attribute: the channel's instance dict stays small)
        self._confirms = _Confirms()
        #: pending actions of an open transaction, or None outside tx mode
        self._tx: list[tuple] | None = None
        self._last_queue: str | None = None
        self._reply: reply_to.ReplyConsumer | None = None
        self.close_cause: AMQPError | None = None
        self.is_open = True
        # bound once: every consumer of this channel carries it (see minimq.consumer); the server-cancel
        # callback is bound per consumer instead, keeping this instance's dict under CPython 3.11's
        # 30-key limit for shared (fast) attribute access: add an attribute only in place of another
        self._deliver_to = self._deliver

    # -- state ----------------------------------------------------------------------------------
    @property
    def is_closed(self) -> bool:
        """True once the channel is closed (by the client, an error, or its connection closing)."""
        return not self.is_open

    @property
    def channel_number(self) -> int:
        """The channel number (pika's name for :attr:`number`)."""
        return self.number

    @property
    def unacked_count(self) -> int:
        """Deliveries (consumer deliveries and gets) not yet acked, nacked or rejected."""
        return len(self._unacked)

    @property
    def prefetch_count(self) -> int:
        """The per-consumer prefetch limit consumers created from now on get (``basic.qos``; 0: none)."""
        return self._prefetch

    @property
    def global_prefetch_count(self) -> int:
        """The channel-wide prefetch limit (``basic.qos`` with ``global_qos``; 0: none)."""
        return self._credit.limit

    @property
    def mode(self) -> str:
        """``"normal"``, ``"confirm"`` or ``"tx"``."""
        return "tx" if self._tx is not None else "confirm" if self._confirm else "normal"

    def _closed_error(self) -> ChannelClosed:
        cause = self.close_cause if self.close_cause is not None else self.connection.close_cause
        return ChannelClosed(f"channel {self.number} is closed", cause)

    def _enter(self) -> None:
        """Take the lock for an operation on this channel (raises if the channel is closed)."""
        kernel = self._kernel
        kernel.lock.acquire()
        if not self.is_open:
            kernel.release()
            raise self._closed_error()

    def _fail(self, error: AMQPError) -> None:
        """Close what RabbitMQ closes for this error (lock held)."""
        if error.closes_connection:
            self.connection.close_locked(error, self)  # this channel first, then the others
        else:
            self.close_locked(error)

    def _locked(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Run ``operation(*args)`` under the lock; an AMQP refusal closes what it closes."""
        self._enter()
        try:
            return operation(*args)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._kernel.release()

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
        """Declare (or check, with ``passive``) an exchange.

        Raises 403 (reserved ``amq.`` name, the default exchange), 404 (passive, missing), 406 (an
        existing exchange declared differently, invalid arguments), 503 (unknown type).
        """
        check_name(exchange, "exchange")
        check_name(exchange_type, "exchange_type")
        self._locked(self._vhost.exchange_declare, exchange, exchange_type, passive, durable, auto_delete,
                     internal, arguments)

    def exchange_delete(self, exchange: str, if_unused: bool = False) -> None:
        """Delete an exchange (a missing one is fine); 406 with ``if_unused`` if it has bindings."""
        check_name(exchange, "exchange")
        self._locked(self._vhost.exchange_delete, exchange, if_unused)

    def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                      arguments: dict | None = None) -> None:
        """Bind exchange ``destination`` to exchange ``source``; 404 if either is missing."""
        check_name(destination, "destination")
        check_name(source, "source")
        check_name(routing_key, "routing_key")
        self._locked(self._vhost.exchange_bind, destination, source, routing_key, arguments)

    def exchange_unbind(self, destination: str, source: str, routing_key: str = "",
                        arguments: dict | None = None) -> None:
        """Remove an exchange-to-exchange binding (a missing one is fine)."""
        check_name(destination, "destination")
        check_name(source, "source")
        check_name(routing_key, "routing_key")
        self._locked(self._vhost.exchange_unbind, destination, source, routing_key, arguments)

    # -- queues ---------------------------------------------------------------------------------
    def queue_declare(self, queue: str = "", passive: bool = False, durable: bool = False,
                      exclusive: bool = False, auto_delete: bool = False,
                      arguments: dict | None = None) -> QueueDeclareOk:
        """Declare (or check, with ``passive``) a queue; ``''`` asks the server for a name.

        Raises 403 (reserved ``amq.`` name), 404 (passive, missing), 405 (exclusive to another
        connection), 406 (declared differently, invalid arguments), 540/541 as RabbitMQ does.
        """
        check_name(queue, "queue")
        return self._locked(self._queue_declare, queue, passive, durable, exclusive, auto_delete, arguments)

    def _queue_declare(self, queue: str, passive: bool, durable: bool, exclusive: bool, auto_delete: bool,
                       arguments: dict | None) -> QueueDeclareOk:
        if reply_to.is_reply_to(queue):
            result = QueueDeclareOk(*reply_to.declare_ok(self._vhost, queue))
        else:
            q = self._vhost.queue_declare(self.connection, queue, passive, durable, exclusive, auto_delete,
                                          arguments)
            result = QueueDeclareOk(q.name, q.message_count, q.consumer_count)
        self._last_queue = result[0]
        return result

    def queue_bind(self, queue: str, exchange: str, routing_key: str | None = None,
                   arguments: dict | None = None) -> None:
        """Bind ``queue`` to ``exchange``; ``routing_key=None`` means the queue's name (as pika does).

        Raises 403 for the default exchange, 404 if either end is missing, 405 for another
        connection's exclusive queue, 406 for invalid headers-binding arguments.
        """
        check_name(queue, "queue")
        check_name(exchange, "exchange")
        # spelled out rather than through _locked: binding is measured (benchmarks/run.py, 100k bindings)
        self._enter()
        try:
            name = self._queue_name(queue)
            if routing_key is None or (routing_key == "" and queue == ""):
                routing_key = name  # as pika: the queue's name
            check_name(routing_key, "routing_key")
            self._vhost.queue_bind(self.connection, name, exchange, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._kernel.release()

    def queue_unbind(self, queue: str, exchange: str | None = None, routing_key: str | None = None,
                     arguments: dict | None = None) -> None:
        """Remove a queue binding (a missing one is fine); 405 for another connection's exclusive queue."""
        check_name(queue, "queue")
        exchange = "" if exchange is None else exchange
        check_name(exchange, "exchange")
        self._enter()
        try:
            name = self._queue_name(queue)
            if routing_key is None or (routing_key == "" and queue == ""):
                routing_key = name  # as pika: the queue's name
            check_name(routing_key, "routing_key")
            self._vhost.queue_unbind(self.connection, name, exchange, routing_key, arguments)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._kernel.release()

    def queue_purge(self, queue: str = "") -> int:
        """Drop the ready messages (nothing is dead-lettered); returns how many."""
        check_name(queue, "queue")
        return self._locked(lambda: self._vhost.queue_purge(self.connection, self._queue_name(queue)))

    def queue_delete(self, queue: str = "", if_unused: bool = False, if_empty: bool = False) -> int:
        """Delete a queue; returns the number of ready messages it held (0 if it did not exist).

        Its consumers are cancelled by the server; 406 with ``if_unused``/``if_empty`` when in use.
        """
        check_name(queue, "queue")
        return self._locked(lambda: self._vhost.queue_delete(self.connection, self._queue_name(queue),
                                                             if_unused, if_empty))

    # -- publishing -----------------------------------------------------------------------------
    def basic_publish(self, exchange: str, routing_key: str, body: bytes,
                      properties: Properties | None = None, mandatory: bool = False) -> PublishOutcome:
        """Route and enqueue a message before returning.

        Returns ROUTED, UNROUTABLE (dropped, or returned to this channel's return callbacks / inbox
        when ``mandatory``) or NACKED (a queue refused it: ``x-overflow`` reject-publish).  Raises 404
        (no such exchange), 403 (internal exchange), 406 (invalid properties, see
        :mod:`minimq.publish_checks`), which close the channel; ``TypeError`` for a body that is not
        bytes.

        In confirm mode the outcome is the message's confirm (NACKED is a ``basic.nack``).  With a
        store and a persistent message (``delivery_mode=2``): in blocking confirm mode (the default,
        ``confirm_select()``) this returns once the message is durable (raising the store's error if
        its commit failed); in asynchronous confirm mode (``confirm_select(wait=False)``) it returns at
        once, and the confirm follows when the commit covering the message is done (see
        :meth:`wait_for_confirms` and :meth:`add_on_confirm_callback`).
        """
        if type(body) is not bytes:
            body = coerce_body(body)
        if type(exchange) is not str or len(exchange) > 63:
            check_name(exchange, "exchange")
        if type(routing_key) is not str or len(routing_key) > 63:
            check_name(routing_key, "routing_key")
        kernel = self._kernel
        sync = None  # the store to flush (blocking confirms) or the ticket to wait for (asynchronous)
        kernel.lock.acquire()
        try:
            if not self.is_open:
                raise self._closed_error()
            vhost = self._vhost
            target = vhost.exchanges.get(exchange)
            if target is None or target.internal:
                self._fail_publish(exchange, len(body))
            headers = extra = ttl = bcc = None
            if properties is not None:
                reply = self._reply
                properties, headers, extra, ttl, bcc = check_properties(
                    properties, len(body), self._user, None if reply is None else reply.address)
            elif len(body) > MAX_BODY:
                check_properties(Properties(), len(body), self._user, None)
            observers = kernel.observers
            if observers is not None:  # a listened-to message carries its identity (minimq.events)
                message = observers.new_message(body, properties, exchange, routing_key, ttl, bcc)
            elif bcc is None:
                message = Message(body, properties, exchange, routing_key, ttl)
            else:
                message = BccMessage(body, properties, exchange, routing_key, ttl, bcc)
            queues: Any = route(vhost.exchanges, target, routing_key, headers, extra, message)
            if observers is not None:
                observers.published(self, message, queues, mandatory)
            if not queues and exchange == "" and routing_key.startswith(REPLY_PREFIX):
                # a direct reply-to reply (no queue can be named amq.*, so routing found none)
                channel = reply_to.channel_for(vhost, routing_key)
                if channel is not None:
                    channel.deliver_reply(message)
            if self._tx is not None:
                self._tx.append(("publish", message, tuple(queues), mandatory))
                return _ROUTED if queues else _UNROUTABLE
            if self._confirm:
                self.publish_seq += 1
            if queues:
                outcome = _ROUTED
                for queue in queues:
                    if not queue.publish(message):
                        if outcome is _ROUTED and self._confirm and self._confirms.pending is None:
                            self._confirms.nacked += 1  # blocking confirms: counted for wait_for_confirms
                        outcome = _NACKED
                if self._confirm:
                    if self._confirms.pending is not None:
                        sync = self._confirm_later(outcome, properties is not None and properties.delivery_mode == 2)
                    elif kernel.store is not None and properties is not None and properties.delivery_mode == 2:
                        sync = kernel.store  # the confirm waits for the commit covering it (outside the lock)
                if observers is not None and self._confirm and self._confirms.pending is None:
                    observers.confirmed(self, self.publish_seq, outcome is not _NACKED)
                return outcome
            self._unroutable(message, mandatory)
            if self._confirm:
                if self._confirms.pending is not None:
                    self._confirm_later(_UNROUTABLE, False)
                elif observers is not None:
                    observers.confirmed(self, self.publish_seq, True)
            return _UNROUTABLE
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            kernel.release()
            if sync is not None:
                if sync is kernel.store:
                    sync.flush()
                else:
                    self._ask_durable(sync)

    def _fail_publish(self, exchange: str, size: int) -> None:
        if size > MAX_BODY:  # RabbitMQ checks the size before it looks the exchange up
            check_properties(Properties(), size, self._user, None)
        if exchange in self._vhost.exchanges:
            raise AccessRefused(f"cannot publish to internal exchange '{exchange}' in vhost '{self._vhost.name}'")
        raise NotFound(f"no exchange '{exchange}' in vhost '{self._vhost.name}'")

    def _unroutable(self, message: Message, mandatory: bool) -> None:
        if mandatory:
            self.push(Returned(message, message.exchange, message.routing_key), bool(self._return_callbacks))
        else:
            self._vhost.unroutable_dropped += 1
        observers = self._kernel.observers
        if observers is not None:
            observers.returned(self, message, mandatory)

    def deliver_reply(self, message: Message) -> None:
        """A direct reply-to reply addressed to this channel (lock held); dropped if it stopped listening."""
        reply = self._reply
        if not self.is_open or reply is None:
            return
        # as RabbitMQ: a reply carries the next delivery tag without taking it (it needs no ack)
        delivery = Delivery(reply.tag, self._next_tag, False, message, None, None, None, self)
        observers = self._kernel.observers
        if observers is not None:
            observers.delivered(reply_to.REPLY_TO, self._vhost.name, self, message, reply.tag, None, False, True)
        (self._events if self._inline and reply.callback is not None else self._inbox).append(delivery)
        if not self._wake_pending:
            self._wake_pending = True
            self._kernel.wakes.append(self)

    # -- consuming ------------------------------------------------------------------------------
    def basic_consume(self, queue: str = "", callback: Callable[[Delivery], Any] | None = None,
                      auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                      arguments: dict | None = None) -> str:
        """Subscribe to a queue; returns the consumer tag (``amq.ctag-…`` when none is given).

        With a ``callback`` on an inline channel, ``callback(delivery)`` runs for each delivery;
        otherwise deliveries wait for :meth:`get_event`.  Raises 404 (no queue), 403 (in exclusive
        use), 405 (another connection's exclusive queue), 406 (bad ``x-priority``), 530 (tag reused);
        ``TypeError``, before anything changes, for a callback that cannot be called as
        ``callback(delivery)`` (see :func:`check_consumer_callback`).
        """
        check_name(queue, "queue")
        check_name(consumer_tag, "consumer_tag")
        if callback is not None:
            check_consumer_callback(callback)
        return self._locked(self._consume, queue, callback, auto_ack, exclusive, consumer_tag, arguments)

    def _consume(self, queue: str, callback: Callable | None, auto_ack: bool, exclusive: bool,
                 consumer_tag: str, arguments: dict | None) -> str:
        vhost = self._vhost
        name = self._queue_name(queue)
        tag = consumer_tag or random_name("amq.ctag-")
        if tag in self.consumers or (self._reply is not None and tag == self._reply.tag):
            raise NotAllowed(f"attempt to reuse consumer tag '{tag}'")
        if name == reply_to.REPLY_TO:
            self._reply = reply_to.start(vhost, self, self._reply, tag, auto_ack, callback)
            return tag
        q = vhost.queue_for(self.connection, name)
        arguments = dict(arguments) if arguments else {}
        priority = arguments.get("x-priority", 0)
        if not is_integer(priority):
            raise PreconditionFailed(f"invalid arg 'x-priority' for queue '{name}' in vhost "
                                     f"'{vhost.name}': \"expected integer, got {type_name(priority)}\"")
        for arg in arguments:  # consumer arguments of the other queue types
            if arg == "x-stream-offset" or (arg == "x-cancel-on-ha-failover" and q.quorum):
                kind = "rabbit_quorum_queue" if q.quorum else "rabbit_classic_queue"
                raise PreconditionFailed(f"invalid arg '{arg}' for queue '{name}' in vhost "
                                         f"'{vhost.name}' of queue type {kind}")
        if q.quorum:
            exclusive = False  # RabbitMQ 3.10's quorum queues ignore the flag
        if q.exclusive_consumer is not None or (exclusive and (q.consumer_count or q.single_active)):
            raise AccessRefused(f"queue '{name}' in vhost '{vhost.name}' in exclusive use")
        if q.quorum and self._credit.limit:
            raise NotImplementedByServer(f"queue '{name}' in vhost '{vhost.name}' does not support global qos")
        # a quorum queue does not ask the channel's limiter (RabbitMQ 3.10): its consumers get a credit
        # that is never limited, and their deliveries do not add to the channel-wide count
        credit = self._credit if not q.quorum else Credit()
        consumer = Consumer(tag, self, q, auto_ack, exclusive, priority, self._prefetch, callback, arguments,
                            credit, self._deliver_to, self._server_cancel)
        self.consumers[tag] = consumer
        q.add_consumer(consumer)
        return tag

    def basic_cancel(self, consumer_tag: str) -> None:
        """Stop a consumer; its unacked messages stay unacked.  Unknown tags are ignored (as RabbitMQ does)."""
        check_name(consumer_tag, "consumer_tag")
        self._locked(self._cancel, consumer_tag)

    def _cancel(self, consumer_tag: str) -> None:
        reply = self._reply
        if reply is not None and consumer_tag == reply.tag:
            reply_to.stop(self._vhost, reply)
            self._reply = None
            return
        consumer = self.consumers.pop(consumer_tag, None)
        if consumer is not None:
            consumer.queue.remove_consumer(consumer)

    def basic_get(self, queue: str = "", auto_ack: bool = False) -> Delivery | None:
        """Fetch the head message (``message_count`` = ready messages left), or None if empty.

        Raises 404 (no queue; the direct reply-to pseudo-queue included), 405 (another connection's
        exclusive queue; a quorum queue with single active consumer).
        """
        if type(queue) is not str or len(queue) > 63:
            check_name(queue, "queue")
        self._enter()
        try:
            name = queue or self._queue_name(queue)
            # the direct reply-to pseudo-queue is not a queue: queue_for answers 404 (no queue can be
            # named amq.*)
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
            message = entry.message if not q.quorum else _as_quorum_hands_out(entry, fetched=True)
            delivery = Delivery(None, tag, entry.redelivered, message, q, entry, None, self)
            delivery.message_count = left
            observers = self._kernel.observers
            if observers is not None:
                observers.delivered(q.name, self._vhost.name, self, entry.message, None, tag, entry.redelivered,
                                    auto_ack)
            if auto_ack:
                q.forget(entry)
            else:
                self._unacked[tag] = delivery
                q.unacked_count += 1
            return delivery
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._kernel.release()

    def _deliver(self, consumer: Consumer, queue: Queue, entry: Any) -> None:
        """A queue hands a message to one of this channel's consumers (lock held)."""
        tag = self._next_tag
        self._next_tag = tag + 1
        message = entry.message if not queue.quorum else _as_quorum_hands_out(entry)
        delivery = Delivery(consumer.tag, tag, entry.redelivered, message, queue, entry, consumer, self)
        observers = self._kernel.observers
        if observers is not None:
            observers.delivered(queue.name, self._vhost.name, self, entry.message, consumer.tag, tag,
                                entry.redelivered, consumer.no_ack)
        if consumer.no_ack:
            queue.forget(entry)
        else:
            self._unacked[tag] = delivery
            consumer.unacked += 1
            credit = consumer.credit
            if credit.limit:  # the channel-wide count runs only under a global limit (see Credit)
                credit.unacked += 1
            queue.unacked_count += 1
        if self._inline and consumer.callback is not None:
            self._events.append(delivery)
        else:
            self._inbox.append(delivery)
        if not self._wake_pending:
            self._wake_pending = True
            self._kernel.wakes.append(self)

    def _server_cancel(self, consumer: Consumer) -> None:
        if self.consumers.get(consumer.tag) is consumer:
            del self.consumers[consumer.tag]
            self.push(ConsumerCancelled(consumer.tag), bool(self._cancel_callbacks))

    def _run_callback(self, event: Any) -> None:
        if type(event) is Delivery:
            consumer = event.consumer
            if consumer is not None:
                consumer.callback(event)
            else:
                reply = self._reply
                if reply is not None and reply.callback is not None:
                    reply.callback(event)
        elif type(event) is Returned:
            for callback in self._return_callbacks:
                callback(event)
        elif type(event) is Confirm:
            for callback in self._confirms.callbacks:
                callback(event)
        else:
            for callback in self._cancel_callbacks:
                callback(event)

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
        """Acknowledge one delivery, or (``multiple``) every one up to ``delivery_tag`` (0: all).

        406 ``unknown delivery tag`` (which closes the channel) for a tag that is not unacked.
        """
        if multiple or type(delivery_tag) is not int:
            self._settle("ack", delivery_tag, multiple, False)
            return
        # the common case, one tag, spelled out: it is half of every get + ack
        kernel = self._kernel
        kernel.lock.acquire()
        try:
            if not self.is_open:
                raise self._closed_error()
            delivery = self._unacked.pop(delivery_tag, None)
            if delivery is None:
                raise PreconditionFailed(f"unknown delivery tag {delivery_tag}")
            if self._tx is not None:
                self._tx.append(("ack", [delivery], False))
                return
            if kernel.observers is not None:
                kernel.observers.settled("ack", self, delivery, None)
            delivery.queue.settle_ack(delivery.entry)
            if delivery.consumer is not None:
                self._release_capacity((delivery,))
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            kernel.release()

    def basic_nack(self, delivery_tag: int = 0, multiple: bool = False, requeue: bool = True) -> None:
        """Reject one or (``multiple``) several deliveries: requeued, or dead-lettered / dropped."""
        self._settle("nack", delivery_tag, multiple, requeue)

    def basic_reject(self, delivery_tag: int = 0, requeue: bool = True) -> None:
        """Reject one delivery: requeued at its original position, or dead-lettered / dropped."""
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
            if requeue and self._kernel.poison is not None:
                self._check_poison(kind, deliveries)
            if self._tx is not None:
                self._tx.append((kind, deliveries, requeue))
                return
            self._apply_settlement(kind, deliveries, requeue)
        except AMQPError as error:
            self._fail(error)
            raise
        finally:
            self._kernel.release()

    def _apply_settlement(self, kind: str, deliveries: list[Delivery], requeue: bool) -> None:
        observers = self._kernel.observers
        if observers is not None:
            for delivery in deliveries:
                observers.settled(kind, self, delivery, None if kind == "ack" else requeue)
        touched: dict[Queue, None] = {}
        _settle_in_queues(deliveries, kind == "ack", requeue, touched)
        for queue in touched:
            queue.after_requeue()
        self._release_capacity(deliveries)

    def _release_capacity(self, deliveries: Any) -> None:
        """Settled consumer deliveries free prefetch capacity: blocked consumers rejoin their rotation.

        Under a global limit the channel-wide count drops by the number of consumer deliveries settled
        at once, unless it is 0 (RabbitMQ's limiter); settled gets do not count (see :class:`Credit`).
        """
        credit = self._credit
        if len(deliveries) == 1:  # one ack: the general loop, unrolled
            consumer = deliveries[0].consumer
            if consumer is None:
                return
            consumer.unacked -= 1
            if not credit.limit:
                if consumer.blocked and not consumer.cancelled:
                    consumer.queue.unblock(consumer)
                return
            if credit.unacked:
                credit.unacked -= 1
            for consumer in list(self.consumers.values()):
                if consumer.blocked and not consumer.cancelled:
                    consumer.queue.unblock(consumer)
            return
        freed: dict[Consumer, None] = {}
        settled = 0
        for delivery in deliveries:
            consumer = delivery.consumer
            if consumer is not None:
                consumer.unacked -= 1
                settled += 1
                freed[consumer] = None
        if not freed:
            return
        if credit.limit:
            if credit.unacked:
                credit.unacked -= settled
            candidates = list(self.consumers.values())
        else:
            candidates = [c for c in freed if c.blocked]
        for consumer in candidates:
            if consumer.blocked and not consumer.cancelled:
                consumer.queue.unblock(consumer)

    def basic_recover(self, requeue: bool = False) -> None:
        """Requeue every unacked message of the channel (``requeue=False`` is refused: 540, as RabbitMQ)."""
        self._locked(self._recover, requeue)

    def _recover(self, requeue: bool) -> None:
        if not requeue:
            raise NotImplementedByServer("requeue=false")
        deliveries = list(self._unacked.values())
        if self._kernel.poison is not None:
            self._kernel.poison.check(deliveries)
        self._unacked.clear()
        self._apply_settlement("nack", deliveries, True)

    def _check_poison(self, kind: str, deliveries: list[Delivery]) -> None:
        """The poison guard may refuse a requeue (``minimq.poison``): the deliveries taken for it go
        back to the unacked table, so the refused call changes nothing."""
        try:
            self._kernel.poison.check(deliveries)
        except Exception:
            self._restore_settlements([(kind, deliveries, True)])
            raise

    def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        """Per-consumer limit for consumers created afterwards, or (``global_qos``) one channel-wide limit.

        ``prefetch_size`` other than 0 is refused with 540, as RabbitMQ does.
        """
        self._locked(self._qos, prefetch_size, prefetch_count, global_qos)

    def _qos(self, prefetch_size: int, prefetch_count: int, global_qos: bool) -> None:
        if prefetch_size:
            raise NotImplementedByServer(f"prefetch_size!=0 ({prefetch_size})")
        credit = self._credit
        if global_qos and prefetch_count:
            if not credit.limit:
                # RabbitMQ's limiter starts from the channel's unacked messages, gets included
                credit.unacked = len(self._unacked)
            credit.limit = prefetch_count
        else:
            # global 0 lifts the channel-wide limit; a per-consumer qos lifts it too (RabbitMQ 3.10)
            if not global_qos:
                self._prefetch = prefetch_count
            credit.limit = 0
            credit.unacked = 0
        for consumer in list(self.consumers.values()):
            if consumer.blocked:
                consumer.queue.unblock(consumer)

    def flow(self, active: bool) -> bool:
        """``channel.flow``: ``active=False`` is refused with 540 (RabbitMQ does not implement it)."""
        return self._locked(self._flow, active)

    @staticmethod
    def _flow(active: bool) -> bool:
        if not active:
            raise NotImplementedByServer("active=false")
        return True

    # -- confirms and transactions --------------------------------------------------------------
    def confirm_select(self, wait: bool = True) -> None:
        """Enter confirm mode: every publish is confirmed; 406 in tx mode.

        ``wait=True`` (the default, and what the pika facade uses): blocking confirms.  The
        :class:`PublishOutcome` that ``basic_publish`` returns is the confirm, and with a store a
        persistent publish returns only once it is durable (one commit per waiting publisher, shared
        by the publishers waiting at the same time).

        ``wait=False``: asynchronous confirms, as RabbitMQ sends them.  ``basic_publish`` never waits
        for the disk; each publish's confirm (a :class:`~minimq.message.Confirm`) comes later, in
        publish order, once the store's commit covering it is done: at once for transient messages,
        unroutable ones and brokers without a store, after the commit for persistent ones.  Wait
        for them with :meth:`wait_for_confirms` / :meth:`wait_for_confirms_or_die`, or be told of
        each with :meth:`add_on_confirm_callback` (an inline channel runs the callbacks; a channel
        opened with ``inline=False`` gets the ``Confirm`` events in its inbox, :meth:`get_event`).
        A failed commit nacks the publishes it covered, with the store's error.  Needs a store with
        ``commit_ticket``/``when_durable`` (see :mod:`minimq.store`).

        Selecting confirm mode again with the other ``wait`` raises ``ValueError``.
        """
        self._locked(self._confirm_select, wait)

    def _confirm_select(self, wait: bool) -> None:
        if self._tx is not None:
            raise PreconditionFailed("cannot switch from tx to confirm mode")
        wait = bool(wait)
        if self._confirm and (self._confirms.pending is None) != wait:
            raise ValueError(f"channel {self.number} is already in "
                             f"{'blocking' if wait is False else 'asynchronous'} confirm mode")
        store = self._kernel.store
        if not wait and store is not None and not (hasattr(store, "commit_ticket") and hasattr(store, "when_durable")):
            raise TypeError(f"asynchronous confirms need a store with commit_ticket() and when_durable() "
                            f"(see minimq.store); {type(store).__name__} has not")
        if not self._confirm and not wait:
            self._confirms.pending = deque()
            self._confirms.confirmed_seq = self.publish_seq
        self._confirm = True

    def add_on_confirm_callback(self, callback: Callable[[Confirm], Any]) -> None:
        """``callback(confirm)`` for each :class:`~minimq.message.Confirm` of asynchronous confirm mode.

        On an inline channel it runs outside the broker lock, on the thread that completed the
        confirm (the publishing thread for an immediate confirm, the store's committer thread for a
        persistent message), one callback at a time per channel, in publish order.  ``TypeError`` at
        once if ``callback`` cannot be called with one argument.
        """
        check_callback(callback, "confirm callback", "confirm", allow_none=False)
        self._confirms.callbacks.append(callback)

    @property
    def confirmed_seq(self) -> int:
        """Every publish up to this sequence number is confirmed (asynchronous confirm mode; in
        blocking confirm mode every publish is confirmed when ``basic_publish`` returns)."""
        return self._confirms.confirmed_seq if self._confirms.pending is not None else self.publish_seq

    def wait_for_confirms(self, timeout: float | None = None) -> bool:
        """Wait until every publish made so far is confirmed; True if all of the confirms since the
        last ``wait_for_confirms*`` call were acks, False if any was a nack (the count is reset).

        As the Java client's ``waitForConfirms``.  Raises :class:`~minimq.errors.ConfirmTimeout` when
        ``timeout`` seconds pass first (the confirms still come), ``ChannelClosed`` if the channel
        closes while publishes are unconfirmed, ``RuntimeError`` outside confirm mode.  In blocking
        confirm mode every publish is already confirmed, so it only reports the nacks.
        """
        nacked, _ = self._wait_confirmed(timeout)
        return not nacked

    def wait_for_confirms_or_die(self, timeout: float | None = None) -> None:
        """:meth:`wait_for_confirms`, raising :class:`~minimq.errors.PublishNacked` if any confirm since
        the last wait was a nack (its ``error``, and ``__cause__``, is the store's exception when a
        failed commit nacked it).  Unlike the Java client it leaves the channel open."""
        nacked, error = self._wait_confirmed(timeout)
        if nacked:
            why = f": the store's commit failed: {error}" if error is not None else ""
            raise PublishNacked(f"{nacked} publish(es) on channel {self.number} were nacked{why}",
                                nacked, error) from error

    def _wait_confirmed(self, timeout: float | None) -> tuple[int, BaseException | None]:
        kernel = self._kernel
        with kernel:
            if not self._confirm:
                raise RuntimeError(f"channel {self.number} is not in confirm mode")
            target = self.publish_seq
        if self._confirms.pending is not None and self._confirms.confirmed_seq < target:
            deadline = None if timeout is None else _time.monotonic() + timeout
            cond = self._confirms.cond
            with cond:
                while self._confirms.confirmed_seq < target:
                    if not self.is_open:
                        raise self._closed_error()
                    remaining = None if deadline is None else deadline - _time.monotonic()
                    if remaining is not None and remaining <= 0:
                        pending = target - self._confirms.confirmed_seq
                        raise ConfirmTimeout(f"{pending} publish(es) on channel {self.number} not confirmed "
                                             f"within {timeout} s", pending)
                    cond.wait(remaining)
        with kernel:
            nacked, self._confirms.nacked = self._confirms.nacked, 0
            error, self._confirms.error = self._confirms.error, None
        return nacked, error

    def _confirm_later(self, outcome: PublishOutcome, persistent: bool) -> int | None:
        """Asynchronous confirm mode: record this publish's confirm (lock held).  Returns the store
        ticket to ask a durability callback for after the lock is released, or None."""
        seq = self.publish_seq
        ack = outcome is not _NACKED
        ticket = None
        store = self._kernel.store
        if persistent and store is not None and outcome is not _UNROUTABLE:
            ticket = store.commit_ticket()
            if ticket <= self._confirms.durable_ticket:
                ticket = None
        pending = self._confirms.pending
        if ticket is None and not pending:
            self._settle_confirms([(seq, ack)], None)
            return None
        pending.append((seq, ack, ticket))  # type: ignore[union-attr]
        if ticket is not None and ticket > self._confirms.asked_ticket:
            self._confirms.asked_ticket = ticket
            return ticket
        return None

    def _ask_durable(self, ticket: int) -> None:
        """Ask the store to call :meth:`_on_durable` once ``ticket`` is committed (lock not held).

        A method of its own: a closure inside ``basic_publish`` would turn its locals into cells."""
        self._kernel.store.when_durable(ticket, lambda error: self._on_durable(ticket, error))  # type: ignore

    def _on_durable(self, ticket: int, error: BaseException | None) -> None:
        """The store's callback: the commit covering ``ticket`` is done, or failed with ``error``
        (lock not held; any thread)."""
        kernel = self._kernel
        kernel.lock.acquire()
        try:
            if error is None and ticket > self._confirms.durable_ticket:
                self._confirms.durable_ticket = ticket
            pending = self._confirms.pending
            done = []
            while pending:
                seq, ack, t = pending[0]
                if t is not None:
                    if t > ticket:
                        break
                    if error is not None:
                        ack = False
                pending.popleft()
                done.append((seq, ack))
            if done:
                self._settle_confirms(done, error)
        finally:
            kernel.release()
        with self._confirms.cond:
            self._confirms.cond.notify_all()

    def _settle_confirms(self, done: list[tuple[int, bool]], error: BaseException | None) -> None:
        """Confirm ``done`` ((seq, ack) in order, following the last confirmed seq) (lock held)."""
        observers = self._kernel.observers
        if observers is not None:
            for seq, ack in done:
                observers.confirmed(self, seq, ack)
        self._confirms.confirmed_seq = done[-1][0]
        for _, ack in done:
            if not ack:
                self._confirms.nacked += 1
                if error is not None and self._confirms.error is None:
                    self._confirms.error = error
        has_callback = bool(self._confirms.callbacks)
        if not (has_callback or not self._inline):
            return
        # one Confirm per run of acks or of nacks, ``multiple`` when the run covers several publishes
        start = 0
        n = len(done)
        while start < n:
            ack = done[start][1]
            end = start
            while end + 1 < n and done[end + 1][1] == ack:
                end += 1
            self.push(Confirm(done[end][0], ack, end > start, None if ack else error), has_callback)
            start = end + 1

    def tx_select(self) -> None:
        """Enter tx mode: publishes and settlements wait for :meth:`tx_commit`; 406 in confirm mode."""
        self._locked(self._tx_select)

    def _tx_select(self) -> None:
        if self._confirm:
            raise PreconditionFailed("cannot switch from confirm to tx mode")
        if self._tx is None:
            self._tx = []

    def tx_commit(self, wait: bool = True) -> int | None:
        """Enqueue the transaction's publishes, then apply its acks, nacks and rejects, in order.

        Unroutable mandatory publishes are returned before any of the commit's deliveries, as RabbitMQ
        does.  Consecutive settlements of one kind (acks; nacks and rejects with the same ``requeue``)
        are applied as one, in delivery-tag order, and the deliveries they make room for come after the
        last of them, as in RabbitMQ.

        406 outside tx mode, and ``partial tx completion`` if a queue refused a publish (the rest is
        applied).  With a store, returns once the transaction is durable.

        ``wait=False`` (for event loops, which must not block on the disk): returns at once with the
        store's commit ticket covering the transaction, for ``store.when_durable(ticket, callback)``,
        or None on a broker without a store (nothing to wait for).  ``TypeError``, before anything is
        committed, if the store has no ``commit_ticket``/``when_durable`` (see :mod:`minimq.store`).
        """
        store = self._kernel.store
        if not wait and store is not None and not (hasattr(store, "commit_ticket") and hasattr(store, "when_durable")):
            raise TypeError(f"tx_commit(wait=False) needs a store with commit_ticket() and when_durable() "
                            f"(see minimq.store); {type(store).__name__} has not")
        ticket = self._locked(self._tx_commit, not wait)
        if wait and store is not None:
            store.flush()  # tx.commit-ok only once the transaction is durable
        return ticket

    def _tx_commit(self, want_ticket: bool = False) -> int | None:
        if self._tx is None:
            raise PreconditionFailed("channel is not transactional")
        pending, self._tx = self._tx, []
        refused = False
        now = self._kernel.clock.now_ms()
        # RabbitMQ returns a commit's unroutable mandatory messages while it commits and delivers its
        # routed ones afterwards (queues hand them out through the channel): every return first
        publishes = []
        for action in pending:
            if action[0] == "publish":
                live = [q for q in action[2] if not q.deleted]
                if live:
                    publishes.append((action[1], live))
                else:
                    self._unroutable(action[1], action[3])
        for message, live in publishes:
            for queue in live:
                if not queue.publish(message, now):
                    refused = True
        # RabbitMQ applies a commit's settlements in runs: consecutive acks (publishes in between do not
        # break a run) are one settlement, and so are consecutive nacks/rejects with the same requeue
        # flag, each run in delivery-tag order (what the channel-wide count and dead-lettering see)
        runs: list[list] = []
        observers = self._kernel.observers
        for action in pending:
            if action[0] != "publish":
                if observers is not None:
                    for delivery in action[1]:
                        observers.settled(action[0], self, delivery, None if action[0] == "ack" else action[2])
                key = "ack" if action[0] == "ack" else action[2]
                if runs and runs[-1][0] == key:
                    runs[-1][1].extend(action[1])
                else:
                    runs.append([key, list(action[1])])
        # ... and the queues hand out what they can only once every settlement of the commit is applied
        # (in RabbitMQ they deliver after the channel has told the limiter about all of them)
        touched: dict[Queue, None] = {}
        credit = self._credit
        for key, deliveries in runs:
            if len(deliveries) > 1:
                deliveries.sort(key=_delivery_tag)
            _settle_in_queues(deliveries, key == "ack", bool(key), touched)
            settled = 0
            for delivery in deliveries:
                if delivery.consumer is not None:
                    delivery.consumer.unacked -= 1
                    settled += 1
            if settled and credit.limit and credit.unacked:
                credit.unacked -= settled
        if runs:
            for queue in touched:
                queue.after_requeue()
            for consumer in list(self.consumers.values()):
                if consumer.blocked and not consumer.cancelled:
                    consumer.queue.unblock(consumer)
        if refused:
            raise PreconditionFailed("partial tx completion")
        store = self._kernel.store
        # the ticket is taken under the lock, after the commit reported its changes: it covers them
        return store.commit_ticket() if want_ticket and store is not None else None

    def tx_rollback(self) -> None:
        """Discard pending publishes; pending settlements are undone (the messages are unacked again)."""
        self._locked(self._tx_rollback)

    def _tx_rollback(self) -> None:
        if self._tx is None:
            raise PreconditionFailed("channel is not transactional")
        pending, self._tx = self._tx, []
        self._restore_settlements(pending)

    def _restore_settlements(self, pending: list[tuple]) -> None:
        restored = [d for action in pending if action[0] != "publish" for d in action[1]]
        if restored:
            merged = {d.delivery_tag: d for d in restored}
            merged.update(self._unacked)
            self._unacked = dict(sorted(merged.items()))

    # -- closing --------------------------------------------------------------------------------
    def close(self) -> None:
        """Close the channel: consumers cancelled, unacked messages requeued.  Closing twice is harmless."""
        with self._kernel:
            if self.is_open:
                self.close_locked(None)

    def close_locked(self, cause: AMQPError | None) -> None:
        """Close with the lock held (``cause``: the error that closes it, None if the client did)."""
        if not self.is_open:
            return
        self.is_open = False
        self.close_cause = cause
        if self._tx is not None:
            self._restore_settlements(self._tx)
            self._tx = None
        reply_to.stop(self._vhost, self._reply)
        self._reply = None
        touched: dict[Queue, None] = {}
        for consumer in list(self.consumers.values()):
            consumer.queue.remove_consumer(consumer, dispatch=False)
            touched[consumer.queue] = None
        self.consumers.clear()
        observers = self._kernel.observers
        for delivery in self._unacked.values():
            if observers is not None:
                observers.settled("nack", self, delivery, True, "channel closed")
            delivery.queue.requeue(delivery.entry, closing=True)
            touched[delivery.queue] = None
            if delivery.consumer is not None:
                delivery.consumer.unacked -= 1
        self._unacked.clear()
        self._credit.unacked = 0
        for queue in touched:
            queue.after_requeue()
            queue.after_consumers_changed()
        self.connection.forget_channel(self)
        self.request_wake()
        with self._confirms.cond:  # wait_for_confirms raises ChannelClosed
            self._confirms.cond.notify_all()

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
            if consumer.queue.quorum:
                assert consumer.credit is not self._credit and not consumer.credit.limit, \
                    f"{consumer!r} of a quorum queue is under the channel's limiter"
            else:
                assert consumer.credit is self._credit, f"{consumer!r} does not share its channel's credit"
        credit = self._credit
        assert credit.limit >= 0
        # without a global limit nothing is counted; with one the count follows RabbitMQ's limiter, whose
        # value depends on history (gets unacked when the limit was set stay counted), not on today's state
        assert credit.limit or credit.unacked == 0, "channel-wide count runs without a global limit"

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"Channel({self.number}, {self.mode}, unacked={len(self._unacked)}, {state})"


def _settle_in_queues(deliveries: list[Delivery], ack: bool, requeue: bool, touched: dict[Queue, None]) -> None:
    """Settle ``deliveries`` in their queues: ack, requeue (the queues land in ``touched``: call their
    ``after_requeue`` once all are back) or reject (dead-lettered or dropped).  Prefetch capacity is
    the caller's to release."""
    if ack:
        for delivery in deliveries:
            delivery.queue.settle_ack(delivery.entry)
    elif requeue:
        for delivery in deliveries:
            delivery.queue.requeue(delivery.entry)
            touched[delivery.queue] = None
    else:
        for delivery in deliveries:
            delivery.queue.settle_reject(delivery.entry)


def _delivery_tag(delivery: Delivery) -> int:
    return delivery.delivery_tag


def check_consumer_callback(callback: Any) -> None:
    """``TypeError`` unless ``callback`` can be called as ``callback(delivery)``, with one positional argument.

    Checked when a consumer is registered, not at its first delivery.  A callable whose signature cannot
    be read (some builtins) is accepted.  A callback that takes pika's four arguments
    ``(channel, method, properties, body)`` gets a message that points to :mod:`minimq.compat.pika`.
    """
    check_callback(callback, "consumer callback", "delivery", pika_hint=True)


def _as_quorum_hands_out(entry: Any, fetched: bool = False) -> Message:
    """The message as a quorum queue hands it out: with ``x-delivery-count`` once it was returned,
    and always for ``basic.get`` (RabbitMQ 3.10 adds it, 0 included, on every fetch)."""
    message = entry.message
    if entry.delivery_count or fetched:
        props = message.properties or Properties()
        headers = dict(props.headers or {})
        headers["x-delivery-count"] = entry.delivery_count
        message = Message(message.body, props.copy(headers=headers), message.exchange,
                          message.routing_key, message.ttl)
    return message
