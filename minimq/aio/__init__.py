"""minimq.aio: the native asyncio API, a plugin over the core (the core never imports it).

>>> import asyncio, minimq, minimq.aio
>>> async def main():
...     broker = minimq.Broker()
...     async with await minimq.aio.connect(broker) as conn:
...         ch = await conn.channel()
...         await ch.queue_declare("hello")
...         await ch.basic_publish("", "hello", b"hi")
...         async for delivery in ch.consume("hello"):
...             async with delivery.process():
...                 return delivery.body
>>> asyncio.run(main())
b'hi'

Modules: :mod:`~minimq.aio.pump` (the core channel's ``on_events`` hook to the loop),
:mod:`~minimq.aio.message` (deliveries, ``process()``), :mod:`~minimq.aio.consumer` (``async for``
consumers and what cancels them), :mod:`~minimq.aio.channel`, :mod:`~minimq.aio.connection`.
It uses only the core's public API and the standard library.
"""

from __future__ import annotations

from ..channel import PublishOutcome, QueueDeclareOk
from ..message import Properties, Returned
from .channel import Channel
from .connection import Connection, connect
from .consumer import ConsumerIterator
from .message import Delivery, IncomingMessage, MessageProcessError, ProcessContext

__all__ = [
    "connect", "Connection", "Channel", "ConsumerIterator", "Delivery", "IncomingMessage",
    "MessageProcessError", "ProcessContext", "Properties", "PublishOutcome", "QueueDeclareOk", "Returned",
]
