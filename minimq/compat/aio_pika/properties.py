"""Message properties between the wire and the core (:class:`minimq.Properties`).

Inbound, pamqp decodes the client's content header into its ``Basic.Properties``: the same 14 AMQP
properties under the same names but two (pamqp calls ``type`` ``message_type`` and holds ``timestamp``
as a ``datetime`` where the core holds seconds since the epoch).  Field-table values pass through
unchanged: pamqp decodes them to the Python types the core uses.

Outbound, :func:`encode_properties` writes the property list itself rather than through pamqp, for
two reasons a server cannot give up: pamqp sorts the keys of every field table (RabbitMQ keeps the
order the publisher chose, and its own ``x-death`` tables have a fixed order clients can see), and it
leaves out empty-string properties (RabbitMQ carries ``content_type=''`` as present).
"""

from __future__ import annotations

import datetime
import struct
from typing import Any

from pamqp import commands, encode

from ...message import Properties

__all__ = ["to_core", "encode_properties", "encode_table"]

_UTC = datetime.timezone.utc


def to_core(wire: commands.Basic.Properties) -> Properties | None:
    """The core properties of a published message's content header (None when it carries none)."""
    timestamp: Any = wire.timestamp
    if isinstance(timestamp, datetime.datetime):
        if timestamp.tzinfo is None:
            timestamp = timestamp.replace(tzinfo=_UTC)
        timestamp = int(timestamp.timestamp())
    properties = Properties(
        content_type=wire.content_type,
        content_encoding=wire.content_encoding,
        headers=wire.headers,
        delivery_mode=wire.delivery_mode,
        priority=wire.priority,
        correlation_id=wire.correlation_id,
        reply_to=wire.reply_to,
        expiration=wire.expiration,
        message_id=wire.message_id,
        timestamp=timestamp,
        type=wire.message_type,
        user_id=wire.user_id,
        app_id=wire.app_id,
        cluster_id=wire.cluster_id or None,
    )
    return properties


_SHORT = struct.Struct(">B")
_UINT16 = struct.Struct(">H")
_UINT32 = struct.Struct(">I")
_UINT64 = struct.Struct(">Q")
#: (property, flag bit, kind) in wire order
_LAYOUT = (
    ("content_type", 1 << 15, "s"), ("content_encoding", 1 << 14, "s"), ("headers", 1 << 13, "t"),
    ("delivery_mode", 1 << 12, "o"), ("priority", 1 << 11, "o"), ("correlation_id", 1 << 10, "s"),
    ("reply_to", 1 << 9, "s"), ("expiration", 1 << 8, "s"), ("message_id", 1 << 7, "s"),
    ("timestamp", 1 << 6, "T"), ("type", 1 << 5, "s"), ("user_id", 1 << 4, "s"), ("app_id", 1 << 3, "s"),
    ("cluster_id", 1 << 2, "s"),
)


def _shortstr(value: str) -> bytes:
    raw = value.encode() if isinstance(value, str) else bytes(value)
    return _SHORT.pack(len(raw)) + raw


def encode_table(table: dict) -> bytes:
    """A field table in its own key order (nested tables and arrays too)."""
    parts = []
    for key, value in table.items():
        parts.append(_shortstr(key))
        parts.append(_encode_value(value))
    payload = b"".join(parts)
    return _UINT32.pack(len(payload)) + payload


def _encode_value(value: Any) -> bytes:
    if isinstance(value, dict):
        return b"F" + encode_table(value)
    if isinstance(value, (list, tuple)):
        payload = b"".join(_encode_value(item) for item in value)
        return b"A" + _UINT32.pack(len(payload)) + payload
    return encode.encode_table_value(value)


def encode_properties(properties: Properties | None) -> bytes:
    """The property flags and list of a content header, as RabbitMQ writes them."""
    if properties is None:
        return b"\x00\x00"
    flags = 0
    parts = []
    for name, bit, kind in _LAYOUT:
        value = getattr(properties, name)
        if value is None:
            continue
        flags |= bit
        if kind == "s":
            parts.append(_shortstr(value))
        elif kind == "o":
            parts.append(_SHORT.pack(value))
        elif kind == "t":
            parts.append(encode_table(value))
        else:
            if isinstance(value, datetime.datetime):
                value = int((value if value.tzinfo else value.replace(tzinfo=_UTC)).timestamp())
            parts.append(_UINT64.pack(int(value)))
    return _UINT16.pack(flags) + b"".join(parts)
