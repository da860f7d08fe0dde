"""The queue-to-consumer protocol: what a queue needs to know about whoever consumes from it.

A queue holds :class:`Consumer` objects and never sees a channel.  To hand over a message it calls
``consumer.deliver(consumer, queue, entry)``, a bound method the consumer carries from its creation
(the channel's), and to ask whether the consumer may take one more it calls
:meth:`Consumer.can_take`, which reads the consumer's own count and a :class:`Credit` shared by
every consumer of one channel (the channel-wide ``basic.qos global`` limit and unacked count).
When the queue goes away it calls ``consumer.cancelled_by_server(consumer)``.

Prefetch (docs/semantics.md §7.7): a per-consumer limit is fixed when the consumer is created (later
``basic.qos`` calls apply to later consumers) and counts that consumer's unacked deliveries only; a
global limit is shared through the credit and may change at any time, and its count also holds the
channel's gets that were unacked when it was set (see :class:`Credit`).  ``no_ack`` consumers are bound
only by the global limit.

Cost model (HOT): :meth:`Consumer.can_take` is two attribute reads and at most three comparisons;
``deliver`` is one call of a cached bound method.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["Consumer", "Credit"]


class Credit:
    """A channel's shared prefetch state: the ``global`` limit (0 = none) and the count it is compared with.

    The count follows RabbitMQ 3.10's channel limiter.  It runs only while a global limit is set (it is 0
    otherwise).  Setting a limit where there was none starts it at the channel's unacked messages, gets
    included; each consumer delivery that needs an ack adds one; a settlement of consumer deliveries
    takes their number off, unless the count is 0.  Gets fetched later, and the settling of any get,
    leave it alone: a get unacked when the limit was set keeps its place in the count for as long as
    the limit stays.  Lifting the limit (``global`` 0, or a per-consumer ``basic.qos``) resets it to 0.

    A consumer of a quorum queue holds a credit of its own that is never limited: quorum queues do not
    ask the limiter, so the global limit never stops them and their deliveries do not add to the count;
    settling them still takes them off the channel's count, as in RabbitMQ 3.10.
    """

    __slots__ = ("limit", "unacked")

    def __init__(self) -> None:
        #: channel-wide prefetch limit (``basic.qos(global_qos=True)``); 0 means unlimited
        self.limit = 0
        #: what the limit is compared with (RabbitMQ's limiter ``volume``; see the class docstring)
        self.unacked = 0

    def __repr__(self) -> str:
        return f"Credit(limit={self.limit}, unacked={self.unacked})"


class Consumer:
    """A subscription of one channel to one queue.

    ``channel`` is the owning channel, opaque to the queue; ``deliver(consumer, queue, entry)`` hands a message
    over and ``cancelled_by_server(consumer)`` reports the queue's deletion (both run with the lock
    held).
    """

    __slots__ = ("tag", "channel", "queue", "no_ack", "exclusive", "priority", "prefetch", "unacked",
                 "callback", "arguments", "blocked", "active", "cancelled", "credit", "deliver",
                 "cancelled_by_server")

    def __init__(self, tag: str, channel: Any, queue: Any, no_ack: bool, exclusive: bool, priority: int,
                 prefetch: int, callback: Callable | None, arguments: dict, credit: Credit,
                 deliver: Callable[[Consumer, Any, Any], None],
                 cancelled_by_server: Callable[[Consumer], None]) -> None:
        self.tag = tag
        self.channel = channel
        self.queue = queue
        self.no_ack = no_ack
        self.exclusive = exclusive
        self.priority = priority
        #: per-consumer prefetch limit fixed at creation (0 = unlimited)
        self.prefetch = prefetch
        #: this consumer's deliveries not yet settled
        self.unacked = 0
        self.callback = callback
        self.arguments = arguments
        #: left the queue's rotation for lack of capacity
        self.blocked = False
        #: False for a single-active-consumer waiter
        self.active = True
        self.cancelled = False
        self.credit = credit
        self.deliver = deliver
        self.cancelled_by_server = cancelled_by_server

    def can_take(self) -> bool:
        """Whether one more delivery fits in the global and the per-consumer prefetch limits."""
        credit = self.credit
        limit = credit.limit
        if limit and credit.unacked >= limit:
            return False
        if self.no_ack:
            return True
        prefetch = self.prefetch
        return not prefetch or self.unacked < prefetch

    def __repr__(self) -> str:
        return f"Consumer({self.tag!r}, queue={self.queue.name!r}, unacked={self.unacked})"
