"""docs/semantics.md §4: exchanges (predeclared, default exchange, declare, delete, auto-delete, internal, AE, e2e)."""

from __future__ import annotations

import pytest

from core_helpers import bodies, collector, drain, hard, soft
from minimq import AccessRefused, CommandInvalid, NotFound, PreconditionFailed, ResourceLocked, Returned
from minimq.channel import PublishOutcome

ROUTED, UNROUTABLE = PublishOutcome.ROUTED, PublishOutcome.UNROUTABLE
DEFAULT_REFUSED = "ACCESS_REFUSED - operation not permitted on the default exchange"


# -- §4.2 predeclared ------------------------------------------------------------------------------
@pytest.mark.parametrize("name, type_, internal", [
    ("", "direct", False), ("amq.direct", "direct", False), ("amq.fanout", "fanout", False),
    ("amq.topic", "topic", False), ("amq.headers", "headers", False), ("amq.match", "headers", False),
    ("amq.rabbitmq.trace", "topic", True),
])
def test_predeclared(broker, name, type_, internal):
    x = broker.get_exchange(name)
    assert (x.type, x.durable, x.auto_delete, x.internal) == (type_, True, False, internal)
    if name:
        ch = broker.channel()
        ch.exchange_declare(name, passive=True)
        ch.exchange_declare(name, type_, durable=True, internal=internal)
        assert ch.is_open


def test_predeclared_routes_like_any_exchange(ch):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.topic", "a.*")
    ch.queue_bind("q", "amq.match", arguments={"k": "v"})
    ch.basic_publish("amq.topic", "a.b", b"topic")
    ch.basic_publish("amq.match", "", b"headers", properties=_headers({"k": "v"}))
    assert bodies(drain(ch, "q")) == [b"topic", b"headers"]


def _headers(h):
    from minimq import Properties
    return Properties(headers=h)


def test_predeclared_non_durable_redeclare_is_406(ch):
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange "
              "'amq.direct' in vhost '/': received 'false' but current is 'true'"):
        ch.exchange_declare("amq.direct", "direct")


def test_predeclared_other_type_is_406(ch):
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange "
              "'amq.fanout' in vhost '/': received 'direct' but current is 'fanout'"):
        ch.exchange_declare("amq.fanout", "direct", durable=True)


# -- §4.1 the default exchange ------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda ch: ch.exchange_declare("", "direct"),
    lambda ch: ch.exchange_declare("", passive=True),
    lambda ch: ch.exchange_delete(""),
    lambda ch: ch.queue_bind("q", "", "q"),
    lambda ch: ch.queue_unbind("q", "", "q"),
    lambda ch: ch.exchange_bind("x", "", "k"),
    lambda ch: ch.exchange_bind("", "x", "k"),
    lambda ch: ch.exchange_unbind("x", "", "k"),
    lambda ch: ch.exchange_unbind("", "x", "k"),
], ids=["declare", "passive", "delete", "qbind", "qunbind", "xbind-src", "xbind-dst", "xunbind-src",
        "xunbind-dst"])
def test_default_exchange_refuses_everything(ch, call):
    ch.queue_declare("q")
    ch.exchange_declare("x", "direct")
    with soft(ch, AccessRefused, 403, DEFAULT_REFUSED):
        call(ch)


def test_default_exchange_unknown_type_is_503_first(ch):
    with hard(ch, CommandInvalid, 503, "COMMAND_INVALID - unknown exchange type 'weird'"):
        ch.exchange_declare("", "weird")


def test_default_exchange_routes_by_exact_queue_name(ch):
    ch.queue_declare("Orders")
    assert ch.basic_publish("", "Orders", b"m") == ROUTED
    assert ch.basic_publish("", "orders", b"m") == UNROUTABLE
    assert ch.queue_declare("Orders", passive=True).message_count == 1


