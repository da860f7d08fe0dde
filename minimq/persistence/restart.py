"""Restarting a broker from its store in the same process: what a test of recovery code needs.

:func:`restart` shuts a broker down as a RabbitMQ node stops (every connection gets 320
CONNECTION_FORCED, ``broker forced connection closure with reason 'shutdown'``), closes its
:class:`~minimq.persistence.sqlite.SQLiteStore`, and returns a new broker recovered from the same file:
durable exchanges, queues and bindings and the persistent messages they held come back; transient ones,
users added with ``add_user`` and everything else the store does not record do not.

This lives in the persistence plugin so the core never imports it.  Clients are pointed at the new
broker by their patch: ``PikaPatch.use(new)`` / ``AioPikaPatch.use(new)``.
"""

from __future__ import annotations

from ..broker import Broker
from .sqlite import SQLiteStore

__all__ = ["restart"]


def restart(broker: Broker) -> Broker:
    """Close ``broker`` and return a new one recovered from the same SQLite file, with the same clock
    and the same store settings.  ``TypeError`` if the broker has no :class:`SQLiteStore` (an
    in-memory broker has nothing to recover from)."""
    store = broker.store
    if not isinstance(store, SQLiteStore):
        raise TypeError(f"restart needs a broker with an SQLiteStore, not {type(store).__name__}")
    broker.close()
    again = SQLiteStore(store.path, synchronous=store.synchronous, commit_interval=store.commit_interval,
                        max_batch=store.max_batch, max_bytes=store.max_bytes)
    return Broker(clock=broker.clock, store=again)
