"""Messages as the application API sees them, whatever the transport underneath."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..message import Properties

__all__ = ["Inbound", "ReturnedMessage", "Properties"]


@dataclass(slots=True)
class Inbound:
    """A message delivered to a session (a consumer's delivery or a ``get``).

    ``properties`` is a :class:`minimq.Properties` on every transport (the AMQP transports convert
    their client library's properties), so converters and handlers see one type.
    """

    body: bytes
    properties: Properties
    exchange: str
    routing_key: str
    delivery_tag: int
    redelivered: bool
    consumer_tag: str | None = None
    #: the session that received it (settle through it, on the thread that owns it)
    session: Any = None

    @property
    def headers(self) -> dict[str, Any]:
        """The message's headers (an empty dict when it has none)."""
        return self.properties.headers or {}


@dataclass(frozen=True)
class ReturnedMessage:
    """A mandatory message that no queue took (``basic.return``), with RabbitMQ's reply code and text."""

    reply_code: int
    reply_text: str
    exchange: str
    routing_key: str
    body: bytes
    properties: Properties
