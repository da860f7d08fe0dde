"""The event stream: the order of events for each way a message can go, filtering, failing
subscribers, subscribing during dispatch, and one order across threads."""

from __future__ import annotations

import logging
import threading

import pytest

from minimq import EVENT_KINDS, Broker, ManualClock, Properties

TOPOLOGY = {"queue.created", "queue.deleted", "exchange.created", "exchange.deleted", "binding.created",
            "binding.deleted"}


class Recorder:
    """Collects events; ``trail()`` gives (kind, queue) pairs of the message events."""

    def __init__(self) -> None:
        self.events: list = []

    def __call__(self, event) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events if e.kind not in TOPOLOGY]

    def trail(self) -> list[tuple]:
        return [(e.kind, e.queue) for e in self.events if e.kind not in TOPOLOGY]


@pytest.fixture
def rec(tbroker):
    recorder = Recorder()
    tbroker.subscribe(recorder)
    return recorder


def test_routed_consumed_and_acked(tbroker, tch, rec):
    tch.queue_declare("q")
    tag = tch.basic_consume("q", lambda d: d.ack())
    tch.basic_publish("", "q", b"m")
    assert rec.trail() == [("publish", None), ("route", None), ("enqueue", "q"), ("deliver", "q"), ("ack", "q")]
    publish, route, enqueue, deliver, ack = [e for e in rec.events if e.kind not in TOPOLOGY]
    assert route.queues == ("q",)
    ids = {e.message_id for e in (publish, route, enqueue, deliver, ack)}
    assert len(ids) == 1 and ids != {None}
    assert deliver.consumer_tag == tag and deliver.delivery_tag == ack.delivery_tag == 1
    assert deliver.redelivered is False and deliver.auto_ack is False
    assert publish.channel == tch.number and publish.connection == tch.connection.number
    assert [e.seq for e in rec.events] == list(range(rec.events[0].seq, rec.events[0].seq + len(rec.events)))
    assert deliver.message is publish.message and deliver.message.body == b"m"


def test_unroutable_mandatory_is_returned(tbroker, tch, rec):
    tch.basic_publish("amq.direct", "nowhere", b"m", mandatory=True)
    assert rec.kinds() == ["publish", "route", "return"]
    assert rec.events[1].queues == ()
    assert rec.events[2].reason == "NO_ROUTE"


def test_unroutable_without_mandatory_is_dropped(tbroker, tch, rec):
    tch.basic_publish("amq.direct", "nowhere", b"m")
    assert rec.kinds() == ["publish", "route", "drop"]
    assert rec.events[-1].reason == "unroutable"
    assert len({e.message_id for e in rec.events}) == 1


def test_expired_message(tbroker, tch, clock, rec):
    tch.queue_declare("q", arguments={"x-message-ttl": 100})
    tch.basic_publish("", "q", b"m")
    clock.advance(0.2)
    assert rec.trail() == [("publish", None), ("route", None), ("enqueue", "q"), ("expire", "q")]
    assert rec.events[-1].reason == "expired"
    assert rec.events[-1].time == 200.0  # the broker clock, in ms


def test_dead_lettered_then_delivered_from_the_dlq(tbroker, tch, clock, rec):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 100, "x-dead-letter-exchange": "",
                                      "x-dead-letter-routing-key": "dlq"})
    tch.basic_publish("", "q", b"m")
    clock.advance(0.2)
    delivery = tch.basic_get("dlq")
    tch.basic_ack(delivery.delivery_tag)
    assert rec.trail() == [("publish", None), ("route", None), ("enqueue", "q"), ("expire", "q"),
                           ("dead-letter", "q"), ("enqueue", "dlq"), ("deliver", "dlq"), ("ack", "dlq")]
    events = [e for e in rec.events if e.kind not in TOPOLOGY]
    original = events[0].message_id
    dead = events[4]
    assert dead.reason == "expired" and dead.exchange == "" and dead.queues == ("dlq",)
    assert dead.message_id not in (None, original) and dead.origin_id == original
    assert all(e.message_id == dead.message_id and e.origin_id == original for e in events[5:])


