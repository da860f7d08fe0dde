"""The in-process transport (``memory://``): sessions over a :class:`minimq.Broker`'s core channels.

A session holds one core connection with two channels: one that publishes (blocking confirms, an
inline return callback, declarations) and one whose events are pulled (``inline=False``: consumer
deliveries wait in its inbox until the owning thread asks with :meth:`MemorySession.next_delivery`).
Publishing and consuming on separate channels keeps a returned message from landing among the
deliveries and lets a worker block in ``next_delivery`` while another thread's publishes proceed.

Direct reply-to (:data:`~minimq.app.transport.REPLY_TO`) is the exception: RabbitMQ routes a reply
only to the channel that consumes the pseudo-queue *and* published the request, so once the session
consumes it, requests with ``reply_to=REPLY_TO`` are published on the pulled channel (put in
blocking confirm mode then), and their replies arrive among the session's deliveries.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

from ..broker import Broker
from ..channel import PublishOutcome
from ..message import ConsumerCancelled, Delivery, Properties, Returned
from .declarations import Binding, Declarable, Exchange, Queue
from .messages import Inbound, ReturnedMessage
from .transport import REPLY_TO, PublishResult

__all__ = ["MemoryTransport", "MemorySession"]

_EMPTY = Properties()
#: the results of most publishes, shared (PublishResult is frozen)
_ACKED = PublishResult(True)
_NACKED = PublishResult(False)


def returned_message(returned: Returned) -> ReturnedMessage:
    """A core ``basic.return`` as the application API's :class:`ReturnedMessage`."""
    return ReturnedMessage(returned.reply_code, returned.reply_text, returned.exchange, returned.routing_key,
                           returned.body, returned.properties or _EMPTY)


def inbound(delivery: Delivery, session: Any) -> Inbound:
    """A core delivery as the application API's :class:`Inbound`."""
    message = delivery.message
    return Inbound(message.body, message.properties or _EMPTY, delivery.exchange, delivery.routing_key,
                   delivery.delivery_tag, delivery.redelivered, delivery.consumer_tag, session)


class MemorySession:
    """One thread's session on an in-process broker (see the module docstring)."""

    def __init__(self, broker: Broker, vhost: str = "/") -> None:
        self.connection = broker.connect(vhost)
        self._pub = self.connection.channel()
        self._pub.confirm_select()
        self._returned: list[Returned] = []
        self._pub.add_on_return_callback(self._returned.append)
        self._sub = self.connection.channel(inline=False)
        #: the pulled channel consumes the direct reply-to pseudo-queue (see the module docstring)
        self._replies = False
        #: consumer tags the broker cancelled (their queue was deleted)
        self.cancelled: set[str] = set()

    @property
    def is_open(self) -> bool:
        """False once either channel or the connection closed."""
        return self._pub.is_open and self._sub.is_open

    def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]:
        """Declare each in order; ``{requested queue name: actual name}``."""
        names: dict[str, str] = {}
        ch = self._pub
        for item in declarables:
            if isinstance(item, Queue):
                ok = ch.queue_declare(item.name, durable=item.durable, exclusive=item.exclusive,
                                      auto_delete=item.auto_delete, arguments=dict(item.arguments) or None)
                names[item.name] = ok.queue
            elif isinstance(item, Exchange):
                ch.exchange_declare(item.name, item.type, durable=item.durable, auto_delete=item.auto_delete,
                                    internal=item.internal, arguments=dict(item.arguments) or None)
            elif isinstance(item, Binding):
                destination = names.get(item.destination, item.destination)
                if item.destination_type == "queue":
                    ch.queue_bind(destination, item.source, item.routing_key, dict(item.arguments) or None)
                else:
                    ch.exchange_bind(destination, item.source, item.routing_key, dict(item.arguments) or None)
            else:
                raise TypeError(f"cannot declare {item!r}: expected Queue, Exchange or Binding")
        return names

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                mandatory: bool = False) -> PublishResult:
        """Publish with a blocking confirm; a mandatory message no queue took comes back in the result."""
        if self._replies and properties is not None and properties.reply_to == REPLY_TO:
            return self._publish_request(exchange, routing_key, body, properties, mandatory)
        returned = self._returned
        if returned:
            returned.clear()
        outcome = self._pub.basic_publish(exchange, routing_key, body, properties, mandatory=mandatory)
        if not returned:
            return _NACKED if outcome is PublishOutcome.NACKED else _ACKED
        return PublishResult(outcome is not PublishOutcome.NACKED, returned_message(returned.pop()))

    def _publish_request(self, exchange: str, routing_key: str, body: bytes, properties: Properties,
                         mandatory: bool) -> PublishResult:
        """A direct reply-to request, on the channel that consumes the replies.  The pulled channel
        runs no return callbacks, so a returned request is described here: a mandatory message that
        no queue took is a ``basic.return`` with 312 NO_ROUTE."""
        outcome = self._sub.basic_publish(exchange, routing_key, body, properties, mandatory=mandatory)
        back = None
        if mandatory and outcome.name == "UNROUTABLE":
            back = ReturnedMessage(312, "NO_ROUTE", exchange, routing_key, body, properties)
        return PublishResult(outcome.name != "NACKED", back)

    def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """Start a consumer on the pulled channel."""
        if queue == REPLY_TO:
            if not self._replies:
                self._sub.confirm_select()
            tag = self._sub.basic_consume(queue, auto_ack=auto_ack, exclusive=exclusive)
            self._replies = True
            return tag
        if prefetch:
            self._sub.basic_qos(prefetch_count=prefetch)
        return self._sub.basic_consume(queue, auto_ack=auto_ack, exclusive=exclusive)

    def next_delivery(self, timeout: float | None) -> Inbound | None:
        """The next delivery, waiting up to ``timeout`` seconds."""
        while True:
            event = self._sub.get_event(timeout)
            if event is None:
                return None
            if type(event) is Delivery:
                return inbound(event, self)
            if isinstance(event, ConsumerCancelled):
                self.cancelled.add(event.consumer_tag)
                return None

    def get(self, queue: str, auto_ack: bool = False) -> Inbound | None:
        """``basic.get`` on the pulled channel."""
        delivery = self._sub.basic_get(queue, auto_ack=auto_ack)
        return None if delivery is None else inbound(delivery, self)

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge one delivery."""
        self._sub.basic_ack(delivery_tag)

    def nack(self, delivery_tag: int, requeue: bool) -> None:
        """Negatively acknowledge one delivery."""
        self._sub.basic_nack(delivery_tag, requeue=requeue)

    def cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer."""
        self._sub.basic_cancel(consumer_tag)

    def close(self) -> None:
        """Close the connection: unacked deliveries return to their queues."""
        self.connection.close()


class MemoryTransport:
    """``memory://``: sessions on an in-process broker (a new one when none is given)."""

    def __init__(self, broker: Broker | None = None, vhost: str = "/") -> None:
        self.owns_broker = broker is None
        self.broker = broker if broker is not None else Broker()
        self.vhost = vhost
        self.url = "memory://"
        self._sessions: list[MemorySession] = []
        self._lock = threading.Lock()

    def session(self) -> MemorySession:
        """A new session."""
        session = MemorySession(self.broker, self.vhost)
        with self._lock:
            self._sessions.append(session)
        return session

    def close(self) -> None:
        """Close every session (and the broker, if this transport made it)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()
        if self.owns_broker:
            self.broker.close()
