#!/usr/bin/env python
"""minimq benchmarks: every case next to a baseline measured in the same run, with a pass/fail target.

    python benchmarks/run.py                 # full sizes (a few minutes on 2 cores)
    python benchmarks/run.py --quick         # small sizes, CI smoke (seconds)
    python benchmarks/run.py --case topic    # only cases whose group or name contains "topic"

Method (sortedcontainers' discipline): each subject runs once as a warm-up, then ``REPEATS`` times;
the subjects of one case (minimq, its baseline, kombu) are *interleaved* round by round, so a noisy
neighbour hits all of them alike.  Each timed run starts after ``gc.collect()`` and ``gc.freeze()``
(objects that exist before the run, fixtures and other cases' state, are not scanned) with the
collector enabled: the code pays for collecting what it allocates itself, as it would in production.  The table gives
the min and the median per operation; ``ratio`` is minimq's min over the baseline's min (the min is
the least noisy estimate of what the code costs).  Random data comes from a fixed seed.

Clock: single-threaded cases are timed in CPU time of this process (``time.process_time``), so time
spent waiting for a core on a shared machine is not counted; ``--wall`` uses ``time.perf_counter``
instead.  The two-thread case always uses wall-clock time (its cost *is* the waiting).

Everything runs single-threaded unless the case name says "threads".  The asyncio cases (``minimq.aio``) run
on one event loop per case, created once and reused by every round of minimq and of its baseline alike.  The
exit code is 0 even when targets fail: this script reports, the figures are judged in benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import queue
import random
import re
import socket
import statistics
import sys
import threading
import time
import tracemalloc
from collections import deque
from itertools import count, islice
from typing import Any, Callable

from minimq import Broker, Properties

try:  # kombu is optional: its column says "-" when it is missing
    import kombu
    from kombu import Connection as KConnection
    from kombu import Consumer as KConsumer
    from kombu import Exchange as KExchange
    from kombu import Producer as KProducer
    from kombu import Queue as KQueue
except ImportError:  # pragma: no cover - depends on the environment
    kombu = None

REPEATS = 15  # rounds per case in full runs: many short runs, so the min finds a quiet moment for each
SEED = 20260101
BODY = b"x" * 32
perf_counter = time.perf_counter
CLOCK: Callable[[], float] = time.process_time  # --wall: perf_counter
_ids = count(1)


def uid(prefix: str) -> str:
    """A name never used before in this process (kombu's memory transport state is global)."""
    return f"{prefix}.{next(_ids)}"


# ---------------------------------------------------------------------------------------------- harness

class Subject:
    """One thing to time: ``setup()`` (untimed) returns a state, ``run(state)`` does ``ops`` operations."""

    __slots__ = ("setup", "run", "ops")

    def __init__(self, setup: Callable[[], Any], run: Callable[[Any], Any], ops: int) -> None:
        self.setup = setup
        self.run = run
        self.ops = ops


def measure(subjects: dict[str, Subject | None], repeats: int | None = None,
            clock: Callable[[], float] | None = None) -> dict[str, list[float]]:
    """µs per operation of each subject: one warm-up round, then ``repeats`` interleaved rounds."""
    clock = clock or CLOCK
    repeats = repeats or REPEATS
    times: dict[str, list[float]] = {label: [] for label, s in subjects.items() if s is not None}
    for round_ in range(repeats + 1):
        for label, subject in subjects.items():
            if subject is None:
                continue
            state = subject.setup()
            gc.collect()
            gc.freeze()  # what setup and other cases hold is not scanned by collections during the run
            try:
                t0 = clock()
                subject.run(state)
                elapsed = clock() - t0
            finally:
                gc.unfreeze()
            if round_:  # round 0 is the warm-up
                times[label].append(elapsed / subject.ops * 1e6)
    return times


class Row:
    """One line of the table."""

    def __init__(self, name: str, mm: list[float], base: list[float] | None, target: float | None,
                 absolute: bool = False, kombu_fig: list[float] | str | None = None, unit: str = "µs") -> None:
        self.name = name
        self.mm_min = min(mm)
        self.mm_med = statistics.median(mm)
        self.base_min = min(base) if base else None
        self.base_med = statistics.median(base) if base else None
        self.ratio = self.mm_min / self.base_min if self.base_min else None
        self.target = target
        self.absolute = absolute
        self.unit = unit
        if target is None:
            self.ok = None
        elif absolute:
            self.ok = self.mm_min <= target
        else:
            self.ok = self.ratio is not None and self.ratio <= target
        if isinstance(kombu_fig, list):
            self.kombu = _fmt(statistics.median(kombu_fig))
        elif kombu_fig is None:
            self.kombu = "-" if kombu is None else "n/a"
        else:
            self.kombu = kombu_fig

    def cells(self) -> list[str]:
        if self.target is None:
            target = ""
        elif self.absolute:
            target = f"<= {self.target:g} {self.unit}"
        else:
            target = f"<= {self.target:g}x"
        result = "" if self.ok is None else ("PASS" if self.ok else "FAIL")
        return [self.name, _fmt(self.mm_min), _fmt(self.mm_med), _fmt(self.base_min), _fmt(self.base_med),
                "" if self.ratio is None else f"{self.ratio:.2f}", target, result, self.kombu]


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 100:
        return f"{value:.0f}"
    return f"{value:.2f}"


HEADER = ["case", "min", "median", "base min", "base med", "ratio", "target", "result", "kombu med"]


def print_table(rows: list[Row], out: Any = sys.stdout) -> None:
    table = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(HEADER))]
    for n, line in enumerate(table):
        cells = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
        print("  ".join(cells).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


# ---------------------------------------------------------------------------------------------- cases
# Each case function takes the size settings and returns (rows, notes).

def case_direct(cfg: dict) -> tuple[list[Row], list[str]]:
    """Direct exchange, one bound queue: publish alone (backlog grows), then publish + get + ack, then
    publish on a broker with one no-op event subscriber against the same publish on one without."""
    n = cfg["n"]
    broker = Broker()
    ch = broker.channel()
    ch.exchange_declare("bench.direct", "direct")
    ch.queue_declare("bench.q")
    ch.queue_bind("bench.q", "bench.direct", "k")
    mq = broker.get_queue("bench.q")

    def mm_setup() -> Any:
        ch.queue_purge("bench.q")
        return ch.basic_publish

    def mm_publish(publish: Any) -> None:
        for _ in range(n):
            publish("bench.direct", "k", BODY)

    def q_setup() -> Any:
        return queue.Queue().put

    def q_put(put: Any) -> None:
        for _ in range(n):
            put(BODY)

    def mm_cycle(_: Any) -> None:
        publish, get, ack = ch.basic_publish, ch.basic_get, ch.basic_ack
        for _ in range(n):
            publish("bench.direct", "k", BODY)
            ack(get("bench.q").delivery_tag)

    def q_cycle(_: Any) -> None:
        q = queue.Queue()
        put, get = q.put, q.get
        for _ in range(n):
            put(BODY)
            get()

    k_pub = k_cycle = None
    if kombu is not None:
        kn = max(1, n // 5)
        conn = KConnection("memory://")
        kch = conn.channel()
        kx = KExchange(uid("kdirect"), type="direct")
        kq = KQueue(uid("kq"), exchange=kx, routing_key="k", channel=kch)
        kq.declare()
        producer = KProducer(kch)

        def k_setup() -> Any:
            kq.purge()
            return producer.publish

        def k_publish(publish: Any) -> None:
            for _ in range(kn):
                publish(BODY, exchange=kx, routing_key="k")

        def k_cyc(publish: Any) -> None:
            get = kq.get
            for _ in range(kn):
                publish(BODY, exchange=kx, routing_key="k")
                get(no_ack=False).ack()

        k_pub = Subject(k_setup, k_publish, kn)
        k_cycle = Subject(k_setup, k_cyc, kn)

    t1 = measure({"mm": Subject(mm_setup, mm_publish, n), "q": Subject(q_setup, q_put, n), "k": k_pub})
    assert mq.message_count == n, "publish case lost messages"
    t2 = measure({"mm": Subject(mm_setup, mm_cycle, n), "q": Subject(lambda: None, q_cycle, n), "k": k_cycle})
    assert mq.message_count == 0 and mq.unacked_count == 0
    observed = Broker()  # the same topology on a broker with one no-op event subscriber
    och = observed.channel()
    och.exchange_declare("bench.direct", "direct")
    och.queue_declare("bench.q")
    och.queue_bind("bench.q", "bench.direct", "k")
    seen = []
    with observed.subscribe(seen.append):  # the events do flow: publish, route, enqueue per publish
        och.basic_publish("bench.direct", "k", BODY)
    assert [e.kind for e in seen] == ["publish", "route", "enqueue"], seen
    observed.subscribe(lambda event: None)
    oq = observed.get_queue("bench.q")

    def ev_setup() -> Any:
        och.queue_purge("bench.q")
        return och.basic_publish

    t3 = measure({"mm": Subject(ev_setup, mm_publish, n), "q": Subject(mm_setup, mm_publish, n)})
    assert oq.message_count == n, "observed publish case lost messages"

    def journaled(enable: bool) -> tuple[Broker, Any, Any]:
        """The same topology on a fresh broker: its journal on, or enabled and disabled again."""
        jb = Broker()
        jch = jb.channel()
        jch.exchange_declare("bench.direct", "direct")
        jch.queue_declare("bench.q")
        jch.queue_bind("bench.q", "bench.direct", "k")
        journal = jb.enable_journal()
        if not enable:
            jb.disable_journal()
        return jb, jch, journal

    jb_on, jch_on, journal_on = journaled(True)
    jb_off, jch_off, _ = journaled(False)
    jch_on.basic_publish("bench.direct", "k", BODY)  # the journal does record: one record, enqueued
    assert [r.queues for r in journal_on.records()] == [("bench.q",)], journal_on.records()

    def jon_setup() -> Any:
        jch_on.queue_purge("bench.q")
        journal_on.clear()  # records of earlier rounds would only cost memory
        return jch_on.basic_publish

    def joff_setup() -> Any:
        jch_off.queue_purge("bench.q")
        return jch_off.basic_publish

    t4 = measure({"mm": Subject(jon_setup, mm_publish, n), "off": Subject(joff_setup, mm_publish, n),
                  "sub": Subject(ev_setup, mm_publish, n), "q": Subject(mm_setup, mm_publish, n)})
    assert len(journal_on) == n and jb_on.get_queue("bench.q").message_count == n, "journaled publish lost messages"
    assert jb_off.journal is None and jb_off.get_queue("bench.q").message_count == n
    rows = [
        Row("direct publish -> 1 queue", t1["mm"], t1["q"], 3, kombu_fig=t1.get("k")),
        Row("publish + basic_get + ack", t2["mm"], t2["q"], 4, kombu_fig=t2.get("k")),
        Row("publish with one no-op event subscriber", t3["mm"], t3["q"], 5, kombu_fig="n/a"),
        Row("publish with the journal on", t4["mm"], t4["q"], 2, kombu_fig="n/a"),
        Row("publish with the journal on, vs one no-op subscriber", t4["mm"], t4["sub"], None, kombu_fig="n/a"),
        Row("publish, journal enabled then disabled", t4["off"], t4["q"], None, kombu_fig="n/a"),
    ]
    notes = [f"direct publish: {n:,} publishes per run into one queue (its backlog grows to {n:,}); "
             "baseline queue.Queue.put of the same body",
             "publish + basic_get + ack: one message at a time (backlog 0/1); baseline queue.Queue put + get",
             "publish with one no-op event subscriber: the direct publish on a broker where broker.subscribe(lambda e: None) "
             "is open (three events per publish: publish, route, enqueue); baseline the same publish on the broker "
             "nobody listens to, interleaved",
             "publish with the journal on: the direct publish on a broker with broker.enable_journal() (one record "
             "per message, three events recorded); judged against the broker nobody listens to (target 2x); the "
             "next, unjudged, line compares it with the broker with one no-op event subscriber (the journal's own "
             "cost on top of the event stream it is built on), and the one after is a broker whose journal was "
             "enabled and disabled again against the broker nobody listens to"]
    return rows, notes


def case_fanout(cfg: dict) -> tuple[list[Row], list[str]]:
    """Fanout to 10 queues: publish alone, then publish + drain the 10 queues with get + ack."""
    n = cfg["n_fanout"]
    broker = Broker()
    ch = broker.channel()
    ch.exchange_declare("bench.fanout", "fanout")
    names = [f"bench.f{i}" for i in range(10)]
    for name in names:
        ch.queue_declare(name)
        ch.queue_bind(name, "bench.fanout", "")

    def mm_setup() -> Any:
        for name in names:
            ch.queue_purge(name)
        return ch.basic_publish

    def mm_publish(publish: Any) -> None:
        for _ in range(n):
            publish("bench.fanout", "", BODY)

    def q_setup() -> Any:
        return [queue.Queue().put for _ in range(10)]

    def q_put(puts: list) -> None:
        for _ in range(n):
            for put in puts:
                put(BODY)

    def mm_drain(publish: Any) -> None:
        get, ack = ch.basic_get, ch.basic_ack
        for _ in range(n):
            publish("bench.fanout", "", BODY)
            for name in names:
                ack(get(name).delivery_tag)

    def q_drain_setup() -> Any:
        return [queue.Queue() for _ in range(10)]

    def q_drain(queues: list) -> None:
        for _ in range(n):
            for q in queues:
                q.put(BODY)
            for q in queues:
                q.get()

    k_pub = k_drain = None
    if kombu is not None:
        kn = max(1, n // 5)
        conn = KConnection("memory://")
        kch = conn.channel()
        kx = KExchange(uid("kfanout"), type="fanout")
        kqs = [KQueue(uid("kf"), exchange=kx, channel=kch) for _ in range(10)]
        for kq in kqs:
            kq.declare()
        producer = KProducer(kch)

        def k_setup() -> Any:
            for kq in kqs:
                kq.purge()
            return producer.publish

        def k_publish(publish: Any) -> None:
            for _ in range(kn):
                publish(BODY, exchange=kx, routing_key="")

        def k_drain_run(publish: Any) -> None:
            gets = [kq.get for kq in kqs]
            for _ in range(kn):
                publish(BODY, exchange=kx, routing_key="")
                for get in gets:
                    get(no_ack=False).ack()

        k_pub = Subject(k_setup, k_publish, kn)
        k_drain = Subject(k_setup, k_drain_run, kn)

    t1 = measure({"mm": Subject(mm_setup, mm_publish, n), "q": Subject(q_setup, q_put, n), "k": k_pub})
    assert all(broker.get_queue(name).message_count == n for name in names)
    t2 = measure({"mm": Subject(mm_setup, mm_drain, n), "q": Subject(q_drain_setup, q_drain, n), "k": k_drain})
    assert all(broker.get_queue(name).message_count == 0 for name in names)
    rows = [
        Row("fanout publish -> 10 queues", t1["mm"], t1["q"], 1, kombu_fig=t1.get("k")),
        Row("fanout publish + drain 10 (get+ack)", t2["mm"], t2["q"], 2, kombu_fig=t2.get("k")),
    ]
    notes = [f"fanout: per op one publish reaching 10 queues ({n:,} ops per run); baselines: ten "
             "queue.Queue.put / ten put + ten get"]
    return rows, notes


# -- topic --------------------------------------------------------------------------------------------

REGIONS = [f"r{i}" for i in range(20)]
ZONES = [f"z{i}" for i in range(50)]
SERVICES = [f"svc{i}" for i in range(100)]
LEVELS = ["debug", "info", "warn", "error", "critical"]
KEY_SPACE = len(REGIONS) * len(ZONES) * len(SERVICES) * len(LEVELS)  # 500,000 distinct keys


def key_of(i: int) -> str:
    """The i-th key of the ``region.zone.service.level`` space."""
    i, level = divmod(i, len(LEVELS))
    i, service = divmod(i, len(SERVICES))
    region, zone = divmod(i, len(ZONES))
    return f"{REGIONS[region]}.{ZONES[zone]}.{SERVICES[service]}.{LEVELS[level]}"


STAR_TEMPLATES = ("{r}.*.{s}.{lv}", "{r}.{z}.*.{lv}", "{r}.{z}.{s}.*", "*.{z}.{s}.{lv}")
HASH_TEMPLATES = ("{r}.{z}.#", "#.{s}.{lv}")


def wildcard_patterns(rng: random.Random) -> list[str]:
    """One ``*`` pattern and one ``#`` pattern over the key space."""
    out = []
    for templates in (STAR_TEMPLATES, HASH_TEMPLATES):
        r, z, s, lv = rng.choice(REGIONS), rng.choice(ZONES), rng.choice(SERVICES), rng.choice(LEVELS)
        out.append(rng.choice(templates).format(r=r, z=z, s=s, lv=lv))
    return out


#: The same wildcard patterns at every size (drawn once from their own seed), so that what grows with
#: the size is the number of exact bindings a key does *not* match -- the claim under test -- and not
#: the number or the shape of the patterns it walks.
WILDCARDS = wildcard_patterns(random.Random(SEED + 1))


def topic_bindings(size: int, seed: int) -> list[tuple[str, int]]:
    """``size`` (pattern, queue index) pairs: exact keys plus the same ``WILDCARDS`` at every size."""
    rng = random.Random(seed)
    patterns: dict[str, None] = {}
    for i in rng.sample(range(KEY_SPACE), size - len(WILDCARDS)):
        patterns[key_of(i)] = None
    patterns.update(dict.fromkeys(WILDCARDS))
    n_queues = min(size, 100)
    return [(p, rng.randrange(n_queues)) for p in patterns]


def topic_regex(pattern: str) -> re.Pattern:
    """AMQP topic semantics as a regex over ``'.' + key`` (the empty key has zero words)."""
    parts = []
    for word in pattern.split(".") if pattern else ():
        if word == "*":
            parts.append(r"\.[^.]*")
        elif word == "#":
            parts.append(r"(?:\.[^.]*)*")
        else:
            parts.append(r"\." + re.escape(word))
    return re.compile("".join(parts))


class NaiveTopic:
    """The baseline router: test every binding's compiled regex, append to a deque per destination."""

    def __init__(self, bindings: list[tuple[str, int]]) -> None:
        self.queues = [deque() for _ in range(max(q for _, q in bindings) + 1)]
        self.table = [(topic_regex(p).fullmatch, self.queues[q]) for p, q in bindings]

    def route(self, key: str) -> list:
        dotted = "." + key if key else ""
        found: dict[int, deque] = {}
        for match, dest in self.table:
            if match(dotted) is not None:
                found[id(dest)] = dest
        return list(found.values())

    def publish(self, key: str, body: bytes) -> None:
        for dest in self.route(key):
            dest.append(body)


def case_topic(cfg: dict) -> tuple[list[Row], list[str]]:
    sizes = cfg["topic_sizes"]
    n = cfg["n_topic"]
    rng = random.Random(SEED)
    broker = Broker()
    ch = broker.channel()
    setups: dict[int, tuple[str, list[str], list]] = {}
    notes = []
    fanout_notes = []
    for size in sizes:
        bindings = topic_bindings(size, SEED + size)
        exchange = f"bench.topic.{size}"
        ch.exchange_declare(exchange, "topic")
        qnames = [f"bench.t{size}.{i}" for i in range(max(q for _, q in bindings) + 1)]
        for name in qnames:
            ch.queue_declare(name)
        for pattern, qi in bindings:
            ch.queue_bind(qnames[qi], exchange, pattern)
        setups[size] = (exchange, qnames, bindings)

    # Hot keys: a pool of 1,000 keys (90% bound exactly, 10% anywhere in the key space), publishes draw
    # from it at random, so after the warm-up the per-key cache (1,024 entries) answers.
    hot: dict[int, list[str]] = {}
    for size in sizes:
        exact = [p for p, _ in setups[size][2] if "*" not in p and "#" not in p]
        pool = [rng.choice(exact) if rng.random() < 0.9 else key_of(rng.randrange(KEY_SPACE))
                for _ in range(1000)]
        hot[size] = [rng.choice(pool) for _ in range(n)]
    # Distinct keys: every publish of every round uses a key never seen before (all cache misses) and
    # named by no exact binding at any size, so that the fan-out (the wildcard patterns' share) is the
    # same at every size and only the number of bindings the key does not match grows.
    # Each exchange has its own cache, so each size draws from its own stream.
    bound = {key for size in sizes for key, _ in setups[size][2]}
    unbound = [i for i in range(KEY_SPACE) if key_of(i) not in bound]
    fresh = {size: iter(rng.sample(unbound, len(unbound))) for size in sizes}
    assert len(unbound) >= n * (REPEATS + 1), "key space too small for distinct keys"

    def mm_subject(size: int, keys_for_round: Callable[[], list[str]]) -> Subject:
        exchange, qnames, _ = setups[size]

        def setup() -> Any:
            for name in qnames:
                ch.queue_purge(name)
            return keys_for_round()

        def run(keys: list[str]) -> None:
            publish = ch.basic_publish
            for key in keys:
                publish(exchange, key, BODY)

        return Subject(setup, run, n)

    def distinct_keys(size: int) -> list[str]:
        return [key_of(i) for i in islice(fresh[size], n)]

    # sanity: minimq routes exactly as the reference regexes do (sizes small enough to check quickly)
    for size in sizes:
        if size > 10_000:
            continue
        exchange, qnames, bindings = setups[size]
        regexes = [(topic_regex(p).fullmatch, qnames[qi]) for p, qi in bindings]
        x = broker.get_exchange(exchange)
        for key in hot[size][:50] + [key_of(i) for i in rng.sample(range(KEY_SPACE), 50)]:
            got = [q.name for q in x.route(key, None)]
            want = sorted({name for match, name in regexes if match("." + key)})
            assert sorted(got) == want, f"topic routing differs from the regex reference for {key!r}: {got} != {want}"

    def fan(size: int, keys: list[str]) -> float:
        x = broker.get_exchange(setups[size][0])
        return sum(len(x.route(k, None)) for k in keys[:2000]) / min(len(keys), 2000)

    for size in sizes:
        unbound = [k for k in map(key_of, rng.sample(range(KEY_SPACE), 2500)) if k not in bound][:2000]
        fanout_notes.append(f"{size:,}: hot {fan(size, hot[size]):.2f}, distinct {fan(size, unbound):.2f}")

    # naive regex router at the smallest size, and kombu's topic exchange (a regex per binding too)
    small = sizes[0]
    naive = NaiveTopic(setups[small][2])

    def naive_setup() -> Any:
        for dq in naive.queues:
            dq.clear()
        return hot[small]

    def naive_run(keys: list[str]) -> None:
        publish = naive.publish
        for key in keys:
            publish(key, BODY)

    kombu_subjects: dict[int, Subject] = {}
    if kombu is not None:
        conn = KConnection("memory://")
        kch = conn.channel()
        producer = KProducer(kch)
        for size in sizes:
            kx = KExchange(uid("ktopic"), type="topic", channel=kch)
            kx.declare()
            bindings = setups[size][2]
            kqn = [uid("kt") for _ in range(max(q for _, q in bindings) + 1)]
            for name in kqn:
                kch.queue_declare(name)
            for pattern, qi in bindings:
                kch.queue_bind(kqn[qi], kx.name, pattern)
            ops = max(10, min(n // 5, 200_000 // size))  # kombu tests every binding's regex per publish

            def k_setup(kqn: list = kqn, size: int = size, ops: int = ops) -> Any:
                for name in kqn:
                    kch.queue_purge(name)
                return hot[size][:ops]

            def k_run(keys: list[str], kx: Any = kx) -> None:
                publish = producer.publish
                for key in keys:
                    publish(BODY, exchange=kx, routing_key=key)

            kombu_subjects[size] = Subject(k_setup, k_run, ops)

    # Two measurements: interleaving distinct-key rounds with hot-key rounds on the same exchange would
    # flush the cache the hot rounds rely on.
    subjects: dict[str, Subject | None] = {}
    for size in sizes:
        subjects[f"hot{size}"] = mm_subject(size, lambda size=size: hot[size])
        subjects[f"k{size}"] = kombu_subjects.get(size)
    subjects["naive"] = Subject(naive_setup, naive_run, n)
    t = measure(subjects)
    t.update(measure({f"new{size}": mm_subject(size, lambda size=size: distinct_keys(size)) for size in sizes}))

    rows = []
    big = sizes[-1]
    for size in sizes:
        rows.append(Row(f"topic publish, {size:,} bindings, hot keys", t[f"hot{size}"], None, None,
                        kombu_fig=t.get(f"k{size}")))
    for size in sizes:
        rows.append(Row(f"topic publish, {size:,} bindings, distinct keys", t[f"new{size}"], None, None))
    rows.append(Row(f"topic hot keys: {big:,} vs {small} bindings", t[f"hot{big}"], t[f"hot{small}"], 1.5))
    rows.append(Row(f"topic distinct keys: {big:,} vs {small} bindings", t[f"new{big}"], t[f"new{small}"], 1.5))
    rows.append(Row(f"topic {small} bindings vs naive regex loop", t[f"hot{small}"], t["naive"], 3))

    # binding cost at scale: an exchange holds 90% of the largest set; each round unbinds the last 10%
    # (untimed) and times binding them again, so every timed bind lands in an exchange of ~100,000
    # bindings, in runs short enough for many rounds (the whole set bound from empty is a diagnostic)
    bindings = setups[big][2]
    qnames = setups[big][1]
    tail = max(1, len(bindings) // 10)
    head, last = bindings[:-tail], bindings[-tail:]
    bind_exchange = "bench.bind"
    ch.exchange_declare(bind_exchange, "topic")
    for pattern, qi in head:
        ch.queue_bind(qnames[qi], bind_exchange, pattern)
    tail_bound = [False]

    def bind_setup() -> Any:
        if tail_bound[0]:
            for pattern, qi in last:
                ch.queue_unbind(qnames[qi], bind_exchange, pattern)
        tail_bound[0] = True
        return bind_exchange

    def bind_run(exchange: str) -> None:
        bind = ch.queue_bind
        for pattern, qi in last:
            bind(qnames[qi], exchange, pattern)

    def naive_bind_run(_: Any) -> None:
        table = []
        for pattern, qi in last:
            table.append((topic_regex(pattern).fullmatch, qi))

    tb = measure({"mm": Subject(bind_setup, bind_run, tail), "naive": Subject(lambda: None, naive_bind_run, tail)})
    rows.append(Row(f"topic queue_bind at {len(bindings):,} bindings (per binding)", tb["mm"], tb["naive"], 10,
                    absolute=True))

    # diagnostics (one run each, not judged): the routing step alone on cache misses, and binding with the
    # cyclic GC paused, to show where the publish and bind figures go
    route_only = []
    for size in sizes:
        x = broker.get_exchange(setups[size][0])
        figures = []
        # (almost surely) not cached: keys named by no exact binding, then keys from the whole space
        # (at 100,000 bindings a fifth of those match an exact binding)
        whole = [key_of(i) for i in rng.sample(range(KEY_SPACE), 5000)]
        for keys in ([k for k in whole if k not in bound], whole):
            t0 = CLOCK()
            for key in keys:
                x.route(key, None)
            figures.append(f"{(CLOCK() - t0) / len(keys) * 1e6:.2f}")
        route_only.append(f"{size:,}: {' / '.join(figures)}")
    # the whole set bound into an empty exchange, with the collector as in the table and then paused
    whole_set = []
    for paused in (False, True):
        exchange = f"bench.bind.whole.{paused}"
        ch.exchange_declare(exchange, "topic")
        gc.collect()
        gc.freeze()
        if paused:
            gc.disable()
        try:
            t0 = CLOCK()
            for pattern, qi in bindings:
                ch.queue_bind(qnames[qi], exchange, pattern)
            whole_set.append((CLOCK() - t0) / len(bindings) * 1e6)
        finally:
            gc.enable()
            gc.unfreeze()
        ch.exchange_delete(exchange)
    diagnostics = ["topic route step alone on cache misses (exchange.route, µs per key; unbound keys / keys from the whole space): " + "; ".join(route_only)]
    diagnostics.append(f"topic queue_bind, all {len(bindings):,} bindings into an empty exchange (one run each): "
                       f"{whole_set[0]:.2f} µs per binding, {whole_set[1]:.2f} with the cyclic GC paused (the "
                       "difference: collections triggered by the few container objects each binding allocates)")
    notes.append(f"topic: {n:,} publishes per run; keys region.zone.service.level over a {KEY_SPACE:,}-key space; "
                 "bindings exact but for the same 2 patterns with * or # at every size, to min(size, 100) queues")
    notes.append("topic hot keys: 1,000-key pool (90% bound keys), drawn at random: cache hits after warm-up; "
                 "distinct keys: every publish a new key named by no exact binding (a cache miss, an exact-table lookup "
                 "and a trie walk; same fan-out at every size)")
    notes.append("topic mean fan-out (queues per publish) by size: " + "; ".join(fanout_notes))
    notes.append(f"topic baselines: the {small}-binding figure of the same run; a naive router testing every "
                 "binding's compiled regex and appending to a deque per matched queue; bind: the last "
                 f"{tail:,} of the {len(bindings):,} bindings re-bound each round into an exchange holding the rest, "
                 "against re.compile of the same patterns (target is absolute). kombu: topic exchange on memory:// (regex per binding), "
                 "fewer publishes at large sizes")
    return rows, notes + diagnostics


# -- work queue ---------------------------------------------------------------------------------------

def case_workqueue(cfg: dict) -> tuple[list[Row], list[str]]:
    """4 consumers at prefetch 1 with manual acks; one thread drives them in turn (interleaved acks)."""
    n = cfg["n_work"]
    broker = Broker()
    pub = broker.channel()
    pub.queue_declare("bench.tasks")
    shares: list[int] = []

    def mm_setup() -> Any:
        for _ in range(n):
            pub.basic_publish("", "bench.tasks", BODY)
        chans = []
        for _ in range(4):
            c = broker.connect().channel(inline=False)  # deliveries wait in the channel's inbox
            c.basic_qos(prefetch_count=1)
            chans.append(c)
        return chans

    def mm_run(chans: list) -> None:
        for c in chans:
            c.basic_consume("bench.tasks")
        got = [0, 0, 0, 0]
        done = 0
        pairs = [(i, c.pop_event, c.basic_ack) for i, c in enumerate(chans)]
        while done < n:
            for i, pop, ack in pairs:  # each worker in turn: take its one message, ack it
                d = pop()
                if d is not None:
                    ack(d.delivery_tag)
                    got[i] += 1
                    done += 1
        for c in chans:
            c.connection.close()
        shares[:] = got

    def q_setup() -> Any:
        q = queue.Queue()
        for _ in range(n):
            q.put(BODY)
        return q

    def q_run(q: queue.Queue) -> None:
        get = q.get
        for _ in range(n):
            get()

    k_sub = None
    k_shares: list[int] = []
    if kombu is not None:
        kn = max(4, n // 5)
        name = uid("kwork")
        pconn = KConnection("memory://")
        pch = pconn.channel()
        kq = KQueue(name, exchange=KExchange("", type="direct"), routing_key=name)
        kq(pch).declare()
        producer = KProducer(pch)

        def k_setup() -> Any:
            for _ in range(kn):
                producer.publish(BODY, exchange="", routing_key=name)
            got = [0, 0, 0, 0]
            workers = []
            for i in range(4):  # one connection per worker: memory:// keeps one callback per queue per connection
                wconn = KConnection("memory://")
                wch = wconn.channel()
                wch.basic_qos(0, 1, False)

                def on_message(body: bytes, message: Any, i: int = i) -> None:
                    got[i] += 1
                    message.ack()

                consumer = KConsumer(wch, queues=[kq], callbacks=[on_message])
                consumer.consume()
                workers.append((wconn, consumer))
            return workers, got

        def k_run(state: Any) -> None:
            workers, got = state
            drains = [w.drain_events for w, _ in workers]
            while sum(got) < kn:
                for drain in drains:
                    try:
                        drain(timeout=0)
                    except socket.timeout:
                        pass
            for wconn, consumer in workers:
                consumer.cancel()
                wconn.release()
            k_shares[:] = got

        k_sub = Subject(k_setup, k_run, kn)

    t = measure({"mm": Subject(mm_setup, mm_run, n), "q": Subject(q_setup, q_run, n), "k": k_sub})
    assert sum(shares) == n and broker.get_queue("bench.tasks").message_count == 0
    row = Row("work queue, 4 consumers, prefetch 1, acks", t["mm"], t["q"], 4, kombu_fig=t.get("k"))
    fair = max(shares) - min(shares) <= 1
    notes = [f"work queue: {n:,} messages waiting, 4 consumers (prefetch 1, own channel, inline=False) driven in "
             "turn by one thread: pop_event + basic_ack (the ack lets the queue deliver the next); "
             "baseline queue.Queue.get per message",
             f"work queue shares (last run): minimq {shares} ({'fair' if fair else 'NOT fair'})"
             + (f", kombu {k_shares}" if k_shares else "")]
    if not fair:
        row.ok = False
    return [row], notes


# -- RPC ----------------------------------------------------------------------------------------------

def case_rpc(cfg: dict) -> tuple[list[Row], list[str]]:
    n = cfg["n_rpc"]
    broker = Broker()
    server = broker.channel()
    server.queue_declare("bench.rpc")
    server.basic_qos(prefetch_count=1)

    def on_request(d: Any) -> None:
        props = d.properties
        d.channel.basic_publish("", props.reply_to, b"%d" % (int(d.body) + 1),
                                Properties(correlation_id=props.correlation_id))
        d.channel.basic_ack(d.delivery_tag)

    server.basic_consume("bench.rpc", on_request)

    def client(direct: bool) -> Subject:
        ch = broker.channel()
        replies: dict[str, bytes] = {}

        def on_reply(d: Any) -> None:
            replies[d.properties.correlation_id] = d.body

        if direct:
            reply_to = "amq.rabbitmq.reply-to"
        else:
            reply_to = ch.queue_declare("", exclusive=True).queue
        ch.basic_consume(reply_to, on_reply, auto_ack=True)

        def run(_: Any) -> None:
            publish = ch.basic_publish
            for i in range(n):
                corr = str(i)
                publish("", "bench.rpc", b"%d" % i, Properties(reply_to=reply_to, correlation_id=corr))
                # inline callbacks: the server's and then ours ran before publish returned
                if replies.pop(corr) != b"%d" % (i + 1):
                    raise AssertionError("wrong RPC reply")

        return Subject(lambda: None, run, n)

    def q_run(_: Any) -> None:
        requests: queue.Queue = queue.Queue()
        replies: queue.Queue = queue.Queue()
        for i in range(n):
            corr = str(i)
            requests.put((b"%d" % i, replies, corr))  # client
            body, reply_q, c = requests.get()  # server
            reply_q.put((b"%d" % (int(body) + 1), c))
            body, c = replies.get()  # client
            if c != corr:
                raise AssertionError("wrong reply")

    k_sub = None
    if kombu is not None:
        kn = max(1, n // 5)
        conn = KConnection("memory://")
        kch = conn.channel()
        rq_name, cb_name = uid("krpc"), uid("kreply")
        default = KExchange("", type="direct")
        krq = KQueue(rq_name, exchange=default, routing_key=rq_name, channel=kch)
        kcb = KQueue(cb_name, exchange=default, routing_key=cb_name, channel=kch)
        krq.declare()
        kcb.declare()
        producer = KProducer(kch)

        def k_run(_: Any) -> None:
            for i in range(kn):
                corr = str(i)
                producer.publish(b"%d" % i, exchange="", routing_key=rq_name, reply_to=cb_name, correlation_id=corr)
                m = krq.get(no_ack=False)  # server
                producer.publish(b"%d" % (int(m.body) + 1), exchange="", routing_key=m.properties["reply_to"],
                                 correlation_id=m.properties["correlation_id"])
                m.ack()
                r = kcb.get(no_ack=True)  # client
                if r.properties["correlation_id"] != corr:
                    raise AssertionError("wrong reply")

        k_sub = Subject(lambda: None, k_run, kn)

    t = measure({"classic": client(False), "direct": client(True), "q": Subject(lambda: None, q_run, n),
                 "k": k_sub})
    rows = [Row("rpc round trip, exclusive reply queue", t["classic"], t["q"], 4, kombu_fig=t.get("k")),
            Row("rpc round trip, direct reply-to", t["direct"], t["q"], 4, kombu_fig="n/a")]
    notes = ["rpc (same thread): the server is a consumer whose callback publishes the reply and acks; inline "
             "callbacks run it, then the client's reply callback, before the client's publish returns. Baseline: "
             "the same steps on two queue.Queue (put request, get it, put reply, get it) in one thread. kombu: "
             "basic_get on both sides (no push consumers in one thread)"]

    if cfg["threads"]:
        rows_t, notes_t = _rpc_threads(cfg)
        rows += rows_t
        notes += notes_t
    return rows, notes


def _rpc_threads(cfg: dict) -> tuple[list[Row], list[str]]:
    """Client and server in two threads; each side blocks until its message arrives."""
    n = cfg["n_rpc_threads"]
    broker = Broker()
    setup_ch = broker.channel()
    setup_ch.queue_declare("bench.rpc.t")

    def mm_setup() -> Any:
        sch = broker.channel(inline=False)
        sch.basic_qos(prefetch_count=1)
        sch.basic_consume("bench.rpc.t")
        cch = broker.channel(inline=False)
        reply_to = cch.queue_declare("", exclusive=True).queue
        cch.basic_consume(reply_to, auto_ack=True)

        def serve() -> None:
            while True:
                d = sch.get_event()
                if d.body == b"stop":
                    sch.basic_ack(d.delivery_tag)
                    return
                props = d.properties
                sch.basic_publish("", props.reply_to, b"%d" % (int(d.body) + 1),
                                  Properties(correlation_id=props.correlation_id))
                sch.basic_ack(d.delivery_tag)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        return cch, reply_to, thread, sch

    def mm_run(state: Any) -> None:
        cch, reply_to, thread, sch = state
        publish, wait = cch.basic_publish, cch.get_event
        for i in range(n):
            corr = str(i)
            publish("", "bench.rpc.t", b"%d" % i, Properties(reply_to=reply_to, correlation_id=corr))
            d = wait(10)
            if d.properties.correlation_id != corr:
                raise AssertionError("wrong reply")
        cch.basic_publish("", "bench.rpc.t", b"stop")
        thread.join()
        sch.close()
        cch.close()

    def q_setup() -> Any:
        requests: queue.Queue = queue.Queue()

        def serve() -> None:
            while True:
                body, reply_q, c = requests.get()
                if body == b"stop":
                    return
                reply_q.put((b"%d" % (int(body) + 1), c))

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        return requests, queue.Queue(), thread

    def q_run(state: Any) -> None:
        requests, replies, thread = state
        for i in range(n):
            corr = str(i)
            requests.put((b"%d" % i, replies, corr))
            body, c = replies.get(timeout=10)
            if c != corr:
                raise AssertionError("wrong reply")
        requests.put((b"stop", None, None))
        thread.join()

    t = measure({"mm": Subject(mm_setup, mm_run, n), "q": Subject(q_setup, q_run, n)}, clock=perf_counter)
    rows = [Row("rpc round trip, 2 threads (wall clock)", t["mm"], t["q"], 4)]
    notes = ["rpc 2 threads: server thread blocks in get_event (inline=False channel), client blocks in get_event "
             "for its reply; baseline: two threads blocking in queue.Queue.get"]
    return rows, notes


# -- memory -------------------------------------------------------------------------------------------

def case_memory(cfg: dict) -> tuple[list[Row], list[str]]:
    """Bytes held per ready message beyond its body (tracemalloc), 1M small messages in one queue."""
    n = cfg["n_memory"]

    def traced(fill: Callable[[list], Any], count: int) -> float:
        bodies = [b"%07d" % i for i in range(count)]  # allocated before tracing: not counted
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            keep = fill(bodies)
            gc.collect()
            after = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        del keep
        return (after - before) / count

    def mm_fill(bodies: list) -> Any:
        broker = Broker()
        ch = broker.channel()
        ch.queue_declare("bench.mem")
        publish = ch.basic_publish
        for body in bodies:
            publish("", "bench.mem", body)
        assert broker.get_queue("bench.mem").message_count == len(bodies)
        return broker

    def q_fill(bodies: list) -> Any:
        q: queue.Queue = queue.Queue()
        for body in bodies:
            q.put(body)
        return q

    mm = traced(mm_fill, n)
    base = traced(q_fill, n)
    k_fig: Any = None
    if kombu is not None:
        kn = max(1000, n // 10)

        def k_fill(bodies: list) -> Any:
            conn = KConnection("memory://")
            kch = conn.channel()
            name = uid("kmem")
            kq = KQueue(name, exchange=KExchange("", type="direct"), routing_key=name, channel=kch)
            kq.declare()
            producer = KProducer(kch)
            for body in bodies:
                producer.publish(body, exchange="", routing_key=name)
            return conn, kch, kq

        k_fig = [traced(k_fill, kn)]
    row = Row(f"memory per ready message (B, {n:,} msgs)", [mm], [base], 200, absolute=True,
              kombu_fig=k_fig, unit="B")
    notes = [f"memory: bytes traced by tracemalloc per ready message, beyond its (pre-allocated) body, after "
             f"publishing {n:,} 7-byte bodies to one queue (one run, deterministic); baseline queue.Queue holding "
             "the same bodies; kombu with a tenth as many messages"]
    return [row], notes


def case_asyncio(cfg: dict) -> tuple[list[Row], list[str]]:
    """minimq.aio on one event loop: a pipelined publish -> consume -> ack loop, and an RPC round trip."""
    import asyncio

    import minimq.aio

    n, n_rpc = cfg["n_aio"], cfg["n_aio_rpc"]
    broker = Broker()
    # one loop per case, created here and reused by every round of every subject (minimq and baseline alike)
    loop = asyncio.new_event_loop()
    run_until_complete = loop.run_until_complete

    async def open_channels() -> Any:
        conn = await minimq.aio.connect(broker)
        ch = await conn.channel()
        await ch.queue_declare("bench.aio")
        server = await conn.channel()
        await server.queue_declare("bench.aio.rpc")
        await server.basic_qos(prefetch_count=1)
        client = await conn.channel()
        reply_to = (await client.queue_declare("", exclusive=True)).queue
        return conn, ch, server, client, reply_to

    conn, ch, server, client, reply_to = run_until_complete(open_channels())
    # the floor: the synchronous core doing the same work, no event loop (what minimq.aio sits on)
    core_ch = broker.channel()
    core_ch.queue_declare("bench.aio.floor")

    # -- 1. publish one, receive it from the consumer's iterator, ack it; n times in one task
    async def mm_cycle() -> None:
        publish = ch.basic_publish
        messages = ch.consume("bench.aio")  # a consumer of this round's task, cancelled when it ends
        receive = messages.__anext__
        for _ in range(n):
            await publish("", "bench.aio", BODY)
            delivery = await receive()
            await delivery.ack()
        await messages.close()

    async def q_cycle() -> None:
        q: asyncio.Queue = asyncio.Queue()
        put, get = q.put, q.get
        for _ in range(n):
            await put(BODY)
            item = await get()
            q.task_done()  # the ack's counterpart
        del item

    # -- the floor, same n: publish with an inline consumer whose callback acks; publish + basic_get + ack
    def floor_inline(_: Any) -> None:
        def ack(delivery: Any) -> None:
            delivery.ack()
        publish = core_ch.basic_publish
        tag = core_ch.basic_consume("bench.aio.floor", ack)
        for _ in range(n):
            publish("", "bench.aio.floor", BODY)
        core_ch.basic_cancel(tag)

    def floor_get(_: Any) -> None:
        publish, get, ack = core_ch.basic_publish, core_ch.basic_get, core_ch.basic_ack
        for _ in range(n):
            publish("", "bench.aio.floor", BODY)
            ack(get("bench.aio.floor").delivery_tag)

    # -- 2. RPC: a server task (consume, publish the reply, ack); the client awaits a future per correlation
    # id, resolved by a task reading its exclusive reply queue; one call at a time
    async def mm_rpc() -> None:
        pending: dict[str, asyncio.Future] = {}

        async def serve() -> None:
            publish = server.basic_publish
            async for request in server.consume("bench.aio.rpc"):
                await publish("", request.reply_to, b"%d" % (int(request.body) + 1),
                              Properties(correlation_id=request.correlation_id))
                await request.ack()

        async def dispatch() -> None:
            async for reply in client.consume(reply_to, auto_ack=True):
                pending.pop(reply.correlation_id).set_result(reply.body)

        tasks = [asyncio.create_task(serve()), asyncio.create_task(dispatch())]
        await asyncio.sleep(0)  # both consumers are registered
        publish, create_future = client.basic_publish, loop.create_future
        for i in range(n_rpc):
            corr = str(i)
            future = pending[corr] = create_future()
            await publish("", "bench.aio.rpc", b"%d" % i, Properties(reply_to=reply_to, correlation_id=corr))
            if await future != b"%d" % (i + 1):
                raise AssertionError("wrong RPC reply")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def q_rpc() -> None:
        pending: dict[str, asyncio.Future] = {}
        requests: asyncio.Queue = asyncio.Queue()
        replies: asyncio.Queue = asyncio.Queue()

        async def serve() -> None:
            get = requests.get
            while True:
                body, reply_q, corr = await get()
                await reply_q.put((b"%d" % (int(body) + 1), corr))
                requests.task_done()

        async def dispatch() -> None:
            get = replies.get
            while True:
                body, corr = await get()
                pending.pop(corr).set_result(body)

        tasks = [asyncio.create_task(serve()), asyncio.create_task(dispatch())]
        await asyncio.sleep(0)
        put, create_future = requests.put, loop.create_future
        for i in range(n_rpc):
            corr = str(i)
            future = pending[corr] = create_future()
            await put((b"%d" % i, replies, corr))
            if await future != b"%d" % (i + 1):
                raise AssertionError("wrong reply")
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def on_loop(coro_fn: Callable[[], Any], ops: int) -> Subject:
        return Subject(lambda: None, lambda _: run_until_complete(coro_fn()), ops)

    try:
        t1 = measure({"mm": on_loop(mm_cycle, n), "q": on_loop(q_cycle, n),
                      "floor_inline": Subject(lambda: None, floor_inline, n),
                      "floor_get": Subject(lambda: None, floor_get, n)})
        t2 = measure({"mm": on_loop(mm_rpc, n_rpc), "q": on_loop(q_rpc, n_rpc)})
        run_until_complete(conn.close())
    finally:
        loop.close()
        broker.close()
    rows = [Row("asyncio publish -> consume -> ack", t1["mm"], t1["q"], 3),
            Row("  floor: core publish -> inline consumer -> ack", t1["floor_inline"], t1["q"], None),
            Row("  floor: core publish + basic_get + ack", t1["floor_get"], t1["q"], None),
            Row("asyncio rpc round trip, exclusive reply queue", t2["mm"], t2["q"], 4)]
    notes = ["asyncio: one event loop per case (asyncio.new_event_loop), reused by every round of minimq and of "
             "its baseline; each round is one loop.run_until_complete of a fresh coroutine, consumers included",
             "asyncio publish -> consume -> ack: one task, pipelined: await basic_publish, await the next delivery "
             "of its ch.consume() iterator, await delivery.ack(), per message; baseline: await put, await get "
             "(and task_done) on one asyncio.Queue in one task",
             "asyncio floor rows (no target; same rounds, interleaved, same asyncio.Queue baseline): the synchronous "
             "core Channel doing the same publish, delivery and ack without an event loop, with an inline consumer "
             "whose callback acks, and with basic_get + basic_ack; minimq.aio cannot go below them",
             "asyncio rpc: a server task iterates consume() (prefetch 1), publishes the reply and acks; the "
             "client awaits a future per correlation id, resolved by a task consuming its exclusive reply queue "
             "(auto_ack); one call at a time. Baseline: the same three tasks on two asyncio.Queue. Round trips "
             f"per second (from the mins): minimq {1e6 / min(t2['mm']):,.0f}, "
             f"baseline {1e6 / min(t2['q']):,.0f}"]
    return rows, notes


CASES: dict[str, Callable[[dict], tuple[list[Row], list[str]]]] = {
    "direct": case_direct,
    "fanout": case_fanout,
    "topic": case_topic,
    "workqueue": case_workqueue,
    "rpc": case_rpc,
    "asyncio": case_asyncio,
    "memory": case_memory,
}

FULL = dict(n=20_000, n_fanout=5_000, n_topic=5_000, topic_sizes=[10, 1_000, 10_000, 100_000],
            n_work=5_000, n_rpc=2_000, n_rpc_threads=1_000, threads=True, n_aio=5_000, n_aio_rpc=2_000,
            n_memory=1_000_000, repeats=15)
QUICK = dict(n=2_000, n_fanout=500, n_topic=1_000, topic_sizes=[10, 1_000], n_work=1_000, n_rpc=500,
             n_rpc_threads=100, threads=True, n_aio=1_000, n_aio_rpc=500, n_memory=20_000, repeats=5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (CI smoke test; figures are noisy)")
    parser.add_argument("--case", action="append", default=[], metavar="NAME",
                        help=f"run only the groups whose name contains NAME ({', '.join(CASES)}); repeatable")
    parser.add_argument("--wall", action="store_true", help="time with perf_counter instead of CPU time")
    args = parser.parse_args(argv)
    global CLOCK, REPEATS
    CLOCK = perf_counter if args.wall else time.process_time
    cfg = dict(QUICK if args.quick else FULL)
    REPEATS = cfg["repeats"]
    selected = [name for name in CASES if not args.case or any(c.lower() in name for c in args.case)]
    if not selected:
        parser.error(f"no case matches {args.case}; cases: {', '.join(CASES)}")
    random.seed(SEED)
    print(f"minimq benchmarks: Python {platform.python_version()} ({platform.python_implementation()}), "
          f"{os.cpu_count()} CPUs, {platform.machine()}, {time.strftime('%Y-%m-%d')}, "
          f"{'quick' if args.quick else 'full'} sizes, kombu {kombu.__version__ if kombu else 'not installed'}")
    print(f"µs per operation ({'wall clock' if args.wall else 'CPU time'}): min and median of {REPEATS} runs "
          f"after a warm-up; ratio = min / baseline min; seed {SEED}")
    sys.stdout.flush()
    print()
    rows: list[Row] = []
    notes: list[str] = []
    for name in selected:
        t0 = perf_counter()
        case_rows, case_notes = CASES[name](cfg)
        rows += case_rows
        notes += case_notes
        print(f"  ... {name} done in {perf_counter() - t0:.1f} s", file=sys.stderr)
    print_table(rows)
    print()
    for note in notes:
        print("* " + note)
    judged = [r for r in rows if r.ok is not None]
    met = sum(1 for r in judged if r.ok)
    print()
    failed = [r.name for r in judged if not r.ok]
    if failed:
        print("failed: " + "; ".join(failed))
    print(f"benchmarks: {met}/{len(judged)} targets met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
