"""``Broker.explain``: each explained case, its records and its text (docs/explain.md).

Where explain predicts something observable (a refusal, a nack, a drop, a delivery), the test also
does the real publish and checks the broker agrees.
"""

from __future__ import annotations

import threading

import pytest

from minimq import AccessRefused, NotAllowed, NotFound, PreconditionFailed, Properties, PublishOutcome
from minimq.explain import (DELIVERED, DROPPED, ENQUEUED, EXPIRED, REJECTED, BindingMatch, ExchangeStep,
                            Explanation, QueueFate, binding_key)


def only_step(e: Explanation, name: str) -> ExchangeStep:
    (step,) = [s for s in e.steps if s.exchange == name]
    return step


def binding(step: ExchangeStep, destination: str, routing_key: str | None = None) -> BindingMatch:
    (found,) = [b for b in step.bindings
                if b.destination == destination and (routing_key is None or b.routing_key == routing_key)]
    return found


# -- topic -----------------------------------------------------------------------------------------

def test_topic_binding_names_the_words_each_wildcard_took(broker, ch):
    ch.exchange_declare("logs", "topic")
    ch.queue_declare("q")
    ch.queue_bind("q", "logs", "a.*.#")
    e = broker.explain("logs", "a.b.c.d")
    match = binding(only_step(e, "logs"), "q")
    assert match.matched and match.rule == "topic" and match.matched_keys == ("a.b.c.d",)
    assert match.captures == (("*", ("b",)), ("#", ("c", "d")))
    assert match.reason == "* took 'b', # took 'c.d'"
    assert match.to_text() == "MATCH    binding 'a.*.#' -> queue 'q': * took 'b', # took 'c.d'"
    assert e.matched_bindings == {("logs", "queue", "q", "a.*.#", "[]")}
    assert e.reached_queues == {"q"} and e.outcome == "routed"


def test_topic_wildcards_taking_nothing_or_an_empty_word(broker, ch):
    ch.exchange_declare("logs", "topic")
    ch.queue_declare("q")
    ch.queue_bind("q", "logs", "a.#")
    ch.queue_bind("q", "logs", "*.b")
    step = only_step(broker.explain("logs", "a"), "logs")
    assert binding(step, "q", "a.#").reason == "# took no word"
    step = only_step(broker.explain("logs", ".b"), "logs")
    assert binding(step, "q", "*.b").reason == "* took '' (an empty word)"


def test_topic_miss_says_where_the_key_and_the_pattern_part(broker, ch):
    ch.exchange_declare("logs", "topic")
    ch.queue_declare("q")
    for pattern in ("a.x.#", "a.b.c.d.e", "a.b", "#.z"):
        ch.queue_bind("q", "logs", pattern)
    e = broker.explain("logs", "a.b.c.d")
    step = only_step(e, "logs")
    assert binding(step, "q", "a.x.#").reason == "key word 2 is 'b' where the pattern wants 'x' (pattern word 2)"
    assert binding(step, "q", "a.b.c.d.e").reason == \
        "the key ends (4 words) but the pattern still wants 'e' (pattern word 5)"
    assert binding(step, "q", "a.b").reason == "the pattern ends but the key goes on with 'c.d' (from key word 3)"
    assert binding(step, "q", "#.z").reason == "key word 4 is 'd' where the pattern wants 'z' (pattern word 2)"
    assert not any(b.matched for b in step.bindings)
    assert e.unmatched_bindings == {("logs", "queue", "q", p, "[]") for p in ("a.x.#", "a.b.c.d.e", "a.b", "#.z")}
    assert e.outcome == "unroutable" and e.queues == ()


# -- direct, fanout, default -----------------------------------------------------------------------

def test_direct_is_equality_and_says_which_key_differs(broker, ch):
    ch.queue_declare("q1")
    ch.queue_declare("q2")
    ch.queue_bind("q1", "amq.direct", "red")
    ch.queue_bind("q2", "amq.direct", "blue")
    step = only_step(broker.explain("amq.direct", "red"), "amq.direct")
    assert binding(step, "q1").reason == "the routing key equals the binding key"
    assert binding(step, "q2").reason == "the routing key 'red' is not 'blue'"


