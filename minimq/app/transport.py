"""The small interface between the application API and a broker: transports and sessions.

A *transport* reaches one broker: minimq in this process (:mod:`.memory`, ``memory://``) or a RabbitMQ
over the network (:mod:`.amqp`, ``amqp://``, through pika for sync sessions and aio-pika for async
ones).  It opens *sessions*.  A session is one AMQP channel's worth of work owned by one thread (sync)
or one task (async); the template and every listener worker use their own.  Nothing above this
module knows which transport it talks to: the application code never branches on it.

Sessions pull deliveries (``next_delivery(timeout)``) rather than pushing them into callbacks: a
worker thread or task blocks there, handles one message, settles it, and looks again, so handlers
never run on a publisher's thread, and stopping is a flag the loop checks between messages.

Confirms and returns are synchronous at this level: in confirm mode ``publish`` returns once the
broker confirmed the message, returning :class:`PublishResult` (acked, and the returned message if it
was mandatory and unroutable).  Both transports can give that exactly once per message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol

from ..message import Properties
from .declarations import Declarable
from .messages import Inbound, ReturnedMessage

__all__ = ["Transport", "Session", "AsyncTransport", "AsyncSession", "PublishResult", "REPLY_TO"]

#: RabbitMQ's direct reply-to pseudo-queue (consume it with auto_ack, then publish with reply_to=it)
REPLY_TO = "amq.rabbitmq.reply-to"


@dataclass(frozen=True)
class PublishResult:
    """What became of one publish in confirm mode: ``acked`` (False: the broker nacked it) and
    ``returned`` (the ``basic.return`` of a mandatory message no queue took, or None)."""

    acked: bool
    returned: ReturnedMessage | None = None


class Session(Protocol):
    """One thread's channel (sync).  Methods raise the core's :mod:`minimq.errors` classes for
    refusals (transports translate their library's exceptions), so callers handle one family."""

    def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]:
        """Declare each in order; returns ``{requested name: actual name}`` for queues (server-named ones)."""

    def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                mandatory: bool = False) -> PublishResult:
        """Publish in confirm mode; returns once confirmed."""

    def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """Start a consumer (with ``basic.qos`` ``prefetch`` for it); returns its tag."""

    def next_delivery(self, timeout: float | None) -> Inbound | None:
        """The next delivery of this session's consumers, waiting up to ``timeout`` s (None: none came)."""

    def get(self, queue: str, auto_ack: bool = False) -> Inbound | None:
        """``basic.get``."""

    def ack(self, delivery_tag: int) -> None:
        """Acknowledge one delivery."""

    def nack(self, delivery_tag: int, requeue: bool) -> None:
        """Negatively acknowledge one delivery (``requeue=False``: dead-letter or drop)."""

    def cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer (its unacked deliveries stay unacked until settled or the session closes)."""

    def close(self) -> None:
        """Close; unacked deliveries return to their queues."""

    @property
    def is_open(self) -> bool:
        """False once closed (by the client or the broker)."""


class Transport(Protocol):
    """Reaches one broker; opens sessions for threads."""

    url: str

    def session(self) -> Session:
        """A new session (its own channel, on its own connection where the library needs one per thread)."""

    def close(self) -> None:
        """Close every session and connection this transport opened."""


class AsyncSession(Protocol):
    """One task's channel: the same operations as :class:`Session`, as coroutines."""

    async def declare(self, declarables: Iterable[Declarable]) -> dict[str, str]: ...

    async def publish(self, exchange: str, routing_key: str, body: bytes, properties: Properties | None = None,
                      mandatory: bool = False) -> PublishResult: ...

    async def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False,
                      exclusive: bool = False) -> str: ...

    async def next_delivery(self, timeout: float | None) -> Inbound | None: ...

    async def get(self, queue: str, auto_ack: bool = False) -> Inbound | None: ...

    async def ack(self, delivery_tag: int) -> None: ...

    async def nack(self, delivery_tag: int, requeue: bool) -> None: ...

    async def cancel(self, consumer_tag: str) -> None: ...

    async def close(self) -> None: ...

    @property
    def is_open(self) -> bool: ...


class AsyncTransport(Protocol):
    """Reaches one broker from asyncio."""

    url: str

    async def session(self) -> AsyncSession: ...

    async def close(self) -> None: ...
