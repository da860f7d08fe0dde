"""docs/semantics.md §9: message properties pass through; user_id, expiration, delivery_mode and size checks."""

from __future__ import annotations

import datetime
import decimal

import pytest

from core_helpers import soft
from minimq import PreconditionFailed, Properties
from minimq.channel import MAX_BODY

ALL_PROPERTIES = dict(
    content_type="application/json", content_encoding="gzip",
    headers={"s": "text", "b": b"\x00\xff", "t": True, "f": False, "i": -5, "big": 2**40, "neg": -(2**40),
             "d": decimal.Decimal("3.14"), "ts": datetime.datetime(2021, 5, 6, 7, 8, 9),
             "tbl": {"z": 1, "a": [1, "x"]}, "arr": [1, "two", None], "v": None},
    delivery_mode=2, priority=7, correlation_id="corr", reply_to="reply.here", expiration="60000",
    message_id="id-1", timestamp=1_700_000_000, type="kind", user_id="guest", app_id="app", cluster_id="c1",
)


def test_all_fourteen_properties_pass_through(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    props = Properties(**ALL_PROPERTIES)
    ch.basic_publish("", "q", b"body", properties=props)
    d = ch.basic_get("q", auto_ack=True)
    assert d.properties.to_dict() == ALL_PROPERTIES
    assert list(d.headers) == list(ALL_PROPERTIES["headers"])  # key order kept
    assert list(d.headers["tbl"]) == ["z", "a"]


def test_pass_through_to_consumers_too(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    got = []
    ch.basic_consume("q", got.append, auto_ack=True)
    ch.basic_publish("", "q", b"body", properties=Properties(**ALL_PROPERTIES))
    assert got[0].properties.to_dict() == ALL_PROPERTIES


def test_absent_properties_stay_absent(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.basic_publish("", "q", b"m", properties=Properties(app_id="a"))
    first = ch.basic_get("q", auto_ack=True)
    assert first.properties is None or first.properties.to_dict() == {}
    second = ch.basic_get("q", auto_ack=True)
    assert second.properties.to_dict() == {"app_id": "a"}
    assert second.properties.headers is None and second.properties.delivery_mode is None


def test_properties_from_foreign_object(ch):
    class Foreign:  # e.g. pika.BasicProperties: any object with the 14 attribute names
        content_type = "text/plain"
        headers = {"k": "v"}

    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", properties=Foreign())
    d = ch.basic_get("q", auto_ack=True)
    assert d.properties.to_dict() == {"content_type": "text/plain", "headers": {"k": "v"}}


def test_bodies_are_opaque_bytes(ch):
    ch.queue_declare("q")
    for body in (b"", b"\x00\x01\xff" * 1000, bytearray(b"ba"), memoryview(b"mv")):
        ch.basic_publish("", "q", body)
    got = [ch.basic_get("q", auto_ack=True).body for _ in range(4)]
    assert got == [b"", b"\x00\x01\xff" * 1000, b"ba", b"mv"]
    assert all(type(b) is bytes for b in got)


def test_str_body_is_a_type_error_before_anything(ch):
    ch.queue_declare("q")
    with pytest.raises(TypeError):
        ch.basic_publish("", "q", "text")  # type: ignore[arg-type]
    assert ch.is_open
    assert ch.queue_declare("q", passive=True).message_count == 0


# -- §9.3 user_id ---------------------------------------------------------------------------------------
def test_user_id_must_match(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"ok", properties=Properties(user_id="guest"))
    with soft(ch, PreconditionFailed, 406,
              "PRECONDITION_FAILED - user_id property set to 'admin' but authenticated user was 'guest'"):
        ch.basic_publish("", "q", b"bad", properties=Properties(user_id="admin"))
    assert broker.channel().queue_declare("q", passive=True).message_count == 1


def test_user_id_other_user(broker):
    ch = broker.connect(user="bob").channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", properties=Properties(user_id="bob"))
    with soft(ch, PreconditionFailed, 406,
              "PRECONDITION_FAILED - user_id property set to 'guest' but authenticated user was 'bob'"):
        ch.basic_publish("", "q", b"m", properties=Properties(user_id="guest"))


# -- §9.4 expiration ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("value, term", [
    ("", "no_integer"),
    ("abc", "no_integer"),
    ("1.5", '{leftover_string,".5"}'),
    ("10ms", '{leftover_string,"ms"}'),
    (" 5", "no_integer"),
    ("5 ", '{leftover_string," "}'),
    ("-1", "{value_negative,-1}"),
    ("315360000001", "{value_too_large,315360000001}"),
])
def test_invalid_expiration(broker, value, term):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid expiration '{value}': {term}"):
        ch.basic_publish("", "q", b"m", properties=Properties(expiration=value))
    assert broker.channel().queue_declare("q", passive=True).message_count == 0


@pytest.mark.parametrize("value", ["0", "1", "+5", "315360000000", "007"])
def test_valid_expiration(ch, value):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m", properties=Properties(expiration=value))
    assert ch.is_open


def test_expiration_checked_even_when_unroutable(ch):
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - invalid expiration 'x': no_integer"):
        ch.basic_publish("amq.direct", "nowhere", b"m", properties=Properties(expiration="x"))


# -- delivery_mode and size -----------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [0, 3, 255])
def test_invalid_delivery_mode(ch, mode):
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid message: {{delivery_mode_unknown,{mode}}}"):
        ch.basic_publish("", "q", b"m", properties=Properties(delivery_mode=mode))


def test_oversized_body(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", bytes(MAX_BODY))  # exactly the limit is fine
    assert broker.get_queue("q").message_count == 1
    broker.get_queue("q").purge()
    body = bytes(MAX_BODY + 1)
    with soft(ch, PreconditionFailed, 406,
              f"PRECONDITION_FAILED - message size {MAX_BODY + 1} is larger than configured max size 134217728"):
        ch.basic_publish("", "q", body)
    assert broker.get_queue("q").message_count == 0


# -- the order of the publish checks (RabbitMQ: user_id, expiration, CC/BCC, delivery mode) -----------
@pytest.mark.parametrize("props, text", [
    (dict(user_id="bob", expiration="bad"), "user_id property set to 'bob' but authenticated user was 'guest'"),
    (dict(user_id="bob", delivery_mode=3), "user_id property set to 'bob' but authenticated user was 'guest'"),
    (dict(user_id="bob", headers={"CC": 5}), "user_id property set to 'bob' but authenticated user was 'guest'"),
    (dict(expiration="bad", delivery_mode=3), "invalid expiration 'bad': no_integer"),
    (dict(expiration="bad", headers={"CC": 5}), "invalid expiration 'bad': no_integer"),
    (dict(delivery_mode=3, headers={"CC": 5}), 'invalid message: {unacceptable_type_in_header,"CC",signedint}'),
])
def test_publish_checks_in_rabbitmq_order(broker, props, text):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - " + text):
        ch.basic_publish("", "q", b"m", Properties(**props))


@pytest.mark.parametrize("exchange", ["missing", "internal"])
def test_oversized_body_checked_before_the_exchange(broker, exchange):
    ch = broker.channel()
    ch.exchange_declare("internal", "fanout", internal=True)
    with soft(ch, PreconditionFailed, 406,
              f"PRECONDITION_FAILED - message size {MAX_BODY + 1} is larger than configured max size 134217728"):
        ch.basic_publish(exchange, "k", bytes(MAX_BODY + 1))
