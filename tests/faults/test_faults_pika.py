"""Faults injected with the broker's fault methods, seen through the pika facade as pika code sees them
against RabbitMQ: forced closes, server cancels, blocked connections, a broker down, a restart."""

from __future__ import annotations

import threading
import time

import pytest

pika = pytest.importorskip("pika")

from minimq import Broker  # noqa: E402
from minimq.compat.pika import patch_pika  # noqa: E402
from minimq.persistence import SQLiteStore, restart  # noqa: E402

LIVENESS = 30.0  # seconds: only a bound on a hang, never an expected duration


def _params(name: str, **kw: object) -> object:
    return pika.ConnectionParameters("localhost", client_properties={"connection_name": name}, **kw)


def _reconnecting_worker(queue: str, received: list, stop: threading.Event, connects: list, forced: list) -> None:
    """The loop users write: catch ConnectionClosedByBroker, reconnect, redeclare, keep consuming."""
    while not stop.is_set():
        try:
            connection = pika.BlockingConnection(_params("worker"))
            connects.append(connection)
            channel = connection.channel()
            channel.queue_declare(queue, durable=True)
            channel.basic_qos(prefetch_count=5)
            for method, _props, body in channel.consume(queue, inactivity_timeout=0.01):
                if stop.is_set():
                    break
                if method is None:
                    continue
                received.append((body, method.redelivered))
                channel.basic_ack(method.delivery_tag)
            connection.close()
        except pika.exceptions.ConnectionClosedByBroker as error:
            forced.append((error.reply_code, error.reply_text))
            continue


def _wait(predicate, what: str) -> None:
    deadline = time.monotonic() + LIVENESS
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.002)


def test_a_reconnect_loop_loses_no_message_across_forced_closes() -> None:
    broker = Broker()
    with patch_pika(broker):
        received: list = []
        connects: list = []
        forced: list = []
        stop = threading.Event()
        worker = threading.Thread(target=_reconnecting_worker, args=("work", received, stop, connects, forced))
        worker.start()
        try:
            _wait(lambda: broker.get_queue("work") is not None and broker.get_queue("work").consumer_count, "consumer")
            publisher = pika.BlockingConnection(_params("publisher"))
            channel = publisher.channel()
            channel.confirm_delivery()
            sent = []
            for batch in range(4):
                for i in range(25):
                    body = f"{batch}-{i}".encode()
                    channel.basic_publish("", "work", body)
                    sent.append(body)
                _wait(lambda: len(connects) > batch and len(received) >= 10 * (batch + 1), "deliveries")
                closed = broker.close_connection(lambda info: info.client_name == "worker")
                assert closed == 1
            _wait(lambda: {body for body, _ in received} == set(sent), "every message")
            _wait(lambda: len(forced) == 4, "the worker to see every forced close")
            publisher.close()
        finally:
            stop.set()
            worker.join(LIVENESS)
        assert not worker.is_alive()
        assert forced == [(320, "CONNECTION_FORCED - Closed via management plugin")] * 4
        assert len(connects) >= 4
        seen: set = set()
        for body, redelivered in received:
            assert body not in seen or redelivered, f"{body!r} delivered twice without the redelivered flag"
            seen.add(body)
        assert broker.get_queue("work").message_count == 0
    broker.close()


def test_forced_close_surfaces_at_the_next_call_with_rabbitmqs_code_and_text() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection(_params("app"))
        channel = connection.channel()
        channel.queue_declare("q")
        [info] = broker.connections()
        assert (info.client_name, info.user, info.vhost, info.channels) == ("app", "guest", "/", 1)
        assert broker.close_connection(info.connection) == 1
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as caught:
            channel.queue_declare("q")
        assert (caught.value.reply_code, caught.value.reply_text) == (
            320, "CONNECTION_FORCED - Closed via management plugin")
        assert connection.is_closed and broker.connections() == []
    broker.close()


def test_close_channel_gives_channel_closed_by_broker_and_keeps_siblings() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection()
        one, two = connection.channel(), connection.channel()
        [info] = broker.connections()
        broker.close_channel(info.connection.channels[one.channel_number], 406, "PRECONDITION_FAILED - test")
        with pytest.raises(pika.exceptions.ChannelClosedByBroker) as caught:
            one.queue_declare("x")
        assert (caught.value.reply_code, caught.value.reply_text) == (406, "PRECONDITION_FAILED - test")
        assert two.queue_declare("x").method.queue == "x"
        with pytest.raises(ValueError, match="closes a connection, not a channel"):
            broker.close_channel(info.connection.channels[two.channel_number], 320, "CONNECTION_FORCED - x")
        connection.close()
    broker.close()


