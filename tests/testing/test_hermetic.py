"""Two brokers in one process share nothing observable, and the pytest fixtures give a fresh one per test.

Module-level state audited (and why what remains is not shared state between brokers): the topic
trie's shared empty placeholders are never mutated; the dead-letter time cache maps one epoch second
to one datetime, the same answer for every broker; ``names.random_name`` draws from ``os.urandom``;
connection numbers, sequence numbers, timers and the event hub live on each broker's kernel.  The
facades' module-level state is a patch in effect (process-wide by nature: it patches pika's class) and
``BlockingConnection``'s default broker, used only when no broker is given, which the pytest fixtures
never reach.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from minimq import Broker, LoginRefused, ManualClock, Properties
from minimq.compat.pika import blocking_connection

ROOT = Path(__file__).resolve().parents[2]


def _topology(broker: Broker) -> None:
    """The same names in both brokers: a topic exchange with a dead-letter setup and a TTL policy."""
    ch = broker.channel()
    ch.exchange_declare("events", "topic")
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx", "")
    ch.queue_declare("work", arguments={"x-dead-letter-exchange": "dlx"})
    ch.queue_bind("work", "events", "order.*")
    ch.close()


def _bodies(broker: Broker, queue: str) -> list[bytes]:
    return [m.body for m in broker.get_queue(queue).ready_messages()]


def test_two_brokers_side_by_side_share_nothing():
    default_before = blocking_connection._default_broker  # earlier tests in this process may have made it
    clock_a, clock_b = ManualClock(), ManualClock()
    a, b = Broker(clock=clock_a), Broker(clock=clock_b)
    try:
        _topology(a)
        _topology(b)
        # policies, users and bindings differ: each broker sees only its own
        a.set_policy("ttl", "^work$", {"message-ttl": 1000})
        b.add_user("alice", "secret")
        ch_b = b.channel()
        ch_b.queue_bind("work", "events", "invoice.#")  # only b routes invoices (topic cache per broker)
        ch_a = a.channel()
        for i in range(3):  # interleaved publishes with the same keys
            ch_a.basic_publish("events", "order.new", b"a%d" % i)
            ch_b.basic_publish("events", "order.new", b"b%d" % i)
            ch_a.basic_publish("events", "invoice.x", b"a-invoice")
            ch_b.basic_publish("events", "invoice.x", b"b-invoice%d" % i)
        assert _bodies(a, "work") == [b"a0", b"a1", b"a2"]
        assert _bodies(b, "work") == [b"b0", b"b-invoice0", b"b1", b"b-invoice1", b"b2", b"b-invoice2"]
        assert [p.name for p in a.list_policies()] == ["ttl"] and b.list_policies() == []
        assert "alice" in [u.name for u in b.users()] and "alice" not in [u.name for u in a.users()]
        with pytest.raises(LoginRefused):
            a.connect(user="alice", password="secret")
        # each broker has its own clock: advancing a's expires a's messages (dead-lettered there) only
        clock_a.advance(2)
        assert _bodies(a, "work") == [] and _bodies(a, "dead") == [b"a0", b"a1", b"a2"]
        assert len(_bodies(b, "work")) == 6 and _bodies(b, "dead") == []
        # connections are numbered per broker
        assert [c.number for c in a.list_connections()] == [c.number for c in b.list_connections()]
        # consumers on one do not see the other's messages; deleting in one leaves the other alone
        got_b = []
        ch_b.basic_consume("work", lambda d: got_b.append(d.body), auto_ack=True)
        assert got_b == [b"b0", b"b-invoice0", b"b1", b"b-invoice1", b"b2", b"b-invoice2"]
        ch_a.queue_delete("dead")
        assert b.get_queue("dead") is not None and a.get_queue("dead") is None
        a._check()
        b._check()
    finally:
        a.close()
        b.close()
    assert blocking_connection._default_broker is default_before, "nothing above touched the facade's default broker"


def test_one_broker_closing_leaves_the_other_running():
    a, b = Broker(), Broker()
    a.close()
    ch = b.channel()
    ch.queue_declare("q")
    ch.basic_publish("", "q", b"x", Properties(priority=1))
    assert ch.basic_get("q", auto_ack=True).body == b"x"
    b.close()


_seen: list[Broker] = []


@pytest.mark.parametrize("run", [1, 2])
def test_the_pika_fixture_gives_a_fresh_broker_per_test(minimq_pika, run):
    import pika

    assert all(minimq_pika is not seen for seen in _seen)
    _seen.append(minimq_pika)
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    # the same declaration in each run: passive would fail if a previous test's queue were visible
    with pytest.raises(pika.exceptions.ChannelClosedByBroker):
        channel.queue_declare("fixture-q", passive=True)
    channel = connection.channel()
    channel.queue_declare("fixture-q")
    channel.basic_publish("", "fixture-q", b"left behind")
    assert minimq_pika.get_queue("fixture-q").message_count == 1
    connection.close()


_seen_aio: list[Broker] = []


@pytest.mark.parametrize("run", [1, 2])
def test_the_aio_pika_fixture_gives_a_fresh_broker_per_test(minimq_aio_pika, run):
    import asyncio

    import aio_pika

    assert all(minimq_aio_pika is not seen for seen in _seen_aio)
    _seen_aio.append(minimq_aio_pika)
    assert minimq_aio_pika.get_queue("aio-fixture-q") is None

    async def main():
        connection = await aio_pika.connect("amqp://guest:guest@localhost/")
        async with connection:
            channel = await connection.channel()
            await channel.declare_queue("aio-fixture-q")
            await channel.default_exchange.publish(aio_pika.Message(b"left behind"), "aio-fixture-q")

    asyncio.run(main())
    assert minimq_aio_pika.get_queue("aio-fixture-q").message_count == 1


XDIST_MODULE = '''
import os
import pathlib

import pytest


@pytest.fixture(autouse=True)
def record_worker():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    pathlib.Path(os.environ["WORKERS_SEEN"], worker).touch()

@pytest.mark.parametrize("n", range(6))
def test_each_worker_has_its_own_brokers(minimq_broker, n):
    ch = minimq_broker.channel()
    ch.queue_declare("same-name")
    ch.basic_publish("", "same-name", b"%d" % n)
    assert minimq_broker.get_queue("same-name").message_count == 1

@pytest.mark.parametrize("n", range(4))
def test_pika_under_xdist(minimq_pika, n):
    import pika
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    channel.queue_declare("same-name")
    channel.basic_publish("", "same-name", b"x")
    assert minimq_pika.get_queue("same-name").message_count == 1
    connection.close()
'''


def test_a_module_runs_under_pytest_xdist_with_two_workers(tmp_path):
    pytest.importorskip("xdist")
    (tmp_path / "test_under_xdist.py").write_text(XDIST_MODULE)
    seen = tmp_path / "workers"
    seen.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "WORKERS_SEEN": str(seen)}
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-n", "2", "-p", "no:cacheprovider",
                             "-p", "no:aiomisc", str(tmp_path / "test_under_xdist.py")],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "10 passed" in result.stdout, result.stdout
    assert sorted(p.name for p in seen.iterdir()) == ["gw0", "gw1"], "both workers ran tests"
