"""What pika keeps under a ``BlockingConnection`` as ``_impl``: a ``SelectConnection`` and its ``IOLoop``.

pika's ``BlockingConnection`` drives an asynchronous ``SelectConnection`` (``connection._impl``) whose
``ioloop`` runs timers and thread-safe callbacks between socket reads.  Code written for pika sometimes
reaches into it (``connection._impl.ioloop.add_callback_threadsafe(...)``,
``connection._impl.ioloop.call_later(...)``), so the facade keeps the same two objects:

* :class:`IOLoop` -- pika's ``IOLoop`` callback and timer interface (``call_later``, ``remove_timeout``,
  ``add_callback_threadsafe``, ``add_callback``, ``process_timeouts``, ``close``), plus the wake-up
  condition that a waiting facade connection sleeps on instead of ``select()``.
* :class:`SelectConnection` -- the ``_impl`` itself: ``ioloop``, ``params``, the open/closed state as
  the pika side sees it and pika's ``_adapter_*`` timer hooks.

The facade's blocking connection runs the loop: each time it "reads frames" it also calls
:meth:`IOLoop.process_timeouts`, exactly where pika's ``_flush_output`` calls
``ioloop.poll()``/``ioloop.process_timeouts()``.  Nothing here talks to the broker.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

from .timers import TimerQueue

__all__ = ["IOLoop", "SelectConnection"]


class IOLoop:
    """pika's ``select_connection.IOLoop`` interface for callbacks and timers, without sockets.

    Timers and callbacks run on the connection's thread when it processes I/O (inside any call that
    waits for the broker, ``process_data_events``, ``start_consuming``, ``sleep`` ...).
    ``add_callback_threadsafe`` is the one method other threads may call; it wakes a waiting connection.
    """

    def __init__(self) -> None:
        self._timers = TimerQueue()
        self._callbacks: deque[Callable[[], Any]] = deque()
        # wake() (any thread) sets _woken and notifies; the connection clears it before each read and
        # sleeps on it afterwards, so a wake-up between the read and the wait is never lost
        self._wake_cond = threading.Condition(threading.Lock())
        self._woken = False

    # -- pika's IOLoop interface -----------------------------------------------------------------
    def call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """Run ``callback()`` from the loop ``delay`` seconds from now; returns a handle for
        :meth:`remove_timeout`.  ``ValueError`` for a negative delay (pika's message)."""
        return self._timers.call_later(delay, callback)

    def remove_timeout(self, timeout_handle: Any) -> None:
        """Cancel a timer from :meth:`call_later` (nothing happens if it already ran or was removed)."""
        self._timers.remove_timeout(timeout_handle)

    def add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """From any thread: run ``callback()`` on the loop's thread as soon as possible (wakes it).

        ``TypeError`` if ``callback`` is not callable (pika's check and message).
        """
        if not callable(callback):
            raise TypeError(f"callback must be a callable, but got {callback!r}")
        self._callbacks.append(callback)  # deque.append is atomic
        self.wake()

    #: pika's alias (its ``AbstractSelectorIOLoop`` requirement)
    add_callback = add_callback_threadsafe

    def process_timeouts(self) -> None:
        """Run the callbacks queued so far (later ones wait for the next round), then the due timers."""
        callbacks = self._callbacks
        for _ in range(len(callbacks)):
            callbacks.popleft()()
        self._timers.run_due()

    def close(self) -> None:
        """Drop every pending callback and timer (the connection closed)."""
        self._callbacks.clear()
        self._timers.clear()

    # -- what the facade's connection uses to wait ----------------------------------------------
    def wake(self) -> None:
        """Something arrived (a core channel's events, a thread-safe callback): wake a waiter."""
        with self._wake_cond:
            self._woken = True
            self._wake_cond.notify_all()

    def clear_wake(self) -> None:
        """Forget earlier wake-ups: called just before the connection reads."""
        with self._wake_cond:
            self._woken = False

    def wait(self, limit: float) -> None:
        """Sleep until woken, the next timer is due or ``limit`` seconds passed (no sleep if a callback
        is pending or a wake-up came since :meth:`clear_wake`)."""
        timeout = 0.0 if self._callbacks else self._timers.seconds_until_next(limit)
        with self._wake_cond:
            if not self._woken and timeout > 0:
                self._wake_cond.wait(timeout)


class SelectConnection:
    """pika's ``BlockingConnection._impl`` as the facade keeps it: the ioloop and the pika-side state.

    ``is_open``/``is_closed`` say what the pika side knows (a close by the broker counts once it was
    read); ``params`` are the connection parameters in use.
    """

    def __init__(self, params: Any, transport: str = "minimq") -> None:
        self.params = params
        self.ioloop = IOLoop()
        self._transport = transport
        self._closed = False

    def __repr__(self) -> str:
        state = "CLOSED" if self._closed else "OPEN"
        return f"<{self.__class__.__name__} {state} transport={self._transport} params={self.params!r}>"

    @property
    def is_open(self) -> bool:
        """True until the connection's close was sent or read."""
        return not self._closed

    @property
    def is_closed(self) -> bool:
        """True once the connection's close was sent or read."""
        return self._closed

    @property
    def is_closing(self) -> bool:
        """Always False: closing never waits on a network peer here."""
        return False

    def _set_closed(self) -> None:
        """The connection closed: mark it and close the ioloop (pending timers and callbacks go)."""
        self._closed = True
        self.ioloop.close()

    # -- pika's adapter hooks (what BlockingConnection calls on its _impl) ----------------------
    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """``ioloop.call_later``; ``ValueError('Timeout closed before call')`` once closed, as pika's
        closed ioloop answers."""
        if self._closed:
            raise ValueError("Timeout closed before call")
        return self.ioloop.call_later(delay, callback)

    def _adapter_remove_timeout(self, timeout_id: Any) -> None:
        """``ioloop.remove_timeout``."""
        self.ioloop.remove_timeout(timeout_id)

    def _adapter_add_callback_threadsafe(self, callback: Callable[[], Any]) -> None:
        """``ioloop.add_callback_threadsafe``."""
        self.ioloop.add_callback_threadsafe(callback)
