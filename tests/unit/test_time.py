"""docs/semantics.md §10: message TTL, TTL 0, head-only expiry, x-expires (ManualClock), and the real timer thread."""

from __future__ import annotations

import threading

from core_helpers import bodies, collector, drain, wait_until
from minimq import Broker, Delivery, Properties

DLX = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}


def _exp(ms):
    return Properties(expiration=str(ms))


# -- §10.1 message TTL --------------------------------------------------------------------------------
def test_queue_ttl_boundary_is_inclusive(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 1000})
    tch.basic_publish("", "q", b"m")
    clock.advance(0.999)
    assert tch.queue_declare("q", passive=True).message_count == 1
    clock.advance(0.001)  # now == expires_at: expired
    assert tch.queue_declare("q", passive=True).message_count == 0
    assert tch.basic_get("q") is None


def test_per_message_ttl_and_the_smaller_wins(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 5000})
    tch.queue_declare("plain")
    tch.basic_publish("", "q", b"short", properties=_exp(1000))
    tch.basic_publish("", "q", b"long", properties=_exp(10000))  # queue TTL 5000 wins
    tch.basic_publish("", "plain", b"plain-short", properties=_exp(1000))
    tch.basic_publish("", "plain", b"never")
    clock.advance(1)
    assert bodies(drain(tch, "q", auto_ack=False)) == [b"long"]
    tch.basic_recover(requeue=True)
    clock.advance(4)
    assert tch.basic_get("q") is None
    assert bodies(drain(tch, "plain")) == [b"never"]


def test_ttl_fixed_at_enqueue(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 1000})
    clock.advance(10)
    tch.basic_publish("", "q", b"m")
    clock.advance(0.5)
    assert tch.basic_get("q", auto_ack=True).body == b"m"


def test_expiration_delivered_unchanged_and_queue_ttl_adds_none(tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 60000})
    tch.basic_publish("", "q", b"a", properties=_exp("30000"))
    tch.basic_publish("", "q", b"b")
    a, b = drain(tch, "q")
    assert a.properties.expiration == "30000"
    assert b.properties is None or b.properties.expiration is None


def test_unacked_cannot_expire_but_expires_on_requeue(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 1000, **DLX})
    tch.basic_publish("", "q", b"m")
    d = tch.basic_get("q")
    clock.advance(5)
    assert tch.unacked_count == 1
    tch.basic_nack(d.delivery_tag, requeue=True)
    assert tch.queue_declare("q", passive=True).message_count == 0
    dead = tch.basic_get("dlq", auto_ack=True)
    assert dead.headers["x-death"][0]["reason"] == "expired"


def test_unacked_requeued_before_expiry_keeps_original_deadline(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 1000})
    tch.basic_publish("", "q", b"m")
    d = tch.basic_get("q")
    clock.advance(0.6)
    tch.basic_reject(d.delivery_tag)
    clock.advance(0.3)
    assert tch.queue_declare("q", passive=True).message_count == 1
    clock.advance(0.1)
    assert tch.queue_declare("q", passive=True).message_count == 0


def test_expired_never_delivered_to_consumers(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-message-ttl": 100})
    for i in range(3):
        tch.basic_publish("", "q", b"%d" % i)
    clock.advance(0.1)
    _, got = collector(tch, "q", auto_ack=True)
    assert got == []


def test_expiry_by_clock_advance_dead_letters_without_observation(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 1000, **DLX})
    _, dead = collector(tch, "dlq", auto_ack=True)
    tch.basic_publish("", "q", b"m")
    clock.advance(1)
    assert bodies(dead) == [b"m"]  # the advance itself dead-lettered it


# -- §10.2 TTL 0 ---------------------------------------------------------------------------------------
def test_ttl_zero_delivered_only_to_a_waiting_consumer(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 0, **DLX})
    tch.basic_publish("", "q", b"nobody")
    assert tch.queue_declare("q", passive=True).message_count == 0
    assert tch.basic_get("dlq", auto_ack=True).body == b"nobody"
    tch.basic_qos(prefetch_count=1)
    _, got = collector(tch, "q")
    tch.basic_publish("", "q", b"taken")
    tch.basic_publish("", "q", b"no-capacity")
    assert bodies(got) == [b"taken"]
    assert bodies(drain(tch, "dlq")) == [b"no-capacity"]


def test_expiration_zero(tch):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"m", properties=_exp(0))
    assert tch.queue_declare("q", passive=True).message_count == 0


def test_ttl_zero_behind_live_head_waits_and_counts(tbroker, clock, tch):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"live")
    tch.basic_publish("", "q", b"zero", properties=_exp(0))
    assert tch.queue_declare("q", passive=True).message_count == 2
    d = tch.basic_get("q", auto_ack=True)
    assert (d.body, d.message_count) == (b"live", 0)
    assert tch.basic_get("q") is None


# -- §10.3 head-only expiry -----------------------------------------------------------------------------
def test_expired_behind_live_head_is_counted_until_it_reaches_the_head(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments=DLX)
    tch.basic_publish("", "q", b"live")
    tch.basic_publish("", "q", b"short", properties=_exp(100))
    tch.basic_publish("", "q", b"tail")
    clock.advance(1)
    assert tch.queue_declare("q", passive=True).message_count == 3
    assert tch.queue_declare("dlq", passive=True).message_count == 0
    d = tch.basic_get("q", auto_ack=True)
    assert (d.body, d.message_count) == (b"live", 1)  # 'short' dropped once it became the head
    assert bodies(drain(tch, "dlq")) == [b"short"]
    assert bodies(drain(tch, "q")) == [b"tail"]


