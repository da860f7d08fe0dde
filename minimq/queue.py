"""A classic (or quorum-flavoured) queue: ready messages, consumers, dispatch, and the queue policies.

Cost model (HOT): a publish into a plain queue allocates one :class:`QueuedMessage` and appends it to a
deque; if a consumer has capacity and nothing is waiting, it goes straight to that consumer instead.
TTL, max-length and priorities add a few comparisons, taken only when the queue has them.

Storage.  Ready messages live in a :class:`_Fifo` (or one per priority level): ``fresh`` holds
never-delivered messages in publish order; ``returned`` is a heap of requeued messages keyed by their
original sequence number.  Every unacked message left the queue from the head, so its sequence
number is lower than every fresh message's: requeued messages therefore always come before fresh
ones, and the heap restores their original order.  That makes "requeue at original position" O(log n)
without scanning.  Quorum queues use ``front`` instead (returned messages go first, in return order).

Consumers.  Consumers with capacity wait in a rotation (one deque per consumer priority, highest
first): the one that receives a message moves to the back; one that runs out of prefetch capacity
leaves the rotation (``blocked``) and rejoins at the back when it gets capacity again, as RabbitMQ does.
Invariant after every operation: either no message is ready or no consumer in the rotation.

Expiry happens at the head only (classic semantics): an expired message behind a live one waits and
is counted until it reaches the head.  The queue asks the kernel for one timer, at the head's
deadline, so expired messages are dead-lettered promptly even when nobody is looking.

What a queue knows of the rest of the broker: its :class:`QueueOwner` (the vhost: its name,
dead-lettering and deletion), the :class:`~minimq.kernel.Kernel` (clock, timers, store port) and
the :class:`~minimq.consumer.Consumer` protocol.  It never sees a channel.

All methods run with the broker lock held.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop, heappush
from typing import Any, Iterable, Protocol

from .consumer import Consumer
from .kernel import Kernel
from .message import Message

__all__ = ["Queue", "QueuedMessage", "QueueOwner"]


class QueueOwner(Protocol):
    """What a queue asks of the vhost that holds it."""

    name: str

    def dead_letter(self, queue: Queue, message: Message, reason: str) -> None:
        """Republish ``message`` through ``queue``'s dead-letter exchange (``reason``: expired, maxlen ...)."""

    def delete_queue_now(self, queue: Queue, reason: str = "deleted") -> None:
        """Delete ``queue`` without checks (``reason``: ``auto-delete``, ``expired`` for ``x-expires``)."""


class QueuedMessage:
    """A message's place in one queue: its position, redelivery state and deadline."""

    __slots__ = ("seq", "message", "redelivered", "expires_at", "delivery_count")

    def __init__(self, seq: int, message: Message, expires_at: float | None) -> None:
        self.seq = seq
        self.message = message
        self.redelivered = False
        self.expires_at = expires_at
        self.delivery_count = 0

    def __repr__(self) -> str:
        return f"QueuedMessage(seq={self.seq}, redelivered={self.redelivered}, {self.message!r})"


