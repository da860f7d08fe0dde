"""A channel's events and the threads that consume them: inline callbacks, pulled events, wake-ups.

Deliveries, returned messages and server cancels become *events* on the receiving channel while the
broker lock is held (:meth:`EventInbox.push`, or the channel's own delivery path).  The first event
of a lock hold registers the channel in ``kernel.wakes``; after the lock is released the kernel calls
:meth:`EventInbox.wake`, outside the lock:

* events with a callback on an *inline* channel (the default) sit in ``_events`` and run right away,
  on the waking thread, one thread at a time per channel, in order (:meth:`dispatch_events`);
* the others sit in ``_inbox`` for :meth:`get_event` (blocking, with a timeout) or :meth:`pop_event`
  (non-blocking); the ``on_events`` hook tells an event loop to look (asyncio facades set it to
  ``loop.call_soon_threadsafe``-based callables).

Locks.  ``_dispatch_lock`` is held by the one thread running this channel's callbacks; it is taken
without blocking.  ``_cond`` is where :meth:`get_event` waiters sleep; :meth:`wake` notifies it when
there are waiters (``_waiters``, counted under ``_cond``).

:class:`EventInbox` is a base class of :class:`~minimq.channel.Channel`; the subclass provides
``is_open``, ``_closed_error()`` and ``_run_callback(event)`` and appends deliveries to ``_events`` /
``_inbox`` itself on its hot path (then calls nothing else: the registration in ``kernel.wakes`` is
the same three lines as in :meth:`push`).

Cost model (HOT): an event is one deque append, plus one list append for the first event of a lock
hold; a wake is one deque test per queue and, for inline callbacks, one non-blocking lock round trip
per batch.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time as _time
from collections import deque
from typing import Any, Callable

from .errors import ChannelClosed
from .kernel import Kernel
from .message import ConsumerCancelled, Returned

__all__ = ["EventInbox", "check_callback"]

log = logging.getLogger("minimq")


class EventInbox:
    """Events of one channel, the callbacks that run them and the threads that wait for them."""

    is_open: bool
    #: what the layer pulling this channel's events reports about events it took (add_busy_probe); a
    #: class-level empty default, replaced per channel only when a probe is added: a channel's 30th
    #: instance attribute would make CPython 3.11 stop sharing its instances' attribute keys, which
    #: slows every ``self.x`` on the hot path (measured: +1,300 instructions per publish+get+ack)
    _busy_probes: tuple[Callable[[], str | None], ...] = ()

    def __init__(self, kernel: Kernel, inline: bool) -> None:
        self._kernel = kernel
        #: run callbacks on the waking thread (True) or leave every event to be pulled (False)
        self._inline = inline
        #: events whose callbacks run inline, and events waiting to be pulled
        self._events: deque = deque()
        self._inbox: deque = deque()
        #: already registered in kernel.wakes for this lock hold
        self._wake_pending = False
        #: called (outside the lock) when pulled events arrive or the channel closes
        self.on_events: Callable[[], None] | None = None
        self._return_callbacks: list[Callable[[Returned], Any]] = []
        self._cancel_callbacks: list[Callable[[ConsumerCancelled], Any]] = []
        self._dispatch_lock = threading.Lock()
        self._waiters = 0
        self._cond = threading.Condition(threading.Lock())

    # -- provided by the subclass ---------------------------------------------------------------
    def _closed_error(self) -> ChannelClosed:  # pragma: no cover - abstract
        raise NotImplementedError

    def _run_callback(self, event: Any) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # -- producing (lock held) ------------------------------------------------------------------
    def push(self, event: Any, has_callback: bool) -> None:
        """Add an event (lock held): run by a callback if this channel is inline and ``has_callback``,
        otherwise left to be pulled."""
        (self._events if self._inline and has_callback else self._inbox).append(event)
        if not self._wake_pending:
            self._wake_pending = True
            self._kernel.wakes.append(self)

    def request_wake(self) -> None:
        """Be woken after the lock is released even without events (a close wakes waiters)."""
        if not self._wake_pending:
            self._wake_pending = True
            self._kernel.wakes.append(self)

    # -- consuming (lock not held) --------------------------------------------------------------
    def add_on_return_callback(self, callback: Callable[[Returned], Any]) -> None:
        """``callback(returned)`` for mandatory messages that matched no queue (inline channels).

        ``TypeError`` at once if ``callback`` cannot be called with one argument.
        """
        check_callback(callback, "return callback", "returned", allow_none=False)
        self._return_callbacks.append(callback)

    def add_on_cancel_callback(self, callback: Callable[[ConsumerCancelled], Any]) -> None:
        """``callback(cancelled)`` when the server cancels a consumer (its queue was deleted).

        ``TypeError`` at once if ``callback`` cannot be called with one argument.
        """
        check_callback(callback, "cancel callback", "cancelled", allow_none=False)
        self._cancel_callbacks.append(callback)

    def pop_event(self) -> Any:
        """The next pulled event (Delivery, Returned, ConsumerCancelled) or None; never blocks."""
        try:
            return self._inbox.popleft()
        except IndexError:
            return None

    def get_event(self, timeout: float | None = None) -> Any:
        """The next pulled event, waiting up to ``timeout`` seconds (None: forever); None on timeout.

        Raises :class:`~minimq.errors.ChannelClosed` if the channel closes while waiting with nothing
        left to pull.
        """
        deadline = None if timeout is None else _time.monotonic() + timeout
        cond = self._cond
        while True:
            try:
                return self._inbox.popleft()
            except IndexError:
                pass
            if not self.is_open:
                raise self._closed_error()
            with cond:
                # Count ourselves as a waiter *before* looking at the inbox: wake reads _waiters
                # after appending, so either it sees us and notifies, or we see its event.
                self._waiters += 1
                try:
                    if self._inbox or not self.is_open:
                        continue
                    remaining = None if deadline is None else deadline - _time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return None
                    cond.wait(remaining)
                finally:
                    self._waiters -= 1

    def wake(self) -> None:
        """Called by the kernel after the lock is released, for channels that got events."""
        self._wake_pending = False
        if self._events:
            self.dispatch_events()
        if self._inbox or not self.is_open:
            hook = self.on_events
            if hook is not None:
                hook()
            if self._waiters:
                with self._cond:
                    self._cond.notify_all()

    # -- idleness (see Broker.run_until_idle) --------------------------------------------------
    def add_busy_probe(self, probe: Callable[[], str | None]) -> None:
        """Register ``probe()``: a layer that pulls this channel's events (a facade, an event-loop
        pump) returns why the events it took are not handled yet, or None when it holds none.

        The contract that makes :meth:`busy` exact: the probe must report busy from *before* the
        layer pops an event (``pop_event``/``get_event``) until that event's callback has returned.
        Probes run with the broker lock held, from any thread: they must not block or take the lock.
        """
        if not callable(probe):
            raise TypeError(f"busy probe must be callable, not {type(probe).__name__}")
        self._busy_probes = (*self._busy_probes, probe)

    def busy(self) -> str | None:
        """Why this channel is not idle, or None: inline callbacks waiting or running, events waiting
        in the inbox to be pulled (an event counts as not handled until it is pulled), or a busy
        probe's answer.  Looked at in the order events move (waiting, then running, then probes),
        so an event moving along is seen at least once.  Never blocks."""
        if self._events:
            return f"{len(self._events)} event(s) waiting for an inline callback"
        if self._dispatch_lock.locked():
            return "an inline callback is running"
        if self._inbox:
            return f"{len(self._inbox)} event(s) waiting in the inbox to be pulled"
        for probe in self._busy_probes:
            reason = probe()
            if reason:
                return reason
        return None

    def dispatch_events(self) -> None:
        """Run callbacks for pending events, in order; one thread at a time per channel.

        The dispatch lock is taken without blocking: a thread (or a callback re-entering through a
        publish) that finds it held leaves its events to the thread that holds it, which looks at the
        queue again after letting go, so an event appended in between is never stranded.
        """
        events = self._events
        lock = self._dispatch_lock
        while events and lock.acquire(False):
            try:
                while events:
                    event = events.popleft()
                    try:
                        self._run_callback(event)
                    except Exception:  # a consumer's bug must not stop delivery to the others
                        log.exception("minimq: callback for %r raised", event)
            finally:
                lock.release()


def check_callback(callback: Any, role: str, argument: str, *, allow_none: bool = True,
                   pika_hint: bool = False) -> None:
    """``TypeError`` unless ``callback`` can be called as ``callback(<argument>)`` with one positional
    argument, so a wrong callback fails where it is registered instead of at its first event.

    ``role`` names it in the message ("consumer callback"); a callable whose signature cannot be read
    (some builtins) is accepted.  With ``pika_hint``, a callback taking pika's four arguments
    ``(channel, method, properties, body)`` gets a message pointing to :mod:`minimq.compat.pika`.
    """
    if not callable(callback):
        alternative = ", or None" if allow_none else ""
        raise TypeError(f"{role} must be a callable taking one argument, callback({argument}){alternative}; "
                        f"got {type(callback).__name__}")
    try:
        signature = inspect.signature(callback)
    except (TypeError, ValueError):  # no signature to read (builtins and other C callables): trust it
        return
    try:
        signature.bind(None)
    except TypeError:
        pass
    else:
        return
    name = getattr(callback, "__name__", None) or type(callback).__name__
    if pika_hint:
        try:
            signature.bind(None, None, None, None)
        except TypeError:
            pass
        else:
            raise TypeError(f"{role} {name}{signature} has pika's signature (channel, method, properties, "
                            f"body); minimq's native API calls callback({argument}) with one Delivery; "
                            f"for pika's API use minimq.compat.pika") from None
    raise TypeError(f"{role} must take one positional argument, callback({argument}); "
                    f"{name}{signature} cannot be called that way") from None
