"""Shared helpers for the core unit tests (imported by the test modules of tests/unit)."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Callable, Iterator

import pytest

from minimq import AMQPError, ChannelClosed, ConnectionClosed

VHOST = "/"


@contextlib.contextmanager
def refused(error_type: type[AMQPError], code: int, text: str) -> Iterator[pytest.ExceptionInfo]:
    """Expect one refusal with exactly this reply code and reply text (byte for byte)."""
    with pytest.raises(error_type) as info:
        yield info
    assert info.value.reply_code == code
    assert info.value.reply_text == text


def soft(channel: Any, error_type: type[AMQPError], code: int, text: str) -> contextlib.AbstractContextManager:
    """A soft error: exact text, then the channel is closed (cause = the error), its connection open."""
    return _closing(channel, error_type, code, text, hard=False)


def hard(channel: Any, error_type: type[AMQPError], code: int, text: str) -> contextlib.AbstractContextManager:
    """A hard error: exact text, then the connection and all its channels are closed."""
    return _closing(channel, error_type, code, text, hard=True)


@contextlib.contextmanager
def _closing(channel: Any, error_type: type[AMQPError], code: int, text: str, hard: bool) -> Iterator[None]:
    connection = channel.connection
    siblings = [c for c in connection.channels.values() if c is not channel]
    with refused(error_type, code, text) as info:
        yield
    error = info.value
    assert channel.is_closed
    assert channel.close_cause is error or connection.close_cause is error
    with pytest.raises(ChannelClosed) as closed:
        channel.basic_qos(prefetch_count=1)
    assert closed.value.cause is error
    if hard:
        assert connection.is_closed and not connection.is_open
        assert connection.close_cause is error
        assert all(c.is_closed for c in siblings)
        with pytest.raises(ConnectionClosed) as conn_closed:
            connection.channel()
        assert conn_closed.value.cause is error
    else:
        assert connection.is_open
        assert all(c.is_open for c in siblings)
        connection.channel().close()  # the connection still opens channels


def bodies(deliveries: list) -> list[bytes]:
    return [d.body for d in deliveries]


def drain(channel: Any, queue: str, auto_ack: bool = True) -> list:
    """basic_get until empty."""
    out = []
    while True:
        d = channel.basic_get(queue, auto_ack=auto_ack)
        if d is None:
            return out
        out.append(d)


def collector(channel: Any, queue: str, **kwargs: Any) -> tuple[str, list]:
    """Consume ``queue`` with a callback that records deliveries (no ack); returns (tag, list)."""
    got: list = []
    tag = channel.basic_consume(queue, got.append, **kwargs)
    return tag, got


def pending_events(channel: Any) -> list:
    """Every event waiting in an ``inline=False`` channel's inbox."""
    out = []
    while True:
        event = channel.pop_event()
        if event is None:
            return out
        out.append(event)


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, interval: float = 0.005) -> bool:
    """Poll ``predicate`` (real time) until it holds or ``timeout`` passes; no literal sleeps."""
    import time
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not predicate():
        if time.monotonic() >= deadline:
            return predicate()
        pause.wait(interval)
    return True
