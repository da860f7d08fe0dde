"""Dead-lettering: the copy a queue republishes to its DLX, with the ``x-death`` history RabbitMQ writes.

Rules (docs/semantics.md §11): one ``x-death`` entry per (queue, reason), newest first; a repeat death
bumps ``count`` and moves the entry to the front; ``x-first-death-*`` are written once; the
``expiration`` property is removed (kept as ``original-expiration``); after any dead-lettering the
top-level headers table is sorted by key.  :func:`is_cycle` decides whether a copy must be dropped
for a target queue it already died in.
"""

from __future__ import annotations

import datetime
from typing import Any

from .message import Message, Properties

__all__ = ["dead_letter_copy", "DeadLetteredMessage", "is_cycle", "routing_keys_of"]

_FIRST_ENTRY_ORDER = ("count", "reason", "queue", "time", "exchange", "routing-keys", "original-expiration")


def routing_keys_of(message: Message, with_bcc: bool = False) -> list[str]:
    """The publish key followed by the string values of the ``CC`` header (and the ``BCC`` keys).

    ``CC`` counts only when it is a ``list``; its non-``str`` elements are skipped.  The ``BCC``
    keys are the message's ``bcc`` attribute (a :class:`~minimq.message.BccMessage`), added only when
    ``with_bcc``.  Returns a new list; duplicates are kept; never raises.
    """
    keys = [message.routing_key]
    headers = message.headers
    if headers:
        cc = headers.get("CC")
        if isinstance(cc, list):
            keys.extend(k for k in cc if isinstance(k, str))
    if with_bcc:
        bcc = getattr(message, "bcc", None)
        if bcc:
            keys.extend(bcc)
    return keys


def _sorted_table(table: dict[str, Any]) -> dict[str, Any]:
    # UTF-8 preserves code point order, so sorting the str keys sorts them bytewise as RabbitMQ does
    return {k: table[k] for k in sorted(table)}


_time_cache: tuple = (None, None)  # (epoch second, naive UTC datetime), replaced atomically: threads may share it


def _death_time(wall_time: float) -> datetime.datetime:
    global _time_cache
    second = int(wall_time)
    cached_second, cached = _time_cache
    if cached_second != second:
        cached = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).replace(tzinfo=None)
        _time_cache = (second, cached)
    return cached


class DeadLetteredMessage(Message):
    """The copy a queue dead-letters.  Its properties (the updated ``x-death`` history) are built the
    first time anyone looks at them, which is when it is delivered, fetched or stored: a dead-letter
    queue that only accumulates pays one object per message, not seven.  Routing, cycle checks and
    counting never need them.

    ``exchange`` is the DLX, ``routing_key`` the dead-letter routing key or else the source's,
    ``ttl`` is ``None`` (a per-message TTL does not survive dead-lettering).  Construction is O(1).
    """

    __slots__ = ("_source", "_queue_name", "_reason", "_wall_time", "_dlrk", "_props", "trace_id")

    def __init__(self, source: Message, queue_name: str, reason: str, dlx: str,
                 dead_letter_routing_key: str | None, wall_time: float) -> None:
        self.body = source.body
        self.exchange = dlx
        self.routing_key = source.routing_key if dead_letter_routing_key is None else dead_letter_routing_key
        self.ttl = None
        self._source = source
        self._queue_name = queue_name
        self._reason = reason
        self._wall_time = wall_time
        self._dlrk = dead_letter_routing_key
        self._props: Properties | None = None
        #: the copy's own event identity (minimq.events names it when someone listens)
        self.trace_id: int | None = None

    @property
    def origin_id(self) -> int | None:  # type: ignore[override]
        """The event identity of the message this copy was made from (None if it had none)."""
        return self._source.trace_id

    @property  # type: ignore[override]
    def properties(self) -> Properties:
        """The copy's properties (:func:`dead_letter_properties`), built on first access and cached.

        First access costs a copy and sort of the headers table and the ``x-death`` array; later
        ones are O(1).  Never ``None``.
        """
        props = self._props
        if props is None:
            props = self._props = dead_letter_properties(self._source, self._queue_name, self._reason,
                                                         self._dlrk, self._wall_time)
        return props

    @property
    def bcc(self) -> list[str] | None:
        """The source message's ``BCC`` routing keys, ``None`` when it had none."""
        return getattr(self._source, "bcc", None)

    def first_death(self) -> bool:
        """True when this is the message's first death (its source carried no ``x-death``).

        O(1): does not build :attr:`properties`.  A source that is itself a dead-lettered copy
        always has an ``x-death`` (False).
        """
        source = self._source
        if type(source) is DeadLetteredMessage:
            return False
        props = source.properties
        headers = None if props is None else props.headers
        return not (headers and headers.get("x-death"))


