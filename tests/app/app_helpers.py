"""Helpers shared by the listener tests (threads and asyncio): a queue's counts and a raw publish."""

from __future__ import annotations

from typing import Any

from minimq import Broker, Properties


def ready(broker: Broker, queue: str) -> int:
    """The queue's ready messages, as ``list_queues`` reports them."""
    return next(q.messages_ready for q in broker.list_queues() if q.name == queue)


def unacked(broker: Broker, queue: str) -> int:
    """The queue's unacknowledged messages, as ``list_queues`` reports them."""
    return next(q.messages_unacknowledged for q in broker.list_queues() if q.name == queue)


def publish(broker: Broker, queue: str, body: bytes, **properties: Any) -> None:
    """Publish ``body`` to ``queue`` through the default exchange on a channel of its own."""
    ch = broker.channel()
    ch.basic_publish("", queue, body, Properties(**properties) if properties else None)
    ch.close()