def test_fanout_matches_every_binding(broker, ch):
    ch.queue_declare("q1")
    ch.queue_declare("q2")
    ch.queue_bind("q1", "amq.fanout", "ignored")
    ch.queue_bind("q2", "amq.fanout", "")
    e = broker.explain("amq.fanout", "anything")
    assert all(b.matched and b.reason == "a fanout exchange sends to every binding"
               for b in only_step(e, "amq.fanout").bindings)
    assert [f.queue for f in e.queues] == ["q1", "q2"]


def test_default_exchange_implicit_binding(broker, ch):
    ch.queue_declare("jobs")
    e = broker.explain("", "jobs")
    step = only_step(e, "")
    assert step.type == "direct" and step.how == "published to"
    (match,) = step.bindings
    assert match.rule == "default" and match.key == ("", "queue", "jobs", "jobs", "[]")
    assert e.matched_bindings == {binding_key("", "queue", "jobs", "jobs", None)}
    assert match.to_text() == ("MATCH    implicit binding 'jobs' -> queue 'jobs': the default exchange sends a "
                               "message to the queue named by its routing key")
    missing = broker.explain("", "nobody")
    assert only_step(missing, "").note == "no queue is named 'nobody'"
    assert missing.outcome == "unroutable" and missing.unmatched_bindings == frozenset()


# -- headers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("x_match, headers, matched, reason", [
    ("all", {"format": "pdf", "type": "report"}, True, "x-match all: all 2 comparisons held"),
    ("all", {"format": "pdf"}, False, "x-match all: 'type' is missing"),
    ("all", {"format": "zip", "type": "report"}, False, "x-match all: 'format' is 'zip', not 'pdf'"),
    ("any", {"type": "report"}, True, "x-match any: 'type' held"),
    ("any", {"other": 1}, False, "x-match any: none of the 2 comparisons held"),
])
def test_headers_binding_lists_each_comparison(broker, ch, x_match, headers, matched, reason):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.headers", "", {"x-match": x_match, "format": "pdf", "type": "report"})
    match = binding(only_step(broker.explain("amq.headers", "", headers=headers), "amq.headers"), "q")
    assert (match.matched, match.reason, match.x_match) == (matched, reason, x_match)
    assert [(c.key, c.wanted, c.present, c.held) for c in match.comparisons] == [
        ("format", "pdf", "format" in headers, headers.get("format") == "pdf"),
        ("type", "report", "type" in headers, headers.get("type") == "report")]
    assert ch.basic_publish("amq.headers", "", b"m", Properties(headers=headers)) is \
        (PublishOutcome.ROUTED if matched else PublishOutcome.UNROUTABLE)


def test_headers_with_x_keys_and_void_values(broker, ch):
    ch.queue_declare("plain")
    ch.queue_declare("with_x")
    ch.queue_bind("plain", "amq.headers", "", {"x-match": "all", "x-tag": 1})
    ch.queue_bind("with_x", "amq.headers", "", {"x-match": "any-with-x", "x-tag": 1, "id": None})
    step = only_step(broker.explain("amq.headers", "", headers={"id": "anything"}), "amq.headers")
    plain = binding(step, "plain")
    assert plain.matched and plain.comparisons == ()
    assert plain.reason == "x-match all with nothing to compare matches every message"
    with_x = binding(step, "with_x")
    assert with_x.matched and [c.to_text() for c in with_x.comparisons] == [
        "'x-tag' = 1: message lacks it -> no",
        "'id' present (any value): message has 'anything' -> yes"]
    assert str(binding(step, "with_x").key[4]) == "[('id', None), ('x-match', 'any-with-x'), ('x-tag', 1)]"


def test_headers_equality_is_the_exchanges_own_str_equals_bytes(broker, ch):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.headers", "", {"format": "pdf"})
    match = binding(only_step(broker.explain("amq.headers", "", headers={"format": b"pdf"}), "amq.headers"), "q")
    assert match.matched and match.comparisons[0].held


