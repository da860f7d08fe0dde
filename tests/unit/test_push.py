"""Push delivery: inline callbacks, pulled events (``inline=False``), re-entrancy, callback errors."""

from __future__ import annotations

import logging
import threading

import pytest

from core_helpers import bodies, pending_events
from minimq import ChannelClosed, ConsumerCancelled, Delivery, Returned


def test_inline_callback_runs_before_publish_returns(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    seen = []
    ch.basic_consume("q", lambda d: seen.append((threading.current_thread(), d.body)), auto_ack=True)
    ch.basic_publish("", "q", b"m")
    assert seen == [(threading.current_thread(), b"m")]


def test_inline_callback_runs_on_the_publishing_thread_of_another_channel(broker):
    consumer = broker.channel()
    consumer.queue_declare("q")
    seen = []
    consumer.basic_consume("q", lambda d: seen.append(d.body), auto_ack=True)
    publisher = broker.channel()
    publisher.basic_publish("", "q", b"m")
    assert seen == [b"m"]


def test_callbacks_are_not_run_under_the_broker_lock(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    held = []
    ch.basic_consume("q", lambda d: held.append(broker._kernel.lock.locked()), auto_ack=True)
    ch.basic_publish("", "q", b"m")
    assert held == [False]


def test_pull_channel_keeps_events(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    callback_calls = []
    ch.basic_consume("q", callback_calls.append)  # a callback is ignored on a pull channel
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    assert not callback_calls
    first = ch.get_event(timeout=1)
    assert isinstance(first, Delivery) and first.body == b"0"
    assert bodies(pending_events(ch)) == [b"1", b"2"]
    assert ch.pop_event() is None
    assert ch.get_event(timeout=0.01) is None


def test_pull_channel_event_kinds_in_order(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    tag = ch.basic_consume("q", auto_ack=True)
    ch.basic_publish("", "q", b"d")
    ch.basic_publish("", "nowhere", b"r", mandatory=True)
    broker.channel().queue_delete("q")
    events = pending_events(ch)
    assert [type(e) for e in events] == [Delivery, Returned, ConsumerCancelled]
    assert events[2].consumer_tag == tag


def test_get_event_wakes_on_delivery_from_another_thread(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.basic_consume("q", auto_ack=True)
    publisher = broker.channel()
    thread = threading.Thread(target=lambda: publisher.basic_publish("", "q", b"late"))
    result = []

    def waiter():
        result.append(ch.get_event(timeout=5))

    w = threading.Thread(target=waiter)
    w.start()
    thread.start()
    thread.join(5)
    w.join(5)
    assert not w.is_alive()
    assert result[0].body == b"late"


def test_get_event_raises_when_channel_closes(broker):
    conn = broker.connect()
    ch = conn.channel(inline=False)
    errors = []
    started = threading.Event()

    def waiter():
        started.set()
        try:
            ch.get_event(timeout=5)
        except ChannelClosed as exc:
            errors.append(exc)

    w = threading.Thread(target=waiter)
    w.start()
    started.wait(5)
    conn.close()
    w.join(5)
    assert not w.is_alive()
    assert len(errors) == 1


def test_pending_events_can_still_be_pulled_after_close(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.basic_consume("q", auto_ack=True)
    ch.basic_publish("", "q", b"m")
    ch.close()
    assert ch.get_event(timeout=0.1).body == b"m"
    with pytest.raises(ChannelClosed):
        ch.get_event(timeout=0.1)


def test_on_events_hook(broker):
    ch = broker.channel(inline=False)
    calls = []
    ch.on_events = lambda: calls.append(ch.pop_event())
    ch.queue_declare("q")
    ch.basic_consume("q", auto_ack=True)
    ch.basic_publish("", "q", b"m")
    assert len(calls) == 1 and calls[0].body == b"m"


def test_inline_channel_without_callback_uses_inbox(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_consume("q", auto_ack=True)
    ch.basic_publish("", "q", b"m")
    assert ch.pop_event().body == b"m"


def test_callback_acks_reentrantly(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    seen = []

    def on_message(d):
        seen.append(d.body)
        d.ack()

    ch.basic_consume("q", on_message)
    for i in range(5):
        ch.basic_publish("", "q", b"%d" % i)
    assert seen == [b"0", b"1", b"2", b"3", b"4"]
    assert ch.unacked_count == 0


def test_callback_acks_reentrantly_with_backlog(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    for i in range(5):
        ch.basic_publish("", "q", b"%d" % i)
    ch.basic_qos(prefetch_count=1)
    seen = []
    ch.basic_consume("q", lambda d: (seen.append(d.body), ch.basic_ack(d.delivery_tag)))
    assert seen == [b"0", b"1", b"2", b"3", b"4"]
    assert ch.queue_declare("q", passive=True).message_count == 0


def test_callback_publishes_reentrantly(broker):
    ch = broker.channel()
    ch.queue_declare("ping")
    ch.queue_declare("pong")
    log = []

    def on_ping(d):
        log.append(d.body)
        n = int(d.body)
        if n < 5:
            ch.basic_publish("", "pong", b"%d" % (n + 1))

    def on_pong(d):
        log.append(d.body)
        ch.basic_publish("", "ping", b"%d" % (int(d.body) + 1))

    ch.basic_consume("ping", on_ping, auto_ack=True)
    ch.basic_consume("pong", on_pong, auto_ack=True)
    ch.basic_publish("", "ping", b"0")
    assert log == [b"%d" % i for i in range(7)]  # in order: ping 0, pong 1, ... ping 6


def test_event_published_while_another_thread_dispatches_runs_on_that_thread(broker):
    """One dispatcher per channel: a second thread's publish leaves its delivery to the running one."""
    ch = broker.channel()
    ch.queue_declare("q")
    entered, release = threading.Event(), threading.Event()
    ran = []

    def on_message(d):
        ran.append((d.body, threading.current_thread().name))
        if d.body == b"first":
            entered.set()
            assert release.wait(10)

    ch.basic_consume("q", on_message, auto_ack=True)
    first = threading.Thread(target=ch.basic_publish, args=("", "q", b"first"), name="first")
    first.start()
    assert entered.wait(10)
    publisher = broker.channel()
    publisher.basic_publish("", "q", b"second")  # returns at once: "first" holds the dispatcher role
    assert ran == [(b"first", "first")]
    release.set()
    first.join(10)
    assert ran == [(b"first", "first"), (b"second", "first")]


def test_event_arriving_as_the_dispatcher_lets_go_is_not_stranded(broker):
    """The window the dispatcher must re-check: an event appended after its last look at the queue
    but before it releases the dispatcher role (the late publisher finds the role taken and leaves)."""
    ch = broker.channel()
    ch.queue_declare("q")
    publisher = broker.channel()
    seen = []
    ch.basic_consume("q", lambda d: seen.append(d.body), auto_ack=True)
    real = ch._dispatch_lock

    class LateEventOnRelease:
        fired = False

        def acquire(self, blocking=True):
            return real.acquire(blocking)

        def release(self):
            if not self.fired:
                self.fired = True
                late = threading.Thread(target=publisher.basic_publish, args=("", "q", b"late"))
                late.start()
                late.join(10)
                assert seen == [b"first"]  # the late publisher did not run it: the role was taken
            real.release()

    ch._dispatch_lock = LateEventOnRelease()
    publisher.basic_publish("", "q", b"first")
    assert seen == [b"first", b"late"]


def test_inline_callbacks_from_many_threads_run_once_each_and_never_overlap(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    seen, inside, overlaps = [], [0], []

    def on_message(d):
        inside[0] += 1
        if inside[0] != 1:
            overlaps.append(d.body)
        seen.append(d.body)
        inside[0] -= 1

    ch.basic_consume("q", on_message, auto_ack=True)

    def publish(t):
        pub = broker.channel()
        for i in range(500):
            pub.basic_publish("", "q", b"%d.%d" % (t, i))

    threads = [threading.Thread(target=publish, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert overlaps == []
    assert sorted(seen) == sorted(b"%d.%d" % (t, i) for t in range(4) for i in range(500))
    assert not ch._events  # nothing stranded


def test_callback_exception_logged_and_delivery_continues(broker, caplog):
    ch = broker.channel()
    ch.queue_declare("q")
    seen = []

    def on_message(d):
        seen.append(d.body)
        if d.body == b"bad":
            raise RuntimeError("boom")

    ch.basic_consume("q", on_message, auto_ack=True)
    with caplog.at_level(logging.ERROR, logger="minimq"):
        ch.basic_publish("", "q", b"bad")
        ch.basic_publish("", "q", b"good")
    assert seen == [b"bad", b"good"]
    assert any("boom" in (r.exc_text or str(r.exc_info)) for r in caplog.records)
    assert ch.is_open


def test_callback_exception_in_a_batch_does_not_stop_the_rest(broker, caplog):
    ch = broker.channel()
    ch.queue_declare("q")
    for i in range(4):
        ch.basic_publish("", "q", b"%d" % i)
    seen = []

    def on_message(d):
        seen.append(d.body)
        raise ValueError(d.body)

    with caplog.at_level(logging.ERROR, logger="minimq"):
        ch.basic_consume("q", on_message, auto_ack=True)
    assert seen == [b"0", b"1", b"2", b"3"]
    assert len([r for r in caplog.records if r.exc_info]) == 4


def test_return_and_cancel_callbacks_inline(broker):
    ch = broker.channel()
    returns, cancels = [], []
    ch.add_on_return_callback(returns.append)
    ch.add_on_cancel_callback(cancels.append)
    ch.queue_declare("q")
    tag = ch.basic_consume("q", lambda d: None)
    ch.basic_publish("amq.direct", "x", b"m", mandatory=True)
    ch.queue_delete("q")
    assert [r.body for r in returns] == [b"m"]
    assert [c.consumer_tag for c in cancels] == [tag]
    assert ch.pop_event() is None


def test_callback_may_close_its_channel(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    seen = []

    def on_message(d):
        seen.append(d.body)
        ch.close()

    ch.basic_consume("q", on_message)
    publisher = broker.channel()
    publisher.basic_publish("", "q", b"a")
    publisher.basic_publish("", "q", b"b")
    assert seen == [b"a"]
    assert publisher.queue_declare("q", passive=True).message_count == 2  # a requeued, b waiting


@pytest.mark.parametrize("refusal", ["second open of an open number", "past channel_max"])
def test_a_refused_channel_open_wakes_waiters_on_sibling_channels(broker, refusal, monkeypatch):
    """Connection.channel closes the connection on a refusal; the close must go through the kernel's
    release path, so a thread waiting on a sibling channel wakes and ``on_events`` fires before the
    refusing call returns (it used to wait out its timeout: the wake-up was lost)."""
    from minimq import connection as connection_module
    from minimq.errors import ChannelErrorHard, NotAllowed

    conn = broker.connect()
    sibling = conn.channel(inline=False)
    hook_calls = []
    sibling.on_events = lambda: hook_calls.append(sibling.is_open)
    outcome = []

    def wait() -> None:
        try:
            outcome.append(sibling.get_event(timeout=None))  # forever: only a wake-up ends it
        except ChannelClosed as closed:
            outcome.append(closed)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    while sibling._waiters == 0:  # the waiter is asleep on the channel's condition
        threading.Event().wait(0.001)
    if refusal == "past channel_max":
        monkeypatch.setattr(connection_module, "CHANNEL_MAX", 1)
        expected = NotAllowed
        with pytest.raises(expected):
            conn.channel()
    else:
        with pytest.raises(ChannelErrorHard):
            conn.channel(sibling.number)
        expected = ChannelErrorHard
    assert hook_calls == [False]  # called by the refusing thread, before conn.channel() raised
    waiter.join(10)  # generous bound: a lost wake-up blocks forever
    assert not waiter.is_alive()
    [closed] = outcome
    assert isinstance(closed, ChannelClosed) and isinstance(closed.cause, expected)
