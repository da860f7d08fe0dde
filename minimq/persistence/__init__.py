"""Persistence plugins: durable topology and persistent messages that survive restarts and crashes.

>>> from minimq import Broker
>>> from minimq.persistence import SQLiteStore
>>> broker = Broker(store=SQLiteStore("broker.db"))          # doctest: +SKIP

This package depends on the core (its store port, :mod:`minimq.store`); the core never imports it.
Every failure a store reports is a :class:`StoreError`; the subclasses say which rule was broken.
"""

from __future__ import annotations

__all__ = [
    "StoreError", "StoreOpenError", "StoreReadOnlyError", "StoreLockedError", "StoreCorruptError",
    "ForeignDatabaseError", "SchemaVersionError", "StoreFullError", "StoreIOError", "StoreEncodeError",
    "StoreClosedError", "SQLiteStore", "restart",
]


class StoreError(Exception):
    """Base of every error a store raises.  ``path`` names the file."""

    def __init__(self, message: str, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class StoreOpenError(StoreError):
    """The file cannot be opened or created (missing directory, permissions)."""


class StoreReadOnlyError(StoreOpenError):
    """The file or its directory is read-only: a store must write (its log and its lock)."""


class StoreLockedError(StoreOpenError):
    """Another broker (in this or another process) has the file open."""


class StoreCorruptError(StoreError):
    """The file is not an SQLite database, or its content does not decode."""


class ForeignDatabaseError(StoreError):
    """An SQLite database that minimq did not write: it is left untouched."""


class SchemaVersionError(StoreError):
    """The file was written by a newer minimq (a schema version this one cannot read)."""


class StoreFullError(StoreError):
    """The disk (or the configured ``max_bytes``) is full: the batch was rolled back, nothing half-written."""


class StoreIOError(StoreError):
    """Any other write or read failure reported by SQLite."""


class StoreEncodeError(StoreError, TypeError):
    """A value (in headers or arguments) has a type the store cannot record."""


class StoreClosedError(StoreError):
    """The store was closed."""


from .sqlite import SQLiteStore  # noqa: E402  (the errors above are imported by it)
from .restart import restart  # noqa: E402
