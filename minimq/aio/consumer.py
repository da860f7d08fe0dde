"""Asyncio consumers: ``async for delivery in channel.consume(queue)``, and what ends them.

Each consumer gets its own core channel (``inline=False``, on the same core connection, so the
connection's exclusive queues are reachable), with an :class:`~minimq.aio.pump.EventPump` that moves
its deliveries into the consumer's buffer on the loop thread and wakes the tasks waiting in
``__anext__``.  No polling: a publish on the loop's own thread hands its deliveries over inside the
publish (the buffer only stores them, so no application code runs there); a publish from any other
thread wakes the loop through ``loop.call_soon_threadsafe``.

Cost model (HOT): per delivery, one :class:`~minimq.aio.Delivery` and one deque append; a task
finding the buffer non-empty takes the next delivery without suspending; a waiting task costs one
future per wait.  Prefetch is the core's: the consumer's channel gets the aio channel's
``basic_qos`` settings, so at most ``prefetch_count`` deliveries are unacked at once.

Why a channel per consumer.  RabbitMQ returns unacked messages to their queue only when their
channel closes; ``basic.cancel`` leaves them unacked.  minimq.aio promises that *cancelling a
consumer returns its unacked messages*, so cancelling one closes its channel, through the core's
public ``Channel.close``.  Exactly these messages return (at their original place, ``redelivered``
set): every delivery of that consumer not yet acked, nacked or rejected, whether the application
holds it or it still waits in the buffer.  Deliveries of other consumers, and ``basic_get``
deliveries of the aio channel, are not touched.  Settling a returned delivery afterwards raises
``ChannelClosed`` (it is back in the queue and will be delivered again).

What cancels a consumer (each one closes its channel at once unless noted):

* ``await channel.basic_cancel(tag)``, ``await iterator.close()``, leaving ``async with
  channel.consume(queue) as messages:``;
* cancelling the task that waits in ``async for`` (the ``CancelledError`` arrives in ``__anext__``);
* the end of the task that created it (the one that called ``consume``; for ``basic_consume``, the
  task running the callbacks), however it ends: a task cancelled while its loop body runs is covered
  here (done callbacks run on the loop soon after the task ends).  The owner is the creating task,
  not whichever task first awaits ``__anext__``: ``asyncio.wait_for(messages.__anext__(), t)`` runs
  it in a task of its own on Python 3.11;
* dropping the iterator (``break`` out of ``async for channel.consume(...)``, which holds it nowhere
  else): it is closed on the loop's next turn (finalizers may run at awkward moments, so they only
  schedule the close).  ``async with`` is the deterministic spelling;
* closing the aio channel or connection (then ``async for`` ends), or an error that closes them
  (then ``__anext__`` raises ``ChannelClosed`` with the error as ``cause``).

A server cancel (the queue was deleted) ends the iteration after the deliveries that came before it.
Consumers of the direct reply-to pseudo-queue (``amq.rabbitmq.reply-to``) are the exception: they
must live on the channel that publishes the requests, need ``auto_ack`` and so hold nothing
unacked; cancelling one is a ``basic_cancel`` on the aio channel's own core channel.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any, Protocol

from ..errors import ChannelClosed
from ..message import ConsumerCancelled
from ..message import Delivery as CoreDelivery
from .message import Delivery



class SubscriptionOwner(Protocol):
    """What a :class:`Subscription` needs of its :class:`minimq.aio.Channel` (this module sits below the
    channel module: it names what it uses instead of importing the class)."""

    number: int
    loop: asyncio.AbstractEventLoop

    def _forget(self, sub: Subscription) -> None:
        """The subscription ended: the channel stops tracking it."""

__all__ = ["ConsumerIterator", "Subscription"]


class Subscription:
    """The state of one consumer, shared by its iterator, its pump and its aio channel (loop thread)."""

    def __init__(self, owner: SubscriptionOwner, core_channel: Any, own_channel: bool, auto_ack: bool) -> None:
        self.owner = owner
        #: the core channel the consumer lives on (its own, except for direct reply-to)
        self.core = core_channel
        self.own_channel = own_channel
        self.auto_ack = auto_ack
        self.tag: str | None = None
        self.buffer: deque[Delivery] = deque()
        #: futures of the tasks waiting in ``__anext__`` (one each, so cancelling one task cancels
        #: only its own wait); resolved and cleared when something arrives or the consumer ends
        self.waiters: list[asyncio.Future] = []
        #: no more deliveries: cancelled by the client, failed, or the server's cancel was consumed
        self.ended = False
        self.server_cancelled = False
        #: the ChannelClosed that ``__anext__`` raises once the buffer is empty
        self.failure: ChannelClosed | None = None
        self.task: asyncio.Task | None = None
        #: the task running a callback-style consumer (``basic_consume``)
        self.runner: asyncio.Task | None = None
        #: the pump of the consumer's own core channel (set by the aio channel; None for direct
        #: reply-to, whose channel also carries the aio channel's other events and user callbacks): a
        #: waiting iterator drains it at once when another thread scheduled a drain, instead of waiting
        #: for the loop to run it; it only feeds this subscription, so no user code runs inside ``__anext__``
        self.pump: Any = None
        #: a callback consumer's callback has taken a delivery and not returned yet (see :meth:`busy`)
        self.in_callback = False

    def busy(self) -> str | None:
        """The core channel's busy probe (``Broker.run_until_idle``; any thread): deliveries waiting in
        the buffer, or a callback consumer's callback running.  A delivery an ``async for`` consumer
        has taken counts as handled; one a ``basic_consume`` callback has taken, once the callback
        returned (or its awaitable finished)."""
        if self.ended:
            return None
        if self.buffer:
            return f"consumer {self.tag!r} has {len(self.buffer)} delivery(ies) not yet taken by its task"
        if self.in_callback:
            return f"consumer {self.tag!r} is running its callback"
        return None

    def on_event(self, event: Any) -> None:
        """An event of this consumer's channel (pump, loop thread); ``None``: the channel closed.

        Runs no application code: its pump may call it inside the publish that made the delivery."""
        if self.ended:
            return
        if type(event) is CoreDelivery:
            if self.own_channel or event.consumer_tag == self.tag:
                self.buffer.append(Delivery(event, self.owner, self.auto_ack))
                if self.waiters:
                    self.wake()
        elif event is None:
            if self.core.is_closed:
                self.fail(None)
        elif type(event) is ConsumerCancelled and event.consumer_tag == self.tag:
            self.server_cancelled = True
            self.wake()

    def wake(self) -> None:
        """Wake every task waiting in ``__anext__``: each looks at the buffer and the state again."""
        waiters = self.waiters
        if waiters:
            self.waiters = []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(None)

    def fail(self, cause: Any) -> None:
        """The consumer's channel (or its aio channel) was closed by an error or by the broker."""
        if self.ended:
            return
        if cause is None:
            cause = self.core.close_cause if self.core.close_cause is not None else \
                self.core.connection.close_cause
        self.failure = ChannelClosed(f"channel {self.owner.number} is closed", cause)
        self.close()

    def close(self) -> None:
        """Cancel the consumer: its channel closes and its unacked messages return (loop thread)."""
        if self.ended:
            return
        self.ended = True
        self.buffer.clear()  # returned to the queue by the close below
        self.wake()
        task = self.task
        if task is not None:  # a long-lived task keeps no reference to the consumers it closed
            task.remove_done_callback(self.task_done)
        if self.own_channel:
            self.core.close()
        else:
            try:
                self.core.basic_cancel(self.tag)
            except ChannelClosed:
                pass
        self.owner._forget(self)

    def close_from_finalizer(self) -> None:
        """Schedule :meth:`close` on the loop (any thread; a finalizer must not take the broker lock,
        which the thread running it may hold)."""
        if self.ended:
            return
        loop = self.owner.loop
        try:
            loop.call_soon_threadsafe(self.close)
        except RuntimeError:  # the loop is gone: close from a thread of our own
            try:
                threading.Thread(target=self.close, name="minimq-aio-close", daemon=True).start()
            except RuntimeError:  # interpreter shutdown
                pass

    def bind(self, task: asyncio.Task | None) -> None:
        """Make ``task`` the consumer's owner: it is cancelled when that task ends (None: no owner)."""
        if self.task is not None:
            self.task.remove_done_callback(self.task_done)
        self.task = task
        if task is not None and not self.ended:
            task.add_done_callback(self.task_done)

    def task_done(self, task: asyncio.Task) -> None:
        """Done callback of the owning task."""
        self.close()


