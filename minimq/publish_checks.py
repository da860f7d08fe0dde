"""What the server checks in a publish before routing it: body, size, properties, expiration, CC/BCC.

Each check raises what RabbitMQ 3.10 answers (docs/semantics.md §9): a body that is not bytes is a
programming mistake (``TypeError``, nothing published); everything the server itself refuses is a
406 :class:`~minimq.errors.PreconditionFailed` with RabbitMQ's text, which closes the channel.

Cost model (HOT): a publish without properties pays nothing here beyond one size comparison; with
properties, one pass over a handful of attributes, and a header scan only when headers are present.
"""

from __future__ import annotations

from typing import Any, Mapping

from .errors import PreconditionFailed
from .fieldtypes import explain_with_term, type_name
from .message import PROPERTY_NAMES, Properties
from .names import REPLY_TO

__all__ = ["MAX_BODY", "coerce_body", "parse_expiration", "check_properties"]

#: RabbitMQ 3.10's default ``max_message_size``: 128 MiB
MAX_BODY = 134_217_728


def coerce_body(body: Any) -> bytes:
    """``bytes`` from a ``bytearray`` or ``memoryview``; ``TypeError`` for anything else (text included)."""
    if isinstance(body, (bytearray, memoryview)):
        return bytes(body)
    raise TypeError(f"body must be bytes, not {type(body).__name__} (encode text first)")


def parse_expiration(value: Any) -> int:
    """The per-message TTL in ms from the ``expiration`` property, parsed as RabbitMQ parses it.

    Raises 406 with RabbitMQ's reason (``no_integer``, ``leftover_string``, ``value_negative``,
    ``value_too_large``) otherwise.
    """
    text = value if isinstance(value, str) else str(value)
    i = 0
    if text[:1] in ("+", "-"):
        i = 1
    j = i
    while j < len(text) and text[j].isdigit() and text[j].isascii():
        j += 1
    prefix = f"invalid expiration '{text}': "
    if j == i:
        raise PreconditionFailed(prefix + "no_integer")
    if j < len(text):
        raise PreconditionFailed(explain_with_term(prefix, "leftover_string", f'"{text[j:]}"'))
    number = int(text[:j])
    if number < 0:
        raise PreconditionFailed(explain_with_term(prefix, "value_negative", str(number)))
    if number > 315_360_000_000:
        raise PreconditionFailed(explain_with_term(prefix, "value_too_large", str(number)))
    return number


def _coerce_properties(properties: Any) -> Properties:
    """A publish's ``properties`` as :class:`Properties`: a subclass as it is, a mapping by its keys
    (``TypeError`` naming an unknown key), any other object by its property attributes
    (``pika.BasicProperties``); ``TypeError`` for an object with none of them, whose properties would
    otherwise be lost without a word (``delivery_mode`` among them)."""
    if isinstance(properties, Properties):
        return properties
    if isinstance(properties, Mapping):
        unknown = sorted(str(k) for k in properties if k not in PROPERTY_NAMES)
        if unknown:
            raise TypeError(f"unknown message properties {unknown}; the properties are {list(PROPERTY_NAMES)}")
        return Properties(**properties)
    if not any(hasattr(properties, name) for name in PROPERTY_NAMES):
        raise TypeError(f"properties must be a minimq.Properties, a mapping of property names, or an object "
                        f"with the AMQP property attributes (such as pika.BasicProperties), not "
                        f"{type(properties).__name__}")
    return Properties.from_object(properties)


def check_properties(properties: Any, size: int, user: str,
                     reply_address: str | None) -> tuple[Properties, dict | None, list[str] | None,
                                                          int | None, list[str] | None]:
    """Validate a publish as the server does; returns ``(properties, headers, extra_keys, ttl, bcc)``.

    ``properties`` may be any object with pika's property attributes (converted once); ``user`` is the
    connection's user (``user_id`` must match it); ``reply_address`` is the channel's direct reply-to
    address, which replaces a ``reply_to`` of ``amq.rabbitmq.reply-to`` (406 if the channel has none).
    ``extra_keys`` are the ``CC`` and ``BCC`` routing keys; ``BCC`` is removed from the headers.
    """
    if type(properties) is not Properties:
        properties = _coerce_properties(properties)
    if size > MAX_BODY:
        raise PreconditionFailed(f"message size {size} is larger than configured max size {MAX_BODY}")
    # RabbitMQ's order: direct reply-to, user_id, expiration, then the message itself (CC/BCC headers,
    # delivery mode)
    if properties.reply_to == REPLY_TO:
        if reply_address is None:
            raise PreconditionFailed("fast reply consumer does not exist")
        properties = properties.with_reply_to(reply_address)
    user_id = properties.user_id
    if user_id is not None and user_id != user:
        raise PreconditionFailed(f"user_id property set to '{user_id}' but authenticated user was '{user}'")
    ttl = None
    if properties.expiration is not None:
        ttl = parse_expiration(properties.expiration)
    headers = properties.headers
    extra = bcc = None
    if headers:
        if "CC" in headers or "BCC" in headers:
            extra = []
            for key in ("CC", "BCC"):
                if key in headers:
                    value = headers[key]
                    if not isinstance(value, list):
                        raise PreconditionFailed(
                            f'invalid message: {{unacceptable_type_in_header,"{key}",{type_name(value)}}}')
                    extra.extend(k for k in value if isinstance(k, str))
            if "BCC" in headers:
                bcc = [k for k in headers["BCC"] if isinstance(k, str)]
                headers = {k: v for k, v in headers.items() if k != "BCC"}
                properties = properties.copy(headers=headers)
    mode = properties.delivery_mode
    if mode is not None and mode not in (1, 2):
        raise PreconditionFailed(f"invalid message: {{delivery_mode_unknown,{mode}}}")
    return properties, headers, extra, ttl, bcc
