"""A native consumer callback is checked when the consumer is registered: ``callback(delivery)``, one
positional argument, or None (events are pulled).  A bad one is a ``TypeError`` before anything changes,
instead of a logged error at every delivery with the messages left unacked."""

from __future__ import annotations

import functools

import pytest

from minimq import Properties
from minimq.names import REPLY_TO

PIKA_TEXT = (r"^consumer callback on_message\(ch, method, properties, body\) has pika's signature \(channel, "
             r"method, properties, body\); minimq's native API calls callback\(delivery\) with one Delivery; "
             r"for pika's API use minimq\.compat\.pika$")


def _unchanged(ch, queue="q", ready=2):
    """Nothing happened: no consumer, the messages still ready, the channel open."""
    assert ch.is_open
    assert ch.consumers == {}
    ok = ch.queue_declare(queue, passive=True)
    assert (ok.message_count, ok.consumer_count) == (ready, 0)


@pytest.fixture
def qch(ch):
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"m0")
    ch.basic_publish("", "q", b"m1")
    return ch


def test_not_callable_refused_at_registration(qch):
    with pytest.raises(TypeError, match=r"^consumer callback must be a callable taking one argument, "
                                        r"callback\(delivery\), or None; got int$"):
        qch.basic_consume("q", 5)
    _unchanged(qch)
    with pytest.raises(TypeError, match=r"^consumer callback must be a callable taking one argument, "
                                        r"callback\(delivery\), or None; got str$"):
        qch.basic_consume("q", "print", consumer_tag="t")
    _unchanged(qch)
    got = []
    assert qch.basic_consume("q", got.append, consumer_tag="t") == "t"  # the tag was not taken
    assert [d.body for d in got] == [b"m0", b"m1"]


def test_pika_signature_refused_with_a_pointer_to_the_facade(qch):
    def on_message(ch, method, properties, body):
        raise AssertionError("never called")

    with pytest.raises(TypeError, match=PIKA_TEXT):
        qch.basic_consume("q", on_message)
    _unchanged(qch)


def test_pika_signature_as_a_method_refused(qch):
    class Worker:
        def on_message(self, ch, method, properties, body):
            raise AssertionError("never called")

    with pytest.raises(TypeError, match=PIKA_TEXT):
        qch.basic_consume("q", Worker().on_message, auto_ack=True)
    _unchanged(qch)


@pytest.mark.parametrize("callback, shown", [
    (lambda: None, r"<lambda>\(\)"),
    (lambda a, b: None, r"<lambda>\(a, b\)"),
    (lambda *, delivery: None, r"<lambda>\(\*, delivery\)"),
])
def test_other_signatures_refused(qch, callback, shown):
    with pytest.raises(TypeError, match=r"^consumer callback must take one positional argument, "
                                        r"callback\(delivery\); " + shown + r" cannot be called that way$"):
        qch.basic_consume("q", callback)
    _unchanged(qch)


def test_reply_to_consumer_checked_too(ch):
    def on_message(ch, method, properties, body):
        raise AssertionError("never called")

    with pytest.raises(TypeError, match=PIKA_TEXT):
        ch.basic_consume(REPLY_TO, on_message, auto_ack=True)
    with pytest.raises(TypeError, match=r"^consumer callback must be a callable taking one argument, "
                                        r"callback\(delivery\), or None; got int$"):
        ch.basic_consume(REPLY_TO, 1, auto_ack=True)
    assert ch.is_open
    ch.queue_declare("rpc")
    got = []
    ch.basic_consume(REPLY_TO, got.append, auto_ack=True)  # the refusals set no reply consumer
    ch.basic_publish("", "rpc", b"request", Properties(reply_to=REPLY_TO))
    request = ch.basic_get("rpc", auto_ack=True)
    ch.basic_publish("", request.properties.reply_to, b"reply")
    assert [d.body for d in got] == [b"reply"]


def _two(prefix, delivery, sink):
    sink.append((prefix, delivery.body))


@pytest.mark.parametrize("make", [
    lambda sink: sink.append,                                    # a builtin method with a signature
    lambda sink: (lambda d, extra=1: sink.append(d)),            # defaults
    lambda sink: (lambda *args: sink.append(args[0])),           # *args
    lambda sink: functools.partial(_two, "p", sink=sink),        # a partial leaving one argument
    lambda sink: _Sink(sink),                                    # an object with __call__(self, d)
    lambda sink: (lambda ch, method=None, properties=None, body=None: sink.append(ch)),  # one required
])
def test_accepted_callbacks_receive_the_delivery(qch, make):
    sink = []
    qch.basic_consume("q", make(sink), auto_ack=True)
    assert len(sink) == 2


class _Sink:
    def __init__(self, sink):
        self.sink = sink

    def __call__(self, delivery):
        self.sink.append(delivery)


def test_callables_without_a_readable_signature_are_accepted(qch, capsys):
    qch.basic_consume("q", print, auto_ack=True)  # a builtin: no signature to read, trusted
    assert capsys.readouterr().out.count("Delivery(") == 2


def test_none_still_means_pull(broker):
    ch = broker.channel(inline=False)
    ch.queue_declare("q")
    ch.basic_consume("q", None, auto_ack=True)
    ch.basic_publish("", "q", b"m")
    assert ch.pop_event().body == b"m"


@pytest.mark.parametrize("register, role, argument", [
    ("add_on_return_callback", "return callback", "returned"),
    ("add_on_cancel_callback", "cancel callback", "cancelled"),
])
def test_return_and_cancel_callbacks_are_checked_when_added(ch, register, role, argument):
    with pytest.raises(TypeError, match=rf"^{role} must be a callable taking one argument, "
                                        rf"callback\({argument}\); got int$"):
        getattr(ch, register)(5)
    with pytest.raises(TypeError, match=rf"^{role} must be a callable taking one argument, "
                                        rf"callback\({argument}\); got NoneType$"):
        getattr(ch, register)(None)
    with pytest.raises(TypeError, match=rf"^{role} must take one positional argument, callback\({argument}\); "
                                        r"<lambda>\(a, b\) cannot be called that way$"):
        getattr(ch, register)(lambda a, b: None)
    seen = []
    getattr(ch, register)(seen.append)  # accepted: one argument
    assert ch.is_open
