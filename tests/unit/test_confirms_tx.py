"""docs/semantics.md §8: publisher confirms (PublishOutcome) and transactions."""

from __future__ import annotations

import pytest

from core_helpers import bodies, drain, pending_events, soft
from minimq import AccessRefused, NotFound, PreconditionFailed, Properties, PublishOutcome

ROUTED, UNROUTABLE, NACKED = PublishOutcome.ROUTED, PublishOutcome.UNROUTABLE, PublishOutcome.NACKED


# -- §8.1 confirms ------------------------------------------------------------------------------------
def test_confirm_outcomes(broker):
    ch = broker.channel(inline=False)
    ch.confirm_select()
    ch.confirm_select()  # harmless
    ch.queue_declare("q")
    ch.queue_declare("full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    assert ch.basic_publish("", "q", b"1") is ROUTED
    assert ch.basic_publish("amq.direct", "none", b"2") is UNROUTABLE
    assert ch.basic_publish("amq.direct", "none", b"3", mandatory=True) is UNROUTABLE
    assert ch.basic_publish("", "full", b"4") is ROUTED
    assert ch.basic_publish("", "full", b"5") is NACKED
    assert ch.publish_seq == 5
    assert ch.is_open  # a nack does not close the channel
    assert [e.body for e in pending_events(ch)] == [b"3"]


def test_publish_sequence_counts_from_confirm_select(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"before")
    ch.confirm_select()
    assert ch.publish_seq == 0
    ch.basic_publish("", "q", b"after")
    assert ch.publish_seq == 1


def test_nack_when_any_target_refuses(ch):
    ch.exchange_declare("f", "fanout")
    ch.queue_declare("open")
    ch.queue_declare("full", arguments={"x-max-length": 0, "x-overflow": "reject-publish"})
    ch.queue_bind("open", "f")
    ch.queue_bind("full", "f")
    ch.confirm_select()
    assert ch.basic_publish("f", "", b"m") is NACKED
    assert ch.queue_declare("open", passive=True).message_count == 1


def test_routed_to_queue_that_drops_is_acked(ch):
    ch.confirm_select()
    ch.queue_declare("ttl0", arguments={"x-message-ttl": 0})
    ch.queue_declare("drop", arguments={"x-max-length": 0})
    assert ch.basic_publish("", "ttl0", b"m") is ROUTED
    assert ch.basic_publish("", "drop", b"m") is ROUTED


def test_return_precedes_confirm(broker):
    ch = broker.channel()
    ch.confirm_select()
    order = []
    ch.add_on_return_callback(lambda r: order.append("return"))
    outcome = ch.basic_publish("amq.direct", "none", b"m", mandatory=True)
    order.append(outcome)
    assert order == ["return", UNROUTABLE]


def test_channel_closing_publish_has_no_outcome(ch):
    ch.confirm_select()
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"):
        ch.basic_publish("nope", "", b"m")


def test_confirm_on_tx_channel(ch):
    ch.tx_select()
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode"):
        ch.confirm_select()


def test_tx_on_confirm_channel(ch):
    ch.confirm_select()
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode"):
        ch.tx_select()


@pytest.mark.parametrize("call", [lambda ch: ch.tx_commit(), lambda ch: ch.tx_rollback()])
def test_not_transactional(ch, call):
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - channel is not transactional"):
        call(ch)


def test_mode(ch):
    assert ch.mode == "normal"
    ch.confirm_select()
    assert ch.mode == "confirm"


# -- §8.2 transactions ---------------------------------------------------------------------------------
def test_tx_publishes_invisible_until_commit(broker):
    ch = broker.channel()
    ch.tx_select()
    ch.tx_select()  # idempotent
    ch.queue_declare("q")
    seen = []
    broker.channel().basic_consume("q", seen.append, auto_ack=True)
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    assert ch.queue_declare("q", passive=True).message_count == 0
    assert not seen
    ch.tx_commit()
    assert bodies(seen) == [b"0", b"1", b"2"]


def test_tx_rollback_discards_publishes(ch):
    ch.tx_select()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"gone")
    ch.tx_rollback()
    ch.basic_publish("", "q", b"kept")
    ch.tx_commit()  # a new transaction started automatically
    assert bodies(drain(ch, "q")) == [b"kept"]


