"""Exchange types: one small class each, one narrow interface.

Cost model (HOT): ``route(routing_key, headers)`` returns a tuple of destinations computed ahead of
time wherever possible, so a publish does one dict lookup (direct, default), returns a stored tuple
(fanout), or asks the topic trie, whose result is cached per routing key.  Headers exchanges test
each binding in turn (their bindings cannot be indexed by key).  Results are deduplicated and sorted
by destination declaration order (``seq``) when they are built, never per publish.

A destination is a queue or an exchange (exchange-to-exchange binding); the vhost expands exchange
destinations and alternate exchanges, and deduplicates across paths once.

Bindings are identified by (destination, routing key, arguments); arguments compare as an AMQP table
(key order irrelevant, value types significant), so the same key with other arguments is a second
binding that still yields one copy per queue.
"""

from __future__ import annotations

import datetime
import decimal
from operator import attrgetter
from typing import Any

from .headers import HeadersBinding, validate_binding_arguments
from .topic import TopicTrie

__all__ = [
    "Exchange",
    "DirectExchange",
    "FanoutExchange",
    "TopicExchange",
    "HeadersExchange",
    "DefaultExchange",
    "EXCHANGE_TYPES",
    "freeze_table",
]

_EMPTY: tuple = ()
_NO_ARGUMENTS: dict = {}
_EMPTY_TABLE = frozenset()  # freeze_table({}): shared, so a binding without arguments allocates no key set
_by_seq = attrgetter("seq")


