"""docs/semantics.md §14: quorum queues — declaration refusals, differing operations, delivery count and limit."""

from __future__ import annotations

import pytest

from core_helpers import bodies, collector, drain, hard, soft
from minimq import InternalError, NotImplementedByServer, PreconditionFailed, Properties, ResourceLocked

Q = {"x-queue-type": "quorum"}


def _quorum(ch, name="qq", **args):
    ch.queue_declare(name, durable=True, arguments={**Q, **args})


# -- declaration -----------------------------------------------------------------------------------
@pytest.mark.parametrize("flags, prop", [
    (dict(durable=True, auto_delete=True, exclusive=True), "auto-delete"),
    (dict(durable=False, auto_delete=True), "auto-delete"),
    (dict(durable=True, exclusive=True), "exclusive-owner"),
    (dict(durable=False, exclusive=True), "exclusive-owner"),
    (dict(durable=False), "non-durable"),
])
def test_quorum_property_checks_in_order(ch, flags, prop):
    with soft(ch, PreconditionFailed, 406,
              f"PRECONDITION_FAILED - invalid property '{prop}' for queue 'qq' in vhost '/'"):
        ch.queue_declare("qq", arguments=Q, **flags)


def test_no_server_named_quorum_queue(ch):
    with soft(ch, PreconditionFailed, 406,
              "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"):
        ch.queue_declare("", durable=True, arguments=Q)


@pytest.mark.parametrize("flags, args", [
    ({}, {}),                                                     # non-durable
    (dict(exclusive=True, auto_delete=True), {}),                 # properties it cannot have
    (dict(durable=True), {"x-expires": -1}),                      # an invalid argument
    ({}, {"x-dead-letter-exchange": 5}),                          # the first argument check
    (dict(durable=True), {"x-max-priority": 300}),                # a classic-only argument
])
def test_server_named_refusal_comes_before_every_other_check(ch, flags, args):
    with soft(ch, PreconditionFailed, 406,
              "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue"):
        ch.queue_declare("", arguments={**Q, **args}, **flags)


@pytest.mark.parametrize("qtype, kind", [("stream", "rabbit_stream_queue"), (b"quorum", "rabbit_quorum_queue")])
def test_server_named_refusal_other_spellings(ch, qtype, kind):
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - Cannot declare a server-named queue for type {kind}"):
        ch.queue_declare("\r\n", durable=True, arguments={"x-queue-type": qtype})  # CR/LF stripped: server-named


@pytest.mark.parametrize("qtype", ["bogus", "", "Quorum", 5])
def test_server_named_with_unknown_type_crashes_as_rabbitmq(ch, qtype):
    """RabbitMQ looks the type up to decide whether a server-named queue is allowed, and crashes on a
    value that names no type: 541 INTERNAL_ERROR, the connection closed."""
    with hard(ch, InternalError, 541, "INTERNAL_ERROR"):
        ch.queue_declare("", arguments={"x-queue-type": qtype})


def test_server_named_classic_allowed(ch):
    assert ch.queue_declare("", arguments={"x-queue-type": "classic"}).queue.startswith("amq.gen-")


@pytest.mark.parametrize("arg, value", [("x-max-priority", 5), ("x-queue-mode", "lazy"), ("x-queue-version", 2),
                                        ("x-queue-master-locator", "min-masters")])
def test_classic_only_arguments_refused(ch, arg, value):
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue 'qq' in vhost '/' "
              "of queue type rabbit_quorum_queue"):
        _quorum(ch, **{arg: value})


@pytest.mark.parametrize("arg, value", [("x-max-priority", 300), ("x-max-priority", -1), ("x-max-priority", "high"),
                                        ("x-queue-mode", "bad"), ("x-queue-version", 7)])
def test_classic_only_arguments_refused_whatever_their_value(ch, arg, value):
    """The value checks of a classic-only argument do not run for a quorum queue: its refusal comes first."""
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue 'qq' in vhost '/' "
              "of queue type rabbit_quorum_queue"):
        _quorum(ch, **{arg: value})


def test_supported_arguments_accepted(ch):
    _quorum(ch, **{"x-dead-letter-exchange": "d", "x-dead-letter-routing-key": "k",
                   "x-dead-letter-strategy": "at-most-once", "x-expires": 1000, "x-max-length": 5,
                   "x-max-length-bytes": 100, "x-overflow": "reject-publish-dlx", "x-single-active-consumer": True,
                   "x-delivery-limit": 3, "x-message-ttl": 1000})
    assert ch.is_open