def test_nack_with_requeue_then_redelivered(tbroker, tch, rec):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"m")
    first = tch.basic_get("q")
    tch.basic_nack(first.delivery_tag, requeue=True)
    second = tch.basic_get("q")
    tch.basic_ack(second.delivery_tag)
    assert rec.trail() == [("publish", None), ("route", None), ("enqueue", "q"), ("deliver", "q"), ("nack", "q"),
                           ("deliver", "q"), ("ack", "q")]
    events = [e for e in rec.events if e.kind not in TOPOLOGY]
    assert events[4].requeue is True
    assert events[3].redelivered is False and events[5].redelivered is True
    assert len({e.message_id for e in events}) == 1


def test_reject_without_requeue_dead_letters(tbroker, tch, rec):
    tch.exchange_declare("dlx", "fanout")
    tch.queue_declare("dlq")
    tch.queue_bind("dlq", "dlx")
    tch.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    tch.basic_publish("", "q", b"m")
    tch.basic_reject(tch.basic_get("q").delivery_tag, requeue=False)
    assert rec.trail()[-4:] == [("deliver", "q"), ("reject", "q"), ("dead-letter", "q"), ("enqueue", "dlq")]
    reject, dead = [e for e in rec.events if e.kind in ("reject", "dead-letter")]
    assert reject.requeue is False and dead.reason == "rejected" and dead.exchange == "dlx"


def test_overflow_drop_head(tbroker, tch, rec):
    tch.queue_declare("q", arguments={"x-max-length": 1})
    tch.basic_publish("", "q", b"first")
    tch.basic_publish("", "q", b"second")
    kinds = rec.trail()
    assert kinds[-2:] == [("enqueue", "q"), ("drop", "q")]
    drop = rec.events[-1]
    assert drop.reason == "maxlen" and drop.message.body == b"first"
    assert drop.message_id == rec.events[2].message_id  # the first publish's enqueue


def test_overflow_reject_publish_nacks_the_confirm(tbroker, tch, rec):
    tch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    tch.confirm_select()
    tch.basic_publish("", "q", b"first")
    tch.basic_publish("", "q", b"second")
    assert rec.kinds() == ["publish", "route", "enqueue", "confirm", "publish", "route", "drop", "confirm"]
    confirms = [e for e in rec.events if e.kind == "confirm"]
    assert [(c.delivery_tag, c.detail) for c in confirms] == [(1, True), (2, False)]
    assert rec.events[-2].reason == "reject-publish" and rec.events[-2].message.body == b"second"


def test_queue_deleted_with_consumers(tbroker, tch, rec):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"a")
    tch.basic_publish("", "q", b"b")
    tch.basic_qos(prefetch_count=1)
    tch.basic_consume("q", lambda d: None)
    tch.queue_delete("q")
    tail = [(e.kind, e.queue, e.count, e.reason) for e in rec.events[-2:]]
    assert tail == [("drop", "q", 1, "queue deleted"), ("queue.deleted", "q", None, "deleted")]


def test_exclusive_queue_deleted_when_its_connection_closes(tbroker, rec):
    connection = tbroker.connect()
    ch = connection.channel()
    name = ch.queue_declare("", exclusive=True).queue
    ch.queue_bind(name, "amq.fanout")
    connection.close()
    kinds = [(e.kind, e.queue, e.reason) for e in rec.events]
    assert kinds == [("queue.created", name, None), ("binding.created", name, None),
                     ("binding.deleted", name, None), ("queue.deleted", name, "owner closed")]
    assert rec.events[1].exchange == "amq.fanout" and rec.events[1].detail == "queue"


def test_tx_commit_enqueues_and_settles_at_commit(tbroker, tch, rec):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"old")
    old = tch.basic_get("q")
    tch.tx_select()
    tch.basic_publish("", "q", b"new")
    tch.basic_ack(old.delivery_tag)
    assert rec.trail()[-2:] == [("publish", None), ("route", None)]  # nothing enqueued or acked yet
    tch.tx_commit()
    assert rec.trail()[-2:] == [("enqueue", "q"), ("ack", "q")]


def test_channel_close_requeues_with_a_nack_event(tbroker, rec):
    ch = tbroker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    ch.close()
    nack = rec.events[-1]
    assert (nack.kind, nack.requeue, nack.reason) == ("nack", True, "channel closed")


