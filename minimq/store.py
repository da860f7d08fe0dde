"""The store port: what the broker tells a persistence plugin, and how it recovers.

The core never imports a store implementation (``minimq.persistence.sqlite.SQLiteStore`` is one).
A broker built with ``Broker(store=...)`` calls :meth:`Store.recover` once, from ``Broker.__init__``,
then reports every change to durable state.  With no store the broker tests ``self._store is None``
and does nothing else, so in-memory brokers pay one attribute test per hook point.

What is reported: vhosts; durable exchanges; durable, non-exclusive queues; bindings whose source
and destination are both durable; persistent messages (``delivery_mode == 2``) on durable queues,
with their position (``seq``) in the queue.  Transient messages, non-durable and exclusive queues
are never reported.

Threads and the lock.  Every method except :meth:`Store.flush` and :meth:`Store.close` is called
with the broker lock held, from whichever thread runs the operation, so calls never overlap and
must not block on I/O: a store buffers them.  Atomicity rule: what is reported while the broker
holds its lock once (one publish, one ack, one queue delete, a dead-lettering's remove from one
queue and insert into another) must become durable together or not at all.  A store that commits
from another thread therefore cuts its buffer only while holding the broker lock it was handed in
:meth:`Store.recover`, and commits its batches in the order it cut them.

Durability.  Reported changes become durable at the store's next commit (batched, "group
commit").  :meth:`Store.flush` waits for that commit; the broker calls it, *outside* the lock, before
a publisher confirm for a persistent message is returned and before ``tx.commit`` returns, so many
threads waiting for confirms share one commit.  Acks are not waited for (as in AMQP, a crash may
bring back a message whose ack was not yet written; it comes back redelivered).

Asynchronous confirms (a channel in ``confirm_select(wait=False)`` mode) do not wait: under the lock
the channel asks :meth:`Store.commit_ticket` for a ticket naming "everything reported so far", and
after releasing the lock hands the ticket to :meth:`Store.when_durable` with a callback that the
store calls once that commit is done (or has failed).  Tickets are integers that never decrease, so
a channel asks for one callback per ticket however many publishes share it.  A store that does not
implement these two methods still works with blocking confirms (the default) and ``tx.commit``.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, NamedTuple, Protocol

from .message import Message

__all__ = ["Store", "RecoveredState", "RecoveredMessage", "ExchangeRecord", "QueueRecord", "BindingRecord"]


class ExchangeRecord(NamedTuple):
    """A recovered durable exchange (durable by definition, so no ``durable`` field)."""

    vhost: str
    name: str
    type: str
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]


class QueueRecord(NamedTuple):
    """A recovered durable, non-exclusive queue; its messages come from :attr:`RecoveredState.messages`."""

    vhost: str
    name: str
    auto_delete: bool
    arguments: dict[str, Any]


class BindingRecord(NamedTuple):
    """A recovered binding between durable ends; ``dest_is_queue`` tells a queue from an exchange."""

    vhost: str
    source: str
    destination: str
    dest_is_queue: bool
    routing_key: str
    arguments: dict[str, Any]


class RecoveredMessage:
    """One persistent message of a durable queue, as it was last committed.

    ``expires_at`` is wall-clock epoch milliseconds (or None): the broker turns it back into a
    deadline on its own clock, so a TTL keeps counting from the original publish across restarts.
    """

    __slots__ = ("seq", "message", "redelivered", "delivery_count", "expires_at")

    def __init__(self, seq: int, message: Message, redelivered: bool, delivery_count: int,
                 expires_at: float | None) -> None:
        self.seq = seq
        self.message = message
        self.redelivered = redelivered
        self.delivery_count = delivery_count
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return f"RecoveredMessage(seq={self.seq}, redelivered={self.redelivered}, {self.message!r})"


class RecoveredState:
    """What :meth:`Store.recover` hands back; lists are in declaration order.

    ``messages(vhost, queue)`` yields the queue's messages in position (``seq``) order; it is called
    once per recovered queue, during recovery only.  ``clean`` is False when the store was not closed
    cleanly last time (a crash): the store must then report every recovered message as redelivered,
    since a delivery made after its last commit cannot be known.
    """

    __slots__ = ("vhosts", "exchanges", "queues", "bindings", "messages", "clean")

    def __init__(self, vhosts: list[str], exchanges: list[ExchangeRecord], queues: list[QueueRecord],
                 bindings: list[BindingRecord], messages: Callable[[str, str], Iterable[RecoveredMessage]],
                 clean: bool) -> None:
        self.vhosts = vhosts
        self.exchanges = exchanges
        self.queues = queues
        self.bindings = bindings
        self.messages = messages
        self.clean = clean


class Store(Protocol):
    """The events a store receives.  Lock held for all but ``flush`` and ``close`` (see module doc)."""

    def recover(self, lock: Any, clock: Any) -> RecoveredState:
        """Called once, by ``Broker.__init__``, before any other method; returns the durable state.

        ``lock`` is the broker lock (take it only to cut a batch, never while waiting for I/O that
        a lock holder waits for); ``clock`` is the broker clock (``now_ms`` monotonic, ``wall_time``
        epoch seconds), used to store message deadlines as wall-clock time.
        """

    def vhost_added(self, vhost: str) -> None:
        """A vhost was created (the default ``/`` always exists and is never reported)."""

    def vhost_deleted(self, vhost: str) -> None:
        """After its queues were deleted (each reported); forget everything else of the vhost."""

    def exchange_declared(self, vhost: str, name: str, type: str, durable: bool, auto_delete: bool,
                          internal: bool, arguments: dict[str, Any]) -> None:
        """A durable exchange was created (predeclared ``amq.*`` exchanges are never reported)."""

    def exchange_deleted(self, vhost: str, name: str) -> None:
        """After its bindings were removed (each reported)."""

    def queue_declared(self, vhost: str, name: str, arguments: dict[str, Any], auto_delete: bool) -> None:
        """A durable, non-exclusive queue was created; it starts empty."""

    def queue_deleted(self, vhost: str, name: str) -> None:
        """The queue is gone with all its messages, unacked ones included."""

    def binding_added(self, vhost: str, source: str, destination: str, dest_is_queue: bool,
                      routing_key: str, arguments: dict[str, Any]) -> None:
        """A new binding whose source and destination are both durable (a repeat bind is not reported)."""

    def binding_removed(self, vhost: str, source: str, destination: str, dest_is_queue: bool,
                        routing_key: str, arguments: dict[str, Any]) -> None:
        """A binding between durable ends was removed (unbind, or a deletion of either end)."""

    def message_enqueued(self, vhost: str, queue: str, seq: int, entry: Any) -> None:
        """A persistent message entered a durable queue at position ``seq`` (unique in the queue).

        ``entry`` is the queue's record (``message``, ``expires_at`` on the broker clock,
        ``redelivered``, ``delivery_count``); the message is never mutated afterwards.  A store that
        cannot encode the message raises here, and the publisher gets the exception.
        """

    def message_removed(self, vhost: str, queue: str, seq: int) -> None:
        """Acked, dropped, expired, dead-lettered or purged: the message leaves the queue for good."""

    def message_redelivered(self, vhost: str, queue: str, seq: int, entry: Any) -> None:
        """Requeued after a delivery: ``entry.redelivered`` (and ``delivery_count``) changed."""

    def flush(self) -> None:
        """Return once everything reported before the call is durable (lock NOT held).

        Raises the store's error if that commit failed; publisher confirms wait for this.
        """

    def commit_ticket(self) -> int:
        """A ticket for everything reported so far (lock held; must be cheap, never blocks).

        Tickets never decrease; equal tickets are made durable by the same commit.
        """

    def when_durable(self, ticket: int, callback: Callable[[BaseException | None], None]) -> None:
        """Call ``callback(None)`` once everything covered by ``ticket`` is durable, or
        ``callback(error)`` with the store's error if the commit covering it failed (lock NOT held).

        Never blocks on I/O: it asks for a commit soon and returns; the callback runs exactly once, on
        whichever thread finishes that commit (possibly at once, on the calling thread, when the
        ticket is already durable or the store is closed), without any store lock held, so it may
        take the broker lock.  A commit's callbacks run in ticket order; a later ticket's success
        means every earlier ticket is durable too (commits are made in order), so a callback that
        runs at once on the calling thread may overtake one the committer has yet to run.
        """

    def close(self) -> None:
        """Commit what is pending, record a clean shutdown and release the file (lock NOT held)."""
