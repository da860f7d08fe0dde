"""``minimq move``: redrive ready messages in an SQLite store file, from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from minimq import Broker, Properties
from minimq.cli import main
from minimq.persistence import SQLiteStore


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def store(tmp_path: Path) -> str:
    """A store with a work queue, its dead-letter queue holding three dead-lettered messages."""
    path = str(tmp_path / "broker.db")
    with Broker(store=SQLiteStore(path)) as broker:
        ch = broker.channel()
        ch.exchange_declare("work", "direct", durable=True)
        ch.queue_declare("work.q", durable=True, arguments={"x-dead-letter-exchange": "",
                                                             "x-dead-letter-routing-key": "work.dlq"})
        ch.queue_declare("work.dlq", durable=True)
        ch.queue_bind("work.q", "work", "job")
        for body in (b"a", b"b", b"c"):
            ch.basic_publish("work", "job", body, Properties(delivery_mode=2))
        while (delivery := ch.basic_get("work.q")) is not None:
            ch.basic_reject(delivery.delivery_tag, requeue=False)
    return path


def bodies(path: str, queue: str) -> list[bytes]:
    with Broker(store=SQLiteStore(path)) as broker:
        return [m.body for m in broker.peek(queue, 100)]


def test_move_redrives_with_the_original_key_and_persists(capsys, store):
    code, out, err = run(capsys, "move", "--store", store, "work.dlq", "work", "--limit", "2")
    assert (code, err) == (0, "")
    assert out == "moved 2 messages from queue 'work.dlq' to exchange 'work' with their original keys\n"
    assert bodies(store, "work.q") == [b"a", b"b"] and bodies(store, "work.dlq") == [b"c"]
    with Broker(store=SQLiteStore(store)) as broker:
        assert broker.peek("work.q")[0].headers["x-death"][0]["queue"] == "work.q"


def test_move_reports_unroutable_messages_and_keeps_them(capsys, store):
    code, out, err = run(capsys, "move", "--store", store, "work.dlq", "work", "--routing-key", "nobody")
    assert code == 3
    assert out.splitlines() == ["moved 0 messages from queue 'work.dlq' to exchange 'work' with key 'nobody'",
                                "3 unroutable messages left in 'work.dlq' (no queue took them)"]
    assert bodies(store, "work.dlq") == [b"a", b"b", b"c"]


def test_move_errors_are_one_line(capsys, store, tmp_path):
    assert run(capsys, "move", "--store", str(tmp_path / "missing.db"), "q", "x") == (
        1, "", f"minimq move: no such file: {tmp_path / 'missing.db'}\n")
    assert run(capsys, "move", "--store", store, "nope", "work") == (
        1, "", "minimq move: no queue 'nope' in vhost '/'\n")
    assert run(capsys, "move", "--store", store, "work.dlq", "nope") == (
        1, "", "minimq move: no exchange 'nope' in vhost '/'\n")
    assert run(capsys, "move", "--store", store, "work.dlq", "work", "--vhost", "v") == (
        1, "", "minimq move: unknown vhost 'v'; the vhosts are: '/'\n")
    assert bodies(store, "work.dlq") == [b"a", b"b", b"c"]
