"""The broker's clock port.

Everything time-dependent in the broker (message TTL, queue expiry, x-death timestamps) reads one
:class:`Clock`.  :class:`SystemClock` is real time; :class:`ManualClock` moves only when a test calls
:meth:`ManualClock.advance`, which makes expiry deterministic and instant: nothing expires until the
clock is advanced, however much real time passes, and everything due expires before ``advance``
returns.

Times are milliseconds as floats (``now_ms``), the unit of AMQP TTLs; ``ManualClock`` keeps an integer
count of nanoseconds so repeated advances never accumulate rounding error.
"""

from __future__ import annotations

import threading
import time as _time
from typing import Callable, Protocol

__all__ = ["Clock", "SystemClock", "ManualClock"]


class Clock(Protocol):
    """What the broker needs from a clock."""

    #: True when the broker must run a timer thread to act on deadlines in real time.
    is_real_time: bool

    def now_ms(self) -> float:
        """Monotonic milliseconds: used for TTL and expiry deadlines."""

    def wall_time(self) -> float:
        """Seconds since the epoch: used for timestamps written into messages (x-death ``time``)."""

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after the clock jumps (manual clocks); real clocks may ignore it."""


class SystemClock:
    """Real time: ``time.monotonic`` for deadlines, ``time.time`` for timestamps."""

    __slots__ = ()
    is_real_time = True

    def now_ms(self) -> float:
        """``time.monotonic()`` in milliseconds."""
        return _time.monotonic() * 1000.0

    def wall_time(self) -> float:
        """``time.time()``: seconds since the epoch."""
        return _time.time()

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Real time never jumps; the broker's timer thread watches deadlines instead."""

    def __repr__(self) -> str:
        return "SystemClock()"


class ManualClock:
    """A clock that moves only when told to.

    ``start`` is the initial monotonic time in seconds, ``wall_start`` the epoch seconds
    :meth:`wall_time` reports at ``start``; both advance together.  Thread-safe.

    >>> clock = ManualClock()
    >>> clock.advance(1.5)
    >>> clock.now_ms()
    1500.0
    """

    is_real_time = False

    def __init__(self, start: float = 0.0, wall_start: float = 1_700_000_000.0) -> None:
        self._ns = round(start * 1e9)
        self._wall_start = wall_start
        self._lock = threading.Lock()  # guards _ns and _subscribers; never held while callbacks run
        self._subscribers: list[Callable[[], None]] = []

    def now_ms(self) -> float:
        """Elapsed manual time in milliseconds (``start`` included); changes only in :meth:`advance`."""
        return self._ns / 1e6

    def wall_time(self) -> float:
        """``wall_start`` plus the elapsed manual time, in epoch seconds."""
        return self._wall_start + self._ns / 1e9

    def subscribe(self, callback: Callable[[], None]) -> None:
        """Have every later :meth:`advance` call ``callback`` (no arguments) once time has moved.

        Callbacks are never removed; one that raises stops ``advance`` from calling the rest.
        """
        with self._lock:
            self._subscribers.append(callback)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds`` and let every subscribed broker act on what became due.

        Callbacks run in subscription order on the calling thread, after the lock is released, and
        ``advance(0)`` still calls them.  Raises ``ValueError`` for negative ``seconds``; exceptions
        from a callback propagate.
        """
        if seconds < 0:
            raise ValueError(f"seconds must be >= 0, got {seconds!r}")
        with self._lock:
            self._ns += round(seconds * 1e9)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            callback()

    def __repr__(self) -> str:
        return f"ManualClock(now={self._ns / 1e9:g}s)"
