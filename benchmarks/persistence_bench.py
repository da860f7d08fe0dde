"""Persistence benchmark: minimq + SQLiteStore against persist-queue and litequeue, in one run.

    python benchmarks/persistence_bench.py                 # the full run (20k messages; takes minutes)
    python benchmarks/persistence_bench.py --n 2000 --repeat 1 --bounded 50000   # a quick look

Work per trial, on a fresh file: publish N persistent 16-byte messages, then consume them all with an
ack each; the rate is N / (publish + consume time), clocks stopped only once the last change is
durable (a final ``flush()`` for minimq; the baselines commit every operation).  Durability is the
same for every durable case unless the name says NORMAL: SQLite WAL with ``synchronous=FULL``, an
fsync per commit.  minimq reports a confirm only after the commit covering it (group commit); the
baselines commit each put, get and ack.

Publish only: one publisher streaming N persistent messages until every one is confirmed, with
blocking confirms (``basic_publish`` returns once durable: one fsync per message), with asynchronous
confirms (``confirm_select(wait=False)``, then ``wait_for_confirms()`` at the end; native and through
``minimq.aio``), against persist-queue's durable put (a commit per put).

Also measured: the consume rate at depth 20k against depth 1k (a pop must not cost O(depth)), and the
file size while 1M messages are published and acked in waves of 10k (the file must stay within a
small multiple of the most data it held).  Baselines are skipped (with a note) if not installed:
``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from typing import Callable

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from minimq import Broker, Properties  # noqa: E402
from minimq.persistence import SQLiteStore  # noqa: E402

BODY = b"0123456789abcdef"  # 16 bytes
PERSISTENT = Properties(delivery_mode=2)


# -- minimq ---------------------------------------------------------------------------------------
def _consume_all(broker: Broker, n: int) -> None:
    """Push-consume ``n`` messages, acking each from the callback (prefetch 1000)."""
    ch = broker.channel()
    ch.basic_qos(prefetch_count=1000)
    done = threading.Event()
    count = 0

    def on_message(delivery):
        nonlocal count
        ch.basic_ack(delivery.delivery_tag)
        count += 1
        if count == n:
            done.set()

    ch.basic_consume("q", on_message)
    if not done.wait(600):
        raise RuntimeError(f"consumed {count} of {n}")
    ch.close()


def minimq_case(store_options: dict | None, publishers: int = 1, tx: int = 0) -> Callable[[str, int], float]:
    """publish (confirm mode; or ``tx`` messages per tx.commit) + consume with acks; returns seconds."""

    def run(directory: str, n: int) -> float:
        store = None if store_options is None else SQLiteStore(os.path.join(directory, "minimq.db"), **store_options)
        broker = Broker(store=store)
        broker.channel().queue_declare("q", durable=True)
        per_thread = n // publishers

        def publish() -> None:
            ch = broker.channel()
            if tx:
                ch.tx_select()
                for i in range(per_thread):
                    ch.basic_publish("", "q", BODY, PERSISTENT)
                    if (i + 1) % tx == 0:
                        ch.tx_commit()
                ch.tx_commit()
            else:
                ch.confirm_select()
                for _ in range(per_thread):
                    ch.basic_publish("", "q", BODY, PERSISTENT)

        started = time.perf_counter()
        if publishers == 1:
            publish()
        else:
            threads = [threading.Thread(target=publish) for _ in range(publishers)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        _consume_all(broker, per_thread * publishers)
        if store is not None:
            store.flush()  # every ack durable
        elapsed = time.perf_counter() - started
        broker.close()
        return elapsed

    return run


def minimq_publish_case(mode: str) -> Callable[[str, int], float]:
    """One publisher, ``n`` persistent messages, FULL, timed until every one is confirmed.

    ``mode``: ``"each"`` (blocking confirms), ``"async"`` (native asynchronous confirms, one
    ``wait_for_confirms`` at the end), ``"aio"`` (the same through ``minimq.aio``)."""

    def run(directory: str, n: int) -> float:
        store = SQLiteStore(os.path.join(directory, "publish.db"), synchronous="FULL")
        broker = Broker(store=store)
        broker.channel().queue_declare("q", durable=True)
        if mode == "aio":
            import minimq.aio

            async def publish() -> float:
                async with await minimq.aio.connect(broker) as conn:
                    ch = await conn.channel()
                    await ch.confirm_select(wait=False)
                    started = time.perf_counter()
                    for _ in range(n):
                        await ch.basic_publish("", "q", BODY, PERSISTENT)
                    if not await ch.wait_for_confirms():
                        raise RuntimeError("a publish was nacked")
                    return time.perf_counter() - started

            elapsed = asyncio.run(publish())
        else:
            ch = broker.channel()
            ch.confirm_select(wait=mode == "each")
            started = time.perf_counter()
            for _ in range(n):
                ch.basic_publish("", "q", BODY, PERSISTENT)
            if not ch.wait_for_confirms():
                raise RuntimeError("a publish was nacked")
            elapsed = time.perf_counter() - started
        broker.close()
        return elapsed

    return run


def minimq_consume_at_depth(depth: int, synchronous: str = "FULL") -> Callable[[str, int], float]:
    """Fill a queue to ``depth`` (not timed), then time consuming it all with acks until durable."""

    def run(directory: str, n: int) -> float:
        store = SQLiteStore(os.path.join(directory, "depth.db"), synchronous=synchronous)
        broker = Broker(store=store)
        ch = broker.channel()
        ch.queue_declare("q", durable=True)
        for _ in range(depth):
            ch.basic_publish("", "q", BODY, PERSISTENT)
        store.flush()
        started = time.perf_counter()
        _consume_all(broker, depth)
        store.flush()
        elapsed = time.perf_counter() - started
        broker.close()
        return elapsed * n / depth  # scaled to n messages, so the table's rate is the consume rate

    return run


# -- baselines ------------------------------------------------------------------------------------
def _full(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA synchronous = FULL")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal"


def persistqueue_case(kind: str) -> Callable[[str, int], float] | None:
    try:
        import persistqueue
    except ImportError:
        return None

    def run(directory: str, n: int) -> float:
        cls = persistqueue.SQLiteQueue if kind == "SQLiteQueue" else persistqueue.SQLiteAckQueue
        q = cls(os.path.join(directory, "pq"), auto_commit=True, multithreading=False)
        for conn in {id(q._getter): q._getter, id(q._putter): q._putter}.values():
            _full(conn)
        started = time.perf_counter()
        for _ in range(n):
            q.put(BODY)
        for _ in range(n):
            item = q.get(block=False)
            if kind != "SQLiteQueue":
                q.ack(item)
        elapsed = time.perf_counter() - started
        q.close()
        return elapsed

    return run


def persistqueue_put_case() -> Callable[[str, int], float] | None:
    """persist-queue's durable put alone (SQLiteQueue, auto_commit: a FULL commit per put)."""
    try:
        import persistqueue
    except ImportError:
        return None

    def run(directory: str, n: int) -> float:
        q = persistqueue.SQLiteQueue(os.path.join(directory, "pq"), auto_commit=True, multithreading=False)
        for conn in {id(q._getter): q._getter, id(q._putter): q._putter}.values():
            _full(conn)
        started = time.perf_counter()
        for _ in range(n):
            q.put(BODY)
        elapsed = time.perf_counter() - started
        q.close()
        return elapsed

    return run


