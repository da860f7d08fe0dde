"""The journal agrees with what routing actually did, on random topologies.

Each example builds a random vhost: direct, fanout, topic and headers exchanges (some with an
alternate exchange), queues (some with ``x-max-length`` and ``reject-publish``), queue bindings and
exchange-to-exchange bindings.  Then for each of a random list of publishes (exchange, routing key,
headers, ``CC``), with the journal on:

* the journal's record of that publish names as routed exactly the queues whose depth grew by one,
  and ``queues`` (its enqueues) names the ones that took it (a ``reject-publish`` queue that refused
  it is routed but not enqueued, and its depth stays);
* every other queue's depth is unchanged, and a publish that reached no queue is recorded as dropped
  ``unroutable``;
* ``broker.published(exchange, key)`` finds the record, and ``peek`` of a grown queue ends with the body.

On a mismatch hypothesis prints the topology and the publishes.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from minimq import Broker, ManualClock, Properties

EXCHANGES = ("e0", "e1", "e2", "e3")
QUEUES = ("q0", "q1", "q2", "q3")
TYPES = ("direct", "fanout", "topic", "headers")
WORDS = ("a", "b")


def dotted(alphabet: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(alphabet), max_size=3).map(".".join)


@st.composite
def topologies(draw) -> dict:
    exchanges = {}
    for name in EXCHANGES:
        arguments = {}
        if draw(st.booleans()) and draw(st.booleans()):
            arguments["alternate-exchange"] = draw(st.sampled_from(EXCHANGES + QUEUES))
        exchanges[name] = (draw(st.sampled_from(TYPES)), arguments)
    queues = {}
    for name in QUEUES:
        arguments = {}
        if draw(st.booleans()) and draw(st.booleans()):
            arguments = {"x-max-length": draw(st.integers(0, 2)), "x-overflow": "reject-publish"}
        queues[name] = arguments
    bindings = draw(st.lists(st.tuples(st.sampled_from(EXCHANGES), st.sampled_from(EXCHANGES + QUEUES),
                                       dotted(WORDS + ("*", "#")),
                                       st.sampled_from([None, "all", "any"]), st.sampled_from(["x", "y"])),
                             max_size=10))
    return {"exchanges": exchanges, "queues": queues, "bindings": bindings}


publishes = st.lists(st.tuples(st.sampled_from(("",) + EXCHANGES), st.one_of(dotted(WORDS), st.sampled_from(QUEUES)),
                               st.sampled_from([None, {"h": "x"}, {"h": "y"}]),
                               st.sampled_from([None, ["a"], ["b.a"]])),
                     min_size=1, max_size=8)


def build(topology: dict) -> tuple[Broker, object]:
    broker = Broker(clock=ManualClock())
    ch = broker.channel()
    for name, (kind, arguments) in topology["exchanges"].items():
        ch.exchange_declare(name, kind, arguments=arguments)
    for name, arguments in topology["queues"].items():
        ch.queue_declare(name, arguments=arguments)
    for source, destination, key, match, value in topology["bindings"]:
        arguments = {"x-match": match, "h": value} if match is not None else None
        if destination in QUEUES:
            ch.queue_bind(destination, source, key, arguments=arguments)
        else:
            ch.exchange_bind(destination, source, key, arguments=arguments)
    return broker, ch


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), publishes)
def test_the_journal_names_the_queues_whose_depth_grew(topology: dict, sends: list) -> None:
    broker, ch = build(topology)
    journal = broker.enable_journal()
    for n, (exchange, key, headers, cc) in enumerate(sends):
        all_headers = dict(headers or {})
        if cc is not None:
            all_headers["CC"] = cc
        body = f"m{n}".encode()
        before = {q: broker.get_queue(q).message_count for q in QUEUES}
        ch.basic_publish(exchange, key, body, Properties(headers=all_headers or None))
        after = {q: broker.get_queue(q).message_count for q in QUEUES}
        grew = {q for q in QUEUES if after[q] == before[q] + 1}
        assert all(after[q] in (before[q], before[q] + 1) for q in QUEUES), (before, after)
        record = journal.records()[-1]
        assert record.body == body and record.origin == "published"
        assert (record.exchange, record.routing_key) == (exchange, key)
        assert set(record.queues) == grew, (record.lines(), before, after)
        assert set(record.routed) >= grew
        for name in set(record.routed) - grew:  # routed, not taken: refused by its length limit
            assert topology["queues"][name].get("x-overflow") == "reject-publish", record.lines()
            assert (name, "reject-publish") in record.dropped, record.lines()
        if not record.routed:
            assert record.dropped == [(None, "unroutable")] and record.outcome == "dropped"
        assert record in broker.published(exchange, key)
        for name in grew:
            assert broker.peek(name, 100)[-1].body == body
    broker._check()
    broker.close()