# -- §4.3 declare and redeclare ------------------------------------------------------------------------
def test_unknown_type_checked_first_even_for_existing(ch):
    ch.exchange_declare("x", "direct")
    with hard(ch, CommandInvalid, 503, "COMMAND_INVALID - unknown exchange type 'Direct'"):
        ch.exchange_declare("x", "Direct")


def test_unknown_type_before_amq_prefix(ch):
    with hard(ch, CommandInvalid, 503, "COMMAND_INVALID - unknown exchange type 'x-custom'"):
        ch.exchange_declare("amq.new", "x-custom")


def test_amq_prefix_before_alternate_exchange_type(ch):
    with soft(ch, AccessRefused, 403, "ACCESS_REFUSED - exchange name 'amq.new' contains reserved prefix 'amq.*'"):
        ch.exchange_declare("amq.new", "direct", arguments={"alternate-exchange": 1})


@pytest.mark.parametrize("value, type_name", [(1, "signedint"), (b"ae", "binary"), (True, "bool"),
                                              (None, "void"), (2**40, "long")])
def test_alternate_exchange_must_be_a_string(ch, value, type_name):
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid type '{type_name}' for arg "
              "'alternate-exchange' in exchange 'x' in vhost '/'"):
        ch.exchange_declare("x", "direct", arguments={"alternate-exchange": value})


@pytest.mark.parametrize("first, second, text", [
    (dict(exchange_type="direct"), dict(exchange_type="fanout"),
     "inequivalent arg 'type' for exchange 'x' in vhost '/': received 'fanout' but current is 'direct'"),
    (dict(), dict(durable=True),
     "inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'"),
    (dict(auto_delete=True), dict(),
     "inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'false' but current is 'true'"),
    (dict(), dict(internal=True),
     "inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'"),
    (dict(), dict(arguments={"alternate-exchange": "amq.fanout"}),
     "inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received the value 'amq.fanout' "
     "of type 'longstr' but current is none"),
    (dict(arguments={"alternate-exchange": "ae"}), dict(),
     "inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received none but current is the "
     "value 'ae' of type 'longstr'"),
    (dict(arguments={"alternate-exchange": "ae1"}), dict(arguments={"alternate-exchange": "ae2"}),
     "inequivalent arg 'alternate-exchange' for exchange 'x' in vhost '/': received 'ae2' but current is 'ae1'"),
    # first mismatch wins, in order type, durable, auto_delete, internal, alternate-exchange
    (dict(), dict(exchange_type="topic", durable=True),
     "inequivalent arg 'type' for exchange 'x' in vhost '/': received 'topic' but current is 'direct'"),
    (dict(), dict(durable=True, auto_delete=True, internal=True),
     "inequivalent arg 'durable' for exchange 'x' in vhost '/': received 'true' but current is 'false'"),
    (dict(), dict(auto_delete=True, internal=True),
     "inequivalent arg 'auto_delete' for exchange 'x' in vhost '/': received 'true' but current is 'false'"),
    (dict(), dict(internal=True, arguments={"alternate-exchange": "a"}),
     "inequivalent arg 'internal' for exchange 'x' in vhost '/': received 'true' but current is 'false'"),
])
def test_exchange_equivalence(ch, first, second, text):
    ch.exchange_declare("x", **first)
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - " + text):
        ch.exchange_declare("x", **second)


def test_other_exchange_arguments_never_compared(ch):
    ch.exchange_declare("x", "direct", arguments={"x-foo": 1, "bar": "baz"})
    ch.exchange_declare("x", "direct", arguments={"x-foo": 2})
    ch.exchange_declare("x", "direct")
    assert ch.is_open


def test_equivalent_redeclare_ok(ch):
    ch.exchange_declare("x", "topic", durable=True, auto_delete=True, internal=True,
                        arguments={"alternate-exchange": "ae"})
    ch.exchange_declare("x", "topic", durable=True, auto_delete=True, internal=True,
                        arguments={"alternate-exchange": "ae"})
    assert ch.is_open


