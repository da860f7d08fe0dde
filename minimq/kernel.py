"""The kernel: the one lock, its one release path, the clock, the timers and the plugin ports.

Every other core object reaches shared machinery through one :class:`Kernel`, never through another
object's private attributes.  What it owns, and the rules for each:

``lock``
    A plain ``threading.Lock`` guarding all broker state.  Every operation takes it with
    ``kernel.lock.acquire()`` (or ``with kernel:``), does its short non-blocking work, and gives it
    back through :meth:`Kernel.release`, never ``lock.release()``: user code (consumer callbacks,
    event hooks, waiting threads) must be woken after every release that produced events, and that
    is what :meth:`release` does.  ``tests/test_layering.py`` checks that no other module releases
    the lock itself.
``wakes``
    Objects (channels) that received events while the lock was held, each appended once per
    release (the appender keeps its own "pending" flag).  :meth:`release` takes the list, releases
    the lock and calls ``wake()`` on each, outside the lock.
``clock``
    The :class:`~minimq.clock.Clock` every deadline and timestamp is read from.
``store``
    The :class:`~minimq.store.Store` port, or None.  Hook points test ``kernel.store is None`` and do
    nothing else, so an in-memory broker pays one attribute test per hook point.
``events`` and ``observers``
    ``events`` is the broker's :class:`~minimq.events.EventHub` (subscriptions, event buffer,
    dispatch).  ``observers`` is that hub while at least one subscription is open, else None: every
    hook point tests ``kernel.observers is not None`` and does nothing else, so a broker nobody
    listens to pays one attribute test per hook point.  Events are built under the lock; the hub
    joins ``wakes`` and hands them out after the lock is released (see :mod:`minimq.events`).
``connections_opened``
    How many connections were ever opened: a connection's number (``Event.connection``).
Timers
    :meth:`schedule` asks for ``target.on_timer(now)`` at a deadline.  With a manual clock they run
    when the clock advances; with real time a daemon thread sleeps until the earliest deadline.
    Every observation (publish, get, dispatch, declare) also evaluates expiry against the clock, so
    a late timer thread is never visible.

Cost model: taking and releasing the lock is two C calls plus one list test; a release that wakes
channels costs one ``wake()`` call per channel, however many events each received.
"""

from __future__ import annotations

import heapq
import threading
import weakref
from typing import Any, Protocol

from .clock import Clock, SystemClock
from .events import EventHub
from .store import Store

__all__ = ["Kernel", "Wakeable", "TimerTarget"]


class Wakeable(Protocol):
    """What :meth:`Kernel.release` wakes: something that received events under the lock."""

    def wake(self) -> None:
        """Run or hand over the events received (called outside the lock)."""


class TimerTarget(Protocol):
    """What :meth:`Kernel.schedule` calls back when a deadline is due."""

    def on_timer(self, now: float) -> None:
        """A deadline this target asked for may be due (lock held; stale calls must be harmless)."""


