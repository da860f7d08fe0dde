"""The aio-pika facade's endpoint at the end of a client's life: regressions found by aio-pika's own
test suite (tests/external/aio_pika_suite), pinned here at the frame level with pamqp alone."""

from __future__ import annotations

import asyncio

import pytest

pytest.importorskip("aio_pika")
from pamqp import commands, frame, header  # noqa: E402

import minimq  # noqa: E402
from minimq.compat.aio_pika import Endpoint  # noqa: E402


def _open_connection(endpoint: Endpoint) -> None:
    """The client's half of the handshake, as aiormq writes it, up to connection.open."""
    endpoint.receive(b"AMQP\x00\x00\x09\x01")
    endpoint.receive(frame.marshal(commands.Connection.StartOk(
        client_properties={}, mechanism="PLAIN", response="\x00guest\x00guest", locale="en_US"), 0))
    endpoint.receive(frame.marshal(commands.Connection.TuneOk(channel_max=2047, frame_max=131072,
                                                              heartbeat=60), 0))
    endpoint.receive(frame.marshal(commands.Connection.Open(virtual_host="/"), 0))


def test_broker_closed_after_the_clients_loop_closed_does_not_raise() -> None:
    # aio-pika's test_add_reconnect_callback leaves its connection open; its loop closes at the end of
    # the test and the broker after it.  The connection.close the broker's shutdown sends would wake
    # the client's reader through the closed loop ("Event loop is closed" out of Broker.close()).
    broker = minimq.Broker()
    loop = asyncio.new_event_loop()
    reader = asyncio.StreamReader(loop=loop)
    endpoint = Endpoint(broker, loop, reader, "localhost:5672")
    _open_connection(endpoint)
    assert endpoint.state == "running"

    # the client's reader task, waiting for the next frame when its loop closes (as aiormq's is)
    replies = loop.run_until_complete(reader.read(1 << 20))
    assert replies  # connection.start, tune and open-ok
    pending_read = loop.create_task(reader.read(1 << 20))
    loop.run_until_complete(asyncio.sleep(0))
    assert not pending_read.done()
    loop.close()

    broker.close()  # must not raise
    assert endpoint.state == "closed"
