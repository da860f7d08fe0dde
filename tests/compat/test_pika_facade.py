"""The pika facade: pika's BlockingConnection API, pika's objects, pika's timing (docs/semantics.md §1.4, §16).

Everything is imported from ``minimq.compat.pika``, so the file also runs without pika installed
(``test_without_pika`` reruns it in a subprocess with pika hidden); tests that compare with pika itself
are marked ``needs_pika``.
"""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import os
import re
import subprocess
import sys
import threading
import time

import pytest

import minimq
from minimq.compat import pika as mp
from minimq.compat.pika import (BasicProperties, BlockingConnection, ConnectionParameters, PlainCredentials,
                                URLParameters, exceptions, frame, spec)

needs_pika = pytest.mark.skipif(not mp.USING_PIKA, reason="compares with pika itself")
TAG_SHAPE = r"^ctag%d\.[0-9a-f]{32}$"


@pytest.fixture
def broker(minimq_broker):
    yield minimq_broker
    minimq_broker._check()


@pytest.fixture
def conn(broker):
    connection = BlockingConnection(broker=broker)
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def ch(conn):
    return conn.channel()


def publish_n(ch, queue, n, prefix=b"m"):
    for i in range(n):
        ch.basic_publish("", queue, prefix + b"%d" % i)


class Collector:
    def __init__(self, ack=False):
        self.items = []
        self.ack = ack

    def __call__(self, channel, method, properties, body):
        self.items.append((channel, method, properties, body))
        if self.ack:
            channel.basic_ack(method.delivery_tag)

    @property
    def bodies(self):
        return [item[3] for item in self.items]


# ------------------------------------------------------------------------------------------------
# mode


def test_mode_matches_pika_availability():
    try:
        import pika
    except ImportError:
        assert mp.USING_PIKA is False
        assert spec.Basic.Deliver.__module__ == "minimq.compat.pika.spec"
    else:
        assert mp.USING_PIKA is True
        assert mp.BasicProperties is pika.BasicProperties
        assert exceptions.ChannelClosedByBroker is pika.exceptions.ChannelClosedByBroker
        assert frame.Method is pika.frame.Method
        assert mp.ConnectionParameters is pika.ConnectionParameters


@pytest.mark.skipif(not mp.USING_PIKA, reason="starts the no-pika run from the pika run")
def test_without_pika():
    """Rerun this directory's tests with ``import pika`` failing: the facade's own classes must do."""
    here = os.path.dirname(os.path.abspath(__file__))
    env = dict(os.environ, MINIMQ_TEST_HIDE_PIKA="1")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:minimq", "-p", "no:cacheprovider", "-x",
         "-k", "not test_without_pika", here],
        env=env, capture_output=True, text=True, timeout=300, cwd=os.path.dirname(os.path.dirname(here)))
    tail = result.stdout[-3000:] + result.stderr[-2000:]
    assert result.returncode == 0, tail
    assert " passed" in result.stdout and " failed" not in result.stdout, tail


@needs_pika
def test_fallback_codec_matches_pika_bytes():
    """The fallback spec/data encode exactly as pika does, and decode to the same values."""
    import pika
    import pika.spec as ps

    cases = [
        ("Queue.Declare", dict(queue="q", durable=True, arguments={"x-max-length": 10, "s": "t"})),
        ("Basic.Publish", dict(exchange="ex", routing_key="rk", mandatory=True)),
        ("Basic.Deliver", dict(consumer_tag="c", delivery_tag=7, redelivered=True, exchange="e", routing_key="r")),
        ("Basic.Qos", dict(prefetch_count=5, global_qos=True)),
        ("Exchange.Declare", dict(exchange="x", type="topic", internal=True, arguments={})),
        ("Basic.Nack", dict(delivery_tag=3, multiple=True, requeue=False)),
    ]
    headers = {"s": "str", "b": b"\x00\xff", "t": True, "i": -5, "l": 2**40, "n": None,
               "d": decimal.Decimal("3.140"), "ts": datetime.datetime(2020, 1, 2, 3, 4, 5),
               "f": {"nested": [1, "two", {"x": False}]}}
    script = r'''
import sys, json, datetime, decimal
sys.modules["pika"] = None
from minimq.compat.pika import spec, data
cases = json.loads(sys.argv[1])
out = []
for name, kw in cases:
    cls_name, meth = name.split(".")
    m = getattr(getattr(spec, cls_name), meth)(**kw)
    out.append(b"".join(m.encode()).hex())
headers = {"s": "str", "b": b"\x00\xff", "t": True, "i": -5, "l": 2**40, "n": None,
           "d": decimal.Decimal("3.140"), "ts": datetime.datetime(2020, 1, 2, 3, 4, 5),
           "f": {"nested": [1, "two", {"x": False}]}}
p = spec.BasicProperties(content_type="text/plain", headers=headers, delivery_mode=2, priority=3,
                         correlation_id="c", reply_to="r", expiration="60000", message_id="m", timestamp=12345,
                         type="t", user_id="guest", app_id="a", cluster_id="cl")
raw = b"".join(p.encode())
out.append(raw.hex())
back = spec.BasicProperties().decode(raw)
out.append(repr(sorted((k, repr(v)) for k, v in back.headers.items())))
print(json.dumps(out))
'''
    result = subprocess.run([sys.executable, "-c", script, json.dumps(cases)], capture_output=True, text=True,
                            check=True)
    fallback = json.loads(result.stdout)
    expected = []
    for name, kw in cases:
        cls_name, meth = name.split(".")
        expected.append(b"".join(getattr(getattr(ps, cls_name), meth)(**kw).encode()).hex())
    props = pika.BasicProperties(content_type="text/plain", headers=headers, delivery_mode=2, priority=3,
                                 correlation_id="c", reply_to="r", expiration="60000", message_id="m",
                                 timestamp=12345, type="t", user_id="guest", app_id="a", cluster_id="cl")
    raw = b"".join(props.encode())
    expected.append(raw.hex())
    back = pika.BasicProperties().decode(raw)
    expected.append(repr(sorted((k, repr(v)) for k, v in back.headers.items())))
    assert fallback == expected


# ------------------------------------------------------------------------------------------------
# connections


def test_default_broker_and_parameters():
    mp.reset_default_broker()
    try:
        with BlockingConnection(ConnectionParameters("localhost")) as c1:
            c1.channel().queue_declare("shared")
            assert c1.broker is mp.default_broker()
        with BlockingConnection() as c2:
            assert c2.channel().queue_declare("shared", passive=True).method.queue == "shared"
        with BlockingConnection([URLParameters("amqp://guest:guest@localhost:5672/%2F")]) as c3:
            c3.channel().queue_declare("shared", passive=True)
        old = mp.default_broker()
        mp.reset_default_broker()
        assert mp.default_broker() is not old
        with BlockingConnection() as c4, pytest.raises(exceptions.ChannelClosedByBroker) as info:
            c4.channel().queue_declare("shared", passive=True)
        assert info.value.reply_code == 404
    finally:
        mp.reset_default_broker()


