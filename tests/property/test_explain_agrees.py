"""``Broker.explain`` against a real publish, on random topologies (docs/semantics.md §4.6, §4.7, §5).

Each example builds a random vhost: exchanges of every type (some internal, some with an alternate
exchange by argument or by policy, pointing anywhere: another exchange, itself, a missing name, the
default exchange), queues, queue bindings and exchange-to-exchange bindings with random topic/direct
keys and headers arguments under every ``x-match``.  Then for random messages (routing key, headers,
``CC``/``BCC``):

* ``explain`` changes nothing: every queue's depth, the vhost's bindings and each topic exchange's
  trie counters and cache are the same afterwards (and ``broker._check()`` passes);
* a real publish then reaches exactly the queues ``explain`` named, in the same order (as the
  broker's route events report them), with the outcome ``explain`` predicted (routed / nacked / unroutable /
  refused, and the same error); queues get random ``x-max-length``/``x-max-length-bytes`` and
  ``x-overflow``, and each reached queue's depth changes as its predicted fate says (enqueued, with
  ``dropped_from_head`` older messages removed; refused; dropped itself), no other queue's changes;
* every matched binding belongs to a visited exchange, and ``reached_queues`` is the set of ``queues``.

On a mismatch hypothesis prints the topology and the message; the assertion shows the explanation.
"""

from __future__ import annotations

import hypothesis.strategies as st
from hypothesis import HealthCheck, given, settings

from minimq import AMQPError, Broker, ManualClock, Properties
from minimq.explain import DROPPED, ENQUEUED, REJECTED

EXCHANGES = ("e0", "e1", "e2", "e3", "e4")
QUEUES = ("q0", "q1", "q2", "q3")
TYPES = ("direct", "fanout", "topic", "headers")
WORDS = ("a", "b", "")
PATTERN_WORDS = ("a", "b", "", "*", "#")
HEADER_KEYS = ("h1", "h2", "x-h")
HEADER_VALUES = ("v", b"v", "w", 1, None)


def dotted(alphabet: tuple[str, ...], max_words: int = 3) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(alphabet), max_size=max_words).map(".".join)


keys = dotted(WORDS)
patterns = dotted(PATTERN_WORDS)
header_tables = st.dictionaries(st.sampled_from(HEADER_KEYS), st.sampled_from(HEADER_VALUES), max_size=3)


@st.composite
def headers_arguments(draw) -> dict:
    args = draw(header_tables)
    kind = draw(st.sampled_from([None, "all", "any", "all-with-x", "any-with-x"]))
    if kind is not None:
        args["x-match"] = kind
    return args


@st.composite
def topologies(draw) -> dict:
    exchanges = {}
    for name in EXCHANGES:
        arguments = {}
        if draw(st.integers(0, 2)) == 0:
            arguments["alternate-exchange"] = draw(st.sampled_from(EXCHANGES + ("missing", "")))
        exchanges[name] = (draw(st.sampled_from(TYPES)), draw(st.integers(0, 4)) == 0, arguments)
    bindings = []
    for _ in range(draw(st.integers(0, 12))):
        source = draw(st.sampled_from(EXCHANGES))
        to_exchange = draw(st.integers(0, 3)) == 0
        destination = draw(st.sampled_from(EXCHANGES if to_exchange else QUEUES))
        kind = exchanges[source][0]
        key = draw(patterns if kind == "topic" else keys)
        arguments = draw(headers_arguments()) if kind == "headers" else {}
        bindings.append((source, to_exchange, destination, key, arguments))
    policy_alternate = draw(st.none() | st.sampled_from(EXCHANGES))
    queues = {}
    for name in QUEUES:
        arguments = {}
        if draw(st.booleans()):
            arguments["x-max-length"] = draw(st.integers(0, 2))
        if draw(st.integers(0, 3)) == 0:
            arguments["x-max-length-bytes"] = draw(st.integers(0, 3))
        if arguments and draw(st.booleans()):
            arguments["x-overflow"] = draw(st.sampled_from(["drop-head", "reject-publish", "reject-publish-dlx"]))
        queues[name] = arguments
    return {"exchanges": exchanges, "bindings": bindings, "policy_alternate": policy_alternate, "queues": queues}


@st.composite
def messages(draw) -> dict:
    headers = draw(st.none() | header_tables)
    if draw(st.booleans()):
        headers = dict(headers or {})
        for name in ("CC", "BCC"):
            if draw(st.booleans()):
                headers[name] = draw(st.lists(keys | st.just(7), max_size=2))
    return {"exchange": draw(st.sampled_from(EXCHANGES + ("", "missing", "amq.rabbitmq.trace"))),
            "routing_key": draw(keys | st.sampled_from(QUEUES)),
            "headers": headers,
            "body": draw(st.sampled_from([b"", b"m", b"mm"]))}


