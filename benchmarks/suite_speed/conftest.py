"""Where the suite-speed tests connect: ``MINIMQ_SUITE_TARGET=minimq`` (default) patches pika onto an
in-process broker per test through the ``minimq_pika`` fixture; ``rabbitmq`` leaves pika alone, so the
same test code talks to the RabbitMQ on 127.0.0.1:5672."""

from __future__ import annotations

import os

import pytest

TARGET = os.environ.get("MINIMQ_SUITE_TARGET", "minimq")


@pytest.fixture(autouse=True)
def amqp_server(request: pytest.FixtureRequest) -> None:
    """The server under the test: the minimq fixture, or the real RabbitMQ."""
    if TARGET == "minimq":
        request.getfixturevalue("minimq_pika")
    elif TARGET != "rabbitmq":
        raise ValueError(f"MINIMQ_SUITE_TARGET must be 'minimq' or 'rabbitmq', not {TARGET!r}")
