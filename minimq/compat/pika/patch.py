"""The pika patch: code written for pika connects to an in-process broker, and nowhere else.

:func:`patch_pika` (a context manager, usable anywhere; the ``minimq_pika`` pytest fixture is built on
it) makes every ``BlockingConnection`` that pika code builds a facade connection bound to a given
:class:`minimq.Broker`, and refuses every real network connection pika could open meanwhile.

With pika installed
-------------------
* **The class itself is redirected**, not a module attribute: constructing pika's
  ``pika.adapters.blocking_connection.BlockingConnection`` -- under whatever name it was imported, also
  by a module that did ``from pika import BlockingConnection`` before the patch -- returns a facade
  connection (an instance of pika's class: the facade subclasses it) bound to the patch's broker.  A
  subclass of pika's class defined by the code under test gets the facade underneath its own methods.
  This works through a ``__new__`` hook installed on pika's class the first time a patch starts; it
  stays installed afterwards (CPython cannot remove a ``__new__`` cleanly) and does nothing while no
  patch is active.
* **Real connections are refused** with ``pika.exceptions.AMQPConnectionError`` whose message says that
  the patch is active and how to reach a real server on purpose: constructing any
  ``pika.connection.Connection`` (``SelectConnection``, ``AsyncioConnection``, ``TornadoConnection``,
  ``TwistedProtocolConnection`` ...), any adapter's ``create_connection`` (its connection workflow) and
  ``AMQPConnector.start``.  These hooks are removed when the patch ends.

Without pika
------------
``import pika`` gives a stand-in module made of the facade for the duration of the patch (there is no
real pika that could connect anywhere).

Patches nest (the innermost is in effect) and are process-wide: every thread sees them.
:meth:`PikaPatch.suspended` lifts the patch temporarily, for code that must talk to a real server.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
import types
from typing import Any, Callable, Iterator, NoReturn

from minimq import Broker

from . import blocking_connection as _facade
from .spec import USING_PIKA

__all__ = ["PikaPatch", "patch_pika"]

_MISSING = object()

#: the patches in effect, innermost last; ``None`` entries are :meth:`PikaPatch.suspended` blocks
_stack: list[PikaPatch | None] = []
_stack_lock = threading.RLock()
#: (owner, attribute, original value) of the refusal hooks while any patch is active
_saved_guards: list[tuple[Any, str, Any]] = []


def current_patch() -> PikaPatch | None:
    """The patch in effect (the innermost active one), or None when pika is unpatched or suspended."""
    with _stack_lock:
        return _stack[-1] if _stack else None


class PikaPatch:
    """What :func:`patch_pika` installed: the broker, the connections made through the patch, and
    helpers for tests that run pika consumers in threads.

    ``connection_class`` is the facade class that patched constructions build (bound to ``broker``);
    ``connections`` lists every connection made through the patch, in order.
    """

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.connections: list[_facade.BlockingConnection] = []
        self._lock = threading.Lock()
        self._subclasses: dict[type, type] = {}
        patch = self

        class BlockingConnection(_facade.BlockingConnection):
            """``pika.BlockingConnection`` while patched: the minimq facade bound to the patch's broker."""

            def __init__(self, parameters: Any = None, _impl_class: Any = None, *,
                         broker: Broker | None = None) -> None:
                if isinstance(parameters, Broker) and broker is None:
                    parameters, broker = None, parameters
                super().__init__(parameters, _impl_class, broker=patch.broker if broker is None else broker)
                with patch._lock:
                    patch.connections.append(self)

        self.connection_class: type[_facade.BlockingConnection] = BlockingConnection

    def use(self, broker: Broker) -> None:
        """Bind connections made from now on to ``broker`` (open ones stay where they are): after
        ``minimq.persistence.restart``, reconnecting pika code reaches the new broker."""
        if not isinstance(broker, Broker):
            raise TypeError(f"broker must be a minimq Broker, not {type(broker).__name__}")
        self.broker = broker

    def _class_for(self, cls: type) -> type:
        """The class a patched construction of ``cls`` (pika's class or a subclass of it) builds."""
        if cls is _pika_blocking_connection_class():
            return self.connection_class
        with self._lock:
            combined = self._subclasses.get(cls)
            if combined is None:
                # the code's own subclass on top of the facade: its methods first, the facade underneath
                combined = type(cls.__name__, (cls, self.connection_class),
                                {"__module__": cls.__module__, "__qualname__": cls.__qualname__,
                                 "__doc__": cls.__doc__})
                self._subclasses[cls] = combined
            return combined

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
        """Block until at least ``count`` consumers are active (e.g. a receiver thread is ready).

        Raises ``TimeoutError`` after ``timeout`` seconds.
        """
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

    @contextlib.contextmanager
    def suspended(self) -> Iterator[None]:
        """Within the block pika is unpatched (process-wide): real connections are allowed again."""
        with _stack_lock:
            _stack.append(None)
        try:
            yield
        finally:
            with _stack_lock:
                _stack.pop()


