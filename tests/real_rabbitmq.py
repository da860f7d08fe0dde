"""The real RabbitMQ the two-target tests compare minimq with: is it there, and what a test does
when it is not (skip visibly; fail instead under ``MINIMQ_REQUIRE_RABBITMQ=1``, as CI runs)."""

from __future__ import annotations

import os
import socket

import pytest

HOST, PORT = "127.0.0.1", 5672


def rabbitmq_unreachable() -> str | None:
    """None when something answers on 127.0.0.1:5672, else why not."""
    try:
        with socket.create_connection((HOST, PORT), timeout=1.0):
            return None
    except OSError as error:
        return f"RabbitMQ not reachable at {HOST}:{PORT} ({error})"


def need_rabbitmq() -> None:
    """Skip the calling test without a server (fail instead under MINIMQ_REQUIRE_RABBITMQ=1)."""
    why = rabbitmq_unreachable()
    if why is None:
        return
    if os.environ.get("MINIMQ_REQUIRE_RABBITMQ") == "1":
        pytest.fail("MINIMQ_REQUIRE_RABBITMQ=1 but " + why)
    pytest.skip(why)