class _Fifo:
    """Ready messages of one priority level (see the module docstring for the three parts).

    ``fresh`` holds a bare :class:`Message` when its place in the queue needs no state of its own (not
    stored; a deadline travels with it as a ``(deadline, message)`` pair): its sequence number is
    implicit, one more than the item before it, and its :class:`QueuedMessage` is made only when it
    leaves the queue.  That saves one object per ready
    message, which is most of the cost of a fanout.  ``base`` is the sequence number of a bare item at
    the head of ``fresh``.  Quorum queues, whose returned messages go back to the end of ``fresh`` with
    their old numbers, never use bare items.
    """

    __slots__ = ("fresh", "returned", "front", "base")

    def __init__(self) -> None:
        self.fresh: deque[Any] = deque()
        self.returned: list[tuple[int, QueuedMessage]] = []
        self.front: deque[QueuedMessage] = deque()
        self.base = 0

    def __len__(self) -> int:
        return len(self.fresh) + len(self.returned) + len(self.front)

    def append_bare(self, message: Message, seq: int) -> None:
        fresh = self.fresh
        if not fresh:
            self.base = seq
        fresh.append(message)

    def append_timed(self, message: Message, seq: int, deadline: float) -> None:
        """A bare message with a deadline: stored as a ``(deadline, message)`` pair."""
        fresh = self.fresh
        if not fresh:
            self.base = seq
        fresh.append((deadline, message))

    def peek_deadline(self) -> float | None:
        """The head's expiry deadline (None: it never expires)."""
        if self.front:
            return self.front[0].expires_at
        if self.returned:
            return self.returned[0][1].expires_at
        head = self.fresh[0]
        kind = type(head)
        if kind is tuple:
            return head[0]
        return head.expires_at if kind is QueuedMessage else None

    def pop(self) -> QueuedMessage:
        if self.front:
            return self.front.popleft()
        if self.returned:
            return heappop(self.returned)[1]
        item = self.fresh.popleft()
        kind = type(item)
        if kind is QueuedMessage:
            self.base = item.seq + 1
            return item
        seq = self.base
        self.base = seq + 1
        if kind is tuple:
            return QueuedMessage(seq, item[1], item[0])
        return QueuedMessage(seq, item, None)

    def requeue(self, entry: QueuedMessage) -> None:
        heappush(self.returned, (entry.seq, entry))

    def entries(self) -> list[QueuedMessage]:
        """Every ready message in order, as entries (bare ones get theirs made, for inspection)."""
        out = list(self.front) + [e for _, e in sorted(self.returned, key=lambda p: p[0])]
        seq = self.base
        for item in self.fresh:
            if type(item) is QueuedMessage:
                out.append(item)
                seq = item.seq + 1
            else:
                if type(item) is tuple:
                    out.append(QueuedMessage(seq, item[1], item[0]))
                else:
                    out.append(QueuedMessage(seq, item, None))
                seq += 1
        return out

    def pin(self) -> None:
        """Give every bare item of ``fresh`` its :class:`QueuedMessage`, in place, so the entries keep
        their identity (for :meth:`Queue.ready_entries` and :meth:`remove`)."""
        fresh = self.fresh
        if all(type(item) is QueuedMessage for item in fresh):
            return
        pinned: list[QueuedMessage] = []
        seq = self.base
        for item in fresh:
            kind = type(item)
            if kind is QueuedMessage:
                pinned.append(item)
                seq = item.seq + 1
                continue
            pinned.append(QueuedMessage(seq, item[1], item[0]) if kind is tuple else QueuedMessage(seq, item, None))
            seq += 1
        fresh.clear()
        fresh.extend(pinned)

    def remove(self, entry: QueuedMessage) -> bool:
        """Take ``entry`` (pinned: see :meth:`pin`) out; False if it is not here.  O(1) at the head, else O(n)."""
        front = self.front
        if front and entry in front:
            front.remove(entry)
            return True
        returned = self.returned
        for i, (_seq, item) in enumerate(returned):
            if item is entry:
                returned[i] = returned[-1]
                returned.pop()
                heapify(returned)
                return True
        fresh = self.fresh
        if fresh and fresh[0] is entry:
            fresh.popleft()
            self.base = entry.seq + 1
            return True
        for i, item in enumerate(fresh):
            if item is entry:
                del fresh[i]
                return True
        return False

    def clear(self) -> None:
        self.fresh.clear()
        self.returned.clear()
        self.front.clear()