# ------------------------------------------------------------------------------------------------
# Hooks into pika (only when pika is installed)


def _pika_blocking_connection_class() -> type:
    from pika.adapters.blocking_connection import BlockingConnection

    return BlockingConnection


def _blocking_connection_new(cls: type, *_args: Any, **_kwargs: Any) -> Any:
    """``__new__`` of pika's ``BlockingConnection`` once hooked: the facade while a patch is in effect."""
    patch = current_patch()
    if patch is None or issubclass(cls, _facade.BlockingConnection):
        return object.__new__(cls)
    return object.__new__(patch._class_for(cls))


def _install_new_hook() -> None:
    """Hook pika's ``BlockingConnection.__new__`` (once; transparent while no patch is in effect)."""
    real = _pika_blocking_connection_class()
    if real.__dict__.get("__new__") is None:
        real.__new__ = staticmethod(_blocking_connection_new)  # type: ignore[assignment]


def _refuse(what: str) -> NoReturn:
    """Raise pika's ``AMQPConnectionError`` for a real connection attempt under the patch."""
    from pika.exceptions import AMQPConnectionError

    raise AMQPConnectionError(
        f"minimq's pika patch is active (the minimq_pika fixture or minimq.compat.pika.patch_pika()): "
        f"{what} would open a network connection to a real server; refused, so the code under test cannot "
        f"reach one by accident.  pika.BlockingConnection(...) connects to the patch's in-process broker.  "
        f"To reach a real server on purpose, connect outside the patch (in a test without the minimq_pika "
        f"fixture) or inside `with minimq_pika_patch.suspended():`.")


def _describe(parameters: Any) -> str:
    """``host:port`` of connection parameters (or a sequence of them), for the refusal message."""
    if isinstance(parameters, (list, tuple)) and parameters:
        parameters = parameters[0]
    host, port = getattr(parameters, "host", None), getattr(parameters, "port", None)
    return f" to {host}:{port}" if host is not None else ""


def _guarded(original: Callable[..., Any], what: Callable[..., str]) -> Callable[..., Any]:
    """``original`` refusing to run while a patch is in effect."""

    @functools.wraps(original)
    def guard(*args: Any, **kwargs: Any) -> Any:
        if current_patch() is not None:
            _refuse(what(*args, **kwargs))
        return original(*args, **kwargs)

    return guard


