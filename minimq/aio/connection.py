"""The asyncio connection: ``conn = await minimq.aio.connect(broker, vhost="/")``.

It wraps one core :class:`minimq.Connection` and is bound to the event loop that opened it; open as
many as you like, from as many loops (one per thread) as you like, on one broker.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..errors import AMQPError
from .channel import Channel

__all__ = ["Connection", "connect"]


async def connect(broker: Any, vhost: str = "/", user: str = "guest", password: str | None = None) -> Connection:
    """Open a connection to ``vhost`` of ``broker`` (a :class:`minimq.Broker`).

    Raises what ``Broker.connect`` raises: 530 ``NotAllowed`` for an unknown vhost, 403
    ``LoginRefused`` for a wrong password (only checked when one is given), 320 after ``broker.close()``.
    """
    loop = asyncio.get_running_loop()
    return Connection(broker, broker.connect(vhost, user, password), loop)


class Connection:
    """An asyncio connection: ``await conn.channel()``, ``await conn.close()``, ``async with``."""

    def __init__(self, broker: Any, core_connection: Any, loop: asyncio.AbstractEventLoop) -> None:
        self.broker = broker
        #: the core connection
        self.core = core_connection
        self.loop = loop
        self._channels: dict[int, Channel] = {}

    @property
    def is_closed(self) -> bool:
        """True once closed (by the client, a hard error, the broker or its vhost's deletion)."""
        return self.core.is_closed

    async def channel(self, channel_number: int | None = None) -> Channel:
        """Open a channel; raises as the core's ``Connection.channel`` does."""
        if asyncio.get_running_loop() is not self.loop:
            raise RuntimeError("minimq.aio: this connection belongs to another event loop")
        channel = Channel(self, self.core.channel(channel_number, inline=False))
        self._channels[channel.number] = channel
        return channel

    async def close(self) -> None:
        """Close every channel (consumers cancelled, unacked messages returned) and the connection."""
        self._shutdown(None, client=True)
        self.core.close()

    def _shutdown(self, cause: AMQPError | None, client: bool) -> None:
        for channel in list(self._channels.values()):
            channel._shutdown(cause, client)

    def _forget(self, channel: Channel) -> None:
        if self._channels.get(channel.number) is channel:
            del self._channels[channel.number]

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self.is_closed else "open"
        return f"aio.Connection({self.core.vhost.name!r}, channels={len(self._channels)}, {state})"
