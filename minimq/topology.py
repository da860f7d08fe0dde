"""A topology snapshot: one vhost's exchanges, queues, bindings and consumers as plain data.

:meth:`Topology.from_vhost` copies what a picture or an explanation needs out of a live
:class:`~minimq.vhost.VirtualHost`, with the broker lock held (``Broker.topology`` takes it), so the
snapshot can be read, drawn and compared afterwards without the lock and without seeing later
changes.  Nothing in it refers back to the broker: arguments are deep copies, names are strings.

What is recorded, and where each value comes from:

* exchanges in declaration order (the default exchange ``""`` and the predeclared ``amq.*`` ones
  included), with the alternate exchange in force and whether an ``alternate-exchange`` argument or
  a policy set it;
* queues in declaration order, with the dead-letter exchange and routing key in force (argument or
  policy, as :meth:`VirtualHost.effective_arguments` resolves them) and live counts: ready messages,
  unacknowledged messages and the consumer tags;
* explicit bindings, per source exchange in the order they were made.  The default exchange's
  implicit binding of every queue by its name is not listed (it is a rule, not an edge).

Drawing is :mod:`minimq.drawing`'s, which sits below this module: it renders any object shaped like
a topology (its ``TopologyView`` protocol), so :class:`Topology` can offer ``to_svg()`` and the
other formats, and ``_repr_svg_`` for Jupyter, without an import cycle.

Cost: O(exchanges + queues + bindings + consumers), plus the deep copies of argument tables.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .drawing import Highlight, to_dot, to_mermaid, to_svg, to_text
from .vhost import VirtualHost

__all__ = ["Topology", "ExchangeRecord", "QueueRecord", "BindingRecord", "BindingKey"]

#: (source, destination_kind, destination, routing_key, args_repr): see :attr:`BindingRecord.key`
BindingKey = tuple[str, str, str, str, str]


@dataclass(frozen=True, slots=True)
class ExchangeRecord:
    """One exchange as it was when the snapshot was taken.

    ``alternate_exchange`` is the one in force (the ``alternate-exchange`` argument when it is a
    string, else a policy's), ``alternate_exchange_source`` says which: ``"argument"``,
    ``"policy"`` or None when there is none.  ``arguments`` is a deep copy of the declare arguments.
    """

    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]
    alternate_exchange: str | None
    alternate_exchange_source: str | None


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """One queue as it was when the snapshot was taken.

    ``dead_letter_exchange`` and ``dead_letter_routing_key`` are the settings in force, and
    ``dead_letter_source`` where the exchange setting came from (``"argument"``, ``"policy"``, or
    None when there is none).  ``ready`` counts ready messages, ``unacked`` delivered ones not yet
    settled, ``consumer_tags`` the consumers in subscription order.
    """

    name: str
    durable: bool
    exclusive: bool
    auto_delete: bool
    arguments: dict[str, Any]
    dead_letter_exchange: str | None
    dead_letter_routing_key: str | None
    dead_letter_source: str | None
    ready: int
    unacked: int
    consumer_tags: tuple[str, ...]

    @property
    def consumers(self) -> int:
        """How many consumers the queue had (single-active-consumer waiters included)."""
        return len(self.consumer_tags)


@dataclass(frozen=True, slots=True)
class BindingRecord:
    """One explicit binding: ``source`` exchange to a queue or an exchange (``destination_kind``
    ``"queue"`` or ``"exchange"``), with its routing key and a deep copy of its arguments."""

    source: str
    destination_kind: str
    destination: str
    routing_key: str
    arguments: dict[str, Any]

    @property
    def key(self) -> BindingKey:
        """``(source, destination_kind, destination, routing_key, args_repr)``, hashable, with
        ``args_repr = repr(sorted(arguments.items()))``: how a route explanation names the bindings
        it matched, and how a drawing's highlight finds them."""
        return (self.source, self.destination_kind, self.destination, self.routing_key,
                repr(sorted((self.arguments or {}).items())))


@dataclass(frozen=True, slots=True)
class Topology:
    """A snapshot of one vhost: its exchanges, queues and explicit bindings (see the module docstring).

    Take one with ``broker.topology(vhost)``.  Draw it with :meth:`to_svg`, :meth:`to_mermaid`,
    :meth:`to_dot` or :meth:`to_text`; in Jupyter it shows itself as SVG.
    """

    vhost: str
    exchanges: tuple[ExchangeRecord, ...]
    queues: tuple[QueueRecord, ...]
    bindings: tuple[BindingRecord, ...]

    @classmethod
    def from_vhost(cls, vhost: VirtualHost) -> Topology:
        """Copy ``vhost``'s topology.  Call it with the broker lock held (``Broker.topology`` does)."""
        exchanges = []
        for exchange in vhost.exchanges.values():
            alternate = exchange.alternate_exchange
            if alternate is None:
                source = None
            elif isinstance(exchange.arguments.get("alternate-exchange"), str):
                source = "argument"
            else:
                source = "policy"
            exchanges.append(ExchangeRecord(
                exchange.name, exchange.type, exchange.durable, exchange.auto_delete, exchange.internal,
                copy.deepcopy(exchange.arguments), alternate, source))
        queues = []
        for queue in vhost.queues.values():
            dlx = queue.dead_letter_exchange
            dlx_source = None
            if dlx is not None:
                dlx_source = vhost.effective_arguments(queue).get("dead-letter-exchange", (None, None))[1]
            queues.append(QueueRecord(
                queue.name, queue.durable, queue.exclusive_owner is not None, queue.auto_delete,
                copy.deepcopy(queue.arguments), dlx, queue.dead_letter_routing_key if dlx is not None else None,
                dlx_source, queue.message_count, queue.unacked_count,
                tuple(consumer.tag for consumer in queue.consumers)))
        bindings = tuple(
            BindingRecord(b.source.name, "queue" if b.destination.is_queue else "exchange", b.destination.name,
                          b.routing_key, copy.deepcopy(b.arguments))
            for b in vhost.bindings())
        return cls(vhost.name, tuple(exchanges), tuple(queues), bindings)

    # -- lookups ------------------------------------------------------------------------------
    def exchange(self, name: str) -> ExchangeRecord:
        """The exchange named ``name``; ``KeyError`` naming it and the vhost if there is none."""
        for record in self.exchanges:
            if record.name == name:
                return record
        raise KeyError(f"no exchange {name!r} in this snapshot of vhost {self.vhost!r}")

    def queue(self, name: str) -> QueueRecord:
        """The queue named ``name``; ``KeyError`` naming it and the vhost if there is none."""
        for record in self.queues:
            if record.name == name:
                return record
        raise KeyError(f"no queue {name!r} in this snapshot of vhost {self.vhost!r}")

    def bindings_from(self, exchange: str) -> tuple[BindingRecord, ...]:
        """The bindings whose source is ``exchange``, in the order they were made."""
        return tuple(b for b in self.bindings if b.source == exchange)

    # -- pictures (minimq.drawing) --------------------------------------------------------------
    def to_svg(self, highlight: Highlight | None = None, live: bool = False) -> str:
        """An SVG picture (see :func:`minimq.drawing.to_svg`)."""
        return to_svg(self, highlight, live)

    def to_mermaid(self, highlight: Highlight | None = None, live: bool = False) -> str:
        """A Mermaid ``flowchart LR`` (see :func:`minimq.drawing.to_mermaid`)."""
        return to_mermaid(self, highlight, live)

    def to_dot(self, highlight: Highlight | None = None, live: bool = False) -> str:
        """A Graphviz ``digraph`` (see :func:`minimq.drawing.to_dot`)."""
        return to_dot(self, highlight, live)

    def to_text(self, highlight: Highlight | None = None, live: bool = False) -> str:
        """A plain text tree (see :func:`minimq.drawing.to_text`)."""
        return to_text(self, highlight, live)

    def _repr_svg_(self) -> str:
        """Jupyter's rich display: the SVG picture with live counts."""
        return to_svg(self, None, True)