def _install_guards() -> None:
    """Replace pika's entry points to the network with guarded versions (saved for :func:`_remove_guards`)."""
    from pika.adapters.base_connection import BaseConnection
    from pika.adapters.utils.connection_workflow import AMQPConnector
    from pika.connection import Connection

    def connection_what(self: Any, parameters: Any = None, *_a: Any, **_k: Any) -> str:
        return f"{type(self).__name__}({parameters!r}){_describe(parameters)}"

    def workflow_what(cls: Any, connection_configs: Any = None, *_a: Any, **_k: Any) -> str:
        return f"{cls.__name__}.create_connection(){_describe(connection_configs)}"

    def connector_what(self: Any, *_a: Any, **_k: Any) -> str:
        return "AMQPConnector.start()"

    # Connection.__init__ catches every adapter; the adapters' own __init__ (those imported by now) are
    # guarded too, so that nothing (an ioloop, a socket pair) is set up before the refusal
    classes: list[type] = [Connection]
    for cls in classes:
        classes.extend(sub for sub in cls.__subclasses__() if sub not in classes)
    workflow = BaseConnection.__dict__["_start_connection_workflow"]
    hooks: list[tuple[Any, str, Any]] = [
        (cls, "__init__", _guarded(cls.__dict__["__init__"], connection_what))
        for cls in classes if "__init__" in cls.__dict__]
    hooks += [
        (BaseConnection, "_start_connection_workflow", classmethod(_guarded(workflow.__func__, workflow_what))),
        (AMQPConnector, "start", _guarded(AMQPConnector.__dict__["start"], connector_what)),
    ]
    for owner, name, hook in hooks:
        _saved_guards.append((owner, name, owner.__dict__[name]))
        setattr(owner, name, hook)


def _remove_guards() -> None:
    """Put pika's original entry points back."""
    while _saved_guards:
        owner, name, original = _saved_guards.pop()
        setattr(owner, name, original)


def _facade_as_pika_module(patch: PikaPatch) -> dict[str, types.ModuleType]:
    """``sys.modules`` entries that make ``import pika`` give the facade (when pika is not installed)."""
    from minimq.compat import pika as facade

    module = types.ModuleType("pika", "minimq's stand-in for pika (installed by minimq's pika patch)")
    for name in facade.__all__:
        if name not in ("patch_pika", "PikaPatch"):  # minimq's, not pika's
            setattr(module, name, getattr(facade, name))
    module.BlockingConnection = patch.connection_class  # type: ignore[attr-defined]
    module.__version__ = "minimq"  # type: ignore[attr-defined]
    adapters = types.ModuleType("pika.adapters")
    adapters.BlockingConnection = patch.connection_class  # type: ignore[attr-defined]
    blocking = types.ModuleType("pika.adapters.blocking_connection")
    blocking.BlockingConnection = patch.connection_class  # type: ignore[attr-defined]
    blocking.BlockingChannel = facade.BlockingChannel  # type: ignore[attr-defined]
    blocking.ReturnedMessage = facade.ReturnedMessage  # type: ignore[attr-defined]
    adapters.blocking_connection = blocking  # type: ignore[attr-defined]
    module.adapters = adapters  # type: ignore[attr-defined]
    return {"pika": module, "pika.adapters": adapters, "pika.adapters.blocking_connection": blocking,
            "pika.spec": facade.spec, "pika.exceptions": facade.exceptions, "pika.frame": facade.frame,
            "pika.data": facade.data, "pika.connection": facade.connection}


@contextlib.contextmanager
def patch_pika(broker: Broker) -> Iterator[PikaPatch]:
    """Within the block, pika code's ``BlockingConnection`` builds facade connections bound to ``broker``
    and real pika connections are refused (``AMQPConnectionError``); see the module docstring."""
    patch = PikaPatch(broker)
    saved_modules: dict[str, Any] = {}
    with _stack_lock:
        if USING_PIKA:
            _install_new_hook()
            if not any(entry is not None for entry in _stack):
                _install_guards()
        else:
            for name, module in _facade_as_pika_module(patch).items():
                saved_modules[name] = sys.modules.get(name, _MISSING)
                sys.modules[name] = module
        _stack.append(patch)
    try:
        yield patch
    finally:
        with _stack_lock:
            _stack.remove(patch)
            if USING_PIKA and not any(entry is not None for entry in _stack):
                _remove_guards()
        for name, value in saved_modules.items():
            if value is _MISSING or value is None:
                sys.modules.pop(name, None)
                if value is None:
                    sys.modules[name] = None  # type: ignore[assignment]
            else:
                sys.modules[name] = value
