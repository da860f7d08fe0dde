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

Leak check
----------
``@pytest.mark.minimq_leak_check(queues=["jobs", ...])`` on a test (or ``--minimq-leak-check`` on the
command line, for every test using ``minimq_broker``) fails the test at teardown when its broker ends
with unacknowledged messages (any queue), consumers still open (any queue), or ready messages in the
queues the marker names; the error names each queue, the count and the consumer tags.  The marker's
``queues`` may name queues of other vhosts as ``"vhost:queue"`` (default vhost ``/``).

The same patch is available outside pytest (pytest need not be installed) as the context manager
:func:`minimq.compat.pika.patch_pika` (module :mod:`.patch`).
"""

from __future__ import annotations

from typing import Iterable, Iterator

import pytest

from minimq import Broker

from .patch import PikaPatch, patch_pika

__all__ = ["PikaPatch", "patch_pika", "minimq_broker", "minimq_pika", "minimq_pika_patch", "leaks"]

_MARKER = "minimq_leak_check"
_OPTION = "--minimq-leak-check"


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--minimq-leak-check``: check every ``minimq_broker`` for leaks at teardown."""
    parser.getgroup("minimq").addoption(
        _OPTION, action="store_true", default=False,
        help="fail a test whose minimq_broker ends with unacked messages or open consumers")


def pytest_configure(config: pytest.Config) -> None:
    """Register the leak-check marker."""
    config.addinivalue_line(
        "markers", f"{_MARKER}(queues=[...]): fail at teardown if the test's minimq_broker ends with unacked "
                   "messages, open consumers, or ready messages in the named queues")


def leaks(broker: Broker, queues: Iterable[str] = ()) -> list[str]:
    """What ``broker`` holds that a finished test should not have left, one line per queue: unacked
    messages and open consumers (every queue of every vhost), ready messages (only the ``queues``
    named: ``"name"`` in vhost ``/`` or ``"vhost:name"``).  Empty when clean."""
    wanted = set()
    for name in queues:
        if not isinstance(name, str):
            raise TypeError(f"leak-check queue names must be str, not {type(name).__name__}")
        vhost, sep, queue = name.partition(":")
        wanted.add((vhost, queue) if sep and vhost in broker.vhosts else ("/", name))
    found = []
    for vhost in sorted(broker.vhosts):
        tags: dict[str, list[str]] = {}
        for consumer in broker.list_consumers(vhost):
            tags.setdefault(consumer.queue_name, []).append(consumer.consumer_tag)
        for info in broker.list_queues(vhost):
            where = f"queue {info.name!r}" + ("" if vhost == "/" else f" in vhost {vhost!r}")
            if info.messages_unacknowledged:
                found.append(f"{where}: {info.messages_unacknowledged} unacked message(s)")
            if (vhost, info.name) in wanted and info.messages_ready:
                found.append(f"{where}: {info.messages_ready} ready message(s)")
            if info.name in tags:
                found.append(f"{where}: {len(tags[info.name])} open consumer(s) {sorted(tags[info.name])}")
    return found


@pytest.fixture
def minimq_broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    """A fresh in-process broker for the test (closed afterwards); checked for leaks at teardown
    under the ``minimq_leak_check`` marker or ``--minimq-leak-check``."""
    marker = request.node.get_closest_marker(_MARKER)
    check = marker is not None or bool(request.config.getoption(_OPTION, default=False))
    queues: list[str] = []
    if marker is not None:
        named = marker.kwargs.get("queues", marker.args[0] if marker.args else ())
        queues = [named] if isinstance(named, str) else list(named)
    broker = Broker()
    try:
        yield broker
        found = leaks(broker, queues) if check else []
    finally:
        broker.close()
    if found:
        pytest.fail("minimq leak check: the test's broker ended with\n  " + "\n  ".join(found), pytrace=False)


@pytest.fixture
def minimq_pika_patch(minimq_broker: Broker) -> Iterator[PikaPatch]:
    """The pika patch bound to ``minimq_broker`` (see :class:`PikaPatch`)."""
    with patch_pika(minimq_broker) as patch:
        yield patch


@pytest.fixture
def minimq_pika(minimq_pika_patch: PikaPatch) -> Iterator[Broker]:
    """``pika.BlockingConnection`` connects to the test's broker, which is yielded."""
    yield minimq_pika_patch.broker