def test_reset_default_broker_closes_its_connections():
    mp.reset_default_broker()
    connection = BlockingConnection()
    channel = connection.channel()
    mp.reset_default_broker()
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        channel.queue_declare("q")
    assert (info.value.reply_code, info.value.reply_text) == (
        320, "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'")
    assert connection.is_closed and channel.is_closed


def test_vhost_and_user_come_from_the_parameters(broker):
    broker.add_vhost("app")
    broker.add_user("bob", "pw")
    broker.add_user("carol", "secret")
    params = ConnectionParameters("localhost", virtual_host="app", credentials=PlainCredentials("bob", "pw"))
    with BlockingConnection(params, broker=broker) as connection:
        channel = connection.channel()
        channel.queue_declare("q")
        channel.confirm_delivery()
        channel.basic_publish("", "q", b"x", BasicProperties(user_id="bob"))
        with pytest.raises(exceptions.ChannelClosedByBroker) as info:
            channel.basic_publish("", "q", b"y", BasicProperties(user_id="guest"))
        assert info.value.reply_text == ("PRECONDITION_FAILED - user_id property set to 'guest' but "
                                         "authenticated user was 'bob'")
    assert broker.get_queue("q", "app").message_count == 1
    assert broker.get_queue("q") is None
    with BlockingConnection(URLParameters("amqp://carol:secret@host/app"), broker=broker) as connection:
        assert connection.channel().queue_declare("q", passive=True).method.message_count == 1


def test_unknown_vhost_raises_probable_access_denied(broker):
    with pytest.raises(exceptions.ProbableAccessDeniedError) as info:
        BlockingConnection(ConnectionParameters(virtual_host="nope"), broker=broker)
    assert isinstance(info.value, exceptions.AMQPConnectionError)
    assert info.value.args == ("ConnectionClosedByBroker: (530) 'NOT_ALLOWED - vhost nope not found'",)


def test_connection_state_and_close(broker):
    connection = BlockingConnection(broker=broker)
    assert connection.is_open and not connection.is_closed
    assert connection.publisher_confirms and connection.basic_nack and connection.consumer_cancel_notify
    assert connection.exchange_exchange_bindings_supported
    connection.add_on_connection_blocked_callback(lambda *a: None)
    connection.add_on_connection_unblocked_callback(lambda *a: None)
    connection.update_secret("new", "rotation")
    channel = connection.channel()
    connection.close()
    assert connection.is_closed and not connection.is_open and channel.is_closed
    with pytest.raises(exceptions.ConnectionWrongStateError) as info:
        connection.close()
    assert str(info.value) == "BlockingConnection.close(200, 'Normal shutdown') called on closed connection."
    with pytest.raises(exceptions.ConnectionWrongStateError, match="^Channel allocation requires an open "
                                                                   "connection: <SelectConnection"):
        connection.channel()
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
        channel.queue_declare("q")
    with pytest.raises(ValueError, match="^Timeout closed before call$"):
        connection.process_data_events()  # pika's timed wait needs the ioloop, closed with the connection
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.process_data_events(time_limit=None)
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.add_callback_threadsafe(lambda: None)
    with pytest.raises(exceptions.ConnectionWrongStateError):
        connection.update_secret("x", "y")


def test_context_managers(broker):
    with BlockingConnection(broker=broker) as connection:
        with connection.channel() as channel:
            channel.queue_declare("q")
            channel.basic_publish("", "q", b"m")
            assert channel.basic_get("q")[2] == b"m"
        assert channel.is_closed
    assert connection.is_closed
    assert broker.get_queue("q").message_count == 1  # unacked get requeued by the close


def test_connection_close_requeues_and_deletes_exclusive_queues(broker, conn, ch):
    other = BlockingConnection(broker=broker)
    och = other.channel()
    name = och.queue_declare("", exclusive=True).method.queue
    ch.queue_declare("q")
    publish_n(ch, "q", 2)
    och.basic_get("q")
    other.close()
    assert broker.get_queue(name) is None
    assert ch.queue_declare("q", passive=True).method.message_count == 2
    assert ch.basic_get("q")[0].redelivered is True


def test_channel_numbers(conn):
    c1, c2, c3 = conn.channel(), conn.channel(), conn.channel()
    assert [c.channel_number for c in (c1, c2, c3)] == [1, 2, 3]
    assert int(c2) == 2 and c2.connection is conn
    c2.close()
    assert conn.channel().channel_number == 2
    assert conn.channel(10).channel_number == 10
    assert conn.channel().channel_number == 4


def test_channel_number_not_reused_while_the_close_is_unread(conn):
    c1 = conn.channel()
    c1.basic_ack(42)  # the broker closes channel 1; pika has not read that yet
    c2 = conn.channel()  # pika picks 2 (1 is still its own), then reads channel 1's close
    assert c2.channel_number == 2
    assert c1.is_closed
    assert conn.channel().channel_number == 1


def test_no_free_channels(conn):
    channels = [conn.channel() for _ in range(mp.blocking_connection.CHANNEL_MAX)]
    assert channels[-1].channel_number == 2047
    with pytest.raises(exceptions.NoFreeChannels):
        conn.channel()
    channels[5].close()
    assert conn.channel().channel_number == 6


def test_channel_close_twice_and_wrong_state(conn):
    channel = conn.channel()
    channel.close()
    assert channel.is_closed and not channel.is_open
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
        channel.close()
    for call in (lambda: channel.basic_publish("", "q", b"x"), lambda: channel.basic_ack(1),
                 lambda: channel.basic_qos(prefetch_count=1), lambda: channel.exchange_declare("x"),
                 lambda: channel.confirm_delivery(), lambda: channel.tx_select(),
                 lambda: channel.basic_consume("q", lambda *a: None), lambda: channel.start_consuming(),
                 lambda: channel.queue_delete("q"), lambda: channel.flow(True)):
        with pytest.raises(exceptions.ChannelWrongStateError):
            call()


def test_broker_shutdown_is_seen_by_the_waiting_call(broker, conn, ch):
    other = conn.channel()
    broker.close()
    assert conn.is_open and ch.is_open  # not read yet
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        ch.basic_publish("", "q", b"x")  # writing it reads the close that arrived before
    assert info.value.reply_code == 320
    assert conn.is_closed and ch.is_closed and other.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        other.queue_declare("q")
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.close()


def test_broker_shutdown_raises_from_process_data_events(broker, conn, ch):
    broker.close()
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        conn.process_data_events()


def test_broker_shutdown_raises_from_connection_close(broker, conn, ch):
    broker.close()
    with pytest.raises(exceptions.ConnectionClosedByBroker):
        conn.close()
    assert conn.is_closed


