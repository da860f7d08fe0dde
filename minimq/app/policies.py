"""What a listener does with a message its handler failed on: the error policies.

A policy decides; the listener container acts.  :meth:`ErrorPolicy.decide` returns a
:class:`Settlement` (requeue, reject, or republish-then-ack), which the sync and the async containers
carry out on their own sessions, so one policy object serves both.  A policy may also need queues
declared before the listener starts (:meth:`ErrorPolicy.declarations`): the retry ladder's.

* :class:`Reject` (the default): ``basic.nack`` with ``requeue=False``: the message goes to the
  queue's dead-letter exchange, or is dropped when the queue has none.
* :class:`Requeue`: ``basic.nack`` with ``requeue=True``: the message goes back to its queue and is
  redelivered (with ``redelivered`` set).  A message that always fails loops forever; use it for
  failures that pass.
* :class:`Retry`: the retry ladder, built only from RabbitMQ features (per-queue TTL and
  dead-lettering), so it behaves the same on ``memory://`` and on RabbitMQ.  For a listener queue
  ``Q`` and a delay of ``d`` ms it declares ``Q.retry.<d>ms`` with ``x-message-ttl=d``,
  ``x-dead-letter-exchange=""`` and ``x-dead-letter-routing-key=Q``.  A failed message is republished
  there with the header ``x-retry-count`` incremented (the original is acked once the copy is
  confirmed); when the TTL runs out the broker dead-letters it back into ``Q``.  After ``attempts``
  retries it is rejected without requeue, to ``Q``'s own dead-letter exchange if it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..message import Properties
from .declarations import Declarable, Queue
from .messages import Inbound

__all__ = ["ErrorPolicy", "Settlement", "Reject", "Requeue", "Retry", "RETRY_COUNT_HEADER"]

#: the header the retry ladder counts in (1 on the first retry)
RETRY_COUNT_HEADER = "x-retry-count"


@dataclass(frozen=True)
class Settlement:
    """How to settle a failed message.

    ``republish`` None: ``basic.nack`` with ``requeue``.  Otherwise publish the body again to
    ``republish = (exchange, routing_key)`` with ``properties`` and, once that publish is confirmed,
    ack the original (if the copy is not confirmed, the original is requeued: never lost)."""

    requeue: bool = False
    republish: tuple[str, str] | None = None
    properties: Properties | None = None
    #: what happened, for the log line
    description: str = ""


class ErrorPolicy(Protocol):
    """What a listener does when its handler (or the payload conversion) raises."""

    def declarations(self, queue: str) -> tuple[Declarable, ...]:
        """What must exist before the listener on ``queue`` starts (declared with the listener's own)."""

    def decide(self, message: Inbound, queue: str) -> Settlement:
        """How to settle ``message``, consumed from ``queue``, whose handling failed."""


class Reject:
    """``nack(requeue=False)``: to the queue's dead-letter exchange (or dropped without one)."""

    def declarations(self, queue: str) -> tuple[Declarable, ...]:
        """Nothing to declare."""
        return ()

    def decide(self, message: Inbound, queue: str) -> Settlement:
        """Reject without requeue."""
        return Settlement(requeue=False, description="rejected (to the dead-letter exchange, if any)")

    def __repr__(self) -> str:
        return "Reject()"


class Requeue:
    """``nack(requeue=True)``: back to the queue, redelivered."""

    def declarations(self, queue: str) -> tuple[Declarable, ...]:
        """Nothing to declare."""
        return ()

    def decide(self, message: Inbound, queue: str) -> Settlement:
        """Requeue."""
        return Settlement(requeue=True, description="requeued")

    def __repr__(self) -> str:
        return "Requeue()"


class Retry:
    """The retry ladder: ``attempts`` retries, each after ``delay`` seconds (see the module docstring)."""

    def __init__(self, attempts: int = 3, delay: float = 5.0) -> None:
        if type(attempts) is not int or attempts < 1:
            raise ValueError(f"attempts must be an int >= 1, not {attempts!r}")
        if not isinstance(delay, (int, float)) or isinstance(delay, bool) or delay <= 0:
            raise ValueError(f"delay must be a number of seconds > 0, not {delay!r}")
        self.attempts = attempts
        self.delay = float(delay)
        #: the delay as the queue's TTL, in whole milliseconds (the unit of x-message-ttl)
        self.delay_ms = max(1, round(delay * 1000))

    def retry_queue(self, queue: str) -> str:
        """The name of ``queue``'s retry queue for this delay: ``<queue>.retry.<d>ms``."""
        return f"{queue}.retry.{self.delay_ms}ms"

    def declarations(self, queue: str) -> tuple[Declarable, ...]:
        """The retry queue: TTL ``d`` ms, dead-lettering back to ``queue`` through the default exchange."""
        if not queue:
            raise ValueError("Retry needs a named listener queue (a server-named queue has no stable retry queue)")
        return (Queue(self.retry_queue(queue), durable=True, arguments={
            "x-message-ttl": self.delay_ms,
            "x-dead-letter-exchange": "",
            "x-dead-letter-routing-key": queue,
        }),)

    def decide(self, message: Inbound, queue: str) -> Settlement:
        """Republish to the retry queue with the count incremented, or reject once ``attempts`` are spent."""
        count = message.headers.get(RETRY_COUNT_HEADER, 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            count = 0  # a header set by someone else: start the ladder rather than fail on it
        if count >= self.attempts:
            return Settlement(requeue=False,
                              description=f"rejected after {count} retries (to the dead-letter exchange, if any)")
        headers = dict(message.headers)
        headers[RETRY_COUNT_HEADER] = count + 1
        target = self.retry_queue(queue)
        return Settlement(republish=("", target), properties=message.properties.copy(headers=headers),
                          description=f"retry {count + 1} of {self.attempts} in {self.delay:g} s (via {target})")

    def __repr__(self) -> str:
        return f"Retry(attempts={self.attempts}, delay={self.delay:g})"
