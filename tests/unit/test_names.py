"""docs/semantics.md §3: names, the reserved ``amq.`` prefix, server-named queues, ``''`` and CR/LF."""

from __future__ import annotations

import re

import pytest

from core_helpers import bodies, collector, drain, soft
from minimq import AccessRefused, NotFound

SERVER_NAME = re.compile(r"^amq\.gen-[A-Za-z0-9_-]{22}$")


# -- §3.1 ------------------------------------------------------------------------------------------
def test_names_are_case_sensitive(ch):
    ch.queue_declare("Q")
    ch.queue_declare("q")
    ch.basic_publish("", "Q", b"upper")
    assert ch.queue_declare("q", passive=True).message_count == 0
    assert ch.queue_declare("Q", passive=True).message_count == 1


def test_any_characters_accepted(ch):
    for name in ("with space", "ünïcødé", "a/b#c*", "x" * 255, "é" * 127):
        assert ch.queue_declare(name).queue == name
        ch.exchange_declare(name, "fanout")
        ch.queue_bind(name, name)
        ch.basic_publish(name, "", b"m")
        assert ch.basic_get(name, auto_ack=True).body == b"m"


def test_name_longer_than_255_bytes_is_refused_client_side(ch):
    with pytest.raises(ValueError):
        ch.queue_declare("é" * 128)  # 256 bytes of UTF-8
    assert ch.is_open
    with pytest.raises(TypeError):
        ch.queue_declare(b"bytes")  # type: ignore[arg-type]
    assert ch.is_open


# -- §3.2 the amq. prefix -----------------------------------------------------------------------------
def test_queue_amq_prefix_refused(ch):
    with soft(ch, AccessRefused, 403, "ACCESS_REFUSED - queue name 'amq.q' contains reserved prefix 'amq.*'"):
        ch.queue_declare("amq.q")


def test_queue_amq_prefix_refused_even_if_it_exists(broker):
    ch = broker.channel()
    name = ch.queue_declare("").queue
    with soft(ch, AccessRefused, 403, f"ACCESS_REFUSED - queue name '{name}' contains reserved prefix 'amq.*'"):
        ch.queue_declare(name)
    other = broker.channel()
    assert other.queue_declare(name, passive=True).queue == name  # passive: a normal lookup


