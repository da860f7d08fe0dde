"""Message converters: plain Python values to message bodies and back, chosen by type and content type.

Out (:meth:`Converters.to_message`): the first converter, in list order, whose ``can_write(obj)`` is
true writes the body, and its ``content_type`` (and ``content_encoding``, for text) go on the message.
The default order is bytes, str, JSON, msgpack:

* ``bytes``/``bytearray``/``memoryview`` go out as they are (``application/octet-stream``);
* ``str`` is encoded as UTF-8 (``text/plain``, ``content_encoding="utf-8"``);
* everything JSON can carry goes out as JSON (``application/json``), so msgpack, last, never
  wins a write in the default list; it is there so that msgpack bodies are read back.

Back (:meth:`Converters.from_message`): the converter is the one whose ``content_type`` equals the
message's media type (parameters such as ``; charset=...`` dropped, case ignored).  A message with no
content type, or one no converter knows, gives its **raw bytes**: the message is not lost or
refused, the caller decides.  A body that does not decode as its content type says raises
:class:`~minimq.app.errors.MessageConversionError`.

What JSON and msgpack write, beyond their native types (``dict`` with string keys, ``list``,
``tuple``, ``str``, ``int``, ``float``, ``bool``, ``None``; msgpack also ``bytes``):

* dataclass instances and ``TypedDict`` values (plain dicts already) as objects of their fields;
  pydantic models through their JSON-mode dict (``model_dump(mode="json")``, or ``dict()`` on v1);
* ``datetime``, ``date`` and ``time`` as ISO 8601 strings (``datetime.isoformat()``), ``UUID`` and
  ``Decimal`` as strings (a JSON number would lose a ``Decimal``'s precision), an ``Enum`` member
  as its value.  They come back as those strings: turning them into typed values is the listener's
  payload conversion (by the handler's annotation), not a converter's.
* ``NaN`` and infinities are refused (they are not JSON), and so is any other type, naming it.

Converters only turn bytes into plain values and back; typed conversion (a body into a dataclass
or pydantic model) is done by :mod:`minimq.app.payloads` from the handler's annotations.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import json
import uuid
from typing import Any, Iterable, Protocol, runtime_checkable

import msgpack

from .errors import MessageConversionError

__all__ = ["MessageConverter", "JsonConverter", "MsgpackConverter", "BytesConverter", "StrConverter",
           "Converters", "media_type"]

# the types JSON and msgpack write natively (dict keys excepted: JSON needs strings there)
_PLAIN = (dict, list, tuple, str, int, float, bool, type(None))
# written as strings by _encode_extra
_AS_STRING = (datetime.datetime, datetime.date, datetime.time, uuid.UUID, decimal.Decimal)


@runtime_checkable
class MessageConverter(Protocol):
    """Turns some Python values into message bodies of one content type, and such bodies back.

    ``content_encoding`` is what ``write`` encodes text with (``None`` for binary formats and for
    JSON, which is UTF-8 by definition).  ``read`` takes the message's ``content_encoding`` too,
    for formats whose bytes depend on it (text); it may ignore it.
    """

    content_type: str
    content_encoding: str | None

    def can_write(self, obj: object) -> bool:
        """Whether this converter writes ``obj`` (a type check: cheap, never encodes)."""

    def write(self, obj: object) -> bytes:
        """The body for ``obj``; :class:`MessageConversionError` if it (or a value inside it) cannot be written."""

    def read(self, body: bytes, content_encoding: str | None = None) -> object:
        """The value a body of this content type holds; :class:`MessageConversionError` if it does not decode."""


def media_type(content_type: str | None) -> str:
    """``content_type`` without its parameters, lower case: ``"Application/JSON; charset=utf-8"`` ->
    ``"application/json"`` (``""`` for None)."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a content type, if it has one."""
    if not content_type:
        return None
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _is_model(obj: object) -> bool:
    """A pydantic model instance (v2 ``model_dump`` or v1 ``dict`` + ``__fields__``), by duck typing:
    pydantic is not a dependency."""
    cls = type(obj)
    return callable(getattr(cls, "model_dump", None)) or (
        hasattr(cls, "__fields__") and callable(getattr(cls, "dict", None)) and not isinstance(obj, type))


