"""docs/semantics.md §1 (model, soft vs hard errors, closing effects) and §2 (reply codes)."""

from __future__ import annotations

import pytest

from core_helpers import bodies, collector, drain, hard, refused, soft
from minimq import (AccessRefused, AMQPError, Broker, ChannelClosed, ChannelError, ChannelErrorHard,
                    CommandInvalid, ConnectionClosed, ConnectionError, ConnectionForced, LoginRefused,
                    NotAllowed, NotFound, NotImplementedByServer, PreconditionFailed, ResourceLocked)
from minimq.errors import error_for_code


# -- §2: the error family ---------------------------------------------------------------------------
@pytest.mark.parametrize("code, cls, constant, soft_error", [
    (403, AccessRefused, "ACCESS_REFUSED", True),
    (404, NotFound, "NOT_FOUND", True),
    (405, ResourceLocked, "RESOURCE_LOCKED", True),
    (406, PreconditionFailed, "PRECONDITION_FAILED", True),
    (320, ConnectionForced, "CONNECTION_FORCED", False),
    (503, CommandInvalid, "COMMAND_INVALID", False),
    (530, NotAllowed, "NOT_ALLOWED", False),
    (540, NotImplementedByServer, "NOT_IMPLEMENTED", False),
])
def test_reply_code_classes(code, cls, constant, soft_error):
    error = error_for_code(code, "explanation")
    assert type(error) is cls
    assert error.reply_code == code
    assert error.reply_text == f"{constant} - explanation"
    assert isinstance(error, ChannelError if soft_error else ConnectionError)
    assert error.closes_connection is (not soft_error)
    assert isinstance(error, AMQPError)


# -- §1.2 soft errors ---------------------------------------------------------------------------------
def test_soft_error_closes_only_that_channel(broker):
    conn = broker.connect()
    ch1, ch2 = conn.channel(), conn.channel()
    ch2.queue_declare("q")
    with soft(ch1, NotFound, 404, "NOT_FOUND - no queue 'missing' in vhost '/'"):
        ch1.queue_declare("missing", passive=True)
    # the sibling keeps working
    ch2.basic_publish("", "q", b"m")
    assert ch2.basic_get("q", auto_ack=True).body == b"m"
    assert conn.is_open


def test_every_call_on_a_closed_channel_raises_channel_closed_with_cause(ch):
    with pytest.raises(NotFound) as info:
        ch.basic_get("missing")
    error = info.value
    calls = [
        lambda: ch.queue_declare("q"), lambda: ch.exchange_declare("x"), lambda: ch.basic_publish("", "q", b""),
        lambda: ch.basic_get("q"), lambda: ch.basic_ack(1), lambda: ch.basic_consume("q", print),
        lambda: ch.basic_cancel("t"), lambda: ch.confirm_select(), lambda: ch.tx_select(),
        lambda: ch.basic_recover(True), lambda: ch.queue_purge("q"), lambda: ch.queue_delete("q"),
    ]
    for call in calls:
        with pytest.raises(ChannelClosed) as closed:
            call()
        assert closed.value.cause is error


def test_client_close_then_calls_raise_channel_closed_without_cause(conn):
    ch = conn.channel()
    ch.close()
    ch.close()  # twice is harmless
    assert ch.is_closed
    with pytest.raises(ChannelClosed) as closed:
        ch.queue_declare("q")
    assert closed.value.cause is None


# -- §1.2 hard errors ---------------------------------------------------------------------------------
def test_hard_error_closes_connection_and_every_channel(broker):
    conn = broker.connect()
    ch1, ch2 = conn.channel(), conn.channel()
    with hard(ch1, NotImplementedByServer, 540, "NOT_IMPLEMENTED - requeue=false"):
        ch1.basic_recover()  # pika's default requeue=False
    with pytest.raises(ChannelClosed) as closed:
        ch2.queue_declare("q")
    assert closed.value.cause is conn.close_cause
    other = broker.channel()
    other.queue_declare("q")  # other connections are unaffected


def test_unknown_exchange_type_is_a_hard_error(ch):
    with hard(ch, CommandInvalid, 503, "COMMAND_INVALID - unknown exchange type 'nope'"):
        ch.exchange_declare("x", "nope")


def test_connection_close_twice_harmless_and_channel_refused(broker):
    conn = broker.connect()
    ch = conn.channel()
    conn.close()
    conn.close()
    assert conn.is_closed and ch.is_closed
    with pytest.raises(ConnectionClosed) as info:
        conn.channel()
    assert info.value.cause is None


# -- §1.1 connections, channels, vhosts ------------------------------------------------------------
def test_channel_numbers_lowest_free_and_reused(conn):
    a, b, c = conn.channel(), conn.channel(), conn.channel()
    assert (a.channel_number, b.channel_number, c.channel_number) == (1, 2, 3)
    b.close()
    assert conn.channel().channel_number == 2
    assert conn.channel().channel_number == 4


