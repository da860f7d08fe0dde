"""Broker.snapshot() and Broker.restore(): the whole state comes back exactly, as often as wanted."""

from __future__ import annotations

import pytest

from minimq import Broker, ConnectionForced, ManualClock, Properties, Snapshot


def _state(broker: Broker) -> tuple:
    """What must come back: the definitions export, and per queue its ready messages with properties."""
    definitions = broker.export_definitions()
    definitions["users"] = sorted(definitions["users"], key=lambda u: u["name"])
    ready = {}
    for vhost in sorted(broker.vhosts):
        for info in broker.list_queues(vhost):
            queue = broker.get_queue(info.name, vhost)
            ready[vhost, info.name] = [(m.body, m.properties.priority if m.properties else None,
                                        m.properties.headers if m.properties else None)
                                       for m in queue.ready_messages()]
    return definitions, ready


def _build(broker: Broker) -> None:
    broker.add_vhost("other")
    broker.add_user("alice", "secret", tags=["monitoring"])
    broker.set_policy("limit", "^limited", {"max-length": 2, "overflow": "reject-publish"})
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx", "")
    ch.exchange_declare("events", "topic", arguments={"alternate-exchange": "dlx"})
    ch.exchange_declare("inner", "direct")
    ch.exchange_bind("inner", "events", "a.#")
    ch.queue_declare("prio", arguments={"x-max-priority": 9})
    ch.queue_bind("prio", "events", "p.*")
    ch.queue_declare("ttl", arguments={"x-message-ttl": 10_000, "x-dead-letter-exchange": "dlx"})
    ch.queue_bind("ttl", "inner", "a.b")
    ch.queue_declare("limited")
    for priority in (1, 5, 3, 5):
        ch.basic_publish("events", "p.x", b"prio%d" % priority, Properties(priority=priority))
    ch.basic_publish("events", "a.b", b"ttl-1", Properties(headers={"k": [1, 2]}))
    ch.basic_publish("", "ttl", b"ttl-2", Properties(expiration="3000"))
    ch.basic_publish("events", "nowhere", b"to-alternate")
    other = broker.connect("other").channel()
    other.queue_declare("o")
    other.basic_publish("", "o", b"in other")
    # an unacked message is not part of the snapshot's queue contents until requeued
    ch.basic_publish("", "limited", b"l1")
    ch.close()
    other.close()


def test_round_trip_restores_definitions_messages_priorities_and_deadlines():
    clock = ManualClock()
    broker = Broker(clock=clock)
    _build(broker)
    before = _state(broker)
    snapshot = broker.snapshot()
    assert isinstance(snapshot, Snapshot) and snapshot.message_count == 9
    ch = broker.channel()
    ch.queue_delete("prio")
    ch.exchange_delete("inner")
    broker.clear_policy("limit")
    broker.delete_vhost("other")
    broker.delete_user("alice")
    ch.queue_declare("new-one")
    clock.advance(5)  # time passing between snapshot and restore does not count against the TTLs
    broker.restore(snapshot)
    assert _state(broker) == before
    assert [m.body for m in broker.get_queue("prio").ready_messages()] == [b"prio5", b"prio5", b"prio3", b"prio1"]
    # deadlines keep the time they had left (10 s for ttl-1, 3 s for ttl-2), not one second less:
    # nothing is due just short of ttl-1's 10 s; then both go, ttl-2 dead-lettered once it reaches the head
    clock.advance(9.999)
    assert [m.body for m in broker.get_queue("dead").ready_messages()] == [b"to-alternate"]
    clock.advance(0.001)
    assert broker.get_queue("ttl").message_count == 0
    dead = broker.get_queue("dead").ready_messages()
    assert [m.body for m in dead] == [b"to-alternate", b"ttl-1", b"ttl-2"]
    assert dead[-1].properties.headers["x-death"][0]["reason"] == "expired"
    # the restored policy is in force: limited holds 2 at most, reject-publish
    ch = broker.channel()
    ch.confirm_select()
    ch.basic_publish("", "limited", b"l2")
    assert ch.basic_publish("", "limited", b"l3").name == "NACKED"
    broker.authenticate("alice", "secret")
    broker._check()
    broker.close()


def test_one_snapshot_restores_twice_to_the_same_state_after_heavy_changes():
    clock = ManualClock()
    broker = Broker(clock=clock)
    _build(broker)
    snapshot = broker.snapshot()
    expected = _state(broker)
    for round_ in range(2):
        ch = broker.channel()
        got = []
        ch.basic_consume("prio", lambda d: got.append(d.body), auto_ack=True)
        ch.basic_consume("ttl", lambda d: d.channel.basic_reject(d.delivery_tag, requeue=False))
        for i in range(50):
            ch.basic_publish("events", "p.x", b"more%d" % i, Properties(priority=i % 10))
        ch.queue_purge("dead")
        ch.queue_declare(f"extra{round_}", arguments={"x-max-length": 1})
        broker.set_policy("late", ".*", {"message-ttl": 1}, priority=5)
        clock.advance(60)
        broker.restore(snapshot)
        assert not ch.is_open and isinstance(ch.close_cause, ConnectionForced)
        assert ch.close_cause.reply_code == 320
        assert _state(broker) == expected
        broker._check()
    broker.close()


def test_restore_rejects_what_it_cannot_honour(tmp_path):
    broker = Broker()
    with pytest.raises(TypeError, match="^restore needs a Snapshot from Broker.snapshot\\(\\), not dict$"):
        broker.restore({})
    snapshot = broker.snapshot()
    broker.close()
    with pytest.raises(ConnectionForced):
        broker.restore(snapshot)
    from minimq.persistence.sqlite import SQLiteStore
    stored = Broker(store=SQLiteStore(str(tmp_path / "s.db")))
    with pytest.raises(ValueError, match="store"):
        stored.restore(stored.snapshot())
    stored.close()