def test_tx_validates_at_publish_time(broker):
    ch = broker.channel()
    ch.tx_select()
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"):
        ch.basic_publish("nope", "", b"m")
    ch2 = broker.channel()
    ch2.tx_select()
    ch2.exchange_declare("int", "fanout", internal=True)
    with soft(ch2, AccessRefused, 403, "ACCESS_REFUSED - cannot publish to internal exchange 'int' in vhost '/'"):
        ch2.basic_publish("int", "", b"m")
    ch3 = broker.channel()
    ch3.tx_select()
    with soft(ch3, PreconditionFailed, 406, "PRECONDITION_FAILED - invalid expiration 'x': no_integer"):
        ch3.basic_publish("", "q", b"m", properties=Properties(expiration="x"))


def test_tx_routes_at_publish_time(ch):
    ch.tx_select()
    ch.exchange_declare("x", "direct")
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    ch.basic_publish("x", "k", b"m")
    ch.queue_unbind("q", "x", "k")  # routed already
    ch.tx_commit()
    assert ch.queue_declare("q", passive=True).message_count == 1


def test_tx_acks_applied_at_commit_after_publishes(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    ch.tx_select()
    a = ch.basic_get("q")
    b = ch.basic_get("q")
    ch.basic_ack(a.delivery_tag)
    ch.basic_reject(b.delivery_tag, requeue=True)
    ch.basic_publish("", "q", b"new")
    assert ch.unacked_count == 0  # tags taken at once
    assert ch.queue_declare("q", passive=True).message_count == 1
    ch.tx_commit()
    got = drain(ch, "q")
    assert [(d.body, d.redelivered) for d in got] == [(b"1", True), (b"2", False), (b"new", False)]


def test_tx_unknown_tag_fails_immediately(ch):
    ch.queue_declare("q")
    ch.tx_select()
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 7"):
        ch.basic_ack(7)


def test_tx_double_ack_in_same_tx_is_unknown(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.tx_select()
    d = ch.basic_get("q")
    ch.basic_ack(d.delivery_tag)
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - unknown delivery tag {d.delivery_tag}"):
        ch.basic_ack(d.delivery_tag)


def test_tx_rollback_makes_settled_messages_unacked_again(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    for i in range(2):
        ch.basic_publish("", "q", b"%d" % i)
    ch.tx_select()
    a = ch.basic_get("q")
    b = ch.basic_get("q")
    ch.basic_ack(a.delivery_tag)
    ch.basic_nack(b.delivery_tag, requeue=False)
    ch.tx_rollback()
    assert ch.unacked_count == 2
    assert ch.queue_declare("q", passive=True).message_count == 0  # not requeued
    ch.basic_ack(b.delivery_tag)
    ch.basic_ack(a.delivery_tag)
    ch.tx_commit()
    assert ch.unacked_count == 0
    assert ch.queue_declare("q", passive=True).message_count == 0


def test_tx_mandatory_returns_at_commit(broker):
    ch = broker.channel(inline=False)
    ch.tx_select()
    assert ch.basic_publish("amq.direct", "none", b"m", mandatory=True) is UNROUTABLE
    assert ch.pop_event() is None
    ch.tx_commit()
    returned = ch.pop_event()
    assert (returned.reply_code, returned.body) == (312, b"m")


def test_tx_partial_completion(broker):
    ch = broker.channel()
    ch.queue_declare("full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.queue_declare("other")
    ch.tx_select()
    ch.basic_publish("", "full", b"1")
    ch.basic_publish("", "full", b"2")
    ch.basic_publish("", "other", b"3")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - partial tx completion"):
        ch.tx_commit()
    probe = broker.channel()
    assert probe.queue_declare("full", passive=True).message_count == 1
    assert probe.queue_declare("other", passive=True).message_count == 1


def test_channel_close_with_open_tx(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    for i in range(2):
        ch.basic_publish("", "q", b"%d" % i)
    ch.tx_select()
    a = ch.basic_get("q")
    ch.basic_ack(a.delivery_tag)
    ch.basic_publish("", "q", b"pending")
    ch.close()
    got = drain(broker.channel(), "q")
    assert [(d.body, d.redelivered) for d in got] == [(b"0", True), (b"1", False)]


def test_tx_commit_to_deleted_queue(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"m", mandatory=True)
    broker.channel().queue_delete("q")
    ch.tx_commit()  # the queue it was routed to is gone: commit still succeeds
    assert ch.is_open
    assert broker.get_queue("q") is None


def test_tx_settlement_of_consumer_deliveries_holds_capacity_until_commit(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    got = []
    ch.basic_consume("q", got.append)
    ch.basic_publish("", "q", b"0")
    ch.basic_publish("", "q", b"1")
    ch.tx_select()
    ch.basic_ack(got[0].delivery_tag)
    broker._check()  # the invariants hold with a settlement pending in the transaction
    assert bodies(got) == [b"0"]  # capacity is still taken
    ch.tx_rollback()
    broker._check()
    ch.basic_ack(got[0].delivery_tag)
    ch.tx_commit()
    assert bodies(got) == [b"0", b"1"]
    broker._check()
    ch.basic_nack(got[1].delivery_tag, requeue=True)
    ch.close()  # closing with a pending tx settlement: requeued
    assert broker.channel().queue_declare("q", passive=True).message_count == 1


def test_commit_returns_every_unroutable_before_delivering(broker):
    """RabbitMQ returns a commit's unroutable mandatory messages while committing; the routed ones reach
    consumers afterwards, through their queues: every return first, whatever the publish order."""
    ch = broker.channel()
    ch.queue_declare("q")
    events = []
    ch.basic_consume("q", lambda d: events.append(("deliver", d.body)), auto_ack=True)
    ch.add_on_return_callback(lambda r: events.append(("return", r.body)))
    ch.tx_select()
    for target, body in [("q", b"a1"), ("missing", b"r1"), ("q", b"a2"), ("missing", b"r2")]:
        ch.basic_publish("", target, body, mandatory=True)
    assert events == []
    ch.tx_commit()
    assert events == [("return", b"r1"), ("return", b"r2"), ("deliver", b"a1"), ("deliver", b"a2")]


def _quorum_and_classic_under_global_limit(broker):
    """A channel with a global limit of 1 whose count is at 1 (c0 unacked), three unacked quorum deliveries
    (quorum consumers are outside the limit, their settlements count) and four classic messages waiting."""
    ch = broker.channel()
    ch.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare("cq")
    quorum, classic = [], []
    ch.basic_consume("qq", quorum.append)
    ch.basic_consume("cq", classic.append)
    ch.basic_qos(prefetch_count=1, global_qos=True)
    for i in range(3):
        ch.basic_publish("", "qq", b"q%d" % i)
    for i in range(5):
        ch.basic_publish("", "cq", b"c%d" % i)
    assert bodies(classic) == [b"c0"]
    return ch, quorum, classic


@pytest.mark.parametrize("settle, released", [
    # two acks are one run: the count goes 1 -> -1, two classic messages follow
    (lambda ch, q: (ch.basic_ack(q[0].delivery_tag), ch.basic_ack(q[1].delivery_tag)), [b"c1", b"c2"]),
    # a publish between them does not break the run
    (lambda ch, q: (ch.basic_ack(q[0].delivery_tag), ch.basic_publish("", "elsewhere", b"x"),
                    ch.basic_ack(q[1].delivery_tag)), [b"c1", b"c2"]),
    # ack, nack, ack are three runs: 1 -> 0, then 0 stays 0
    (lambda ch, q: (ch.basic_ack(q[0].delivery_tag), ch.basic_nack(q[1].delivery_tag),
                    ch.basic_ack(q[2].delivery_tag)), [b"c1"]),
    # a nack and a reject with the same requeue flag are one run
    (lambda ch, q: (ch.basic_nack(q[0].delivery_tag), ch.basic_reject(q[1].delivery_tag)), [b"c1", b"c2"]),
])
def test_commit_applies_consecutive_settlements_of_a_kind_as_one(broker, settle, released):
    ch, quorum, classic = _quorum_and_classic_under_global_limit(broker)
    ch.tx_select()
    settle(ch, quorum)
    ch.tx_commit()
    assert bodies(classic) == [b"c0", *released]


def test_commit_dead_letters_a_run_in_delivery_tag_order(broker):
    ch = broker.channel()
    ch.queue_declare("dlq")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    for i in range(4):
        ch.basic_publish("", "q", b"m%d" % i)
    tags = [ch.basic_get("q").delivery_tag for _ in range(4)]
    ch.tx_select()
    for tag in reversed(tags):
        ch.basic_reject(tag, requeue=False)
    ch.tx_commit()
    assert bodies(drain(ch, "dlq")) == [b"m0", b"m1", b"m2", b"m3"]