def freeze_table(value: Any) -> Any:
    """A hashable, type-sensitive form of an AMQP value: equal tables give equal keys.

    Tables compare regardless of key order; arrays (``list`` or ``tuple``) by element; scalars by
    type and value (``1``, ``True``, ``1.0`` and ``"1"`` are four keys; ``bytes`` and ``bytearray``
    one).  An empty table is one shared frozenset.  A value of no AMQP type is keyed by its type
    name and ``repr``.  ``None`` stays ``None``.  Never raises for AMQP values; O(size of value).
    """
    if value is None:
        return None
    if isinstance(value, dict):
        if not value:
            return _EMPTY_TABLE
        return frozenset((k, freeze_table(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ("array", tuple(freeze_table(v) for v in value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    if isinstance(value, (bytes, bytearray)):
        return ("binary", bytes(value))
    if isinstance(value, (str, decimal.Decimal, datetime.datetime, float)):
        return (type(value).__name__, value)
    return (type(value).__name__, repr(value))


class Binding:
    """One binding from an exchange to a destination (a queue or an exchange).

    ``key`` is ``(destination, routing_key, freeze_table(arguments))``: bindings with equal keys are
    the same binding.  Non-empty ``arguments`` are copied (shallow); empty or ``None`` ones share
    one empty dict that must not be mutated.  Construction validates nothing.
    """

    __slots__ = ("source", "destination", "routing_key", "arguments", "key")

    def __init__(self, source: Exchange, destination: Any, routing_key: str, arguments: dict | None) -> None:
        self.source = source
        self.destination = destination
        self.routing_key = routing_key
        #: shared (never mutated) when empty: a big topology has mostly argument-less bindings
        if arguments:
            self.arguments = dict(arguments)
            self.key = (destination, routing_key, freeze_table(self.arguments))
        else:
            self.arguments = _NO_ARGUMENTS
            self.key = (destination, routing_key, _EMPTY_TABLE)

    def __repr__(self) -> str:
        kind = "queue" if self.destination.is_queue else "exchange"
        return (f"Binding({self.source.name!r} -> {kind} {self.destination.name!r}, "
                f"routing_key={self.routing_key!r}, arguments={self.arguments!r})")


class Exchange:
    """Base exchange: holds bindings and the flags declared with it.  Subclasses index for routing.

    ``arguments`` is copied (shallow); ``seq`` is the declaration order used to sort routing
    results.  Construction validates nothing (the vhost does, at declare).  Not thread-safe: the
    broker's lock serialises every call.
    """

    __slots__ = (
        "name", "durable", "auto_delete", "internal", "arguments", "seq", "bindings",
        "exchange_destinations", "deleted", "_policy_alternate", "alternate_exchange", "__weakref__",
    )
    type = ""
    is_queue = False

    def __init__(self, name: str, durable: bool = False, auto_delete: bool = False,
                 internal: bool = False, arguments: dict | None = None, seq: int = 0) -> None:
        self.name = name
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = dict(arguments) if arguments else {}
        self.seq = seq
        #: binding key -> Binding, in the order they were made
        self.bindings: dict[tuple, Binding] = {}
        #: how many bindings lead to exchanges; 0 lets the vhost skip path expansion
        self.exchange_destinations = 0
        self.deleted = False
        #: ``alternate-exchange`` from a policy (the declare argument wins over it)
        self._policy_alternate: str | None = None
        #: name of the alternate exchange: the ``alternate-exchange`` declare argument if it is a
        #: ``str``, else the one a policy set, else None.  A plain attribute, kept up to date by the
        #: ``policy_alternate`` setter, because routing reads it on every unroutable publish.
        self.alternate_exchange: str | None = None
        self._update_alternate()

    @property
    def policy_alternate(self) -> str | None:
        """The ``alternate-exchange`` a policy sets (the vhost assigns it when policies change)."""
        return self._policy_alternate

    @policy_alternate.setter
    def policy_alternate(self, value: str | None) -> None:
        self._policy_alternate = value
        self._update_alternate()

    def _update_alternate(self) -> None:
        value = self.arguments.get("alternate-exchange")
        self.alternate_exchange = value if isinstance(value, str) else self._policy_alternate

    # -- the narrow interface each type implements ---------------------------------------------
    def validate_binding(self, routing_key: str, arguments: dict | None) -> None:
        """Raise before anything changes if this binding is invalid for the type.

        The base accepts everything; :class:`HeadersExchange` raises ``PreconditionFailed`` (406)
        for a bad ``x-match``.  :meth:`add_binding` does not call it: the caller must, first.
        """

    def _index_add(self, binding: Binding) -> None:
        raise NotImplementedError

    def _index_remove(self, binding: Binding) -> None:
        raise NotImplementedError

    def route(self, routing_key: str, headers: dict | None) -> tuple:
        """Destinations matched by one routing key (deduplicated, declaration order).

        HOT: called once per publish on every exchange the message passes through.  Returns a
        tuple that may be shared with the index (never mutate it); an empty result is a shared
        empty tuple.  Exchange destinations are not expanded here (the vhost does it).  Never
        raises for a ``str`` key; the base class raises ``NotImplementedError``.
        """
        raise NotImplementedError

    # -- shared bookkeeping --------------------------------------------------------------------
    def add_binding(self, destination: Any, routing_key: str, arguments: dict | None) -> Binding | None:
        """Add a binding; returns it, or None if an identical binding already existed.

        Identity is :attr:`Binding.key` (destination, routing key, arguments as a table).  Does not
        call :meth:`validate_binding`.  Cost: O(1) plus the type's index update (direct and fanout
        re-sort their result tuple when a destination is new to it; topic O(words); headers
        compiles one matcher).
        """
        binding = Binding(self, destination, routing_key, arguments)
        if binding.key in self.bindings:
            return None
        self.bindings[binding.key] = binding
        if not destination.is_queue:
            self.exchange_destinations += 1
        self._index_add(binding)
        return binding

    def drop_binding(self, binding: Binding) -> bool:
        """Remove ``binding`` if it is still this exchange's; returns whether it was.

        A binding object that was already removed, or belongs elsewhere, is ignored (False).  Cost:
        O(1) plus the index update (a re-sort when a destination leaves a direct key or a fanout;
        O(bindings) for headers).
        """
        if self.bindings.get(binding.key) is not binding:
            return False
        del self.bindings[binding.key]
        self._forget(binding)
        return True

    def _forget(self, binding: Binding) -> None:
        if not binding.destination.is_queue:
            self.exchange_destinations -= 1
        self._index_remove(binding)

    def describe(self) -> dict[str, Any]:
        """The declared definition: name, type, durable, auto_delete, internal and a copy of arguments."""
        return {"name": self.name, "type": self.type, "durable": self.durable,
                "auto_delete": self.auto_delete, "internal": self.internal,
                "arguments": dict(self.arguments)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, bindings={len(self.bindings)})"


class _CountedSet:
    """Destinations with multiplicity, and their sorted tuple rebuilt on change (not per publish)."""

    __slots__ = ("counts", "result")

    def __init__(self) -> None:
        self.counts: dict[Any, int] = {}
        self.result: tuple = _EMPTY

    def add(self, dest: Any) -> None:
        counts = self.counts
        if dest in counts:
            counts[dest] += 1
        else:
            counts[dest] = 1
            self.result = tuple(sorted(counts, key=_by_seq))

    def remove(self, dest: Any) -> bool:
        """Returns True when no destination is left."""
        counts = self.counts
        n = counts[dest] - 1
        if n:
            counts[dest] = n
        else:
            del counts[dest]
            self.result = tuple(sorted(counts, key=_by_seq)) if counts else _EMPTY
        return not counts


class DirectExchange(Exchange):
    """Routes when the routing key equals the binding key byte for byte.

    Index: binding key -> destinations with multiplicity and their pre-sorted result tuple.
    """

    __slots__ = ("_by_key",)
    type = "direct"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._by_key: dict[str, _CountedSet] = {}

    def _index_add(self, binding: Binding) -> None:
        entry = self._by_key.get(binding.routing_key)
        if entry is None:
            entry = self._by_key[binding.routing_key] = _CountedSet()
        entry.add(binding.destination)

    def _index_remove(self, binding: Binding) -> None:
        if self._by_key[binding.routing_key].remove(binding.destination):
            del self._by_key[binding.routing_key]

    def route(self, routing_key: str, headers: dict | None) -> tuple:
        """The destinations bound with exactly ``routing_key``; ``headers`` is ignored.

        HOT: one dict lookup, returns a stored tuple (no allocation).
        """
        entry = self._by_key.get(routing_key)
        return _EMPTY if entry is None else entry.result


class FanoutExchange(Exchange):
    """Routes to every binding; keys are ignored."""

    __slots__ = ("_all",)
    type = "fanout"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._all = _CountedSet()

    def _index_add(self, binding: Binding) -> None:
        self._all.add(binding.destination)

    def _index_remove(self, binding: Binding) -> None:
        self._all.remove(binding.destination)

    def route(self, routing_key: str, headers: dict | None) -> tuple:
        """Every bound destination; both arguments are ignored.  HOT: O(1), returns a stored tuple."""
        return self._all.result


class TopicExchange(Exchange):
    """Routes by pattern: ``*`` one word, ``#`` zero or more (see :mod:`minimq.topic`).

    ``route`` is an instance attribute bound to the trie's cached :meth:`TopicTrie.match`
    (``headers`` ignored): one dict lookup per publish on a cache hit.  Raises ``TypeError`` for a
    non-``str`` routing key.
    """

    __slots__ = ("_trie", "route")
    type = "topic"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._trie = TopicTrie(sort_key=_by_seq)
        match = self._trie.match
        # The trie's match is the whole routing step: bind it directly, skipping one call layer.
        self.route = lambda routing_key, headers, _match=match: _match(routing_key)  # type: ignore[method-assign]

    def _index_add(self, binding: Binding) -> None:
        self._trie.add(binding.routing_key, binding.destination)

    def _index_remove(self, binding: Binding) -> None:
        self._trie.remove(binding.routing_key, binding.destination)


class HeadersExchange(Exchange):
    """Routes by matching the message's headers table against each binding's arguments.

    The routing key is ignored.  Bindings cannot be indexed: every publish tests each one.
    """

    __slots__ = ("_matchers",)
    type = "headers"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._matchers: list[tuple[HeadersBinding, Any, Binding]] = []

    def validate_binding(self, routing_key: str, arguments: dict | None) -> None:
        """Raise ``PreconditionFailed`` (406) for an invalid ``x-match`` (see :mod:`minimq.headers`)."""
        validate_binding_arguments(arguments)

    def _index_add(self, binding: Binding) -> None:
        self._matchers.append((HeadersBinding(binding.arguments), binding.destination, binding))

    def _index_remove(self, binding: Binding) -> None:
        self._matchers = [m for m in self._matchers if m[2] is not binding]

    def route(self, routing_key: str, headers: dict | None) -> tuple:
        """Destinations of every binding whose arguments ``headers`` satisfy; ``routing_key`` is ignored.

        HOT: O(bindings x considered keys) per publish (:meth:`HeadersBinding.matches` each), plus
        a sort by declaration order when more than one destination matched.  A new tuple per call.
        """
        found = {m[1]: None for m in self._matchers if m[0].matches(headers)}
        if not found:
            return _EMPTY
        if len(found) == 1:
            return tuple(found)
        return tuple(sorted(found, key=_by_seq))


class DefaultExchange(DirectExchange):
    """The nameless direct exchange: every queue is bound to it by its own name, implicitly.

    ``queues`` is the vhost's live name -> queue dict, read (never copied) at each route.
    """

    __slots__ = ("_queues",)

    def __init__(self, queues: dict[str, Any]) -> None:
        super().__init__("", durable=True)
        self._queues = queues

    def route(self, routing_key: str, headers: dict | None) -> tuple:
        """The queue named ``routing_key`` (its stored one-element tuple), or the empty tuple.

        HOT: one dict lookup, no allocation; ``headers`` and explicit bindings are ignored.
        """
        queue = self._queues.get(routing_key)
        return _EMPTY if queue is None else queue.as_route


EXCHANGE_TYPES: dict[str, type[Exchange]] = {
    "direct": DirectExchange,
    "fanout": FanoutExchange,
    "topic": TopicExchange,
    "headers": HeadersExchange,
}

