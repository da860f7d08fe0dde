"""pika's ioloop timers, as the facade's blocking connection runs them.

pika's ``BlockingConnection`` owns an I/O loop whose timers serve two purposes: user timers
(``call_later``/``remove_timeout``, dispatched as ``_TimerEvt`` events from ``process_data_events``)
and private deadlines for waits with a time limit (``_IoloopTimerContext``).  minimq has no I/O loop,
so each facade connection keeps a :class:`TimerQueue` (a heap of monotonic deadlines) and runs what is
due while it "reads frames".  This module holds that queue and pika's two timer helpers; the
connection keeps the pika-facing methods (``call_later``, ``remove_timeout``,
``_adapter_call_later``, ``_adapter_remove_timeout``) and decides when timers run.

``_TimerEvt`` is pika's own class when pika is importable (``pika.adapters.blocking_connection.
_TimerEvt``), so the events a connection hands around are pika's; without pika an equivalent is defined
here.  ``_IoloopTimerContext`` keeps pika's (private) class name so that reprs read the same.
"""

from __future__ import annotations

import heapq
import itertools
import time
from typing import Any, Callable, Protocol

__all__ = ["TimerQueue", "_TimerEvt", "_IoloopTimerContext"]


class TimerQueue:
    """One connection's ioloop timers: ``timer id -> callback``, due at monotonic deadlines.

    Timer ids count up from 1 for the queue's whole life (also across :meth:`clear`).  A removed timer
    leaves its heap entry behind until it is due or the heap is compacted.
    """

    __slots__ = ("_heap", "_callbacks", "_ids")

    def __init__(self) -> None:
        self._heap: list[tuple[float, int]] = []
        self._callbacks: dict[int, Callable[[], Any]] = {}
        self._ids = itertools.count(1)

    def call_later(self, delay: float, callback: Callable[[], Any]) -> int:
        """Register ``callback()`` to run ``delay`` seconds from now; returns its timer id.

        Raises ``ValueError`` for a negative ``delay`` (pika's ioloop's check and message).
        """
        if delay < 0:
            raise ValueError(f"call_later: delay must be non-negative, but got {delay!r}")
        timer_id = next(self._ids)
        self._callbacks[timer_id] = callback
        heapq.heappush(self._heap, (time.monotonic() + max(delay, 0), timer_id))
        return timer_id

    def remove_timeout(self, timer_id: Any) -> None:
        """Unregister a timer (nothing happens for an unknown, fired or removed id)."""
        callbacks = self._callbacks
        callbacks.pop(timer_id, None)
        heap = self._heap
        if len(heap) > 64 and len(heap) > 2 * len(callbacks):
            # removed timers stay in the heap until due; compact when they dominate (in place: run_due
            # may be looping over this list when a callback removes a timer)
            heap[:] = [entry for entry in heap if entry[1] in callbacks]
            heapq.heapify(heap)

    def seconds_until_next(self, limit: float) -> float:
        """Seconds until the next registered timer is due, at most ``limit`` and at least 0."""
        timeout = limit
        heap = self._heap
        callbacks = self._callbacks
        while heap and heap[0][1] not in callbacks:
            heapq.heappop(heap)  # removed timer
        if heap:
            timeout = min(timeout, heap[0][0] - time.monotonic())
        return max(timeout, 0.0)

    def run_due(self) -> None:
        """Run, in deadline order, every timer due now (each once; it is unregistered first)."""
        heap = self._heap
        callbacks = self._callbacks
        now = time.monotonic()
        while heap and heap[0][0] <= now:
            _, timer_id = heapq.heappop(heap)
            callback = callbacks.pop(timer_id, None)
            if callback is not None:
                callback()

    def clear(self) -> None:
        """Drop every timer (the connection closed: pika's ioloop is gone)."""
        self._heap.clear()
        self._callbacks.clear()


try:  # pika's own event class when pika is importable
    from pika.adapters.blocking_connection import _TimerEvt
except ImportError:

    class _TimerEvt:  # type: ignore[no-redef]
        """A timer created via ``BlockingConnection.call_later``, waiting for dispatch once due."""

        __slots__ = ("timer_id", "_callback")

        def __init__(self, callback: Callable[[], Any]) -> None:
            self._callback = callback
            self.timer_id: Any = None

        def __repr__(self) -> str:
            return f"<{self.__class__.__name__} timer_id={self.timer_id} callback={self._callback}>"

        def dispatch(self) -> None:
            """Run the user's callback."""
            self._callback()


class _TimerHost(Protocol):
    """What :class:`_IoloopTimerContext` needs of a connection (pika's adapter timer methods)."""

    def _adapter_call_later(self, delay: float, callback: Callable[[], Any]) -> int: ...

    def _adapter_remove_timeout(self, timer_id: Any) -> None: ...


class _IoloopTimerContext:
    """A private timer for the duration of a wait; unregistered on exit if it has not fired."""

    def __init__(self, duration: float, connection: _TimerHost) -> None:
        self._duration = duration
        self._connection = connection
        self._fired = False
        self._timer_id: Any = None

    def _fire(self) -> None:
        self._fired = True

    def __enter__(self) -> _IoloopTimerContext:
        self._timer_id = self._connection._adapter_call_later(self._duration, self._fire)
        return self

    def __exit__(self, *_exc: object) -> None:
        if not self._fired:
            self._connection._adapter_remove_timeout(self._timer_id)

    def is_ready(self) -> bool:
        """True once the timer has fired."""
        return self._fired