def test_passive_declare_ignores_type_flags_arguments(ch):
    ch.exchange_declare("x", "direct")
    ch.exchange_declare("x", "fanout", passive=True, durable=True, auto_delete=True, internal=True,
                        arguments={"alternate-exchange": 5})
    ch.exchange_declare("x", "no-such-type", passive=True)
    assert ch.is_open
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'y' in vhost '/'"):
        ch.exchange_declare("y", "direct", passive=True)


# -- §4.4 delete ---------------------------------------------------------------------------------------
def test_delete_missing_exchange_ok(ch):
    ch.exchange_delete("never-existed")
    ch.exchange_delete("never-existed", if_unused=True)
    assert ch.is_open


def test_delete_if_unused_counts_source_bindings_only(broker):
    ch = broker.channel()
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "src")
    ch.exchange_delete("dst", if_unused=True)  # only a destination: deletable
    assert broker.get_exchange("dst") is None
    assert not broker.get_exchange("src").bindings  # its incoming binding went with it
    ch.queue_declare("q")
    ch.queue_bind("q", "src")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - exchange 'src' in vhost '/' in use"):
        ch.exchange_delete("src", if_unused=True)
    assert broker.get_exchange("src") is not None


def test_delete_if_unused_with_exchange_binding_as_source(ch):
    ch.exchange_declare("src", "fanout")
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "src")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - exchange 'src' in vhost '/' in use"):
        ch.exchange_delete("src", if_unused=True)


def test_delete_removes_bindings_keeps_queues(broker):
    ch = broker.channel()
    ch.exchange_declare("up", "fanout")
    ch.exchange_declare("x", "fanout")
    ch.exchange_bind("x", "up")
    ch.queue_declare("q")
    ch.queue_bind("q", "x")
    ch.basic_publish("x", "", b"m")
    ch.exchange_delete("x")
    assert broker.get_exchange("x") is None
    assert not broker.get_exchange("up").bindings
    assert ch.queue_declare("q", passive=True).message_count == 1
    ch.exchange_declare("x", "fanout")  # recreated: no bindings survive
    assert ch.basic_publish("x", "", b"m") == UNROUTABLE


# -- §4.5 auto-delete ------------------------------------------------------------------------------------
def test_auto_delete_never_deleted_without_bindings(broker):
    ch = broker.channel()
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.basic_publish("ad", "", b"m")
    assert broker.get_exchange("ad") is not None


def test_auto_delete_on_last_unbind_only(broker):
    ch = broker.channel()
    ch.exchange_declare("ad", "direct", auto_delete=True)
    ch.queue_declare("q")
    ch.queue_bind("q", "ad", "a")
    ch.queue_bind("q", "ad", "b")
    ch.queue_unbind("q", "ad", "a")
    assert broker.get_exchange("ad") is not None
    ch.queue_unbind("q", "ad", "b")
    assert broker.get_exchange("ad") is None


def test_auto_delete_when_destination_queue_deleted(broker):
    ch = broker.channel()
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_declare("q")
    ch.queue_bind("q", "ad")
    ch.queue_delete("q")
    assert broker.get_exchange("ad") is None


def test_auto_delete_cascade_through_exchanges(broker):
    ch = broker.channel()
    ch.exchange_declare("top", "fanout", auto_delete=True)
    ch.exchange_declare("mid", "fanout", auto_delete=True)
    ch.exchange_bind("mid", "top")
    ch.queue_declare("q")
    ch.queue_bind("q", "mid")
    ch.queue_delete("q")  # mid loses its last binding -> deleted -> top loses its last -> deleted
    assert broker.get_exchange("mid") is None
    assert broker.get_exchange("top") is None


def test_auto_delete_when_destination_exchange_deleted(broker):
    ch = broker.channel()
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.exchange_declare("dst", "fanout")
    ch.exchange_bind("dst", "ad")
    ch.exchange_delete("dst")
    assert broker.get_exchange("ad") is None