# -- exchange hops, alternates, internal -----------------------------------------------------------

def test_exchange_to_exchange_hop_is_a_child_step(broker, ch):
    ch.exchange_declare("front", "topic")
    ch.exchange_declare("back", "direct", internal=True)
    ch.queue_declare("q")
    ch.exchange_bind("back", "front", "order.#")
    ch.queue_bind("q", "back", "order.new")
    e = broker.explain("front", "order.new")
    front, back = e.steps
    assert (front.exchange, front.parent, front.how) == ("front", None, "published to")
    assert (back.exchange, back.parent, back.how) == ("back", 0, "exchange binding")
    assert back.via_binding == ("front", "exchange", "back", "order.#", "[]")
    assert back.internal and "internal" in back.note
    assert e.visited_exchanges == {"front", "back"} and e.reached_queues == {"q"}
    assert e.matched_bindings == {("front", "exchange", "back", "order.#", "[]"),
                                  ("back", "queue", "q", "order.new", "[]")}


def test_alternate_exchange_by_argument_and_by_policy(broker, ch):
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("unrouted")
    ch.queue_bind("unrouted", "ae", "")
    ch.exchange_declare("by_arg", "direct", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("by_policy", "direct")
    broker.set_policy("ae-policy", "^by_policy$", {"alternate-exchange": "ae"}, apply_to="exchanges")
    for name, source in (("by_arg", "argument"), ("by_policy", "policy")):
        e = broker.explain(name, "nothing-bound")
        step = only_step(e, name)
        assert (step.alternate, step.alternate_source, step.alternate_result) == ("ae", source, "taken")
        assert only_step(e, "ae").how == "alternate exchange" and only_step(e, "ae").parent == 0
        assert e.alternate_hops == {(name, "ae")} and e.reached_queues == {"unrouted"}
        assert f"nothing matched: alternate exchange 'ae' ({source}): taken" in e.to_text()


def test_alternate_exchange_not_needed_when_a_binding_matches(broker, ch):
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("q")
    ch.queue_bind("q", "x", "k")
    e = broker.explain("x", "k")
    assert only_step(e, "x").alternate_result is None and e.alternate_hops == frozenset()
    assert e.visited_exchanges == {"x"}


@pytest.mark.parametrize("alternate, result", [
    ("missing", "missing"),
    ("", "default exchange routes nothing"),
    ("x", "already visited"),
])
def test_alternate_exchange_dead_ends(broker, ch, alternate, result):
    ch.queue_declare("x")  # a queue named like the exchange: the default exchange as alternate still routes nothing
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": alternate})
    e = broker.explain("x", "x")
    assert only_step(e, "x").alternate_result == result
    assert e.outcome == "unroutable" and ch.basic_publish("x", "x", b"m") is PublishOutcome.UNROUTABLE


def test_cc_and_bcc_keys_route_at_every_exchange_and_bcc_is_hidden_from_headers(broker, ch):
    ch.exchange_declare("t", "topic")
    for q in ("main", "copy", "secret"):
        ch.queue_declare(q)
    ch.queue_bind("main", "t", "main.*")
    ch.queue_bind("copy", "t", "copy.#")
    ch.queue_bind("secret", "t", "secret")
    e = broker.explain("t", "main.x", headers={"CC": ["copy.y", 5], "BCC": ["secret"]})
    assert e.keys == ("main.x", "copy.y", "secret")
    assert e.headers == {"CC": ["copy.y", 5]}
    assert binding(only_step(e, "t"), "copy").reason == "key 'copy.y': # took 'y'"
    assert e.reached_queues == {"main", "copy", "secret"}
    assert "(and CC/BCC keys 'copy.y', 'secret')" in e.to_text().splitlines()[0]


def test_direct_with_several_keys_names_the_matching_one(broker, ch):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct", "b")
    step = only_step(broker.explain("amq.direct", "a", headers={"CC": ["b"]}), "amq.direct")
    assert binding(step, "q").matched_keys == ("b",) and binding(step, "q").reason == "key 'b' equals the binding key"
    step = only_step(broker.explain("amq.direct", "a", headers={"CC": ["c"]}), "amq.direct")
    assert binding(step, "q").reason == "none of the keys 'a', 'c' is 'b'"


def test_two_paths_to_one_exchange_visit_it_once(broker, ch):
    ch.exchange_declare("hub", "fanout")
    ch.exchange_declare("mid", "fanout")
    ch.queue_declare("q")
    ch.exchange_bind("mid", "hub", "")
    ch.exchange_bind("mid", "hub", "other")  # a second binding, same destination
    ch.queue_bind("q", "mid", "")
    e = broker.explain("hub", "")
    assert [s.exchange for s in e.steps] == ["hub", "mid"]
    repeated = [b for b in only_step(e, "hub").bindings if b.already_visited]
    assert len(repeated) == 1 and "goes there once" in repeated[0].reason
    assert [f.queue for f in e.queues] == ["q"] and e.queues[0].reached_by == (("mid", "queue", "q", "", "[]"),)


# -- refusals ----------------------------------------------------------------------------------------

def test_unknown_exchange_is_explained_as_the_404_a_publish_gets(broker, ch):
    e = broker.explain("nope", "k")
    assert e.outcome == "refused" and isinstance(e.error, NotFound)
    assert e.steps == () and e.queues == () and e.visited_exchanges == frozenset()
    with pytest.raises(NotFound) as real:
        ch.basic_publish("nope", "k", b"m")
    assert str(e.error) == str(real.value)
    assert e.to_text() == ("publish to exchange 'nope' with routing key 'k', vhost '/'\n"
                           "  refused: 404 NOT_FOUND - no exchange 'nope' in vhost '/'\n"
                           "  the channel is closed; nothing is routed")


def test_internal_exchange_is_explained_as_the_403_a_publish_gets(broker, ch):
    ch.exchange_declare("inside", "fanout", internal=True)
    e = broker.explain("inside", "")
    assert e.outcome == "refused" and isinstance(e.error, AccessRefused)
    with pytest.raises(AccessRefused) as real:
        ch.basic_publish("inside", "", b"m")
    assert str(e.error) == str(real.value)


def test_invalid_properties_are_explained_as_the_406_a_publish_gets(broker, ch):
    ch.queue_declare("q")
    e = broker.explain("", "q", properties=Properties(expiration="soon"))
    assert e.outcome == "refused" and isinstance(e.error, PreconditionFailed)
    assert e.error.reply_text == "PRECONDITION_FAILED - invalid expiration 'soon': no_integer"
    e = broker.explain("", "q", headers={"CC": "not-a-list"})
    assert e.outcome == "refused" and e.error.reply_code == 406


def test_the_exchange_is_checked_before_the_properties(broker):
    e = broker.explain("nope", "q", properties=Properties(expiration="soon"))
    assert isinstance(e.error, NotFound)


def test_unroutable_says_what_mandatory_would_do(broker):
    e = broker.explain("amq.direct", "nobody")
    assert e.outcome == "unroutable"
    assert "returned to the publisher as 312 NO_ROUTE (mandatory=True)" in e.notes[0]


def test_bad_calls_raise_typed_errors(broker):
    with pytest.raises(TypeError, match=r"^exchange and routing_key must be str, got int and str$"):
        broker.explain(1, "k")
    with pytest.raises(TypeError, match=r"^headers must be a dict or None, not list$"):
        broker.explain("", "k", headers=[1])
    with pytest.raises(ValueError, match=r"^give the headers either as headers= or in properties.headers, not both$"):
        broker.explain("", "k", headers={"a": 1}, properties=Properties(headers={"b": 2}))
    with pytest.raises(NotAllowed, match=r"vhost nowhere not found"):
        broker.explain("", "k", vhost="nowhere")
    with pytest.raises(TypeError):
        broker.explain("", "k", body="text")


# -- what each queue does with it ----------------------------------------------------------------------

def fate_of(broker, queue: str, **kwargs) -> QueueFate:
    return broker.explain("", queue, **kwargs).queue(queue)


@pytest.mark.parametrize("queue_ttl, expiration, ttl, source", [
    (None, None, None, "neither"),
    (5000, None, 5000, "the queue's message-ttl (argument)"),
    (None, "300", 300, "the message's expiration property"),
    (5000, "300", 300, "the message's expiration property (lower than the queue's 5000)"),
    (200, "300", 200, "the queue's message-ttl (argument), lower than the message's expiration 300"),
])
def test_ttl_the_lower_of_message_and_queue_wins(broker, ch, queue_ttl, expiration, ttl, source):
    ch.queue_declare("q", arguments={} if queue_ttl is None else {"x-message-ttl": queue_ttl})
    fate = fate_of(broker, "q", properties=Properties(expiration=expiration))
    assert fate.ttl == ttl and fate.ttl_from.startswith(source) and fate.fate == ENQUEUED


def test_ttl_from_a_policy_names_the_policy(broker, ch):
    ch.queue_declare("q")
    broker.set_policy("ttl", "^q$", {"message-ttl": 1000})
    fate = fate_of(broker, "q")
    assert fate.ttl == 1000 and fate.ttl_from == "the queue's message-ttl (policy)"
    assert fate.settings == {"message-ttl": (1000, "policy")}


def test_ttl_zero_at_the_head_expires_at_once_and_is_dead_lettered(tbroker, tch):
    tch.queue_declare("dlq")
    tch.queue_declare("q", arguments={"x-message-ttl": 0, "x-dead-letter-exchange": "",
                                    "x-dead-letter-routing-key": "dlq"})
    fate = fate_of(tbroker, "q")
    assert (fate.fate, fate.dead_lettered) == (EXPIRED, "expired")
    tch.basic_publish("", "q", b"m")
    assert tbroker.get_queue("q").message_count == 0 and tbroker.get_queue("dlq").message_count == 1


def test_reject_publish_over_the_limit_is_a_nack(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
    assert fate_of(broker, "q").fate == ENQUEUED
    ch.basic_publish("", "q", b"first")
    e = broker.explain("", "q")
    assert e.queue("q").fate == REJECTED and not e.queue("q").accepted and e.outcome == "nacked"
    assert "refused by 'q': a nack in confirm mode" in e.to_text()
    ch.confirm_select()
    assert ch.basic_publish("", "q", b"second") is PublishOutcome.NACKED


def test_reject_publish_dlx_dead_letters_the_refused_message(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 0, "x-overflow": "reject-publish-dlx",
                                     "x-dead-letter-exchange": "amq.fanout", "x-dead-letter-routing-key": "dead"})
    fate = fate_of(broker, "q")
    assert (fate.fate, fate.dead_lettered) == (REJECTED, "maxlen")
    assert (fate.dead_letter_exchange, fate.dead_letter_routing_key, fate.dead_letter_exchange_exists) == \
        ("amq.fanout", "dead", True)
    assert any("dead-lettered now (reason maxlen): to exchange 'amq.fanout' (argument) with routing key 'dead'" in n
               for n in fate.notes)


def test_drop_head_counts_the_messages_it_removes(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 2})
    for body in (b"1", b"2", b"3"):
        ch.basic_publish("", "q", body)
    fate = fate_of(broker, "q")
    assert (fate.fate, fate.dropped_from_head, fate.ready_before) == (ENQUEUED, 1, 2)
    ch.basic_publish("", "q", b"4")
    assert [m.body for m in broker.get_queue("q").ready_messages()] == [b"3", b"4"]


