"""aio-pika (and FastStream, which sits on it) running unchanged on an in-process minimq broker.

Nothing of aio-pika or aiormq is imitated: both run as they are, and only their socket is replaced by
an in-memory pipe to an AMQP 0-9-1 endpoint that answers as RabbitMQ 3.10 does (docs/aio-pika.md).

    from minimq.compat.aio_pika import install
    patch = install()            # every aio-pika connection made from now on reaches patch.broker
    ...
    uninstall()

Needs the optional extra ``minimq[aio-pika]`` (aio-pika, aiormq >= 6.9.1, pamqp).  The names below
are loaded on first use: the package's pytest plugin, which every pytest run loads, imports aio-pika
only when a test asks for it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["AioPikaPatch", "Endpoint", "install", "uninstall", "current"]


def __getattr__(name: str) -> Any:
    if name == "Endpoint":
        from .endpoint import Endpoint
        return Endpoint
    if name in ("AioPikaPatch", "install", "uninstall", "current"):
        from . import patch
        return getattr(patch, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
