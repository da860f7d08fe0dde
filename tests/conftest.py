"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest

from minimq import Broker


@pytest.fixture
def broker():
    """A fresh in-memory broker; its invariants are checked when the test ends."""
    b = Broker()
    yield b
    b._check()
    b.close()
