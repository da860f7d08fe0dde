"""RabbitMQ's six Python tutorials, unchanged, against minimq through the ``minimq_pika`` fixture.

The programs in ``tutorials/`` are written as RabbitMQ's tutorials write them (``import pika``,
``pika.BlockingConnection(pika.ConnectionParameters('localhost'))``, ``sys.argv``, ``start_consuming()``).
Each receiver runs in a thread with ``runpy`` until it consumes; the sender runs in the test's thread;
the printed output is checked; then the receiver is stopped the way a pika program would be stopped
from another thread: ``connection.add_callback_threadsafe(channel.stop_consuming)``
(:meth:`PikaPatch.stop_consuming`).
"""

from __future__ import annotations

import runpy
import sys
import threading
import time
from pathlib import Path

import pytest

TUTORIALS = Path(__file__).parent / "tutorials"


class Output:
    """Everything printed (``sys.stdout`` and ``sys.stderr``, by any thread) during a test."""

    def __init__(self, capsys: pytest.CaptureFixture) -> None:
        self._capsys = capsys
        self._text = ""

    def getvalue(self) -> str:
        out, err = self._capsys.readouterr()
        self._text += out + err
        return self._text

    def wait_for(self, text: str, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.getvalue():
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} was not printed; output:\n{self.getvalue()}")
            time.sleep(0.002)

    def lines(self) -> list[str]:
        return self.getvalue().splitlines()


@pytest.fixture
def output(capsys):
    return Output(capsys)


def run(program: str, *args: str) -> None:
    """Run a tutorial program in this thread, as ``python program args...``."""
    path = str(TUTORIALS / program)
    sys.argv = [path, *args]
    runpy.run_path(path, run_name="__main__")


class Receiver(threading.Thread):
    """A receiving tutorial running in its own thread (``sys.argv`` is read before it is ready)."""

    def __init__(self, program: str, *args: str) -> None:
        super().__init__(name=program, daemon=True)
        self.program = program
        self.args = args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            run(self.program, *self.args)
        except BaseException as error:  # noqa: BLE001 - reported by the test thread
            self.error = error


@pytest.fixture
def receivers(minimq_pika_patch, monkeypatch):
    """``start(program, *args)`` runs a receiver and waits until it consumes; all are stopped at the end."""
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    started: list[Receiver] = []

    def start(program: str, *args: str) -> Receiver:
        receiver = Receiver(program, *args)
        expected = minimq_pika_patch.consumers() + 1
        receiver.start()
        started.append(receiver)
        minimq_pika_patch.wait_for_consumers(expected)
        return receiver

    yield start
    minimq_pika_patch.stop_consuming()
    for receiver in started:
        receiver.join(5)
        assert not receiver.is_alive(), f"{receiver.program} did not stop"
        if receiver.error is not None:
            raise receiver.error


def test_hello_world(minimq_pika, receivers, output):
    receivers("receive.py")
    run("send.py")
    output.wait_for(" [x] Received b'Hello World!'")
    assert " [x] Sent 'Hello World!'" in output.lines()
    assert " [*] Waiting for messages. To exit press CTRL+C" in output.lines()


def test_hello_world_receiver_started_after_sender(minimq_pika, receivers, output):
    run("send.py")
    run("send.py")
    assert minimq_pika.get_queue("hello").message_count == 2
    receivers("receive.py")
    output.wait_for(" [x] Received b'Hello World!'\n [x] Received b'Hello World!'")
    assert minimq_pika.get_queue("hello").message_count == 0


def test_work_queues(minimq_pika, receivers, output):
    receivers("worker.py")
    receivers("worker.py")
    tasks = ["First message", "Second message", "Third message", "Fourth message"]
    for task in tasks:
        run("new_task.py", *task.split())
    for task in tasks:
        output.wait_for(f" [x] Received {task}")
    deadline = time.monotonic() + 5
    while output.getvalue().count(" [x] Done") < 4 and time.monotonic() < deadline:
        time.sleep(0.002)
    assert output.getvalue().count(" [x] Done") == 4
    assert [line for line in output.lines() if line.startswith(" [x] Sent")] == [f" [x] Sent {t}" for t in tasks]
    queue = minimq_pika.get_queue("task_queue")
    assert queue.durable and queue.message_count == 0


def test_work_queue_message_is_persistent(minimq_pika, output):
    run("new_task.py", "A", "persistent", "task")
    [message] = minimq_pika.get_queue("task_queue").ready_messages()
    assert message.body == b"A persistent task"
    assert message.properties.delivery_mode == 2


def test_publish_subscribe(minimq_pika, receivers, output):
    receivers("receive_logs.py")
    receivers("receive_logs.py")
    run("emit_log.py")
    run("emit_log.py", "warning:", "disk", "almost", "full")
    deadline = time.monotonic() + 5
    while output.getvalue().count(" [x] b'warning: disk almost full'") < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
    text = output.getvalue()
    assert text.count(" [x] b'info: Hello World!'") == 2
    assert text.count(" [x] b'warning: disk almost full'") == 2


def test_routing(minimq_pika, receivers, output):
    receivers("receive_logs_direct.py", "warning", "error")
    run("emit_log_direct.py", "info", "Not", "for", "this", "receiver")
    run("emit_log_direct.py", "error", "Run.", "Run.", "Or", "it", "will", "explode.")
    output.wait_for(" [x] error:b'Run. Run. Or it will explode.'")
    run("emit_log_direct.py", "warning")
    output.wait_for(" [x] warning:b'Hello World!'")
    assert " [x] Sent info:Not for this receiver" in output.lines()
    assert "info:" not in "".join(line for line in output.lines() if not line.startswith(" [x] Sent"))


def test_routing_usage(minimq_pika, output, monkeypatch):
    monkeypatch.setattr(sys, "argv", list(sys.argv))
    with pytest.raises(SystemExit) as exit_info:
        run("receive_logs_direct.py")
    assert exit_info.value.code == 1
    assert output.getvalue().startswith("Usage: ")
    assert output.getvalue().endswith("receive_logs_direct.py [info] [warning] [error]\n")


def test_topics(minimq_pika, receivers, output):
    receivers("receive_logs_topic.py", "kern.*", "*.critical")
    receivers("receive_logs_topic.py", "#")
    run("emit_log_topic.py", "kern.critical", "A critical kernel error")
    run("emit_log_topic.py", "cron.info", "Only for the # receiver")
    run("emit_log_topic.py")
    output.wait_for(" [x] anonymous.info:b'Hello World!'")
    deadline = time.monotonic() + 5
    while output.getvalue().count(" [x] kern.critical:") < 2 and time.monotonic() < deadline:
        time.sleep(0.002)
    text = output.getvalue()
    assert text.count(" [x] kern.critical:b'A critical kernel error'") == 2
    assert text.count(" [x] cron.info:b'Only for the # receiver'") == 1
    assert text.count(" [x] anonymous.info:b'Hello World!'") == 1
    assert " [x] Sent kern.critical:A critical kernel error" in output.lines()


def test_rpc(minimq_pika, receivers, output):
    receivers("rpc_server.py")
    run("rpc_client.py")
    lines = output.lines()
    assert " [x] Awaiting RPC requests" in lines
    assert " [x] Requesting fib(30)" in lines
    assert " [.] fib(30)" in lines
    assert " [.] Got 832040" in lines
    assert minimq_pika.get_queue("rpc_queue").message_count == 0
