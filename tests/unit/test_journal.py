"""The message journal, peek and inject, move (redrive), the poison-loop guard and the test assertions."""

from __future__ import annotations

import logging
import threading

import pytest

from minimq import (Broker, JournalDisabledError, ManualClock, NotFound, PoisonMessageError, PreconditionFailed,
                    Properties)
from minimq.testing import (JournalAssertionError, assert_acked, assert_dead_lettered, assert_delivered,
                            assert_published, assert_queue_empty)


@pytest.fixture
def clock():
    return ManualClock()


@pytest.fixture
def broker(clock):
    b = Broker(clock=clock)
    yield b
    b._check()
    b.close()


@pytest.fixture
def ch(broker):
    channel = broker.channel()
    channel.exchange_declare("orders", "topic")
    channel.queue_declare("parking")
    channel.queue_declare("new", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "parking"})
    channel.queue_bind("new", "orders", "order.new")
    return channel


# -- the journal ------------------------------------------------------------------------------------
def test_the_journal_is_off_by_default_and_costs_no_subscription(broker, ch):
    assert broker.journal is None
    assert broker._kernel.observers is None  # nobody listens: the publish path takes no event branch
    with pytest.raises(JournalDisabledError, match=r"^the message journal is off: call broker.enable_journal\(\)"):
        broker.published()
    journal = broker.enable_journal()
    assert broker.enable_journal() is journal and broker.journal is journal
    assert broker._kernel.observers is not None
    broker.disable_journal()
    assert broker.journal is None and broker._kernel.observers is None
    ch.basic_publish("orders", "order.new", b"after")
    assert len(journal) == 0  # stopped recording
    broker.disable_journal()  # harmless twice


def test_a_record_follows_a_message_from_publish_to_ack(broker, ch, clock):
    journal = broker.enable_journal()
    clock.advance(1.5)
    ch.basic_publish("orders", "order.new", b"pizza", Properties(message_id="m-1", delivery_mode=2))
    consumer = broker.channel()
    got = []
    consumer.basic_consume("new", got.append, consumer_tag="kitchen")
    got[0].ack()
    [record] = broker.published("orders", "order.new")
    assert (record.origin, record.exchange, record.routing_key, record.body) == ("published", "orders", "order.new",
                                                                                  b"pizza")
    assert record.properties.message_id == "m-1" and record.time == 1500.0
    assert record.routed == ("new",) and record.queues == ("new",)
    [delivery] = record.deliveries
    assert (delivery.queue, delivery.consumer_tag, delivery.channel) == ("new", "kitchen", consumer.number)
    assert [e.kind for e in record.settlements] == ["ack"] and record.acked and record.outcome == "acked"
    assert journal.get(record.message_id) is record
    assert record.lines()[0] == f"t=1.500s #{record.message_id} published to exchange 'orders' key 'order.new' body b'pizza'"
    assert record.lines()[-1].endswith("ack in 'new' (delivery tag 1)")


def test_requeue_reject_dead_letter_and_the_linked_copy(broker, ch):
    broker.enable_journal()
    ch.basic_publish("orders", "order.new", b"burnt")
    first = ch.basic_get("new")
    ch.basic_nack(first.delivery_tag, requeue=True)
    second = ch.basic_get("new")
    ch.basic_reject(second.delivery_tag, requeue=False)
    [record] = broker.published(routing_key="order.new")
    assert [(e.kind, e.requeue) for e in record.settlements] == [("nack", True), ("reject", False)]
    assert [e.redelivered for e in record.deliveries] == [False, True]
    [(queue, reason, copy)] = record.dead_lettered
    assert (queue, reason) == ("new", "rejected") and record.outcome == "dead-lettered"
    assert copy.origin == "dead-lettered" and copy.source is record and record.copies == [copy]
    assert copy.routed == ("parking",) and copy.queues == ("parking",) and copy.outcome == "ready"
    assert copy.properties.headers["x-death"][0]["reason"] == "rejected"
    assert broker.published(where=lambda r: r.origin == "dead-lettered") == []  # published() lists publishes only


def test_returned_expired_and_dropped_messages(broker, ch, clock):
    broker.enable_journal()
    ch.queue_declare("slow", arguments={"x-message-ttl": 1000})
    ch.basic_publish("orders", "nobody", b"lost", mandatory=True)
    ch.basic_publish("orders", "nobody", b"gone")
    ch.basic_publish("", "slow", b"late")
    clock.advance(2)
    lost, gone, late = broker.published()
    assert lost.returned == "NO_ROUTE" and lost.outcome == "returned" and lost.routed == ()
    assert gone.dropped == [(None, "unroutable")] and gone.outcome == "dropped"
    assert late.expired == ["slow"] and late.outcome == "expired"