def test_channel_max(broker):
    conn = broker.connect()
    for _ in range(2047):
        conn.channel()
    first = conn.channels[1]
    with hard(first, NotAllowed, 530,
              "NOT_ALLOWED - number of channels opened (2047) has reached the negotiated channel_max (2047)"):
        conn.channel()


def test_channel_numbers_up_to_65535_and_a_second_open_closes_the_connection(broker):
    conn = broker.connect()
    assert conn.channel(65535).channel_number == 65535
    seven = conn.channel(7)
    with pytest.raises(ValueError):
        conn.channel(65536)
    with hard(seven, ChannelErrorHard, 504, "CHANNEL_ERROR - second 'channel.open' seen"):
        conn.channel(7)


def test_login_checked_when_a_password_is_given(broker):
    assert broker.connect(user="guest", password="guest").is_open
    assert broker.connect(user="anyone").is_open  # core callers that give no password are not checked
    text = ("ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. "
            "For details see the broker logfile.")
    for user, password in (("guest", "wrong"), ("nobody", "guest")):
        with refused(LoginRefused, 403, text):
            broker.connect(user=user, password=password)
    with refused(LoginRefused, 403, text):
        broker.connect("no-such-vhost", "guest", "wrong")  # the login is checked before the vhost
    broker.add_user("app", "s3cret")
    assert broker.connect(user="app", password="s3cret").user == "app"
    broker.delete_user("app")
    with refused(LoginRefused, 403, text):
        broker.connect(user="app", password="s3cret")


def test_unknown_vhost_refused(broker):
    with refused(NotAllowed, 530, "NOT_ALLOWED - vhost nope not found"):
        broker.connect("nope")


@pytest.mark.parametrize("call", [
    lambda b: b.connect("nope"),
    lambda b: b.get_queue("q", "nope"),
    lambda b: b.get_exchange("amq.direct", "nope"),
    lambda b: b.set_policy("p", ".*", {"max-length": 1}, vhost="nope"),
    lambda b: b.set_operator_policy("p", ".*", {"max-length": 1}, vhost="nope"),
    lambda b: b.clear_policy("p", vhost="nope"),
    lambda b: b.clear_operator_policy("p", vhost="nope"),
    lambda b: b.list_policies("nope"),
    lambda b: b.effective_arguments("q", vhost="nope"),
], ids=["connect", "get_queue", "get_exchange", "set_policy", "set_operator_policy", "clear_policy",
        "clear_operator_policy", "list_policies", "effective_arguments"])
def test_every_call_naming_an_unknown_vhost_gets_the_same_530(broker, call):
    with refused(NotAllowed, 530, "NOT_ALLOWED - vhost nope not found"):
        call(broker)


def test_policies_go_with_their_vhost(broker):
    broker.add_vhost("v")
    broker.set_policy("p", ".*", {"max-length": 1}, vhost="v")
    broker.delete_vhost("v")
    broker.add_vhost("v")
    assert broker.list_policies("v") == []


@pytest.mark.parametrize("abstract", [AMQPError, ChannelError, ConnectionError])
def test_the_abstract_error_classes_cannot_be_raised_themselves(abstract):
    with pytest.raises(TypeError, match=rf"^{abstract.__name__} is abstract: raise one of its concrete subclasses"):
        abstract("something went wrong")


def test_vhosts_are_separate_namespaces(broker):
    broker.add_vhost("v")
    ch_default, ch_v = broker.channel(), broker.channel("v")
    ch_v.queue_declare("q")
    with soft(ch_default, NotFound, 404, "NOT_FOUND - no queue 'q' in vhost '/'"):
        ch_default.queue_declare("q", passive=True)
    with soft(ch_v, NotFound, 404, "NOT_FOUND - no queue 'other' in vhost 'v'"):
        ch_v.basic_get("other")
    assert broker.get_exchange("amq.topic", "v") is not None  # predeclared in every vhost


def test_vhost_deletion_force_closes_its_connections(broker):
    broker.add_vhost("v")
    conn = broker.connect("v")
    ch = conn.channel()
    ch.queue_declare("q")
    untouched = broker.channel()
    broker.delete_vhost("v")
    assert conn.is_closed
    assert conn.close_cause.reply_code == 320
    assert conn.close_cause.reply_text == "CONNECTION_FORCED - vhost 'v' is deleted"
    with pytest.raises(ChannelClosed) as info:
        ch.queue_declare("q")
    assert info.value.cause is conn.close_cause
    assert untouched.is_open
    with refused(NotAllowed, 530, "NOT_ALLOWED - vhost v not found"):
        broker.connect("v")


def test_broker_close_forces_connections():
    broker = Broker()
    conn = broker.connect()
    broker.close()
    assert conn.is_closed
    assert conn.close_cause.reply_text == "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"
    with refused(ConnectionForced, 320,
                 "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"):
        broker.connect()


