"""docs/semantics.md §11: when and where messages are dead-lettered, the x-death header, cycles and order."""

from __future__ import annotations

import datetime

import pytest

from core_helpers import bodies, collector, drain
from minimq import Properties

WALL = datetime.datetime(2023, 11, 14, 22, 13, 20)  # ManualClock's default wall time, 1_700_000_000


def _dl_queue(ch, name="q", dlrk="dlq", dlx="", **extra):
    args = {"x-dead-letter-exchange": dlx, **extra}
    if dlrk is not None:
        args["x-dead-letter-routing-key"] = dlrk
    ch.queue_declare(name, arguments=args)


@pytest.fixture
def dl(tch):
    tch.queue_declare("dlq")
    return tch


# -- §11.1 when -------------------------------------------------------------------------------------
def test_reject_and_nack_without_requeue_dead_letter(dl):
    _dl_queue(dl)
    for i in range(3):
        dl.basic_publish("", "q", b"%d" % i)
    a, b, c = (dl.basic_get("q") for _ in range(3))
    dl.basic_reject(a.delivery_tag, requeue=False)
    dl.basic_nack(b.delivery_tag, requeue=False)
    dl.basic_nack(c.delivery_tag, requeue=True)
    got = drain(dl, "dlq")
    assert bodies(got) == [b"0", b"1"]
    assert all(d.headers["x-death"][0]["reason"] == "rejected" for d in got)


@pytest.mark.parametrize("how", ["requeue", "purge", "delete", "reject-publish", "auto-ack", "close"])
def test_never_dead_lettered(dl, how):
    overflow = {"x-max-length": 0, "x-overflow": "reject-publish"} if how == "reject-publish" else {}
    _dl_queue(dl, **overflow)
    dl.basic_publish("", "q", b"m")
    if how == "requeue":
        dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=True)
    elif how == "purge":
        dl.queue_purge("q")
    elif how == "delete":
        dl.queue_delete("q")
    elif how == "auto-ack":
        dl.basic_get("q", auto_ack=True)
    elif how == "close":
        other = dl.connection.channel()
        other.basic_get("q")
        other.close()
    assert dl.queue_declare("dlq", passive=True).message_count == 0


def test_unroutable_publish_not_dead_lettered(dl):
    dl.exchange_declare("x", "direct")
    assert dl.basic_publish("x", "k", b"m") == 2
    assert dl.queue_declare("dlq", passive=True).message_count == 0


# -- §11.2 where -------------------------------------------------------------------------------------
def test_missing_dlx_drops_silently(dl):
    _dl_queue(dl, dlx="no-such-exchange")
    dl.basic_publish("", "q", b"m")
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    assert dl.is_open
    assert dl.queue_declare("q", passive=True).message_count == 0


def test_dlx_looked_up_at_death(dl):
    _dl_queue(dl, dlx="late", dlrk=None)
    dl.basic_publish("", "q", b"m")
    d = dl.basic_get("q")
    dl.exchange_declare("late", "fanout")
    dl.queue_bind("dlq", "late")
    dl.basic_reject(d.delivery_tag, requeue=False)
    assert dl.basic_get("dlq", auto_ack=True).exchange == "late"


def test_routing_with_original_keys_including_cc(dl):
    dl.exchange_declare("dlx", "direct")
    for q in ("by-key", "by-cc"):
        dl.queue_declare(q)
    dl.queue_bind("by-key", "dlx", "orig")
    dl.queue_bind("by-cc", "dlx", "cc-key")
    _dl_queue(dl, dlx="dlx", dlrk=None)
    dl.queue_bind("q", "amq.direct", "orig")
    dl.basic_publish("amq.direct", "orig", b"m", properties=Properties(headers={"CC": ["cc-key"]}))
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    for q in ("by-key", "by-cc"):
        d = dl.basic_get(q, auto_ack=True)
        assert (d.exchange, d.routing_key, d.redelivered) == ("dlx", "orig", False)
        assert d.headers["CC"] == ["cc-key"]


def test_routing_with_original_bcc_keys(dl):
    dl.exchange_declare("dlx", "direct")
    dl.queue_declare("by-bcc")
    dl.queue_bind("by-bcc", "dlx", "bcc-key")
    _dl_queue(dl, dlx="dlx", dlrk=None)
    dl.basic_publish("", "q", b"m", properties=Properties(headers={"BCC": ["bcc-key"]}))
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    assert dl.queue_declare("by-bcc", passive=True).message_count == 1


def test_dead_letter_routing_key_replaces_keys_and_drops_cc(dl):
    dl.exchange_declare("dlx", "direct")
    dl.queue_declare("cc-target")
    dl.queue_bind("cc-target", "dlx", "cc-key")
    dl.queue_bind("dlq", "dlx", "fixed")
    _dl_queue(dl, dlx="dlx", dlrk="fixed")
    dl.basic_publish("", "q", b"m", properties=Properties(headers={"CC": ["cc-key"], "keep": 1}))
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    assert dl.queue_declare("cc-target", passive=True).message_count == 0
    d = dl.basic_get("dlq", auto_ack=True)
    assert (d.exchange, d.routing_key) == ("dlx", "fixed")
    assert "CC" not in d.headers and d.headers["keep"] == 1
    assert d.headers["x-death"][0]["routing-keys"] == ["q", "cc-key"]


