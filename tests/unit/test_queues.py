"""docs/semantics.md §6: queue declare, argument validation, equivalence, exclusive, auto-delete, purge, delete."""

from __future__ import annotations

import decimal

import minimq

import pytest

from core_helpers import bodies, drain, hard, soft
from minimq import (AccessRefused, ConsumerCancelled, NotFound, NotImplementedByServer, PreconditionFailed,
                    ResourceLocked)

LOCKED = ("RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '{q}' in vhost '/'. It could be "
          "originally declared on another connection or the exclusive property value does not match that of "
          "the original declaration.")


# -- §6.1 declare -----------------------------------------------------------------------------------
def test_declare_new_and_existing_counts(broker):
    ch = broker.channel()
    assert tuple(ch.queue_declare("q")) == ("q", 0, 0)
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    ch.basic_get("q")  # unacked: not counted
    other = broker.channel()
    other.basic_consume("q", lambda d: None)  # gets the two ready ones
    ok = ch.queue_declare("q")
    assert (ok.queue, ok.message_count, ok.consumer_count) == ("q", 0, 1)
    ch.basic_publish("", "q", b"x")  # goes straight to the consumer
    assert tuple(ch.queue_declare("q", passive=True)) == ("q", 0, 1)


def test_message_count_is_ready_only(ch):
    ch.queue_declare("q")
    for _ in range(3):
        ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    assert ch.queue_declare("q").message_count == 2


def test_consumer_count_includes_waiting_single_active_consumers(broker):
    ch = broker.channel()
    ch.queue_declare("sac", arguments={"x-single-active-consumer": True})
    for _ in range(3):
        broker.channel().basic_consume("sac", lambda d: None)
    assert ch.queue_declare("sac", passive=True).consumer_count == 3


def test_passive_ignores_flags_and_arguments(ch):
    ch.queue_declare("q", arguments={"x-message-ttl": 1000})
    ok = ch.queue_declare("q", passive=True, durable=True, exclusive=True, auto_delete=True,
                          arguments={"x-message-ttl": -5, "x-queue-type": "bogus"})
    assert ok.queue == "q"
    assert ch.is_open