def test_delivery_limit_compared_on_redeclare(ch):
    _quorum(ch, **{"x-delivery-limit": 3})
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue 'qq' "
              "in vhost '/': received '4' but current is '3'"):
        _quorum(ch, **{"x-delivery-limit": 4})


# -- operations that differ ------------------------------------------------------------------------
def test_global_qos_consume_refused(ch):
    _quorum(ch)
    ch.basic_qos(prefetch_count=5, global_qos=True)
    with hard(ch, NotImplementedByServer, 540,
              "NOT_IMPLEMENTED - queue 'qq' in vhost '/' does not support global qos"):
        ch.basic_consume("qq", print)


@pytest.mark.parametrize("flags, flag", [(dict(if_unused=True), "if-unused"), (dict(if_empty=True), "if-empty")])
def test_delete_with_flags_refused(ch, flags, flag):
    _quorum(ch)
    with hard(ch, NotImplementedByServer, 540, "NOT_IMPLEMENTED - cannot delete queue 'qq' in vhost '/'. queue.delete "
              f"operations with {flag} flag set are not supported by quorum queues"):
        ch.queue_delete("qq", **flags)


def test_get_on_single_active_consumer_quorum_queue(ch):
    _quorum(ch, **{"x-single-active-consumer": True})
    with soft(ch, ResourceLocked, 405, "RESOURCE_LOCKED - cannot obtain access to locked queue 'qq' in vhost '/'. "
              "basic.get operations are not supported by quorum queues with single active consumer"):
        ch.basic_get("qq")


def test_priority_ignored(ch):
    _quorum(ch)
    for i, prio in enumerate((1, 9, 5)):
        ch.basic_publish("", "qq", b"%d" % i, properties=Properties(priority=prio))
    assert bodies(drain(ch, "qq")) == [b"0", b"1", b"2"]


def test_reject_publish_dlx_acts_as_drop_head(ch):
    ch.queue_declare("dlq")
    _quorum(ch, **{"x-max-length": 1, "x-overflow": "reject-publish-dlx", "x-dead-letter-exchange": "",
                   "x-dead-letter-routing-key": "dlq"})
    ch.confirm_select()
    assert ch.basic_publish("", "qq", b"0") == 1
    assert ch.basic_publish("", "qq", b"1") == 1  # acked, not nacked
    assert bodies(drain(ch, "qq")) == [b"1"]
    assert bodies(drain(ch, "dlq")) == [b"0"]


# -- delivery count --------------------------------------------------------------------------------
def test_delivery_count_header(ch):
    _quorum(ch)
    ch.basic_publish("", "qq", b"m", properties=Properties(headers={"h": 1}))
    first = ch.basic_get("qq")
    # RabbitMQ 3.10 puts the count on every basic.get, 0 included (a consumer's first delivery has none)
    assert first.redelivered is False and first.headers == {"h": 1, "x-delivery-count": 0}
    ch.basic_reject(first.delivery_tag)
    second = ch.basic_get("qq")
    assert second.redelivered is True and second.headers == {"h": 1, "x-delivery-count": 1}
    ch.basic_recover(requeue=True)
    third = ch.basic_get("qq")
    assert third.headers["x-delivery-count"] == 2


def test_delivery_count_on_close_not_on_cancel(broker):
    ch = broker.channel()
    _quorum(ch)
    ch.basic_publish("", "qq", b"m")
    other = broker.channel()
    tag, got = collector(other, "qq")
    other.basic_cancel(tag)  # cancel alone returns nothing
    assert ch.queue_declare("qq", passive=True).message_count == 0
    other.close()
    d = ch.basic_get("qq")
    assert d.headers == {"x-delivery-count": 1}
    assert got[0].headers is None  # the header is added per delivery; the first one had none