def test_unroutable_dead_letter_dropped(dl):
    dl.exchange_declare("dlx", "direct")
    _dl_queue(dl, dlx="dlx", dlrk="nowhere")
    dl.basic_publish("", "q", b"m")
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    assert dl.is_open


# -- §11.3 x-death -----------------------------------------------------------------------------------
def test_first_death_headers_and_entry_fields(tbroker, dl):
    dl.exchange_declare("dlx", "fanout")
    dl.queue_bind("dlq", "dlx")
    _dl_queue(dl, dlx="dlx", dlrk=None)
    dl.queue_bind("q", "amq.topic", "a.b")
    props = Properties(headers={"zeta": 1, "CC": ["a.c"], "app": "x"}, expiration="60000", priority=3,
                       message_id="mid", correlation_id="cid", delivery_mode=2, content_type="t/p")
    dl.basic_publish("amq.topic", "a.b", b"body", properties=props)
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    d = dl.basic_get("dlq", auto_ack=True)
    assert d.body == b"body"
    headers = d.headers
    assert list(headers) == ["CC", "app", "x-death", "x-first-death-exchange", "x-first-death-queue",
                             "x-first-death-reason", "zeta"]
    assert (headers["x-first-death-reason"], headers["x-first-death-queue"], headers["x-first-death-exchange"]) \
        == ("rejected", "q", "amq.topic")
    (entry,) = headers["x-death"]
    assert list(entry) == ["count", "reason", "queue", "time", "exchange", "routing-keys", "original-expiration"]
    assert entry == {"count": 1, "reason": "rejected", "queue": "q", "time": WALL, "exchange": "amq.topic",
                     "routing-keys": ["a.b", "a.c"], "original-expiration": "60000"}
    assert not any(k.startswith("x-last-death") for k in headers)
    p = d.properties
    assert p.expiration is None
    assert (p.priority, p.message_id, p.correlation_id, p.delivery_mode, p.content_type) == \
        (3, "mid", "cid", 2, "t/p")


def test_no_original_expiration_without_expiration(dl):
    _dl_queue(dl)
    dl.basic_publish("", "q", b"m")
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    entry = dl.basic_get("dlq", auto_ack=True).headers["x-death"][0]
    assert "original-expiration" not in entry
    assert entry["routing-keys"] == ["q"]


def test_bcc_never_in_routing_keys(dl):
    _dl_queue(dl)
    dl.queue_declare("bcc-copy")
    dl.basic_publish("", "q", b"m", properties=Properties(headers={"BCC": ["bcc-copy"], "CC": ["none"]}))
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    entry = dl.basic_get("dlq", auto_ack=True).headers["x-death"][0]
    assert entry["routing-keys"] == ["q", "none"]


def test_repeat_death_increments_count_and_keeps_first_time(tbroker, clock, dl):
    """A queue that dead-letters rejected messages back to itself: one entry, count grows, time fixed."""
    dl.queue_declare("loop", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "loop"})
    dl.basic_publish("", "loop", b"m")
    for n in range(1, 4):
        d = dl.basic_get("loop")
        dl.basic_reject(d.delivery_tag, requeue=False)
        clock.advance(5)
    d = dl.basic_get("loop", auto_ack=True)
    (entry,) = d.headers["x-death"]
    assert entry["count"] == 3
    assert entry["time"] == WALL
    assert list(entry) == sorted(entry)  # an updated entry is sorted by key
    assert d.redelivered is False


def test_multi_hop_history_newest_first(tbroker, clock, dl):
    # q1 --(rejected)--> q2 --(expired)--> q3 --(maxlen)--> dlq
    dl.exchange_declare("dlx1", "fanout")
    dl.exchange_declare("dlx2", "fanout")
    dl.exchange_declare("dlx3", "fanout")
    dl.queue_declare("q1", arguments={"x-dead-letter-exchange": "dlx1"})
    dl.queue_declare("q2", arguments={"x-dead-letter-exchange": "dlx2", "x-message-ttl": 100})
    dl.queue_declare("q3", arguments={"x-dead-letter-exchange": "dlx3", "x-max-length": 1})
    dl.queue_bind("q2", "dlx1")
    dl.queue_bind("q3", "dlx2")
    dl.queue_bind("dlq", "dlx3")
    dl.basic_publish("", "q1", b"m")
    dl.basic_reject(dl.basic_get("q1").delivery_tag, requeue=False)
    clock.advance(0.1)
    dl.basic_publish("", "q3", b"pusher")  # q3 over its max-length: the head (m) dies 'maxlen'
    d = dl.basic_get("dlq", auto_ack=True)
    deaths = d.headers["x-death"]
    assert [(e["queue"], e["reason"], e["exchange"], e["count"]) for e in deaths] == [
        ("q3", "maxlen", "dlx2", 1), ("q2", "expired", "dlx1", 1), ("q1", "rejected", "", 1)]
    assert [e["routing-keys"] for e in deaths] == [["q1"], ["q1"], ["q1"]]
    assert (d.headers["x-first-death-queue"], d.headers["x-first-death-reason"],
            d.headers["x-first-death-exchange"]) == ("q1", "rejected", "")
    assert list(deaths[1]) == sorted(deaths[1])
    assert (d.exchange, d.routing_key) == ("dlx3", "q1")


