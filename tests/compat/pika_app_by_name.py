"""A module written for pika that imports the connection class *by name* at import time.

pika's own example ``long_running_publisher.py`` does ``from pika import BlockingConnection``; a module
like that holds pika's class object itself, not the attribute ``pika.BlockingConnection``.  The patch
tests import this module at collection time, before any ``minimq_pika`` fixture patches pika.
"""

from __future__ import annotations

from pika import BlockingConnection, ConnectionParameters

CLASS_AT_IMPORT = BlockingConnection


def open_connection() -> BlockingConnection:
    """Connect as the application would: to RabbitMQ on localhost."""
    return BlockingConnection(ConnectionParameters("localhost"))


class AppConnection(BlockingConnection):
    """The application's own subclass of pika's class, with a helper of its own."""

    def declare(self, queue: str) -> str:
        """Declare ``queue`` (exclusive: it goes with the connection) on a new channel."""
        return self.channel().queue_declare(queue, exclusive=True).method.queue
