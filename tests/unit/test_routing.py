"""docs/semantics.md §5: direct, fanout, topic, headers routing; CC/BCC; mandatory returns."""

from __future__ import annotations

import datetime
import decimal

import pytest

from core_helpers import pending_events, soft
from minimq import PreconditionFailed, Properties, Returned
from minimq.channel import PublishOutcome

ROUTED, UNROUTABLE = PublishOutcome.ROUTED, PublishOutcome.UNROUTABLE


def _routes(ch, exchange, key, headers=None):
    """Names of queues (declared a.., in order) that one publish reaches."""
    props = Properties(headers=headers) if headers is not None else None
    ch.basic_publish(exchange, key, b"probe", properties=props)
    hit = []
    for name in sorted(ch.connection.vhost.queues):
        if ch.basic_get(name, auto_ack=True) is not None:
            hit.append(name)
            assert ch.basic_get(name, auto_ack=True) is None
    return hit


# -- §5.1 direct -----------------------------------------------------------------------------------
def test_direct_exact_bytes(ch):
    ch.exchange_declare("d", "direct")
    for q, key in (("q1", "a.b"), ("q2", "A.B"), ("q3", "*"), ("q4", "#"), ("q5", ""), ("q6", "a.b")):
        ch.queue_declare(q)
        ch.queue_bind(q, "d", key)
    assert _routes(ch, "d", "a.b") == ["q1", "q6"]
    assert _routes(ch, "d", "A.B") == ["q2"]
    assert _routes(ch, "d", "*") == ["q3"]
    assert _routes(ch, "d", "anything") == []
    assert _routes(ch, "d", "#") == ["q4"]
    assert _routes(ch, "d", "") == ["q5"]


# -- fanout -------------------------------------------------------------------------------------------
def test_fanout_ignores_keys(ch):
    ch.exchange_declare("f", "fanout")
    for q, key in (("q1", "x"), ("q2", ""), ("q3", "#")):
        ch.queue_declare(q)
        ch.queue_bind(q, "f", key)
    assert _routes(ch, "f", "whatever") == ["q1", "q2", "q3"]


# -- §5.2 topic ---------------------------------------------------------------------------------------
TOPIC_CASES = [
    ("#", ["", "a", "a.b.c", "."], []),
    ("#.#", ["", "a.b"], []),
    ("#.#.#", ["", "x"], []),
    ("", [""], [".", "a"]),
    ("*", ["a", "b"], ["", ".", "a.b"]),
    ("*.*", ["a.b", ".", "a.", ".a"], ["a", "a.b.c"]),
    ("*.#", ["a", "a.b", "."], [""]),
    ("#.*", ["a", "a.b"], [""]),
    ("#.*.#", ["a", "a.b.c"], [""]),
    ("a.#", ["a", "a.", "a.b", "a..b"], ["b.a"]),
    ("#.a", ["a", ".a", "x.y.a"], ["a."]),
    ("a.*.b", ["a.x.b", "a..b"], ["a.b", "a...b"]),
    ("#.", [".", "..", "a.", ".a."], ["", "a"]),
    ("*.#.*", ["a.b", "a.b.c"], ["a"]),
    ("a#", ["a#"], ["a", "ab", "a.b"]),
    ("a*", ["a*"], ["a", "ab"]),
    ("#a", ["#a"], ["a", "ba"]),
]


@pytest.mark.parametrize("pattern, matching, non_matching", TOPIC_CASES)
def test_topic_patterns(ch, pattern, matching, non_matching):
    ch.exchange_declare("t", "topic")
    ch.queue_declare("q")
    ch.queue_bind("q", "t", pattern)
    for key in matching:
        assert ch.basic_publish("t", key, b"m") == ROUTED, key
    for key in non_matching:
        assert ch.basic_publish("t", key, b"m") == UNROUTABLE, key


def test_topic_one_copy_for_several_matching_bindings(ch):
    ch.exchange_declare("t", "topic")
    ch.queue_declare("q")
    for pattern in ("a.*", "#", "a.b", "*.b"):
        ch.queue_bind("q", "t", pattern)
    ch.basic_publish("t", "a.b", b"m")
    assert ch.queue_declare("q", passive=True).message_count == 1


# -- §5.3 headers ------------------------------------------------------------------------------------
@pytest.fixture
def hx(ch):
    ch.exchange_declare("h", "headers")
    return ch


def _bind_headers(ch, args):
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "ignored", arguments=args)