def test_auto_delete_when_auto_delete_queue_goes(broker):
    ch = broker.channel()
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_declare("q", auto_delete=True)
    ch.queue_bind("q", "ad")
    tag = ch.basic_consume("q", lambda d: None)
    ch.basic_cancel(tag)
    assert broker.get_queue("q") is None
    assert broker.get_exchange("ad") is None


# -- §4.5 internal ------------------------------------------------------------------------------------------
def test_internal_exchange_refuses_direct_publish(ch):
    ch.exchange_declare("int", "fanout", internal=True)
    with soft(ch, AccessRefused, 403, "ACCESS_REFUSED - cannot publish to internal exchange 'int' in vhost '/'"):
        ch.basic_publish("int", "", b"m")


def test_trace_exchange_is_internal(ch):
    with soft(ch, AccessRefused, 403,
              "ACCESS_REFUSED - cannot publish to internal exchange 'amq.rabbitmq.trace' in vhost '/'"):
        ch.basic_publish("amq.rabbitmq.trace", "", b"m")


def test_internal_exchange_routes_via_e2e_and_as_alternate(ch):
    ch.exchange_declare("int", "fanout", internal=True)
    ch.exchange_declare("front", "direct")
    ch.exchange_bind("int", "front", "k")
    ch.exchange_declare("with-ae", "direct", arguments={"alternate-exchange": "int"})
    ch.queue_declare("q")
    ch.queue_bind("q", "int")
    assert ch.basic_publish("front", "k", b"e2e") == ROUTED
    assert ch.basic_publish("with-ae", "none", b"ae") == ROUTED
    got = drain(ch, "q")
    assert bodies(got) == [b"e2e", b"ae"]
    assert [d.exchange for d in got] == ["front", "with-ae"]


# -- §4.6 alternate exchanges -------------------------------------------------------------------------------
def test_alternate_exchange_gets_unmatched_only(broker):
    ch = broker.channel(inline=False)
    ch.exchange_declare("ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae"})
    ch.queue_declare("matched")
    ch.queue_declare("unmatched")
    ch.queue_bind("matched", "x", "k")
    ch.queue_bind("unmatched", "ae")
    assert ch.basic_publish("x", "k", b"1", mandatory=True) == ROUTED
    assert ch.basic_publish("x", "other", b"2", mandatory=True) == ROUTED
    assert ch.pop_event() is None  # routed via the AE: no return
    assert bodies(drain(ch, "matched")) == [b"1"]
    got = drain(ch, "unmatched")
    assert bodies(got) == [b"2"]
    assert (got[0].exchange, got[0].routing_key, got[0].headers) == ("x", "other", None)


def test_default_exchange_as_alternate_routes_nothing(broker):
    """Its implicit queue-name bindings apply only to a publish to it, never when it is reached as an AE."""
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": ""})
    assert ch.basic_publish("x", "q", b"1", mandatory=True) == UNROUTABLE
    assert isinstance(ch.pop_event(), Returned)
    assert ch.queue_declare("q", passive=True).message_count == 0


def test_alternate_exchange_chain(ch):
    ch.exchange_declare("ae2", "fanout")
    ch.exchange_declare("ae1", "direct", arguments={"alternate-exchange": "ae2"})
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ae1"})
    ch.queue_declare("last")
    ch.queue_bind("last", "ae2")
    assert ch.basic_publish("x", "k", b"m") == ROUTED
    assert ch.basic_get("last", auto_ack=True).exchange == "x"


def test_missing_alternate_exchange_is_unroutable(broker):
    ch = broker.channel(inline=False)
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "missing"})
    assert ch.basic_publish("x", "k", b"m", mandatory=True) == UNROUTABLE
    returned = ch.pop_event()
    assert (returned.exchange, returned.routing_key, returned.body) == ("x", "k", b"m")