def build(topology: dict) -> Broker:
    broker = Broker(clock=ManualClock())
    ch = broker.channel()
    for name, (kind, internal, arguments) in topology["exchanges"].items():
        ch.exchange_declare(name, kind, internal=internal, arguments=arguments)
    for name in QUEUES:
        ch.queue_declare(name, arguments=topology["queues"][name])
    for source, to_exchange, destination, key, arguments in topology["bindings"]:
        if to_exchange:
            ch.exchange_bind(destination, source, key, arguments)
        else:
            ch.queue_bind(destination, source, key, arguments)
    if topology["policy_alternate"] is not None:
        broker.set_policy("ae", "^e[0-2]$", {"alternate-exchange": topology["policy_alternate"]},
                          apply_to="exchanges")
    return broker


def snapshot(broker: Broker) -> tuple:
    vhost = broker.vhosts["/"]
    depths = {name: broker.get_queue(name).message_count for name in QUEUES}
    bindings = [repr(b) for b in vhost.bindings()]
    # explain never asks a topic exchange's trie: its cache and counters do not move
    tries = {name: x._trie.stats() for name, x in vhost.exchanges.items() if x.type == "topic"}
    return depths, bindings, tries


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topologies(), st.lists(messages(), min_size=1, max_size=5))
def test_explain_names_exactly_the_queues_a_publish_reaches(topology: dict, publishes: list[dict]) -> None:
    broker = build(topology)
    routed: list[tuple] = []
    subscription = broker.subscribe(lambda event: routed.append((event.kind, list(event.queues))), kinds=["route"])
    try:
        for message in publishes:
            before = snapshot(broker)
            explanation = broker.explain(message["exchange"], message["routing_key"], headers=message["headers"],
                                         body=message["body"])
            assert snapshot(broker) == before, "explain changed the broker's state"
            broker._check()
            text = explanation.to_text()
            assert explanation.reached_queues == {f.queue for f in explanation.queues}
            assert {k[0] for k in explanation.matched_bindings | explanation.unmatched_bindings} <= \
                explanation.visited_exchanges, text

            ch = broker.channel()
            properties = None if message["headers"] is None else Properties(headers=message["headers"])
            routed.clear()
            try:
                outcome = ch.basic_publish(message["exchange"], message["routing_key"], message["body"], properties)
            except AMQPError as error:
                assert explanation.outcome == "refused", text
                assert explanation.error is not None and explanation.error.reply_code == error.reply_code, text
                assert str(explanation.error) == str(error), text
                assert snapshot(broker)[:2] == before[:2]
                continue
            finally:
                if ch.is_open:
                    ch.close()
            ((kind, reached),) = routed
            assert reached == [f.queue for f in explanation.queues], (
                f"publish reached {reached}, explain said {[f.queue for f in explanation.queues]}\n{text}")
            assert outcome.name.lower() == explanation.outcome, (outcome, text)
            # each queue's depth moved as its fate says (no consumers here: enqueued, refused or dropped)
            after = snapshot(broker)[0]
            for fate in explanation.queues:
                change = {ENQUEUED: 1 - fate.dropped_from_head, REJECTED: 0,
                          DROPPED: 1 - fate.dropped_from_head}[fate.fate]
                assert after[fate.queue] - before[0][fate.queue] == change, (fate, text)
            assert all(after[q] == before[0][q] for q in QUEUES if q not in explanation.reached_queues)
    finally:
        subscription.close()
        broker.close()


@settings(max_examples=500, deadline=None)
@given(dotted(PATTERN_WORDS + ("c",), 5), dotted(WORDS + ("c",), 5))
def test_topic_captures_rebuild_the_key_and_agree_with_the_trie(pattern: str, key: str) -> None:
    """A match's captures, put back in place of the wildcards, spell the key; a miss is a trie miss too."""
    from minimq.explain import _topic_match
    from minimq.topic import TopicTrie, split_words

    trie = TopicTrie(cache_size=0)
    trie.add(pattern, "dest")
    captures, reason = _topic_match(pattern, key)
    assert (captures is not None) == (trie.match(key) == ("dest",)), (pattern, key, reason)
    if captures is None:
        assert reason
        return
    taken = iter(captures)
    rebuilt: list[str] = []
    for word in split_words(pattern):
        if word in ("*", "#"):
            wildcard, words = next(taken)
            assert wildcard == word and (word == "#" or len(words) == 1)
            rebuilt.extend(words)
        else:
            rebuilt.append(word)
    assert next(taken, None) is None
    assert rebuilt == split_words(key), (pattern, key, captures)
