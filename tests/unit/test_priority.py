"""docs/semantics.md §13: priority queues."""

from __future__ import annotations

from core_helpers import bodies, collector, drain
from minimq import Properties


def _p(priority):
    return None if priority is None else Properties(priority=priority)


def test_highest_first_fifo_within_level(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 10})
    for body, prio in ((b"a0", None), (b"b5", 5), (b"c1", 1), (b"d5", 5), (b"e0", 0), (b"f10", 10)):
        ch.basic_publish("", "q", body, properties=_p(prio))
    assert bodies(drain(ch, "q")) == [b"f10", b"b5", b"d5", b"c1", b"a0", b"e0"]


def test_clamped_priorities_are_fifo_with_level_n(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 5})
    for i, prio in enumerate((5, 9, 5, 200)):
        ch.basic_publish("", "q", b"%d" % i, properties=_p(prio))
    ch.basic_publish("", "q", b"low", properties=_p(4))
    got = drain(ch, "q")
    assert bodies(got) == [b"0", b"1", b"2", b"3", b"low"]
    assert [d.properties.priority for d in got] == [5, 9, 5, 200, 4]  # delivered unchanged


def test_max_priority_zero(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 0})
    for i, prio in enumerate((3, None, 9)):
        ch.basic_publish("", "q", b"%d" % i, properties=_p(prio))
    assert bodies(drain(ch, "q")) == [b"0", b"1", b"2"]


def test_plain_queue_ignores_priority(ch):
    ch.queue_declare("q")
    for i, prio in enumerate((1, 9, 5)):
        ch.basic_publish("", "q", b"%d" % i, properties=_p(prio))
    assert bodies(drain(ch, "q")) == [b"0", b"1", b"2"]


def test_requeue_to_own_level_original_position(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 3})
    for body, prio in ((b"h1", 3), (b"h2", 3), (b"l1", 1), (b"l2", 1)):
        ch.basic_publish("", "q", body, properties=_p(prio))
    held = [ch.basic_get("q") for _ in range(3)]  # h1 h2 l1
    ch.basic_publish("", "q", b"h3", properties=_p(3))
    ch.basic_nack(0, multiple=True, requeue=True)
    got = drain(ch, "q")
    assert bodies(got) == [b"h1", b"h2", b"h3", b"l1", b"l2"]
    assert [d.redelivered for d in got] == [True, True, False, True, False]
    assert len(held) == 3


def test_consumer_receives_by_priority(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 9})
    for body, prio in ((b"1", 1), (b"9", 9), (b"5", 5)):
        ch.basic_publish("", "q", body, properties=_p(prio))
    _, got = collector(ch, "q", auto_ack=True)
    assert bodies(got) == [b"9", b"5", b"1"]


def test_message_count_counts_all_levels(ch):
    ch.queue_declare("q", arguments={"x-max-priority": 2})
    for prio in (0, 1, 2, 2):
        ch.basic_publish("", "q", b"m", properties=_p(prio))
    assert ch.queue_declare("q", passive=True).message_count == 4
    assert ch.basic_get("q").message_count == 3