def test_alternate_exchange_looked_up_at_publish_time(ch):
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "later"})
    assert ch.basic_publish("x", "k", b"m") == UNROUTABLE
    ch.exchange_declare("later", "fanout")
    ch.queue_declare("q")
    ch.queue_bind("q", "later")
    assert ch.basic_publish("x", "k", b"m") == ROUTED


def test_alternate_exchange_cycle_terminates(ch):
    ch.exchange_declare("a", "direct", arguments={"alternate-exchange": "b"})
    ch.exchange_declare("b", "direct", arguments={"alternate-exchange": "a"})
    ch.exchange_declare("self", "direct", arguments={"alternate-exchange": "self"})
    assert ch.basic_publish("a", "k", b"m") == UNROUTABLE
    assert ch.basic_publish("self", "k", b"m") == UNROUTABLE
    ch.queue_declare("q")
    ch.queue_bind("q", "b", "k2")
    assert ch.basic_publish("a", "k2", b"m") == ROUTED  # a -> AE b -> q
    assert ch.basic_publish("b", "k", b"m") == UNROUTABLE  # b -> AE a -> AE b (visited)
    assert ch.queue_declare("q", passive=True).message_count == 1


def test_exchange_binding_counts_as_a_match(ch):
    """x matches only an e2e binding to dst; x's AE is not consulted, dst consults its own AE."""
    ch.exchange_declare("x-ae", "fanout")
    ch.exchange_declare("dst-ae", "fanout")
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "x-ae"})
    ch.exchange_declare("dst", "direct", arguments={"alternate-exchange": "dst-ae"})
    ch.exchange_bind("dst", "x", "k")
    for q, x in (("via-x-ae", "x-ae"), ("via-dst-ae", "dst-ae")):
        ch.queue_declare(q)
        ch.queue_bind(q, x)
    assert ch.basic_publish("x", "k", b"m") == ROUTED
    assert ch.queue_declare("via-x-ae", passive=True).message_count == 0
    assert ch.basic_get("via-dst-ae", auto_ack=True).exchange == "x"


# -- §4.7 exchange-to-exchange bindings and binding identity -------------------------------------------------
def test_e2e_routes_as_if_published_to_destination(ch):
    ch.exchange_declare("src", "topic")
    ch.exchange_declare("dst", "direct")
    ch.exchange_bind("dst", "src", "orders.*")
    ch.queue_declare("q")
    ch.queue_bind("q", "dst", "orders.new")
    assert ch.basic_publish("src", "orders.new", b"yes") == ROUTED
    assert ch.basic_publish("src", "orders.old", b"no") == UNROUTABLE
    got = drain(ch, "q")
    assert bodies(got) == [b"yes"]
    assert (got[0].exchange, got[0].routing_key) == ("src", "orders.new")


def test_one_copy_through_several_paths_and_cycles(ch):
    ch.exchange_declare("a", "fanout")
    ch.exchange_declare("b", "fanout")
    ch.exchange_declare("c", "fanout")
    ch.exchange_bind("b", "a")
    ch.exchange_bind("c", "a")
    ch.exchange_bind("c", "b")
    ch.exchange_bind("a", "c")  # cycle
    ch.queue_declare("q")
    for x in ("a", "b", "c"):
        ch.queue_bind("q", x)
    assert ch.basic_publish("a", "", b"m") == ROUTED
    assert ch.queue_declare("q", passive=True).message_count == 1


def test_e2e_missing_ends(ch):
    ch.exchange_declare("present", "fanout")
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nosrc' in vhost '/'"):
        ch.exchange_bind("nodst", "nosrc")  # both missing: the source is reported


def test_e2e_missing_destination(ch):
    ch.exchange_declare("present", "fanout")
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nodst' in vhost '/'"):
        ch.exchange_bind("nodst", "present")


def test_e2e_missing_source(ch):
    ch.exchange_declare("present", "fanout")
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nosrc' in vhost '/'"):
        ch.exchange_bind("present", "nosrc")


