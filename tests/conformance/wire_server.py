"""minimq's AMQP endpoint (the one the aio-pika facade talks to in memory) behind a loopback socket.

For the conformance suite only: real pika, unpatched, connects over TCP to 127.0.0.1, so every
pika scenario also checks the endpoint's frames (handshake, methods, content, errors with class and
method ids) against the traces recorded from RabbitMQ.  One server thread runs an event loop; each
accepted socket gets an :class:`~minimq.compat.aio_pika.endpoint.Endpoint` for the current broker.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Optional


class _SocketSink:
    """What the endpoint writes (``feed_data``/``feed_eof``) goes to the socket."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer

    def feed_data(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def feed_eof(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class WireServer:
    """A loopback AMQP server in a thread; ``broker`` may be swapped between scenarios."""

    def __init__(self) -> None:
        from minimq.compat.aio_pika.endpoint import Endpoint

        self._endpoint_class = Endpoint
        self.broker: Any = None
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._server: Optional[asyncio.AbstractServer] = None
        self._thread = threading.Thread(target=self._run, name="minimq-wire-server", daemon=True)
        self._thread.start()
        self._started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._started.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        endpoint = self._endpoint_class(self.broker, self._loop, _SocketSink(writer), "127.0.0.1")
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                endpoint.receive(data)
        except (ConnectionError, OSError):
            pass
        finally:
            endpoint.client_gone()
            if not writer.is_closing():
                writer.close()

    def close(self) -> None:
        def stop() -> None:
            if self._server is not None:
                self._server.close()
            self._loop.stop()
        self._loop.call_soon_threadsafe(stop)
        self._thread.join(5)
