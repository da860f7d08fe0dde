"""Fixtures for the SQLite persistence plugin: a fresh file per test, and brokers that reopen it."""

from __future__ import annotations

import pytest

from minimq import Broker
from minimq.persistence import SQLiteStore


class Reopener:
    """Open brokers on one file, one after another (``close()`` is a clean shutdown)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.open_brokers: list[Broker] = []

    def __call__(self, clock=None, **options) -> Broker:
        options.setdefault("synchronous", "NORMAL")  # survives SIGKILL; FULL is tested on its own
        broker = Broker(clock=clock, store=SQLiteStore(self.path, **options))
        self.open_brokers.append(broker)
        return broker

    def restart(self, broker: Broker, clock=None, **options) -> Broker:
        """Cleanly close ``broker`` and open a new one on the same file."""
        broker._check()
        broker.store._check()
        broker.close()
        return self(clock, **options)

    def close_all(self) -> None:
        for broker in self.open_brokers:
            try:
                broker.close()
            except Exception:  # pragma: no cover - best effort at teardown
                pass


@pytest.fixture
def db(tmp_path) -> str:
    return str(tmp_path / "broker.db")


@pytest.fixture
def reopen(db):
    opener = Reopener(db)
    yield opener
    opener.close_all()
