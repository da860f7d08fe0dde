"""pytest plugin (entry point ``minimq``): run code written for pika against an in-process broker.

Fixtures
--------
``minimq_broker``
    A fresh :class:`minimq.Broker` per test, closed afterwards.
``minimq_pika``
    Makes every ``BlockingConnection`` that pika code builds -- ``pika.BlockingConnection(...)``, and
    pika's class under any other name, also one imported with ``from pika import BlockingConnection``
    before the test -- a minimq facade connection bound to the test's broker, so unmodified code
    (``pika.BlockingConnection(pika.ConnectionParameters('localhost'))``) talks to it; any real pika
    connection attempt raises ``pika.exceptions.AMQPConnectionError`` instead of reaching a server.
    Yields the broker.  Without pika installed, ``import pika`` in the code under test gets a stand-in
    module made of the facade for the duration of the test.
``minimq_pika_patch``
    The :class:`~.patch.PikaPatch` behind ``minimq_pika``: ``.broker``, ``.connections`` (every
    connection made through the patch), ``wait_for_consumers()``, ``stop_consuming()`` and
    ``suspended()``.

The same patch is available outside pytest (pytest need not be installed) as the context manager
:func:`minimq.compat.pika.patch_pika` (module :mod:`.patch`).
"""

from __future__ import annotations

from typing import Iterator

import pytest

from minimq import Broker

from .patch import PikaPatch, patch_pika

__all__ = ["PikaPatch", "patch_pika", "minimq_broker", "minimq_pika", "minimq_pika_patch"]


@pytest.fixture
def minimq_broker() -> Iterator[Broker]:
    """A fresh in-process broker for the test (closed afterwards)."""
    broker = Broker()
    try:
        yield broker
    finally:
        broker.close()


@pytest.fixture
def minimq_pika_patch(minimq_broker: Broker) -> Iterator[PikaPatch]:
    """The pika patch bound to ``minimq_broker`` (see :class:`PikaPatch`)."""
    with patch_pika(minimq_broker) as patch:
        yield patch


@pytest.fixture
def minimq_pika(minimq_pika_patch: PikaPatch) -> Iterator[Broker]:
    """``pika.BlockingConnection`` connects to the test's broker, which is yielded."""
    yield minimq_pika_patch.broker