def test_passive_missing_404(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'nope' in vhost '/'"):
        ch.queue_declare("nope", passive=True)


def test_exclusive_forces_non_durable(broker):
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("ex", exclusive=True, durable=True)
    assert broker.get_queue("ex").durable is False
    ch.queue_declare("ex", exclusive=True, durable=False)  # no 'durable' mismatch
    ch.queue_declare("ex", exclusive=True, durable=True)
    assert ch.is_open


# -- §6.2 argument validation ----------------------------------------------------------------------------
def _invalid(arg, term, q="q"):
    return f"PRECONDITION_FAILED - invalid arg '{arg}' for queue '{q}' in vhost '/': {term}"


INVALID_ARGS = [
    ({"x-queue-type": "lazy"}, _invalid("x-queue-type", "\"unsupported queue type 'lazy'\"")),
    ({"x-queue-type": 1}, _invalid("x-queue-type", "{unacceptable_type,signedint}")),
    ({"x-expires": 0}, _invalid("x-expires", "{value_zero,0}")),
    ({"x-expires": -1}, _invalid("x-expires", "{value_negative,-1}")),
    ({"x-expires": 315360000001}, _invalid("x-expires", "{value_too_large,315360000001}")),
    ({"x-expires": "1000"}, _invalid("x-expires", '"expected integer, got longstr"')),
    ({"x-message-ttl": -1}, _invalid("x-message-ttl", "{value_negative,-1}")),
    ({"x-message-ttl": 315360000001}, _invalid("x-message-ttl", "{value_too_large,315360000001}")),
    ({"x-message-ttl": True}, _invalid("x-message-ttl", '"expected integer, got bool"')),
    ({"x-message-ttl": None}, _invalid("x-message-ttl", '"expected integer, got void"')),
    ({"x-message-ttl": decimal.Decimal("1")}, _invalid("x-message-ttl", '"expected integer, got decimal"')),
    ({"x-message-ttl": b"1"}, _invalid("x-message-ttl", '"expected integer, got binary"')),
    ({"x-dead-letter-exchange": 1},
     "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"),
    ({"x-dead-letter-exchange": b"dlx"},
     "PRECONDITION_FAILED - invalid type 'binary' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"),
    ({"x-dead-letter-routing-key": "k"}, _invalid("x-dead-letter-routing-key", "routing_key_but_no_dlx_defined")),
    ({"x-dead-letter-exchange": "x", "x-dead-letter-routing-key": 5},
     _invalid("x-dead-letter-routing-key", "{unacceptable_type,signedint}")),
    ({"x-max-length": -1}, _invalid("x-max-length", "{value_negative,-1}")),
    ({"x-max-length": "10"}, _invalid("x-max-length", '"expected integer, got longstr"')),
    ({"x-max-length-bytes": -2}, _invalid("x-max-length-bytes", "{value_negative,-2}")),
    ({"x-max-priority": -1}, _invalid("x-max-priority", "{value_negative,-1}")),
    ({"x-max-priority": 256}, _invalid("x-max-priority", "{max_value_exceeded,256}")),
    ({"x-max-priority": "5"}, _invalid("x-max-priority", '"expected integer, got longstr"')),
    ({"x-overflow": "drop-tail"}, _invalid("x-overflow", "invalid_overflow")),
    ({"x-overflow": 1}, _invalid("x-overflow", "{unacceptable_type,signedint}")),
    ({"x-queue-mode": "fast"}, _invalid("x-queue-mode", "\"unsupported queue mode 'fast'\"")),
    ({"x-queue-version": 3}, _invalid("x-queue-version", "\"unsupported queue version '3'\"")),
    ({"x-single-active-consumer": "true"}, _invalid("x-single-active-consumer", "{unacceptable_type,longstr}")),
    ({"x-single-active-consumer": 1}, _invalid("x-single-active-consumer", "{unacceptable_type,signedint}")),
    ({"x-expires": 2**40}, _invalid("x-expires", "{value_too_large,1099511627776}")),
]


@pytest.mark.parametrize("args, text", INVALID_ARGS)
def test_invalid_queue_arguments(broker, args, text):
    ch = broker.channel()
    with soft(ch, PreconditionFailed, 406, text):
        ch.queue_declare("q", arguments=args)
    assert broker.get_queue("q") is None


@pytest.mark.parametrize("arg", ["x-delivery-limit", "x-max-age", "x-dead-letter-strategy",
                                 "x-quorum-initial-group-size", "x-max-in-memory-length", "x-max-in-memory-bytes",
                                 "x-queue-leader-locator", "x-initial-cluster-size",
                                 "x-stream-max-segment-size-bytes"])
def test_other_queue_type_arguments_refused_on_classic(ch, arg):
    with soft(ch, PreconditionFailed, 406, f"PRECONDITION_FAILED - invalid arg '{arg}' for queue 'q' in vhost '/' "
              "of queue type rabbit_classic_queue"):
        ch.queue_declare("q", arguments={arg: 1})


@pytest.mark.parametrize("args", [
    {"x-expires": 1}, {"x-expires": 315360000000}, {"x-message-ttl": 0}, {"x-message-ttl": 315360000000},
    {"x-dead-letter-exchange": "does-not-exist"}, {"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "k"},
    {"x-max-length": 0}, {"x-max-length-bytes": 0}, {"x-max-priority": 0}, {"x-max-priority": 255},
    {"x-overflow": "drop-head"}, {"x-overflow": "reject-publish"}, {"x-overflow": "reject-publish-dlx"},
    {"x-queue-mode": "default"}, {"x-queue-mode": "lazy"}, {"x-queue-version": 1}, {"x-queue-version": 2},
    {"x-single-active-consumer": False}, {"x-queue-type": "classic"}, {"x-whatever": "anything"},
    {"plain-key": [1, 2]}, {"x-message-ttl": 2**33},
])
def test_valid_queue_arguments(ch, args):
    ch.queue_declare("q", arguments=args)
    assert ch.is_open


@pytest.mark.parametrize("args, text", [
    # the DLX type check comes first, then x-queue-type, then the table order
    ({"x-queue-type": "nope", "x-dead-letter-exchange": 1},
     "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' in queue 'q' in vhost '/'"),
    ({"x-expires": 0, "x-queue-type": "nope"}, _invalid("x-queue-type", "\"unsupported queue type 'nope'\"")),
    ({"x-message-ttl": -1, "x-expires": 0}, _invalid("x-expires", "{value_zero,0}")),
    ({"x-max-length": -1, "x-message-ttl": -1}, _invalid("x-message-ttl", "{value_negative,-1}")),
    ({"x-overflow": "no", "x-max-priority": 300}, _invalid("x-max-priority", "{max_value_exceeded,300}")),
    ({"x-single-active-consumer": 1, "x-queue-mode": "x"}, _invalid("x-queue-mode", "\"unsupported queue mode 'x'\"")),
    ({"x-delivery-limit": 1, "x-single-active-consumer": 1},
     _invalid("x-single-active-consumer", "{unacceptable_type,signedint}")),
])
def test_argument_validation_order(ch, args, text):
    with soft(ch, PreconditionFailed, 406, text):
        ch.queue_declare("q", arguments=args)


def test_amq_name_checked_before_arguments(ch):
    with soft(ch, AccessRefused, 403,
              "ACCESS_REFUSED - queue name 'amq.q' contains reserved prefix 'amq.*'"):
        ch.queue_declare("amq.q", arguments={"x-expires": 0})


def test_server_named_queue_validation_uses_generated_name(ch):
    with pytest.raises(PreconditionFailed) as info:
        ch.queue_declare("", arguments={"x-max-length": -1})
    text = info.value.reply_text
    assert text.startswith("PRECONDITION_FAILED - invalid arg 'x-max-length' for queue 'amq.gen-")
    assert text.endswith("' in vhost '/': {value_negative,-1}")


# -- §6.3 equivalence ---------------------------------------------------------------------------------------
def _ineq(arg, received, q="q"):
    return f"PRECONDITION_FAILED - inequivalent arg '{arg}' for queue '{q}' in vhost '/': received {received}"


EQUIVALENCE = [
    (dict(), dict(durable=True), _ineq("durable", "'true' but current is 'false'")),
    (dict(durable=True), dict(), _ineq("durable", "'false' but current is 'true'")),
    (dict(auto_delete=True), dict(), _ineq("auto_delete", "'false' but current is 'true'")),
    (dict(), dict(durable=True, auto_delete=True), _ineq("durable", "'true' but current is 'false'")),
    (dict(), dict(auto_delete=True, arguments={"x-expires": 5}), _ineq("auto_delete", "'true' but current is 'false'")),
    (dict(arguments={"x-message-ttl": 60000}), dict(),
     _ineq("x-message-ttl", "none but current is the value '60000' of type 'signedint'")),
    (dict(), dict(arguments={"x-message-ttl": 60000}),
     _ineq("x-message-ttl", "the value '60000' of type 'signedint' but current is none")),
    (dict(), dict(arguments={"x-message-ttl": -1}),  # redeclare never validates
     _ineq("x-message-ttl", "the value '-1' of type 'signedint' but current is none")),
    (dict(), dict(arguments={"x-max-length": 2**40}),
     _ineq("x-max-length", "the value '1099511627776' of type 'long' but current is none")),
    (dict(arguments={"x-message-ttl": 1000}), dict(arguments={"x-message-ttl": 2000}),
     _ineq("x-message-ttl", "'2000' but current is '1000'")),
    (dict(arguments={"x-message-ttl": 60000}), dict(arguments={"x-message-ttl": "60000"}),
     _ineq("x-message-ttl", "'60000' but current is '60000'")),
    (dict(arguments={"x-single-active-consumer": True}), dict(arguments={"x-single-active-consumer": False}),
     _ineq("x-single-active-consumer", "'false' but current is 'true'")),
    (dict(arguments={"x-overflow": "drop-head"}), dict(),
     _ineq("x-overflow", "none but current is the value 'drop-head' of type 'longstr'")),
    # RabbitMQ 3.10.8 (conformance golden queue_equivalence_arguments): absent is not 'classic' here
    (dict(), dict(arguments={"x-queue-type": "quorum"}),
     _ineq("x-queue-type", "the value 'quorum' of type 'longstr' but current is none")),
    (dict(), dict(arguments={"x-queue-master-locator": "min-masters"}),
     _ineq("x-queue-master-locator", "the value 'min-masters' of type 'longstr' but current is none")),
    # first mismatch wins, in the documented argument order
    (dict(arguments={"x-expires": 1000, "x-message-ttl": 5}), dict(arguments={"x-message-ttl": 6, "x-expires": 2000}),
     _ineq("x-expires", "'2000' but current is '1000'")),
    (dict(arguments={"x-max-length": 1}), dict(arguments={"x-max-length": 2, "x-dead-letter-exchange": "d"}),
     _ineq("x-dead-letter-exchange", "the value 'd' of type 'longstr' but current is none")),
    (dict(arguments={"x-queue-version": 1}), dict(arguments={"x-queue-version": 2, "x-queue-mode": "lazy"}),
     _ineq("x-queue-mode", "the value 'lazy' of type 'longstr' but current is none")),
]


@pytest.mark.parametrize("first, second, text", EQUIVALENCE)
def test_queue_equivalence(ch, first, second, text):
    ch.queue_declare("q", **first)
    with soft(ch, PreconditionFailed, 406, text):
        ch.queue_declare("q", **second)


@pytest.mark.parametrize("first, second", [
    (dict(arguments={"x-message-ttl": 5}), dict(arguments={"x-message-ttl": 5})),
    (dict(arguments={"x-max-length": 5}), dict(arguments={"x-max-length": 5})),
    (dict(), dict(arguments={"x-queue-type": "classic"})),
    (dict(arguments={"x-queue-type": "classic"}), dict()),
    (dict(arguments={"x-custom": 1, "other": "a"}), dict(arguments={"x-custom": 2})),
])
def test_queue_equivalent_redeclares(ch, first, second):
    ch.queue_declare("q", **first)
    ch.queue_declare("q", **second)
    assert ch.is_open


# -- §6.4 exclusive --------------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda ch: ch.queue_declare("ex"),
    lambda ch: ch.queue_declare("ex", exclusive=True),
    lambda ch: ch.queue_declare("ex", passive=True),
    lambda ch: ch.queue_bind("ex", "amq.direct", "other"),
    lambda ch: ch.queue_unbind("ex", "amq.direct", "k"),
    lambda ch: ch.basic_consume("ex", print),
    lambda ch: ch.basic_get("ex"),
    lambda ch: ch.queue_purge("ex"),
    lambda ch: ch.queue_delete("ex"),
], ids=["declare", "declare-exclusive", "passive", "bind", "unbind", "consume", "get", "purge", "delete"])
def test_exclusive_queue_locked_to_other_connections(broker, call):
    owner = broker.connect().channel()
    owner.queue_declare("ex", exclusive=True)
    owner.queue_bind("ex", "amq.direct", "k")
    ch = broker.channel()
    with soft(ch, ResourceLocked, 405, LOCKED.format(q="ex")):
        call(ch)
    assert broker.get_queue("ex") is not None