def _extra_writable(obj: object) -> bool:
    return (isinstance(obj, _AS_STRING) or isinstance(obj, enum.Enum)
            or (dataclasses.is_dataclass(obj) and not isinstance(obj, type)) or _is_model(obj))


def _encode_extra(obj: Any) -> Any:
    """``default`` hook of the JSON and msgpack encoders: what they do not write natively (see the
    module docstring); anything else is refused with its type named."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        # shallow: the encoder calls this hook again for nested values it cannot write
        return {field.name: getattr(obj, field.name) for field in dataclasses.fields(obj)}
    if isinstance(obj, datetime.date | datetime.time):  # datetime is a date
        return obj.isoformat()
    if isinstance(obj, uuid.UUID | decimal.Decimal):
        return str(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    if _is_model(obj):
        dump = getattr(obj, "model_dump", None)
        return dump(mode="json") if dump is not None else json.loads(obj.json())
    raise TypeError(f"cannot write a value of type {type(obj).__qualname__}")


class JsonConverter:
    """``application/json``, UTF-8, compact; see the module docstring for what it writes beyond JSON's types."""

    content_type = "application/json"
    content_encoding: str | None = None

    def __init__(self) -> None:
        # one encoder, reused (allow_nan=False: NaN is not JSON, RFC 8259)
        self._encoder = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"),
                                         default=_encode_extra)

    def can_write(self, obj: object) -> bool:
        """Top-level type check: JSON's own types, dataclasses, pydantic models, dates, UUIDs, decimals, enums."""
        return isinstance(obj, _PLAIN) or _extra_writable(obj)

    def write(self, obj: object) -> bytes:
        """``obj`` as compact UTF-8 JSON."""
        try:
            return self._encoder.encode(obj).encode("utf-8")
        except (TypeError, ValueError, RecursionError) as error:
            raise MessageConversionError(f"JsonConverter cannot write {type(obj).__qualname__}: {error}") from error

    def read(self, body: bytes, content_encoding: str | None = None) -> object:
        """The decoded JSON value (``content_encoding`` ignored: JSON is UTF-8)."""
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:
            raise MessageConversionError(f"body is not valid {self.content_type}: {error}") from error


class MsgpackConverter:
    """``application/msgpack``: the values :class:`JsonConverter` writes, plus ``bytes``; tuples come back as lists."""

    content_type = "application/msgpack"
    content_encoding: str | None = None

    def __init__(self) -> None:
        self._packer = msgpack.Packer(default=_encode_extra, use_bin_type=True)

    def can_write(self, obj: object) -> bool:
        """Top-level type check: as :meth:`JsonConverter.can_write`, and ``bytes``."""
        return isinstance(obj, _PLAIN) or isinstance(obj, bytes) or _extra_writable(obj)

    def write(self, obj: object) -> bytes:
        """``obj`` packed."""
        try:
            return self._packer.pack(obj)
        except (TypeError, ValueError, OverflowError) as error:
            # a failed pack leaves the packer's buffer dirty: start from a clean one
            self._packer.reset()
            raise MessageConversionError(f"MsgpackConverter cannot write {type(obj).__qualname__}: {error}") \
                from error

    def read(self, body: bytes, content_encoding: str | None = None) -> object:
        """The unpacked value (maps may have non-string keys)."""
        try:
            return msgpack.unpackb(body, raw=False, strict_map_key=False)
        except (ValueError, msgpack.UnpackException) as error:
            raise MessageConversionError(f"body is not valid {self.content_type}: {error}") from error