def test_vhost_deletion_closes_connection(broker):
    broker.add_vhost("v")
    connection = BlockingConnection(ConnectionParameters(virtual_host="v"), broker=broker)
    channel = connection.channel()
    broker.delete_vhost("v")
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        channel.basic_get("q")
    assert (info.value.reply_code, info.value.reply_text) == (320, "CONNECTION_FORCED - vhost 'v' is deleted")


def test_connection_close_cancels_consumers_and_requeues(broker, conn, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 3)
    ch.basic_consume("q", Collector())
    conn.process_data_events()
    assert broker.get_queue("q").message_count == 0
    conn.close()
    queue = broker.get_queue("q")
    assert queue.message_count == 3 and queue.consumer_count == 0


# ------------------------------------------------------------------------------------------------
# return values are pika's objects


def test_synchronous_methods_return_pika_frames(ch):
    def method(result, cls):
        assert isinstance(result, frame.Method), result
        assert result.channel_number == ch.channel_number
        assert isinstance(result.method, cls), result.method
        return result.method

    method(ch.exchange_declare("x", "fanout"), spec.Exchange.DeclareOk)
    method(ch.exchange_declare("y", spec.ExchangeType.topic), spec.Exchange.DeclareOk)
    method(ch.exchange_bind("y", "x"), spec.Exchange.BindOk)
    method(ch.exchange_unbind("y", "x"), spec.Exchange.UnbindOk)
    ok = method(ch.queue_declare("q"), spec.Queue.DeclareOk)
    assert (ok.queue, ok.message_count, ok.consumer_count) == ("q", 0, 0)
    method(ch.queue_bind("q", "x"), spec.Queue.BindOk)
    method(ch.queue_unbind("q", "x"), spec.Queue.UnbindOk)
    publish_n(ch, "q", 2)
    assert method(ch.queue_purge("q"), spec.Queue.PurgeOk).message_count == 2
    ch.basic_publish("", "q", b"x")
    assert method(ch.queue_delete("q"), spec.Queue.DeleteOk).message_count == 1
    method(ch.exchange_delete("y"), spec.Exchange.DeleteOk)
    assert ch.basic_qos(prefetch_count=10) is None
    assert ch.basic_recover(requeue=True) is None
    assert ch.flow(True) is True
    method(ch.tx_select(), spec.Tx.SelectOk)
    method(ch.tx_commit(), spec.Tx.CommitOk)
    method(ch.tx_rollback(), spec.Tx.RollbackOk)


def test_confirm_delivery_and_publish_return_none(ch):
    assert ch.confirm_delivery() is None
    assert ch.confirm_delivery() is None  # again: nothing happens
    ch.queue_declare("q")
    assert ch.basic_publish("", "q", b"x") is None
    assert ch.basic_publish("", "nowhere", b"x") is None  # unroutable, not mandatory: acked


def test_basic_get_results(ch):
    ch.queue_declare("q")
    assert ch.basic_get("q") == (None, None, None)
    publish_n(ch, "q", 2)
    method, properties, body = ch.basic_get("q")
    assert isinstance(method, spec.Basic.GetOk) and isinstance(properties, BasicProperties)
    assert (method.delivery_tag, method.redelivered, method.exchange, method.routing_key,
            method.message_count, body) == (1, False, "", "q", 1, b"m0")
    method, _, body = ch.basic_get("q", auto_ack=True)
    assert (method.delivery_tag, method.message_count, body) == (2, 0, b"m1")


def test_consumer_tags_are_generated_like_pika(ch):
    ch.queue_declare("q")
    tag = ch.basic_consume("q", lambda *a: None)
    assert re.match(TAG_SHAPE % 1, tag)
    assert ch.consumer_tags == [tag]
    assert ch.basic_consume("q", lambda *a: None, consumer_tag="mine") == "mine"
    assert ch.consumer_tags == [tag, "mine"]
    assert ch.basic_cancel(tag) == []
    assert ch.consumer_tags == ["mine"]


def test_queue_bind_routing_key_defaults_to_queue_name(broker, ch):
    ch.exchange_declare("d", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "d")
    ch.basic_publish("d", "q", b"by name")
    assert ch.basic_get("q")[2] == b"by name"
    ch.queue_unbind("q", "d")
    ch.basic_publish("d", "q", b"lost")
    assert ch.basic_get("q") == (None, None, None)


# ------------------------------------------------------------------------------------------------
# client-side validation (nothing reaches the broker)