def test_exclusive_queue_publish_allowed_from_anyone(broker):
    owner = broker.channel()
    owner.queue_declare("ex", exclusive=True)
    broker.channel().basic_publish("", "ex", b"m")
    assert owner.basic_get("ex", auto_ack=True).body == b"m"


def test_exclusive_queue_usable_from_any_channel_of_owner(broker):
    conn = broker.connect()
    a, b = conn.channel(), conn.channel()
    a.queue_declare("ex", exclusive=True)
    b.queue_declare("ex", exclusive=True)
    b.queue_declare("ex", passive=True)
    b.queue_bind("ex", "amq.fanout")
    b.basic_publish("amq.fanout", "", b"m")
    assert b.basic_get("ex", auto_ack=True).body == b"m"
    b.basic_consume("ex", lambda d: None)
    assert b.queue_purge("ex") == 0
    b.queue_unbind("ex", "amq.fanout", "ex")
    b.queue_delete("ex")
    assert broker.get_queue("ex") is None


def test_exclusivity_mismatch_on_owner_redeclare(broker):
    ch = broker.channel()
    ch.queue_declare("ex", exclusive=True)
    with soft(ch, ResourceLocked, 405, LOCKED.format(q="ex")):
        ch.queue_declare("ex", exclusive=False)


def test_non_exclusive_redeclared_exclusive(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, ResourceLocked, 405, LOCKED.format(q="q")):
        ch.queue_declare("q", exclusive=True)