def test_purge_reports_one_drop_with_the_count(tbroker, tch, rec):
    tch.queue_declare("q")
    for _ in range(3):
        tch.basic_publish("", "q", b"m")
    tch.queue_purge("q")
    assert (rec.events[-1].kind, rec.events[-1].count, rec.events[-1].reason) == ("drop", 3, "purged")


def test_topology_events(tbroker, tch, rec):
    tch.exchange_declare("x", "topic")
    tch.queue_declare("q")
    tch.queue_bind("q", "x", "a.#")
    tch.exchange_delete("x")
    assert [(e.kind, e.exchange, e.queue) for e in rec.events] == [
        ("exchange.created", "x", None), ("queue.created", None, "q"), ("binding.created", "x", "q"),
        ("binding.deleted", "x", "q"), ("exchange.deleted", "x", None)]
    assert rec.events[0].detail == "topic" and rec.events[2].routing_key == "a.#"


def test_filtering_by_kinds(tbroker, tch):
    acks, all_events = Recorder(), Recorder()
    tbroker.subscribe(acks, kinds=["deliver", "ack"])
    tbroker.subscribe(all_events)
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"m")
    tch.basic_ack(tch.basic_get("q").delivery_tag)
    assert [e.kind for e in acks.events] == ["deliver", "ack"]
    assert [e for e in all_events.events if e.kind in ("deliver", "ack")] == acks.events  # the same objects


def test_unknown_kinds_are_refused_naming_the_valid_ones(tbroker):
    with pytest.raises(ValueError, match=r"^unknown event kind\(s\) delivered; valid kinds: publish, route, "):
        tbroker.subscribe(lambda e: None, kinds=["deliver", "delivered"])
    with pytest.raises(TypeError, match=r"not the str 'ack'"):
        tbroker.subscribe(lambda e: None, kinds="ack")
    with pytest.raises(TypeError, match=r"must be callable"):
        tbroker.subscribe(None)
    assert set(EVENT_KINDS) >= {"publish", "dead-letter", "binding.deleted"}


def test_messages_published_while_nobody_listens_have_no_identity_and_cost_nothing(tbroker, tch):
    tch.queue_declare("q")
    tch.basic_publish("", "q", b"before")
    assert type(tbroker.get_queue("q").ready_messages()[0]).__name__ == "Message"
    rec = Recorder()
    with tbroker.subscribe(rec):
        tch.basic_ack(tch.basic_get("q").delivery_tag)
    tch.basic_publish("", "q", b"after")  # closed: no event
    assert [(e.kind, e.message_id) for e in rec.events] == [("deliver", None), ("ack", None)]


def _scenario(broker: Broker) -> list:
    """A run touching most paths; returns what a client can observe."""
    ch = broker.channel()
    seen = []
    ch.queue_declare("dlq")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq",
                                     "x-max-length": 3})
    ch.basic_consume("dlq", lambda d: seen.append(("dlq", d.body)), auto_ack=True)
    for i in range(5):
        ch.basic_publish("", "q", b"%d" % i, Properties(priority=1))
    ch.basic_publish("", "none", b"x", mandatory=True)
    d = ch.basic_get("q")
    ch.basic_reject(d.delivery_tag, requeue=False)
    d = ch.basic_get("q")
    ch.basic_nack(d.delivery_tag, requeue=True)
    seen.append(("left", [m.body for m in broker.get_queue("q").ready_messages()]))
    seen.append(("returned", [type(e).__name__ for e in iter(ch.pop_event, None)]))
    return seen


def test_a_raising_subscriber_changes_nothing_and_is_logged_once(caplog):
    plain = _scenario(Broker(clock=ManualClock()))
    broker = Broker(clock=ManualClock())
    calls = []

    def broken(event):
        calls.append(event.kind)
        raise RuntimeError("subscriber bug")

    survivor = Recorder()
    failing = broker.subscribe(broken)
    broker.subscribe(survivor)
    with caplog.at_level(logging.ERROR, logger="minimq.events"):
        observed = _scenario(broker)
    assert observed == plain
    assert len(calls) == len(survivor.events) > 10  # every event still reached both
    assert failing.errors == len(calls)
    records = [r for r in caplog.records if r.name == "minimq.events"]
    assert len(records) == 1
    assert "broken" in records[0].getMessage() and "queue.created" in records[0].getMessage()
    broker._check()


