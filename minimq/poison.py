"""The poison-loop guard: notice a message that keeps coming back to its queue.

A consumer that cannot handle a message and nacks it with ``requeue=True`` gets it again at once, and
again, for ever: RabbitMQ 3.10 stops that only on quorum queues with ``x-delivery-limit``.  The guard
counts, per message and queue, the times the message was returned to the queue (``basic.nack`` /
``basic.reject`` with requeue, ``basic.recover``, a channel closing with it unacknowledged).  The
count lives on the queue's record of the message (``QueuedMessage.delivery_count``, the quorum
queue's own count), so it is "in a row": a message leaves the queue only by being settled for good.

Actions, for a threshold ``N``:

* ``"warn"``: when a requeue brings the count to ``N`` (and again at ``2N``, ``3N`` ...), one warning
  on the ``minimq.poison`` logger naming the vhost, the queue, the message and the count.  Logged
  after the broker lock is released (the guard joins the lock hold's wake-ups, as the event hub does).
* ``"error"``: a client call that would requeue a message for the ``N``-th time (``basic_nack`` /
  ``basic_reject`` with ``requeue=True``, ``basic_recover``) raises :class:`PoisonMessageError`
  before changing anything: the message stays unacknowledged on the channel, where the caller can
  ack, reject without requeue, or dead-letter it.  A channel closing requeues without asking (it
  cannot refuse), and warns instead.

Queues with a delivery limit (quorum queues with ``x-delivery-limit``) already stop the loop; the
guard leaves them alone.  Cost: off (the default), one ``kernel.poison is None`` test per requeue and
per requeuing client call; the publish path is untouched.  On, one counter increment and one
comparison per requeue.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

__all__ = ["PoisonGuard", "PoisonMessageError", "POISON_ACTIONS"]

log = logging.getLogger("minimq.poison")

#: what the guard can do when a message reaches the threshold
POISON_ACTIONS = ("warn", "error")


def describe_message(message: Any) -> str:
    """``message 7 ('first 40 bytes of the body')``: the event identity (or the ``message_id``
    property, or nothing) and a body prefix, for warnings and errors."""
    names = []
    if message.trace_id is not None:
        names.append(f"#{message.trace_id}")
    props = message.properties
    if props is not None and props.message_id is not None:
        names.append(f"message_id={props.message_id!r}")
    body = bytes(message.body)
    prefix = body[:40] + (b"..." if len(body) > 40 else b"")
    return f"message {' '.join(names) + ' ' if names else ''}(body {prefix!r})"


class PoisonMessageError(Exception):
    """A client call would requeue a message for the ``count``-th time (the guard's threshold, action
    ``"error"``); nothing was changed.  ``queue`` and ``vhost`` name the queue, ``message`` is the message."""

    def __init__(self, vhost: str, queue: str, message: Any, count: int) -> None:
        super().__init__(f"poison loop: {describe_message(message)} would reach {count} requeues in a row on "
                         f"queue {queue!r} in vhost {vhost!r} (the poison guard's threshold); nothing was "
                         f"requeued: ack it, or reject it with requeue=False")
        self.vhost = vhost
        self.queue = queue
        self.message = message
        self.count = count


class PoisonGuard:
    """A broker's poison-loop guard (``Broker.set_poison_guard``); see the module docstring.

    ``threshold`` is an int >= 1, ``action`` one of :data:`POISON_ACTIONS`.  :meth:`requeued` and
    :meth:`check` run with the broker lock held; :meth:`wake` after it is released.
    """

    __slots__ = ("threshold", "action", "warnings", "_kernel", "_pending", "_pending_lock", "_registered_in")

    def __init__(self, kernel: Any, threshold: int, action: str = "warn") -> None:
        if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
            raise ValueError(f"threshold must be an int >= 1, got {threshold!r}")
        if action not in POISON_ACTIONS:
            raise ValueError(f"action must be one of {', '.join(map(repr, POISON_ACTIONS))}, got {action!r}")
        self.threshold = threshold
        self.action = action
        #: how many warnings were logged
        self.warnings = 0
        self._kernel = kernel
        #: warnings not logged yet (appended under the broker lock, taken by ``wake`` outside it:
        #: ``_pending_lock`` guards the list between the two)
        self._pending: list[str] = []
        self._pending_lock = threading.Lock()
        self._registered_in: list | None = None

    def requeued(self, queue: Any, entry: Any) -> None:
        """``entry`` (its ``delivery_count`` already counts this requeue) went back to ``queue``."""
        count = entry.delivery_count
        if count % self.threshold == 0:
            line = (f"poison loop: {describe_message(entry.message)} was requeued {count} times "
                                 f"in a row on queue {queue.name!r} in vhost {queue.vhost.name!r}")
            with self._pending_lock:
                self._pending.append(line)
            wakes = self._kernel.wakes
            if self._registered_in is not wakes:
                self._registered_in = wakes
                wakes.append(self)

    def check(self, deliveries: Any) -> None:
        """Action ``"error"``: raise :class:`PoisonMessageError` if requeuing ``deliveries`` (records with
        ``queue`` and ``entry``) would bring one to the threshold.  Changes nothing."""
        if self.action != "error":
            return
        threshold = self.threshold
        for delivery in deliveries:
            queue = delivery.queue
            count = delivery.entry.delivery_count + 1
            if count >= threshold and queue.delivery_limit is None and not queue.deleted:
                raise PoisonMessageError(queue.vhost.name, queue.name, delivery.entry.message, count)

    def wake(self) -> None:
        """Log the warnings of the lock hold that just ended (``Kernel.release`` calls this)."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for line in pending:
            self.warnings += 1
            log.warning("%s", line)

    def __repr__(self) -> str:
        return f"PoisonGuard(threshold={self.threshold}, action={self.action!r})"