def test_queue_bind_missing_source_reported_first(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nox' in vhost '/'"):
        ch.queue_bind("noq", "nox", "k")


def test_queue_bind_missing_queue(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'noq' in vhost '/'"):
        ch.queue_bind("noq", "amq.direct", "k")


def test_binding_identity_includes_arguments(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct", "k")
    ch.queue_bind("q", "amq.direct", "k")  # identical: no-op
    ch.queue_bind("q", "amq.direct", "k", arguments={"a": 1, "b": "x"})
    ch.queue_bind("q", "amq.direct", "k", arguments={"b": "x", "a": 1})  # key order irrelevant: same
    ch.queue_bind("q", "amq.direct", "k", arguments={"a": True, "b": "x"})  # value types matter: new
    ch.queue_bind("q", "amq.direct", "k", arguments={"a": "1", "b": "x"})  # ditto
    keys = [(b.routing_key, b.arguments) for b in broker.get_exchange("amq.direct").bindings.values()]
    assert keys == [("k", {}), ("k", {"a": 1, "b": "x"}), ("k", {"a": True, "b": "x"}),
                    ("k", {"a": "1", "b": "x"})]
    assert ch.basic_publish("amq.direct", "k", b"m") == ROUTED
    assert ch.queue_declare("q", passive=True).message_count == 1  # one copy
    # unbind needs the identical key and arguments
    ch.queue_unbind("q", "amq.direct", "k", arguments={"a": 2})  # no such binding: OK, nothing changes
    ch.queue_unbind("q", "amq.direct", "other")
    assert len(broker.get_exchange("amq.direct").bindings) == 4
    ch.queue_unbind("q", "amq.direct", "k", arguments={"b": "x", "a": 1})
    ch.queue_unbind("q", "amq.direct", "k")
    remaining = [b.arguments for b in broker.get_exchange("amq.direct").bindings.values()]
    assert remaining == [{"a": True, "b": "x"}, {"a": "1", "b": "x"}]


def test_unbind_of_missing_things_succeeds(ch):
    ch.queue_unbind("noq", "amq.direct", "k")
    ch.queue_unbind("noq", "nox", "k")
    ch.exchange_unbind("nodst", "nosrc", "k")
    ch.exchange_declare("a", "fanout")
    ch.exchange_unbind("a", "amq.fanout", "k")
    assert ch.is_open


def test_exchange_unbind_identity(broker):
    ch = broker.channel()
    ch.exchange_declare("a", "fanout")
    ch.exchange_bind("a", "amq.direct", "k", arguments={"x": 1})
    ch.exchange_unbind("a", "amq.direct", "k")
    assert len(broker.get_exchange("amq.direct").bindings) == 1
    ch.exchange_unbind("a", "amq.direct", "k", arguments={"x": 1})
    assert not broker.get_exchange("amq.direct").bindings


def test_bind_to_exclusive_queue_of_other_connection(broker):
    owner = broker.channel()
    owner.queue_declare("ex", exclusive=True)
    ch = broker.channel()
    with soft(ch, ResourceLocked, 405, "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue 'ex' in "
              "vhost '/'. It could be originally declared on another connection or the exclusive property "
              "value does not match that of the original declaration."):
        ch.queue_bind("ex", "amq.fanout")


def test_deliveries_through_e2e_keep_published_exchange(ch):
    ch.exchange_declare("a", "fanout")
    ch.exchange_bind("amq.fanout", "a")
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.fanout")
    _, got = collector(ch, "q", auto_ack=True)
    ch.basic_publish("a", "rk", b"m")
    assert (got[0].exchange, got[0].routing_key) == ("a", "rk")


def test_alternate_exchange_type_not_validated_on_redeclare(ch):
    ch.exchange_declare("x", "direct")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for "
              "exchange 'x' in vhost '/': received the value '1' of type 'signedint' but current is none"):
        ch.exchange_declare("x", "direct", arguments={"alternate-exchange": 1})