def test_cancel_consumers_reaches_on_cancel_callback_and_the_queue_stays() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection()
        channel = connection.channel()
        channel.queue_declare("jobs")
        cancels: list = []
        channel.add_on_cancel_callback(lambda frame: cancels.append(frame.method.consumer_tag))
        tag = channel.basic_consume("jobs", lambda *a: None)
        assert broker.cancel_consumers("jobs") == 1
        connection.process_data_events(0)
        assert cancels == [tag] and channel.consumer_tags == []
        assert broker.get_queue("jobs") is not None and broker.get_queue("jobs").consumer_count == 0
        connection.close()
    broker.close()


def test_blocked_and_unblocked_callbacks_and_held_publishes() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection()
        events: list = []
        connection.add_on_connection_blocked_callback(lambda conn, frame: events.append(("blocked", frame.method.reason)))
        connection.add_on_connection_unblocked_callback(lambda conn, frame: events.append(("unblocked",)))
        channel = connection.channel()
        channel.queue_declare("q")
        broker.block_publishers("low on memory")
        connection.process_data_events(0)
        assert events == []  # RabbitMQ blocks publishers only: this connection has not published yet
        channel.basic_publish("", "q", b"held")
        connection.process_data_events(0)
        assert events == [("blocked", "low on memory")]
        assert broker.get_queue("q").message_count == 0  # unread in the "socket"
        assert [i.blocked for i in broker.connections()] == [True]
        broker.unblock_publishers()
        connection.process_data_events(0)
        assert events == [("blocked", "low on memory"), ("unblocked",)]
        assert broker.get_queue("q").message_count == 1
        connection.close()
    broker.close()


def test_blocked_connection_timeout_aborts_a_confirmed_publish() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection(pika.ConnectionParameters(blocked_connection_timeout=0.05))
        channel = connection.channel()
        channel.queue_declare("q")
        channel.confirm_delivery()
        channel.basic_publish("", "q", b"before")
        broker.block_publishers("low on disk")
        with pytest.raises(pika.exceptions.ConnectionBlockedTimeout):
            channel.basic_publish("", "q", b"lost with the socket")
        assert connection.is_closed
        broker.unblock_publishers()
        assert broker.get_queue("q").message_count == 1
    broker.close()


def test_down_refuses_new_connections_and_closes_open_ones() -> None:
    broker = Broker()
    with patch_pika(broker):
        connection = pika.BlockingConnection()
        channel = connection.channel()
        with broker.down():
            with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as caught:
                channel.queue_declare("q")
            assert caught.value.reply_text == "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
            with pytest.raises(pika.exceptions.AMQPConnectionError) as refused:
                pika.BlockingConnection()
            assert "ConnectionRefusedError(111, 'Connection refused')" in repr(refused.value)
        pika.BlockingConnection().close()  # up again
    broker.close()


def test_restart_keeps_durable_messages_and_clients_reconnect(tmp_path) -> None:
    broker = Broker(store=SQLiteStore(tmp_path / "broker.db"))
    with patch_pika(broker) as patch:
        connection = pika.BlockingConnection()
        channel = connection.channel()
        channel.queue_declare("orders", durable=True)
        channel.queue_declare("scratch")
        channel.confirm_delivery()
        for i in range(3):
            channel.basic_publish("", "orders", f"order-{i}".encode(), pika.BasicProperties(delivery_mode=2))
        channel.basic_publish("", "orders", b"transient")
        new = restart(broker)
        patch.use(new)
        with pytest.raises(pika.exceptions.ConnectionClosedByBroker) as caught:
            channel.basic_get("orders")
        assert caught.value.args == (320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
        again = pika.BlockingConnection().channel()
        bodies = []
        while (got := again.basic_get("orders", auto_ack=True))[0] is not None:
            bodies.append(got[2])
        assert bodies == [b"order-0", b"order-1", b"order-2"]
        assert new.get_queue("scratch") is None
    new.close()
