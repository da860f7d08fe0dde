"""The modelled wire: what pika would encode, and what the broker and pika would decode from it.

minimq opens no socket, yet a pika user must see what crossing the wire does to their values: pika's
encoder refuses what it cannot encode (``ShortStringTooLong``, ``UnsupportedAMQPFieldException``,
``AssertionError`` for a non-string name, ``struct.error`` for a number out of range), tables and
properties come back as pika decodes them (fresh objects, ``Decimal`` normalised, ``datetime`` cut to
seconds ...), and RabbitMQ refuses a content header frame larger than the negotiated frame size.
This module holds that round trip, built on :mod:`.spec` and :mod:`.data` (pika's own codec when
pika is importable):

* :func:`wire` -- a ``spec`` method as the broker receives it;
* :func:`copy_table` -- a field table as pika decodes it;
* :func:`properties_to_core` / :func:`properties_to_pika` -- ``BasicProperties`` to the core's
  :class:`minimq.message.Properties` and back, as they travel in a content header frame;
* :func:`content_header_error` -- the error RabbitMQ closes the connection with when that frame is
  too large for :data:`FRAME_MAX`;
* :func:`short_string_ok` and :func:`check_channel_number` -- cheap checks that stand for the encoder.
"""

from __future__ import annotations

import struct
from typing import Any

from ... import errors as core_errors
from ...message import Properties
from . import data, spec

__all__ = ["FRAME_MAX", "CONTENT_HEADER_FIXED", "wire", "copy_table", "properties_to_core",
           "properties_to_pika", "content_header_error", "short_string_ok", "check_channel_number"]

#: the frame size RabbitMQ 3.10 negotiates with pika
FRAME_MAX = 131072
#: class id, weight and body size before the properties in a content header frame's payload
CONTENT_HEADER_FIXED = 12


def wire(method: Any) -> Any:
    """``method`` as the broker receives it: encoded by pika's rules (raising what pika raises --
    ``ShortStringTooLong``, ``UnsupportedAMQPFieldException``, ``AssertionError`` for a non-string name)
    and decoded again."""
    return type(method)().decode(b"".join(method.encode()))


def copy_table(table: dict) -> dict:
    """A table as pika decodes it after a round trip through the wire (fresh objects every time)."""
    pieces: list = []
    data.encode_table(pieces, table)
    return data.decode_table(b"".join(pieces), 0)[0]


def properties_to_core(properties: Any) -> tuple[Properties | None, int]:
    """What the broker receives for pika ``properties`` (None when no property is set), and the size
    of the content header frame's payload that carries them."""
    encoded = b"".join(properties.encode())
    struct.pack(">H", properties.INDEX)  # as pika's content header frame: fails for other objects
    got = spec.BasicProperties().decode(encoded)
    size = CONTENT_HEADER_FIXED + len(encoded)
    values = (got.content_type, got.content_encoding, got.headers, got.delivery_mode, got.priority,
              got.correlation_id, got.reply_to, got.expiration, got.message_id, got.timestamp, got.type,
              got.user_id, got.app_id, got.cluster_id)
    if values.count(None) == 14:
        return None, size
    return Properties(*values), size


def properties_to_pika(props: Properties | None) -> Any:
    """The ``BasicProperties`` pika decodes from what the broker delivers (a new object every time)."""
    if props is None:
        return spec.BasicProperties()
    headers = props.headers
    return spec.BasicProperties(props.content_type, props.content_encoding,
                                None if headers is None else copy_table(headers), props.delivery_mode,
                                props.priority, props.correlation_id, props.reply_to, props.expiration,
                                props.message_id, props.timestamp, props.type, props.user_id, props.app_id,
                                props.cluster_id)


def content_header_error(header_size: int) -> core_errors.FrameError | None:
    """The error RabbitMQ closes the connection with when a content header frame's payload of
    ``header_size`` bytes exceeds :data:`FRAME_MAX` (it allows 8 bytes of slack over ``frame_max - 8``
    for clients that count the frame's own header); None when the frame fits."""
    if header_size <= FRAME_MAX:
        return None
    return core_errors.FrameError(f"type 2, all octets = <<>>: {{frame_too_large,{header_size},{FRAME_MAX - 8}}}")


def short_string_ok(value: Any) -> bool:
    """Fast path: a ``str`` that certainly encodes to at most 255 bytes (else take the full encoder)."""
    return type(value) is str and (len(value) <= 63 or len(value.encode()) <= 255)


def check_channel_number(channel_number: int) -> None:
    """Raise ``struct.error`` for a channel number that does not fit a frame's 16-bit field, as pika's
    frame encoding does."""
    struct.pack(">H", channel_number)