def test_str_body_is_encoded_as_utf8(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", "héllo")
    assert ch.basic_get("q")[2] == "héllo".encode()


def test_float_header_is_refused_before_sending(broker, ch):
    ch.queue_declare("q")
    with pytest.raises(exceptions.UnsupportedAMQPFieldException):
        ch.basic_publish("", "q", b"x", BasicProperties(headers={"f": 1.5}))
    assert ch.is_open
    assert broker.get_queue("q").message_count == 0
    with pytest.raises(exceptions.UnsupportedAMQPFieldException):
        ch.queue_declare("r", arguments={"x-message-ttl": 1.5})
    assert ch.is_open and broker.get_queue("r") is None


def test_short_strings_over_255_bytes_are_refused(broker, ch):
    long_name = "é" * 128  # 256 bytes
    ch.queue_declare("q")
    cases = [
        lambda: ch.queue_declare(long_name),
        lambda: ch.exchange_declare(long_name),
        lambda: ch.basic_publish("", long_name, b"x"),
        lambda: ch.basic_publish(long_name, "q", b"x"),
        lambda: ch.basic_publish("", "q", b"x", BasicProperties(correlation_id="c" * 256)),
        lambda: ch.basic_publish("", "q", b"x", BasicProperties(headers={"k" * 256: 1})),
        lambda: ch.basic_consume("q", lambda *a: None, consumer_tag="t" * 256),
        lambda: ch.queue_bind("q", "amq.direct", "k" * 256),
    ]
    for case in cases:
        with pytest.raises(exceptions.ShortStringTooLong):
            case()
    assert ch.is_open
    assert ch.queue_declare("q", passive=True).method.message_count == 0
    assert ch.consumer_tags == []
    ch.queue_declare("é" * 127)  # 254 bytes: fine


def test_non_str_names_raise_type_error(ch):
    for case in (lambda: ch.queue_declare(None), lambda: ch.queue_declare(b"q"),
                 lambda: ch.queue_bind(1, "x"), lambda: ch.queue_bind("q", None),
                 lambda: ch.basic_get(None), lambda: ch.basic_consume(5, lambda *a: None),
                 lambda: ch.exchange_declare(None), lambda: ch.exchange_bind(None, "x"),
                 lambda: ch.basic_consume("q", "not callable"), lambda: ch.basic_reject("1")):
        with pytest.raises(TypeError):
            case()
    assert ch.is_open


def test_qos_negative_values_raise_value_error(ch):
    with pytest.raises(ValueError, match="^prefetch_count must be >= 0, but got -1$"):
        ch.basic_qos(prefetch_count=-1)
    assert ch.is_open


def test_duplicate_consumer_tag_is_refused_client_side(broker, conn, ch):
    ch.queue_declare("q")
    ch.basic_consume("q", lambda *a: None, consumer_tag="t")
    with pytest.raises(exceptions.DuplicateConsumerTag) as info:
        ch.basic_consume("q", lambda *a: None, consumer_tag="t")
    assert info.value.args == ("t",)
    assert ch.is_open and broker.get_queue("q").consumer_count == 1
    conn.channel().basic_consume("q", lambda *a: None, consumer_tag="t")  # another channel: fine


def test_cancel_of_unknown_tag_returns_empty_list(ch, caplog):
    with caplog.at_level(logging.WARNING, logger="pika"):
        assert ch.basic_cancel("nope") == []
    assert "unknown consumer=nope" in caplog.text
    assert ch.is_open


# ------------------------------------------------------------------------------------------------
# asynchronous errors (docs/semantics.md §1.4)


def test_async_error_surfaces_at_the_next_call_that_does_io(ch):
    """Zero network latency: the close caused by an asynchronous method has arrived by the next call
    (a real server's arrives one round trip later; README, known divergences)."""
    ch.queue_declare("q")
    assert ch.basic_ack(99) is None
    assert ch.is_open  # pika has not read the close yet
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.basic_publish("", "q", b"never sent")
    assert (info.value.reply_code, info.value.reply_text) == (406, "PRECONDITION_FAILED - unknown delivery tag 99")
    assert ch.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
        ch.queue_declare("q", passive=True)
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.basic_publish("", "q", b"x")
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.basic_ack(1)


@pytest.mark.parametrize("next_call", ["publish", "ack", "nack", "reject", "qos"])
def test_async_publish_error_is_raised_by_the_next_call_not_swallowed(broker, conn, ch, next_call):
    ch.queue_declare("q")
    ch.basic_publish("missing", "q", b"x")
    calls = {"publish": lambda: ch.basic_publish("", "q", b"after the error"),
             "ack": lambda: ch.basic_ack(1), "nack": lambda: ch.basic_nack(1),
             "reject": lambda: ch.basic_reject(1), "qos": lambda: ch.basic_qos(prefetch_count=1)}
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        calls[next_call]()
    assert info.value.reply_text == "NOT_FOUND - no exchange 'missing' in vhost '/'"
    assert broker.get_queue("q").message_count == 0


def test_async_error_read_by_a_publish_on_a_sibling_channel(broker, conn, ch):
    sibling = conn.channel()
    sibling.queue_declare("q")
    ch.basic_publish("missing", "k", b"x")
    sibling.basic_publish("", "q", b"fine")
    assert ch.is_closed and sibling.is_open
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.basic_publish("", "q", b"x")
    assert broker.get_queue("q").message_count == 1


def test_async_error_then_process_data_events_only_marks_the_channel_closed(conn, ch):
    ch.basic_reject(5)
    conn.process_data_events()
    assert ch.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.queue_declare("q")


def test_async_error_then_call_on_sibling_channel_only_marks_it_closed(conn, ch):
    sibling = conn.channel()
    ch.basic_publish("amq.rabbitmq.trace", "", b"x")  # internal exchange
    sibling.queue_declare("q")
    assert ch.is_closed and sibling.is_open
    with pytest.raises(exceptions.ChannelWrongStateError):
        ch.queue_purge("q")


def test_async_error_then_sleep_marks_closed(conn, ch):
    ch.basic_publish("", "q", b"x", BasicProperties(expiration="soon"))
    conn.sleep(0)
    assert ch.is_closed


def test_confirm_mode_publish_raises_the_error_itself(ch):
    ch.confirm_delivery()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.basic_publish("", "q", b"x", BasicProperties(expiration="-1"))
    assert info.value.reply_text == "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}"
    assert ch.is_closed


def test_confirm_select_reads_an_earlier_async_error(ch):
    ch.basic_ack(3)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.confirm_delivery()
    assert info.value.reply_code == 406


def test_confirm_mode_publish_reads_an_earlier_async_error(ch):
    ch.confirm_delivery()
    ch.basic_nack(3)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.basic_publish("", "q", b"x")
    assert info.value.reply_text == "PRECONDITION_FAILED - unknown delivery tag 3"


def test_close_of_a_channel_with_an_unread_close_raises_it(conn, ch):
    ch.basic_ack(7)
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.close()
    assert info.value.reply_code == 406
    assert ch.is_closed
    conn.close()  # suppresses channel errors of its channels


def test_connection_close_suppresses_unread_channel_close(conn, ch):
    ch.basic_ack(7)
    conn.close()
    assert conn.is_closed and ch.is_closed


def test_soft_error_closes_only_that_channel(conn, ch):
    sibling = conn.channel()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        ch.queue_declare("missing", passive=True)
    assert info.value.reply_text == "NOT_FOUND - no queue 'missing' in vhost '/'"
    assert ch.is_closed and sibling.is_open and conn.is_open
    sibling.queue_declare("ok")


def test_hard_error_closes_the_connection(conn, ch):
    sibling = conn.channel()
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        ch.basic_recover()  # pika's default requeue=False
    assert (info.value.reply_code, info.value.reply_text) == (540, "NOT_IMPLEMENTED - requeue=false")
    assert conn.is_closed and ch.is_closed and sibling.is_closed
    with pytest.raises(exceptions.ChannelWrongStateError):
        sibling.queue_declare("q")


def test_unknown_exchange_type_is_a_hard_error(conn, ch):
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        ch.exchange_declare("x", "nonsense")
    assert info.value.reply_text == "COMMAND_INVALID - unknown exchange type 'nonsense'"


def test_basic_get_on_closed_channel_is_sent_anyway(conn, ch):
    """pika's quirk: basic_get on a closed channel raises ChannelWrongStateError but still sends
    Basic.Get on the dead channel number; the broker closes the connection with 504."""
    sibling = conn.channel()
    with pytest.raises(exceptions.ChannelClosedByBroker):
        ch.queue_declare("missing", passive=True)
    with pytest.raises(exceptions.ChannelWrongStateError, match=r"^Channel is closed\.$"):
        ch.basic_get("q")
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        sibling.queue_declare("q")
    assert (info.value.reply_code, info.value.reply_text) == (504, "CHANNEL_ERROR - expected 'channel.open'")


def test_basic_get_after_failed_get_raises_duplicate_getok_callback(ch):
    with pytest.raises(exceptions.ChannelClosedByBroker):
        ch.basic_get("missing")
    with pytest.raises(exceptions.DuplicateGetOkCallback):
        ch.basic_get("missing")


def test_basic_get_on_closed_connection(broker):
    connection = BlockingConnection(broker=broker)
    channel = connection.channel()
    connection.close()
    with pytest.raises(exceptions.ConnectionWrongStateError, match="^Attempted to send a frame on closed "
                                                                   "connection.$"):
        channel.basic_get("q")


def test_translate_error_is_the_one_mapping():
    t = mp.translate_error
    e = t(minimq.NotFound("no queue 'q' in vhost '/'"))
    assert type(e) is exceptions.ChannelClosedByBroker and e.args == (404, "NOT_FOUND - no queue 'q' in vhost '/'")
    e = t(minimq.NotImplementedByServer("requeue=false"))
    assert type(e) is exceptions.ConnectionClosedByBroker and e.reply_code == 540
    assert type(t(minimq.ChannelClosed("x"))) is exceptions.ChannelWrongStateError
    assert str(t(minimq.ChannelClosed("x"))) == "Channel is closed."
    assert type(t(minimq.ConnectionClosed("x"))) is exceptions.ConnectionWrongStateError
    assert type(t(minimq.NotAllowed("vhost v not found"), opening=True)) is exceptions.ProbableAccessDeniedError
    assert type(t(minimq.ConnectionForced("x"), opening=True)) is exceptions.AMQPConnectionError
    other = KeyError("k")
    assert t(other) is other


# ------------------------------------------------------------------------------------------------
# consumers


def test_callbacks_run_only_when_events_are_processed(ch, conn):
    ch.queue_declare("q")
    got = Collector()
    ch.basic_consume("q", got)
    publish_n(ch, "q", 2)
    ch.queue_declare("q", passive=True)  # a synchronous call reads the deliveries...
    assert got.items == []  # ...but does not dispatch them
    conn.process_data_events()
    assert got.bodies == [b"m0", b"m1"]
    channel, method, properties, _ = got.items[0]
    assert channel is ch and isinstance(method, spec.Basic.Deliver)
    assert isinstance(properties, BasicProperties)
    assert (method.delivery_tag, method.redelivered, method.exchange, method.routing_key) == (1, False, "", "q")


def test_sleep_dispatches(ch, conn):
    ch.queue_declare("q")
    got = Collector()
    ch.basic_consume("q", got, auto_ack=True)
    ch.basic_publish("", "q", b"x")
    conn.sleep(0.01)
    assert got.bodies == [b"x"]


def test_start_consuming_until_stop_consuming(broker, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 5)
    seen = []

    def callback(channel, method, properties, body):
        seen.append(body)
        channel.basic_ack(method.delivery_tag)
        if len(seen) == 3:
            channel.stop_consuming()

    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", callback)
    ch.start_consuming()
    assert seen == [b"m0", b"m1", b"m2"]
    assert ch.consumer_tags == []
    assert broker.get_queue("q").message_count == 2


def test_stop_consuming_one_tag(ch, conn):
    ch.queue_declare("a")
    ch.queue_declare("b")
    ch.basic_consume("a", Collector(), consumer_tag="ta")
    ch.basic_consume("b", Collector(), consumer_tag="tb")
    ch.stop_consuming("ta")
    assert ch.consumer_tags == ["tb"]


def test_start_consuming_inside_a_callback_is_reentrancy(ch, conn):
    ch.queue_declare("q")
    errors = []

    def callback(channel, method, properties, body):
        try:
            channel.start_consuming()
        except exceptions.ReentrancyError as error:
            errors.append(error)

    ch.basic_consume("q", callback, auto_ack=True)
    ch.basic_publish("", "q", b"x")
    conn.process_data_events()
    assert len(errors) == 1


def test_exception_in_callback_propagates(ch, conn):
    ch.queue_declare("q")

    def callback(*args):
        raise RuntimeError("boom")

    ch.basic_consume("q", callback, auto_ack=True)
    ch.basic_publish("", "q", b"x")
    with pytest.raises(RuntimeError, match="boom"):
        conn.process_data_events()


def test_cancel_manual_ack_consumer_rejects_undispatched(broker, ch, conn):
    ch.queue_declare("q")
    publish_n(ch, "q", 3)
    got = Collector()
    ch.basic_consume("q", got, consumer_tag="manual")
    ch.basic_qos(prefetch_count=0)  # deliveries now wait in the channel
    assert broker.get_queue("q").message_count == 0
    assert ch.basic_cancel("manual") == []
    conn.process_data_events()
    assert got.items == []
    assert ch.queue_declare("q", passive=True).method.message_count == 3
    method, _, body = ch.basic_get("q", auto_ack=True)
    assert (body, method.redelivered) == (b"m0", True)


def test_cancel_auto_ack_consumer_returns_undispatched(broker, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 2)
    got = Collector()
    ch.basic_consume("q", got, auto_ack=True, consumer_tag="auto")
    ch.basic_qos(prefetch_count=0)
    pending = ch.basic_cancel("auto")
    assert [(m.consumer_tag, m.delivery_tag, b) for m, _p, b in pending] == [("auto", 1, b"m0"), ("auto", 2, b"m1")]
    assert all(isinstance(m, spec.Basic.Deliver) and isinstance(p, BasicProperties) for m, p, _ in pending)
    assert got.items == [] and broker.get_queue("q").message_count == 0


def test_cancel_keeps_dispatched_unacked(broker, ch, conn):
    ch.queue_declare("q")
    publish_n(ch, "q", 2)
    got = Collector()
    ch.basic_consume("q", got, consumer_tag="a")
    conn.process_data_events()
    ch.basic_cancel("a")
    assert broker.get_queue("q").message_count == 0
    ch.basic_ack(got.items[0][1].delivery_tag)
    ch.close()
    assert broker.get_queue("q").message_count == 1


def test_server_cancel_runs_cancel_callbacks(broker, conn, ch):
    ch.queue_declare("q")
    frames = []
    ch.add_on_cancel_callback(frames.append)
    ch.basic_consume("q", Collector(), consumer_tag="a")
    BlockingConnection(broker=broker).channel().queue_delete("q")
    assert ch.consumer_tags == ["a"]  # pika drops the tag when it dispatches the cancel
    conn.process_data_events()
    assert ch.consumer_tags == []
    [cancel] = frames
    assert isinstance(cancel, frame.Method) and isinstance(cancel.method, spec.Basic.Cancel)
    assert (cancel.channel_number, cancel.method.consumer_tag, cancel.method.nowait) == (1, "a", True)
    assert ch.is_open
    assert ch.basic_cancel("a") == []


def test_channel_close_cancels_consumers_and_requeues(broker, conn, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 2)
    ch.basic_consume("q", Collector())
    conn.process_data_events()
    ch.close()
    queue = broker.get_queue("q")
    assert queue.message_count == 2 and queue.consumer_count == 0


def test_consume_generator(broker, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 3)
    out = []
    for method, properties, body in ch.consume("q", inactivity_timeout=0.05):
        if method is None:
            out.append(None)
            break
        out.append((method.delivery_tag, body))
        if len(out) == 2:
            ch.basic_ack(method.delivery_tag, multiple=True)
    assert out == [(1, b"m0"), (2, b"m1"), (3, b"m2"), None]
    assert ch.get_waiting_message_count() == 0
    assert ch.cancel() == 0
    assert broker.get_queue("q").message_count == 0  # the third is unacked on the channel
    assert ch.consumer_tags == []


def test_consume_generator_cancel_requeues_pending(broker, ch):
    ch.queue_declare("q")
    publish_n(ch, "q", 4)
    gen = ch.consume("q")
    method, _, body = next(gen)
    assert body == b"m0"
    ch.basic_qos(prefetch_count=0)
    assert ch.get_waiting_message_count() == 3
    assert ch.cancel() == 0
    assert ch.queue_declare("q", passive=True).method.message_count == 3
    ch.basic_ack(method.delivery_tag)
    assert ch.cancel() == 0  # inactive: logs and returns 0


def test_consume_generator_with_different_params_raises(ch):
    ch.queue_declare("q")
    gen = ch.consume("q", auto_ack=True, inactivity_timeout=0.01)
    assert next(gen) == (None, None, None)
    with pytest.raises(ValueError, match="^Consume with different params not allowed"):
        next(ch.consume("q"))
    ch.cancel()


def test_consume_generator_ends_on_server_cancel(broker, conn, ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"only")
    gen = ch.consume("q", auto_ack=True, inactivity_timeout=1)
    assert next(gen)[2] == b"only"
    conn.channel().queue_delete("q")
    assert list(gen) == []
    assert ch.cancel() == 0 and ch.is_open


def test_consume_generator_raises_channel_close(ch):
    gen = ch.consume("missing")
    with pytest.raises(exceptions.ChannelClosedByBroker):
        next(gen)


def test_consume_generator_arguments_and_tag(broker, ch):
    ch.queue_declare("q")
    gen = ch.consume("q", exclusive=True, arguments={"x-priority": 3}, consumer_tag="gen", inactivity_timeout=0)
    assert next(gen) == (None, None, None)
    [consumer] = broker.get_queue("q").consumers
    assert (consumer.tag, consumer.exclusive, consumer.priority) == ("gen", True, 3)
    ch.cancel()


def test_add_callback_threadsafe_wakes_start_consuming(broker):
    ready = threading.Event()
    result = {}

    def consumer():
        connection = BlockingConnection(broker=broker)
        channel = connection.channel()
        channel.queue_declare("q")
        channel.basic_consume("q", lambda *a: None)
        result["connection"], result["channel"] = connection, channel
        result["thread"] = threading.current_thread()
        ready.set()
        channel.start_consuming()
        result["stopped"] = True

    thread = threading.Thread(target=consumer)
    thread.start()
    assert ready.wait(5)
    ran_on = []
    result["connection"].add_callback_threadsafe(lambda: ran_on.append(threading.current_thread()))
    result["connection"].add_callback_threadsafe(result["channel"].stop_consuming)
    thread.join(5)
    assert not thread.is_alive() and result["stopped"]
    assert ran_on == [result["thread"]]
    with pytest.raises(TypeError):
        result["connection"].add_callback_threadsafe("not callable")


def test_delivery_from_another_thread_wakes_process_data_events(broker, conn, ch):
    ch.queue_declare("q")
    got = Collector()
    ch.basic_consume("q", got, auto_ack=True)

    def publish_later():
        time.sleep(0.05)
        with BlockingConnection(broker=broker) as other:
            other.channel().basic_publish("", "q", b"from another thread")

    thread = threading.Thread(target=publish_later)
    thread.start()
    conn.process_data_events(time_limit=None)
    assert got.bodies == [b"from another thread"]
    thread.join()


def test_add_callback_threadsafe_wakes_process_data_events(conn):
    ran = []

    def later():
        time.sleep(0.05)
        conn.add_callback_threadsafe(lambda: ran.append(threading.current_thread()))

    thread = threading.Thread(target=later)
    thread.start()
    conn.process_data_events(time_limit=None)
    assert ran == [threading.current_thread()]
    thread.join()


def test_concurrent_publishers_and_a_consuming_thread(broker):
    publishers, per_publisher = 4, 250
    total = publishers * per_publisher
    setup = BlockingConnection(broker=broker)
    setup.channel().queue_declare("work")
    setup.close()
    received = []
    ready = threading.Event()

    def consume():
        with BlockingConnection(broker=broker) as connection:
            channel = connection.channel()
            channel.basic_qos(prefetch_count=10)

            def on_message(channel, method, properties, body):
                received.append(body)
                channel.basic_ack(method.delivery_tag)
                if len(received) == total:
                    channel.stop_consuming()

            channel.basic_consume("work", on_message)
            ready.set()
            channel.start_consuming()

    def publish(n):
        with BlockingConnection(broker=broker) as connection:
            channel = connection.channel()
            for i in range(per_publisher):
                channel.basic_publish("", "work", b"%d-%d" % (n, i))

    consumer = threading.Thread(target=consume)
    consumer.start()
    assert ready.wait(5)
    threads = [threading.Thread(target=publish, args=(n,)) for n in range(publishers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    consumer.join(10)
    assert not consumer.is_alive()
    assert sorted(received) == sorted(b"%d-%d" % (n, i) for n in range(publishers) for i in range(per_publisher))
    for n in range(publishers):  # each publisher's messages in its publish order
        mine = [body for body in received if body.startswith(b"%d-" % n)]
        assert mine == [b"%d-%d" % (n, i) for i in range(per_publisher)]
    assert broker.get_queue("work").message_count == 0


def test_process_data_events_time_limit(conn):
    started = time.monotonic()
    conn.process_data_events(time_limit=0.05)
    assert time.monotonic() - started >= 0.04  # it waited out its time limit (no upper bound: machines are noisy)


def test_call_later_and_remove_timeout(conn):
    fired = []
    conn.call_later(0, lambda: fired.append("zero"))
    timer = conn.call_later(0, lambda: fired.append("removed"))
    conn.call_later(0.05, lambda: fired.append("later"))
    assert fired == []  # timers run only while events are processed
    conn.remove_timeout(timer)
    conn.process_data_events()
    assert fired == ["zero"]
    conn.sleep(0.1)
    assert fired == ["zero", "later"]
    with pytest.raises(TypeError):
        conn.call_later(1, None)


def test_remove_timeout_of_a_due_timer(conn):
    fired = []
    timer = conn.call_later(0, lambda: fired.append(1))
    conn.call_later(0, lambda: conn.remove_timeout(timer))
    conn.process_data_events()
    assert fired in ([], [1])  # removal works whichever fires first
    conn.remove_timeout(timer)  # unknown or fired: no error


# ------------------------------------------------------------------------------------------------
# returns, confirms, transactions


def test_mandatory_return_goes_to_return_callbacks(conn, ch):
    returns = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.basic_publish("amq.direct", "nowhere", b"lost", BasicProperties(message_id="m1"), mandatory=True)
    ch.basic_publish("amq.direct", "nowhere", b"dropped")
    assert returns == []
    conn.process_data_events()
    [(channel, method, properties, body)] = returns
    assert channel is ch and isinstance(method, spec.Basic.Return)
    assert (method.reply_code, method.reply_text, method.exchange, method.routing_key) == (
        312, "NO_ROUTE", "amq.direct", "nowhere")
    assert properties.message_id == "m1" and body == b"lost"


def test_confirm_mode_unroutable_raises_unroutable_error(conn, ch):
    returns = []
    ch.add_on_return_callback(lambda *args: returns.append(args))
    ch.confirm_delivery()
    with pytest.raises(exceptions.UnroutableError) as info:
        ch.basic_publish("", "nowhere", b"x", mandatory=True)
    [returned] = info.value.messages
    assert isinstance(returned, mp.ReturnedMessage)
    assert isinstance(returned.method, spec.Basic.Return) and returned.method.routing_key == "nowhere"
    assert returned.body == b"x" and isinstance(returned.properties, BasicProperties)
    assert str(info.value) == "1 unroutable message(s) returned"
    # like pika, the return also reaches the callbacks added with add_on_return_callback
    conn.process_data_events()
    assert [r[3] for r in returns] == [b"x"]
    ch.queue_declare("q")
    assert ch.basic_publish("", "q", b"routed", mandatory=True) is None


def test_confirm_mode_nack_raises_nack_error(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_delivery()
    ch.basic_publish("", "q", b"first")
    with pytest.raises(exceptions.NackError) as info:
        ch.basic_publish("", "q", b"second")
    assert info.value.messages == []
    assert ch.is_open and broker.get_queue("q").message_count == 1


def test_transactions(broker, conn, ch):
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"a")
    assert ch.queue_declare("q", passive=True).method.message_count == 0
    ch.tx_commit()
    assert broker.get_queue("q").message_count == 1
    ch.basic_publish("", "q", b"b")
    ch.tx_rollback()
    assert broker.get_queue("q").message_count == 1
    other = conn.channel()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        other.tx_commit()
    assert info.value.reply_text == "PRECONDITION_FAILED - channel is not transactional"
    confirm = conn.channel()
    confirm.confirm_delivery()
    with pytest.raises(exceptions.ChannelClosedByBroker) as info:
        confirm.tx_select()
    assert info.value.reply_text == "PRECONDITION_FAILED - cannot switch from confirm to tx mode"


def test_tx_mandatory_return_arrives_at_commit(conn, ch):
    returns = []
    ch.add_on_return_callback(lambda *args: returns.append(args[3]))
    ch.tx_select()
    ch.basic_publish("", "nowhere", b"tx", mandatory=True)
    conn.process_data_events()
    assert returns == []
    ch.tx_commit()
    conn.process_data_events()
    assert returns == [b"tx"]


def test_flow_false_and_qos_size_are_hard_errors(broker):
    for call, text in ((lambda c: c.flow(False), "NOT_IMPLEMENTED - active=false"),
                       (lambda c: c.basic_qos(prefetch_size=10), "NOT_IMPLEMENTED - prefetch_size!=0 (10)")):
        connection = BlockingConnection(broker=broker)
        with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
            call(connection.channel())
        assert info.value.reply_text == text and connection.is_closed


def test_direct_reply_to(broker, conn, ch):
    server = BlockingConnection(broker=broker).channel()
    server.queue_declare("rpc")
    replies = Collector()
    ch.basic_consume("amq.rabbitmq.reply-to", replies, auto_ack=True)
    ch.basic_publish("", "rpc", b"request", BasicProperties(reply_to="amq.rabbitmq.reply-to",
                                                            correlation_id="c1"))
    method, properties, body = server.basic_get("rpc", auto_ack=True)
    assert properties.reply_to.startswith("amq.rabbitmq.reply-to.")
    server.basic_publish("", properties.reply_to, b"response", BasicProperties(correlation_id="c1"))
    conn.process_data_events()
    [(_, deliver, props, payload)] = replies.items
    assert (payload, props.correlation_id, deliver.routing_key) == (b"response", "c1", properties.reply_to)


# ------------------------------------------------------------------------------------------------
# properties


def test_all_properties_round_trip(ch):
    ch.queue_declare("q")
    props = BasicProperties(content_type="application/json", content_encoding="utf-8",
                            headers={"k": "v"}, delivery_mode=mp.DeliveryMode.Persistent, priority=5,
                            correlation_id="corr", reply_to="replies", expiration="60000", message_id="id-1",
                            timestamp=1_600_000_000, type="kind", user_id="guest", app_id="app",
                            cluster_id="cluster")
    ch.basic_publish("", "q", b"{}", props)
    _, got, _ = ch.basic_get("q")
    expected = dict(vars(props), delivery_mode=2)
    assert {k: getattr(got, k) for k in expected} == expected


def test_absent_properties_stay_absent(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x")
    ch.basic_publish("", "q", b"y", BasicProperties())
    for _ in range(2):
        _, props, _ = ch.basic_get("q")
        assert all(getattr(props, name) is None for name in minimq.message.PROPERTY_NAMES)


def test_header_values_come_back_as_pika_decodes_them(ch):
    ch.queue_declare("q")
    when = datetime.datetime(2021, 5, 6, 7, 8, 9, 987654)
    headers = {"str": "s", "bytes": b"\x00\x01", "bool": True, "int": -7, "big": 2**40, "neg": -(2**40),
               "dec": decimal.Decimal("3.140"), "when": when, "table": {"a": [1, "x", None]},
               "list": [True, b"b"], "void": None}
    ch.basic_publish("", "q", b"x", BasicProperties(headers=headers))
    got = ch.basic_get("q")[1].headers
    assert list(got) == list(headers)
    assert got["str"] == "s" and got["bytes"] == b"\x00\x01" and got["bool"] is True
    assert got["int"] == -7 and got["big"] == 2**40 and got["neg"] == -(2**40)
    assert str(got["dec"]) == "3.14"
    stamp = got["when"]
    assert stamp.replace(tzinfo=None) == when.replace(microsecond=0)
    assert stamp.tzinfo in (None, datetime.timezone.utc)
    assert got["table"] == {"a": [1, "x", None]} and got["list"] == [True, b"b"] and got["void"] is None


@needs_pika
def test_header_values_match_a_pika_wire_round_trip(ch):
    import pika.data

    headers = {"when": datetime.datetime(2021, 5, 6, 7, 8, 9), "dec": decimal.Decimal("1.50"), "big": 2**40}
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x", BasicProperties(headers=headers))
    pieces: list = []
    pika.data.encode_table(pieces, headers)
    expected = pika.data.decode_table(b"".join(pieces), 0)[0]
    got = ch.basic_get("q")[1].headers
    assert got == expected and [type(v) for v in got.values()] == [type(v) for v in expected.values()]


def test_headers_are_fresh_objects_per_delivery(ch):
    ch.exchange_declare("f", "fanout")
    for name in ("a", "b"):
        ch.queue_declare(name)
        ch.queue_bind(name, "f")
    ch.basic_publish("f", "", b"x", BasicProperties(headers={"list": [1]}))
    first = ch.basic_get("a")[1]
    first.headers["list"].append(2)
    assert ch.basic_get("b")[1].headers == {"list": [1]}


def test_headers_exchange_matches_decoded_values(ch):
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", arguments={"x-match": "all", "n": 1, "s": "v"})
    ch.basic_publish("h", "", b"match", BasicProperties(headers={"n": 1, "s": "v", "extra": True}))
    ch.basic_publish("h", "", b"no", BasicProperties(headers={"n": 2, "s": "v"}))
    assert ch.basic_get("q")[2] == b"match"
    assert ch.basic_get("q") == (None, None, None)


def test_dead_lettered_headers_reach_pika(ch):
    ch.queue_declare("dlq")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.basic_publish("", "q", b"x")
    method, _, _ = ch.basic_get("q")
    ch.basic_reject(method.delivery_tag, requeue=False)
    _, props, body = ch.basic_get("dlq")
    [death] = props.headers["x-death"]
    assert (death["count"], death["reason"], death["queue"], death["routing-keys"]) == (1, "rejected", "q", ["q"])
    assert isinstance(death["time"], datetime.datetime)
    assert props.headers["x-first-death-reason"] == "rejected"


# ------------------------------------------------------------------------------------------------
# the pytest plugin


@needs_pika
def test_minimq_pika_patches_pika(minimq_pika):
    import pika
    import pika.adapters.blocking_connection as bc

    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    assert isinstance(connection, BlockingConnection) and isinstance(connection, pika.BlockingConnection)
    assert connection.broker is minimq_pika
    assert bc.BlockingConnection is pika.BlockingConnection is pika.adapters.BlockingConnection
    connection.channel().queue_declare("from-pika-code")
    assert minimq_pika.get_queue("from-pika-code") is not None
    explicit = pika.BlockingConnection(broker=minimq.Broker())
    assert explicit.broker is not minimq_pika


@needs_pika
def test_patch_is_undone():
    import pika
    import pika.adapters.blocking_connection as bc
    from minimq.compat.pika.pytest_plugin import patch_pika

    original = pika.BlockingConnection
    original_init = pika.connection.Connection.__init__
    with patch_pika(minimq.Broker()) as patch:
        assert pika.BlockingConnection is original  # the class itself builds the facade
        connection = pika.BlockingConnection()
        assert type(connection) is patch.connection_class and patch.connections == [connection]
        assert pika.connection.Connection.__init__ is not original_init  # real connections refused
    assert pika.BlockingConnection is original and bc.BlockingConnection is original
    assert pika.connection.Connection.__init__ is original_init
    assert type(BlockingConnection(broker=minimq.Broker())) is BlockingConnection


@pytest.mark.skipif(mp.USING_PIKA, reason="pika is installed")
def test_minimq_pika_provides_a_pika_module_without_pika(minimq_pika):
    import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    assert connection.broker is minimq_pika
    assert pika.BasicProperties is BasicProperties and pika.spec is spec


def test_channel_number_beyond_16_bits_is_refused_by_the_client(conn):
    import struct
    with pytest.raises(struct.error):
        conn.channel(channel_number=65536)
    assert conn.is_open
    assert conn.channel(channel_number=65535).is_open


def test_negative_delays_are_refused_by_the_ioloop_timer(conn, ch):
    message = "call_later: delay must be non-negative, but got -1"
    with pytest.raises(ValueError, match=message):
        conn.call_later(-1, lambda: None)
    with pytest.raises(ValueError, match=message):
        conn.process_data_events(time_limit=-1)
    ch.queue_declare("q")
    with pytest.raises(ValueError, match=message):
        next(ch.consume("q", inactivity_timeout=-1))


def test_timed_waits_after_close_fail_in_the_closed_ioloop(conn):
    conn.close()
    for call in (lambda: conn.process_data_events(), lambda: conn.sleep(0.01),
                 lambda: conn.call_later(1, lambda: None)):
        with pytest.raises(ValueError, match="^Timeout closed before call$"):
            call()
    with pytest.raises(exceptions.ConnectionWrongStateError):
        conn.process_data_events(time_limit=None)


@needs_pika
def test_login_refused_as_pika_reports_it(broker):
    import pika
    text = ("ConnectionClosedByBroker: (403) 'ACCESS_REFUSED - Login was refused using authentication mechanism "
            "PLAIN. For details see the broker logfile.'")
    for creds in (pika.PlainCredentials("guest", "wrong"), pika.PlainCredentials("nobody", "x")):
        with pytest.raises(exceptions.ProbableAuthenticationError) as info:
            BlockingConnection(pika.ConnectionParameters("localhost", credentials=creds), broker=broker)
        assert info.value.args == (text,)
    assert BlockingConnection(pika.URLParameters("amqp://guest:guest@localhost/%2F"), broker=broker).is_open
    broker.add_user("app", "s3cret")
    params = pika.ConnectionParameters(credentials=pika.PlainCredentials("app", "s3cret"))
    assert BlockingConnection(params, broker=broker).is_open


def test_content_header_over_frame_max_closes_the_connection_at_the_next_read(broker, conn, ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x", BasicProperties(headers={"big": "h" * 200_000}))  # asynchronous
    with pytest.raises(exceptions.ConnectionClosedByBroker) as info:
        ch.queue_declare("q", passive=True)
    assert info.value.args == (501, "FRAME_ERROR - type 2, all octets = <<>>: {frame_too_large,200027,131064}")
    assert conn.is_closed and broker.get_queue("q").message_count == 0


@needs_pika
def test_publishing_something_else_as_properties_fails_like_pika(ch):
    import struct

    import pika
    ch.queue_declare("q")
    with pytest.raises(struct.error):
        ch.basic_publish("", "q", b"x", pika.spec.Basic.Ack())
    with pytest.raises(AttributeError, match="encode"):
        ch.basic_publish("", "q", b"x", object())
    assert ch.queue_declare("q", passive=True).method.message_count == 0
