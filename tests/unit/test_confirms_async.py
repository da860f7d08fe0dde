"""Asynchronous confirm mode (``confirm_select(wait=False)``) without a store: every confirm is
immediate, still delivered as Confirm events in publish order, exactly once."""

from __future__ import annotations

import pytest

from minimq import Confirm, PublishNacked, PublishOutcome, Returned


def covered(confirms, start=0):
    out, last = [], start
    for c in confirms:
        first = last + 1 if c.multiple else c.seq
        assert first == last + 1
        out.extend((n, c.ack) for n in range(first, c.seq + 1))
        last = c.seq
    return out


def test_confirms_without_a_store_are_immediate_and_ordered(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.queue_declare("full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.confirm_select(wait=False)
    ch.confirm_select(wait=False)  # harmless
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    outcomes = [ch.basic_publish("", "q", b"1"), ch.basic_publish("", "nowhere", b"2"),
                ch.basic_publish("", "full", b"3"), ch.basic_publish("", "full", b"4")]
    assert outcomes == [PublishOutcome.ROUTED, PublishOutcome.UNROUTABLE, PublishOutcome.ROUTED,
                        PublishOutcome.NACKED]
    # each confirm arrived before its basic_publish returned
    assert ch.confirmed_seq == 4
    assert covered(confirms) == [(1, True), (2, True), (3, True), (4, False)]
    assert all(not c.multiple and c.error is None for c in confirms)
    assert ch.wait_for_confirms(timeout=0) is False
    assert ch.wait_for_confirms(timeout=0) is True


def test_a_pulled_channel_gets_confirm_events(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.confirm_select(wait=False)
    ch.basic_publish("", "q", b"1")
    ch.basic_publish("", "nowhere", b"2", mandatory=True)
    events = [ch.pop_event(), ch.pop_event(), ch.pop_event(), ch.pop_event()]
    assert [type(e) for e in events] == [Confirm, Returned, Confirm, type(None)]
    assert (events[0].seq, events[0].ack, events[2].seq) == (1, True, 2)


def test_blocking_mode_stays_the_default_and_counts_nacks(broker):
    ch = broker.channel()
    ch.queue_declare("full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    ch.confirm_select()
    ch.basic_publish("", "full", b"1")
    ch.basic_publish("", "full", b"2")
    assert confirms == []  # blocking mode: the outcome is the confirm, no events
    with pytest.raises(PublishNacked, match="1 publish"):
        ch.wait_for_confirms_or_die()
    assert ch.wait_for_confirms() is True
    with pytest.raises(ValueError):
        ch.confirm_select(wait=False)


def test_wait_for_confirms_outside_confirm_mode(broker):
    ch = broker.channel()
    with pytest.raises(RuntimeError, match="not in confirm mode"):
        ch.wait_for_confirms()
    ch.tx_select()
    with pytest.raises(RuntimeError):
        ch.wait_for_confirms_or_die()


def test_confirm_callback_is_checked_where_it_is_registered(broker):
    ch = broker.channel()
    with pytest.raises(TypeError, match="confirm callback"):
        ch.add_on_confirm_callback(lambda seq, ack, multiple: None)