def test_expiry_in_queue_order_oldest_first(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 100, **DLX})
    for i in range(4):
        tch.basic_publish("", "q", b"%d" % i)
    clock.advance(0.1)
    assert bodies(drain(tch, "dlq")) == [b"0", b"1", b"2", b"3"]


def test_priority_queue_head_is_highest_level(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-max-priority": 5})
    tch.basic_publish("", "q", b"low-expired", properties=Properties(priority=1, expiration="10"))
    tch.basic_publish("", "q", b"high-live", properties=Properties(priority=5))
    clock.advance(1)
    assert tch.queue_declare("q", passive=True).message_count == 2  # head (high level) is live
    d = tch.basic_get("q", auto_ack=True)
    assert (d.body, d.message_count) == (b"high-live", 0)


# -- §10.4 x-expires --------------------------------------------------------------------------------
def test_x_expires_deletes_unused_queue(tbroker, clock, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-expires": 1000, **DLX})
    tch.basic_publish("", "q", b"m")
    clock.advance(0.5)
    tch.basic_publish("", "q", b"m")  # publishing is not use
    clock.advance(0.5)
    assert tbroker.get_queue("q") is None
    assert tch.queue_declare("dlq", passive=True).message_count == 0  # not dead-lettered


def test_x_expires_reset_by_declare_passive_declare_and_get(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-expires": 1000})
    for reset in (lambda: tch.queue_declare("q", arguments={"x-expires": 1000}),
                  lambda: tch.queue_declare("q", passive=True),
                  lambda: tch.basic_get("q")):  # even an empty get
        clock.advance(0.9)
        assert tbroker.get_queue("q") is not None
        reset()
    clock.advance(0.999)
    assert tbroker.get_queue("q") is not None
    clock.advance(0.001)
    assert tbroker.get_queue("q") is None


def test_x_expires_never_while_consumed_and_restarts_when_last_consumer_leaves(tbroker, clock, tch):
    tch.queue_declare("q", arguments={"x-expires": 1000})
    t1 = tch.basic_consume("q", lambda d: None)
    t2 = tch.basic_consume("q", lambda d: None)
    clock.advance(10)
    assert tbroker.get_queue("q") is not None
    tch.basic_cancel(t1)
    clock.advance(10)
    assert tbroker.get_queue("q") is not None
    tch.basic_cancel(t2)  # countdown restarts now
    clock.advance(0.999)
    assert tbroker.get_queue("q") is not None
    clock.advance(0.001)
    assert tbroker.get_queue("q") is None


def test_x_expires_deletion_cancels_nothing_and_drops_messages(tbroker, clock):
    ch = tbroker.channel()
    ch.queue_declare("q", arguments={"x-expires": 100})
    ch.basic_publish("", "q", b"m")
    d = ch.basic_get("q")
    clock.advance(0.1)
    assert tbroker.get_queue("q") is None
    ch.basic_ack(d.delivery_tag)  # queue gone: silently fine
    assert ch.is_open


# -- real clock --------------------------------------------------------------------------------------
def test_real_timer_thread_dead_letters_with_nobody_looking():
    broker = Broker()
    try:
        setup = broker.channel()
        setup.queue_declare("dlq")
        setup.queue_declare("q", arguments={"x-message-ttl": 50, **DLX})
        watcher = broker.channel(inline=False)
        watcher.basic_consume("dlq", auto_ack=True)
        setup.basic_publish("", "q", b"first")
        setup.basic_publish("", "q", b"second", properties=_exp(80))
        first = watcher.get_event(timeout=5)
        second = watcher.get_event(timeout=5)
        assert isinstance(first, Delivery) and isinstance(second, Delivery)
        assert (first.body, second.body) == (b"first", b"second")
        assert first.headers["x-death"][0]["reason"] == "expired"
        assert second.headers["x-death"][0]["original-expiration"] == "80"
        assert broker.get_queue("q").message_count == 0
        broker._check()
    finally:
        broker.close()


def test_real_timer_thread_inline_callback_and_queue_expiry():
    broker = Broker()
    try:
        ch = broker.channel()
        ch.queue_declare("dlq")
        arrived = threading.Event()
        ch.basic_consume("dlq", lambda d: arrived.set(), auto_ack=True)
        ch.queue_declare("q", arguments={"x-message-ttl": 30, **DLX})
        ch.queue_declare("temp", arguments={"x-expires": 40})
        ch.basic_publish("", "q", b"m")
        assert arrived.wait(5)
        assert wait_until(lambda: broker.get_queue("temp") is None, timeout=5)
        broker._check()
    finally:
        broker.close()


def test_x_expires_removes_bindings_and_cascades_auto_delete(tbroker, clock, tch):
    tch.exchange_declare("ad", "fanout", auto_delete=True)
    tch.queue_declare("q", arguments={"x-expires": 100})
    tch.queue_bind("q", "ad")
    clock.advance(0.1)
    assert tbroker.get_queue("q") is None
    assert tbroker.get_exchange("ad") is None
