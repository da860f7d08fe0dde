"""Fixtures shared by every test directory."""

from __future__ import annotations

import importlib.util

import pytest

from minimq import Broker

#: aio-pika's own tests (external/aio_pika_suite) run under aiomisc's pytest plugin and use shortuuid,
#: both in the test extra (aiomisc-pytest for Python 3.11 and later only); without them that
#: directory is left out rather than failing to import
collect_ignore = [] if all(importlib.util.find_spec(name) is not None
                           for name in ("aiomisc_pytest", "shortuuid", "aio_pika")) else ["external/aio_pika_suite"]


@pytest.fixture
def broker():
    """A fresh in-memory broker; its invariants are checked when the test ends."""
    b = Broker()
    yield b
    b._check()
    b.close()