def test_exclusivity_checked_before_equivalence(broker):
    owner = broker.channel()
    owner.queue_declare("ex", exclusive=True)
    ch = broker.channel()
    with soft(ch, ResourceLocked, 405, LOCKED.format(q="ex")):
        ch.queue_declare("ex", durable=True, arguments={"x-message-ttl": 1})


def test_unbind_from_other_connection_of_missing_binding_is_ok(broker):
    owner = broker.channel()
    owner.queue_declare("ex", exclusive=True)
    ch = broker.channel()
    ch.queue_unbind("ex", "amq.direct", "never-bound")
    assert ch.is_open


# -- §6.5 auto-delete ------------------------------------------------------------------------------------
def test_auto_delete_on_last_consumer_cancel(broker):
    ch = broker.channel()
    ch.queue_declare("ad", auto_delete=True)
    t1 = ch.basic_consume("ad", lambda d: None)
    t2 = broker.channel().basic_consume("ad", lambda d: None)
    ch.basic_cancel(t1)
    assert broker.get_queue("ad") is not None
    broker.get_queue("ad").consumers[0].channel.basic_cancel(t2)
    assert broker.get_queue("ad") is None


def test_auto_delete_never_deleted_without_consumer(broker):
    ch = broker.channel()
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_publish("", "ad", b"m")
    ch.basic_get("ad", auto_ack=True)
    ch.close()
    assert broker.get_queue("ad") is not None


