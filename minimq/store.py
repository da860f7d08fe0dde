"""The store port: what the broker tells a persistence plugin, and how it recovers.

The core never imports a store implementation.  A broker built with ``Broker(store=...)`` calls these
methods, under its lock, for durable entities and for persistent messages (``delivery_mode=2``) on
durable queues only.  With no store configured the broker tests ``self._store is None`` and does
nothing else, so in-memory brokers pay nothing.

``recover()`` is called once when the broker starts and returns the durable state to rebuild.
"""

from __future__ import annotations

from typing import Any, Iterable, Protocol

__all__ = ["Store", "RecoveredState"]


class RecoveredState(Protocol):
    """What a store hands back at start-up (shapes are documented by the plugin)."""

    vhosts: Iterable[str]
    exchanges: Iterable[dict[str, Any]]
    queues: Iterable[dict[str, Any]]
    bindings: Iterable[dict[str, Any]]
    messages: Iterable[dict[str, Any]]


class Store(Protocol):
    def recover(self) -> RecoveredState | None: ...

    def vhost_added(self, vhost: str) -> None: ...

    def vhost_deleted(self, vhost: str) -> None: ...

    def exchange_declared(self, vhost: str, name: str, type: str, durable: bool, auto_delete: bool,
                          internal: bool, arguments: dict[str, Any]) -> None: ...

    def exchange_deleted(self, vhost: str, name: str) -> None: ...

    def queue_declared(self, vhost: str, name: str, arguments: dict[str, Any], auto_delete: bool) -> None: ...

    def queue_deleted(self, vhost: str, name: str) -> None: ...

    def binding_added(self, vhost: str, source: str, destination: str, dest_is_queue: bool,
                      routing_key: str, arguments: dict[str, Any]) -> None: ...

    def binding_removed(self, vhost: str, source: str, destination: str, dest_is_queue: bool,
                        routing_key: str, arguments: dict[str, Any]) -> None: ...

    def message_enqueued(self, vhost: str, queue: str, seq: int, entry: Any) -> None: ...

    def message_removed(self, vhost: str, queue: str, seq: int) -> None: ...

    def message_redelivered(self, vhost: str, queue: str, seq: int) -> None: ...

    def queue_purged(self, vhost: str, queue: str) -> None: ...

    def flush(self) -> None:
        """Make everything reported so far durable (publisher confirms wait for this)."""

    def close(self) -> None: ...