def test_drop_head_by_bytes_can_drop_the_message_itself(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length-bytes": 3, "x-dead-letter-exchange": "amq.fanout"})
    ch.basic_publish("", "q", b"ab")
    fate = fate_of(broker, "q", body=b"abcd")
    assert (fate.fate, fate.dropped_from_head, fate.dead_lettered) == (DROPPED, 2, "maxlen")
    fate = fate_of(broker, "q", body=b"a")
    assert (fate.fate, fate.dropped_from_head) == (ENQUEUED, 0)
    ch.basic_publish("", "q", b"abcd")
    assert broker.get_queue("q").message_count == 0


def test_limits_from_an_operator_policy_are_named(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 10})
    broker.set_operator_policy("cap", "^q$", {"max-length": 3})
    fate = fate_of(broker, "q")
    assert fate.settings["max-length"] == (3, "operator policy")
    assert any(n.startswith("limits: max-length 3 (operator policy); overflow drop-head") for n in fate.notes)


def test_priority_level_is_the_property_lowered_to_the_maximum(broker, ch):
    ch.queue_declare("p", arguments={"x-max-priority": 5})
    ch.queue_declare("plain")
    assert fate_of(broker, "p", properties=Properties(priority=9)).priority == 5
    assert fate_of(broker, "p", properties=Properties(priority=2)).priority == 2
    assert fate_of(broker, "p").priority == 0
    plain = fate_of(broker, "plain", properties=Properties(priority=9))
    assert plain.priority is None and any("is ignored (plain FIFO)" in n for n in plain.notes)


