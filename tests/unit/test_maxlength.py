"""docs/semantics.md §12: x-max-length, x-max-length-bytes and x-overflow."""

from __future__ import annotations

import pytest

from core_helpers import bodies, collector, drain
from minimq import Properties, PublishOutcome

ROUTED, NACKED = PublishOutcome.ROUTED, PublishOutcome.NACKED
DLX = {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"}


@pytest.fixture
def mch(ch):
    ch.queue_declare("dlq")
    return ch


def _dead(ch):
    got = drain(ch, "dlq")
    assert all(d.headers["x-death"][0]["reason"] == "maxlen" for d in got)
    return bodies(got)


# -- drop-head ------------------------------------------------------------------------------------------
def test_drop_head_max_length(mch):
    mch.queue_declare("q", arguments={"x-max-length": 2, **DLX})
    for i in range(5):
        assert mch.basic_publish("", "q", b"%d" % i) is ROUTED
    assert bodies(drain(mch, "q")) == [b"3", b"4"]
    assert _dead(mch) == [b"0", b"1", b"2"]


def test_drop_head_max_length_bytes_counts_bodies_only(mch):
    mch.queue_declare("q", arguments={"x-max-length-bytes": 10, **DLX})
    big_headers = Properties(headers={"h": "x" * 1000}, content_type="y" * 200)
    for body in (b"aaaa", b"bbbb", b"cc"):  # 10 bytes exactly
        mch.basic_publish("", "q", body, properties=big_headers)
    assert mch.queue_declare("q", passive=True).message_count == 3
    mch.basic_publish("", "q", b"d")  # 11 > 10: drop the head
    assert bodies(drain(mch, "q")) == [b"bbbb", b"cc", b"d"]
    assert _dead(mch) == [b"aaaa"]


def test_drop_head_both_limits(mch):
    mch.queue_declare("q", arguments={"x-max-length": 3, "x-max-length-bytes": 4, **DLX})
    for body in (b"a", b"b", b"c"):
        mch.basic_publish("", "q", body)
    mch.basic_publish("", "q", b"d")  # 4 messages: the count limit drops a
    assert _dead(mch) == [b"a"]
    mch.basic_publish("", "q", b"eee")  # 4 messages, 6 bytes: drop b (count), then c (bytes)
    assert bodies(drain(mch, "q")) == [b"d", b"eee"]
    assert _dead(mch) == [b"b", b"c"]


def test_drop_head_removes_new_message_when_it_alone_is_too_big(mch):
    mch.queue_declare("q", arguments={"x-max-length-bytes": 3, **DLX})
    mch.basic_publish("", "q", b"ok")
    assert mch.basic_publish("", "q", b"too-big") is ROUTED
    assert mch.queue_declare("q", passive=True).message_count == 0
    assert _dead(mch) == [b"ok", b"too-big"]


def test_max_length_zero_stores_nothing_but_feeds_a_waiting_consumer(mch):
    mch.queue_declare("q", arguments={"x-max-length": 0, **DLX})
    mch.basic_publish("", "q", b"dropped")
    assert mch.queue_declare("q", passive=True).message_count == 0
    assert _dead(mch) == [b"dropped"]
    _, got = collector(mch, "q", auto_ack=True)
    mch.basic_publish("", "q", b"delivered")
    assert bodies(got) == [b"delivered"]
    assert _dead(mch) == []


def test_drop_head_offers_new_message_to_consumer_first(mch):
    mch.queue_declare("q", arguments={"x-max-length": 1, **DLX})
    mch.basic_qos(prefetch_count=2)
    _, got = collector(mch, "q")
    for i in range(4):
        mch.basic_publish("", "q", b"%d" % i)
    assert bodies(got) == [b"0", b"1"]
    assert bodies(drain(mch, "q")) == [b"3"]
    assert _dead(mch) == [b"2"]


def test_unacked_do_not_count(mch):
    mch.queue_declare("q", arguments={"x-max-length": 1, **DLX})
    mch.basic_publish("", "q", b"0")
    mch.basic_get("q")
    mch.basic_publish("", "q", b"1")
    assert mch.queue_declare("q", passive=True).message_count == 1
    assert _dead(mch) == []


def test_drop_head_requeue_over_limit_drops_the_requeued(mch):
    mch.queue_declare("q", arguments={"x-max-length": 2, **DLX})
    mch.basic_publish("", "q", b"0")
    mch.basic_publish("", "q", b"1")
    held = [mch.basic_get("q"), mch.basic_get("q")]
    mch.basic_publish("", "q", b"2")
    mch.basic_publish("", "q", b"3")
    mch.basic_nack(held[1].delivery_tag, multiple=True, requeue=True)  # 0, 1 return to the head
    assert bodies(drain(mch, "q")) == [b"2", b"3"]
    assert _dead(mch) == [b"0", b"1"]


def test_priority_queue_drop_head_removes_highest_first(mch):
    mch.queue_declare("q", arguments={"x-max-length": 2, "x-max-priority": 5, **DLX})
    mch.basic_publish("", "q", b"low", properties=Properties(priority=1))
    mch.basic_publish("", "q", b"high", properties=Properties(priority=5))
    mch.basic_publish("", "q", b"mid", properties=Properties(priority=3))
    assert bodies(drain(mch, "q")) == [b"mid", b"low"]
    assert _dead(mch) == [b"high"]


# -- reject-publish ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("overflow", ["reject-publish", "reject-publish-dlx"])
def test_reject_publish(mch, overflow):
    mch.queue_declare("q", arguments={"x-max-length": 2, "x-overflow": overflow, **DLX})
    mch.confirm_select()
    outcomes = [mch.basic_publish("", "q", b"%d" % i) for i in range(4)]
    assert outcomes == [ROUTED, ROUTED, NACKED, NACKED]
    assert bodies(drain(mch, "q")) == [b"0", b"1"]
    assert _dead(mch) == ([b"2", b"3"] if overflow == "reject-publish-dlx" else [])


def test_reject_publish_without_confirms_drops_silently(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.basic_publish("", "q", b"0")
    ch.basic_publish("", "q", b"1", mandatory=True)
    assert ch.pop_event() is None  # routed: no return
    assert ch.is_open
    assert bodies(drain(ch, "q")) == [b"0"]


def test_reject_publish_bytes_equality_allowed(mch):
    mch.queue_declare("q", arguments={"x-max-length-bytes": 4, "x-overflow": "reject-publish"})
    mch.confirm_select()
    assert mch.basic_publish("", "q", b"abcd") is ROUTED
    assert mch.basic_publish("", "q", b"") is ROUTED  # an empty body fits exactly
    assert mch.basic_publish("", "q", b"e") is NACKED
    assert mch.queue_declare("q", passive=True).message_count == 2


def test_reject_publish_checked_before_consumers(mch):
    mch.queue_declare("q", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    _, got = collector(mch, "q", auto_ack=True)
    mch.confirm_select()
    assert mch.basic_publish("", "q", b"m") is NACKED
    assert got == []


def test_reject_publish_never_refuses_requeues(mch):
    mch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    mch.basic_publish("", "q", b"0")
    held = mch.basic_get("q")
    mch.basic_publish("", "q", b"1")
    mch.basic_reject(held.delivery_tag)
    assert mch.queue_declare("q", passive=True).message_count == 2
    assert bodies(drain(mch, "q")) == [b"0", b"1"]
