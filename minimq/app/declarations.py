"""What an application declares: queues, exchanges and the bindings between them, as plain records.

An :class:`~minimq.app.App` declares them when it starts (idempotently: declaring what exists with the
same settings is a no-op on RabbitMQ and on minimq; different settings are refused with 406, which the
app raises at start as :class:`~minimq.app.errors.DeclarationError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Union

__all__ = ["Queue", "Exchange", "Binding", "Declarable"]


@dataclass(frozen=True)
class Queue:
    """A queue.  ``name=""`` asks the server for a name (exclusive, auto-delete: a reply or scratch queue)."""

    name: str = ""
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Exchange:
    """An exchange; ``type`` is direct, fanout, topic or headers."""

    name: str
    type: str = "direct"
    durable: bool = True
    auto_delete: bool = False
    internal: bool = False
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Binding:
    """``source`` exchange to a ``destination`` queue or exchange (``destination_type``), with a key
    and, for headers exchanges, arguments."""

    source: str
    destination: str
    destination_type: str = "queue"
    routing_key: str = ""
    arguments: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.destination_type not in ("queue", "exchange"):
            raise ValueError(f"destination_type must be 'queue' or 'exchange', not {self.destination_type!r}")


Declarable = Union[Queue, Exchange, Binding]
