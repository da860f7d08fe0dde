"""Stand-ins for modules written on other branches, used until those branches are merged.

The listeners and the app need ``errors`` (``AppError``, ``DeclarationError``,
``MessageConversionError``) and ``converters`` (``Converters``).  This module takes the real ones
when they exist and otherwise defines minimal equivalents, so every other module of the listeners
imports them from here and nowhere else: rewiring at merge is one edit (delete this module, import
from ``.errors`` and ``.converters`` instead).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

try:  # the template branch's errors module
    from .errors import AppError, DeclarationError, MessageConversionError  # type: ignore[import-not-found]
except ImportError:
    class AppError(Exception):  # type: ignore[no-redef]
        """Base of the application API's own errors."""

    class DeclarationError(AppError):  # type: ignore[no-redef]
        """A declaration was refused when the app started (the text names it and RabbitMQ's reply)."""

    class MessageConversionError(AppError, TypeError):  # type: ignore[no-redef]
        """A message body could not be converted to (or from) the type asked for."""

try:  # the template branch's converters module
    from .converters import Converters  # type: ignore[import-not-found]
except ImportError:
    class Converters:  # type: ignore[no-redef]
        """JSON for plain data, UTF-8 text for ``str``, bytes as they are (a minimal stand-in)."""

        def to_message(self, obj: Any) -> tuple[bytes, str | None, str | None]:
            """``(body, content_type, content_encoding)`` for ``obj``."""
            if isinstance(obj, (bytes, bytearray, memoryview)):
                return bytes(obj), "application/octet-stream", None
            if isinstance(obj, str):
                return obj.encode("utf-8"), "text/plain", "utf-8"
            return json.dumps(obj, default=_plain).encode("utf-8"), "application/json", "utf-8"

        def from_message(self, body: bytes, content_type: str | None, content_encoding: str | None) -> Any:
            """The value ``body`` holds, read by its ``content_type``: JSON, text, or the bytes themselves."""
            kind = (content_type or "").split(";")[0].strip().lower()
            try:
                if kind == "application/json" or kind.endswith("+json"):
                    return json.loads(body.decode(content_encoding or "utf-8"))
                if kind.startswith("text/"):
                    return body.decode(content_encoding or "utf-8")
            except (UnicodeDecodeError, LookupError, ValueError) as error:
                raise MessageConversionError(f"cannot read a {content_type!r} body: {error}") from None
            return body

    def _plain(obj: Any) -> Any:
        """Dataclasses and pydantic models as dicts, for JSON (``json.dumps``'s ``default``)."""
        import dataclasses

        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        dump = getattr(obj, "model_dump", None) or getattr(obj, "dict", None)
        if dump is not None and callable(dump):
            return dump()
        raise MessageConversionError(f"cannot write a {type(obj).__name__} as JSON")

__all__ = ["AppError", "DeclarationError", "MessageConversionError", "Converters", "ThreadedAsyncTransport",
           "ThreadedAsyncSession"]


class ThreadedAsyncSession:
    """An :class:`~minimq.app.transport.AsyncSession` over a sync session, each call run in
    ``asyncio.to_thread`` (a stand-in for ``aio_memory.AsyncMemoryTransport``'s sessions)."""

    def __init__(self, session: Any) -> None:
        self.session = session

    @property
    def is_open(self) -> bool:
        """The sync session's state."""
        return bool(self.session.is_open)

    @property
    def cancelled(self) -> set[str]:
        """Consumer tags the broker cancelled."""
        return getattr(self.session, "cancelled", set())

    async def declare(self, declarables: Any) -> dict[str, str]:
        """See :meth:`~minimq.app.transport.Session.declare`."""
        return await asyncio.to_thread(self.session.declare, list(declarables))

    async def publish(self, exchange: str, routing_key: str, body: bytes, properties: Any = None,
                      mandatory: bool = False) -> Any:
        """See :meth:`~minimq.app.transport.Session.publish`."""
        return await asyncio.to_thread(self.session.publish, exchange, routing_key, body, properties, mandatory)

    async def consume(self, queue: str, prefetch: int = 0, auto_ack: bool = False, exclusive: bool = False) -> str:
        """See :meth:`~minimq.app.transport.Session.consume`."""
        return await asyncio.to_thread(self.session.consume, queue, prefetch, auto_ack, exclusive)

    async def next_delivery(self, timeout: float | None) -> Any:
        """See :meth:`~minimq.app.transport.Session.next_delivery`."""
        return await asyncio.to_thread(self.session.next_delivery, timeout)

    async def get(self, queue: str, auto_ack: bool = False) -> Any:
        """See :meth:`~minimq.app.transport.Session.get`."""
        return await asyncio.to_thread(self.session.get, queue, auto_ack)

    async def ack(self, delivery_tag: int) -> None:
        """See :meth:`~minimq.app.transport.Session.ack`."""
        await asyncio.to_thread(self.session.ack, delivery_tag)

    async def nack(self, delivery_tag: int, requeue: bool) -> None:
        """See :meth:`~minimq.app.transport.Session.nack`."""
        await asyncio.to_thread(self.session.nack, delivery_tag, requeue)

    async def cancel(self, consumer_tag: str) -> None:
        """See :meth:`~minimq.app.transport.Session.cancel`."""
        await asyncio.to_thread(self.session.cancel, consumer_tag)

    async def close(self) -> None:
        """See :meth:`~minimq.app.transport.Session.close`."""
        await asyncio.to_thread(self.session.close)


class ThreadedAsyncTransport:
    """An :class:`~minimq.app.transport.AsyncTransport` over a sync transport (stand-in, see above)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.url = transport.url

    async def session(self) -> ThreadedAsyncSession:
        """A new session, opened in a thread."""
        return ThreadedAsyncSession(await asyncio.to_thread(self.transport.session))

    async def close(self) -> None:
        """Close the sync transport."""
        await asyncio.to_thread(self.transport.close)
