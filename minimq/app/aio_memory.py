"""The in-process transport for asyncio (``memory://`` with ``asynchronous=True``): sessions over
:mod:`minimq.aio` on a :class:`minimq.Broker`.

A session holds one :class:`minimq.aio.Connection` with two channels, as the sync
:class:`~minimq.app.memory.MemorySession` does:

* an aio :class:`minimq.aio.Channel` in confirm mode for declarations and publishes, so a publish
  awaits its confirm without blocking the loop (a persistent message on a broker with a store is
  awaited until its commit, and the loop runs meanwhile);
* one core channel opened with ``inline=False`` for every consumer and ``get`` of the session, whose
  events an :class:`minimq.aio.pump.EventPump` moves into the session's buffer on the loop thread.

Why one consumer channel, not ``aio.Channel.consume``: minimq.aio gives each consumer a channel of
its own and closes it on cancel, returning its unacked messages at once.  A session promises AMQP's
rule instead (a cancelled consumer's deliveries stay unacked until settled or the session closes), so
a listener that stops can still ack the message it is handling; and one channel gives every delivery
of the session one delivery-tag space, as RabbitMQ's channel does.  The buffer handler runs no
application code, so the pump drains it inline when a coroutine of this loop publishes.

Direct reply-to (:data:`~minimq.app.transport.REPLY_TO`) is consumed on the publishing channel, where
RabbitMQ requires it; its deliveries reach the same buffer.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any, Iterable

from ..broker import Broker
from ..channel import PublishOutcome
from ..errors import ChannelClosed
from ..message import ConsumerCancelled, Delivery, Properties, Returned
from ..aio import Connection, connect
from ..aio.pump import EventPump
from .declarations import Binding, Declarable, Exchange, Queue
from .memory import inbound, returned_message
from .messages import Inbound
from .transport import REPLY_TO, PublishResult

__all__ = ["AsyncMemoryTransport", "AsyncMemorySession"]


class AsyncMemorySession:
    """One task's session on an in-process broker (see the module docstring).  Open it with
    :meth:`AsyncMemoryTransport.session` (or ``await AsyncMemorySession.open(broker)``)."""

    def __init__(self, connection: Connection, publisher: Any, consumer_channel: Any) -> None:
        self.connection = connection
        self._pub = publisher
        self._sub = consumer_channel
        #: deliveries waiting for next_delivery (core Delivery records, in arrival order)
        self._buffer: deque[Delivery] = deque()
        #: futures of tasks waiting in next_delivery; resolved when something arrives or the session closes
        self._waiters: list[asyncio.Future] = []
        #: futures of mandatory publishes that came back unroutable, in publish order; each gets its
        #: basic.return (returns arrive in publish order, so FIFO matches them)
        self._returns: deque[asyncio.Future] = deque()
        #: consumer tags the broker cancelled (their queue was deleted)
        self.cancelled: set[str] = set()
        self._reply_consumer: str | None = None
        self._pump = EventPump(connection.loop, consumer_channel, self._on_event, drain_inline=True)
        publisher.add_on_return_callback(self._on_return)

    @classmethod
    async def open(cls, broker: Broker, vhost: str = "/") -> AsyncMemorySession:
        """Connect to ``vhost`` of ``broker`` and open the session's two channels."""
        connection = await connect(broker, vhost)
        publisher = await connection.channel()
        await publisher.confirm_select()
        return cls(connection, publisher, connection.core.channel(inline=False))

    @property
    def is_open(self) -> bool:
        """False once either channel or the connection closed (by the client or the broker)."""
        return self._pub.is_open and self._sub.is_open

    # -- events (loop thread; no application code runs here) --------------------------------------
    def _on_event(self, event: Any) -> None:
        if type(event) is Delivery:
            self._buffer.append(event)
        elif isinstance(event, ConsumerCancelled):
            self.cancelled.add(event.consumer_tag)
        elif event is not None:
            return
        self._wake()

    def _on_reply(self, delivery: Any) -> None:
        """A direct reply-to delivery (an aio Delivery from the publishing channel)."""
        self._buffer.append(delivery.delivery)
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _on_return(self, returned: Returned) -> None:
        if self._returns:
            future = self._returns.popleft()
            if not future.done():
                future.set_result(returned)

    # -- the session protocol ---------------------------------------------------------------------
    async def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]:
        """Declare each in order; ``{requested queue name: actual name}``."""
        names: dict[str, str] = {}
        ch = self._pub
        for item in declarables:
            if isinstance(item, Queue):
                ok = await ch.queue_declare(item.name, durable=item.durable, exclusive=item.exclusive,
                                            auto_delete=item.auto_delete, arguments=dict(item.arguments) or None)
                names[item.name] = ok.queue
            elif isinstance(item, Exchange):
                await ch.exchange_declare(item.name, item.type, durable=item.durable,
                                          auto_delete=item.auto_delete, internal=item.internal,
                                          arguments=dict(item.arguments) or None)
            elif isinstance(item, Binding):
                destination = names.get(item.destination, item.destination)
                if item.destination_type == "queue":
                    await ch.queue_bind(destination, item.source, item.routing_key, dict(item.arguments) or None)
                else:
                    await ch.exchange_bind(destination, item.source, item.routing_key,
                                           dict(item.arguments) or None)
            else:
                raise TypeError(f"cannot declare {item!r}: expected Queue, Exchange or Binding")
        return names

    async def check_queue(self, name: str) -> None:
        """Passive declare: raises :class:`minimq.NotFound` (closing the session) when ``name`` is missing."""
        await self._pub.queue_declare(name, passive=True)

    async def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                      mandatory: bool = False) -> PublishResult:
        """Publish and await the confirm; a mandatory message no queue took comes back in the result."""
        outcome = await self._pub.basic_publish(exchange, routing_key, body, properties, mandatory)
        if not (mandatory and outcome is PublishOutcome.UNROUTABLE):
            return PublishResult(outcome is not PublishOutcome.NACKED)
        # the core queued the basic.return in this publish; the publishing channel's pump hands it
        # to _on_return on a later turn of the loop (before it reports the channel closed)
        future = self.connection.loop.create_future()
        self._returns.append(future)
        returned: Returned = await future
        return PublishResult(True, returned_message(returned))

    async def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """Start a consumer (``basic.qos`` ``prefetch`` first, when given); returns its tag."""
        if queue == REPLY_TO:
            tag = await self._pub.basic_consume(queue, self._on_reply, auto_ack=auto_ack, exclusive=exclusive)
            self._reply_consumer = tag
            return tag
        if prefetch:
            self._sub.basic_qos(prefetch_count=prefetch)
        return self._sub.basic_consume(queue, auto_ack=auto_ack, exclusive=exclusive)

    async def next_delivery(self, timeout: float | None) -> Inbound | None:
        """The next delivery, waiting up to ``timeout`` seconds (None: forever); None when none came
        (or the broker cancelled a consumer).  Raises ``ChannelClosed`` once the session is closed and
        nothing is left."""
        buffer = self._buffer
        loop = self.connection.loop
        deadline = None if timeout is None else loop.time() + timeout
        cancelled = len(self.cancelled)
        while True:
            if buffer:
                return inbound(buffer.popleft(), self)
            if len(self.cancelled) != cancelled:
                return None
            if not self.is_open:
                raise ChannelClosed("the session is closed", self._sub.close_cause)
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return None
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, remaining)
            except asyncio.TimeoutError:
                return None
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    async def get(self, queue: str, auto_ack: bool = False) -> Inbound | None:
        """``basic.get`` on the consumer channel (its tag shares the deliveries' tag space)."""
        delivery = self._sub.basic_get(queue, auto_ack=auto_ack)
        return None if delivery is None else inbound(delivery, self)

    async def ack(self, delivery_tag: int) -> None:
        """Acknowledge one delivery."""
        self._sub.basic_ack(delivery_tag)

    async def nack(self, delivery_tag: int, requeue: bool) -> None:
        """Negatively acknowledge one delivery."""
        self._sub.basic_nack(delivery_tag, requeue=requeue)

    async def cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer; its unacked deliveries stay unacked until settled or the session closes.
        Deliveries already buffered for it are still handed out by :meth:`next_delivery`."""
        if consumer_tag == self._reply_consumer:
            self._reply_consumer = None
            await self._pub.basic_cancel(consumer_tag)
        else:
            self._sub.basic_cancel(consumer_tag)

    async def close(self) -> None:
        """Close the connection: unacked deliveries, buffered ones included, return to their queues."""
        self._buffer.clear()
        await self.connection.close()
        self._wake()


class AsyncMemoryTransport:
    """``memory://`` for asyncio: sessions on an in-process broker (a new one when none is given)."""

    def __init__(self, broker: Broker | None = None, vhost: str = "/") -> None:
        self.owns_broker = broker is None
        self.broker = broker if broker is not None else Broker()
        self.vhost = vhost
        self.url = "memory://"
        self._sessions: list[AsyncMemorySession] = []

    async def session(self) -> AsyncMemorySession:
        """A new session, bound to the running event loop."""
        session = await AsyncMemorySession.open(self.broker, self.vhost)
        self._sessions.append(session)
        return session

    async def close(self) -> None:
        """Close every session (and the broker, if this transport made it)."""
        sessions, self._sessions = self._sessions, []
        for session in sessions:
            await session.close()
        if self.owns_broker:
            self.broker.close()
