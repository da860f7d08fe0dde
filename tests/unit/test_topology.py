"""Broker.topology(): a plain-data snapshot of one vhost (minimq.topology)."""

from __future__ import annotations

import dataclasses

import pytest

from minimq import NotAllowed
from minimq.topology import BindingRecord, ExchangeRecord, QueueRecord, Topology

HEADERS_ARGS = {"x-match": "all", "format": "pdf", "type": "report"}


@pytest.fixture
def shop(broker, ch):
    """Every exchange type, an exchange-to-exchange binding, a headers binding, an alternate exchange
    and a dead-letter exchange set by argument and by policy, two consumers and some messages."""
    ch.exchange_declare("orders", "topic", durable=True, arguments={"alternate-exchange": "unrouted"})
    ch.exchange_declare("unrouted", "fanout")
    ch.exchange_declare("audit", "fanout", auto_delete=True)
    ch.exchange_declare("docs", "headers", internal=True)
    ch.exchange_declare("dlx", "direct")
    ch.exchange_declare("legacy", "direct")
    broker.set_policy("ae", "^legacy$", {"alternate-exchange": "unrouted"}, apply_to="exchanges")
    ch.queue_declare("eu", durable=True,
                     arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead"})
    ch.queue_declare("us-west")
    broker.set_policy("dl", "^us-", {"dead-letter-exchange": "dlx"})
    ch.queue_declare("audit-log", exclusive=True)
    ch.queue_declare("dead")
    ch.queue_declare("pdfs", auto_delete=True)
    ch.queue_declare("lost")
    ch.queue_bind("eu", "orders", "order.eu.*")
    ch.queue_bind("us-west", "orders", "order.us.#")
    ch.exchange_bind("audit", "orders", "#")
    ch.queue_bind("audit-log", "audit", "")
    ch.queue_bind("pdfs", "docs", "", HEADERS_ARGS)
    ch.queue_bind("dead", "dlx", "dead")
    ch.queue_bind("lost", "unrouted", "")
    ch.basic_publish("orders", "order.eu.1", b"one")
    ch.basic_publish("orders", "order.eu.2", b"two")
    ch.basic_publish("orders", "order.us.ca", b"three")
    ch.basic_consume("eu", lambda delivery: None, consumer_tag="eu-worker")
    ch.basic_consume("audit-log", lambda delivery: None, consumer_tag="auditor", auto_ack=True)
    return broker.topology()


def test_exchanges_are_listed_in_declaration_order_with_flags_and_alternates(shop):
    names = [x.name for x in shop.exchanges]
    assert names[:7] == ["", "amq.direct", "amq.fanout", "amq.topic", "amq.headers", "amq.match",
                         "amq.rabbitmq.trace"]
    assert names[7:] == ["orders", "unrouted", "audit", "docs", "dlx", "legacy"]
    assert shop.exchange("orders") == ExchangeRecord(
        "orders", "topic", True, False, False, {"alternate-exchange": "unrouted"}, "unrouted", "argument")
    assert shop.exchange("legacy") == ExchangeRecord(
        "legacy", "direct", False, False, False, {}, "unrouted", "policy")
    assert shop.exchange("audit").auto_delete and shop.exchange("audit").type == "fanout"
    assert shop.exchange("docs").internal and shop.exchange("docs").type == "headers"
    assert shop.exchange("dlx") == ExchangeRecord("dlx", "direct", False, False, False, {}, None, None)
    assert shop.exchange("").type == "direct"


def test_queues_carry_dead_lettering_from_argument_or_policy_and_live_counts(shop):
    assert [q.name for q in shop.queues] == ["eu", "us-west", "audit-log", "dead", "pdfs", "lost"]
    eu = shop.queue("eu")
    assert eu == QueueRecord("eu", True, False, False,
                             {"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead"},
                             "dlx", "dead", "argument", ready=0, unacked=2, consumer_tags=("eu-worker",))
    assert eu.consumers == 1
    us = shop.queue("us-west")
    assert (us.dead_letter_exchange, us.dead_letter_routing_key, us.dead_letter_source) == ("dlx", None, "policy")
    assert (us.ready, us.unacked, us.consumers) == (1, 0, 0)
    audit = shop.queue("audit-log")
    assert audit.exclusive and not audit.durable
    assert (audit.ready, audit.unacked, audit.consumer_tags) == (0, 0, ("auditor",))
    assert shop.queue("pdfs").auto_delete
    lost = shop.queue("lost")
    assert (lost.dead_letter_exchange, lost.dead_letter_source) == (None, None)


def test_bindings_are_explicit_ones_only_with_kind_and_arguments(shop):
    """Grouped by source exchange (in declaration order), each group in the order it was bound."""
    assert list(shop.bindings) == [
        BindingRecord("orders", "queue", "eu", "order.eu.*", {}),
        BindingRecord("orders", "queue", "us-west", "order.us.#", {}),
        BindingRecord("orders", "exchange", "audit", "#", {}),
        BindingRecord("unrouted", "queue", "lost", "", {}),
        BindingRecord("audit", "queue", "audit-log", "", {}),
        BindingRecord("docs", "queue", "pdfs", "", HEADERS_ARGS),
        BindingRecord("dlx", "queue", "dead", "dead", {}),
    ]
    # the default exchange routes by queue name, but that rule is not listed as bindings
    assert shop.bindings_from("") == ()
    assert [b.destination for b in shop.bindings_from("orders")] == ["eu", "us-west", "audit"]


def test_binding_key_is_the_shape_route_explanations_use(shop):
    headers = shop.bindings_from("docs")[0]
    assert headers.key == ("docs", "queue", "pdfs", "",
                           "[('format', 'pdf'), ('type', 'report'), ('x-match', 'all')]")
    plain = shop.bindings_from("dlx")[0]
    assert plain.key == ("dlx", "queue", "dead", "dead", "[]")
    assert len({b.key for b in shop.bindings}) == len(shop.bindings)
    hash(headers.key)


def test_the_snapshot_does_not_follow_later_changes(broker, ch, shop):
    ch.queue_delete("lost")
    ch.queue_bind("dead", "dlx", "other")
    ch.basic_publish("", "dead", b"x")
    assert [q.name for q in shop.queues][-1] == "lost"
    assert shop.queue("dead").ready == 0
    assert len(shop.bindings_from("dlx")) == 1
    # arguments are copies: changing them changes neither the broker nor another snapshot
    shop.bindings_from("docs")[0].arguments["format"] = "png"
    assert broker.topology().bindings_from("docs")[0].arguments == HEADERS_ARGS
    with pytest.raises(dataclasses.FrozenInstanceError):
        shop.queue("eu").ready = 5  # type: ignore[misc]
    fresh = broker.topology()
    assert "lost" not in [q.name for q in fresh.queues]
    assert fresh.queue("dead").ready == 1


def test_lookups_name_what_is_missing(shop):
    with pytest.raises(KeyError, match=r"no exchange 'nope' in this snapshot of vhost '/'"):
        shop.exchange("nope")
    with pytest.raises(KeyError, match=r"no queue 'nope' in this snapshot of vhost '/'"):
        shop.queue("nope")


def test_other_vhosts_and_unknown_ones(broker):
    broker.add_vhost("other")
    ch = broker.channel("other")
    ch.queue_declare("only-here")
    topology = broker.topology("other")
    assert isinstance(topology, Topology) and topology.vhost == "other"
    assert [q.name for q in topology.queues] == ["only-here"]
    assert broker.topology().queues == ()
    with pytest.raises(NotAllowed, match=r"^\(530\) NOT_ALLOWED - vhost missing not found$"):
        broker.topology("missing")


def test_a_dead_letter_exchange_may_be_undeclared_and_default(broker, ch):
    ch.queue_declare("a", arguments={"x-dead-letter-exchange": "nowhere"})
    ch.queue_declare("b", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "a"})
    topology = broker.topology()
    assert topology.queue("a").dead_letter_exchange == "nowhere"
    assert (topology.queue("b").dead_letter_exchange, topology.queue("b").dead_letter_routing_key) == ("", "a")
