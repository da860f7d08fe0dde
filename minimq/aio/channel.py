"""The asyncio channel: every AMQP method as a coroutine, over one core channel.

Every core operation is synchronous and non-blocking (it takes the broker lock, does a short piece
of work and returns), so these coroutines call the core directly on the loop's thread: awaiting them
never waits for another thread, and errors are raised from the awaiting call as the core raises them
(the :class:`~minimq.errors.AMQPError` family, ``ChannelClosed``, ``ConnectionClosed``).  Two calls can
wait for a disk: a publish in confirm mode of a persistent message (``delivery_mode=2``) and
``tx_commit``, on a broker with a store.  Confirms are asynchronous in the core
(``confirm_select(wait=False)`` on the core channel): the publish itself returns at once and its
confirm reaches the loop as an event through the pump, so awaiting a confirm
(:meth:`Channel.basic_publish` in the default ``confirm_select()`` mode, :meth:`Channel.wait_for_confirms`)
never blocks the loop and never uses a thread; many publishes awaited at once share one commit.
``tx_commit`` commits in the core at once (``tx_commit(wait=False)``) and awaits the store's commit
ticket covering it the same way (``Store.when_durable``, whose callback reaches the loop with
``call_soon_threadsafe``); only a store without tickets (``flush()`` alone) is waited for in the
loop's default executor.  If the channel closes while a confirm or a commit is awaited, the awaiting
tasks get ``ChannelClosed`` carrying the cause at once.

The aio channel owns one core channel (``inline=False``: its returned messages and direct reply-to
deliveries reach the loop through an :class:`~minimq.aio.pump.EventPump`) for declarations,
publishes, ``basic_get`` and the channel's modes, and one core channel per consumer (see
:mod:`minimq.aio.consumer` for why).  An error that closes any of them closes them all, as one AMQP
channel would close: later calls raise ``ChannelClosed`` whose ``cause`` is that error.

Differences this layout makes, all documented: ``basic_qos`` gives each consumer created afterwards
its own channel's limit (``global_qos=True`` limits each consumer's channel, including existing ones,
rather than sharing one count across consumers); in tx mode, settlements of *consumed* deliveries are
not part of the transaction (they go through the consumer's channel at once), publishes and
settlements of ``basic_get`` deliveries are; consumer tags are unique per aio channel, as AMQP wants
(a reused one is 530 NOT_ALLOWED and closes the connection); each consumer uses one of the
connection's 2047 channel numbers.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from typing import Any, Awaitable, Callable, Protocol

from ..channel import PublishOutcome, QueueDeclareOk
from ..errors import AMQPError, ChannelClosed, ConfirmTimeout, NotAllowed, PublishNacked
from ..message import Confirm, ConsumerCancelled, Properties, Returned
from ..message import Delivery as CoreDelivery
from ..names import REPLY_TO
from .consumer import ConsumerIterator, Subscription
from .message import Delivery
from .pump import EventPump



class ChannelOwner(Protocol):
    """What a :class:`Channel` needs of its :class:`minimq.aio.Connection` (the connection module sits
    above this one: it opens channels)."""

    loop: asyncio.AbstractEventLoop
    broker: Any

    def _shutdown(self, cause: AMQPError | None, client: bool) -> None:
        """Close the connection and every channel on it."""

    def _forget(self, channel: Channel) -> None:
        """A channel closed: the connection stops tracking it."""

__all__ = ["Channel"]

log = logging.getLogger("minimq.aio")


class Channel:
    """An asyncio AMQP channel; opened by ``await connection.channel()``.

    Method names and arguments are the core :class:`minimq.Channel`'s (pika's), as coroutines.
    """

    def __init__(self, connection: ChannelOwner, core_channel: Any) -> None:
        self.connection = connection
        #: the core channel declarations, publishes and gets go through (consumers have their own)
        self.core = core_channel
        self.loop: asyncio.AbstractEventLoop = connection.loop
        #: consumer tag -> Subscription
        self._consumers: dict[str, Subscription] = {}
        #: (prefetch_count, global_qos) for consumers' channels, or None before basic_qos
        self._qos: tuple[int, bool] | None = None
        self._last_queue: str | None = None
        self._return_callbacks: list[Callable[[Returned], Any]] = []
        #: set when this layer closed the channel because of an error on one of its core channels
        self._close_cause: AMQPError | None = None
        self._shut = False
        self._pump = EventPump(self.loop, core_channel, self._on_event)
        #: confirm mode: None (not selected), True (basic_publish awaits its confirm), False (it does not)
        self._confirm_wait: bool | None = None
        #: confirms seen by the loop: every publish up to this seq; nacks (and the first store error)
        #: since the last wait_for_confirms
        self._confirmed = 0
        self._nacked = 0
        self._confirm_error: BaseException | None = None
        #: publish seq -> future of (ack, error), for basic_publish awaiting its own confirm
        self._publish_waiters: dict[int, asyncio.Future] = {}
        #: (target seq, future) of wait_for_confirms calls
        self._confirm_waiters: list[tuple[int, asyncio.Future]] = []
        self._confirm_callbacks: list[Callable[[Confirm], Any]] = []
        #: futures of tx_commit calls awaiting their store commit
        self._durable_waiters: set[asyncio.Future] = set()

    # -- state ----------------------------------------------------------------------------------
    @property
    def number(self) -> int:
        """The channel number of the core channel."""
        return self.core.number

    @property
    def is_closed(self) -> bool:
        """True once closed by the client, an error, its connection or the broker."""
        return self._shut or self.core.is_closed

    @property
    def is_open(self) -> bool:
        """The opposite of :attr:`is_closed`."""
        return not self.is_closed

    @property
    def mode(self) -> str:
        """``"normal"``, ``"confirm"`` or ``"tx"``."""
        return self.core.mode

    @property
    def consumer_tags(self) -> list[str]:
        """The tags of this channel's active consumers."""
        return list(self._consumers)

    # -- the plumbing -----------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._shut:
            cause = self._close_cause
            if cause is None:
                cause = self.core.close_cause if self.core.close_cause is not None else \
                    self.core.connection.close_cause
            raise ChannelClosed(f"channel {self.number} is closed", cause)

    def _call(self, operation: Callable[..., Any], *args: Any) -> Any:
        """Run a core operation; an AMQP refusal closes this whole aio channel (or its connection)."""
        self._check_open()
        try:
            return operation(*args)
        except AMQPError as error:
            self._failed(error)
            raise

    def _settlement_failed(self, error: Exception) -> None:
        """A settlement on one of this channel's core channels raised ``error`` (used by Delivery,
        which then raises ``error`` itself unless this raises first).

        An AMQP refusal closes what it closes.  A closed core channel of an aio channel that is
        closed as a whole raises the aio channel's ``ChannelClosed`` (with the cause that closed
        it); a core channel closed alone (its consumer was cancelled) leaves ``error`` as it is.
        """
        if isinstance(error, AMQPError):
            self._failed(error)
        elif isinstance(error, ChannelClosed):
            self._check_open()

    def _failed(self, error: AMQPError) -> None:
        if error.closes_connection:
            self.connection._shutdown(error, client=False)
        else:
            self._shutdown(error, client=False)

    def _shutdown(self, cause: AMQPError | None, client: bool) -> None:
        """Close everything of this channel: consumers (unacked returned), then the core channel.

        ``client``: the application closed it (consumers' ``async for`` ends); otherwise an error or
        the broker did (``__anext__`` raises ``ChannelClosed`` with ``cause``).
        """
        if self._shut:
            return
        self._shut = True
        if cause is not None and self._close_cause is None:
            self._close_cause = cause
        for sub in list(self._consumers.values()):
            if client:
                sub.close()
            else:
                sub.fail(cause)
        futures = [*self._publish_waiters.values(), *(f for _, f in self._confirm_waiters), *self._durable_waiters]
        self._publish_waiters.clear()
        self._confirm_waiters.clear()
        self._durable_waiters.clear()
        for future in futures:
            if not future.done():
                future.set_exception(ChannelClosed(f"channel {self.number} is closed", self._close_cause))
        self.core.close()
        self.connection._forget(self)

    def _forget(self, sub: Subscription) -> None:
        if sub.tag is not None and self._consumers.get(sub.tag) is sub:
            del self._consumers[sub.tag]

    def _on_event(self, event: Any) -> None:
        """Events of the core channel (pump, loop thread)."""
        if event is None:
            core = self.core
            if core.is_closed and not self._shut:
                self._shutdown(core.close_cause if core.close_cause is not None else core.connection.close_cause,
                               client=False)
            return
        kind = type(event)
        if kind is Returned:
            for callback in list(self._return_callbacks):
                try:
                    result = callback(event)
                    if inspect.isawaitable(result):
                        self.loop.create_task(_logged(result, "return callback"))
                except Exception:
                    log.exception("minimq.aio: return callback raised")
        elif kind is CoreDelivery:  # a direct reply-to consumer lives on this channel
            sub = self._consumers.get(event.consumer_tag)
            if sub is not None:
                sub.on_event(event)
        elif kind is Confirm:
            self._on_confirm(event)
        elif kind is ConsumerCancelled:
            sub = self._consumers.get(event.consumer_tag)
            if sub is not None:
                sub.on_event(event)

    def _on_confirm(self, confirm: Confirm) -> None:
        """A confirm of the core channel (loop thread, in publish order)."""
        seq = confirm.seq
        first = self._confirmed + 1 if confirm.multiple else seq
        self._confirmed = seq
        if not confirm.ack:
            self._nacked += seq - first + 1
            if confirm.error is not None and self._confirm_error is None:
                self._confirm_error = confirm.error
        waiters = self._publish_waiters
        if waiters:
            result = (confirm.ack, confirm.error)
            for n in range(first, seq + 1):
                future = waiters.pop(n, None)
                if future is not None and not future.done():
                    future.set_result(result)
        if self._confirm_waiters:
            still = []
            for target, future in self._confirm_waiters:
                if target <= seq:
                    if not future.done():
                        future.set_result(None)
                else:
                    still.append((target, future))
            self._confirm_waiters = still
        for callback in list(self._confirm_callbacks):
            try:
                result = callback(confirm)
                if inspect.isawaitable(result):
                    self.loop.create_task(_logged(result, "confirm callback"))
            except Exception:
                log.exception("minimq.aio: confirm callback raised")

    def add_on_confirm_callback(self, callback: Callable[[Confirm], Any]) -> None:
        """``callback(confirm)`` (a function or a coroutine function) for each
        :class:`~minimq.Confirm`, in publish order, on the loop (confirm mode)."""
        if not callable(callback):
            raise TypeError("confirm callback must be callable")
        self._confirm_callbacks.append(callback)

    def add_on_return_callback(self, callback: Callable[[Returned], Any]) -> None:
        """``callback(returned)`` (a function or a coroutine function) for each mandatory publish
        that matched no queue; it runs on the loop."""
        if not callable(callback):
            raise TypeError("return callback must be callable")
        self._return_callbacks.append(callback)

    # -- exchanges ------------------------------------------------------------------------------
    async def exchange_declare(self, exchange: str, exchange_type: str = "direct", passive: bool = False,
                               durable: bool = False, auto_delete: bool = False, internal: bool = False,
                               arguments: dict | None = None) -> None:
        """Declare (or check, with ``passive``) an exchange; raises as the core does."""
        self._call(self.core.exchange_declare, exchange, exchange_type, passive, durable, auto_delete,
                   internal, arguments)

    async def exchange_delete(self, exchange: str, if_unused: bool = False) -> None:
        """Delete an exchange (a missing one is fine)."""
        self._call(self.core.exchange_delete, exchange, if_unused)

    async def exchange_bind(self, destination: str, source: str, routing_key: str = "",
                            arguments: dict | None = None) -> None:
        """Bind exchange ``destination`` to exchange ``source``."""
        self._call(self.core.exchange_bind, destination, source, routing_key, arguments)

    async def exchange_unbind(self, destination: str, source: str, routing_key: str = "",
                              arguments: dict | None = None) -> None:
        """Remove an exchange-to-exchange binding."""
        self._call(self.core.exchange_unbind, destination, source, routing_key, arguments)

    # -- queues ---------------------------------------------------------------------------------
    async def queue_declare(self, queue: str = "", passive: bool = False, durable: bool = False,
                            exclusive: bool = False, auto_delete: bool = False,
                            arguments: dict | None = None) -> QueueDeclareOk:
        """Declare (or check) a queue; returns ``QueueDeclareOk(queue, message_count, consumer_count)``."""
        ok = self._call(self.core.queue_declare, queue, passive, durable, exclusive, auto_delete, arguments)
        self._last_queue = ok.queue
        return ok

    async def queue_bind(self, queue: str, exchange: str, routing_key: str | None = None,
                         arguments: dict | None = None) -> None:
        """Bind a queue to an exchange (``routing_key=None``: the queue's name)."""
        self._call(self.core.queue_bind, queue, exchange, routing_key, arguments)

    async def queue_unbind(self, queue: str, exchange: str | None = None, routing_key: str | None = None,
                           arguments: dict | None = None) -> None:
        """Remove a queue binding."""
        self._call(self.core.queue_unbind, queue, exchange, routing_key, arguments)

    async def queue_purge(self, queue: str = "") -> int:
        """Drop the queue's ready messages; returns how many."""
        return self._call(self.core.queue_purge, queue)

    async def queue_delete(self, queue: str = "", if_unused: bool = False, if_empty: bool = False) -> int:
        """Delete a queue; returns the number of ready messages it held.  Its consumers are cancelled
        by the server (their ``async for`` ends)."""
        return self._call(self.core.queue_delete, queue, if_unused, if_empty)

    # -- publishing and getting -----------------------------------------------------------------
    async def basic_publish(self, exchange: str, routing_key: str, body: bytes,
                            properties: Properties | None = None, mandatory: bool = False) -> PublishOutcome:
        """Route and enqueue; returns the core's :class:`~minimq.PublishOutcome`.

        Runs on the loop thread.  After ``confirm_select()`` (``wait=True``), a persistent message on
        a broker with a store is awaited until the store's commit covers it (the loop runs meanwhile;
        publishes awaited at once share a commit), and a failed commit raises the store's error.
        After ``confirm_select(wait=False)`` it returns at once: await :meth:`wait_for_confirms`.
        """
        if self._shut:
            self._check_open()
        core = self.core
        try:
            outcome = core.basic_publish(exchange, routing_key, body, properties, mandatory)
        except AMQPError as error:
            self._failed(error)
            raise
        if self._confirm_wait:
            seq = core.publish_seq
            if core.confirmed_seq < seq:
                future = self.loop.create_future()
                self._publish_waiters[seq] = future
                ack, error = await future
                if error is not None:
                    raise error
        return outcome

    async def basic_get(self, queue: str = "", auto_ack: bool = False) -> Delivery | None:
        """The queue's head message as a :class:`~minimq.aio.Delivery`, or None if it is empty."""
        delivery = self._call(self.core.basic_get, queue, auto_ack)
        return None if delivery is None else Delivery(delivery, self, auto_ack)

    # -- consuming ------------------------------------------------------------------------------
    def consume(self, queue: str = "", auto_ack: bool = False, exclusive: bool = False,
                consumer_tag: str = "", arguments: dict | None = None) -> ConsumerIterator:
        """Start a consumer and return its async iterator (``async for delivery in ch.consume(q)``).

        Called from a coroutine on this channel's loop; the consumer exists when this returns, and
        refusals (404, 403, 405, 406, 530) are raised here.  The calling task owns it: the consumer
        is cancelled when that task ends, if not before.  See :mod:`minimq.aio.consumer` for how it
        ends and which messages return to the queue.
        """
        self._check_loop()
        self._check_open()
        if queue == REPLY_TO:
            sub = Subscription(self, self.core, False, auto_ack)
            sub.tag = self._call(self.core.basic_consume, queue, None, auto_ack, exclusive, consumer_tag,
                                 arguments)
            self._consumers[sub.tag] = sub
            sub.bind(asyncio.current_task())
            return ConsumerIterator(sub)
        if consumer_tag and consumer_tag in self._consumers:
            error = NotAllowed(f"attempt to reuse consumer tag '{consumer_tag}'")
            self.core.connection.close_with_error(error)
            self.connection._shutdown(error, client=False)
            raise error
        if queue == "" and self._last_queue is not None:
            queue = self._last_queue
        try:
            sub_channel = self.core.connection.channel(inline=False)
        except AMQPError as error:
            self._failed(error)
            raise
        sub = Subscription(self, sub_channel, True, auto_ack)
        # the subscription's handler only buffers deliveries: a publish on the loop's thread hands
        # them over at once (see minimq.aio.pump)
        sub.pump = EventPump(self.loop, sub_channel, sub.on_event, drain_inline=True)
        sub_channel.add_busy_probe(sub.busy)  # after the pump's: probes are asked in the order events move
        try:
            if self._qos is not None and self._qos[0]:
                sub_channel.basic_qos(0, self._qos[0], self._qos[1])
            sub.tag = sub_channel.basic_consume(queue, None, auto_ack, exclusive, consumer_tag, arguments)
        except AMQPError as error:
            sub.ended = True
            sub_channel.close()
            self._failed(error)
            raise
        except BaseException:
            sub.ended = True
            sub_channel.close()
            raise
        self._consumers[sub.tag] = sub
        sub.bind(asyncio.current_task())
        return ConsumerIterator(sub)

    async def basic_consume(self, queue: str, callback: Callable[[Delivery], Awaitable[Any] | Any],
                            auto_ack: bool = False, exclusive: bool = False, consumer_tag: str = "",
                            arguments: dict | None = None) -> str:
        """Callback style: ``callback(delivery)`` (a coroutine function, or a plain function) runs on
        the loop for each delivery, one at a time in delivery order, in a task of its own per
        consumer.  Returns the consumer tag; :meth:`basic_cancel` stops it.  A callback that raises
        is logged and its delivery left as the callback left it."""
        if not callable(callback):
            raise TypeError("consumer callback must be callable: callback(delivery)")
        iterator = self.consume(queue, auto_ack, exclusive, consumer_tag, arguments)
        sub = iterator._sub
        sub.runner = self.loop.create_task(_run_callbacks(iterator, callback))
        sub.bind(sub.runner)
        return iterator.consumer_tag

    async def basic_cancel(self, consumer_tag: str) -> None:
        """Cancel a consumer: its channel closes and its unacked messages return to the queue (see
        :mod:`minimq.aio.consumer`); its ``async for`` ends.  Unknown tags are ignored."""
        self._check_open()
        sub = self._consumers.get(consumer_tag)
        if sub is not None:
            sub.close()

    async def basic_qos(self, prefetch_size: int = 0, prefetch_count: int = 0, global_qos: bool = False) -> None:
        """Prefetch for consumers created afterwards (``global_qos``: also the existing ones); the
        core's checks apply (``prefetch_size`` is refused with 540)."""
        self._call(self.core.basic_qos, prefetch_size, prefetch_count, global_qos)
        self._qos = (prefetch_count, global_qos)
        if global_qos:
            for sub in list(self._consumers.values()):
                if sub.own_channel and not sub.ended:
                    self._call(sub.core.basic_qos, 0, prefetch_count, True)

    # -- confirms and transactions --------------------------------------------------------------
    async def confirm_select(self, wait: bool = True) -> None:
        """Confirm mode: each publish's outcome is its confirm (NACKED is a ``basic.nack``).

        ``wait=True``: :meth:`basic_publish` of a persistent message returns once it is durable.
        ``wait=False``: it returns at once; confirms come later (:meth:`wait_for_confirms`,
        :meth:`add_on_confirm_callback`).  Either way the core channel confirms asynchronously and
        the loop never blocks on the store.
        """
        if self._confirm_wait is not None and self._confirm_wait != wait:
            raise ValueError(f"channel {self.number} is already in confirm mode with wait={self._confirm_wait}")
        self._call(self.core.confirm_select, False)
        self._confirm_wait = wait

    async def wait_for_confirms(self, timeout: float | None = None) -> bool:
        """Await the confirms of every publish so far; True if none since the last wait was a nack.

        :class:`~minimq.ConfirmTimeout` after ``timeout`` seconds (the confirms still come),
        ``ChannelClosed`` if the channel closes first, ``RuntimeError`` outside confirm mode.
        """
        nacked, _ = await self._wait_confirmed(timeout)
        return not nacked

    async def wait_for_confirms_or_die(self, timeout: float | None = None) -> None:
        """:meth:`wait_for_confirms`, raising :class:`~minimq.PublishNacked` on a nack (its ``error``
        is the store's exception when a failed commit nacked it)."""
        nacked, error = await self._wait_confirmed(timeout)
        if nacked:
            why = f": the store's commit failed: {error}" if error is not None else ""
            raise PublishNacked(f"{nacked} publish(es) on channel {self.number} were nacked{why}",
                                nacked, error) from error

    async def _wait_confirmed(self, timeout: float | None) -> tuple[int, BaseException | None]:
        self._check_open()
        if self._confirm_wait is None:
            raise RuntimeError(f"channel {self.number} is not in confirm mode")
        target = self.core.publish_seq
        if self._confirmed < target:
            future = self.loop.create_future()
            self._confirm_waiters.append((target, future))
            try:
                await asyncio.wait_for(future, timeout)
            except asyncio.TimeoutError:
                pending = target - self._confirmed
                raise ConfirmTimeout(f"{pending} publish(es) on channel {self.number} not confirmed "
                                     f"within {timeout} s", pending) from None
        nacked, self._nacked = self._nacked, 0
        error, self._confirm_error = self._confirm_error, None
        return nacked, error

    async def tx_select(self) -> None:
        """Tx mode: publishes (and settlements of ``basic_get`` deliveries) wait for ``tx_commit``."""
        self._call(self.core.tx_select)

    async def tx_commit(self) -> None:
        """Commit.  Without a store it returns at once (it never suspends).  With one it awaits the
        store's commit that makes the transaction durable, as confirms do: the loop runs meanwhile,
        no thread is used, and a failed commit raises the store's error.  ``ChannelClosed`` if the
        channel closes before that commit is done (the transaction itself was applied)."""
        store = self.connection.broker.store
        if store is None:
            self._call(self.core.tx_commit, False)
            return
        if not (hasattr(store, "commit_ticket") and hasattr(store, "when_durable")):
            # a store with flush() only: the one way to wait for it is to block, so not on the loop
            self._check_open()
            try:
                await self.loop.run_in_executor(None, self.core.tx_commit)
            except AMQPError as error:
                self._failed(error)
                raise
            return
        ticket = self._call(self.core.tx_commit, False)
        future = self.loop.create_future()
        self._durable_waiters.add(future)
        try:
            store.when_durable(ticket, self._durable_callback(future))
            await future
        finally:
            self._durable_waiters.discard(future)

    def _durable_callback(self, future: asyncio.Future) -> Callable[[BaseException | None], None]:
        """The store's ``when_durable`` callback resolving ``future`` on the loop: it runs on the
        store's committer thread (or at once on this one, when the ticket is durable already)."""
        loop = self.loop

        def on_durable(error: BaseException | None) -> None:
            try:
                on_loop_thread = asyncio.get_running_loop() is loop
            except RuntimeError:
                on_loop_thread = False
            if on_loop_thread:
                _resolve(future, error)
                return
            try:
                loop.call_soon_threadsafe(_resolve, future, error)
            except RuntimeError:  # the loop is closed: nobody awaits the future any more
                pass

        return on_durable

    async def tx_rollback(self) -> None:
        """Discard pending publishes and settlements."""
        self._call(self.core.tx_rollback)

    # -- closing --------------------------------------------------------------------------------
    async def close(self) -> None:
        """Close: consumers cancelled (their unacked messages returned), then the channel; harmless twice."""
        self._shutdown(None, client=True)

    async def __aenter__(self) -> Channel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _check_loop(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError("minimq.aio: call this from a coroutine running on the channel's loop") from None
        if running is not self.loop:
            raise RuntimeError("minimq.aio: this channel belongs to another event loop")

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"aio.Channel({self.number}, {self.mode}, consumers={len(self._consumers)}, {state})"


async def _run_callbacks(iterator: ConsumerIterator, callback: Callable[[Delivery], Any]) -> None:
    sub = iterator._sub
    try:
        async for delivery in iterator:  # __anext__ sets sub.in_callback before it takes the delivery
            try:
                result = callback(delivery)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("minimq.aio: consumer callback raised for %r", delivery)
            finally:
                sub.in_callback = False
    except ChannelClosed as closed:  # an error or the broker closed the channel: the consumer ends
        log.debug("minimq.aio: consumer %s ended: %s (cause %r)", iterator.consumer_tag, closed, closed.cause)


def _resolve(future: asyncio.Future, error: BaseException | None) -> None:
    if not future.done():
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


async def _logged(awaitable: Awaitable[Any], what: str) -> None:
    try:
        await awaitable
    except Exception:
        log.exception("minimq.aio: %s raised", what)