class Queue:
    """One queue of a vhost.  Created and deleted by :class:`~minimq.vhost.VirtualHost`."""

    # Slots, not an instance dict: a queue has 41 attributes, past the 30 up to which CPython 3.11
    # shares instance attribute keys, so with a dict every ``self.x`` on the hot path took the slow
    # lookup.  Every attribute is created in ``__init__``.
    __slots__ = ('vhost', '_kernel', 'name', 'seq', 'durable', 'exclusive_owner', 'auto_delete',
                 'arguments', 'as_route', 'deleted', '_stalled', '_next_seq', '_consumers', '_sac_waiting',
                 'exclusive_consumer', '_rotation', '_levels', '_level_keys', 'ever_consumed',
                 'unacked_count', '_ready_bytes', '_ready_count', '_timer_at', '_now', '_idle_since',
                 'message_ttl', 'expires', 'dead_letter_exchange', 'dead_letter_routing_key', 'max_length',
                 'max_length_bytes', 'overflow', 'single_active', 'queue_type', 'delivery_limit', 'quorum',
                 'max_priority', '_store_levels', '_plain', '_limited', '_has_ttl', "__weakref__")

    is_queue = True

    def __init__(self, vhost: QueueOwner, kernel: Kernel, name: str, seq: int, durable: bool,
                 exclusive_owner: Any, auto_delete: bool, arguments: dict, settings: dict) -> None:
        self.vhost = vhost
        self._kernel = kernel
        self.name = name
        self.seq = seq
        self.durable = durable
        self.exclusive_owner = exclusive_owner
        self.auto_delete = auto_delete
        self.arguments = arguments
        #: (destination tuple of the default exchange: allocated once, not per publish)
        self.as_route = (self,)
        self.deleted = False
        self._stalled = False
        self._next_seq = 1
        self._consumers: list[Consumer] = []
        self._sac_waiting: list[Consumer] = []
        self.exclusive_consumer: Consumer | None = None
        #: rotation: priority -> deque of consumers with capacity; ``_levels`` lists them highest first
        self._rotation: dict[int, deque[Consumer]] = {}
        self._levels: list[deque[Consumer]] = []
        self._level_keys: list[int] = []
        self.ever_consumed = False
        self.unacked_count = 0
        self._ready_bytes = 0
        self._ready_count = 0
        self._timer_at: float | None = None
        self._now = kernel.clock.now_ms
        self._idle_since = self._now()
        # settings: filled by apply_settings (declare arguments merged with policies)
        self.message_ttl: int | None = None
        self.expires: int | None = None
        self.dead_letter_exchange: str | None = None
        self.dead_letter_routing_key: str | None = None
        self.max_length: int | None = None
        self.max_length_bytes: int | None = None
        self.overflow = "drop-head"
        self.single_active = False
        self.queue_type = "classic"
        self.delivery_limit: int | None = None
        self.quorum = False
        self.max_priority: int | None = None
        #: ready messages, one _Fifo per priority level (index = priority); ``_plain`` is the only
        #: level of a queue without priorities, None otherwise
        self._store_levels: list[_Fifo] = [_Fifo()]
        self._plain: _Fifo | None = self._store_levels[0]
        #: max-length or max-length-bytes set
        self._limited = False
        #: sticky: once a message with a deadline was enqueued, heads must be checked from then on
        self._has_ttl = False
        self.apply_settings(settings)

    # -- settings (declare arguments, later policies) -----------------------------------------
    def apply_settings(self, settings: dict) -> None:
        """Install the effective queue settings (validated by minimq.arguments)."""
        self.message_ttl: int | None = settings.get("message-ttl")
        self.expires: int | None = settings.get("expires")
        self.dead_letter_exchange: str | None = settings.get("dead-letter-exchange")
        self.dead_letter_routing_key: str | None = settings.get("dead-letter-routing-key")
        self.max_length: int | None = settings.get("max-length")
        self.max_length_bytes: int | None = settings.get("max-length-bytes")
        self.overflow: str = settings.get("overflow") or "drop-head"
        self.single_active: bool = bool(settings.get("single-active-consumer"))
        self.queue_type: str = settings.get("queue-type") or "classic"
        self.delivery_limit: int | None = settings.get("delivery-limit")
        self.quorum = self.queue_type == "quorum"
        max_priority = settings.get("max-priority")
        if self.quorum:
            max_priority = None
        if max_priority != self.max_priority:
            old = self._all_ready()
            self.max_priority = max_priority
            levels = 1 if max_priority is None else max_priority + 1
            self._store_levels = [_Fifo() for _ in range(levels)]
            self._plain = self._store_levels[0] if levels == 1 else None
            for entry in old:
                self._level_of(entry.message).fresh.append(entry)
        self._limited = self.max_length is not None or self.max_length_bytes is not None
        self._has_ttl = self._has_ttl or self.message_ttl is not None
        if self.expires is not None:
            self._schedule(self._idle_since + self.expires)

    # -- introspection ------------------------------------------------------------------------
    @property
    def message_count(self) -> int:
        """Ready messages, expired ones not yet dropped included (RabbitMQ counts them too)."""
        if self._timer_at is not None:
            self._catch_up(self._now())
        return self._ready_len()

    @property
    def consumer_count(self) -> int:
        """Consumers of the queue, single-active-consumer waiters included."""
        return len(self._consumers)

    @property
    def consumers(self) -> list[Consumer]:
        """The consumers, in subscription order (a copy)."""
        return list(self._consumers)

    @property
    def ready_bytes(self) -> int:
        """Total body size of the ready messages (what ``x-max-length-bytes`` limits)."""
        return self._ready_bytes

    def _ready_len(self) -> int:
        return self._ready_count

    def _all_ready(self) -> list[QueuedMessage]:
        out: list[QueuedMessage] = []
        for level in reversed(self._store_levels):
            out.extend(level.entries())
        return out

    def ready_messages(self) -> list[Message]:
        """The ready messages in delivery order (for inspection and tests)."""
        return [e.message for e in self._all_ready()]

    def ready_entries(self) -> list[QueuedMessage]:
        """The ready messages' entries in delivery order, each kept as an object of its own until it
        leaves (so :meth:`remove_ready` can name one).  Expiry is not caught up: call
        :meth:`expire_due` first to leave out what has expired.  O(n)."""
        for level in self._store_levels:
            level.pin()
        return self._all_ready()

    def remove_ready(self, entry: QueuedMessage) -> bool:
        """Take one ready message out of the queue for good (its entry from :meth:`ready_entries`), as
        if it was fetched and acked; False (nothing changed) if it is no longer ready here.  O(1) at
        the head, O(n) elsewhere.  The caller reports the event."""
        if self.deleted or not self._level_of(entry.message).remove(entry):
            return False
        self._ready_bytes -= len(entry.message.body)
        self._ready_count -= 1
        self.forget(entry)
        if self._has_ttl:
            self._arm_timer()
        return True

    def accepts(self, size: int) -> bool:
        """Whether a publish of a ``size``-byte body would be taken now: False only when a length
        limit with ``overflow`` ``reject-publish`` / ``reject-publish-dlx`` would refuse it."""
        if self.deleted:
            return False
        return not (self._limited and self.overflow != "drop-head" and self._would_overflow(size))

    def busy(self) -> str | None:
        """Why this queue is not idle, or None: it has ready messages and an active consumer with
        capacity, so a delivery is still owed (a dispatch in progress on another thread).  Lock
        held; O(consumers) when there are ready messages, O(1) otherwise."""
        if not self._ready_len() or self.deleted:
            return None
        waiting = [c.tag for c in self._consumers if c.active and not c.cancelled and c.can_take()]
        if not waiting:
            return None
        return f"queue {self.name!r} has {self._ready_len()} ready message(s) and consumer(s) {waiting} able to take them"

    def _level_of(self, message: Message) -> _Fifo:
        plain = self._plain
        if plain is not None:
            return plain
        props = message.properties
        priority = 0 if props is None or props.priority is None else props.priority
        top = self.max_priority
        return self._store_levels[priority if priority < top else top]

    def _head_level(self) -> _Fifo | None:
        plain = self._plain
        if plain is not None:
            return plain if (plain.front or plain.returned or plain.fresh) else None
        if not self._ready_count:
            return None
        for level in reversed(self._store_levels):
            if level.fresh or level.returned or level.front:
                return level
        return None

    # -- publishing ---------------------------------------------------------------------------
    def publish(self, message: Message, now: float | None = None) -> bool:
        """Enqueue (or hand straight to a consumer).  Returns False if the queue refused it."""
        ttl = message.ttl
        qttl = self.message_ttl
        if qttl is not None and (ttl is None or qttl < ttl):
            ttl = qttl
        if now is None and (ttl is not None or self._has_ttl):
            now = self._now()
        if self._timer_at is not None:
            self._catch_up(self._now() if now is None else now)
            if self.deleted:
                return True
        if self._limited:
            if self.overflow != "drop-head" and self._would_overflow(len(message.body)):
                if self._kernel.observers is not None:
                    self._kernel.observers.discarded(self, message, self.overflow)
                if self.overflow == "reject-publish-dlx":
                    self._dead_letter(message, "maxlen")
                return False
        if self._kernel.observers is not None:
            self._kernel.observers.enqueued(self, message)
        seq = self._next_seq
        self._next_seq = seq + 1
        expires_at = None
        if ttl is not None:
            expires_at = now + ttl
            self._has_ttl = True
        # A store must hear of a durable queue's persistent message before anything else happens to it.
        stored = self.durable and self._kernel.store is not None
        if self._levels and not self._ready_count:
            # a consumer with capacity and nothing ready ahead of this message: hand it over
            consumer = self._next_consumer()
            if consumer is not None:
                entry = QueuedMessage(seq, message, expires_at)
                if stored:
                    self._kernel.persist_enqueue(self.vhost.name, self.name, entry)
                consumer.deliver(consumer, self, entry)
                self._rotate_back(consumer)
                return True
        plain = self._plain
        level = plain if plain is not None else self._level_of(message)
        if self.quorum or stored:
            # the queue keeps its own record: a store needs the position now, a quorum queue counts
            # deliveries on it
            entry = QueuedMessage(seq, message, expires_at)
            if stored:
                self._kernel.persist_enqueue(self.vhost.name, self.name, entry)
            level.fresh.append(entry)
        elif expires_at is None:
            level.append_bare(message, seq)  # no record until it leaves (see _Fifo)
        else:
            level.append_timed(message, seq, expires_at)
        self._ready_bytes += len(message.body)
        self._ready_count += 1
        dropped = self._enforce_limits() if self._limited else False
        # As RabbitMQ: expiry is re-examined after a publish only when the new message may be the
        # head (the queue was empty) or the head moved (drop-head).  A message that jumps ahead in a
        # priority queue therefore gets no timer of its own until something else re-examines the head.
        if self._has_ttl and (dropped or self._ready_len() == 1):
            self._expire_head(now)
            self._arm_timer()
        return True

    def _would_overflow(self, size: int) -> bool:
        max_length = self.max_length
        if max_length is not None and self._ready_len() + 1 > max_length:
            return True
        max_bytes = self.max_length_bytes
        return max_bytes is not None and self._ready_bytes + size > max_bytes

    def _enforce_limits(self) -> bool:
        """drop-head: remove from the head until both limits hold (dead-lettered ``maxlen``).

        Returns True if anything was dropped.
        """
        max_length = self.max_length
        max_bytes = self.max_length_bytes
        dropped = False
        while True:
            n = self._ready_len()
            if not n:
                return dropped
            if (max_length is None or n <= max_length) and (max_bytes is None or self._ready_bytes <= max_bytes):
                return dropped
            entry = self._pop_head()
            self._discard(entry, "maxlen")
            dropped = True

    # -- taking messages out ------------------------------------------------------------------
    def _pop_head(self) -> QueuedMessage:
        level = self._head_level()
        assert level is not None
        entry = level.pop()
        self._ready_bytes -= len(entry.message.body)
        self._ready_count -= 1
        return entry

    def _expire_head(self, now: float) -> None:
        """Drop or dead-letter expired messages at the head, repeatedly, until the head is live."""
        while True:
            level = self._head_level()
            if level is None:
                return
            expires_at = level.peek_deadline()
            if expires_at is None or now < expires_at:
                return
            head = level.pop()
            self._ready_bytes -= len(head.message.body)
            self._ready_count -= 1
            self._discard(head, "expired")

    def _discard(self, entry: QueuedMessage, reason: str) -> None:
        # a rejected message's event is the channel's nack/reject; the others end here
        if reason != "rejected" and self._kernel.observers is not None:
            self._kernel.observers.discarded(self, entry.message, reason)
        self.forget(entry)
        if self.dead_letter_exchange is not None:
            self._dead_letter(entry.message, reason)

    def forget(self, entry: QueuedMessage) -> None:
        """The message leaves this queue for good (acked, auto-acked, dropped, dead-lettered): a
        store forgets it.  O(1); nothing at all without a store."""
        if self.durable and self._kernel.store is not None:
            self._kernel.persist_remove(self.vhost.name, self.name, entry)

    def _dead_letter(self, message: Message, reason: str) -> None:
        self.vhost.dead_letter(self, message, reason)

    def get(self, now: float | None = None) -> tuple[QueuedMessage | None, int]:
        """``basic.get``: the live head and the count of ready messages left after it."""
        if now is None and (self._timer_at is not None or self.expires is not None or self._has_ttl):
            now = self._now()
        if self._timer_at is not None:
            self._catch_up(now)
            if self.deleted:
                return None, 0
        if self.expires is not None:
            self.touch(now)
        plain = self._plain
        if plain is not None and not self._has_ttl and not plain.returned and not plain.front:
            # fast path (one level, no TTL, nothing requeued): the head of ``fresh``
            if not plain.fresh:
                return None, 0
            entry = plain.pop()
            self._ready_bytes -= len(entry.message.body)
            self._ready_count -= 1
            return entry, self._ready_count
        # As RabbitMQ: fetch the head, then drop what expired behind it.  A head whose deadline had
        # a timer was already dropped by _catch_up; only an unarmed one (see publish) is fetched.
        if self._head_level() is None:
            return None, 0
        entry = self._pop_head()
        if self._has_ttl:
            self._expire_head(now)
            self._arm_timer()
        return entry, self._ready_len()

    def purge(self) -> int:
        """Remove every ready message (not dead-lettered); returns how many."""
        entries = self._all_ready()
        for level in self._store_levels:
            level.clear()
        self._ready_bytes = 0
        self._ready_count = 0
        if self.durable and self._kernel.store is not None:
            for entry in entries:
                self.forget(entry)
        return len(entries)

    # -- settlement (called by channels) ------------------------------------------------------
    def settle_ack(self, entry: QueuedMessage) -> None:
        """An unacked message was acked: it leaves the queue for good (nothing if the queue is gone)."""
        if not self.deleted:
            self.unacked_count -= 1
            self.forget(entry)

    def settle_reject(self, entry: QueuedMessage) -> None:
        """Nack/reject without requeue: dead-letter ``rejected`` if there is a DLX."""
        if self.deleted:
            return
        self.unacked_count -= 1
        self._discard(entry, "rejected")

    def requeue(self, entry: QueuedMessage, closing: bool = False) -> None:
        """Return an unacked message to its queue (call :meth:`after_requeue` once afterwards)."""
        if self.deleted:
            return
        self.unacked_count -= 1
        entry.redelivered = True
        if self.quorum:
            entry.delivery_count += 1
            limit = self.delivery_limit
            if limit is not None and entry.delivery_count > limit:
                self._discard(entry, "delivery_limit")
                return
            level = self._level_of(entry.message)
            if closing or limit is not None:
                level.front.append(entry)
            else:
                level.fresh.append(entry)
        else:
            self._level_of(entry.message).requeue(entry)
        self._ready_bytes += len(entry.message.body)
        self._ready_count += 1
        guard = self._kernel.poison
        if guard is not None and self.delivery_limit is None:  # the poison-loop guard (minimq.poison)
            if not self.quorum:
                entry.delivery_count += 1
            guard.requeued(self, entry)
        if self.durable and self._kernel.store is not None:
            self._kernel.persist_redelivered(self.vhost.name, self.name, entry)

    def after_requeue(self) -> None:
        """Once after one or more requeues (or a settings change): enforce limits, expire the head,
        dispatch to consumers with capacity."""
        if self.deleted:
            return
        if self._limited and self.overflow == "drop-head":
            self._enforce_limits()
        if self._has_ttl:
            self._expire_head(self._now())
            self._arm_timer()
        self._dispatch()

    # -- consumers ----------------------------------------------------------------------------
    def add_consumer(self, consumer: Consumer) -> None:
        """Subscribe ``consumer`` (a single-active-consumer queue makes it wait if another is active),
        then dispatch."""
        self._consumers.append(consumer)
        self.ever_consumed = True
        if consumer.exclusive:
            self.exclusive_consumer = consumer
        if self.single_active and any(c.active for c in self._consumers if c is not consumer):
            consumer.active = False
            self._sac_waiting.append(consumer)
        else:
            self._enter_rotation(consumer)
        self._dispatch()

    def remove_consumer(self, consumer: Consumer, dispatch: bool = True) -> None:
        """Take a consumer out (cancel or channel close).  May fail over, auto-delete or arm x-expires."""
        if consumer not in self._consumers:
            return
        self._consumers.remove(consumer)
        consumer.cancelled = True
        if self.exclusive_consumer is consumer:
            self.exclusive_consumer = None
        self._leave_rotation(consumer)
        if consumer in self._sac_waiting:
            self._sac_waiting.remove(consumer)
        elif self.single_active and consumer.active and self._sac_waiting:
            best = max(self._sac_waiting, key=lambda c: c.priority)  # earliest among equals
            self._sac_waiting.remove(best)
            best.active = True
            self._enter_rotation(best)
            # RabbitMQ does not run the queue on basic.cancel: the new active consumer gets ready
            # messages only at the next event that does (a requeue, a new consumer, an unblock).
            self._stalled = True
        if not self._consumers:
            now = self._now()
            self._idle_since = now
            if self.expires is not None:
                self._schedule(now + self.expires)
        if dispatch:
            self.after_consumers_changed(run=False)

    def after_consumers_changed(self, run: bool = True) -> None:
        """Auto-delete if the last consumer left; otherwise (``run``) dispatch."""
        if self.deleted:
            return
        if self.auto_delete and not self._consumers and self.ever_consumed:
            self.vhost.delete_queue_now(self, "auto-delete")
            return
        if run:
            self._dispatch()

    def _enter_rotation(self, consumer: Consumer) -> None:
        consumer.blocked = False
        prio = consumer.priority
        dq = self._rotation.get(prio)
        if dq is None:
            rotation = self._rotation
            dq = rotation[prio] = deque()
            if len(rotation) == 1:  # the common case, one priority level: nothing to sort
                self._level_keys = [prio]
                self._levels = [dq]
            else:
                self._level_keys = sorted(rotation, reverse=True)
                self._levels = [rotation[k] for k in self._level_keys]
        dq.append(consumer)

    def _leave_rotation(self, consumer: Consumer) -> None:
        dq = self._rotation.get(consumer.priority)
        if dq is not None and consumer in dq:
            dq.remove(consumer)
            if not dq:
                self._drop_level(consumer.priority)

    def _drop_level(self, prio: int) -> None:
        rotation = self._rotation
        del rotation[prio]
        if not rotation:  # at prefetch 1 this happens on every delivery: keep it cheap
            self._level_keys = []
            self._levels = []
        else:
            self._level_keys = sorted(rotation, reverse=True)
            self._levels = [rotation[k] for k in self._level_keys]

    def _next_consumer(self) -> Consumer | None:
        """Pop the next consumer with capacity from the rotation; blocked ones leave it."""
        for dq in self._levels:
            while dq:
                consumer = dq.popleft()
                if consumer.can_take():
                    return consumer
                consumer.blocked = True
        return None

    def _rotate_back(self, consumer: Consumer) -> None:
        if consumer.cancelled:
            return
        if consumer.can_take():
            self._rotation[consumer.priority].append(consumer)
        else:
            consumer.blocked = True

    def unblock(self, consumer: Consumer) -> None:
        """A blocked consumer regained capacity: back into the rotation, at the back."""
        if consumer.blocked and not consumer.cancelled and consumer.active and consumer.can_take():
            consumer.blocked = False
            plain = self._plain
            if not self._levels and plain is not None and not self._has_ttl and not self.deleted:
                # Fast path (prefetch 1 work queues): the rotation is empty, so _dispatch would hand the
                # head to this consumer alone; do it without entering and leaving the rotation.
                if plain.fresh and not plain.returned and not plain.front:
                    entry = plain.pop()
                    self._ready_bytes -= len(entry.message.body)
                    self._ready_count -= 1
                    consumer.deliver(consumer, self, entry)
                    if not consumer.can_take():
                        consumer.blocked = True
                        return
            dq = self._rotation.get(consumer.priority)
            if dq is None:
                self._enter_rotation(consumer)
            else:
                dq.append(consumer)
            self._dispatch()

    def _dispatch(self) -> None:
        """Hand ready messages to consumers with capacity, in queue order, round-robin."""
        self._stalled = False
        if not self._levels or self.deleted:
            return
        has_ttl = self._has_ttl
        now = self._now() if has_ttl or self._timer_at is not None else 0.0
        if self._timer_at is not None:
            self._catch_up(now)
        head_level = self._head_level
        next_consumer = self._next_consumer
        while True:
            level = head_level()
            if level is None:
                break
            consumer = next_consumer()
            if consumer is None:
                break
            entry = level.pop()
            self._ready_bytes -= len(entry.message.body)
            self._ready_count -= 1
            if has_ttl:  # as RabbitMQ's fetch: drop what expired behind the message just taken
                self._expire_head(now)
            consumer.deliver(consumer, self, entry)
            self._rotate_back(consumer)
        # drop empty priority levels so _levels stays short (_levels holds the rotation's deques)
        for dq in self._levels:
            if not dq:
                for key in [k for k, d in self._rotation.items() if not d]:
                    self._drop_level(key)
                break
        if self._has_ttl:
            self._arm_timer()

    def cancel_all_consumers(self) -> None:
        """Queue deletion: every consumer gets a server ``basic.cancel``; channels stay open."""
        for consumer in list(self._consumers):
            consumer.cancelled = True
            consumer.cancelled_by_server(consumer)
        self._consumers.clear()
        self._sac_waiting.clear()
        self._rotation.clear()
        self._levels = []
        self._level_keys = []
        self.exclusive_consumer = None

    # -- recovery -----------------------------------------------------------------------------
    def restore(self, entries: Iterable[QueuedMessage]) -> bool:
        """Put recovered messages back as ready, in the order given (position order), keeping their
        ``seq`` so a later requeue still finds its place.  Returns True if the queue now has
        deadlines to watch (then call :meth:`expire_due` once the store is attached)."""
        level_of = self._level_of
        ready_bytes = 0
        last_seq = 0
        for entry in entries:
            level_of(entry.message).fresh.append(entry)
            ready_bytes += len(entry.message.body)
            if entry.expires_at is not None:
                self._has_ttl = True
            if entry.seq > last_seq:
                last_seq = entry.seq
        self._ready_bytes += ready_bytes
        self._ready_count = sum(len(level) for level in self._store_levels)
        if last_seq >= self._next_seq:
            self._next_seq = last_seq + 1
        return self._has_ttl

    def expire_due(self, now: float) -> None:
        """Drop or dead-letter the expired messages at the head, then arm the timer for the next."""
        if not self.deleted:
            self._expire_head(now)
            self._arm_timer()

    # -- time ---------------------------------------------------------------------------------
    def touch(self, now: float) -> None:
        """Declare and get restart the x-expires countdown."""
        if self.expires is not None:
            self._idle_since = now
            self._schedule(now + self.expires)

    def _arm_timer(self) -> None:
        level = self._head_level()
        if level is None:
            return
        deadline = level.peek_deadline()
        if deadline is not None:
            self._schedule(deadline)

    def _schedule(self, deadline: float) -> None:
        if self._timer_at is None or deadline < self._timer_at:
            self._timer_at = deadline
            self._kernel.schedule(deadline, self)

    def on_timer(self, now: float) -> None:
        """Broker timer: this queue's deadline may be due (stale timers are ignored)."""
        self._catch_up(now)

    def _catch_up(self, now: float) -> bool:
        """Act on a due deadline as an on-time timer would (observations call this, so a late timer
        thread is never visible).  Returns True if a deadline was processed."""
        deadline = self._timer_at
        if self.deleted or deadline is None or deadline > now:
            return False
        self._timer_at = None
        if self.expires is not None and not self._consumers:
            idle_deadline = self._idle_since + self.expires
            if now >= idle_deadline:
                self.vhost.delete_queue_now(self, "expired")
                return True
            self._schedule(idle_deadline)
        self._expire_head(now)
        self._arm_timer()
        return True

    # -- invariants ---------------------------------------------------------------------------
    def _check(self) -> None:
        ready = self._all_ready()
        assert self._ready_bytes == sum(len(e.message.body) for e in ready), "ready bytes drifted"
        assert self._ready_count == len(ready), "ready count drifted"
        assert len({id(e) for e in ready}) == len(ready), "a message is ready twice"
        if ready and not self.deleted and not self._stalled:
            assert not any(c.can_take() for dq in self._levels for c in dq), \
                "ready messages while a consumer in the rotation has capacity"
        for dq in self._levels:
            for consumer in dq:
                assert consumer in self._consumers and not consumer.cancelled
        assert self.unacked_count >= 0

    def __repr__(self) -> str:
        return f"Queue({self.name!r}, ready={self._ready_len()}, consumers={len(self._consumers)})"