def test_existing_entry_moves_to_front(dl):
    # a: reject -> b ; b: reject -> a ; a: reject again -> entry (a, rejected) count 2 moves to the front
    dl.queue_declare("a", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "b"})
    dl.queue_declare("b", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "a"})
    dl.basic_publish("", "a", b"m")
    for q in ("a", "b", "a"):
        dl.basic_reject(dl.basic_get(q).delivery_tag, requeue=False)
    deaths = dl.basic_get("b", auto_ack=True).headers["x-death"]
    assert [(e["queue"], e["count"]) for e in deaths] == [("a", 2), ("b", 1)]


def test_dead_lettered_copy_is_a_new_message(tbroker, clock, dl):
    dl.queue_declare("target", arguments={"x-message-ttl": 1000})
    _dl_queue(dl, dlrk="target", **{"x-message-ttl": 50000})
    dl.basic_publish("", "q", b"m", properties=Properties(expiration="40000"))
    clock.advance(30)
    dl.basic_reject(dl.basic_get("q").delivery_tag, requeue=False)
    clock.advance(0.999)  # new TTL computation in the target queue, from the death
    d = dl.basic_get("target")
    assert (d.body, d.redelivered, d.delivery_tag) == (b"m", False, 2)


# -- §11.5 cycles ---------------------------------------------------------------------------------------
def test_expiry_loop_to_self_drops_on_first_return(tbroker, clock, tch):
    tch.queue_declare("self", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                         "x-dead-letter-routing-key": "self"})
    tch.basic_publish("", "self", b"m")
    clock.advance(0.1)
    assert tch.queue_declare("self", passive=True).message_count == 0
    tbroker._check()


def test_expiry_cycle_through_two_queues(tbroker, clock, tch):
    tch.queue_declare("q1", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": "q2"})
    tch.queue_declare("q2", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                       "x-dead-letter-routing-key": "q1"})
    tch.basic_publish("", "q1", b"m")
    clock.advance(0.1)
    assert tch.queue_declare("q2", passive=True).message_count == 1
    clock.advance(0.1)  # back to q1: q1 is in x-death with no rejection since -> dropped
    assert tch.queue_declare("q1", passive=True).message_count == 0
    assert tch.queue_declare("q2", passive=True).message_count == 0


def test_cycle_drop_only_for_the_cycling_target(tbroker, clock, tch):
    tch.exchange_declare("dlx", "fanout")
    tch.queue_declare("self", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "dlx"})
    tch.queue_declare("side")
    tch.queue_bind("self", "dlx")
    tch.queue_bind("side", "dlx")
    tch.basic_publish("", "self", b"m")
    clock.advance(0.1)
    assert tch.queue_declare("side", passive=True).message_count == 1
    assert tch.queue_declare("self", passive=True).message_count == 0


def test_rejection_in_history_breaks_the_cycle_rule(tbroker, clock, tch):
    # q (ttl) -> r ; r: rejected -> q ; back in q it may expire again -> r (allowed: a rejection since)
    tch.queue_declare("q", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                      "x-dead-letter-routing-key": "r"})
    tch.queue_declare("r", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "q"})
    tch.basic_publish("", "q", b"m")
    clock.advance(0.1)
    tch.basic_reject(tch.basic_get("r").delivery_tag, requeue=False)
    assert tch.queue_declare("q", passive=True).message_count == 1
    clock.advance(0.1)
    d = tch.basic_get("r", auto_ack=True)
    assert [(e["queue"], e["reason"], e["count"]) for e in d.headers["x-death"]] == [
        ("q", "expired", 2), ("r", "rejected", 1)]


# -- §11.6 order ----------------------------------------------------------------------------------------
def test_nack_multiple_dead_letters_in_ascending_tag_order(dl):
    _dl_queue(dl)
    dl.basic_qos(prefetch_count=0)
    for i in range(4):
        dl.basic_publish("", "q", b"%d" % i)
    _, got = collector(dl, "q")
    dl.basic_nack(got[-1].delivery_tag, multiple=True, requeue=False)
    assert bodies(drain(dl, "dlq")) == [b"0", b"1", b"2", b"3"]
