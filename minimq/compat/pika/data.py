"""AMQP field-table encoding: ``pika.data`` itself when pika is importable, else an equivalent codec.

The facade pushes every table it sends (headers, declare/bind/consume arguments) through
``encode_table`` + ``decode_table``, exactly as the bytes would travel to RabbitMQ and back.  That is
how values arrive "as pika would decode them" (docs/semantics.md §9.2): ``Decimal`` normalised, ``datetime``
truncated to whole seconds (and returned as pika returns it), large ``int`` as 64-bit, ``float``
refused with ``UnsupportedAMQPFieldException``, keys over 255 bytes refused with ``ShortStringTooLong``.

The fallback follows pika 1.4's codec: what it encodes, it decodes to the same types pika's does.
"""

from __future__ import annotations

import calendar
import decimal
import struct
from datetime import datetime, timezone
from typing import Any

from . import exceptions

__all__ = ["encode_short_string", "decode_short_string", "encode_table", "encode_value", "decode_table",
           "decode_value", "long", "as_bytes", "USING_PIKA"]

try:
    from pika.compat import as_bytes, long
    from pika.data import (decode_short_string, decode_table, decode_value, encode_short_string, encode_table,
                           encode_value)
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:

    class long(int):  # type: ignore[no-redef]  # noqa: N801 - pika's name
        """Marks an integer to be encoded as a 64-bit ``l`` field (pika decodes every ``l`` to this)."""

        def __str__(self) -> str:
            return str(int(self))

        def __repr__(self) -> str:
            return str(self) + "L"

    def as_bytes(value: Any) -> bytes:  # type: ignore[no-redef]
        """``value`` as bytes: ``str`` is encoded as UTF-8 (pika's rule for bodies and strings)."""
        if not isinstance(value, bytes):
            return value.encode("UTF-8")
        return value

    def encode_short_string(pieces: list, value: Any) -> int:  # type: ignore[no-redef]
        encoded = as_bytes(value)
        length = len(encoded)
        if length > 255:
            raise exceptions.ShortStringTooLong(encoded)
        pieces.append(struct.pack("B", length))
        pieces.append(encoded)
        return 1 + length

    def decode_short_string(encoded: bytes, offset: int) -> tuple[Any, int]:  # type: ignore[no-redef]
        length = encoded[offset]
        offset += 1
        value: Any = encoded[offset:offset + length]
        try:
            value = value.decode("utf8")
        except UnicodeDecodeError:
            pass
        return value, offset + length

    def encode_table(pieces: list, table: dict | None) -> int:  # type: ignore[no-redef]
        table = table or {}
        length_index = len(pieces)
        pieces.append(None)  # replaced by the size below
        size = 0
        for key, value in table.items():
            size += encode_short_string(pieces, key)
            size += encode_value(pieces, value)
        pieces[length_index] = struct.pack(">I", size)
        return size + 4

    def encode_value(pieces: list, value: Any) -> int:  # type: ignore[no-redef]  # noqa: C901
        if isinstance(value, str):
            value = as_bytes(value)
            pieces.append(struct.pack(">cI", b"S", len(value)))
            pieces.append(value)
            return 5 + len(value)
        if isinstance(value, bytes):
            pieces.append(struct.pack(">cI", b"x", len(value)))
            pieces.append(value)
            return 5 + len(value)
        if isinstance(value, bool):
            pieces.append(struct.pack(">cB", b"t", int(value)))
            return 2
        if isinstance(value, long):
            pieces.append(struct.pack(">cq", b"l", value))
            return 9
        if isinstance(value, int):
            try:
                pieces.append(struct.pack(">ci", b"I", value))
                return 5
            except struct.error:
                pieces.append(struct.pack(">cq", b"l", long(value)))
                return 9
        if isinstance(value, decimal.Decimal):
            value = value.normalize()
            exponent = value.as_tuple().exponent
            if isinstance(exponent, int) and exponent < 0:
                raw = int(value * (decimal.Decimal(10) ** -exponent))
                pieces.append(struct.pack(">cBi", b"D", -exponent, raw))
            else:
                pieces.append(struct.pack(">cBi", b"D", 0, int(value)))
            return 6
        if isinstance(value, datetime):
            pieces.append(struct.pack(">cQ", b"T", calendar.timegm(value.utctimetuple())))
            return 9
        if isinstance(value, dict):
            pieces.append(struct.pack(">c", b"F"))
            return 1 + encode_table(pieces, value)
        if isinstance(value, list):
            inner: list = []
            for item in value:
                encode_value(inner, item)
            piece = b"".join(inner)
            pieces.append(struct.pack(">cI", b"A", len(piece)))
            pieces.append(piece)
            return 5 + len(piece)
        if value is None:
            pieces.append(struct.pack(">c", b"V"))
            return 1
        raise exceptions.UnsupportedAMQPFieldException(pieces, value)

    def decode_table(encoded: bytes, offset: int) -> tuple[dict, int]:  # type: ignore[no-redef]
        result = {}
        size = struct.unpack_from(">I", encoded, offset)[0]
        offset += 4
        limit = offset + size
        while offset < limit:
            key, offset = decode_short_string(encoded, offset)
            value, offset = decode_value(encoded, offset)
            result[key] = value
        return result, offset

    _FIXED = {  # kind -> (struct format, size, wrap)
        b"b": (">b", 1, None), b"B": ("B", 1, None), b"U": (">h", 2, None), b"u": (">H", 2, None),
        b"s": (">h", 2, None), b"I": (">i", 4, None), b"i": (">I", 4, None), b"L": (">q", 8, long),
        b"l": (">q", 8, long), b"f": (">f", 4, long), b"d": (">d", 8, long),
    }

    def decode_value(encoded: bytes, offset: int) -> tuple[Any, int]:  # type: ignore[no-redef]
        kind = encoded[offset:offset + 1]
        offset += 1
        fixed = _FIXED.get(kind)
        if fixed is not None:
            fmt, size, wrap = fixed
            value: Any = struct.unpack_from(fmt, encoded, offset)[0]
            return (wrap(value) if wrap else value), offset + size
        if kind == b"t":
            return bool(encoded[offset]), offset + 1
        if kind == b"D":
            decimals = encoded[offset]
            raw = struct.unpack_from(">i", encoded, offset + 1)[0]
            return decimal.Decimal(raw) * (decimal.Decimal(10) ** -decimals), offset + 5
        if kind in (b"S", b"x"):
            length = struct.unpack_from(">I", encoded, offset)[0]
            offset += 4
            value = encoded[offset:offset + length]
            if kind == b"S":
                try:
                    value = value.decode("utf8")
                except UnicodeDecodeError:
                    pass
            return value, offset + length
        if kind == b"A":
            length = struct.unpack_from(">I", encoded, offset)[0]
            offset += 4
            end = offset + length
            items = []
            while offset < end:
                item, offset = decode_value(encoded, offset)
                items.append(item)
            return items, offset
        if kind == b"T":
            return datetime.fromtimestamp(struct.unpack_from(">Q", encoded, offset)[0], timezone.utc), offset + 8
        if kind == b"F":
            return decode_table(encoded, offset)
        if kind == b"V":
            return None, offset
        raise exceptions.InvalidFieldTypeException(kind)
