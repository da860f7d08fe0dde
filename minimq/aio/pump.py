"""The bridge from the broker's threads into one asyncio event loop.

A core channel opened with ``inline=False`` keeps its events (deliveries, returned messages, server
cancels) in its inbox and calls its ``on_events`` hook after the broker lock is released, on whatever
thread released it: the loop's own thread, a publisher thread, the broker's timer thread.
:class:`EventPump` sets that hook to one ``loop.call_soon`` from the loop's own thread, or
``loop.call_soon_threadsafe`` from any other (at most one pending per channel, however many events
arrive) and drains the inbox on the loop thread, so the asyncio side
never polls and never touches the channel from another thread.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Callable

__all__ = ["EventPump"]

log = logging.getLogger("minimq.aio")


class EventPump:
    """Drains one ``inline=False`` core channel into ``handler(event)`` on the loop's thread.

    ``handler`` gets each event in order, then ``handler(None)`` once the channel is closed (it may be
    told more than once; it must be idempotent).
    """

    __slots__ = ("loop", "channel", "handler", "scheduled")

    def __init__(self, loop: asyncio.AbstractEventLoop, channel: Any, handler: Callable[[Any], None]) -> None:
        self.loop = loop
        self.channel = channel
        self.handler = handler
        #: a drain is already scheduled on the loop (set by the hook, cleared by the drain before it looks)
        self.scheduled = False
        channel.on_events = self.hook

    def hook(self) -> None:
        """The channel's ``on_events`` hook: any thread, outside the broker lock; never raises."""
        if self.scheduled:
            return
        self.scheduled = True
        loop = self.loop
        try:
            if _on_loop_thread(loop):
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
        self.scheduled = False
        channel = self.channel
        handler = self.handler
        while True:
            event = channel.pop_event()
            if event is None:
                break
            handler(event)
        if channel.is_closed:
            handler(None)


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``loop`` is the loop running in the calling thread."""
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:  # no loop runs in this thread (a publisher thread, the timer thread)
        return False
