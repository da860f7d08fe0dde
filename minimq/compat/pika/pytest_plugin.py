"""pytest plugin (entry point ``minimq``): run code written for pika against an in-process broker.

Fixtures
--------
``minimq_broker``
    A fresh :class:`minimq.Broker` per test, closed afterwards.
``minimq_pika``
    Makes ``pika.BlockingConnection(...)`` -- also reached as ``pika.adapters.BlockingConnection`` and
    ``pika.adapters.blocking_connection.BlockingConnection`` -- build the minimq facade bound to the
    test's broker, so unmodified code (``pika.BlockingConnection(pika.ConnectionParameters('localhost'))``)
    talks to it.  Yields the broker.  Without pika installed, ``import pika`` in the code under test gets
    a stand-in module made of the facade for the duration of the test.
``minimq_pika_patch``
    The :class:`PikaPatch` behind ``minimq_pika``: ``.broker``, ``.connections`` (every connection made
    through the patch) and helpers to wait for consumers and stop ``start_consuming`` loops.

The same patch is available outside pytest as the context manager :func:`patch_pika`.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
import types
from typing import Any, Iterator

import pytest

from minimq import Broker

from . import blocking_connection as _facade
from .spec import USING_PIKA

__all__ = ["PikaPatch", "patch_pika", "minimq_broker", "minimq_pika", "minimq_pika_patch"]

_MISSING = object()


class PikaPatch:
    """What :func:`patch_pika` installed: the broker and the connections made through the patch."""

    def __init__(self, broker: Any) -> None:
        self.broker = broker
        self.connections: list = []
        self._lock = threading.Lock()
        patch = self

        class BlockingConnection(_facade.BlockingConnection):
            """``pika.BlockingConnection`` while patched: the minimq facade bound to the test's broker."""

            def __init__(self, parameters: Any = None, _impl_class: Any = None, *, broker: Any = None) -> None:
                super().__init__(parameters, _impl_class, broker=patch.broker if broker is None else broker)
                with patch._lock:
                    patch.connections.append(self)

        self.connection_class = BlockingConnection

    def consumers(self) -> int:
        """Active consumers on the open channels of the patched connections (safe from any thread)."""
        with self._lock:
            connections = list(self.connections)
        total = 0
        for connection in connections:
            for channel in list(connection._channels.values()):
                total += sum(1 for info in list(channel._consumer_infos.values()) if info.active)
        return total

    def wait_for_consumers(self, count: int = 1, timeout: float = 5.0) -> None:
        """Block until at least ``count`` consumers are active (e.g. a receiver thread is ready)."""
        deadline = time.monotonic() + timeout
        while self.consumers() < count:
            if time.monotonic() >= deadline:
                raise TimeoutError(f"expected {count} active consumer(s), found {self.consumers()}")
            time.sleep(0.005)

    def stop_consuming(self) -> None:
        """From any thread: make every ``start_consuming`` loop of the patched connections return.

        Schedules ``stop_consuming()`` on each open channel with consumers, on its connection's thread
        (``add_callback_threadsafe``), as a pika program would.
        """
        with self._lock:
            connections = list(self.connections)
        for connection in connections:
            if not connection.is_open:
                continue

            def stop(connection: Any = connection) -> None:
                for channel in list(connection._channels.values()):
                    if channel.is_open and channel.consumer_tags:
                        channel.stop_consuming()

            with contextlib.suppress(Exception):  # closed meanwhile
                connection.add_callback_threadsafe(stop)


def _facade_as_pika_module(patch: PikaPatch) -> dict[str, types.ModuleType]:
    """``sys.modules`` entries that make ``import pika`` give the facade (when pika is not installed)."""
    from minimq.compat import pika as facade

    module = types.ModuleType("pika", "minimq's stand-in for pika (installed by the minimq_pika fixture)")
    for name in facade.__all__:
        setattr(module, name, getattr(facade, name))
    module.BlockingConnection = patch.connection_class
    module.__version__ = "minimq"
    adapters = types.ModuleType("pika.adapters")
    adapters.BlockingConnection = patch.connection_class
    blocking = types.ModuleType("pika.adapters.blocking_connection")
    blocking.BlockingConnection = patch.connection_class
    blocking.BlockingChannel = facade.BlockingChannel
    blocking.ReturnedMessage = facade.ReturnedMessage
    adapters.blocking_connection = blocking
    module.adapters = adapters
    return {"pika": module, "pika.adapters": adapters, "pika.adapters.blocking_connection": blocking,
            "pika.spec": facade.spec, "pika.exceptions": facade.exceptions, "pika.frame": facade.frame,
            "pika.data": facade.data, "pika.connection": facade.connection}


@contextlib.contextmanager
def patch_pika(broker: Any) -> Iterator[PikaPatch]:
    """Within the block, ``pika.BlockingConnection`` builds facade connections bound to ``broker``."""
    patch = PikaPatch(broker)
    saved: list[tuple[Any, str, Any]] = []
    saved_modules: dict[str, Any] = {}
    try:
        if USING_PIKA:
            import pika
            import pika.adapters
            import pika.adapters.blocking_connection

            for owner in (pika, pika.adapters, pika.adapters.blocking_connection):
                saved.append((owner, "BlockingConnection", owner.__dict__.get("BlockingConnection", _MISSING)))
                owner.BlockingConnection = patch.connection_class
        else:
            for name, module in _facade_as_pika_module(patch).items():
                saved_modules[name] = sys.modules.get(name, _MISSING)
                sys.modules[name] = module
        yield patch
    finally:
        for owner, name, value in reversed(saved):
            if value is _MISSING:
                delattr(owner, name)
            else:
                setattr(owner, name, value)
        for name, value in saved_modules.items():
            if value is _MISSING or value is None:
                sys.modules.pop(name, None)
                if value is None:
                    sys.modules[name] = None  # type: ignore[assignment]
            else:
                sys.modules[name] = value


@pytest.fixture
def minimq_broker() -> Iterator[Any]:
    """A fresh in-process broker for the test (closed afterwards)."""
    broker = Broker()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def minimq_pika_patch(minimq_broker: Any) -> Iterator[PikaPatch]:
    """The pika patch bound to ``minimq_broker`` (see :class:`PikaPatch`)."""
    with patch_pika(minimq_broker) as patch:
        yield patch


@pytest.fixture
def minimq_pika(minimq_pika_patch: PikaPatch) -> Iterator[Any]:
    """``pika.BlockingConnection`` connects to the test's broker, which is yielded."""
    yield minimq_pika_patch.broker
