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
    return {k: table[k] for k in sorted(table, key=lambda k: k.encode())}


def dead_letter_copy(message: Message, queue_name: str, reason: str, dlx: str,
                     dead_letter_routing_key: str | None, wall_time: float) -> Message:
    """Build the message a queue dead-letters (a new Message; the original is untouched)."""
    props = message.properties or Properties()
    headers = dict(props.headers) if props.headers else {}
    deaths = [dict(d) for d in headers.get("x-death", [])] if isinstance(headers.get("x-death"), list) else []
    existing = next((i for i, d in enumerate(deaths) if d.get("queue") == queue_name and d.get("reason") == reason), None)
    if existing is not None:
        entry = deaths.pop(existing)
        entry["count"] = entry.get("count", 0) + 1
        deaths.insert(0, _sorted_table(entry))
    else:
        entry = {
            "count": 1,
            "reason": reason,
            "queue": queue_name,
            "time": datetime.datetime.fromtimestamp(int(wall_time), datetime.timezone.utc).replace(tzinfo=None),
            "exchange": message.exchange,
            "routing-keys": routing_keys_of(message),
        }
        if props.expiration is not None:
            entry["original-expiration"] = props.expiration
        deaths.insert(0, entry if not deaths and "x-death" not in headers else _sorted_table(entry))
    headers["x-death"] = deaths
    if "x-first-death-reason" not in headers:
        headers["x-first-death-reason"] = reason
        headers["x-first-death-queue"] = queue_name
        headers["x-first-death-exchange"] = message.exchange
    if dead_letter_routing_key is not None:
        headers.pop("CC", None)
    new_props = props.copy(headers=_sorted_table(headers), expiration=None)
    routing_key = message.routing_key if dead_letter_routing_key is None else dead_letter_routing_key
    if type(message) is BccMessage:
        return BccMessage(message.body, new_props, dlx, routing_key, None, message.bcc)
    return Message(message.body, new_props, dlx, routing_key)


def is_cycle(dead_lettered: Message, target_queue: str) -> bool:
    """True if the copy must not enter ``target_queue``: it died there before with no rejection since."""
    headers = dead_lettered.headers or {}
    for death in headers.get("x-death", ()):
        if death.get("reason") == "rejected":
            return False
        if death.get("queue") == target_queue:
            return True
    return False