def test_auto_delete_on_connection_close(broker):
    conn = broker.connect()
    conn.channel().queue_declare("ad", auto_delete=True)
    conn.channel().basic_consume("ad", lambda d: None)
    conn.close()
    assert broker.get_queue("ad") is None


# -- §6.6 purge -----------------------------------------------------------------------------------------
def test_purge_ready_only(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.queue_declare("dlq")
    assert ch.queue_purge("q") == 0
    for i in range(4):
        ch.basic_publish("", "q", b"%d" % i)
    held = ch.basic_get("q")
    assert ch.queue_purge("q") == 3
    assert ch.queue_declare("dlq", passive=True).message_count == 0  # not dead-lettered
    ch.basic_nack(held.delivery_tag)  # the unacked one comes back
    assert bodies(drain(ch, "q")) == [b"0"]


def test_purge_missing_queue(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'q' in vhost '/'"):
        ch.queue_purge("q")


# -- §6.7 delete -----------------------------------------------------------------------------------------
def test_delete_missing_returns_zero(ch):
    assert ch.queue_delete("nope") == 0
    assert ch.queue_delete("nope", if_unused=True, if_empty=True) == 0


def test_delete_if_empty(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty"):
        ch.queue_delete("q", if_empty=True)
    assert broker.get_queue("q") is not None


def test_delete_if_empty_ignores_unacked(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    d = ch.basic_get("q")
    assert ch.queue_delete("q", if_empty=True) == 0
    ch.basic_ack(d.delivery_tag)  # succeeds silently after deletion
    assert ch.is_open


def test_delete_if_unused(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    broker.channel().basic_consume("q", lambda d: None)
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' in use"):
        ch.queue_delete("q", if_unused=True)


def test_delete_if_empty_checked_first(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    consumer_ch = broker.channel()
    consumer_ch.basic_qos(prefetch_count=1)
    consumer_ch.basic_consume("q", lambda d: None)  # takes the message; queue has 0 ready
    ch.basic_publish("", "q", b"m2")  # stays ready (prefetch 1)
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - queue 'q' in vhost '/' not empty"):
        ch.queue_delete("q", if_unused=True, if_empty=True)


def test_delete_effects(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.queue_declare("dlq")
    ch.exchange_declare("ad", "fanout", auto_delete=True)
    ch.queue_bind("q", "ad")
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i)
    ch.basic_qos(prefetch_count=1)
    tag = ch.basic_consume("q")
    delivery = ch.pop_event()
    cancels = []
    ch.add_on_cancel_callback(cancels.append)
    assert ch.queue_delete("q") == 2
    assert broker.get_queue("q") is None
    assert broker.get_exchange("ad") is None  # its last binding went with the queue
    event = ch.pop_event()
    assert isinstance(event, ConsumerCancelled) and event.consumer_tag == tag
    assert ch.is_open and tag not in ch.consumers
    ch.basic_reject(delivery.delivery_tag, requeue=False)  # silently succeeds
    assert ch.queue_declare("dlq", passive=True).message_count == 0  # nothing dead-lettered
    assert ch.is_open


def test_delete_unacked_settlements_all_succeed(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    for _ in range(3):
        ch.basic_publish("", "q", b"m")
    a, b, c = (ch.basic_get("q") for _ in range(3))
    ch.queue_delete("q")
    ch.basic_ack(a.delivery_tag)
    ch.basic_nack(b.delivery_tag, requeue=True)
    ch.basic_reject(c.delivery_tag, requeue=True)
    assert ch.is_open and ch.unacked_count == 0
    ch.queue_declare("q")
    assert ch.queue_declare("q").message_count == 0  # nothing came back to a new queue of that name


def test_server_cancel_callback_on_inline_channel(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    seen = []
    ch.add_on_cancel_callback(seen.append)
    tag = ch.basic_consume("q", lambda d: None)
    broker.channel().queue_delete("q")
    assert [e.consumer_tag for e in seen] == [tag]
    assert ch.is_open


def test_string_and_binary_arguments_with_the_same_bytes_are_equivalent():
    """RabbitMQ 3.10.8 compares longstr and binary as Erlang binaries (conformance golden
    queue_equivalence_more_arguments); docs/semantics.md §6.3."""
    broker = minimq.Broker()
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "a"})
    assert ch.queue_declare("q", arguments={"x-dead-letter-exchange": b"a"}).queue == "q"
    ch.queue_declare("t", arguments={"x-queue-type": "classic"})
    assert ch.queue_declare("t").queue == "t"


def test_decimal_against_integer_argument_is_an_internal_error_as_on_rabbitmq():
    """RabbitMQ 3.10.8 crashes comparing an integer argument with a decimal: 541 closes the
    connection (conformance golden queue_equivalence_decimal)."""
    broker = minimq.Broker()
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q", arguments={"x-message-ttl": 5})
    with pytest.raises(minimq.InternalError) as info:
        ch.queue_declare("q", arguments={"x-message-ttl": decimal.Decimal(5)})
    assert info.value.reply_text == "INTERNAL_ERROR"
    assert not conn.is_open


def test_stream_queues_refused_after_rabbitmqs_own_checks(broker):
    ch = broker.channel()
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - invalid property 'non-durable' for queue 's' "
                                           "in vhost '/'"):
        ch.queue_declare("s", arguments={"x-queue-type": "stream"})
    ch = broker.channel()
    with hard(ch, NotImplementedByServer, 540, "NOT_IMPLEMENTED - queue 's' in vhost '/': stream queues are not "
                                                "implemented by minimq (declare a classic or quorum queue)"):
        ch.queue_declare("s", durable=True, arguments={"x-queue-type": "stream"})
    assert broker.get_queue("s") is None