@pytest.mark.parametrize("args, headers, match", [
    ({"a": 1, "b": "x"}, {"a": 1, "b": "x", "c": 0}, True),
    ({"x-match": "all", "a": 1, "b": "x"}, {"a": 1}, False),
    ({"x-match": "any", "a": 1, "b": "x"}, {"a": 1}, True),
    ({"x-match": "any", "a": 1, "b": "x"}, {"a": 2}, False),
    ({"x-match": "all", "x-k": "v"}, None, True),  # x- pattern keys ignored: no considered keys
    ({}, None, True),  # all with nothing to compare matches every message
    ({"x-match": "any"}, {"a": 1}, False),  # any with nothing to compare matches nothing
    ({"x-match": "any", "x-k": "v"}, {"x-k": "v"}, False),
    ({"x-match": "all-with-x", "x-k": "v"}, {"x-k": "v"}, True),
    ({"x-match": "all-with-x", "x-k": "v"}, {}, False),
    ({"x-match": "any-with-x", "x-k": "v", "a": 1}, {"x-k": "v"}, True),
    ({"a": "x"}, {"x-a": "x"}, False),
    ({"x-match": "all", "x-a": "v", "b": 1}, {"b": 1, "x-a": "other"}, True),
    ({"a": None}, {"a": 42}, True),  # void pattern: presence only
    ({"a": None}, {}, False),
    ({"a": "v"}, {"a": b"v"}, True),  # str and bytes interchangeable
    ({"a": b"v"}, {"a": "v"}, True),
    ({"a": 1}, {"a": True}, False),
    ({"a": 1}, {"a": "1"}, False),
    ({"a": True}, {"a": True}, True),
    ({"a": True}, {"a": 1}, False),
    ({"a": 2**40}, {"a": 2**40}, True),
    ({"a": 7}, {"a": 7}, True),
    ({"a": decimal.Decimal("1.50")}, {"a": decimal.Decimal("1.5")}, True),
    ({"a": {"x": 1, "y": 2}}, {"a": {"x": 1, "y": 2}}, True),
    ({"a": [1, "s"]}, {"a": [1, "s"]}, True),
    ({"a": [1, "s"]}, {"a": ["s", 1]}, False),
    ({"a": 1}, {"a": None}, False),
    ({"a": datetime.datetime(2020, 1, 1)}, {"a": 1577836800}, True),
    ({"a": 1}, None, False),
])
def test_headers_matching(hx, args, headers, match):
    _bind_headers(hx, args)
    props = Properties(headers=headers)
    assert hx.basic_publish("h", "any-key", b"m", properties=props) == (ROUTED if match else UNROUTABLE)


def test_headers_routing_key_ignored_and_one_copy(hx):
    _bind_headers(hx, {"a": 1})
    hx.queue_bind("q", "h", "other", arguments={"x-match": "any", "a": 1, "b": 2})
    hx.basic_publish("h", "zzz", b"m", properties=Properties(headers={"a": 1, "b": 2}))
    assert hx.queue_declare("q", passive=True).message_count == 1


@pytest.mark.parametrize("value, text", [
    ("ALL", 'Invalid x-match field value <<"ALL">>; expected all, any, all-with-x, or any-with-x'),
    ("some", 'Invalid x-match field value <<"some">>; expected all, any, all-with-x, or any-with-x'),
    (1, "Invalid x-match field type signedint (value 1); expected longstr"),
    (b"all", 'Invalid x-match field type binary (value <<"all">>); expected longstr'),
])
def test_headers_invalid_x_match(hx, value, text):
    hx.queue_declare("q")
    with soft(hx, PreconditionFailed, 406, "PRECONDITION_FAILED - " + text):
        hx.queue_bind("q", "h", "", arguments={"x-match": value})


# -- §5.4 CC / BCC -----------------------------------------------------------------------------------
def test_cc_bcc_direct(broker):
    ch = broker.channel()
    ch.exchange_declare("d", "direct")
    for q in ("main", "cc1", "cc2", "bcc", "other"):
        ch.queue_declare(q)
        ch.queue_bind(q, "d", q)
    headers = {"CC": ["cc1", "cc2", 7, "cc1"], "BCC": ["bcc", b"other"], "app": "x"}
    assert ch.basic_publish("d", "main", b"m", properties=Properties(headers=headers)) == ROUTED
    for q in ("main", "cc1", "cc2", "bcc"):
        d = ch.basic_get(q, auto_ack=True)
        assert d is not None, q
        assert d.routing_key == "main"  # only the publish key is reported
        assert d.headers == {"CC": ["cc1", "cc2", 7, "cc1"], "app": "x"}  # BCC stripped, CC kept
        assert ch.basic_get(q) is None  # one copy each
    assert ch.queue_declare("other", passive=True).message_count == 0  # non-string keys are ignored


