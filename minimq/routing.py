"""Routing beyond one exchange: from the exchange a message is published to, to the queues it reaches.

One function, :func:`route`, serves every publish, every ``tx.commit`` and every dead-lettering.

The rules (docs/semantics.md §5): a message follows exchange-to-exchange bindings; an exchange that
routes it nowhere hands it to its alternate exchange, if that exists (the default exchange reached
as an alternate routes nothing: its queue-name bindings are implicit and honoured only for a publish
to it); ``CC`` and ``BCC`` header keys are routed as extra routing keys at every exchange visited;
each exchange is visited at most once per publish and each queue is reached at most once; queues come
back in declaration order.

Cost model (HOT).  The common case is one exchange, no extra keys and no exchange destinations:
:func:`route` is then one test of two attributes and one ``Exchange.route`` call, which returns a
stored tuple (direct, fanout, default) or a cached topic result; nothing is allocated.  An empty
result costs one more test (is there an alternate exchange?).  Everything else walks the graph in
:func:`route_keys`: per exchange visited, one ``Exchange.route`` per key, one dict insert per
destination found, and a sort of the queues when more than one was reached.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

__all__ = ["route", "route_keys", "LAZY_HEADERS"]


class _LazyHeaders:
    """Marker for ``headers``: read ``message.headers`` only if a headers exchange needs them."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "LAZY_HEADERS"


#: pass as ``headers`` when building the headers costs something (a dead-lettered copy builds its
#: x-death properties on first access): only a headers exchange on the path makes :func:`route` read them
LAZY_HEADERS: Any = _LazyHeaders()


def route(exchanges: Mapping[str, Any], exchange: Any, routing_key: str, headers: Any,
          extra_keys: Sequence[str] | None, message: Any) -> Sequence[Any]:
    """The queues ``message`` reaches when published to ``exchange`` with ``routing_key``.

    ``exchanges`` is the vhost's table (alternate exchanges are looked up by name); ``headers`` the
    message's headers table, None, or :data:`LAZY_HEADERS`; ``extra_keys`` the ``CC``/``BCC`` keys or
    None.  Returns a sequence the caller must not mutate (often a stored tuple).
    """
    if extra_keys is None and not exchange.exchange_destinations:
        if headers is LAZY_HEADERS:
            headers = message.headers if exchange.type == "headers" else None
        found = exchange.route(routing_key, headers)
        if found or exchange.alternate_exchange is None:
            return found
    keys = [routing_key] if extra_keys is None else [routing_key, *extra_keys]
    if headers is LAZY_HEADERS:
        headers = message.headers
    return route_keys(exchanges, exchange, keys, headers)


def route_keys(exchanges: Mapping[str, Any], exchange: Any, keys: Sequence[str],
               headers: dict | None) -> list[Any]:
    """The general walk: every key at every exchange reached, alternates followed, queues once each."""
    visited: set[Any] = set()
    queues: dict[Any, None] = {}
    pending = [exchange]
    while pending:
        current = pending.pop()
        if current in visited:
            continue
        visited.add(current)
        matched: dict[Any, None] = {}
        for key in keys:
            for dest in current.route(key, headers):
                matched[dest] = None
        if not matched:
            alternate = current.alternate_exchange
            if alternate:  # the default exchange ("") as an alternate routes nothing (see above)
                target = exchanges.get(alternate)
                if target is not None:
                    pending.append(target)
            continue
        for dest in matched:
            if dest.is_queue:
                queues[dest] = None
            else:
                pending.append(dest)
    if len(queues) < 2:
        return list(queues)
    return sorted(queues, key=lambda q: q.seq)