def test_passive_amq_queue_missing_is_404(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'amq.nothing' in vhost '/'"):
        ch.queue_declare("amq.nothing", passive=True)


@pytest.mark.parametrize("name", ["AMQ.x", "Amq.x", "amqx", "xamq.x"])
def test_only_lowercase_amq_dot_is_reserved(ch, name):
    ch.queue_declare(name)
    ch.exchange_declare(name, "fanout")
    ch.exchange_delete(name)
    assert ch.is_open


def test_exchange_amq_prefix_only_on_creation(ch):
    ch.exchange_declare("amq.direct", "direct", durable=True)  # existing: equivalent redeclare is fine
    ch.exchange_declare("amq.topic", "topic", passive=True)
    with soft(ch, AccessRefused, 403, "ACCESS_REFUSED - exchange name 'amq.new' contains reserved prefix 'amq.*'"):
        ch.exchange_declare("amq.new", "direct")


def test_passive_amq_exchange_missing_is_404(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'amq.nope' in vhost '/'"):
        ch.exchange_declare("amq.nope", passive=True)


@pytest.mark.parametrize("name", ["amq.direct", "amq.nope"])
def test_exchange_delete_amq_refused_existing_or_not(ch, name):
    with soft(ch, AccessRefused, 403,
              f"ACCESS_REFUSED - deletion of system exchange '{name}' in vhost '/' not allowed"):
        ch.exchange_delete(name)


def test_amq_queue_names_usable_without_name_checks(broker):
    ch = broker.channel()
    name = ch.queue_declare("").queue
    ch.queue_bind(name, "amq.fanout")
    ch.basic_publish("amq.fanout", "", b"m")
    assert ch.basic_get(name, auto_ack=True).body == b"m"
    ch.queue_unbind(name, "amq.fanout", name)
    assert ch.queue_purge(name) == 0
    assert ch.queue_delete(name) == 0
    assert broker.get_queue(name) is None


# -- §3.3 empty names -----------------------------------------------------------------------------------
def test_server_named_queues(ch):
    names = {ch.queue_declare("").queue for _ in range(50)}
    assert len(names) == 50
    for name in names:
        assert SERVER_NAME.match(name), name
        assert len(name) == 30


def test_empty_queue_means_last_declared(broker):
    ch = broker.channel()
    ch.queue_declare("first")
    name = ch.queue_declare("").queue
    ch.exchange_declare("x", "direct")
    ch.queue_bind("", "x", "k")
    ch.basic_publish("x", "k", b"via-bind")
    assert ch.basic_get("", auto_ack=True).body == b"via-bind"
    ch.queue_unbind("", "x", "k")
    assert ch.basic_publish("x", "k", b"gone") == 2  # unroutable now
    ch.basic_publish("", name, b"a")
    assert ch.queue_purge("") == 1
    ch.basic_publish("", name, b"b")
    _, got = collector(ch, "")
    assert bodies(got) == [b"b"]
    assert got[0].routing_key == name
    ch.basic_cancel(got[0].consumer_tag)
    ch.basic_ack(got[0].delivery_tag)
    ch.basic_publish("", name, b"c")
    assert ch.queue_delete("") == 1
    assert broker.get_queue(name) is None
    assert broker.get_queue("first") is not None


def test_empty_routing_key_with_empty_queue_means_queue_name(ch):
    name = ch.queue_declare("").queue
    ch.queue_bind("", "amq.direct", "")
    ch.basic_publish("amq.direct", name, b"by-name")
    ch.basic_publish("amq.direct", "", b"by-empty")
    assert bodies(drain(ch, name)) == [b"by-name"]
    ch.queue_unbind("", "amq.direct", "")
    assert ch.basic_publish("amq.direct", name, b"m") == 2


def test_routing_key_none_means_queue_name(ch):
    ch.queue_declare("q")
    ch.queue_bind("q", "amq.direct")
    ch.basic_publish("amq.direct", "q", b"m")
    assert ch.basic_get("q", auto_ack=True).body == b"m"


def test_passive_declare_sets_last_declared_queue(broker):
    broker.channel().queue_declare("q")
    ch = broker.channel()
    ch.queue_declare("q", passive=True)
    ch.basic_publish("", "q", b"m")
    assert ch.basic_get("", auto_ack=True).body == b"m"


@pytest.mark.parametrize("call", [
    lambda ch: ch.queue_bind("", "amq.direct", "k"),
    lambda ch: ch.queue_unbind("", "amq.direct", "k"),
    lambda ch: ch.queue_purge(""),
    lambda ch: ch.queue_delete(""),
    lambda ch: ch.basic_get(""),
    lambda ch: ch.basic_consume("", print),
])
def test_no_previously_declared_queue(broker, call):
    broker.channel().queue_declare("elsewhere")  # another channel's declaration does not count
    ch = broker.channel()
    with soft(ch, NotFound, 404, "NOT_FOUND - no previously declared queue"):
        call(ch)


def test_failed_declare_does_not_set_last_queue(broker):
    conn = broker.connect()
    ch = conn.channel()
    with pytest.raises(NotFound):
        ch.queue_declare("missing", passive=True)
    ch2 = conn.channel()
    with soft(ch2, NotFound, 404, "NOT_FOUND - no previously declared queue"):
        ch2.basic_get("")


def test_passive_declare_of_empty_name_is_not_expanded(ch):
    ch.queue_declare("q")
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue '' in vhost '/'"):
        ch.queue_declare("", passive=True)


def test_server_generated_consumer_tag(ch):
    ch.queue_declare("q")
    tag = ch.basic_consume("q", lambda d: None)
    assert re.match(r"^amq\.ctag-[A-Za-z0-9_-]{22}$", tag)
    assert ch.basic_consume("q", lambda d: None, consumer_tag="mine") == "mine"


# -- §3.1 CR/LF stripping -------------------------------------------------------------------------------
def test_crlf_stripped_in_declare_bind_unbind_delete(broker):
    ch = broker.channel()
    assert ch.queue_declare("a\r\nb").queue == "ab"
    assert broker.get_queue("ab") is not None
    ch.exchange_declare("x\ny", "fanout")
    assert broker.get_exchange("xy") is not None
    ch.queue_bind("a\rb", "x\r\ny", "k")
    ch.basic_publish("xy", "", b"m")
    assert ch.basic_get("ab", auto_ack=True).body == b"m"
    ch.queue_unbind("ab\n", "\rxy", "k")
    assert ch.basic_publish("xy", "", b"m") == 2
    ch.exchange_delete("x\ny")
    assert broker.get_exchange("xy") is None
    ch.basic_publish("", "ab", b"n")
    assert ch.queue_delete("a\nb") == 1
    assert broker.get_queue("ab") is None


def test_crlf_not_stripped_in_get_and_publish(broker):
    ch = broker.channel()
    ch.queue_declare("ab")
    assert ch.basic_publish("", "a\nb", b"m") == 2  # no queue named "a\nb"
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'a\nb' in vhost '/'"):
        ch.basic_get("a\nb")
    ch2 = broker.channel()
    with soft(ch2, NotFound, 404, "NOT_FOUND - no queue 'a\rb' in vhost '/'"):
        ch2.queue_purge("a\rb")
    ch3 = broker.channel()
    with soft(ch3, NotFound, 404, "NOT_FOUND - no queue 'a\r\nb' in vhost '/'"):
        ch3.basic_consume("a\r\nb", print)