def test_bcc_only_header_leaves_empty_table(ch):
    ch.queue_declare("q1")
    ch.queue_declare("q2")
    ch.basic_publish("", "q1", b"m", properties=Properties(headers={"BCC": ["q2"]}))
    for q in ("q1", "q2"):
        d = ch.basic_get(q, auto_ack=True)
        assert d.headers == {}
        assert d.headers is not None


def test_cc_through_topic_and_default_exchange(ch):
    ch.exchange_declare("t", "topic")
    ch.queue_declare("topic-q")
    ch.queue_bind("topic-q", "t", "*.urgent")
    ch.queue_declare("plain")
    assert ch.basic_publish("t", "nothing", b"m", properties=Properties(headers={"CC": ["x.urgent"]})) == ROUTED
    assert ch.basic_publish("", "nope", b"d", properties=Properties(headers={"CC": ["plain"]})) == ROUTED
    assert ch.basic_get("topic-q", auto_ack=True).routing_key == "nothing"
    assert ch.basic_get("plain", auto_ack=True).routing_key == "nope"


def test_cc_keys_route_through_e2e_and_alternate(ch):
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("inner", "direct")
    ch.exchange_bind("inner", "x", "k2")
    ch.queue_declare("q")
    ch.queue_bind("q", "inner", "k2")
    ch.queue_declare("aeq")
    ch.queue_bind("aeq", "ae")
    ch.basic_publish("x", "k1", b"m", properties=Properties(headers={"CC": ["k2"]}))
    assert ch.queue_declare("q", passive=True).message_count == 1
    assert ch.queue_declare("aeq", passive=True).message_count == 0


@pytest.mark.parametrize("key, value, type_name", [("CC", "q", "longstr"), ("BCC", 1, "signedint"),
                                                   ("CC", {"a": 1}, "table")])
def test_cc_must_be_an_array(broker, key, value, type_name):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406,
              f'PRECONDITION_FAILED - invalid message: {{unacceptable_type_in_header,"{key}",{type_name}}}'):
        ch.basic_publish("", "q", b"m", properties=Properties(headers={key: value}))
    assert broker.channel().queue_declare("q", passive=True).message_count == 0


# -- §5.5 mandatory -------------------------------------------------------------------------------------
def test_unroutable_non_mandatory_dropped_silently(broker):
    ch = broker.channel(inline=False)
    assert ch.basic_publish("amq.direct", "k", b"m") == UNROUTABLE
    assert ch.pop_event() is None


def test_mandatory_return_event_pull(broker):
    ch = broker.channel(inline=False)
    props = Properties(content_type="text/plain", headers={"h": 1})
    assert ch.basic_publish("amq.direct", "nowhere", b"body", properties=props, mandatory=True) == UNROUTABLE
    events = pending_events(ch)
    assert len(events) == 1
    returned = events[0]
    assert isinstance(returned, Returned)
    assert (returned.reply_code, returned.reply_text) == (312, "NO_ROUTE")
    assert (returned.exchange, returned.routing_key, returned.body) == ("amq.direct", "nowhere", b"body")
    assert returned.properties.content_type == "text/plain"
    assert returned.properties.headers == {"h": 1}


def test_mandatory_return_callback_runs_before_publish_returns(broker):
    ch = broker.channel()
    seen = []
    ch.add_on_return_callback(seen.append)
    ch.basic_publish("", "no-such-queue", b"m", mandatory=True)
    assert len(seen) == 1
    assert (seen[0].exchange, seen[0].routing_key) == ("", "no-such-queue")
    ch.basic_publish("", "no-such-queue", b"m", mandatory=False)
    assert len(seen) == 1
    assert ch.pop_event() is None  # callbacks consumed it: nothing waits in the inbox


def test_routed_then_dropped_is_not_returned(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("ttl0", arguments={"x-message-ttl": 0})
    ch.queue_declare("max0", arguments={"x-max-length": 0})
    assert ch.basic_publish("", "ttl0", b"m", mandatory=True) == ROUTED
    assert ch.basic_publish("", "max0", b"m", mandatory=True) == ROUTED
    assert ch.pop_event() is None
    assert ch.queue_declare("ttl0", passive=True).message_count == 0


def test_multi_queue_publish_enqueued_in_declaration_order(ch):
    for q in ("zeta", "alpha", "mid"):
        ch.queue_declare(q)
    ch.exchange_declare("f", "fanout")
    for q in ("mid", "alpha", "zeta"):  # bound in another order
        ch.queue_bind(q, "f")
    got = []
    for q in ("alpha", "mid", "zeta"):
        ch.basic_consume(q, got.append, auto_ack=True, consumer_tag=q)
    ch.basic_publish("f", "", b"m")
    assert [d.consumer_tag for d in got] == ["zeta", "alpha", "mid"]