def litequeue_case() -> Callable[[str, int], float] | None:
    try:
        import litequeue
    except ImportError:
        return None

    def run(directory: str, n: int) -> float:
        q = litequeue.LiteQueue(os.path.join(directory, "lq.db"))
        _full(q.conn)  # litequeue sets NORMAL itself: same durability as the others
        data = BODY.decode()
        started = time.perf_counter()
        for _ in range(n):
            q.put(data)
        for _ in range(n):
            message = q.pop()
            q.done(message.message_id)
        elapsed = time.perf_counter() - started
        q.conn.close()
        return elapsed

    return run


# -- driver ---------------------------------------------------------------------------------------
def trial(case: Callable[[str, int], float], n: int) -> float:
    directory = tempfile.mkdtemp(prefix="minimq-bench-")
    try:
        return n / case(directory, n)
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def measure(name: str, case: Callable | None, n: int, repeat: int, results: dict) -> None:
    if case is None:
        print(f"  {name:<58} (not installed: pip install -e '.[bench]')", flush=True)
        return
    trial(case, max(200, n // 20))  # warm-up
    rates = [trial(case, n) for _ in range(repeat)]
    results[name] = rates
    print(f"  {name:<58} median {statistics.median(rates):>9,.0f} msg/s   min {min(rates):>9,.0f}   "
          f"max {max(rates):>9,.0f}", flush=True)


def bounded_file(total: int, wave: int) -> None:
    """Publish ``total`` persistent messages in waves of ``wave``, consuming and acking each wave."""
    directory = tempfile.mkdtemp(prefix="minimq-bench-")
    try:
        path = os.path.join(directory, "bounded.db")
        store = SQLiteStore(path, synchronous="NORMAL")
        broker = Broker(store=store)
        ch = broker.channel()
        ch.queue_declare("q", durable=True)
        high_water = largest_db = largest_file = 0
        started = time.perf_counter()
        for _ in range(total // wave):
            for _ in range(wave):
                ch.basic_publish("", "q", BODY, PERSISTENT)
            store.flush()
            high_water = max(high_water, store.statistics().used_bytes)
            while True:
                d = ch.basic_get("q")
                if d is None:
                    break
                ch.basic_ack(d.delivery_tag)
            store.flush()
            stats = store.statistics()
            largest_db = max(largest_db, stats.database_bytes)
            largest_file = max(largest_file, stats.file_bytes)
        elapsed = time.perf_counter() - started
        broker.close()
        final = os.path.getsize(path)
        mib = 1024 * 1024
        print(f"  {total:,} messages published and acked in waves of {wave:,} ({elapsed:.1f} s, NORMAL):")
        print(f"    high-water data {high_water / mib:.2f} MiB; largest database {largest_db / mib:.2f} MiB "
              f"({largest_db / high_water:.2f}x); largest on disk incl. WAL {largest_file / mib:.2f} MiB; "
              f"after close {final / 1024:.0f} KiB")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="messages per trial (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="trials per minimq case (default 3)")
    parser.add_argument("--baseline-repeat", type=int, default=1, help="trials per baseline (default 1: slow)")
    parser.add_argument("--bounded", type=int, default=1_000_000, help="messages for the file-size run (0: skip)")
    parser.add_argument("--publish-only", action="store_true", help="run only the publish-only section")
    args = parser.parse_args()
    n = args.n
    print(f"minimq persistence benchmark: {n:,} messages of {len(BODY)} bytes per trial, fresh file per trial")
    print(f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, {platform.machine()}, "
          f"{os.cpu_count()} cpus, {time.strftime('%Y-%m-%d')}")
    results: dict[str, list[float]] = {}
    if not args.publish_only:
        print("end-to-end: publish (confirmed) + consume (acked), msg/s")
    full = {"synchronous": "FULL"}
    cases = [
        ("minimq + SQLiteStore FULL, 1 publisher, confirm each", minimq_case(full), args.repeat),
        ("minimq + SQLiteStore FULL, 8 publishers, confirm each", minimq_case(full, publishers=8), args.repeat),
        ("minimq + SQLiteStore FULL, 1 publisher, tx.commit per 100", minimq_case(full, tx=100), args.repeat),
        ("minimq + SQLiteStore NORMAL, 8 publishers, confirm each",
         minimq_case({"synchronous": "NORMAL"}, publishers=8), args.repeat),
        ("minimq in memory (no store), 1 publisher, confirm mode", minimq_case(None), args.repeat),
        ("persist-queue SQLiteQueue FULL (put, get)", persistqueue_case("SQLiteQueue"), args.baseline_repeat),
        ("persist-queue SQLiteAckQueue FULL (put, get, ack)", persistqueue_case("SQLiteAckQueue"),
         args.baseline_repeat),
        ("litequeue FULL (put, pop, done)", litequeue_case(), args.baseline_repeat),
    ]
    for name, case, repeat in ([] if args.publish_only else cases):
        measure(name, case, n, repeat, results)
    base = results.get("persist-queue SQLiteQueue FULL (put, get)")
    if base:
        print("ratios to persist-queue SQLiteQueue at the same durability (target: >= 5x at FULL):")
        for name, rates in results.items():
            print(f"  {name:<58} {statistics.median(rates) / statistics.median(base):>7.1f}x")
    print("publish only: one publisher, every message durable and confirmed (FULL), msg/s")
    publish_results: dict[str, list[float]] = {}
    publish_cases = [
        ("persist-queue SQLiteQueue FULL, durable put", persistqueue_put_case(), args.baseline_repeat),
        ("minimq FULL, 1 publisher, blocking confirm each", minimq_publish_case("each"), args.repeat),
        ("minimq FULL, 1 publisher, async confirms, wait at end", minimq_publish_case("async"), args.repeat),
        ("minimq.aio FULL, 1 publisher, async confirms, wait at end", minimq_publish_case("aio"), args.repeat),
    ]
    for name, case, repeat in publish_cases:
        measure(name, case, n, repeat, publish_results)
    put = publish_results.get("persist-queue SQLiteQueue FULL, durable put")
    if put:
        print("ratios to persist-queue's durable put (target for async confirms: >= 5x):")
        for name, rates in publish_results.items():
            print(f"  {name:<58} {statistics.median(rates) / statistics.median(put):>7.1f}x")
    if args.publish_only:
        return
    print("consume rate by depth (FULL, acks durable at the end), msg/s")
    depth_results: dict[str, list[float]] = {}
    for depth in (1_000, 20_000):
        measure(f"minimq consume at depth {depth:,}", minimq_consume_at_depth(depth), depth, max(3, args.repeat),
                depth_results)
    if len(depth_results) == 2:
        small, large = (statistics.median(r) for r in depth_results.values())
        print(f"  depth 1k / depth 20k rate: {small / large:.2f} (target <= 1.5)")
    if args.bounded:
        print("file size")
        bounded_file(args.bounded, 10_000)


if __name__ == "__main__":
    main()
