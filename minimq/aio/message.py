"""Deliveries as asyncio code handles them: awaitable settlement and ``process()``.

:class:`Delivery` wraps the core's :class:`minimq.Delivery` (``.delivery``) and settles it through
the core channel that received it.  The names and the behaviour of settlement follow aio-pika's
``IncomingMessage``: ``ack(multiple=False)``, ``nack(multiple=False, requeue=True)``,
``reject(requeue=False)``, a ``processed`` flag, :class:`MessageProcessError` for a second settlement
of the same delivery (raised before anything reaches the broker, as aio-pika does) and ``TypeError``
for settling a delivery taken with ``auto_ack``.

``process()`` (:class:`ProcessContext`) acks when its block succeeds and, when the block raises an
``Exception``, rejects (``requeue`` as given; a message not requeued is dead-lettered if its queue has
a dead-letter exchange, otherwise dropped) and lets the exception propagate; with
``reject_on_redelivered`` a redelivered message is rejected without requeue; with
``ignore_processed`` a delivery already settled inside the block is left alone.  One deliberate
difference from aio-pika: when the block is left by ``asyncio.CancelledError`` (or another
``BaseException`` that is not an ``Exception``: ``KeyboardInterrupt``, ``SystemExit``,
``GeneratorExit``) the delivery is *not* settled: it stays unacked, and returns to its queue when its
consumer is cancelled or its channel closes (a cancelled task's consumer is, see
:mod:`minimq.aio.consumer`).  Cancellation means "not processed", not "failed".
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Protocol

from ..errors import ChannelClosed
from ..message import Delivery as CoreDelivery
from ..message import Properties



class SettlingChannel(Protocol):
    """What a :class:`Delivery` needs of the :class:`minimq.aio.Channel` it came from (this module sits
    below the channel module: it names the one call it makes instead of importing the class)."""

    def _settlement_failed(self, error: Exception) -> None:
        """A core settlement raised ``error``: close what it closes, or raise the channel's own
        ``ChannelClosed`` instead; the caller raises ``error`` if this returns."""

__all__ = ["Delivery", "IncomingMessage", "MessageProcessError", "ProcessContext"]

log = logging.getLogger("minimq.aio")


class MessageProcessError(Exception):
    """A delivery was acked, nacked or rejected a second time (nothing was sent to the broker)."""

    def __init__(self, message: str, delivery: Delivery) -> None:
        super().__init__(message)
        self.delivery = delivery


class Delivery:
    """One message handed to an asyncio consumer or returned by ``await channel.basic_get(...)``."""

    __slots__ = ("delivery", "channel", "no_ack", "_processed")

    def __init__(self, delivery: CoreDelivery, channel: SettlingChannel, no_ack: bool) -> None:
        #: the core :class:`minimq.Delivery`
        self.delivery = delivery
        #: the :class:`minimq.aio.Channel` it was received on
        self.channel = channel
        #: taken with ``auto_ack``: nothing to settle
        self.no_ack = no_ack
        self._processed = False

    # -- what was delivered ---------------------------------------------------------------------
    @property
    def body(self) -> bytes:
        """The message body."""
        return self.delivery.body

    @property
    def properties(self) -> Properties | None:
        """The message's properties (None when published without any)."""
        return self.delivery.properties

    @property
    def headers(self) -> dict | None:
        """The ``headers`` property, None when absent."""
        return self.delivery.headers

    @property
    def correlation_id(self) -> str | None:
        """The ``correlation_id`` property, None when absent."""
        props = self.delivery.properties
        return None if props is None else props.correlation_id

    @property
    def reply_to(self) -> str | None:
        """The ``reply_to`` property, None when absent."""
        props = self.delivery.properties
        return None if props is None else props.reply_to

    @property
    def delivery_tag(self) -> int:
        """The delivery tag on the core channel that received it."""
        return self.delivery.delivery_tag

    @property
    def redelivered(self) -> bool:
        """True if the message was delivered before (and returned to its queue)."""
        return self.delivery.redelivered

    @property
    def exchange(self) -> str:
        """The exchange it was published to."""
        return self.delivery.exchange

    @property
    def routing_key(self) -> str:
        """The routing key it was published with."""
        return self.delivery.routing_key

    @property
    def consumer_tag(self) -> str | None:
        """The consumer's tag (None for ``basic_get``)."""
        return self.delivery.consumer_tag

    @property
    def message_count(self) -> int | None:
        """For ``basic_get``: ready messages left in the queue; None for consumer deliveries."""
        return self.delivery.message_count

    @property
    def processed(self) -> bool:
        """True once acked, nacked or rejected through this object."""
        return self._processed

    # -- settlement -----------------------------------------------------------------------------
    def _may_settle(self, what: str) -> None:
        if self.no_ack:
            raise TypeError(f"cannot {what} a delivery taken with auto_ack")
        if self._processed:
            raise MessageProcessError("delivery already processed", self)

    async def ack(self, multiple: bool = False) -> None:
        """``basic.ack`` (``multiple``: every unacked delivery of its consumer up to this one).

        Raises what the core raises (``ChannelClosed`` once its consumer or channel is closed: the
        message is then back in its queue; 406 ``PreconditionFailed`` for a tag already settled,
        which closes the channel), :class:`MessageProcessError` if settled through this object already.
        """
        if self.no_ack or self._processed:
            self._may_settle("ack")
        delivery = self.delivery
        # straight to the core channel that received it (one call, no wrappers: half of every
        # consume -> ack); a refusal goes through the aio channel's one error path
        try:
            delivery.channel.basic_ack(delivery.delivery_tag, multiple)
        except Exception as error:
            self.channel._settlement_failed(error)
            raise
        self._processed = True

    async def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        """``basic.nack``: requeued, or (``requeue=False``) dead-lettered / dropped."""
        self._may_settle("nack")
        delivery = self.delivery
        try:
            delivery.channel.basic_nack(delivery.delivery_tag, multiple, requeue)
        except Exception as error:
            self.channel._settlement_failed(error)
            raise
        self._processed = True

    async def reject(self, requeue: bool = False) -> None:
        """``basic.reject``: dropped or dead-lettered by default (aio-pika's default), requeued with
        ``requeue=True``."""
        self._may_settle("reject")
        delivery = self.delivery
        try:
            delivery.channel.basic_reject(delivery.delivery_tag, requeue)
        except Exception as error:
            self.channel._settlement_failed(error)
            raise
        self._processed = True

    def process(self, requeue: bool = False, reject_on_redelivered: bool = False,
                ignore_processed: bool = False) -> ProcessContext:
        """``async with delivery.process(): ...``: ack on success, reject on an exception (see the
        module docstring for the rules, and the one difference from aio-pika on cancellation)."""
        return ProcessContext(self, requeue=requeue, reject_on_redelivered=reject_on_redelivered,
                              ignore_processed=ignore_processed)

    def __repr__(self) -> str:
        return f"aio.Delivery({self.delivery!r}, processed={self._processed})"


