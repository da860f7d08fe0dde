"""The facade as pika's own types: parameters, classes, events, ``_impl.ioloop``, logger names.

* a ``Broker`` passed positionally is used; other objects are refused as pika refuses them;
* facade connections and channels are instances of pika's classes, the events they queue are pika's,
  and ``connection._impl.ioloop`` has pika's callback and timer methods;
* the facade logs under pika's logger names.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest

from minimq.compat import pika as mp
from minimq.compat.pika import BlockingConnection, exceptions

needs_pika = pytest.mark.skipif(not mp.USING_PIKA, reason="needs pika itself")


@pytest.fixture
def conn(minimq_broker):
    connection = BlockingConnection(broker=minimq_broker)
    yield connection
    if connection.is_open:
        connection.close()


@pytest.fixture
def ch(conn):
    return conn.channel()


# ------------------------------------------------------------------------------------------------
# what may be passed as parameters


def test_broker_passed_positionally_is_the_one_connected_to(minimq_broker):
    connection = BlockingConnection(minimq_broker)
    try:
        assert connection.broker is minimq_broker and connection.broker is not mp.default_broker()
        connection.channel().queue_declare("positional")
        assert minimq_broker.get_queue("positional") is not None
    finally:
        connection.close()


REFUSED = [
    (object, TypeError, "connection_configs does not support iteration: TypeError(\"'object' object is not iterable\")"),
    (lambda: 5, TypeError, "connection_configs does not support iteration: TypeError(\"'int' object is not iterable\")"),
    (dict, ValueError, "Expected a non-empty sequence of connection parameters, but got {}."),
    (lambda: "localhost", AttributeError, "'str' object has no attribute 'connection_attempts'"),
]


@pytest.mark.parametrize("make, error, message", REFUSED)
def test_other_parameters_are_refused_as_pika_refuses_them(minimq_broker, make, error, message):
    with pytest.raises(error) as info:
        BlockingConnection(make(), broker=minimq_broker)
    assert str(info.value) == message


@needs_pika
@pytest.mark.parametrize("make, error, message", REFUSED)
def test_refusals_are_pikas_own(make, error, message):
    """pika fails these before touching the network: compare with pika itself."""
    import pika.adapters.blocking_connection as bc

    with pytest.raises(error) as info:
        bc.BlockingConnection(make())
    assert str(info.value) == message


# ------------------------------------------------------------------------------------------------
# pika's own types all the way down


@needs_pika
def test_connection_and_channel_are_instances_of_pikas_classes(conn, ch):
    import pika
    import pika.adapters.blocking_connection as bc

    assert isinstance(conn, pika.BlockingConnection) and isinstance(ch, bc.BlockingChannel)


@needs_pika
def test_queued_events_are_pikas_classes(conn, ch):
    import pika.adapters.blocking_connection as bc

    ch.queue_declare("q")
    ch.basic_consume("q", lambda *args: None)
    ch.add_on_return_callback(lambda *args: None)
    ch.basic_publish("", "q", b"delivered")
    ch.basic_publish("", "nowhere", b"returned", mandatory=True)
    timer_id = conn.call_later(0, lambda: None)
    ch.queue_declare("q", passive=True)  # reads what the broker sent; dispatches nothing
    assert [type(evt) for evt in ch._pending_events] == [bc._ConsumerDeliveryEvt, bc._ReturnedMessageEvt]
    assert [type(evt) for evt in conn._ready_events] == [bc._TimerEvt]
    assert conn._ready_events[0].timer_id == timer_id
    ch.queue_delete("q")  # the broker cancels the consumer
    assert type(ch._pending_events[-1]) is bc._ConsumerCancellationEvt
    other = conn.channel()
    other.queue_declare("g")
    other.basic_publish("", "g", b"x")
    generator = other.consume("g", inactivity_timeout=1)
    assert next(generator)[2] == b"x"
    other.queue_delete("g")
    assert [type(evt) for evt in other._queue_consumer_generator.pending_events] == [bc._ConsumerCancellationEvt]


@needs_pika
def test_returned_message_in_unroutable_error_is_pikas_and_logged_as_pika_logs_it(ch, caplog):
    import pika.adapters.blocking_connection as bc

    ch.confirm_delivery()
    with caplog.at_level(logging.WARNING, logger="pika"):
        with pytest.raises(exceptions.UnroutableError) as info:
            ch.basic_publish("", "nowhere", b"x", mandatory=True)
    assert type(info.value.messages[0]) is bc.ReturnedMessage
    [record] = [r for r in caplog.records if r.getMessage().startswith("Published message was returned")]
    assert record.name == "pika.adapters.blocking_connection" and record.levelno == logging.WARNING
    assert record.getMessage().startswith(
        "Published message was returned: _delivery_confirmation=True; channel=1; method=<Basic.Return(")
    assert record.getMessage().endswith("body_size=1; body_prefix=b'x'")


@needs_pika
def test_impl_has_an_ioloop_with_pikas_interface():
    import pika.adapters.select_connection as sc

    from minimq.compat.pika.select_connection import IOLoop

    for name in ("add_callback_threadsafe", "add_callback", "call_later", "remove_timeout", "process_timeouts",
                 "close"):
        assert callable(getattr(sc.IOLoop, name)) and callable(getattr(IOLoop, name)), name


def test_impl_ioloop_runs_callbacks_and_timers(conn, ch):
    ioloop = conn._impl.ioloop
    ran: list[str] = []
    ioloop.call_later(0, lambda: ran.append("timer"))
    removed = ioloop.call_later(0, lambda: ran.append("removed"))
    ioloop.remove_timeout(removed)
    ioloop.add_callback(lambda: ran.append("callback"))
    ch.queue_declare("q")  # the connection's I/O runs the loop
    assert ran == ["callback", "timer"]
    assert conn._impl.is_open and conn._impl.params is conn._parameters

    def from_another_thread() -> None:
        time.sleep(0.05)
        # the pika idiom: hop onto the connection's thread, then use the connection there
        ioloop.add_callback_threadsafe(lambda: conn.call_later(0, lambda: ran.append("woken")))

    thread = threading.Thread(target=from_another_thread)
    started = time.monotonic()
    thread.start()
    conn.process_data_events(time_limit=5)  # returns once the timer event is dispatched
    thread.join()
    assert ran[-1] == "woken" and time.monotonic() - started < 4
    with pytest.raises(TypeError, match="callback must be a callable"):
        ioloop.add_callback_threadsafe("not callable")
    conn.close()
    assert conn._impl.is_closed and repr(conn._impl).startswith("<SelectConnection CLOSED")


# ------------------------------------------------------------------------------------------------
# pika's logger names


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_logging_is_governed_by_the_pika_logger(minimq_broker):
    pika_logger = logging.getLogger("pika")
    handler = _Records()
    saved_level = pika_logger.level
    pika_logger.addHandler(handler)
    try:
        pika_logger.setLevel(logging.DEBUG)
        connection = BlockingConnection(broker=minimq_broker)
        channel = connection.channel()
        channel.basic_cancel("unknown-tag")
        names = {(r.name, r.levelno, r.getMessage().split("=")[0]) for r in handler.records}
        assert ("pika.adapters.blocking_connection", logging.INFO, "Created channel") in names
        assert ("pika.adapters.blocking_connection", logging.WARNING,
                "User is attempting to cancel an unknown consumer") in names
        handler.records.clear()
        pika_logger.setLevel(logging.ERROR)
        channel.basic_cancel("unknown-tag")
        connection.close()
        assert handler.records == []
    finally:
        pika_logger.removeHandler(handler)
        pika_logger.setLevel(saved_level)
