"""Message properties between the wire (pamqp's ``Basic.Properties``) and the core (:class:`minimq.Properties`).

The two carry the same 14 AMQP properties under the same names but two: pamqp calls ``type``
``message_type`` and holds ``timestamp`` as a ``datetime`` where the core holds seconds since the
epoch.  Field-table values pass through unchanged: pamqp decodes them to the Python types the core
uses (``int``, ``str``, ``bytes``, ``Decimal``, ``datetime``, ``dict``, ``list``, ``None``).
"""

from __future__ import annotations

import datetime
from typing import Any

from pamqp import commands

from ...message import Properties

__all__ = ["to_core", "to_wire"]

_UTC = datetime.timezone.utc
_EMPTY_WIRE = commands.Basic.Properties()


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


def to_wire(properties: Properties | None) -> commands.Basic.Properties:
    """The content header properties that carry ``properties`` to the client."""
    if properties is None:
        return _EMPTY_WIRE
    timestamp: Any = properties.timestamp
    if isinstance(timestamp, (int, float)) and not isinstance(timestamp, bool):
        timestamp = datetime.datetime.fromtimestamp(timestamp, _UTC)
    wire = commands.Basic.Properties(
        content_type=properties.content_type,
        content_encoding=properties.content_encoding,
        headers=properties.headers,
        delivery_mode=properties.delivery_mode,
        priority=properties.priority,
        correlation_id=properties.correlation_id,
        reply_to=properties.reply_to,
        expiration=properties.expiration,
        message_id=properties.message_id,
        timestamp=timestamp,
        message_type=properties.type,
        user_id=properties.user_id,
        app_id=properties.app_id,
    )
    # pamqp's default cluster_id is '' (which it would send); absent stays absent
    wire.cluster_id = properties.cluster_id  # type: ignore[assignment]
    return wire