class BytesConverter:
    """``application/octet-stream``: ``bytes``, ``bytearray`` and ``memoryview`` as they are."""

    content_type = "application/octet-stream"
    content_encoding: str | None = None

    def can_write(self, obj: object) -> bool:
        """True for bytes-like values."""
        return isinstance(obj, bytes | bytearray | memoryview)

    def write(self, obj: object) -> bytes:
        """The bytes themselves."""
        if not isinstance(obj, bytes | bytearray | memoryview):
            raise MessageConversionError(f"BytesConverter cannot write {type(obj).__qualname__}")
        return bytes(obj)

    def read(self, body: bytes, content_encoding: str | None = None) -> object:
        """The body unchanged."""
        return body


class StrConverter:
    """``text/plain``: ``str`` encoded with ``encoding`` (UTF-8 unless told), written to ``content_encoding``.

    Reading decodes with the message's ``content_encoding``, else the content type's ``charset``
    parameter (when :meth:`Converters.from_message` passes it on), else UTF-8.
    """

    content_type = "text/plain"

    def __init__(self, encoding: str = "utf-8") -> None:
        "".encode(encoding)  # an unknown codec fails here, at construction, with LookupError
        self.content_encoding: str | None = encoding

    def can_write(self, obj: object) -> bool:
        """True for ``str``."""
        return isinstance(obj, str)

    def write(self, obj: object) -> bytes:
        """``obj`` encoded."""
        if not isinstance(obj, str):
            raise MessageConversionError(f"StrConverter cannot write {type(obj).__qualname__}")
        try:
            return obj.encode(self.content_encoding or "utf-8")
        except UnicodeEncodeError as error:
            raise MessageConversionError(f"StrConverter cannot encode the text as {self.content_encoding}: "
                                         f"{error}") from error

    def read(self, body: bytes, content_encoding: str | None = None) -> object:
        """The decoded text."""
        encoding = content_encoding or "utf-8"
        try:
            return body.decode(encoding)
        except (UnicodeDecodeError, LookupError) as error:
            raise MessageConversionError(f"body is not {self.content_type} in {encoding}: {error}") from error


class Converters:
    """An ordered list of converters: by type on the way out, by content type on the way back.

    ``Converters()`` is bytes, str, JSON, msgpack (see the module docstring); pass a list to choose
    (put a custom converter first to take a type before the defaults do).
    """

    def __init__(self, converters: Iterable[MessageConverter] | None = None) -> None:
        if converters is None:
            converters = (BytesConverter(), StrConverter(), JsonConverter(), MsgpackConverter())
        self.converters: tuple[MessageConverter, ...] = tuple(converters)
        for converter in self.converters:
            if not isinstance(converter, MessageConverter):
                raise TypeError(f"{converter!r} is not a MessageConverter (it needs content_type, "
                                f"content_encoding, can_write, write and read)")
        # the first converter of each media type reads it back
        self._readers: dict[str, MessageConverter] = {}
        for converter in self.converters:
            self._readers.setdefault(media_type(converter.content_type), converter)

    def to_message(self, obj: object) -> tuple[bytes, str, str | None]:
        """``(body, content_type, content_encoding)`` from the first converter that can write ``obj``;
        :class:`MessageConversionError` naming the type and the converters tried if none can."""
        for converter in self.converters:
            if converter.can_write(obj):
                return converter.write(obj), converter.content_type, converter.content_encoding
        tried = ", ".join(f"{type(c).__name__} ({c.content_type})" for c in self.converters) or "none"
        raise MessageConversionError(f"no converter can write a value of type {type(obj).__qualname__}; "
                                     f"tried: {tried}")

    def from_message(self, body: bytes, content_type: str | None, content_encoding: str | None = None) -> object:
        """The value ``body`` holds, read by the converter of ``content_type``; the raw bytes when the
        message has no content type or one none of these converters has."""
        reader = self._readers.get(media_type(content_type))
        if reader is None:
            return body
        return reader.read(body, content_encoding or _charset(content_type))

    def __repr__(self) -> str:
        return f"Converters([{', '.join(type(c).__name__ for c in self.converters)}])"
