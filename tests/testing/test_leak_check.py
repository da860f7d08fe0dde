"""The leak check of the ``minimq`` pytest plugin: a leaking test fails at teardown naming each leak."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MODULE = '''
import pytest


@pytest.mark.minimq_leak_check(queues=["jobs"])
def test_leaks_everything(minimq_broker):
    ch = minimq_broker.channel()
    ch.queue_declare("jobs")
    ch.queue_declare("held")
    ch.basic_publish("", "jobs", b"left ready")
    ch.basic_publish("", "jobs", b"left ready too")
    ch.basic_publish("", "held", b"never acked")
    ch.basic_consume("held", lambda d: None, consumer_tag="holder")


@pytest.mark.minimq_leak_check(queues=["jobs"])
def test_clean(minimq_broker):
    ch = minimq_broker.channel()
    ch.queue_declare("jobs")
    ch.basic_publish("", "jobs", b"x")
    tag = ch.basic_consume("jobs", lambda d: d.channel.basic_ack(d.delivery_tag))
    ch.basic_cancel(tag)


def test_unmarked_leak(minimq_broker):
    ch = minimq_broker.channel()
    ch.queue_declare("other")
    ch.basic_consume("other", lambda d: None, consumer_tag="forgotten")
'''


def _run(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_leaky.py").write_text(MODULE)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rE", "-p", "no:cacheprovider", "-p", "no:aiomisc",
                           *options, "test_leaky.py"], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=300)


def test_the_marker_fails_a_leaking_test_at_teardown_naming_each_leak(tmp_path):
    result = _run(tmp_path)
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "3 passed, 1 error" in out, out
    assert "ERROR at teardown of test_leaks_everything" in out, out
    assert "queue 'held': 1 unacked message(s)" in out, out
    assert "queue 'held': 1 open consumer(s) ['holder']" in out, out
    assert "queue 'jobs': 2 ready message(s)" in out, out
    assert "test_clean" not in out.split("short test summary")[-1], out
    assert "forgotten" not in out, "unmarked tests are not checked without the option"


def test_the_option_checks_every_test_for_unacked_messages_and_consumers(tmp_path):
    result = _run(tmp_path, "--minimq-leak-check")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "3 passed, 2 errors" in out, out
    assert "queue 'other': 1 open consumer(s) ['forgotten']" in out, out