#: aio-pika's name for the same thing
IncomingMessage = Delivery


class ProcessContext:
    """The context manager :meth:`Delivery.process` returns."""

    __slots__ = ("message", "requeue", "reject_on_redelivered", "ignore_processed")

    def __init__(self, message: Delivery, *, requeue: bool, reject_on_redelivered: bool,
                 ignore_processed: bool) -> None:
        self.message = message
        self.requeue = requeue
        self.reject_on_redelivered = reject_on_redelivered
        self.ignore_processed = ignore_processed

    async def __aenter__(self) -> Delivery:
        return self.message

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        message = self.message
        if exc_type is None:
            if not self.ignore_processed or not message.processed:
                await message.ack()
            return
        if not issubclass(exc_type, Exception):
            return  # cancelled, not failed: left unacked (see the module docstring)
        if self.ignore_processed and message.processed:
            return
        try:
            if self.reject_on_redelivered and message.redelivered:
                log.info("minimq.aio: %r was redelivered and is rejected", message)
                await message.reject(requeue=False)
            else:
                await message.reject(requeue=self.requeue)
        except ChannelClosed:
            # its consumer or channel is closed: the message is back in its queue already; the
            # block's own exception is the one that matters
            log.warning("minimq.aio: reject not sent, the channel of %r is closed", message)
