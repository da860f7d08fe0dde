"""Fixtures for the asyncio API's tests."""

from __future__ import annotations

import pytest

from minimq import Broker


@pytest.fixture
def broker():
    b = Broker()
    yield b
    b._check()
    b.close()
