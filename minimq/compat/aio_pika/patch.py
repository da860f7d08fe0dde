"""Routing every aio-pika connection to an in-process broker: :func:`install` and :func:`uninstall`.

aio-pika opens every connection (``connect``, ``connect_robust``, a robust connection's reconnects,
FastStream's ``RabbitBroker``) through one class method, ``aio_pika.abc.UnderlayConnection.make_connection``,
which calls ``aiormq.connect(url, ...)``.  The patch replaces that method on the class itself, so
every import style sees it, with one that hands aiormq a :class:`~.transport.MemoryTransportFactory`:
aiormq and aio-pika then run entirely as they are, over an in-memory pipe to the broker.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any, Iterable

import aio_pika.abc
import aiormq

from ...broker import Broker
from .endpoint import Endpoint
from .transport import MemoryTransportFactory

__all__ = ["AioPikaPatch", "install", "uninstall", "current"]

_current: AioPikaPatch | None = None


class AioPikaPatch:
    """An installed patch: the broker it serves and the connections made through it."""

    def __init__(self, broker: Broker | None, ports: Iterable[int], owns_broker: bool) -> None:
        #: the broker aio-pika connections reach (replace it between tests with :meth:`use`)
        self.broker: Broker = broker if broker is not None else Broker()
        self._owns_broker = owns_broker
        self._endpoints: weakref.WeakSet[Endpoint] = weakref.WeakSet()
        self.factory = MemoryTransportFactory(lambda: self.broker, frozenset(ports), self._endpoints.add)
        self._original: Any = None

    @property
    def connections(self) -> list[Endpoint]:
        """The server ends of the connections made through the patch that are still open."""
        return [e for e in list(self._endpoints) if e.state not in ("closed",)]

    def use(self, broker: Broker) -> None:
        """Serve ``broker`` to connections made from now on (open ones stay where they are)."""
        self.broker = broker

    def disconnect_all(self) -> None:
        """Drop every open connection as a network failure would (no ``connection.close``): robust
        connections then reconnect, which is how their recovery code is tested."""
        for endpoint in self.connections:
            endpoint.client_gone()

    async def wait_for_consumers(self, queue: str, count: int = 1, vhost: str = "/", timeout: float = 5.0) -> None:
        """Wait (on the loop, without blocking it) until ``queue`` has at least ``count`` consumers."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            found = self.broker.get_queue(queue, vhost)
            if found is not None and found.consumer_count >= count:
                return
            if loop.time() >= deadline:
                have = 0 if found is None else found.consumer_count
                raise TimeoutError(f"queue {queue!r} has {have} consumer(s), not {count}, after {timeout} s")
            await asyncio.sleep(0.001)

    # -- installing ------------------------------------------------------------------------------
    def _install(self) -> None:
        underlay = aio_pika.abc.UnderlayConnection
        self._original = underlay.__dict__["make_connection"]
        factory = self.factory

        async def make_connection(cls: Any, url: Any, timeout: Any = None, **kwargs: Any) -> Any:
            kwargs["transport_factory"] = factory
            connection = await asyncio.wait_for(aiormq.connect(url, **kwargs), timeout=timeout)
            await connection.ready()
            return connection

        make_connection.__doc__ = "aio-pika's connection seam, routed to an in-process minimq broker."
        underlay.make_connection = classmethod(make_connection)  # type: ignore[assignment]

    def _uninstall(self) -> None:
        if self._original is not None:
            aio_pika.abc.UnderlayConnection.make_connection = self._original  # type: ignore[misc]
            self._original = None
        if self._owns_broker:
            self.broker.close()


def install(broker: Broker | None = None, *, ports: Iterable[int] = (5672, 5671)) -> AioPikaPatch:
    """Route every aio-pika connection made from now on to ``broker`` (a fresh one when None).

    Any host in the URL is served by the broker in this process (a host other than localhost gets a
    log line); a port not in ``ports`` is refused as a closed port would be.  A second ``install``
    replaces the first.  Returns the patch (``.broker``, ``.connections``, ``disconnect_all()``).
    """
    global _current
    if _current is not None:
        uninstall()
    _check_aiormq()
    patch = AioPikaPatch(broker, ports, owns_broker=broker is None)
    patch._install()
    _current = patch
    return patch


def uninstall() -> None:
    """Undo :func:`install` (a broker it created is closed); harmless when nothing is installed."""
    global _current
    patch, _current = _current, None
    if patch is not None:
        patch._uninstall()


def current() -> AioPikaPatch | None:
    """The installed patch, or None."""
    return _current


def _check_aiormq() -> None:
    import inspect
    if "transport_factory" not in inspect.signature(aiormq.Connection.__init__).parameters:
        raise ImportError(f"minimq.compat.aio_pika needs aiormq >= 6.9.1 (transport_factory); "
                          f"aiormq {getattr(aiormq, '__version__', '?')} is installed")