def test_subscribe_and_unsubscribe_during_dispatch(tbroker, tch):
    tch.queue_declare("q")
    late = Recorder()
    log = []
    holder = {}

    def first(event):
        log.append(("first", event.kind))
        if event.kind == "enqueue" and "late" not in holder:
            holder["late"] = tbroker.subscribe(late)  # sees the events after this one, not this one
        if event.kind == "deliver":
            holder["self"].close()  # nothing more for this subscriber, this event's other subscribers go on

    holder["self"] = tbroker.subscribe(first)
    tch.basic_publish("", "q", b"m")
    tch.basic_ack(tch.basic_get("q").delivery_tag)
    assert log == [("first", "publish"), ("first", "route"), ("first", "enqueue"), ("first", "deliver")]
    assert [e.kind for e in late.events] == ["deliver", "ack"]


def test_a_subscriber_may_call_the_broker_and_order_holds(tbroker, tch):
    tch.queue_declare("q")
    tch.queue_declare("audit")
    rec = Recorder()

    def auditor(event):
        if event.kind == "enqueue" and event.queue == "q":
            tch.basic_publish("", "audit", b"saw " + event.message.body)

    tbroker.subscribe(auditor)
    tbroker.subscribe(rec)
    tch.basic_publish("", "q", b"m")
    # the auditor's publish is delivered after the event it reacted to reached every subscriber
    assert rec.trail() == [("publish", None), ("route", None), ("enqueue", "q"),
                           ("publish", None), ("route", None), ("enqueue", "audit")]
    assert tbroker.get_queue("audit").message_count == 1  # its events were delivered before publish returned
    seqs = [e.seq for e in rec.events]
    assert seqs == sorted(seqs)


def test_publisher_threads_see_one_consistent_order():
    broker = Broker()
    setup = broker.channel()
    for i in range(3):
        setup.queue_declare(f"q{i}")
    rec = Recorder()
    broker.subscribe(rec)
    per_thread = 300

    def publisher(n: int) -> None:
        ch = broker.channel()
        for k in range(per_thread):
            ch.basic_publish("", f"q{k % 3}", b"%d:%d" % (n, k))

    threads = [threading.Thread(target=publisher, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    events = rec.events
    assert [e.seq for e in events] == list(range(events[0].seq, events[0].seq + len(events)))
    for i in range(3):
        enqueued = [e.message.body for e in events if e.kind == "enqueue" and e.queue == f"q{i}"]
        assert len(enqueued) == 400
        assert [m.body for m in broker.get_queue(f"q{i}").ready_messages()] == enqueued
    # each message's publish, route and enqueue are adjacent in the one order (one lock hold)
    for index, event in enumerate(events):
        if event.kind == "publish":
            assert [e.kind for e in events[index:index + 3]] == ["publish", "route", "enqueue"]
            assert events[index + 2].message_id == event.message_id
    broker._check()
    broker.close()


def test_every_operation_returns_after_its_events_were_dispatched():
    broker = Broker()
    ch = broker.channel()
    ch.queue_declare("q")
    counted = []
    broker.subscribe(lambda e: counted.append(e.seq), kinds=["enqueue"])
    errors = []

    def publisher() -> None:
        c = broker.channel()
        for _ in range(200):
            before = len(counted)
            c.basic_publish("", "q", b"m")
            if len(counted) <= before:
                errors.append("returned before its enqueue event was dispatched")

    threads = [threading.Thread(target=publisher) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(counted) == 600
    broker.close()


def test_async_confirms_are_events(tbroker, tch, rec):
    tch.queue_declare("q")
    tch.confirm_select(wait=False)
    tch.basic_publish("", "q", b"m")
    tch.basic_publish("", "nowhere", b"m")
    confirms = [(e.delivery_tag, e.detail) for e in rec.events if e.kind == "confirm"]
    assert confirms == [(1, True), (2, True)]
