"""Which transport a target names: ``transport_for(target, *, asynchronous=False)``.

Accepted targets: a :class:`minimq.Broker` (sessions on it, in this process); ``"memory://"`` (a
fresh in-process broker, closed with the transport); an ``amqp://`` or ``amqps://`` URL, several of
them comma-separated, or a list of them (RabbitMQ, with failover in that order, see
:mod:`minimq.app.amqp`).  The network transports import pika / aio-pika only when chosen.
"""

from __future__ import annotations

from typing import Any, Sequence, Union

from ..broker import Broker
from .aio_memory import AsyncMemoryTransport
from .memory import MemoryTransport

__all__ = ["transport_for", "Target"]

#: what :func:`transport_for` accepts
Target = Union[Broker, str, Sequence[str]]

_ACCEPTED = ("a minimq.Broker, 'memory://', an 'amqp://' or 'amqps://' URL, several such URLs separated "
             "by commas, or a list of them")


def transport_for(target: Target, *, asynchronous: bool = False) -> Any:
    """The transport for ``target``: sync (``Transport``) or, with ``asynchronous=True``,
    ``AsyncTransport``.  ``ValueError`` naming the accepted forms for anything else."""
    if isinstance(target, Broker):
        return AsyncMemoryTransport(target) if asynchronous else MemoryTransport(target)
    if isinstance(target, str):
        text = target.strip()
        if text == "memory://":
            return AsyncMemoryTransport() if asynchronous else MemoryTransport()
        urls: list[str] = [u.strip() for u in text.split(",") if u.strip()]
    elif isinstance(target, (list, tuple)) and all(isinstance(u, str) for u in target):
        urls = [u.strip() for u in target if u.strip()]
    else:
        raise ValueError(f"cannot reach a broker through {target!r}: expected {_ACCEPTED}")
    if not urls or not all(u.startswith(("amqp://", "amqps://")) for u in urls):
        raise ValueError(f"cannot reach a broker through {target!r}: expected {_ACCEPTED}")
    from .amqp import AmqpTransport, AsyncAmqpTransport
    return AsyncAmqpTransport(urls) if asynchronous else AmqpTransport(urls)