class ConsumerIterator:
    """``async for delivery in channel.consume(queue)``; also ``async with ... as messages``.

    The consumer is registered when :meth:`Channel.consume` returns (``consumer_tag`` is known then);
    see the module docstring for everything that cancels it.
    """

    __slots__ = ("_sub", "__weakref__")

    def __init__(self, subscription: Subscription) -> None:
        self._sub = subscription

    @property
    def consumer_tag(self) -> str:
        """The consumer's tag."""
        return self._sub.tag  # type: ignore[return-value]

    @property
    def is_closed(self) -> bool:
        """True once the consumer is cancelled (no more deliveries will come)."""
        return self._sub.ended

    def __aiter__(self) -> ConsumerIterator:
        return self

    async def __anext__(self) -> Delivery:
        sub = self._sub
        while True:
            if sub.buffer:
                if sub.runner is not None:
                    sub.in_callback = True  # before the pop: a delivery in hand stays visible to busy()
                return sub.buffer.popleft()
            if sub.failure is not None:
                raise sub.failure
            if sub.ended:
                raise StopAsyncIteration
            if sub.server_cancelled:
                sub.close()
                raise StopAsyncIteration
            pump = sub.pump
            if pump is not None and pump.scheduled:
                # events are waiting in the core channel (another thread published them and a drain
                # is scheduled): take them now, on the loop thread, rather than after a turn of the loop
                pump.drain()
                if sub.buffer or sub.ended or sub.server_cancelled:
                    continue
            waiter = sub.owner.loop.create_future()
            sub.waiters.append(waiter)
            try:
                await waiter
            except BaseException:  # cancelled while waiting: the consumer goes with the task
                if waiter in sub.waiters:
                    sub.waiters.remove(waiter)
                sub.close()
                raise

    async def close(self) -> None:
        """Cancel the consumer now: its unacked messages return to the queue."""
        self._sub.close()

    aclose = close

    async def __aenter__(self) -> ConsumerIterator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._sub.close()

    def __del__(self) -> None:
        sub = getattr(self, "_sub", None)
        if sub is not None and not sub.ended:
            sub.close_from_finalizer()

    def __repr__(self) -> str:
        state = "closed" if self._sub.ended else "open"
        return f"ConsumerIterator({self._sub.tag!r}, {state})"
