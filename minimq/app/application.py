"""``App``: one broker connection target, its declarations, its listeners and its templates.

The app chooses the transports (``memory://`` or a :class:`minimq.Broker` in this process; AMQP URLs
through :mod:`.urls` when available), declares what the application declared and what each listener
needs when it starts (idempotently: what exists with the same settings is left alone; a refusal
raises :class:`DeclarationError` naming the declaration and RabbitMQ's reply text), and runs one
container per listener:

* ``with app:`` (or :meth:`App.start` / :meth:`App.stop`): plain handlers run on worker threads
  (:class:`ListenerContainer`); ``async def`` handlers run on an event loop the app keeps on a
  background thread;
* ``async with app:`` (or :meth:`App.start_async` / :meth:`App.stop_async`): every listener runs as
  tasks on the running loop (:class:`AsyncListenerContainer`); plain handlers go to
  ``asyncio.to_thread``.

``App("memory://")`` (the default) makes one in-process broker, :attr:`App.broker`, shared by the
sync and async sides and the templates.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Callable, Iterable, Sequence, TypeVar, Union

from ..broker import Broker
from .converters import Converters
from .errors import AppError
from .declarations import Binding, Declarable, Exchange, Queue
from .listeners import (AsyncListenerContainer, Listener, ListenerContainer, declare_each,
                        declare_each_async)
from .payloads import analyse
from .policies import ErrorPolicy, Reject
from .transport import AsyncTransport, Transport
from .urls import transport_for

__all__ = ["App"]

F = TypeVar("F", bound=Callable[..., Any])
Target = Union[Broker, str, Sequence[str], None]


class App:
    """An application on one broker: ``@app.listener`` handlers, declarations, templates.

    ``target`` is a :class:`minimq.Broker`, a URL (``"memory://"``, the default, makes a broker in
    this process) or a list of URLs (failover, through the AMQP transports).  ``converters`` turn
    objects into bodies and back (JSON, text, bytes by default)."""

    def __init__(self, target: Target = None, *, converters: Converters | None = None) -> None:
        self.converters = converters if converters is not None else Converters()
        #: the in-process broker (``memory://`` or the one given), None for AMQP URLs
        self.broker: Broker | None = None
        self._owns_broker = False
        if target is None or target == "memory://":
            self.broker = Broker()
            self._owns_broker = True
            target = self.broker
        elif isinstance(target, Broker):
            self.broker = target
        elif not isinstance(target, str) and not (isinstance(target, Sequence) and
                                                  all(isinstance(url, str) for url in target)):
            raise TypeError(f"App target must be a minimq.Broker, a URL or a list of URLs, not {target!r}")
        self.target: Broker | str | Sequence[str] = target
        self._declarables: list[Declarable] = []
        self._listeners: list[Listener] = []
        self._lock = threading.Lock()  # guards the transports, templates and the running state
        self._transport: Transport | None = None
        self._async_transport: AsyncTransport | None = None
        self._template: Any = None
        self._async_template: Any = None
        self._containers: list[ListenerContainer] = []
        self._async_containers: list[AsyncListenerContainer] = []
        self._loop: asyncio.AbstractEventLoop | None = None  # the background loop of `with app:`
        self._loop_thread: threading.Thread | None = None
        self._loop_transport: AsyncTransport | None = None  # the async transport used on that loop
        self._running = False

    # -- transports and templates ------------------------------------------------------------------

    @property
    def transport(self) -> Transport:
        """The sync transport (made on first use)."""
        with self._lock:
            if self._transport is None:
                self._transport = transport_for(self.target, asynchronous=False)
            return self._transport

    @property
    def async_transport(self) -> AsyncTransport:
        """The async transport (made on first use)."""
        with self._lock:
            if self._async_transport is None:
                self._async_transport = transport_for(self.target, asynchronous=True)
            return self._async_transport

    @property
    def template(self) -> Any:
        """The sync :class:`~minimq.app.template.Template` on this app's transport and converters."""
        if self._template is None:
            from .template import Template
            transport = self.transport
            with self._lock:
                if self._template is None:
                    self._template = Template(transport, converters=self.converters)
        return self._template

    @property
    def async_template(self) -> Any:
        """The :class:`~minimq.app.template.AsyncTemplate` on this app's async transport."""
        if self._async_template is None:
            from .template import AsyncTemplate
            transport = self.async_transport
            with self._lock:
                if self._async_template is None:
                    self._async_template = AsyncTemplate(transport, converters=self.converters)
        return self._async_template

    # -- what to declare and run -------------------------------------------------------------------

    def declare(self, *declarables: Declarable) -> None:
        """Declare these at start (in order, before the listeners' own).  While the app runs they are
        declared at once; a refusal raises :class:`DeclarationError`."""
        for item in declarables:
            if not isinstance(item, (Queue, Exchange, Binding)):
                raise TypeError(f"cannot declare {item!r}: expected Queue, Exchange or Binding")
        self._declarables.extend(declarables)
        if self._running:
            session = self.transport.session()
            try:
                declare_each(session, declarables)
            finally:
                session.close()

    def listener(self, queue: Queue | str, *, exchange: Exchange | None = None,
                 routing_key: str | Sequence[str] = "", bindings: Iterable[Binding] = (),
                 concurrency: int = 1, prefetch: int = 10,
                 error_policy: ErrorPolicy | None = None) -> Callable[[F], F]:
        """Register the decorated function (sync or ``async def``) as the handler of ``queue``.

        ``queue`` is declared (a name alone is a durable queue without arguments); with ``exchange``
        it is declared too and the queue bound to it with each ``routing_key``; ``bindings`` are
        declared as given.  ``concurrency`` workers each prefetch ``prefetch`` messages.
        ``error_policy`` (default :class:`Reject`) settles messages the handler failed on.  The
        function is returned unchanged, so it can still be called directly."""
        if isinstance(queue, str):
            queue = Queue(queue)
        if not isinstance(queue, Queue):
            raise TypeError(f"queue must be a Queue or a queue name, not {queue!r}")
        policy = error_policy if error_policy is not None else Reject()
        keys = [routing_key] if isinstance(routing_key, str) else list(routing_key)
        declarations: list[Declarable] = [queue]
        if exchange is not None:
            declarations.append(exchange)
            declarations.extend(Binding(exchange.name, queue.name, routing_key=key) for key in keys)
        elif routing_key not in ("", []):
            raise ValueError("routing_key needs an exchange to bind to (exchange=Exchange(...))")
        declarations.extend(bindings)

        def register(function: F) -> F:
            signature = analyse(function)
            listener = Listener(queue.name, function, signature,
                                tuple(declarations) + tuple(policy.declarations(queue.name)),
                                concurrency=concurrency, prefetch=prefetch, error_policy=policy)
            with self._lock:
                if self._running:
                    raise AppError(f"cannot add the listener {listener.name} while the app runs: stop it first")
                self._listeners.append(listener)
            return function

        return register

    @property
    def listeners(self) -> tuple[Listener, ...]:
        """The registered listeners, in registration order."""
        return tuple(self._listeners)

    @property
    def containers(self) -> tuple[ListenerContainer | AsyncListenerContainer, ...]:
        """The running containers (one per listener), empty when stopped."""
        return (*self._containers, *self._async_containers)

    def _all_declarations(self) -> list[Declarable]:
        declarations = list(self._declarables)
        for listener in self._listeners:
            declarations.extend(listener.declarations)
        return declarations

    # -- sync lifecycle ----------------------------------------------------------------------------

    def _mark_running(self) -> None:
        with self._lock:
            if self._running:
                raise AppError("the app is already running")
            self._running = True

    def start(self, timeout: float = 10.0) -> None:
        """Declare, then start every listener (plain handlers on threads, async ones on a background
        loop); returns once every worker consumes.  Raises :class:`DeclarationError` on a refusal."""
        self._mark_running()
        try:
            session = self.transport.session()
            try:
                declare_each(session, self._all_declarations())
            finally:
                session.close()
            for listener in self._listeners:
                if listener.signature.is_async:
                    if self._loop_transport is None:
                        # made on the background loop itself: an async transport may belong to the
                        # loop it was made on; closed with that loop at stop
                        self._loop_transport = self._run_in_loop(_make_async_transport(self.target), timeout)
                    container: Any = AsyncListenerContainer(self._loop_transport, listener, self.converters)
                    self._async_containers.append(container)
                    self._run_in_loop(container.start(timeout), timeout + 5.0)
                else:
                    container = ListenerContainer(self.transport, listener, self.converters)
                    self._containers.append(container)
                    container.start(timeout)
        except BaseException:
            self.stop(timeout)
            raise

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop every listener gracefully (see :mod:`.listeners`); False if some worker was still
        running a handler when ``timeout`` ran out."""
        for container in self._containers:
            container.request_stop()  # all at once: they wind down in parallel
        clean = all([container.stop(timeout) for container in self._containers])
        if self._async_containers:
            stops = [self._run_in_loop(container.stop(timeout), timeout + 5.0) for container in self._async_containers]
            clean = clean and all(stops)
        if self._loop_transport is not None:
            transport, self._loop_transport = self._loop_transport, None
            self._run_in_loop(transport.close(), timeout)
        self._stop_loop(timeout)
        with self._lock:
            self._containers = []
            self._async_containers = []
            self._running = False
        return clean

    def close(self, timeout: float = 10.0) -> None:
        """Stop, then close the sync transport (the template's sessions with it) and the broker the app
        made for ``memory://``.  An async transport is closed by :meth:`close_async`."""
        self.stop(timeout)
        with self._lock:
            transport, self._transport = self._transport, None
            self._template = None
        if transport is not None:
            transport.close()
        if self._owns_broker and self.broker is not None and self._async_transport is None:
            self.broker.close()

    async def close_async(self, timeout: float = 10.0) -> None:
        """Stop the async listeners, close both transports and the broker the app made."""
        await self.stop_async(timeout)
        await self._close_loop_resources()
        await asyncio.to_thread(self.close, timeout)

    async def _close_loop_resources(self) -> None:
        """Close the async template and transport: their connections belong to the running loop and
        cannot outlive it (the next ``async with app`` opens new ones)."""
        with self._lock:
            async_transport, self._async_transport = self._async_transport, None
            async_template, self._async_template = self._async_template, None
        if async_template is not None:
            await async_template.close()
        if async_transport is not None:
            await async_transport.close()

    def __enter__(self) -> App:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run_in_loop(self, coroutine: Any, timeout: float) -> Any:
        """Run ``coroutine`` on the background loop of ``with app:`` (started on first use)."""
        if self._loop is None:
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="minimq-app-loop", daemon=True)
            thread.start()
            self._loop, self._loop_thread = loop, thread
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def _stop_loop(self, timeout: float) -> None:
        loop, thread = self._loop, self._loop_thread
        if loop is None or thread is None:
            return
        self._loop = self._loop_thread = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)
        if not thread.is_alive():
            loop.close()

    # -- async lifecycle ---------------------------------------------------------------------------

    async def start_async(self, timeout: float = 10.0) -> None:
        """Declare, then start every listener as tasks on the running loop (plain handlers through
        ``asyncio.to_thread``).  Raises :class:`DeclarationError` on a refusal."""
        self._mark_running()
        try:
            transport = self.async_transport
            session = await transport.session()
            try:
                await declare_each_async(session, self._all_declarations())
            finally:
                await session.close()
            for listener in self._listeners:
                container = AsyncListenerContainer(transport, listener, self.converters)
                self._async_containers.append(container)
                await container.start(timeout)
        except BaseException:
            await self.stop_async(timeout)
            raise

    async def stop_async(self, timeout: float = 10.0) -> bool:
        """Stop every listener started by :meth:`start_async`, gracefully."""
        for container in self._async_containers:
            container.request_stop()
        results = await asyncio.gather(*(container.stop(timeout) for container in self._async_containers))
        with self._lock:
            self._async_containers = []
            self._running = False
        return all(results)

    async def __aenter__(self) -> App:
        await self.start_async()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop_async()
        await self._close_loop_resources()

    def __repr__(self) -> str:
        state = "running" if self._running else "stopped"
        return f"<App {self.target!r} {state}, {len(self._listeners)} listener(s)>"


async def _make_async_transport(target: Broker | str | Sequence[str]) -> Any:
    return transport_for(target, asynchronous=True)
