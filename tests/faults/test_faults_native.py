"""The broker's fault methods on native core connections: what each closes, cancels and refuses."""

from __future__ import annotations

import pytest

from minimq import Broker
from minimq.errors import ChannelClosed, ConnectionClosed, ConnectionForced, PreconditionFailed
from minimq.message import ConsumerCancelled


def test_close_connection_all_and_predicate_and_bad_arguments() -> None:
    broker = Broker()
    a, b = broker.connect(), broker.connect()
    a.client_name = "a"
    assert broker.close_connection(lambda info: info.client_name == "a") == 1
    assert type(a.close_cause) is ConnectionForced and a.close_cause.reply_text == \
        "CONNECTION_FORCED - Closed via management plugin"
    assert b.is_open and [i.number for i in broker.connections()] == [b.number]
    with pytest.raises(ValueError, match=r"^reply_code 406 closes a channel, not a connection: use close_channel$"):
        broker.close_connection("all", 406, "PRECONDITION_FAILED - x")
    with pytest.raises(ValueError, match="not an AMQP error code"):
        broker.close_connection("all", 999, "x")
    with pytest.raises(TypeError, match="which must be"):
        broker.close_connection("some")
    assert broker.close_connection("all", 541, "INTERNAL_ERROR - boom") == 1
    assert (b.close_cause.reply_code, b.close_cause.reply_text) == (541, "INTERNAL_ERROR - boom")
    with pytest.raises(ConnectionClosed):
        b.channel()
    broker._check()
    broker.close()


def test_close_channel_requeues_its_unacked_and_leaves_siblings() -> None:
    broker = Broker()
    connection = broker.connect()
    one, two = connection.channel(inline=False), connection.channel()
    one.queue_declare("q")
    one.basic_publish("", "q", b"m")
    assert one.basic_get("q") is not None
    broker.close_channel(one, 406, "PRECONDITION_FAILED - injected")
    assert type(one.close_cause) is PreconditionFailed and one.close_cause.reply_text == "PRECONDITION_FAILED - injected"
    with pytest.raises(ChannelClosed):
        one.queue_declare("q")
    assert broker.get_queue("q").message_count == 1 and two.is_open
    broker._check()
    broker.close()


def test_cancel_consumers_sends_consumer_cancelled_and_keeps_the_queue() -> None:
    broker = Broker()
    channel = broker.connect().channel(inline=False)
    channel.queue_declare("q")
    tag = channel.basic_consume("q", lambda d: None)
    assert broker.cancel_consumers("q") == 1
    event = channel.pop_event()
    assert type(event) is ConsumerCancelled and event.consumer_tag == tag
    assert broker.get_queue("q").consumer_count == 0
    with pytest.raises(KeyError):
        broker.cancel_consumers("missing")
    broker._check()
    broker.close()


def test_down_refuses_as_a_closed_port_and_closes_with_the_shutdown_text() -> None:
    broker = Broker()
    connection = broker.connect()
    with broker.down():
        assert broker.refusing_connections
        assert connection.close_cause.reply_text == \
            "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
        with pytest.raises(ConnectionRefusedError):
            broker.connect()
    assert broker.connect().is_open
    broker.close()


def test_block_notifies_publishers_only_once_and_unblock_after() -> None:
    broker = Broker()
    publisher, consumer = broker.connect(), broker.connect()
    seen: list = []
    publisher.on_blocked = lambda reason: seen.append(("p", reason))
    consumer.on_blocked = lambda reason: seen.append(("c", reason))
    assert publisher.note_publish() is False
    broker.block_publishers("low on memory")
    broker.block_publishers("low on disk")  # one connection.blocked for any number of alarms
    assert seen == [("p", "low on memory")] and broker.publishers_blocked == "low on memory"
    assert consumer.note_publish() is True  # its first publish during the alarm blocks it
    assert seen == [("p", "low on memory"), ("c", "low on memory")]
    broker.unblock_publishers()
    assert seen[2:] == [("p", None), ("c", None)] and broker.publishers_blocked is None
    assert publisher.note_publish() is False
    broker.close()
