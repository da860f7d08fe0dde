"""Helpers for the asyncio API's tests: plain pytest, one ``asyncio.run`` per test."""

from __future__ import annotations

import asyncio
from typing import Any, Awaitable, Callable

#: a liveness bound, never a timing assertion: a hung test fails instead of hanging the suite
LIVENESS = 60.0


def run(coro: Awaitable[Any], timeout: float = LIVENESS) -> Any:
    """Run one test coroutine on a fresh event loop, bounded by a generous timeout."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def eventually(condition: Callable[[], bool], timeout: float = LIVENESS) -> None:
    """Yield to the loop until ``condition()`` holds (liveness only: fails after ``timeout``)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0.001)
