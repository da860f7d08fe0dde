"""The write path: confirms wait for their commit, commits are shared, the file stays bounded."""

from __future__ import annotations

import os
import threading
import time

from minimq import Broker, Properties
from minimq.persistence import SQLiteStore

P2 = Properties(delivery_mode=2)


def committed_ids(store):
    """Record the message ids each commit wrote (wraps the store's _write)."""
    written: set[int] = set()
    original = store._write

    def write(batch):
        original(batch)
        written.update(batch.inserts)

    store._write = write
    return written


def test_a_confirm_returns_only_after_the_commit_covering_it(db):
    store = SQLiteStore(db, synchronous="NORMAL", commit_interval=60)  # no background commit in this test
    broker = Broker(store=store)
    written = committed_ids(store)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.queue_declare("transient", durable=False)
    plain = broker.channel()
    plain.basic_publish("", "q", b"unconfirmed", P2)
    assert written == set() and store.statistics().pending > 0  # not waited for
    ch.confirm_select()
    for i in range(5):
        ch.basic_publish("", "q", b"%d" % i, P2)
        qid = store._qids["/", "q"]
        assert (qid << 40 | (i + 2)) in written  # seq 1 was the unconfirmed one, committed along
    commits = store.statistics().commits
    ch.basic_publish("", "q", b"transient", Properties(delivery_mode=1))
    ch.basic_publish("", "transient", b"to a transient queue", P2)
    assert store.statistics().commits == commits  # nothing to wait for
    broker.close()


def test_tx_commit_returns_only_once_durable(db):
    store = SQLiteStore(db, synchronous="NORMAL", commit_interval=60)
    broker = Broker(store=store)
    written = committed_ids(store)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.tx_select()
    ch.basic_publish("", "q", b"a", P2)
    ch.basic_publish("", "q", b"b", P2)
    assert written == set()
    ch.tx_commit()
    assert len(written) == 2
    broker.close()


def test_background_commits_happen_within_the_commit_interval(db):
    store = SQLiteStore(db, synchronous="NORMAL", commit_interval=0.01)
    broker = Broker(store=store)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    ch.basic_publish("", "q", b"m", P2)
    deadline = time.monotonic() + 5
    while store.statistics().pending and time.monotonic() < deadline:
        time.sleep(0.005)
    assert store.statistics().pending == 0
    broker.close()


def test_a_message_published_and_acked_within_one_batch_never_reaches_the_file(db):
    store = SQLiteStore(db, synchronous="NORMAL", commit_interval=60)
    broker = Broker(store=store)
    written = committed_ids(store)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    store.flush()
    before = store.statistics().written
    for _ in range(100):
        ch.basic_publish("", "q", b"m", P2)
        ch.basic_ack(ch.basic_get("q").delivery_tag)
    store.flush()
    assert written == set() and store.statistics().written == before
    broker.close()


def test_concurrent_confirming_publishers_share_commits(db):
    threads, per_thread = 8, 150
    store = SQLiteStore(db, synchronous="FULL")
    broker = Broker(store=store)
    broker.channel().queue_declare("q", durable=True)
    errors = []

    def publish(t):
        try:
            ch = broker.channel()
            ch.confirm_select()
            for i in range(per_thread):
                ch.basic_publish("", "q", b"%d:%d" % (t, i), P2)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)

    workers = [threading.Thread(target=publish, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert errors == []
    commits = store.statistics().commits
    assert commits < threads * per_thread / 2, f"{commits} commits for {threads * per_thread} confirms"
    broker.close()
    broker = Broker(store=SQLiteStore(db, synchronous="NORMAL"))
    got = [m.body.split(b":") for m in broker.get_queue("q").ready_messages()]
    assert len(got) == threads * per_thread
    for t in range(threads):
        assert [int(i) for th, i in got if int(th) == t] == list(range(per_thread))
    broker.close()


def test_threads_publishing_consuming_and_declaring_keep_the_file_consistent(db):
    store = SQLiteStore(db, synchronous="NORMAL", commit_interval=0.002)
    broker = Broker(store=store)
    setup = broker.channel()
    for name in ("a", "b"):
        setup.queue_declare(name, durable=True)
    stop = threading.Event()
    acked: list[bytes] = []
    errors = []

    def publisher(t):
        try:
            ch = broker.channel()
            ch.confirm_select()
            for i in range(300):
                ch.basic_publish("", "ab"[i % 2], b"%d:%d" % (t, i), P2)
        except Exception as error:  # pragma: no cover
            errors.append(error)

    def consumer():
        try:
            ch = broker.channel()
            while not stop.is_set():
                d = ch.basic_get("a")
                if d is None:
                    time.sleep(0.001)
                    continue
                ch.basic_ack(d.delivery_tag)
                acked.append(d.body)
        except Exception as error:  # pragma: no cover
            errors.append(error)

    def declarer():
        try:
            ch = broker.channel()
            for i in range(50):
                ch.queue_declare(f"tmp{i}", durable=True)
                ch.basic_publish("", f"tmp{i}", b"x", P2)
                if i % 2:
                    ch.queue_delete(f"tmp{i}")
        except Exception as error:  # pragma: no cover
            errors.append(error)

    workers = [threading.Thread(target=publisher, args=(t,)) for t in range(4)]
    workers += [threading.Thread(target=declarer)]
    consumer_thread = threading.Thread(target=consumer)
    consumer_thread.start()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    consumer_thread.join()
    assert errors == []
    expected_a = sorted(m.body for m in broker.get_queue("a").ready_messages())
    broker.close()
    broker = Broker(store=SQLiteStore(db, synchronous="NORMAL"))
    assert sorted(m.body for m in broker.get_queue("a").ready_messages()) == expected_a
    assert len(broker.get_queue("b").ready_messages()) == 4 * 150
    assert sorted(expected_a + acked) == sorted(b"%d:%d" % (t, i) for t in range(4) for i in range(0, 300, 2))
    assert sorted(q for q in broker.vhosts["/"].queues if q.startswith("tmp")) == \
        sorted(f"tmp{i}" for i in range(0, 50, 2))
    broker.close()


def test_the_file_stays_bounded_and_space_is_reclaimed(db):
    """50k messages published and acked in waves of 5k: the file stays near its high-water size."""
    store = SQLiteStore(db, synchronous="NORMAL")
    broker = Broker(store=store)
    ch = broker.channel()
    ch.queue_declare("q", durable=True)
    body = b"x" * 16
    wave, waves = 5000, 10
    high_water = largest = largest_file = 0
    for _ in range(waves):
        for _ in range(wave):
            ch.basic_publish("", "q", body, P2)
        store.flush()
        stats = store.statistics()
        high_water = max(high_water, stats.used_bytes)  # the most data the file held (5k messages)
        while True:
            d = ch.basic_get("q")
            if d is None:
                break
            ch.basic_ack(d.delivery_tag)
        store.flush()
        stats = store.statistics()
        largest = max(largest, stats.database_bytes)
        largest_file = max(largest_file, stats.file_bytes)
    assert largest <= 2 * high_water, (largest, high_water)
    # on disk: the database plus a log that is checkpointed every 1000 pages and truncated to 8 MiB
    assert largest_file <= largest + 8 * 1024 * 1024, (largest_file, largest)
    broker.close()
    assert not os.path.exists(db + "-wal")
    assert os.path.getsize(db) <= high_water / 4, "free pages were not given back at close"
