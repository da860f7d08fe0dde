"""docs/semantics.md §7: delivery tags, basic.get, consumers, prefetch, acks, recover, cancel, exclusive, SAC."""

from __future__ import annotations

import pytest

from core_helpers import bodies, collector, drain, hard, pending_events, soft
from minimq import AccessRefused, NotAllowed, NotFound, NotImplementedByServer, PreconditionFailed


def _fill(ch, queue, n, prefix=b""):
    for i in range(n):
        ch.basic_publish("", queue, prefix + b"%d" % i)


# -- §7.1 tags --------------------------------------------------------------------------------------
def test_tags_per_channel_for_deliver_and_get(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.queue_declare("c")
    _fill(ch, "q", 4)
    assert ch.basic_get("q").delivery_tag == 1
    assert ch.basic_get("q", auto_ack=True).delivery_tag == 2  # auto-ack gets consume tags too
    _, got = collector(ch, "c", auto_ack=True)
    ch.basic_publish("", "c", b"x")
    assert got[0].delivery_tag == 3
    assert ch.basic_get("q").delivery_tag == 4
    other = broker.channel()
    assert other.basic_get("q").delivery_tag == 1  # channels count independently


def test_redelivery_gets_a_new_tag(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    first = ch.basic_get("q")
    ch.basic_reject(first.delivery_tag)
    again = ch.basic_get("q")
    assert (again.delivery_tag, again.redelivered) == (2, True)


# -- §7.2 / §7.3 fields and basic.get ---------------------------------------------------------------------
def test_get_fields_and_message_count(ch):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct", "rk")
    ch.basic_publish("amq.direct", "rk", b"1")
    ch.basic_publish("amq.direct", "rk", b"2")
    d = ch.basic_get("q")
    assert (d.body, d.exchange, d.routing_key, d.redelivered, d.message_count, d.consumer_tag) == \
        (b"1", "amq.direct", "rk", False, 1, None)
    assert ch.basic_get("q").message_count == 0
    assert ch.basic_get("q") is None


def test_get_auto_ack_cannot_be_acked(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    d = ch.basic_get("q", auto_ack=True)
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 1"):
        ch.basic_ack(d.delivery_tag)
    assert broker.channel().queue_declare("q", passive=True).message_count == 0


def test_get_ignores_consumers_exclusive_and_prefetch(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    holder = broker.channel()
    holder.basic_qos(prefetch_count=1)
    holder.basic_consume("q", lambda d: None, exclusive=True)
    _fill(ch, "q", 3)
    ch.basic_qos(prefetch_count=1)
    ch.basic_qos(prefetch_count=1, global_qos=True)
    assert bodies([ch.basic_get("q"), ch.basic_get("q")]) == [b"1", b"2"]


# -- §7.4 consumers ----------------------------------------------------------------------------------------
def test_round_robin(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _, a = collector(ch, "q", consumer_tag="a", auto_ack=True)
    _, b = collector(ch, "q", consumer_tag="b", auto_ack=True)
    _fill(ch, "q", 6)
    assert bodies(a) == [b"0", b"2", b"4"]
    assert bodies(b) == [b"1", b"3", b"5"]
    _, c = collector(ch, "q", consumer_tag="c", auto_ack=True)  # joins at the back
    _fill(ch, "q", 3, b"n")
    assert (bodies(a[3:]), bodies(b[3:]), bodies(c)) == ([b"n0"], [b"n1"], [b"n2"])


def test_blocked_consumer_rejoins_at_the_back(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    _, a = collector(ch, "q", consumer_tag="a")
    ch.basic_qos(prefetch_count=0)
    _, b = collector(ch, "q", consumer_tag="b")
    _, c = collector(ch, "q", consumer_tag="c")
    _fill(ch, "q", 4)  # a:0 (now blocked), b:1, c:2, b:3
    assert (bodies(a), bodies(b), bodies(c)) == ([b"0"], [b"1", b"3"], [b"2"])
    ch.basic_ack(a[0].delivery_tag)  # a regains capacity: back of the rotation (after c, b)
    _fill(ch, "q", 3, b"n")
    assert (bodies(a[1:]), bodies(b[2:]), bodies(c[1:])) == ([b"n2"], [b"n1"], [b"n0"])


def test_consumer_gets_ready_messages_up_to_capacity(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 5)
    ch.basic_qos(prefetch_count=3)
    _, got = collector(ch, "q")
    assert bodies(got) == [b"0", b"1", b"2"]
    assert ch.queue_declare("q", passive=True).message_count == 2


def test_x_priority_must_be_integer(ch):
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - invalid arg 'x-priority' for queue 'q' in vhost "
              "'/': \"expected integer, got longstr\""):
        ch.basic_consume("q", print, arguments={"x-priority": "high"})


def test_consume_missing_queue(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'nope' in vhost '/'"):
        ch.basic_consume("nope", print)


def test_consumer_tag_reuse_is_530(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", print, consumer_tag="t")
    broker.channel().basic_consume("q", print, consumer_tag="t")  # other channel: fine
    with hard(ch, NotAllowed, 530, "NOT_ALLOWED - attempt to reuse consumer tag 't'"):
        ch.basic_consume("q", print, consumer_tag="t")


# -- §7.7 qos -------------------------------------------------------------------------------------------
def test_per_consumer_prefetch(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=2)
    _, a = collector(ch, "q")
    _, b = collector(ch, "q")
    _fill(ch, "q", 6)
    assert (len(a), len(b)) == (2, 2)
    assert ch.queue_declare("q", passive=True).message_count == 2
    ch.basic_ack(a[0].delivery_tag)
    assert len(a) == 3


def test_existing_consumers_keep_their_prefetch(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    _, first = collector(ch, "q", consumer_tag="first")
    ch.basic_qos(prefetch_count=5)
    _fill(ch, "q", 3)
    assert len(first) == 1  # still limited to 1
    ch.basic_qos(prefetch_count=0)
    ch.basic_publish("", "q", b"x")
    assert len(first) == 1
    ch.basic_cancel("first")
    ch.basic_qos(prefetch_count=2)
    _, second = collector(ch, "q", consumer_tag="second")
    assert len(second) == 2  # a new consumer takes the new limit


def test_prefetch_zero_is_unlimited(ch):
    ch.queue_declare("q")
    _fill(ch, "q", 50)
    _, got = collector(ch, "q")
    assert len(got) == 50


def test_global_prefetch_shared_and_immediate(broker):
    ch = broker.channel()
    ch.queue_declare("q1")
    ch.queue_declare("q2")
    _, a = collector(ch, "q1")
    _, b = collector(ch, "q2")
    ch.basic_qos(prefetch_count=3, global_qos=True)  # immediate, also for existing consumers
    _fill(ch, "q1", 2)
    _fill(ch, "q2", 2)
    assert len(a) + len(b) == 3
    assert (len(a), len(b)) == (2, 1)
    ch.basic_ack(a[0].delivery_tag)
    assert len(b) == 2
    ch.basic_publish("", "q1", b"more")
    assert len(a) + len(b) == 4
    ch.basic_qos(prefetch_count=0, global_qos=True)  # removes it
    assert len(a) == 3


def test_per_consumer_qos_clears_global(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    _, a = collector(ch, "q")
    _fill(ch, "q", 3)
    assert len(a) == 1
    ch.basic_qos(prefetch_count=10)  # clears the channel-wide limit; a (created with 0) is unlimited
    assert len(a) == 3


def test_global_and_per_consumer_limits_both_apply(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    _, a = collector(ch, "q")
    ch.basic_qos(prefetch_count=0)
    _, b = collector(ch, "q")
    ch.basic_qos(prefetch_count=3, global_qos=True)
    _fill(ch, "q", 6)
    assert (len(a), len(b)) == (1, 2)


def test_auto_ack_consumers_ignore_per_consumer_prefetch(ch):
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    _, got = collector(ch, "q", auto_ack=True)
    _fill(ch, "q", 5)
    assert len(got) == 5


def test_auto_ack_consumer_stops_while_global_limit_reached(broker):
    ch = broker.channel()
    ch.queue_declare("acked")
    ch.queue_declare("auto")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    _, manual = collector(ch, "acked")
    _, auto = collector(ch, "auto", auto_ack=True)
    ch.basic_publish("", "auto", b"a0")
    assert bodies(auto) == [b"a0"]  # auto-ack deliveries do not use the limit
    ch.basic_publish("", "acked", b"m0")
    ch.basic_publish("", "auto", b"a1")
    assert bodies(auto) == [b"a0"]  # limit reached by the ack-requiring delivery
    ch.basic_ack(manual[0].delivery_tag)
    assert bodies(auto) == [b"a0", b"a1"]


def test_prefetch_size_is_540(ch):
    with hard(ch, NotImplementedByServer, 540, "NOT_IMPLEMENTED - prefetch_size!=0 (10)"):
        ch.basic_qos(prefetch_size=10)


# -- §7.6 acknowledgements --------------------------------------------------------------------------
@pytest.fixture
def three(broker):
    """A channel holding deliveries 1, 2, 3 (bodies 0, 1, 2) from queue q, plus 3, 4 still ready."""
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 5)
    for _ in range(3):
        ch.basic_get("q")
    return ch


def test_ack_multiple(three):
    three.basic_ack(2, multiple=True)
    assert list(three._unacked) == [3]


def test_ack_zero_multiple_settles_all_and_never_fails(broker, three):
    three.basic_ack(0, multiple=True)
    assert three.unacked_count == 0
    three.basic_ack(0, multiple=True)
    assert three.is_open


def test_ack_zero_is_unknown_tag(three):
    with soft(three, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 0"):
        three.basic_ack()


def test_multiple_with_unknown_tag_settles_nothing(broker, three):
    three.basic_ack(2)
    with soft(three, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 2"):
        three.basic_ack(2, multiple=True)
    # tags 1 and 3 were not acked: the close requeued them
    other = broker.channel()
    got = drain(other, "q")
    assert bodies(got) == [b"0", b"2", b"3", b"4"]
    assert [d.redelivered for d in got] == [True, True, False, False]


@pytest.mark.parametrize("settle", [
    lambda ch: ch.basic_ack(9), lambda ch: ch.basic_nack(9), lambda ch: ch.basic_reject(9),
    lambda ch: ch.basic_nack(9, multiple=True, requeue=False),
])
def test_unknown_tag_for_every_settlement(three, settle):
    with soft(three, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 9"):
        settle(three)


def test_double_ack(three):
    three.basic_ack(1)
    with soft(three, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 1"):
        three.basic_ack(1)


def test_ack_on_another_channel(broker, three):
    other = broker.channel()
    with soft(other, PreconditionFailed, 406, "PRECONDITION_FAILED - unknown delivery tag 1"):
        other.basic_ack(1)
    assert three.is_open and three.unacked_count == 3
    three.basic_ack(1)


def test_requeue_returns_to_original_position(broker, three):
    three.basic_reject(2)
    three.basic_nack(3, requeue=True)
    three.basic_nack(1, requeue=True)
    got = drain(broker.channel(), "q")
    assert bodies(got) == [b"0", b"1", b"2", b"3", b"4"]
    assert [d.redelivered for d in got] == [True, True, True, False, False]


def test_nack_multiple_requeue_keeps_order(broker, three):
    three.basic_nack(3, multiple=True, requeue=True)
    got = drain(three, "q")
    assert bodies(got) == [b"0", b"1", b"2", b"3", b"4"]


def test_requeue_without_requeue_discards(broker, three):
    three.basic_nack(2, multiple=True, requeue=False)
    three.basic_reject(3, requeue=False)
    assert three.queue_declare("q", passive=True).message_count == 2
    three.close()
    assert broker.channel().queue_declare("q", passive=True).message_count == 2


def test_requeued_message_is_redelivered_immediately_to_consumer(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    got = []
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", got.append)
    _fill(ch, "q", 2)
    ch.basic_reject(got[0].delivery_tag, requeue=True)
    assert [(d.body, d.redelivered, d.delivery_tag) for d in got] == [(b"0", False, 1), (b"0", True, 2)]


def test_ack_after_cancel(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    tag, got = collector(ch, "q")
    _fill(ch, "q", 2)
    ch.basic_cancel(tag)
    ch.basic_publish("", "q", b"after")
    assert len(got) == 2
    ch.basic_ack(got[0].delivery_tag)
    ch.basic_nack(got[1].delivery_tag)
    assert bodies(drain(ch, "q")) == [b"1", b"after"]


# -- §7.8 cancel, recover, flow ------------------------------------------------------------------------
def test_cancel_unknown_tag_is_fine(ch):
    ch.basic_cancel("never")
    assert ch.is_open


def test_cancel_keeps_unacked_until_channel_close(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    tag, got = collector(ch, "q")
    _fill(ch, "q", 2)
    ch.basic_cancel(tag)
    assert ch.unacked_count == 2
    assert ch.queue_declare("q", passive=True).message_count == 0
    ch.close()
    got2 = drain(broker.channel(), "q")
    assert [(d.body, d.redelivered) for d in got2] == [(b"0", True), (b"1", True)]


def test_recover_requeue_true(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.queue_declare("g")
    _fill(ch, "g", 2, b"g")
    got_via_get = ch.basic_get("g")
    _, got = collector(ch, "q")
    _fill(ch, "q", 2)
    ch.basic_ack(got[0].delivery_tag)
    ch.basic_recover(requeue=True)
    # the consumer's unacked message comes back to it at once with a new tag
    assert [(d.body, d.redelivered, d.delivery_tag) for d in got] == \
        [(b"0", False, 2), (b"1", False, 3), (b"1", True, 4)]
    g = drain(ch, "g")
    assert [(d.body, d.redelivered) for d in g] == [(b"g0", True), (b"g1", False)]
    assert got_via_get.delivery_tag == 1


def test_recover_default_is_540(ch):
    with hard(ch, NotImplementedByServer, 540, "NOT_IMPLEMENTED - requeue=false"):
        ch.basic_recover()


def test_flow(ch):
    assert ch.flow(True) is True
    with hard(ch, NotImplementedByServer, 540, "NOT_IMPLEMENTED - active=false"):
        ch.flow(False)


# -- §7.5 exclusive consumers ----------------------------------------------------------------------------
EXCLUSIVE_USE = "ACCESS_REFUSED - queue 'q' in vhost '/' in exclusive use"


def test_exclusive_consumer_blocks_others(broker):
    owner = broker.channel()
    owner.queue_declare("q")
    tag = owner.basic_consume("q", lambda d: None, exclusive=True)
    ch = broker.channel()
    with soft(ch, AccessRefused, 403, EXCLUSIVE_USE):
        ch.basic_consume("q", print)
    ch2 = owner.connection.channel()
    with soft(ch2, AccessRefused, 403, EXCLUSIVE_USE):
        ch2.basic_consume("q", print)  # even on the same connection
    owner.basic_publish("", "q", b"m")
    owner.basic_cancel(tag)
    broker.channel().basic_consume("q", print)  # allowed again


def test_exclusive_consume_when_consumers_exist(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", print)
    other = broker.channel()
    with soft(other, AccessRefused, 403, EXCLUSIVE_USE):
        other.basic_consume("q", print, exclusive=True)


def test_exclusive_consume_on_single_active_queue(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    with soft(ch, AccessRefused, 403, EXCLUSIVE_USE):
        ch.basic_consume("q", print, exclusive=True)


def test_get_works_with_exclusive_consumer(broker):
    owner = broker.channel()
    owner.queue_declare("q")
    owner.basic_qos(prefetch_count=1)
    owner.basic_consume("q", lambda d: None, exclusive=True)
    _fill(owner, "q", 2)
    assert broker.channel().basic_get("q", auto_ack=True).body == b"1"


# -- §7.5 consumer priorities ---------------------------------------------------------------------------
def test_consumer_priorities(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=2)
    _, low = collector(ch, "q", arguments={"x-priority": -5})
    _, mid = collector(ch, "q")
    _, high1 = collector(ch, "q", arguments={"x-priority": 10})
    _, high2 = collector(ch, "q", arguments={"x-priority": 10})
    _fill(ch, "q", 4)
    assert (bodies(high1), bodies(high2)) == ([b"0", b"2"], [b"1", b"3"])
    assert not low and not mid
    _fill(ch, "q", 3, b"n")  # highs are blocked: mid takes 2, then low
    assert (bodies(mid), bodies(low)) == ([b"n0", b"n1"], [b"n2"])
    ch.basic_ack(high1[0].delivery_tag)
    ch.basic_publish("", "q", b"back")
    assert bodies(high1)[-1] == b"back"


# -- §7.5 single active consumer --------------------------------------------------------------------------
def test_single_active_consumer_basics(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    t1, first = collector(ch, "q", consumer_tag="first")
    _, second = collector(ch, "q", consumer_tag="second")
    _fill(ch, "q", 4)
    assert bodies(first) == [b"0", b"1", b"2", b"3"] and not second
    assert ch.queue_declare("q", passive=True).consumer_count == 2


def test_sac_failover_prefers_highest_priority_then_earliest(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    _, active = collector(ch, "q", consumer_tag="active", auto_ack=True)
    _, early = collector(ch, "q", consumer_tag="early", auto_ack=True, arguments={"x-priority": 1})
    _, late = collector(ch, "q", consumer_tag="late", auto_ack=True, arguments={"x-priority": 1})
    _, low = collector(ch, "q", consumer_tag="low", auto_ack=True)
    ch.basic_cancel("active")
    ch.basic_publish("", "q", b"m1")
    assert bodies(early) == [b"m1"]
    ch.basic_cancel("early")
    ch.basic_publish("", "q", b"m2")
    assert bodies(late) == [b"m2"]
    ch.basic_cancel("late")
    ch.basic_publish("", "q", b"m3")
    assert bodies(low) == [b"m3"]


def test_sac_cancel_keeps_unacked(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    _, first = collector(ch, "q", consumer_tag="first")
    _, second = collector(ch, "q", consumer_tag="second")
    _fill(ch, "q", 2)
    ch.basic_cancel("first")
    assert not second
    ch.basic_ack(first[0].delivery_tag)
    ch.basic_publish("", "q", b"new")
    assert bodies(second) == [b"new"]
    assert ch.unacked_count == 2


def test_sac_channel_close_sends_unacked_to_new_active_first(broker):
    setup = broker.channel()
    setup.queue_declare("q", arguments={"x-single-active-consumer": True})
    old = broker.channel()
    old.basic_qos(prefetch_count=2)
    _, first = collector(old, "q")
    new = broker.channel()
    _, second = collector(new, "q")
    _fill(setup, "q", 4)  # first holds 0, 1; 2, 3 are ready
    assert bodies(first) == [b"0", b"1"]
    old.basic_ack(first[1].delivery_tag)  # frees capacity: first now holds 0 and 2
    assert bodies(first) == [b"0", b"1", b"2"]
    old.close()
    assert [(d.body, d.redelivered) for d in second] == [(b"0", True), (b"2", True), (b"3", False)]


def test_sac_waiting_consumer_cancel_does_not_change_active(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    _, first = collector(ch, "q", consumer_tag="first", auto_ack=True)
    _, second = collector(ch, "q", consumer_tag="second", auto_ack=True)
    ch.basic_cancel("second")
    ch.basic_publish("", "q", b"m")
    assert bodies(first) == [b"m"]
    assert ch.queue_declare("q", passive=True).consumer_count == 1


# -- pulled deliveries carry the same fields -----------------------------------------------------------
def test_consumer_without_callback_delivers_to_inbox(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    tag = ch.basic_consume("q", auto_ack=True)
    ch.basic_publish("", "q", b"m")
    (d,) = pending_events(ch)
    assert (d.consumer_tag, d.delivery_tag, d.body, d.redelivered, d.exchange, d.routing_key) == \
        (tag, 1, b"m", False, "", "q")


def test_exclusive_consumer_released_by_channel_close(broker):
    owner = broker.channel()
    owner.queue_declare("q")
    owner.basic_consume("q", lambda d: None, exclusive=True)
    owner.close()
    ch = broker.channel()
    ch.basic_consume("q", lambda d: None, exclusive=True)
    assert ch.is_open


# -- the global limit's count (RabbitMQ 3.10's channel limiter) ----------------------------------------
def test_global_limit_set_counts_the_unacked_get(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 5)
    get = ch.basic_get("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)  # the count starts at the channel's unacked: 1
    _, got = collector(ch, "q")
    assert got == []
    ch.basic_ack(get.delivery_tag)  # settling a get never takes it off the count
    assert got == []
    assert ch.queue_declare("q", passive=True).message_count == 4


def test_global_limit_raised_keeps_the_count_lifted_resets_it(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 6)
    ch.basic_get("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    _, got = collector(ch, "q")
    ch.basic_qos(prefetch_count=3, global_qos=True)  # already limited: only the limit changes (count 1)
    assert bodies(got) == [b"1", b"2"]
    ch.basic_qos(prefetch_count=0, global_qos=True)  # lifted: count 0, consumer unlimited
    assert bodies(got) == [b"1", b"2", b"3", b"4", b"5"]


def test_global_limit_set_again_starts_from_the_unacked_again(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 4)
    ch.basic_get("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    ch.basic_qos(prefetch_count=0, global_qos=True)
    ch.basic_qos(prefetch_count=1, global_qos=True)  # the get is still unacked: count 1 again
    _, got = collector(ch, "q")
    assert got == []
    ch.basic_qos(prefetch_count=5)  # a per-consumer qos lifts the global limit too
    assert bodies(got) == [b"1", b"2", b"3"]


def test_gets_settled_before_or_fetched_after_the_limit_do_not_count(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 6)
    early = ch.basic_get("q")
    ch.basic_ack(early.delivery_tag)
    ch.basic_get("q", auto_ack=True)
    ch.basic_qos(prefetch_count=2, global_qos=True)  # nothing unacked: count 0
    ch.basic_get("q")  # fetched under the limit: not counted
    _, got = collector(ch, "q")
    assert bodies(got) == [b"3", b"4"]
    ch.basic_ack(got[0].delivery_tag)
    assert bodies(got) == [b"3", b"4", b"5"]


def test_requeued_get_does_not_free_the_count(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 3)
    get = ch.basic_get("q")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    _, got = collector(ch, "q")
    _, auto = collector(ch, "q", auto_ack=True)  # no-ack consumers stop at the global limit too
    ch.basic_reject(get.delivery_tag)
    ch.basic_recover(requeue=True)
    assert got == [] and auto == []
    assert ch.queue_declare("q", passive=True).message_count == 3


def test_per_consumer_limit_does_not_count_gets(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    _fill(ch, "q", 3)
    ch.basic_get("q")
    ch.basic_qos(prefetch_count=1)
    _, got = collector(ch, "q")
    assert bodies(got) == [b"1"]


def test_quorum_consumers_are_outside_the_global_limit(broker):
    """A quorum queue does not ask the channel's limiter: its consumer goes on past the global limit and
    its deliveries do not add to the count; settling them still takes them off (a settlement of n takes
    n off unless the count is 0, so it can go below 0)."""
    ch = broker.channel()
    ch.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare("cq")
    _, quorum = collector(ch, "qq")
    _, classic = collector(ch, "cq")
    ch.basic_qos(prefetch_count=1, global_qos=True)
    _fill(ch, "qq", 3, b"q")
    assert bodies(quorum) == [b"q0", b"q1", b"q2"]
    _fill(ch, "cq", 5, b"c")
    assert bodies(classic) == [b"c0"]  # count 1
    ch.basic_ack(quorum[0].delivery_tag)  # 1 -> 0: c1 goes out, 1 again
    assert bodies(classic) == [b"c0", b"c1"]
    ch.basic_ack(quorum[2].delivery_tag, multiple=True)  # two at once: 1 -> -1, room for two more
    assert bodies(classic) == [b"c0", b"c1", b"c2", b"c3"]
