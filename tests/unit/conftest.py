from __future__ import annotations

import pytest

from minimq import Broker, ManualClock


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def tbroker(clock):
    """A broker on a manual clock (``clock.advance(seconds)``)."""
    b = Broker(clock=clock)
    yield b
    b._check()
    b.close()


@pytest.fixture
def conn(broker):
    return broker.connect()


@pytest.fixture
def ch(conn):
    return conn.channel()


@pytest.fixture
def tch(tbroker):
    return tbroker.channel()
