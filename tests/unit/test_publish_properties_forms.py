"""What ``basic_publish`` accepts as ``properties``: a Properties, a mapping of property names, or an
object with the property attributes; anything else is a TypeError at the call (a dict used to lose its
``delivery_mode`` without a word, so a persistent message was not persisted)."""

from __future__ import annotations

import pytest

import minimq
from minimq.persistence import SQLiteStore


def test_a_mapping_is_taken_by_its_keys_and_persists(tmp_path):
    path = str(tmp_path / "b.db")
    broker = minimq.Broker(store=SQLiteStore(path))
    ch = broker.channel()
    ch.queue_declare("d", durable=True)
    ch.basic_publish("", "d", b"from a dict", {"delivery_mode": 2, "headers": {"a": 1}})
    broker.close()
    reopened = minimq.Broker(store=SQLiteStore(path))
    delivery = reopened.channel().basic_get("d", auto_ack=True)
    assert delivery.message.body == b"from a dict"
    assert (delivery.message.properties.delivery_mode, delivery.message.properties.headers) == (2, {"a": 1})
    reopened.close()


@pytest.mark.parametrize("bad, words", [({"delivery_mod": 2}, "unknown message properties ['delivery_mod']"),
                                        ("text", "not str"), (42, "not int")])
def test_anything_else_is_a_type_error_that_changes_nothing(bad, words):
    broker = minimq.Broker()
    ch = broker.channel()
    ch.queue_declare("q")
    with pytest.raises(TypeError, match=words.replace("[", r"\[").replace("]", r"\]")):
        ch.basic_publish("", "q", b"x", bad)
    assert ch.is_open and broker.get_queue("q").message_count == 0
    broker.close()