# -- §1.3 closing effects ------------------------------------------------------------------------------
def test_channel_close_requeues_unacked_at_original_positions(broker):
    setup = broker.channel()
    setup.queue_declare("q")
    for i in range(5):
        setup.basic_publish("", "q", b"%d" % i)
    ch = broker.channel()
    got = [ch.basic_get("q") for _ in range(3)]  # 0, 1, 2 unacked by get
    ch.basic_ack(got[1].delivery_tag)
    ch.close()
    after = drain(setup, "q")
    assert bodies(after) == [b"0", b"2", b"3", b"4"]
    assert [d.redelivered for d in after] == [True, True, False, False]


def test_channel_close_cancels_consumers_and_auto_deletes(broker):
    ch = broker.channel()
    ch.queue_declare("ad", auto_delete=True)
    ch.basic_consume("ad", lambda d: None)
    ch.close()
    assert broker.get_queue("ad") is None


def test_channel_close_keeps_exclusive_queue_connection_close_deletes_it(broker):
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("ex", exclusive=True)
    ch.basic_publish("", "ex", b"m")
    ch.close()
    assert broker.get_queue("ex") is not None
    ch2 = conn.channel()
    assert ch2.queue_declare("ex", exclusive=True).message_count == 1
    conn.close()
    assert broker.get_queue("ex") is None


def test_connection_close_requeues_then_drops_exclusive_without_dead_lettering(broker):
    watcher = broker.channel()
    watcher.queue_declare("dlq")
    conn = broker.connect()
    ch1, ch2 = conn.channel(), conn.channel()
    ch1.queue_declare("shared")
    ch1.queue_declare("ex", exclusive=True, arguments={"x-dead-letter-exchange": "",
                                                      "x-dead-letter-routing-key": "dlq"})
    for q in ("shared", "ex"):
        ch1.basic_publish("", q, b"m-" + q.encode())
    ch1.basic_get("shared")
    _, got = collector(ch2, "ex")
    assert len(got) == 1
    conn.close()
    assert broker.get_queue("ex") is None
    assert watcher.queue_declare("dlq", passive=True).message_count == 0
    d = watcher.basic_get("shared", auto_ack=True)
    assert (d.body, d.redelivered) == (b"m-shared", True)


def test_hard_error_has_the_close_side_effects(broker):
    conn = broker.connect()
    ch = conn.channel()
    ch.queue_declare("q")
    ch.queue_declare("ex", exclusive=True)
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    with pytest.raises(NotImplementedByServer):
        ch.flow(False)
    assert broker.get_queue("ex") is None
    other = broker.channel()
    assert other.basic_get("q", auto_ack=True).redelivered is True


def test_soft_error_has_the_channel_close_side_effects(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m")
    ch.basic_get("q")
    with pytest.raises(NotFound):
        ch.basic_get("nope")
    assert broker.channel().queue_declare("q", passive=True).message_count == 1


# -- §1.4 asynchronous errors: the core reports them at the call that caused them ---------------------
def test_async_error_closes_channel_immediately(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, NotFound, 404, "NOT_FOUND - no exchange 'nope' in vhost '/'"):
        ch.basic_publish("nope", "q", b"m")
    assert broker.channel().queue_declare("q", passive=True).message_count == 0


# -- §1.5 determinism ----------------------------------------------------------------------------------
def test_publish_is_counted_before_it_returns(ch):
    ch.queue_declare("q")
    for n in range(1, 4):
        ch.basic_publish("", "q", b"m")
        assert ch.queue_declare("q", passive=True).message_count == n


def test_return_is_not_an_error_and_closes_nothing(broker):
    ch = broker.channel(inline=False)
    ch.basic_publish("amq.direct", "nowhere", b"m", mandatory=True)
    returned = ch.pop_event()
    assert (returned.reply_code, returned.reply_text) == (312, "NO_ROUTE")
    assert ch.is_open


@pytest.mark.parametrize("consumer_first", [True, False])
def test_hard_error_closes_the_causing_channel_first(broker, consumer_first):
    """RabbitMQ stops the channel that caused a hard error before the connection shuts the others: its
    unacked message is requeued while a sibling's no-ack consumer is still attached, and is gone."""
    conn = broker.connect()
    if consumer_first:
        consumer, culprit = conn.channel(), conn.channel()
    else:
        culprit, consumer = conn.channel(), conn.channel()
    consumer.queue_declare("q")
    consumer.basic_publish("", "q", b"m")
    assert culprit.basic_get("q").body == b"m"
    _, got = collector(consumer, "q", auto_ack=True)
    with hard(culprit, CommandInvalid, 503, "COMMAND_INVALID - unknown exchange type 'x-bogus'"):
        culprit.exchange_declare("x", "x-bogus")
    assert [(d.body, d.redelivered) for d in got] == [(b"m", True)]
    assert broker.channel().queue_declare("q", passive=True).message_count == 0
