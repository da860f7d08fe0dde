"""AMQP 0-9-1 method classes and ``BasicProperties``: ``pika.spec`` itself when pika is importable.

Without pika, equivalent classes are built from a field table: same class paths (``Basic.Deliver``,
``Queue.DeclareOk`` ...), same ``NAME``/``INDEX``, same constructor arguments and defaults, same
instance attributes, and ``encode()``/``decode()`` with pika's wire rules (short strings of at most
255 bytes, tables through :mod:`.data`).  The facade relies on ``encode``/``decode`` in both modes to
validate what it "sends" and to see it as the broker would.
"""

from __future__ import annotations

import inspect
import struct
from enum import Enum
from typing import Any

from . import data

__all__ = ["Connection", "Channel", "Exchange", "Queue", "Basic", "Tx", "Confirm", "BasicProperties",
           "DeliveryMode", "ExchangeType", "PERSISTENT_DELIVERY_MODE", "TRANSIENT_DELIVERY_MODE", "USING_PIKA"]

try:
    from pika.delivery_mode import DeliveryMode
    from pika.exchange_type import ExchangeType
    from pika.spec import (PERSISTENT_DELIVERY_MODE, TRANSIENT_DELIVERY_MODE, Basic, BasicProperties, Channel,
                           Confirm, Connection, Exchange, Queue, Tx)
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:
    PERSISTENT_DELIVERY_MODE = 2
    TRANSIENT_DELIVERY_MODE = 1

    class DeliveryMode(Enum):  # type: ignore[no-redef]
        Transient = 1
        Persistent = 2

    class ExchangeType(str, Enum):  # type: ignore[no-redef]
        direct = "direct"
        fanout = "fanout"
        headers = "headers"
        topic = "topic"

    class _AMQPObject:
        NAME = "AMQPObject"
        INDEX: int | None = None

        def __repr__(self) -> str:
            items = [f"{k}={v}" for k, v in self.__dict__.items() if getattr(self.__class__, k, None) != v]
            if not items:
                return f"<{self.NAME}>"
            return f"<{self.NAME}({sorted(items)})>"

        def __eq__(self, other: object) -> bool:
            if other is not None:
                return self.__dict__ == getattr(other, "__dict__", None)
            return False

    _PACK = {"octet": ("B", 1), "short": (">H", 2), "long": (">I", 4), "longlong": (">Q", 8), "timestamp": (">Q", 8)}

    class _Method(_AMQPObject):
        """A method built from ``_FIELDS``: ``(name, amqp type, default)`` in wire order."""

        NAME = "Unextended Method"
        synchronous = False
        _FIELDS: tuple = ()
        _SIGNATURE = inspect.Signature()

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            bound = self._SIGNATURE.bind(*args, **kwargs)
            bound.apply_defaults()
            self.__dict__.update(bound.arguments)

        def encode(self) -> list:
            pieces: list = []
            bits = bit_count = 0
            for name, kind, _ in self._FIELDS:
                value = getattr(self, name)
                if kind == "bit":
                    if value:
                        bits |= 1 << bit_count
                    bit_count += 1
                    continue
                if bit_count:
                    pieces.append(struct.pack("B", bits))
                    bits = bit_count = 0
                if kind == "shortstr":
                    assert isinstance(value, (str, bytes)), f"A non-string value was supplied for self.{name}"
                    data.encode_short_string(pieces, value)
                elif kind == "longstr":
                    assert isinstance(value, (str, bytes)), f"A non-string value was supplied for self.{name}"
                    value = data.as_bytes(value)
                    pieces.append(struct.pack(">I", len(value)))
                    pieces.append(value)
                elif kind == "table":
                    data.encode_table(pieces, value)
                else:
                    pieces.append(struct.pack(_PACK[kind][0], value))
            if bit_count:
                pieces.append(struct.pack("B", bits))
            return pieces

        def decode(self, encoded: bytes, offset: int = 0) -> _Method:
            bits = bit_index = None
            for name, kind, _ in self._FIELDS:
                if kind == "bit":
                    if bit_index is None or bit_index == 8:
                        bits, bit_index = encoded[offset], 0
                        offset += 1
                    setattr(self, name, (bits >> bit_index) & 1 != 0)
                    bit_index += 1
                    continue
                bit_index = None
                if kind == "shortstr":
                    value, offset = data.decode_short_string(encoded, offset)
                elif kind == "longstr":
                    length = struct.unpack_from(">I", encoded, offset)[0]
                    value = encoded[offset + 4:offset + 4 + length]
                    offset += 4 + length
                elif kind == "table":
                    value, offset = data.decode_table(encoded, offset)
                else:
                    fmt, size = _PACK[kind]
                    value = struct.unpack_from(fmt, encoded, offset)[0]
                    offset += size
                setattr(self, name, value)
            return self

    class _Class(_AMQPObject):
        NAME = "Unextended Class"

    def _define(owner: type, index: int, methods: tuple) -> None:
        for name, method_index, synchronous, fields in methods:
            signature = inspect.Signature([
                inspect.Parameter(field, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default)
                for field, _, default in fields])
            cls = type(name, (_Method,), {
                "NAME": f"{owner.NAME}.{name}", "INDEX": method_index, "synchronous": synchronous,
                "_FIELDS": fields, "_SIGNATURE": signature, "__qualname__": f"{owner.__name__}.{name}",
                "__module__": __name__,
            })
            setattr(owner, name, cls)
        owner.INDEX = index

    class Connection(_Class):  # type: ignore[no-redef]
        NAME = "Connection"

    class Channel(_Class):  # type: ignore[no-redef]
        NAME = "Channel"

    class Exchange(_Class):  # type: ignore[no-redef]
        NAME = "Exchange"

    class Queue(_Class):  # type: ignore[no-redef]
        NAME = "Queue"

    class Basic(_Class):  # type: ignore[no-redef]
        NAME = "Basic"

    class Tx(_Class):  # type: ignore[no-redef]
        NAME = "Tx"

    class Confirm(_Class):  # type: ignore[no-redef]
        NAME = "Confirm"

    _CLOSE = (("reply_code", "short", None), ("reply_text", "shortstr", ""), ("class_id", "short", None),
              ("method_id", "short", None))
    _BIND = (("ticket", "short", 0), ("destination", "shortstr", None), ("source", "shortstr", None),
             ("routing_key", "shortstr", ""), ("nowait", "bit", False), ("arguments", "table", None))

    # (method, index, synchronous, fields) -- generated from pika 1.4's spec, wire order.
    _define(Connection, 0x000A, (
        ("Close", 0x000A0032, True, _CLOSE),
        ("CloseOk", 0x000A0033, False, ()),
        ("Blocked", 0x000A003C, False, (("reason", "shortstr", ""),)),
        ("Unblocked", 0x000A003D, False, ()),
        ("UpdateSecretOk", 0x000A0047, False, ()),
    ))
    _define(Channel, 0x0014, (
        ("Open", 0x0014000A, True, (("out_of_band", "shortstr", ""),)),
        ("OpenOk", 0x0014000B, False, (("channel_id", "longstr", ""),)),
        ("Flow", 0x00140014, True, (("active", "bit", None),)),
        ("FlowOk", 0x00140015, False, (("active", "bit", None),)),
        ("Close", 0x00140028, True, _CLOSE),
        ("CloseOk", 0x00140029, False, ()),
    ))
    _define(Exchange, 0x0028, (
        ("Declare", 0x0028000A, True, (
            ("ticket", "short", 0), ("exchange", "shortstr", None), ("type", "shortstr", ExchangeType.direct),
            ("passive", "bit", False), ("durable", "bit", False), ("auto_delete", "bit", False),
            ("internal", "bit", False), ("nowait", "bit", False), ("arguments", "table", None))),
        ("DeclareOk", 0x0028000B, False, ()),
        ("Delete", 0x00280014, True, (("ticket", "short", 0), ("exchange", "shortstr", None),
                                      ("if_unused", "bit", False), ("nowait", "bit", False))),
        ("DeleteOk", 0x00280015, False, ()),
        ("Bind", 0x0028001E, True, _BIND),
        ("BindOk", 0x0028001F, False, ()),
        ("Unbind", 0x00280028, True, _BIND),
        ("UnbindOk", 0x00280033, False, ()),
    ))
    _define(Queue, 0x0032, (
        ("Declare", 0x0032000A, True, (
            ("ticket", "short", 0), ("queue", "shortstr", ""), ("passive", "bit", False),
            ("durable", "bit", False), ("exclusive", "bit", False), ("auto_delete", "bit", False),
            ("nowait", "bit", False), ("arguments", "table", None))),
        ("DeclareOk", 0x0032000B, False, (("queue", "shortstr", None), ("message_count", "long", None),
                                          ("consumer_count", "long", None))),
        ("Bind", 0x00320014, True, (("ticket", "short", 0), ("queue", "shortstr", ""),
                                    ("exchange", "shortstr", None), ("routing_key", "shortstr", ""),
                                    ("nowait", "bit", False), ("arguments", "table", None))),
        ("BindOk", 0x00320015, False, ()),
        ("Purge", 0x0032001E, True, (("ticket", "short", 0), ("queue", "shortstr", ""), ("nowait", "bit", False))),
        ("PurgeOk", 0x0032001F, False, (("message_count", "long", None),)),
        ("Delete", 0x00320028, True, (("ticket", "short", 0), ("queue", "shortstr", ""), ("if_unused", "bit", False),
                                      ("if_empty", "bit", False), ("nowait", "bit", False))),
        ("DeleteOk", 0x00320029, False, (("message_count", "long", None),)),
        ("Unbind", 0x00320032, True, (("ticket", "short", 0), ("queue", "shortstr", ""),
                                      ("exchange", "shortstr", None), ("routing_key", "shortstr", ""),
                                      ("arguments", "table", None))),
        ("UnbindOk", 0x00320033, False, ()),
    ))
    _define(Basic, 0x003C, (
        ("Qos", 0x003C000A, True, (("prefetch_size", "long", 0), ("prefetch_count", "short", 0),
                                   ("global_qos", "bit", False))),
        ("QosOk", 0x003C000B, False, ()),
        ("Consume", 0x003C0014, True, (
            ("ticket", "short", 0), ("queue", "shortstr", ""), ("consumer_tag", "shortstr", ""),
            ("no_local", "bit", False), ("no_ack", "bit", False), ("exclusive", "bit", False),
            ("nowait", "bit", False), ("arguments", "table", None))),
        ("ConsumeOk", 0x003C0015, False, (("consumer_tag", "shortstr", None),)),
        ("Cancel", 0x003C001E, True, (("consumer_tag", "shortstr", None), ("nowait", "bit", False))),
        ("CancelOk", 0x003C001F, False, (("consumer_tag", "shortstr", None),)),
        ("Publish", 0x003C0028, False, (("ticket", "short", 0), ("exchange", "shortstr", ""),
                                        ("routing_key", "shortstr", ""), ("mandatory", "bit", False),
                                        ("immediate", "bit", False))),
        ("Return", 0x003C0032, False, (("reply_code", "short", None), ("reply_text", "shortstr", ""),
                                       ("exchange", "shortstr", None), ("routing_key", "shortstr", None))),
        ("Deliver", 0x003C003C, False, (("consumer_tag", "shortstr", None), ("delivery_tag", "longlong", None),
                                        ("redelivered", "bit", False), ("exchange", "shortstr", None),
                                        ("routing_key", "shortstr", None))),
        ("Get", 0x003C0046, True, (("ticket", "short", 0), ("queue", "shortstr", ""), ("no_ack", "bit", False))),
        ("GetOk", 0x003C0047, False, (("delivery_tag", "longlong", None), ("redelivered", "bit", False),
                                      ("exchange", "shortstr", None), ("routing_key", "shortstr", None),
                                      ("message_count", "long", None))),
        ("GetEmpty", 0x003C0048, False, (("cluster_id", "shortstr", ""),)),
        ("Ack", 0x003C0050, False, (("delivery_tag", "longlong", 0), ("multiple", "bit", False))),
        ("Reject", 0x003C005A, False, (("delivery_tag", "longlong", None), ("requeue", "bit", True))),
        ("RecoverAsync", 0x003C0064, False, (("requeue", "bit", False),)),
        ("Recover", 0x003C006E, True, (("requeue", "bit", False),)),
        ("RecoverOk", 0x003C006F, False, ()),
        ("Nack", 0x003C0078, False, (("delivery_tag", "longlong", 0), ("multiple", "bit", False),
                                     ("requeue", "bit", True))),
    ))
    _define(Tx, 0x005A, (
        ("Select", 0x005A000A, True, ()),
        ("SelectOk", 0x005A000B, False, ()),
        ("Commit", 0x005A0014, True, ()),
        ("CommitOk", 0x005A0015, False, ()),
        ("Rollback", 0x005A001E, True, ()),
        ("RollbackOk", 0x005A001F, False, ()),
    ))
    _define(Confirm, 0x0055, (
        ("Select", 0x0055000A, True, (("nowait", "bit", False),)),
        ("SelectOk", 0x0055000B, False, ()),
    ))

    # (property, flag bit, kind) in wire order
    _PROPERTIES = (
        ("content_type", 15, "shortstr"), ("content_encoding", 14, "shortstr"), ("headers", 13, "table"),
        ("delivery_mode", 12, "octet"), ("priority", 11, "octet"), ("correlation_id", 10, "shortstr"),
        ("reply_to", 9, "shortstr"), ("expiration", 8, "shortstr"), ("message_id", 7, "shortstr"),
        ("timestamp", 6, "timestamp"), ("type", 5, "shortstr"), ("user_id", 4, "shortstr"),
        ("app_id", 3, "shortstr"), ("cluster_id", 2, "shortstr"),
    )

    class BasicProperties(_AMQPObject):  # type: ignore[no-redef]
        """The 14 basic properties; ``None`` means absent."""

        CLASS = Basic
        INDEX = 0x003C
        NAME = "BasicProperties"

        def __init__(self, content_type: Any = None, content_encoding: Any = None, headers: Any = None,
                     delivery_mode: Any = None, priority: Any = None, correlation_id: Any = None,
                     reply_to: Any = None, expiration: Any = None, message_id: Any = None, timestamp: Any = None,
                     type: Any = None, user_id: Any = None, app_id: Any = None,  # noqa: A002
                     cluster_id: Any = None) -> None:
            self.content_type = content_type
            self.content_encoding = content_encoding
            self.headers = headers
            self.delivery_mode = delivery_mode.value if isinstance(delivery_mode, DeliveryMode) else delivery_mode
            self.priority = priority
            self.correlation_id = correlation_id
            self.reply_to = reply_to
            self.expiration = expiration
            self.message_id = message_id
            self.timestamp = timestamp
            self.type = type
            self.user_id = user_id
            self.app_id = app_id
            self.cluster_id = cluster_id

        def encode(self) -> list:
            pieces: list = []
            flags = 0
            for name, bit, kind in _PROPERTIES:
                value = getattr(self, name)
                if value is None:
                    continue
                flags |= 1 << bit
                if kind == "shortstr":
                    assert isinstance(value, (str, bytes)), f"A non-string value was supplied for self.{name}"
                    data.encode_short_string(pieces, value)
                elif kind == "table":
                    data.encode_table(pieces, value)
                else:
                    pieces.append(struct.pack(_PACK[kind][0], value))
            return [struct.pack(">H", flags)] + pieces

        def decode(self, encoded: bytes, offset: int = 0) -> BasicProperties:
            flags = struct.unpack_from(">H", encoded, offset)[0]
            offset += 2
            for name, bit, kind in _PROPERTIES:
                value: Any = None
                if flags & (1 << bit):
                    if kind == "shortstr":
                        value, offset = data.decode_short_string(encoded, offset)
                    elif kind == "table":
                        value, offset = data.decode_table(encoded, offset)
                    else:
                        fmt, size = _PACK[kind]
                        value = struct.unpack_from(fmt, encoded, offset)[0]
                        offset += size
                setattr(self, name, value)
            return self
