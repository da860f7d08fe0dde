"""Asynchronous publisher confirms with a store: publish never waits for a commit, each publish is
confirmed exactly once, in order, after the commit covering it; a failed commit reaches the publisher."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading

import pytest

from minimq import Broker, ChannelClosed, ConfirmTimeout, Properties, PublishNacked, PublishOutcome
from minimq.errors import NotFound, NotImplementedByServer
from minimq.persistence import SQLiteStore, StoreIOError

P2 = Properties(delivery_mode=2)
P1 = Properties(delivery_mode=1)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def expand(confirms, start=0):
    """[(seq, ack, error)] for every publish the confirms cover, checking they follow each other."""
    out = []
    last = start
    for c in confirms:
        assert c.seq > last, f"{c!r} goes backwards from {last}"
        first = last + 1 if c.multiple else c.seq
        assert first == last + 1, f"{c!r} skips publishes after {last}"
        out.extend((n, c.ack, c.error) for n in range(first, c.seq + 1))
        last = c.seq
    return out


@pytest.fixture
def async_channel(reopen):
    broker = reopen()
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.queue_declare("t")  # not durable: its messages are never written
    ch.confirm_select(wait=False)
    return broker, ch


class Gate:
    """Holds the store's commits until opened (the committer thread blocks inside the write)."""

    def __init__(self, store, monkeypatch):
        self.open = threading.Event()
        self.entered = threading.Event()
        write = store._write

        def held(batch):
            self.entered.set()
            assert self.open.wait(30), "the test never opened the gate"
            write(batch)

        monkeypatch.setattr(store, "_write", held)


def test_every_publish_is_confirmed_once_in_order(async_channel):
    broker, ch = async_channel
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    outcomes = []
    for i in range(6000):
        if i % 7 == 3:
            outcomes.append(ch.basic_publish("", "t", b"transient %d" % i, P2))  # persistent, transient queue
        elif i % 11 == 5:
            outcomes.append(ch.basic_publish("", "nowhere", b"unroutable"))
        elif i % 13 == 2:
            outcomes.append(ch.basic_publish("", "q", b"plain %d" % i, P1))
        else:
            outcomes.append(ch.basic_publish("", "q", b"durable %d" % i, P2))
    assert ch.publish_seq == 6000
    assert ch.wait_for_confirms() is True
    assert ch.confirmed_seq == 6000
    got = expand(confirms)
    assert [n for n, _, _ in got] == list(range(1, 6001))
    assert all(ack and error is None for _, ack, error in got)
    assert PublishOutcome.UNROUTABLE in outcomes and PublishOutcome.NACKED not in outcomes
    # a wait with nothing outstanding returns at once
    assert ch.wait_for_confirms(timeout=0) is True
    broker._check()


def test_publish_does_not_wait_for_the_commit_and_wait_times_out(async_channel, monkeypatch):
    broker, ch = async_channel
    gate = Gate(broker.store, monkeypatch)
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    assert ch.basic_publish("", "q", b"first", P2) is PublishOutcome.ROUTED
    assert gate.entered.wait(30)  # the commit covering it is running, held
    # publishes return although the commit cannot finish
    for i in range(100):
        assert ch.basic_publish("", "q", b"m%d" % i, P2) is PublishOutcome.ROUTED
    assert confirms == [] and ch.confirmed_seq == 0
    with pytest.raises(ConfirmTimeout) as info:
        ch.wait_for_confirms(timeout=0.05)
    assert info.value.pending == 101
    with pytest.raises(ConfirmTimeout):
        ch.wait_for_confirms_or_die(timeout=0)
    gate.open.set()
    assert ch.wait_for_confirms(timeout=30) is True
    assert [n for n, _, _ in expand(confirms)] == list(range(1, 102))