def test_the_journal_limit_forgets_the_oldest(broker, ch):
    journal = broker.enable_journal(limit=2)
    for i in range(3):
        ch.basic_publish("orders", "order.new", b"%d" % i)
    assert [r.body for r in journal.records()] == [b"1", b"2"] and journal.evicted == 1
    with pytest.raises(ValueError, match=r"^limit must be an int >= 1 or None, got 0$"):
        Broker().enable_journal(limit=0)


def test_publishes_from_threads_get_one_record_each(broker, ch):
    journal = broker.enable_journal()

    def publish(n: int) -> None:
        own = broker.channel()
        for i in range(200):
            own.basic_publish("orders", "order.new", f"{n}-{i}".encode())

    threads = [threading.Thread(target=publish, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bodies = [r.body for r in journal.records()]
    assert len(bodies) == len(set(bodies)) == 800
    assert all(r.queues == ("new",) for r in journal.records())


# -- peek and inject --------------------------------------------------------------------------------
def test_peek_changes_nothing(broker, ch):
    for i in range(3):
        ch.basic_publish("orders", "order.new", b"%d" % i)
    seen = []
    with broker.subscribe(seen.append):
        assert [m.body for m in broker.peek("new", 2)] == [b"0", b"1"]
        assert broker.peek("new", 0) == []
    assert seen == []  # no event: nothing was delivered
    assert broker.get_queue("new").message_count == 3
    delivery = ch.basic_get("new")
    assert delivery.body == b"0" and not delivery.redelivered
    with pytest.raises(NotFound, match=r"^\(404\) NOT_FOUND - no queue 'nope' in vhost '/'$"):
        broker.peek("nope")
    with pytest.raises(ValueError, match=r"^n must be an int >= 0, got -1$"):
        broker.peek("new", -1)


def test_inject_honours_the_queues_limits_and_is_journaled(broker, ch):
    ch.queue_declare("small", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    assert broker.inject("small", b"one") is True  # journal off: works too
    journal = broker.enable_journal()
    assert broker.inject("small", b"two", Properties(headers={"k": 1})) is False
    assert [m.body for m in broker.peek("small")] == [b"one"]
    [record] = journal.records()
    assert record.origin == "injected" and record.dropped == [("small", "reject-publish")]
    assert broker.inject("parking", b"three") is True
    assert journal.records()[-1].queues == ("parking",) and journal.records()[-1].origin == "injected"
    assert broker.published() == []  # an injection is not a publish
    with pytest.raises(NotFound, match=r"^\(404\) NOT_FOUND - no queue 'nope' in vhost '/'$"):
        broker.inject("nope", b"x")
    with pytest.raises(PreconditionFailed):
        broker.inject("parking", b"x", Properties(expiration="-1"))


# -- move -------------------------------------------------------------------------------------------
def dead_letter_all(ch, queue: str) -> None:
    while (delivery := ch.basic_get(queue)) is not None:
        ch.basic_reject(delivery.delivery_tag, requeue=False)


def test_move_redrives_dead_letters_with_their_original_key_and_history(broker, ch):
    journal = broker.enable_journal()
    ch.basic_publish("orders", "order.new", b"a", Properties(headers={"tenant": "t1"}))
    ch.basic_publish("orders", "order.new", b"b")
    dead_letter_all(ch, "new")
    assert [m.routing_key for m in broker.peek("parking")] == ["parking", "parking"]
    report = broker.move("parking", "orders")
    assert report.moved == 2 and report.unroutable == [] and str(report) == "moved 2"
    assert broker.peek("parking") == []
    moved = broker.peek("new")
    assert [(m.body, m.exchange, m.routing_key) for m in moved] == [(b"a", "orders", "order.new"),
                                                                     (b"b", "orders", "order.new")]
    assert moved[0].headers["tenant"] == "t1" and moved[0].headers["x-death"][0]["queue"] == "new"
    first = journal.get(report.moved_ids[0])
    assert first.origin == "moved" and first.source.origin == "dead-lettered"
    assert first.source.outcome == "moved" and first.source.copies == [first]
    dead_letter_all(ch, "new")  # a second death: x-death counts it, the original key still wins
    assert broker.move("parking", "orders", limit=1).moved == 1
    assert broker.peek("new")[0].headers["x-death"][0]["count"] == 2
    assert len(broker.peek("parking")) == 1


def test_move_where_limit_and_routing_key(broker, ch):
    ch.queue_declare("other")
    ch.queue_bind("other", "orders", "order.other")
    for body in (b"keep", b"move-1", b"move-2", b"move-3"):
        broker.inject("parking", body)
    report = broker.move("parking", "orders", "order.other", where=lambda m: m.body.startswith(b"move"), limit=2)
    assert report.moved == 2
    assert [m.body for m in broker.peek("parking")] == [b"keep", b"move-3"]
    assert [m.body for m in broker.peek("other")] == [b"move-1", b"move-2"]
    with pytest.raises(ValueError, match=r"^limit must be an int >= 0 or None, got -1$"):
        broker.move("parking", "orders", limit=-1)
    with pytest.raises(NotFound, match=r"^\(404\) NOT_FOUND - no exchange 'nope' in vhost '/'$"):
        broker.move("parking", "nope")
    with pytest.raises(NotFound, match=r"^\(404\) NOT_FOUND - no queue 'nope' in vhost '/'$"):
        broker.move("nope", "orders")


def test_move_leaves_unroutable_and_refused_messages_in_place(broker, ch):
    ch.queue_declare("full", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    ch.queue_bind("full", "orders", "order.full")
    for body in (b"1", b"2", b"3"):
        broker.inject("parking", body)
    report = broker.move("parking", "orders", "order.full")
    assert report.moved == 1 and [m.body for m in report.unroutable] == [b"2", b"3"]
    assert [m.body for m in broker.peek("parking")] == [b"2", b"3"]  # nothing lost, nothing doubled
    assert [m.body for m in broker.peek("full")] == [b"1"]
    report = broker.move("parking", "orders", "no.binding")
    assert report.moved == 0 and len(report.unroutable) == 2
    assert "2 unroutable" in str(report)


def test_move_back_into_the_same_queue_keeps_each_message_once(broker, ch):
    for body in (b"x", b"y"):
        broker.inject("parking", body)
    assert broker.move("parking", "", "parking").moved == 2
    assert [m.body for m in broker.peek("parking")] == [b"x", b"y"]


def test_move_hands_messages_to_a_waiting_consumer(broker, ch):
    broker.inject("parking", b"retry")
    got = []
    broker.channel().basic_consume("new", lambda d: (got.append(d.body), d.ack()))
    assert broker.move("parking", "orders", "order.new").moved == 1
    assert got == [b"retry"] and broker.get_queue("parking").message_count == 0


# -- the poison guard -------------------------------------------------------------------------------
class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def poison_log():
    handler = Keep()
    logger = logging.getLogger("minimq.poison")
    logger.addHandler(handler)
    yield handler.lines
    logger.removeHandler(handler)


def requeue_times(ch, queue: str, n: int) -> None:
    for _ in range(n):
        ch.basic_nack(ch.basic_get(queue).delivery_tag, requeue=True)


def test_the_guard_warns_at_the_threshold_and_its_multiples(broker, ch, poison_log):
    broker.enable_journal()
    broker.set_poison_guard(threshold=3)
    ch.basic_publish("orders", "order.new", b"poison pill", Properties(message_id="p-1"))
    requeue_times(ch, "new", 2)
    assert poison_log == []
    requeue_times(ch, "new", 1)
    [line] = poison_log
    assert line.startswith("poison loop: message #1 message_id='p-1' (body b'poison pill') was requeued 3 times "
                           "in a row on queue 'new' in vhost '/'")
    requeue_times(ch, "new", 3)
    assert len(poison_log) == 2 and "requeued 6 times" in poison_log[1]
    assert broker.get_queue("new").message_count == 1  # warn only: the message keeps going round


def test_the_guard_off_counts_nothing(broker, ch, poison_log):
    ch.basic_publish("orders", "order.new", b"x")
    requeue_times(ch, "new", 5)
    assert poison_log == []
    guard = broker.set_poison_guard(threshold=2)
    requeue_times(ch, "new", 2)  # counting starts when the guard is set
    assert len(poison_log) == 1 and guard.warnings == 1
    assert broker.set_poison_guard(None) is None
    requeue_times(ch, "new", 4)
    assert len(poison_log) == 1


def test_the_guard_in_error_mode_refuses_the_requeue_and_changes_nothing(broker, ch, poison_log):
    broker.set_poison_guard(threshold=2, action="error")
    ch.basic_publish("orders", "order.new", b"poison")
    requeue_times(ch, "new", 1)
    delivery = ch.basic_get("new")
    with pytest.raises(PoisonMessageError, match=r"^poison loop: message \(body b'poison'\) would reach 2 requeues "
                                                  r"in a row on queue 'new' in vhost '/'"):
        ch.basic_nack(delivery.delivery_tag, requeue=True)
    assert ch.is_open and broker.get_queue("new").message_count == 0 and broker.get_queue("new").unacked_count == 1
    with pytest.raises(PoisonMessageError) as caught:
        ch.basic_recover(requeue=True)
    assert (caught.value.queue, caught.value.count) == ("new", 2)
    ch.basic_reject(delivery.delivery_tag, requeue=False)  # the way out: dead-lettered
    assert [m.body for m in broker.peek("parking")] == [b"poison"]
    assert poison_log == []


def test_a_channel_closing_cannot_be_refused(broker, ch, poison_log):
    broker.set_poison_guard(threshold=1, action="error")
    ch.basic_publish("orders", "order.new", b"m")
    other = broker.channel()
    other.basic_get("new")
    other.close()  # requeues without asking: counted and warned, never raised
    assert broker.get_queue("new").message_count == 1 and len(poison_log) == 1


def test_queues_with_a_delivery_limit_are_left_to_it(broker, poison_log):
    ch = broker.channel()
    ch.queue_declare("q", durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5})
    ch.queue_declare("unlimited", durable=True, arguments={"x-queue-type": "quorum"})
    broker.set_poison_guard(threshold=2, action="error")
    ch.basic_publish("", "q", b"limited")
    ch.basic_publish("", "unlimited", b"free")
    requeue_times(ch, "q", 3)  # no error: the delivery limit handles this queue
    requeue_times(ch, "unlimited", 1)
    with pytest.raises(PoisonMessageError):
        requeue_times(ch, "unlimited", 1)
    ch.basic_ack(0, multiple=True)


def test_set_poison_guard_validates(broker):
    with pytest.raises(ValueError, match=r"^threshold must be an int >= 1, got 0$"):
        broker.set_poison_guard(0)
    with pytest.raises(ValueError, match=r"^action must be one of 'warn', 'error', got 'raise'$"):
        broker.set_poison_guard(3, action="raise")


# -- the assertions -----------------------------------------------------------------------------------
def test_assert_published_names_the_closest_publish(broker, ch, clock):
    broker.enable_journal()
    clock.advance(2)
    ch.basic_publish("orders", "order.neu", b"typo")
    records = assert_published(broker, exchange="orders", count=1)
    assert records[0].routing_key == "order.neu"
    with pytest.raises(JournalAssertionError) as caught:
        assert_published(broker, exchange="orders", routing_key="order.new", count=1)
    text = str(caught.value)
    assert text.splitlines()[0] == ("expected 1 publish to 'orders' with key 'order.new'; got 0; "
                                    "closest: 'order.neu' to 'orders' at t=2.000s")
    assert "  t=2.000s   dropped (unroutable)" in text.splitlines()
    ch.basic_publish("orders", "order.new", b"ok")
    with pytest.raises(JournalAssertionError, match=r"^expected 2 publishes to 'orders' with key 'order.new'; got 1\n"):
        assert_published(broker, exchange="orders", routing_key="order.new", count=2)
    with pytest.raises(JournalAssertionError, match=r"^expected at least 1 publish to 'billing'; got 0; the journal "
                                                    r"holds 2 other publishes"):
        assert_published(broker, exchange="billing")


def test_assert_delivered_acked_dead_lettered(broker, ch):
    broker.enable_journal()
    ch.basic_publish("orders", "order.new", b"one")
    ch.basic_publish("orders", "order.new", b"two")
    with pytest.raises(JournalAssertionError, match=r"^expected at least 1 delivery from 'new'; got 0\n"
                                                    r"  t=0.000s #1 published"):
        assert_delivered(broker, queue="new")
    ch.basic_ack(ch.basic_get("new").delivery_tag)
    ch.basic_reject(ch.basic_get("new").delivery_tag, requeue=False)
    assert len(assert_delivered(broker, queue="new", count=2)) == 2
    assert_acked(broker, queue="new", count=1)
    with pytest.raises(JournalAssertionError, match=r"^expected 2 acks from 'new'; got 1; its messages: 1 acked, "
                                                    r"1 dead-lettered"):
        assert_acked(broker, queue="new", count=2)
    [copy] = assert_dead_lettered(broker, queue="new", reason="rejected", to="parking", count=1)
    assert copy.body == b"two"
    with pytest.raises(JournalAssertionError, match=r"^expected at least 1 dead-lettered message from 'new' \(expired\); "
                                                    r"got 0; other dead-letterings: from 'new' \(rejected\) -> \['parking'\]"):
        assert_dead_lettered(broker, queue="new", reason="expired")


def test_assert_queue_empty_shows_what_is_left(broker, ch):
    assert_queue_empty(broker, "new")
    ch.basic_publish("orders", "order.new", b"left over")  # journal off: still works
    with pytest.raises(JournalAssertionError, match=r"^expected queue 'new' to be empty; it holds 1 ready and 0 "
                                                    r"unacknowledged message\nfirst ready: b'left over'$"):
        assert_queue_empty(broker, "new")
    broker.enable_journal()
    ch.basic_publish("orders", "order.new", b"traced")
    with pytest.raises(JournalAssertionError) as caught:
        assert_queue_empty(broker, "new")
    assert "  t=0.000s   enqueued in 'new'" in str(caught.value).splitlines()
    with pytest.raises(JournalAssertionError, match=r"there is no such queue$"):
        assert_queue_empty(broker, "nope")
    with pytest.raises(JournalDisabledError):
        assert_published(Broker())
