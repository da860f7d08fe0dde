"""The bridge from the broker's threads into one asyncio event loop.

A core channel opened with ``inline=False`` keeps its events (deliveries, returned messages, server
cancels) in its inbox and calls its ``on_events`` hook after the broker lock is released, on whatever
thread released it: the loop's own thread, a publisher thread, the broker's timer thread.
:class:`EventPump` sets that hook.  From any other thread it schedules one drain with
``loop.call_soon_threadsafe`` (at most one pending per channel, however many events arrive); the
drain runs on the loop thread, so the asyncio side never polls and never touches the channel from
another thread.  From the loop's own thread (a publish by a coroutine of this loop) it drains:

* at once, inside the hook, when the pump was made with ``drain_inline=True``: the handler runs no
  application code (a consumer's handler only buffers deliveries and wakes the task waiting for
  them), so running it inside the publish that produced the events is safe, and the events reach
  their consumer without a turn of the loop, a ``Handle`` or a second look at an empty inbox;
* otherwise with one ``loop.call_soon`` (no self-pipe write): that handler runs application
  callbacks (returned messages, confirms), which must not run inside the call that caused them.

Cost model (HOT for consumers): on the loop's thread, a hook is one flag test, one
``asyncio.get_running_loop()`` and the drain itself (one ``pop_event`` per event plus one for the
empty inbox, one handler call per event).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

get_running_loop = asyncio.get_running_loop

__all__ = ["EventPump"]

log = logging.getLogger("minimq.aio")


class EventPump:
    """Drains one ``inline=False`` core channel into ``handler(event)`` on the loop's thread.

    ``handler`` gets each event in order, then ``handler(None)`` once the channel is closed (it may be
    told more than once; it must be idempotent).
    """

    __slots__ = ("loop", "channel", "handler", "drain_inline", "scheduled", "draining")

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: Any, handler: Callable[[Any], None],
                 drain_inline: bool = False) -> None:
        self.loop = loop
        self.channel = channel
        self.handler = handler
        #: the handler runs no application code: the hook may drain at once on the loop's thread
        self.drain_inline = drain_inline
        #: a drain is already scheduled on the loop (set by the hook, cleared by the drain before it looks)
        self.scheduled = False
        #: drains handing events to the handler (counted before the first pop: see :meth:`busy`)
        self.draining = 0
        channel.on_events = self.hook
        channel.add_busy_probe(self.busy)

    def busy(self) -> str | None:
        """The channel's busy probe (``Broker.run_until_idle``; any thread): a drain is scheduled on
        the loop or running, so events taken from the channel have not reached the handler yet."""
        if self.scheduled:  # first: a drain sets ``draining`` before it clears ``scheduled``
            return "a drain of its events is scheduled on an event loop"
        if self.draining:
            return "an event loop is draining its events"
        return None

    def hook(self) -> None:
        """The channel's ``on_events`` hook: any thread, outside the broker lock; never raises (it
        runs in the kernel's release path, which still has other channels to wake)."""
        if self.scheduled:
            return
        loop = self.loop
        try:
            on_loop_thread = get_running_loop() is loop
        except RuntimeError:  # no loop runs in this thread (a publisher thread, the timer thread)
            on_loop_thread = False
        if on_loop_thread and self.drain_inline:
            try:
                self.drain()
            except Exception:  # pragma: no cover - the handler is minimq.aio's own and does not raise
                log.exception("minimq.aio: draining a channel's events failed")
            return
        self.scheduled = True
        try:
            if on_loop_thread:
                loop.call_soon(self.drain)  # on the loop's own thread: no self-pipe write, no selector wake
            else:
                loop.call_soon_threadsafe(self.drain)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            self.scheduled = False
        except Exception:  # pragma: no cover - the hook runs in the broker's release path: never raise
            self.scheduled = False
            log.exception("minimq.aio: could not wake the event loop")

    def drain(self) -> None:
        """Hand every waiting event to the handler (loop thread).  The flag is cleared first: an event
        that arrives while we drain schedules another drain, so none is stranded."""
        self.draining += 1  # before the flag below is cleared and before the first pop
        self.scheduled = False
        channel = self.channel
        handler = self.handler
        try:
            while True:
                event = channel.pop_event()
                if event is None:
                    break
                handler(event)
            if not channel.is_open:
                handler(None)
        finally:
            self.draining -= 1