def test_a_nack_makes_wait_for_confirms_false_once(async_channel):
    broker, ch = async_channel
    ch.queue_declare("small", durable=True, arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    assert ch.basic_publish("", "small", b"1", P2) is PublishOutcome.ROUTED
    assert ch.basic_publish("", "small", b"2", P2) is PublishOutcome.NACKED
    assert ch.basic_publish("", "q", b"3", P2) is PublishOutcome.ROUTED
    assert ch.wait_for_confirms() is False
    assert [(n, ack) for n, ack, _ in expand(confirms)] == [(1, True), (2, False), (3, True)]
    assert ch.wait_for_confirms() is True  # the count is reset by each wait
    ch.basic_publish("", "small", b"4", P2)
    with pytest.raises(PublishNacked) as info:
        ch.wait_for_confirms_or_die()
    assert info.value.nacked == 1 and info.value.error is None


def test_a_failed_commit_nacks_with_the_store_error(async_channel, monkeypatch):
    broker, ch = async_channel
    store = broker.store
    confirms = []
    ch.add_on_confirm_callback(confirms.append)
    write = store._write
    failures = []

    def failing(batch):
        if not failures:
            failures.append(batch.gen)
            raise StoreIOError(f"cannot commit to store '{store.path}': simulated I/O error", store.path)
        write(batch)

    monkeypatch.setattr(store, "_write", failing)
    for i in range(50):
        ch.basic_publish("", "q", b"m%d" % i, P2)
    with pytest.raises(PublishNacked, match="simulated I/O error") as info:
        ch.wait_for_confirms_or_die(timeout=30)
    assert isinstance(info.value.error, StoreIOError) and info.value.__cause__ is info.value.error
    got = expand(confirms)
    assert [n for n, _, _ in got] == list(range(1, 51))
    nacked = [n for n, ack, error in got if not ack]
    assert nacked and all(isinstance(error, StoreIOError) for _, ack, error in got if not ack)
    # the store retries the failed batch with the next commit: later publishes are acked
    ch.basic_publish("", "q", b"after", P2)
    assert ch.wait_for_confirms(timeout=30) is True
    broker = reopen_after(broker)
    assert len(list(broker.get_queue("q").ready_messages())) == 51
    broker.close()


@pytest.mark.parametrize("how", ["channel.close", "connection.close", "channel error", "hard error on a sibling",
                                 "vhost deleted", "broker.close"])
def test_a_close_wakes_wait_for_confirms_at_once_with_channel_closed(reopen, monkeypatch, how):
    """wait_for_confirms (no timeout) with a commit that cannot finish: closing the channel, however it
    is closed, raises ChannelClosed carrying the cause in the waiting thread; nothing else could wake it."""
    broker = reopen()
    vhost = "v" if how == "vhost deleted" else "/"
    if vhost != "/":
        broker.add_vhost(vhost)
    connection = broker.connect(vhost)
    ch = connection.channel()
    ch.queue_declare("q", durable=True)
    ch.confirm_select(wait=False)
    gate = Gate(broker.store, monkeypatch)
    ch.basic_publish("", "q", b"x", P2)
    assert gate.entered.wait(30)
    raised = []
    waiting = threading.Event()

    def wait():
        waiting.set()
        try:
            ch.wait_for_confirms()
        except BaseException as error:  # noqa: B902 - whatever it is, the test looks at it
            raised.append(error)

    waiter = threading.Thread(target=wait, daemon=True)
    waiter.start()
    assert waiting.wait(30)
    closer = None
    if how == "channel.close":
        ch.close()
        code = None
    elif how == "connection.close":
        connection.close()
        code = None
    elif how == "channel error":
        with pytest.raises(NotFound):
            ch.basic_publish("no-such-exchange", "q", b"y")
        code = 404
    elif how == "hard error on a sibling":
        with pytest.raises(NotImplementedByServer):
            connection.channel().basic_qos(prefetch_size=1)
        code = 540
    elif how == "vhost deleted":
        broker.delete_vhost(vhost)
        code = 320
    else:  # broker.close() closes the connections, then waits for the (held) store: its own thread
        closer = threading.Thread(target=broker.close, daemon=True)
        closer.start()
        code = 320
    waiter.join(60)
    assert not waiter.is_alive() and not gate.open.is_set(), "wait_for_confirms did not wake on the close"
    assert len(raised) == 1 and type(raised[0]) is ChannelClosed, raised
    assert (raised[0].cause is None) if code is None else (raised[0].cause.reply_code == code)
    with pytest.raises(ChannelClosed):  # and a wait that starts after the close raises at once
        ch.wait_for_confirms()
    gate.open.set()
    if closer is not None:
        closer.join(60)


def reopen_after(broker):
    path = broker.store.path
    broker.close()
    return Broker(store=SQLiteStore(path, synchronous="NORMAL"))


def test_a_closed_store_nacks_instead_of_losing_the_confirm(async_channel):
    broker, ch = async_channel
    store = broker.store
    errors = []
    store.close()
    store.when_durable(store._gen + 5, errors.append)
    assert len(errors) == 1 and type(errors[0]).__name__ == "StoreClosedError"


def test_confirmed_messages_survive_a_crash(tmp_path):
    db = str(tmp_path / "crash.db")
    child = textwrap.dedent(f"""
        import os, sys
        from minimq import Broker, Properties
        from minimq.persistence import SQLiteStore
        broker = Broker(store=SQLiteStore({db!r}, synchronous="NORMAL"))
        ch = broker.channel()
        ch.queue_declare("q", durable=True)
        ch.confirm_select(wait=False)
        for i in range(3000):
            ch.basic_publish("", "q", b"%05d" % i, Properties(delivery_mode=2))
        assert ch.wait_for_confirms()
        print("confirmed", ch.confirmed_seq, flush=True)
        for i in range(3000, 3100):   # not waited for: may or may not survive
            ch.basic_publish("", "q", b"%05d" % i, Properties(delivery_mode=2))
        os._exit(0)   # no close: as a crash, the store is not shut down
    """)
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["confirmed", "3000"]
    broker = Broker(store=SQLiteStore(db, synchronous="NORMAL"))
    bodies = [int(m.body) for m in broker.get_queue("q").ready_messages()]
    assert bodies[:3000] == list(range(3000))
    assert bodies == list(range(len(bodies)))
    broker.close()


def test_blocking_confirm_mode_is_unchanged(reopen, monkeypatch):
    broker = reopen()
    store = broker.store
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.confirm_select()
    monkeypatch.setattr(store, "when_durable", lambda *a: pytest.fail("blocking confirms wait in flush"))
    for i in range(20):
        assert ch.basic_publish("", "q", b"m", P2) is PublishOutcome.ROUTED
        assert store.statistics().pending == 0  # durable before basic_publish returned
    assert ch.wait_for_confirms() is True
    with pytest.raises(ValueError, match="already in blocking confirm mode"):
        ch.confirm_select(wait=False)


def test_pika_facade_still_blocks_until_durable(reopen, monkeypatch):
    from minimq.compat.pika import BasicProperties, BlockingConnection

    broker = reopen()
    store = broker.store
    monkeypatch.setattr(store, "when_durable", lambda *a: pytest.fail("the pika facade waits in flush"))
    connection = BlockingConnection(broker=broker)
    channel = connection.channel()
    channel.queue_declare("q", durable=True)
    channel.confirm_delivery()
    commits = store.statistics().commits
    for i in range(10):
        channel.basic_publish("", "q", b"m%d" % i, BasicProperties(delivery_mode=2))
        assert store.statistics().pending == 0
    assert store.statistics().commits > commits
    connection.close()


def test_channels_on_many_threads_each_get_their_confirms_once_in_order(reopen):
    broker = reopen()
    setup = broker.channel()
    setup.queue_declare("q", durable=True)
    results = {}

    def publisher(k):
        ch = broker.channel()
        ch.confirm_select(wait=False)
        confirms = []
        ch.add_on_confirm_callback(confirms.append)
        for i in range(2000):
            ch.basic_publish("", "q", b"%d-%d" % (k, i), P2 if i % 5 else P1)
            if i % 500 == 499:
                assert ch.wait_for_confirms(timeout=60)
        assert ch.wait_for_confirms(timeout=60)
        results[k] = confirms

    threads = [threading.Thread(target=publisher, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(results) == [0, 1, 2, 3]
    for confirms in results.values():
        got = expand(confirms)
        assert [n for n, _, _ in got] == list(range(1, 2001)) and all(ack for _, ack, _ in got)
    assert broker.get_queue("q").message_count == 8000


def test_a_store_without_the_asynchronous_methods_is_refused_for_async_confirms():
    class OldStore:
        """A store written before commit_ticket/when_durable: every hook a no-op."""

        def recover(self, lock, clock):
            from minimq.store import RecoveredState
            return RecoveredState([], [], [], [], lambda v, q: iter(()), True)

        def __getattr__(self, name):
            if name in ("commit_ticket", "when_durable"):
                raise AttributeError(name)
            return lambda *args: None

    broker = Broker(store=OldStore())
    ch = broker.channel()
    with pytest.raises(TypeError, match="commit_ticket"):
        ch.confirm_select(wait=False)
    ch.confirm_select()  # blocking confirms still work
    ch.queue_declare("q", durable=True)
    assert ch.basic_publish("", "q", b"x", P2) is PublishOutcome.ROUTED
    broker.close()


def test_tx_commit_without_waiting_returns_the_ticket_covering_the_transaction(async_channel, monkeypatch):
    broker, _ = async_channel
    store = broker.store
    gate = Gate(store, monkeypatch)
    ch = broker.channel()
    ch.tx_select()
    ch.basic_publish("", "q", b"tx", P2)
    ticket = ch.tx_commit(wait=False)  # returns although no commit can finish
    assert isinstance(ticket, int) and broker.get_queue("q").message_count == 1
    done = []
    store.when_durable(ticket, done.append)
    assert gate.entered.wait(30) and done == []
    gate.open.set()
    store.flush()
    assert done == [None]


def test_tx_commit_without_waiting_on_a_broker_without_a_store_has_nothing_to_wait_for():
    broker = Broker()
    ch = broker.channel()
    ch.queue_declare("q")
    ch.tx_select()
    ch.basic_publish("", "q", b"x")
    assert ch.tx_commit(wait=False) is None
    assert broker.get_queue("q").message_count == 1
    broker.close()


def test_tx_commit_without_waiting_needs_a_store_with_tickets():
    class OldStore:
        """A store with flush() only (no commit_ticket/when_durable): every hook a no-op."""

        def recover(self, lock, clock):
            from minimq.store import RecoveredState
            return RecoveredState([], [], [], [], lambda v, q: iter(()), True)

        def __getattr__(self, name):
            if name in ("commit_ticket", "when_durable"):
                raise AttributeError(name)
            return lambda *args: None

    broker = Broker(store=OldStore())
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.tx_select()
    ch.basic_publish("", "q", b"x", P2)
    with pytest.raises(TypeError, match=r"^tx_commit\(wait=False\) needs a store with commit_ticket\(\)"):
        ch.tx_commit(wait=False)
    assert broker.get_queue("q").message_count == 0 and ch.is_open  # refused before committing anything
    ch.tx_commit()  # the blocking commit still works
    assert broker.get_queue("q").message_count == 1
    broker.close()
