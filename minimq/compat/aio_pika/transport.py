"""aiormq's transport, in memory: the factory that hands aiormq a reader and a writer joined to an
:class:`~.endpoint.Endpoint` instead of a socket.

aiormq (6.9.1 and later) opens its transport through ``TransportFactory.create(url, **kwargs)`` and
then only writes bytes into the writer and reads frames from the reader.  :class:`MemoryTransportFactory`
returns an ``asyncio.StreamReader`` that the endpoint feeds and a :class:`MemoryWriter` whose writes go
straight to the endpoint, on the loop's thread, with no copy through a socket buffer.

Which addresses are served: every host (a host other than localhost is served too, with one log
line that says so, so a test never reaches a network server by accident); only the ports the patch
serves (5672 and 5671, the AMQP defaults, unless told otherwise), so a client pointed at another port
is refused as a closed port would refuse it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

from aiormq.connection import TransportFactory
from aiormq.exceptions import AMQPConnectionError

from ...broker import Broker
from .endpoint import Endpoint

__all__ = ["MemoryTransportFactory", "MemoryWriter", "LOCAL_HOSTS"]

log = logging.getLogger("minimq.aio_pika")

#: hosts that name this machine; any other host is still served in memory, with a log line
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "", None})


class _MemoryTransport:
    """The little of ``asyncio.Transport`` that aiormq looks at on its writer."""

    __slots__ = ("writer",)

    def __init__(self, writer: MemoryWriter) -> None:
        self.writer = writer

    def is_closing(self) -> bool:
        return self.writer.closed

    def abort(self) -> None:
        self.writer.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class MemoryWriter:
    """The client's end of the pipe: what aiormq writes goes to the endpoint at once."""

    def __init__(self, endpoint: Endpoint) -> None:
        self.endpoint = endpoint
        self.closed = False
        self.transport = _MemoryTransport(self)

    def write(self, data: bytes) -> None:
        """Hand the client's bytes to the endpoint (loop thread)."""
        if not self.closed:
            self.endpoint.receive(data)

    def writelines(self, lines: Any) -> None:
        """Write each chunk in turn."""
        for data in lines:
            self.write(data)

    async def drain(self) -> None:
        """Nothing to wait for: the endpoint took the bytes already."""
        if self.closed:
            raise ConnectionResetError("minimq: the in-memory connection is closed")

    def can_write_eof(self) -> bool:
        """Half-closing is not offered; aiormq then just closes."""
        return False

    def write_eof(self) -> None:
        """Not offered (see :meth:`can_write_eof`)."""
        raise NotImplementedError

    def is_closing(self) -> bool:
        """Whether :meth:`close` was called."""
        return self.closed

    def close(self) -> None:
        """The client hangs up: the endpoint lets its broker connection go."""
        if not self.closed:
            self.closed = True
            self.endpoint.client_gone()

    async def wait_closed(self) -> None:
        """Closing is immediate."""
        return None

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """No socket, no peer."""
        return default


class MemoryTransportFactory(TransportFactory):
    """aiormq's transport factory for one broker (see the module docstring).

    ``broker`` is a callable returning the broker to serve (so a patch can swap brokers between
    tests); ``ports`` the ports served; ``on_connect(endpoint)`` is told of each new connection.
    """

    def __init__(self, broker: Callable[[], Broker], ports: frozenset[int] = frozenset({5672, 5671}),
                 on_connect: Callable[[Endpoint], None] | None = None) -> None:
        self.broker = broker
        self.ports = ports
        self.on_connect = on_connect

    async def create(self, url: Any, **kwargs: Any) -> tuple[asyncio.StreamReader, MemoryWriter]:  # type: ignore[override]
        """A reader/writer pair joined to a new endpoint on the running loop."""
        port = url.port or (5671 if url.scheme == "amqps" else 5672)
        if port not in self.ports:
            served = ", ".join(str(p) for p in sorted(self.ports))
            raise AMQPConnectionError(111, f"Connect call failed ('{url.host}', {port}): minimq serves "
                                           f"ports {served} in this process")
        if url.host not in LOCAL_HOSTS:
            log.info("minimq: the connection to %s:%s is served by the in-process broker, not the network",
                     url.host, port)
        broker = self.broker()
        if broker.refusing_connections:  # Broker.refuse_connections: the port is closed
            raise AMQPConnectionError(111, f"Connect call failed ('{url.host}', {port})")
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(loop=loop)
        endpoint = Endpoint(broker, loop, reader, f"{url.host}:{port}")
        if self.on_connect is not None:
            self.on_connect(endpoint)
        return reader, MemoryWriter(endpoint)