def test_delivery_limit_dead_letters(ch):
    ch.queue_declare("dlq")
    _quorum(ch, **{"x-delivery-limit": 2, "x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.basic_publish("", "qq", b"m")
    deliveries = 0
    while True:
        d = ch.basic_get("qq")
        if d is None:
            break
        deliveries += 1
        ch.basic_nack(d.delivery_tag, requeue=True)
    assert deliveries == 3  # L + 1
    dead = ch.basic_get("dlq", auto_ack=True)
    death = dead.headers["x-death"][0]
    assert (death["reason"], death["queue"], death["count"]) == ("delivery_limit", "qq", 1)


def test_delivery_limit_without_dlx_drops(ch):
    _quorum(ch, **{"x-delivery-limit": 0})
    ch.basic_publish("", "qq", b"m")
    ch.basic_reject(ch.basic_get("qq").delivery_tag)
    assert ch.queue_declare("qq", passive=True).message_count == 0


def test_requeue_without_limit_goes_to_the_back(ch):
    _quorum(ch)
    for i in range(3):
        ch.basic_publish("", "qq", b"%d" % i)
    d = ch.basic_get("qq")
    ch.basic_nack(d.delivery_tag, requeue=True)
    assert bodies(drain(ch, "qq")) == [b"1", b"2", b"0"]


def test_requeue_with_limit_goes_to_the_front_in_return_order(ch):
    _quorum(ch, **{"x-delivery-limit": 10})
    for i in range(4):
        ch.basic_publish("", "qq", b"%d" % i)
    a, b = ch.basic_get("qq"), ch.basic_get("qq")
    ch.basic_reject(b.delivery_tag)
    ch.basic_reject(a.delivery_tag)
    assert bodies(drain(ch, "qq")) == [b"1", b"0", b"2", b"3"]


def test_close_returns_go_to_the_front(broker):
    ch = broker.channel()
    _quorum(ch)
    for i in range(3):
        ch.basic_publish("", "qq", b"%d" % i)
    other = broker.channel()
    other.basic_get("qq")
    other.basic_get("qq")
    ch.basic_publish("", "qq", b"3")
    other.close()
    got = drain(ch, "qq")
    assert bodies(got) == [b"0", b"1", b"2", b"3"]
    assert [d.redelivered for d in got] == [True, True, False, False]


def test_delivery_limit_not_validated_at_declare(ch):
    _quorum(ch, **{"x-delivery-limit": "not-a-number"})
    ch.basic_publish("", "qq", b"m")
    for _ in range(5):  # an invalid limit is no limit
        ch.basic_reject(ch.basic_get("qq").delivery_tag)
    assert ch.basic_get("qq").headers["x-delivery-count"] == 5


@pytest.mark.parametrize("args, arg, term", [
    ({"x-max-in-memory-length": -1}, "x-max-in-memory-length", "{value_negative,-1}"),
    ({"x-max-in-memory-length": "a"}, "x-max-in-memory-length", '"expected integer, got longstr"'),
    ({"x-max-in-memory-bytes": -1}, "x-max-in-memory-bytes", "{value_negative,-1}"),
    ({"x-quorum-initial-group-size": 0}, "x-quorum-initial-group-size", "{value_zero,0}"),
    ({"x-quorum-initial-group-size": -1}, "x-quorum-initial-group-size", "{value_negative,-1}"),
    ({"x-quorum-initial-group-size": "a"}, "x-quorum-initial-group-size", '"expected integer, got longstr"'),
    # RabbitMQ's order: x-max-length, x-max-in-memory-*, x-overflow, ..., x-single-active-consumer,
    # x-quorum-initial-group-size, x-queue-leader-locator, then the classic-only arguments
    ({"x-max-in-memory-length": -1, "x-max-length": -1}, "x-max-length", "{value_negative,-1}"),
    ({"x-max-in-memory-bytes": -1, "x-max-length-bytes": -1}, "x-max-length-bytes", "{value_negative,-1}"),
    ({"x-max-in-memory-length": -1, "x-overflow": "bad"}, "x-max-in-memory-length", "{value_negative,-1}"),
    ({"x-quorum-initial-group-size": 0, "x-single-active-consumer": 5}, "x-single-active-consumer",
     "{unacceptable_type,signedint}"),
    ({"x-quorum-initial-group-size": 0, "x-queue-leader-locator": "bad"}, "x-quorum-initial-group-size",
     "{value_zero,0}"),
    ({"x-quorum-initial-group-size": 0, "x-max-priority": 1}, "x-quorum-initial-group-size", "{value_zero,0}"),
])
def test_quorum_only_arguments_validated(ch, args, arg, term):
    with soft(ch, PreconditionFailed, 406,
              f"PRECONDITION_FAILED - invalid arg '{arg}' for queue 'qq' in vhost '/': {term}"):
        _quorum(ch, **args)


def test_quorum_only_arguments_accepted(ch):
    _quorum(ch, **{"x-max-in-memory-length": 0, "x-max-in-memory-bytes": 10, "x-quorum-initial-group-size": 1})
    assert ch.is_open
