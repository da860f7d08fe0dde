"""The pika patch (``minimq_pika`` / ``patch_pika``).

* it reaches pika's class however the code got it (imported by name before the test, subclassed) and
  refuses real pika connections while active; ``suspended()`` lifts it;
* ``patch_pika`` works where pytest cannot be imported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import minimq
from minimq.compat import pika as mp

try:  # imported at collection time, before any fixture patches pika (as application modules would be)
    import pika_app_by_name
    from pika.adapters.asyncio_connection import AsyncioConnection
except ImportError:  # pika is hidden (test_without_pika)
    pika_app_by_name = AsyncioConnection = None

needs_pika = pytest.mark.skipif(not mp.USING_PIKA, reason="needs pika itself")


# ------------------------------------------------------------------------------------------------
# the patch reaches pika's class itself, and refuses real connections


@needs_pika
def test_class_imported_by_name_before_the_patch_reaches_the_test_broker(minimq_pika):
    assert pika_app_by_name.CLASS_AT_IMPORT.__module__ == "pika.adapters.blocking_connection"  # pika's own
    connection = pika_app_by_name.open_connection()
    try:
        assert isinstance(connection, mp.BlockingConnection) and connection.broker is minimq_pika
        connection.channel().queue_declare("declared-by-name", exclusive=True)
        assert minimq_pika.get_queue("declared-by-name") is not None
    finally:
        connection.close()


@needs_pika
def test_subclass_of_pikas_class_runs_on_the_test_broker(minimq_pika, minimq_pika_patch):
    connection = pika_app_by_name.AppConnection()
    try:
        assert isinstance(connection, pika_app_by_name.AppConnection)
        assert connection.broker is minimq_pika and minimq_pika_patch.connections == [connection]
        assert connection.declare("app-queue") == "app-queue"
        assert minimq_pika.get_queue("app-queue") is not None
    finally:
        connection.close()


@needs_pika
def test_real_connection_attempts_are_refused_under_the_patch(minimq_pika):
    import pika
    from pika.adapters.utils.connection_workflow import AMQPConnector

    params = pika.ConnectionParameters("localhost")
    attempts = {
        "SelectConnection": lambda: pika.SelectConnection(params),
        "AsyncioConnection": lambda: AsyncioConnection(params),
        "SelectConnection.create_connection": lambda: pika.SelectConnection.create_connection(
            [params], on_done=lambda result: None),
        "AMQPConnector.start": lambda: AMQPConnector(lambda p: None, None).start(None, params, lambda r: None),
    }
    for name, attempt in attempts.items():
        with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
            attempt()
        message = str(info.value)
        assert name in message, message
        assert "minimq's pika patch is active" in message and "suspended()" in message, message
    # pika's BlockingConnection itself, even with an implementation class, is the facade
    assert pika.BlockingConnection(params, _impl_class=pika.SelectConnection).broker is minimq_pika


@needs_pika
def test_suspended_lets_real_pika_connect(minimq_pika_patch):
    import pika

    closed_port = pika.ConnectionParameters("127.0.0.1", port=1, connection_attempts=1)
    with minimq_pika_patch.suspended():
        with pytest.raises(pika.exceptions.AMQPConnectionError) as info:
            pika.BlockingConnection(closed_port)  # a real attempt: the port is closed
        assert "minimq" not in str(info.value)
    with pytest.raises(pika.exceptions.AMQPConnectionError, match="minimq's pika patch is active"):
        pika.SelectConnection(closed_port)


def test_broker_passed_positionally_under_the_patch(minimq_pika):
    import pika

    other = minimq.Broker()
    try:
        connection = pika.BlockingConnection(other)
        assert connection.broker is other
        connection.close()
    finally:
        other.close()


# ------------------------------------------------------------------------------------------------
# patch_pika without pytest


@pytest.mark.parametrize("hide_pika", [False, True], ids=["with-pika", "without-pika"])
def test_patch_pika_works_where_pytest_cannot_be_imported(hide_pika):
    code = textwrap.dedent("""
        import sys
        sys.modules["pytest"] = None  # "import pytest" raises ImportError
        if HIDE_PIKA:
            sys.modules["pika"] = None
        import threading
        import minimq
        from minimq.compat.pika import patch_pika, USING_PIKA

        with patch_pika(minimq.Broker()) as patch:
            import pika
            received = []

            def receive():
                connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
                channel = connection.channel()
                channel.queue_declare("tasks")
                channel.basic_consume("tasks", lambda ch, method, props, body: received.append(body),
                                      auto_ack=True)
                channel.start_consuming()
                connection.close()

            thread = threading.Thread(target=receive)
            thread.start()
            patch.wait_for_consumers(1)
            publisher = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
            publisher.channel().basic_publish("", "tasks", b"job")
            publisher.close()
            while not received:
                threading.Event().wait(0.01)
            patch.stop_consuming()
            thread.join(5)
            assert not thread.is_alive() and received == [b"job"], received
            assert patch.broker.get_queue("tasks") is not None
        assert sys.modules["pytest"] is None
        print("ok", USING_PIKA)
    """).replace("HIDE_PIKA", repr(hide_pika))
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                            cwd=root)
    assert result.returncode == 0, result.stdout + result.stderr
    # with pika hidden the patch worked through the stand-in pika module made of the facade
    assert result.stdout.strip() in (("ok False",) if hide_pika else ("ok True", "ok False")), result.stdout
