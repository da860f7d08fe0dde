"""Putting messages into queues by hand: inject one, or move (redrive) ready ones to an exchange.

Both run with the broker lock held (the broker calls them) and report through the usual hook points:
an injected or moved message is ``enqueue``-d where it lands, and a moved message's departure from
its source queue is a ``drop`` with reason ``"moved"``.

Moving.  :func:`move_messages` walks the source queue's ready messages in delivery order, one at a
time: a message the ``where`` predicate accepts is published to the destination exchange (routed as
a publish would be: bindings, exchange-to-exchange bindings, alternate exchanges) as a new message
with the same body and properties, ``x-death`` history included; it leaves the source only once at
least one queue has taken it.  A message that reaches no queue, or only queues that refuse it (a
length limit with ``reject-publish``), stays where it was and is counted in the report.  So nothing
is lost and nothing is duplicated, whatever fails.

The routing key, unless one is given, is the message's original one: for a dead-lettered message the
``routing-keys`` of its first death (the ``x-death`` entry named by ``x-first-death-queue`` and
``x-first-death-reason``; the oldest entry when those are missing), which are the keys it was
published with (its ``CC`` keys route it too); for any other message the key it was published with.

Cost: O(n) to list the ready messages once, then O(1) per moved message taken from the head (the
common case: no ``where``) and O(n) per message taken from elsewhere.  ``where`` runs with the
broker lock held: it must not call the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import NotFound
from .message import Message, Properties
from .routing import LAZY_HEADERS, route

__all__ = ["MoveReport", "inject_message", "move_messages", "original_routing_keys"]


@dataclass(frozen=True)
class MoveReport:
    """What :meth:`Broker.move <minimq.broker.Broker.move>` did.

    ``moved``: how many messages left the source for the destination.  ``unroutable``: the messages
    that matched (``where`` and ``limit``) but stayed in the source because no queue took them, in
    queue order.  ``moved_ids``: the event identities of the new messages (empty while nobody listens).
    """

    moved: int
    unroutable: list[Message] = field(default_factory=list)
    moved_ids: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        stayed = f", {len(self.unroutable)} unroutable (left in the source)" if self.unroutable else ""
        return f"moved {self.moved}{stayed}"


def original_routing_keys(message: Message) -> list[str]:
    """The routing keys a message was first published with (see the module docstring); never empty."""
    headers = message.headers
    deaths = headers.get("x-death") if headers else None
    if isinstance(deaths, list) and deaths:
        queue, reason = headers.get("x-first-death-queue"), headers.get("x-first-death-reason")  # type: ignore[union-attr]
        first = next((d for d in deaths if isinstance(d, dict) and d.get("queue") == queue
                      and d.get("reason") == reason), None)
        if first is None:
            first = deaths[-1]
        keys = first.get("routing-keys") if isinstance(first, dict) else None
        if isinstance(keys, list) and keys and all(isinstance(k, str) for k in keys):
            return list(keys)
    return [message.routing_key]


def _queue(vhost: Any, name: str) -> Any:
    queue = vhost.queues.get(name)
    if queue is None:
        raise NotFound(f"no queue '{name}' in vhost '{vhost.name}'")
    return queue


def inject_message(vhost: Any, queue_name: str, body: bytes, properties: Properties | None,
                   ttl: int | None) -> tuple[bool, Message]:
    """Put one message straight into ``queue_name`` as if routed there by the default exchange (its
    limits, TTL, consumers and dead-lettering apply).  Returns (taken, message): ``taken`` is False
    when a ``reject-publish`` limit refused it.  404 :class:`NotFound` for an unknown queue."""
    queue = _queue(vhost, queue_name)
    observers = vhost.kernel.observers
    if observers is not None:
        message = observers.new_message(body, properties, "", queue_name, ttl, None)
    else:
        message = Message(body, properties, "", queue_name, ttl)
    return queue.publish(message), message


def move_messages(vhost: Any, src: str, dst_exchange: str, routing_key: str | None,
                  where: Callable[[Message], Any] | None,
                  limit: int | None) -> tuple[MoveReport, list[tuple[int | None, int]]]:
    """Move ready messages of ``src`` to ``dst_exchange`` (see the module docstring).  Returns the
    report and, while someone listens, (source id, new id) for each moved message.  404
    :class:`NotFound` for an unknown queue or exchange."""
    queue = _queue(vhost, src)
    exchange = vhost.exchanges.get(dst_exchange)
    if exchange is None:
        raise NotFound(f"no exchange '{dst_exchange}' in vhost '{vhost.name}'")
    kernel = vhost.kernel
    now = kernel.clock.now_ms()
    queue.expire_due(now)  # what has expired is not ready any more
    exchanges = vhost.exchanges
    moved = 0
    unroutable: list[Message] = []
    moved_ids: list[int] = []
    links: list[tuple[int | None, int]] = []
    for entry in queue.ready_entries():
        if limit is not None and moved + len(unroutable) >= limit:
            break
        old = entry.message
        if where is not None and not where(old):
            continue
        keys = [routing_key] if routing_key is not None else original_routing_keys(old)
        props = old.properties
        observers = kernel.observers
        if observers is not None:
            message = observers.new_message(old.body, props, dst_exchange, keys[0], old.ttl, None)
        else:
            message = Message(old.body, props, dst_exchange, keys[0], old.ttl)
        targets = route(exchanges, exchange, keys[0], LAZY_HEADERS, keys[1:] or None, message)
        size = len(old.body)
        taking = [t for t in targets if t.accepts(size)]
        if not taking:
            unroutable.append(old)
            continue
        if not queue.remove_ready(entry):
            continue  # gone meanwhile (expired, or dropped by a length limit a publish above enforced)
        if observers is not None:
            observers.discarded(queue, old, "moved")
            moved_ids.append(message.trace_id)  # type: ignore[arg-type]
            links.append((old.trace_id, message.trace_id))  # type: ignore[arg-type]
        for target in taking:
            target.publish(message, now)
        moved += 1
    return MoveReport(moved, unroutable, moved_ids), links