def test_drop_head_in_a_priority_queue_drops_in_delivery_order(broker, ch):
    ch.queue_declare("p", arguments={"x-max-priority": 5, "x-max-length-bytes": 4})
    ch.basic_publish("", "p", b"hi", Properties(priority=5))
    ch.basic_publish("", "p", b"lo", Properties(priority=1))
    # a 2-byte message at level 3 goes between them; the head (level 5) is dropped first
    fate = fate_of(broker, "p", properties=Properties(priority=3), body=b"md")
    assert (fate.fate, fate.dropped_from_head) == (ENQUEUED, 1)
    ch.basic_publish("", "p", b"md", Properties(priority=3))
    assert [m.body for m in broker.get_queue("p").ready_messages()] == [b"md", b"lo"]


def test_a_consumer_with_capacity_takes_it_at_once(broker, ch):
    ch.queue_declare("q", arguments={"x-max-length": 0, "x-message-ttl": 0})
    ch.basic_consume("q", lambda d: None, auto_ack=True, consumer_tag="worker")
    fate = fate_of(broker, "q")
    assert fate.fate == DELIVERED and fate.consumers == ("worker",)
    assert any("a consumer has capacity ('worker')" in n for n in fate.notes)


def test_a_consumer_without_capacity_leaves_it_waiting(broker, ch):
    ch.queue_declare("q")
    ch.basic_qos(prefetch_count=1)
    ch.basic_consume("q", lambda d: None, consumer_tag="busy")
    ch.basic_publish("", "q", b"held")
    fate = fate_of(broker, "q")
    assert fate.fate == ENQUEUED and any("no capacity left" in n for n in fate.notes)


