"""Dead-lettering: the copy a queue republishes to its DLX, with the ``x-death`` history RabbitMQ writes.

Rules (SEMANTICS.md §11): one ``x-death`` entry per (queue, reason), newest first; a repeat death
bumps ``count`` and moves the entry to the front; ``x-first-death-*`` are written once; the
``expiration`` property is removed (kept as ``original-expiration``); after any dead-lettering the
top-level headers table is sorted by key.  :func:`is_cycle` decides whether a copy must be dropped
for a target queue it already died in.
"""

from __future__ import annotations

import datetime
from typing import Any

from .message import BccMessage, Message, Properties

__all__ = ["dead_letter_copy", "is_cycle", "routing_keys_of"]

_FIRST_ENTRY_ORDER = ("count", "reason", "queue", "time", "exchange", "routing-keys", "original-expiration")


def routing_keys_of(message: Message, with_bcc: bool = False) -> list[str]:
    """The publish key followed by the string values of the ``CC`` header (and the ``BCC`` keys)."""
    keys = [message.routing_key]
    headers = message.headers
    if headers:
        cc = headers.get("CC")
        if isinstance(cc, list):
            keys.extend(k for k in cc if isinstance(k, str))
    if with_bcc and type(message) is BccMessage:
        keys.extend(message.bcc)
    return keys


def _sorted_table(table: dict[str, Any]) -> dict[str, Any]:
    # UTF-8 preserves code point order, so sorting the str keys sorts them bytewise as RabbitMQ does
    return {k: table[k] for k in sorted(table)}


_time_cache: list = [None, None]  # [epoch second, naive UTC datetime]: dead-letterings come in bursts


def _death_time(wall_time: float) -> datetime.datetime:
    second = int(wall_time)
    cache = _time_cache
    if cache[0] != second:
        cache[1] = datetime.datetime.fromtimestamp(second, datetime.timezone.utc).replace(tzinfo=None)
        cache[0] = second
    return cache[1]


def dead_letter_copy(message: Message, queue_name: str, reason: str, dlx: str,
                     dead_letter_routing_key: str | None, wall_time: float) -> Message:
    """Build the message a queue dead-letters (a new Message; the original is untouched)."""
    props = message.properties
    if props is None:
        props = _NO_PROPERTIES
    old_headers = props.headers
    previous = old_headers.get("x-death") if old_headers else None
    if isinstance(previous, list) and previous:
        deaths = [dict(d) for d in previous]
        for i, death in enumerate(deaths):
            if death.get("queue") == queue_name and death.get("reason") == reason:
                entry = deaths.pop(i)
                entry["count"] = entry.get("count", 0) + 1
                deaths.insert(0, _sorted_table(entry))
                break
        else:
            deaths.insert(0, _sorted_table(_new_death(message, props, queue_name, reason, wall_time)))
    else:
        # the very first death keeps RabbitMQ's field order: count, reason, queue, time, exchange, ...
        deaths = [_new_death(message, props, queue_name, reason, wall_time)]
    if old_headers:
        headers = dict(old_headers)
        headers["x-death"] = deaths
        if "x-first-death-reason" not in headers:
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
    new_props = props.dead_lettered(headers)
    routing_key = message.routing_key if dead_letter_routing_key is None else dead_letter_routing_key
    if type(message) is BccMessage:
        return BccMessage(message.body, new_props, dlx, routing_key, None, message.bcc)
    return Message(message.body, new_props, dlx, routing_key)


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


def is_cycle(dead_lettered: Message, target_queue: str) -> bool:
    """True if the copy must not enter ``target_queue``: it died there before with no rejection since."""
    headers = dead_lettered.headers or {}
    for death in headers.get("x-death", ()):
        if death.get("reason") == "rejected":
            return False
        if death.get("queue") == target_queue:
            return True
    return False
