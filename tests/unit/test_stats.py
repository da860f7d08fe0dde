"""rabbitmqctl-like lists: live sizes, counts and rates from the event stream, and the text table."""

from __future__ import annotations

import pytest

from minimq import format_table
from minimq.errors import NotAllowed


def _queue(broker, name):
    return next(info for info in broker.list_queues() if info.name == name)


def _exchange(broker, name):
    return next(info for info in broker.list_exchanges() if info.name == name)


def test_queue_sizes_without_stats_have_no_counts(tbroker, tch):
    tch.queue_declare("q")
    for _ in range(3):
        tch.basic_publish("", "q", b"m")
    tch.basic_get("q")
    tch.basic_consume("q", lambda d: None)
    info = _queue(tbroker, "q")
    assert (info.messages_ready, info.messages_unacknowledged, info.messages, info.consumers) == (0, 3, 3, 1)
    assert info.published is None and info.publish_rate is None


def test_counts_and_rates_per_queue_and_exchange(tbroker, tch, clock):
    stats = tbroker.enable_stats(window=10)
    assert tbroker.enable_stats() is stats  # one collector per broker
    tch.exchange_declare("x", "fanout")
    tch.queue_declare("a")
    tch.queue_declare("b")
    tch.queue_bind("a", "x")
    tch.queue_bind("b", "x")
    for _ in range(4):
        tch.basic_publish("x", "", b"m")
    tch.basic_publish("x", "", b"m")
    for _ in range(3):
        tch.basic_ack(tch.basic_get("a").delivery_tag)
    tch.basic_get("b", auto_ack=True)
    a, b = _queue(tbroker, "a"), _queue(tbroker, "b")
    assert (a.published, a.delivered, a.acked, a.messages_ready) == (5, 3, 3, 2)
    assert (b.published, b.delivered, b.acked, b.messages_ready) == (5, 1, 0, 4)
    assert a.publish_rate == pytest.approx(0.5) and a.ack_rate == pytest.approx(0.3)  # 5 and 3 over 10 s
    x = _exchange(tbroker, "x")
    assert (x.published_in, x.published_out) == (5, 5)
    clock.advance(11)  # out of the window: the rates fall to zero, the totals stay
    a = _queue(tbroker, "a")
    assert a.publish_rate == 0 and a.published == 5


def test_unroutable_publishes_count_in_but_not_out(tbroker, tch):
    tbroker.enable_stats()
    tch.basic_publish("amq.direct", "nowhere", b"m")
    info = _exchange(tbroker, "amq.direct")
    assert (info.published_in, info.published_out) == (1, 0)


def test_a_queue_declared_again_starts_from_zero(tbroker, tch):
    tbroker.enable_stats()
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"m")
    tch.queue_delete("q")
    tch.queue_declare("q")
    assert _queue(tbroker, "q").published == 0


def test_disable_stats(tbroker, tch):
    tbroker.enable_stats()
    tbroker.disable_stats()
    tbroker.disable_stats()
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"m")
    assert _queue(tbroker, "q").published is None
    assert tbroker._kernel.observers is None  # nothing listens any more: the hot path is back to one test


def test_bindings_consumers_channels_connections(tbroker):
    connection = tbroker.connect()
    ch = connection.channel()
    ch.basic_qos(prefetch_count=7)
    ch.queue_declare("q")
    ch.exchange_declare("x", "topic")
    ch.queue_bind("q", "x", "a.*")
    tag = ch.basic_consume("q", lambda d: None, consumer_tag="c1")
    ch.confirm_select()
    bindings = [(b.source_name, b.destination_name, b.routing_key) for b in tbroker.list_bindings()]
    assert bindings == [("", "q", "q"), ("x", "q", "a.*")]
    [consumer] = tbroker.list_consumers()
    assert (consumer.queue_name, consumer.consumer_tag, consumer.prefetch_count, consumer.ack_required) == \
        ("q", tag, 7, True)
    assert consumer.channel == f"{connection.number}.{ch.number}"
    [channel] = [c for c in tbroker.list_channels() if c.connection == connection.number]
    assert (channel.mode, channel.consumer_count, channel.prefetch_count) == ("confirm", 1, 7)
    [conn] = [c for c in tbroker.list_connections() if c.number == connection.number]
    assert (conn.user, conn.vhost, conn.channels) == ("guest", "/", 1)
    with pytest.raises(NotAllowed, match=r"vhost nope not found$"):
        tbroker.list_queues("nope")


def test_format_table_like_rabbitmqctl(tbroker, tch):
    tbroker.enable_stats()
    tch.queue_declare("orders")
    tch.queue_declare("a")
    tch.basic_publish("", "orders", b"m")
    tch.basic_publish("", "orders", b"m")
    text = format_table(tbroker.list_queues())
    assert text == ("name    messages_ready  messages_unacknowledged  consumers\n"
                    "a                    0                        0          0\n"
                    "orders               2                        0          0\n")
    text = format_table(tbroker.list_queues(), ["name", "durable", "published", "publish_rate"])
    assert text.splitlines() == ["name    durable  published  publish_rate",
                                 "a       false            0          0.00",
                                 "orders  false            2          0.40"]


def test_format_table_refuses_unknown_columns_naming_the_valid_ones(tbroker):
    tbroker.channel().queue_declare("q")
    with pytest.raises(ValueError, match=r"^unknown column\(s\) 'size' for QueueInfo; valid columns: vhost, name, "):
        format_table(tbroker.list_queues(), ["name", "size"])
    with pytest.raises(ValueError, match="columns must be given for an empty list of rows"):
        format_table([])
    assert format_table([], ["name"]) == "name\n"
    with pytest.raises(TypeError, match="not the str"):
        format_table(tbroker.list_queues(), "name")


def test_stats_window_must_be_positive(tbroker):
    with pytest.raises(ValueError, match=r"^window must be a number of seconds > 0, got 0$"):
        tbroker.enable_stats(window=0)