def test_single_active_consumer_names_the_active_one(broker, ch):
    ch.queue_declare("q", arguments={"x-single-active-consumer": True})
    ch.basic_consume("q", lambda d: None, consumer_tag="first")
    ch.basic_consume("q", lambda d: None, consumer_tag="second")
    fate = fate_of(broker, "q")
    assert fate.single_active_consumer and fate.active_consumer == "first"
    assert fate.consumers == ("first", "second")


def test_missing_dead_letter_exchange_is_pointed_out(broker, ch):
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "gone"})
    fate = fate_of(broker, "q")
    assert not fate.dead_letter_exchange_exists
    assert any("no such exchange: dead-lettered messages are dropped" in n for n in fate.notes)


def test_queues_come_in_declaration_order_like_a_publish(broker, ch):
    for q in ("b", "a", "c"):
        ch.queue_declare(q)
        ch.queue_bind(q, "amq.fanout", "")
    assert [f.queue for f in broker.explain("amq.fanout", "").queues] == ["b", "a", "c"]
    with pytest.raises(KeyError, match="does not reach queue 'z'"):
        broker.explain("amq.fanout", "").queue("z")


# -- the text, and what explain leaves alone --------------------------------------------------------------

def test_the_whole_text(broker, ch):
    ch.exchange_declare("logs", "topic", arguments={"alternate-exchange": "amq.fanout"})
    ch.queue_declare("errors", arguments={"x-message-ttl": 60000})
    ch.queue_bind("errors", "logs", "*.error.#")
    ch.queue_bind("errors", "logs", "audit")
    assert broker.explain("logs", "web.error.db").to_text() == """\
publish to exchange 'logs' with routing key 'web.error.db', vhost '/'
  exchange 'logs' (topic), published to
    MATCH    binding '*.error.#' -> queue 'errors': * took 'web', # took 'db'
    no match binding 'audit' -> queue 'errors': key word 1 is 'web' where the pattern wants 'audit' (pattern word 1)
queues reached (1):
  queue 'errors': enqueued
    ready now: 0 messages, 0 body bytes
    TTL: 60000 ms, from the queue's message-ttl (argument)
    it waits in the queue, at the head
    no consumer attached
outcome: routed to 1 queue
  routed: no basic.return even with mandatory=True, whatever the queues do with it (§5.5)"""
    lines = str(broker.explain("logs", "nothing")).splitlines()
    assert lines[1:5] == [
        "  exchange 'logs' (topic), published to",
        "    no match binding '*.error.#' -> queue 'errors': the key ends (1 word) but the pattern still wants "
        "'error' (pattern word 2)",
        "    no match binding 'audit' -> queue 'errors': key word 1 is 'nothing' where the pattern wants 'audit' "
        "(pattern word 1)",
        "    nothing matched: alternate exchange 'amq.fanout' (argument): taken",
    ]
    assert lines[5:7] == ["      exchange 'amq.fanout' (fanout), alternate exchange", "        (no bindings)"]