def dead_letter_copy(message: Message, queue_name: str, reason: str, dlx: str,
                     dead_letter_routing_key: str | None, wall_time: float) -> DeadLetteredMessage:
    """The message a queue dead-letters (the original is untouched; properties are built lazily).

    ``reason`` is the ``x-death`` reason (``rejected``, ``expired``, ``maxlen``, ``delivery_limit``);
    ``dlx`` becomes the copy's exchange; ``wall_time`` (epoch seconds) stamps the death.  O(1).
    """
    return DeadLetteredMessage(message, queue_name, reason, dlx, dead_letter_routing_key, wall_time)


def dead_letter_properties(message: Message, queue_name: str, reason: str,
                           dead_letter_routing_key: str | None, wall_time: float) -> Properties:
    """The properties of a dead-lettered copy: ``x-death`` updated, ``expiration`` removed.

    When ``x-death`` is an array, the entry for (``queue_name``, ``reason``) has its ``count`` bumped
    and moves to the front, or a new entry is put first; an absent or non-array ``x-death`` is
    replaced by one new entry.  ``x-first-death-*`` are set only when there was no ``x-death``.  A
    ``CC`` header is dropped when ``dead_letter_routing_key`` is given.  The headers table comes out
    sorted by key.  Neither ``message`` nor its headers are modified (entries are copied).  O(size
    of headers + x-death); never raises for well-formed headers.
    """
    props = message.properties
    if props is None:
        props = _NO_PROPERTIES
    old_headers = props.headers
    previous = old_headers.get("x-death", _ABSENT) if old_headers else _ABSENT
    if isinstance(previous, list):
        # later deaths (RabbitMQ's update_x_death_header): the entry for this queue and reason gets its
        # count bumped, or a new one is made; either is sorted and moves to the front
        deaths = [dict(d) if isinstance(d, dict) else d for d in previous]
        for i, death in enumerate(deaths):
            if isinstance(death, dict) and death.get("queue") == queue_name and death.get("reason") == reason:
                entry = deaths.pop(i)
                entry["count"] = entry.get("count", 0) + 1
                deaths.insert(0, _sorted_table(entry))
                break
        else:
            deaths.insert(0, _sorted_table(_new_death(message, props, queue_name, reason, wall_time)))
    else:
        # no x-death yet, or one that is not an array (reset): RabbitMQ's field order, count first
        deaths = [_new_death(message, props, queue_name, reason, wall_time)]
    if old_headers:
        headers = dict(old_headers)
        headers["x-death"] = deaths
        if previous is _ABSENT:  # only the very first death sets (or overwrites) the x-first-death-* keys
            headers["x-first-death-reason"] = reason
            headers["x-first-death-queue"] = queue_name
            headers["x-first-death-exchange"] = message.exchange
        if dead_letter_routing_key is not None:
            headers.pop("CC", None)
        headers = _sorted_table(headers)
    else:
        headers = {  # already in sorted order
            "x-death": deaths,
            "x-first-death-exchange": message.exchange,
            "x-first-death-queue": queue_name,
            "x-first-death-reason": reason,
        }
    return props.dead_lettered(headers)


def _new_death(message: Message, props: Properties, queue_name: str, reason: str,
               wall_time: float) -> dict[str, Any]:
    entry = {
        "count": 1,
        "reason": reason,
        "queue": queue_name,
        "time": _death_time(wall_time),
        "exchange": message.exchange,
        "routing-keys": routing_keys_of(message),
    }
    if props.expiration is not None:
        entry["original-expiration"] = props.expiration
    return entry


_NO_PROPERTIES = Properties()
_ABSENT = object()


def is_cycle(dead_lettered: Message, target_queue: str) -> bool:
    """True if the copy must not enter ``target_queue``: it died there before with no rejection since.

    Walks ``x-death`` newest first: a ``rejected`` entry ends the walk (no cycle), an entry for
    ``target_queue`` is a cycle.  O(1) for a first death, otherwise builds the copy's properties
    and is O(len(x-death)).  A non-table element (possible only in an ``x-death`` the publisher
    supplied) tells nothing and is stepped over, as RabbitMQ's cycle check steps over it.
    """
    if type(dead_lettered) is DeadLetteredMessage and dead_lettered.first_death():
        # x-death holds this one death: no need to build it
        return dead_lettered._reason != "rejected" and dead_lettered._queue_name == target_queue
    headers = dead_lettered.headers or {}
    for death in headers.get("x-death", ()):
        if not isinstance(death, dict):
            continue
        if death.get("reason") == "rejected":
            return False
        if death.get("queue") == target_queue:
            return True
    return False