class Kernel:
    """The shared machinery of one broker (see the module docstring for each part's rules)."""

    __slots__ = ("lock", "clock", "store", "events", "observers", "poison", "connections_opened", "wakes", "closed",
                 "_timers", "_timer_seq", "_timer_cond", "_timer_thread", "__weakref__")

    def __init__(self, clock: Clock | None = None) -> None:
        self.lock = threading.Lock()
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.store: Store | None = None
        self.events = EventHub(self, self.clock)
        #: the hub while a subscription is open, else None (the one test every hook point makes)
        self.observers: EventHub | None = None
        #: the poison-loop guard (``minimq.poison.PoisonGuard``) while one is set, else None
        self.poison: Any = None
        self.connections_opened = 0
        self.wakes: list[Wakeable] = []
        #: set by :meth:`close`: the timer thread stops, the broker refuses new connections
        self.closed = False
        #: heap of (deadline, sequence, target); stale entries are harmless (targets re-check)
        self._timers: list[tuple[float, int, TimerTarget]] = []
        self._timer_seq = 0
        #: the timer thread sleeps on this condition; :meth:`schedule` and :meth:`close` notify it
        self._timer_cond = threading.Condition(threading.Lock())
        self._timer_thread: threading.Thread | None = None
        if not self.clock.is_real_time:
            ref = weakref.ref(self)

            def on_advance() -> None:
                kernel = ref()
                if kernel is not None:
                    kernel.run_due_timers()

            self.clock.subscribe(on_advance)

    # -- the lock -------------------------------------------------------------------------------
    def release(self) -> None:
        """Release the lock, then wake everything that received events while it was held.

        The only way the lock is given back.  Wake-ups run on the calling thread, outside the lock.
        """
        wakes = self.wakes
        if wakes:
            self.wakes = []
            self.lock.release()
            for target in wakes:
                target.wake()
        else:
            self.lock.release()

    def __enter__(self) -> Kernel:
        self.lock.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    # -- timers ---------------------------------------------------------------------------------
    def schedule(self, deadline: float, target: TimerTarget) -> None:
        """Ask for ``target.on_timer(now)`` at ``deadline`` (ms on the clock; lock held)."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, target))
        if self.clock.is_real_time:
            if self._timer_thread is None:
                self._start_timer_thread()
            if self._timers[0][2] is target:
                with self._timer_cond:
                    self._timer_cond.notify()

    def run_due_timers(self) -> None:
        """Act on every deadline that is due now (the timer thread and manual clocks call this)."""
        self.lock.acquire()
        try:
            now = self.clock.now_ms()
            timers = self._timers
            while timers and timers[0][0] <= now:
                _, _, target = heapq.heappop(timers)
                target.on_timer(now)
        finally:
            self.release()

    def next_deadline(self) -> float | None:
        """The earliest scheduled deadline (possibly stale), or None."""
        timers = self._timers
        return timers[0][0] if timers else None

    def close(self) -> None:
        """Mark the kernel closed and let the timer thread end (lock not held)."""
        self.closed = True
        with self._timer_cond:
            self._timer_cond.notify_all()

    def _start_timer_thread(self) -> None:
        ref = weakref.ref(self)
        cond = self._timer_cond
        clock = self.clock

        def run() -> None:
            while True:
                kernel = ref()
                if kernel is None or kernel.closed:
                    return
                deadline = kernel.next_deadline()
                del kernel  # hold no reference while sleeping, so an abandoned broker can be collected
                with cond:
                    wait = 1.0 if deadline is None else max(0.0, (deadline - clock.now_ms()) / 1000.0)
                    if wait > 0:
                        cond.wait(min(wait, 1.0))
                kernel = ref()
                if kernel is None or kernel.closed:
                    return
                kernel.run_due_timers()
                del kernel

        thread = threading.Thread(target=run, name="minimq-timers", daemon=True)
        self._timer_thread = thread
        thread.start()

    # -- store hooks (call only when ``store`` is not None) ---------------------------------------
    def persist_enqueue(self, vhost: str, queue: str, entry: Any) -> None:
        """Report a message entering a durable queue, if it is persistent (``delivery_mode`` 2)."""
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self.store.message_enqueued(vhost, queue, entry.seq, entry)  # type: ignore[union-attr]

    def persist_remove(self, vhost: str, queue: str, entry: Any) -> None:
        """Report a persistent message leaving a durable queue for good."""
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self.store.message_removed(vhost, queue, entry.seq)  # type: ignore[union-attr]

    def persist_redelivered(self, vhost: str, queue: str, entry: Any) -> None:
        """Report a persistent message's redelivery state after a requeue."""
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self.store.message_redelivered(vhost, queue, entry.seq, entry)  # type: ignore[union-attr]

    def __repr__(self) -> str:
        return f"Kernel(clock={self.clock!r}, store={self.store!r}, timers={len(self._timers)})"