def test_explain_changes_no_queue_and_fills_no_topic_cache(broker, ch):
    ch.exchange_declare("t", "topic")
    ch.queue_declare("q", arguments={"x-max-length": 1})
    ch.queue_bind("q", "t", "#")
    ch.basic_publish("t", "x", b"1")
    trie = broker.get_exchange("t")._trie
    stats = trie.stats()
    for key in ("x", "y.z", ""):
        broker.explain("t", key)
    assert trie.stats() == stats
    assert [m.body for m in broker.get_queue("q").ready_messages()] == [b"1"]


def test_explain_from_a_consumer_callback_does_not_deadlock(broker, ch):
    ch.queue_declare("q")
    seen = []
    ch.basic_consume("q", lambda d: seen.append(broker.explain("", "q").outcome), auto_ack=True)
    worker = threading.Thread(target=ch.basic_publish, args=("", "q", b"m"), daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "explain inside a callback deadlocked on the broker lock"
    assert seen == ["routed"]


def test_an_explanation_names_bindings_as_the_topology_does_and_highlights_a_drawing(broker, ch):
    """The binding keys are the ones ``Broker.topology()`` gives, so a drawing can highlight the route."""
    ch.exchange_declare("front", "topic", arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("hx", "headers")
    for q in ("a", "b", "rest"):
        ch.queue_declare(q)
    ch.exchange_bind("hx", "front", "x.#")
    ch.queue_bind("a", "hx", "", {"x-match": "any", "k": "v"})
    ch.queue_bind("b", "front", "y.*")
    ch.queue_bind("rest", "ae", "")
    topology_keys = {b.key for b in broker.topology().bindings}
    routed = broker.explain("front", "x.1", headers={"k": "v"})
    assert routed.matched_bindings == {("front", "exchange", "hx", "x.#", "[]"),
                                       ("hx", "queue", "a", "", "[('k', 'v'), ('x-match', 'any')]")}
    assert routed.matched_bindings | routed.unmatched_bindings <= topology_keys
    fallback = broker.explain("front", "z")
    assert fallback.alternate_hops == {("front", "ae")} and fallback.matched_bindings <= topology_keys
    plain = broker.topology().to_svg()
    assert broker.topology().to_svg(highlight=routed) not in (plain, broker.topology().to_svg(highlight=fallback))
