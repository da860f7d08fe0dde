"""pytest plugin (entry point ``minimq_aio_pika``): aio-pika code under test reaches an in-process broker.

Fixtures
--------
``minimq_aio_pika``
    Installs :func:`minimq.compat.aio_pika.install` on the test's ``minimq_broker`` (a fresh broker
    per test) and yields the broker: every ``aio_pika.connect`` / ``connect_robust`` the test makes,
    whatever the URL, reaches it.  Uninstalled afterwards.
``minimq_aio_pika_patch``
    The :class:`~.patch.AioPikaPatch` behind it (``.broker``, ``.connections``, ``disconnect_all()``,
    ``wait_for_consumers()``).

Whole runs
----------
With ``MINIMQ_AIO_PIKA=1`` in the environment the patch is installed for the whole pytest run, so an
existing aio-pika (or FastStream) suite runs on minimq without editing a line: each test gets a fresh
broker (the one before it is closed), so no state leaks from one test into the next.

aio-pika need not be installed for this plugin to load: the fixtures skip the test when it is not.
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import pytest

from ...broker import Broker

__all__ = ["minimq_aio_pika", "minimq_aio_pika_patch"]

_ENV = "MINIMQ_AIO_PIKA"


def _patch_module() -> Any:
    try:
        from . import patch
    except ImportError as error:  # aio-pika, aiormq or pamqp missing
        pytest.skip(f"minimq.compat.aio_pika needs aio-pika: {error}")
    return patch


@pytest.fixture
def minimq_aio_pika_patch() -> Iterator[Any]:
    """The aio-pika patch, installed on a fresh broker for this test (see :class:`AioPikaPatch`)."""
    patch_module = _patch_module()
    broker = Broker()
    whole_run = patch_module.current()
    if whole_run is not None:  # MINIMQ_AIO_PIKA=1 installed it already: serve this test's broker
        previous = whole_run.broker
        whole_run.use(broker)
        try:
            yield whole_run
        finally:
            whole_run.use(previous)
            broker.close()
        return
    patch = patch_module.install(broker)
    try:
        yield patch
    finally:
        patch_module.uninstall()
        broker.close()


@pytest.fixture
def minimq_aio_pika(minimq_aio_pika_patch: Any) -> Iterator[Broker]:
    """Every aio-pika connection made in this test reaches the yielded in-process broker."""
    yield minimq_aio_pika_patch.broker


def pytest_configure(config: pytest.Config) -> None:
    """``MINIMQ_AIO_PIKA=1``: install the patch for the whole run."""
    if os.environ.get(_ENV, "") not in ("", "0"):
        from . import patch
        patch.install()
        config.pluginmanager.register(_FreshBrokerPerTest(), "minimq-aio-pika-fresh-broker")


class _FreshBrokerPerTest:
    """With a whole-run install, each test starts on a fresh broker."""

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        from . import patch
        current = patch.current()
        if current is not None:
            old = current.broker
            current.use(Broker())
            old.close()
