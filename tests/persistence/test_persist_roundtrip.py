"""Restart round-trips: every persisted item comes back, nothing that is not persisted does.

Each test builds state on one broker, closes it cleanly, opens a new broker on the same file and
compares.  ``_check()`` runs on every broker before it is closed (see conftest.Reopener.restart).
"""

from __future__ import annotations

import datetime
import decimal

import pytest

from minimq import ManualClock, Properties

P2 = Properties(delivery_mode=2)

HEADERS = {
    "str": "text", "bytes": b"\x00\xff", "int": 7, "long": 2**62, "neg": -(2**63), "bool": True, "false": False,
    "float": 1.5, "none": None, "decimal": decimal.Decimal("-12.345"),
    "naive": datetime.datetime(2024, 2, 29, 23, 59, 58),
    "aware": datetime.datetime(2024, 1, 1, 1, 2, 3, tzinfo=datetime.timezone(datetime.timedelta(hours=5))),
    "list": [1, "a", [b"b", {"k": decimal.Decimal("1.0")}]], "table": {"nested": {"deep": [None, 2.25]}},
    "empty_list": [], "empty_table": {},
}

ALL_PROPERTIES = Properties(
    content_type="application/json", content_encoding="gzip", headers=HEADERS, delivery_mode=2, priority=3,
    correlation_id="corr", reply_to="replies", expiration="600000", message_id="id-1", timestamp=1_700_000_123,
    type="kind", user_id="guest", app_id="app", cluster_id="cluster",
)


def ready(broker, queue, vhost="/"):
    """(body, redelivered) of the ready messages, in delivery order."""
    return [(e.message.body, e.redelivered) for e in broker.get_queue(queue, vhost)._all_ready()]


def bodies(broker, queue, vhost="/"):
    return [body for body, _ in ready(broker, queue, vhost)]


# -- topology -------------------------------------------------------------------------------------
def test_vhosts_round_trip(reopen):
    b = reopen()
    b.add_vhost("a")
    b.add_vhost("b")
    b.add_vhost("gone")
    b.delete_vhost("gone")
    b = reopen.restart(b)
    assert sorted(b.vhosts) == ["/", "a", "b"]
    ch = b.channel("a")
    ch.queue_declare("q", durable=True)
    b = reopen.restart(b)
    assert b.get_queue("q", "a") is not None


def test_deleting_a_vhost_forgets_its_exchanges_queues_and_messages(reopen):
    b = reopen()
    b.add_vhost("v")
    ch = b.channel("v")
    ch.exchange_declare("x", "fanout", durable=True)
    ch.queue_declare("q", durable=True)
    ch.queue_bind("q", "x")
    ch.basic_publish("x", "", b"m", P2)
    ch.connection.close()
    b.delete_vhost("v")
    b.add_vhost("v")
    b = reopen.restart(b)
    assert b.get_exchange("x", "v") is None and b.get_queue("q", "v") is None


@pytest.mark.parametrize("type_", ["direct", "fanout", "topic", "headers"])
def test_durable_exchanges_round_trip(reopen, type_):
    b = reopen()
    ch = b.channel()
    arguments = {"alternate-exchange": "ae", "custom": decimal.Decimal("2.5"), "when": datetime.datetime(2020, 1, 1),
                 "nested": {"list": [1, "two", b"three"]}}
    ch.exchange_declare("x", type_, durable=True, arguments=arguments)
    ch.exchange_declare("x-auto", type_, durable=True, auto_delete=True)
    ch.exchange_declare("x-internal", type_, durable=True, internal=True)
    ch.exchange_declare("x-transient", type_, durable=False)
    ch.exchange_declare("x-deleted", type_, durable=True)
    ch.exchange_delete("x-deleted")
    b = reopen.restart(b)
    x = b.get_exchange("x")
    assert (x.type, x.durable, x.auto_delete, x.internal, x.arguments) == (type_, True, False, False, arguments)
    assert b.get_exchange("x-auto").auto_delete is True
    assert b.get_exchange("x-internal").internal is True
    assert b.get_exchange("x-transient") is None and b.get_exchange("x-deleted") is None
    # the recovered exchange is live and its changes are persisted again
    b.channel().exchange_delete("x")
    b = reopen.restart(b)
    assert b.get_exchange("x") is None and b.get_exchange("x-auto") is not None


def test_durable_queues_round_trip(reopen):
    b = reopen()
    ch = b.channel()
    args = {"x-message-ttl": 60000, "x-max-length": 10, "x-dead-letter-exchange": "dlx",
            "x-dead-letter-routing-key": "dead", "x-max-priority": 4, "x-overflow": "reject-publish"}
    ch.queue_declare("q", durable=True, arguments=args)
    ch.queue_declare("quorum", durable=True, arguments={"x-queue-type": "quorum", "x-delivery-limit": 5})
    ch.queue_declare("auto", durable=True, auto_delete=True)
    ch.queue_declare("transient", durable=False)
    ch.queue_declare("exclusive", durable=True, exclusive=True)
    server_named = ch.queue_declare("", durable=True).queue
    ch.queue_declare("deleted", durable=True)
    ch.queue_delete("deleted")
    b = reopen.restart(b)
    q = b.get_queue("q")
    assert (q.durable, q.auto_delete, q.arguments) == (True, False, args)
    assert (q.message_ttl, q.max_length, q.dead_letter_exchange, q.max_priority) == (60000, 10, "dlx", 4)
    assert b.get_queue("quorum").quorum and b.get_queue("quorum").delivery_limit == 5
    assert b.get_queue("auto").auto_delete
    assert server_named.startswith("amq.gen-") and b.get_queue(server_named).durable
    for gone in ("transient", "exclusive", "deleted"):
        assert b.get_queue(gone) is None, gone
    # declaring again with the same arguments is equivalent (no 406)
    b.channel().queue_declare("q", durable=True, arguments=args)


def test_bindings_round_trip_and_route(reopen):
    b = reopen()
    ch = b.channel()
    ch.exchange_declare("topic", "topic", durable=True)
    ch.exchange_declare("headers", "headers", durable=True)
    ch.exchange_declare("e2e", "fanout", durable=True)
    ch.exchange_declare("transient", "fanout", durable=False)
    for name in ("t", "h", "e", "amq", "gone"):
        ch.queue_declare(name, durable=True)
    ch.queue_declare("tq", durable=False)
    ch.queue_bind("t", "topic", "a.*.#")
    ch.queue_bind("h", "headers", "", {"x-match": "any", "k": decimal.Decimal("1.5"), "z": 1})
    ch.exchange_bind("topic", "e2e", "")         # e2e -> topic
    ch.queue_bind("e", "e2e", "")
    ch.queue_bind("amq", "amq.direct", "key")    # predeclared source
    ch.queue_bind("gone", "topic", "x.y")
    ch.queue_unbind("gone", "topic", "x.y")
    ch.queue_bind("t", "transient", "")          # transient source: not persisted
    ch.queue_bind("tq", "topic", "#")            # transient destination: not persisted
    b = reopen.restart(b)
    described = sorted((x.source.name, x.destination.name, x.routing_key, sorted(x.arguments.items()))
                       for x in b.vhosts["/"].bindings())
    assert described == [
        ("amq.direct", "amq", "key", []),
        ("e2e", "e", "", []),
        ("e2e", "topic", "", []),
        ("headers", "h", "", [("k", decimal.Decimal("1.5")), ("x-match", "any"), ("z", 1)]),
        ("topic", "t", "a.*.#", []),
    ]
    ch = b.channel()
    ch.basic_publish("e2e", "a.b.c", b"via e2e")
    ch.basic_publish("headers", "", b"by header", Properties(headers={"k": decimal.Decimal("1.5")}))
    ch.basic_publish("amq.direct", "key", b"amq")
    assert bodies(b, "t") == [b"via e2e"] and bodies(b, "e") == [b"via e2e"]
    assert bodies(b, "h") == [b"by header"] and bodies(b, "amq") == [b"amq"]
    # a recovered binding can be removed, and that is persisted
    ch.queue_unbind("h", "headers", "", {"x-match": "any", "k": decimal.Decimal("1.5"), "z": 1})
    ch.exchange_unbind("topic", "e2e", "")
    b = reopen.restart(b)
    assert sorted(x.destination.name for x in b.vhosts["/"].bindings()) == ["amq", "e", "t"]


def test_deleting_a_queue_or_exchange_removes_its_bindings(reopen):
    b = reopen()
    ch = b.channel()
    ch.exchange_declare("x", "direct", durable=True)
    ch.exchange_declare("y", "direct", durable=True)
    ch.queue_declare("q", durable=True)
    ch.queue_bind("q", "x", "k")
    ch.exchange_bind("y", "x", "k")
    ch.queue_bind("q", "y", "k")
    ch.queue_delete("q")
    ch.queue_declare("q", durable=True)   # same name, a new queue: no bindings
    ch.exchange_delete("y")
    b = reopen.restart(b)
    assert b.vhosts["/"].bindings() == []


# -- messages -------------------------------------------------------------------------------------
def test_all_properties_and_headers_round_trip(reopen):
    b = reopen()
    ch = b.channel()
    ch.exchange_declare("x", "direct", durable=True)
    ch.queue_declare("q", durable=True)
    ch.queue_bind("q", "x", "rk")
    ch.basic_publish("x", "rk", b"\x00body\xff", ALL_PROPERTIES)
    ch.basic_publish("", "q", b"", Properties(delivery_mode=2))  # empty body, only delivery_mode
    b = reopen.restart(b)
    first, second = b.get_queue("q").ready_messages()
    assert (first.body, first.exchange, first.routing_key) == (b"\x00body\xff", "x", "rk")
    assert first.properties == ALL_PROPERTIES
    assert list(first.properties.headers) == list(HEADERS)  # table order kept
    assert first.ttl == 600000
    assert second.body == b"" and second.properties == Properties(delivery_mode=2)


def test_only_persistent_messages_on_durable_queues_are_kept_in_order(reopen):
    b = reopen()
    ch = b.channel()
    ch.exchange_declare("fan", "fanout", durable=True)
    for name in ("a", "b"):
        ch.queue_declare(name, durable=True)
        ch.queue_bind(name, "fan")
    ch.queue_declare("t", durable=False)
    ch.queue_bind("t", "fan")
    for i in range(20):
        props = Properties(delivery_mode=2 if i % 3 else 1) if i % 5 else None
        ch.basic_publish("fan", "", b"%d" % i, props)
    expected = [b"%d" % i for i in range(20) if i % 5 and i % 3]
    b = reopen.restart(b)
    assert bodies(b, "a") == expected and bodies(b, "b") == expected
    assert b.get_queue("t") is None


def test_acks_rejects_purges_and_deletes_update_the_store(reopen):
    b = reopen()
    ch = b.channel()
    for name in ("acked", "purged", "deleted", "fanned"):
        ch.queue_declare(name, durable=True)
    for i in range(5):
        ch.basic_publish("", "acked", b"%d" % i, P2)
        ch.basic_publish("", "purged", b"%d" % i, P2)
        ch.basic_publish("", "deleted", b"%d" % i, P2)
    ch.basic_ack(ch.basic_get("acked").delivery_tag)
    ch.basic_reject(ch.basic_get("acked").delivery_tag, requeue=False)
    ch.basic_get("acked", auto_ack=True)
    ch.queue_purge("purged")
    unacked = ch.basic_get("deleted")
    assert unacked is not None
    ch.queue_delete("deleted")
    ch.queue_declare("deleted", durable=True)
    b = reopen.restart(b)
    assert bodies(b, "acked") == [b"3", b"4"]
    assert bodies(b, "purged") == [] and bodies(b, "deleted") == []


def test_unacked_messages_come_back_ready_and_redelivered_in_place(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("q", durable=True)
    for i in range(6):
        ch.basic_publish("", "q", b"%d" % i, P2)
    got = [ch.basic_get("q") for _ in range(2)]        # 0, 1 unacked by get
    ch.basic_qos(prefetch_count=2)
    seen = []
    ch.basic_consume("q", seen.append)                 # 2, 3 unacked by a consumer
    assert [d.body for d in seen] == [b"2", b"3"]
    ch.basic_ack(got[1].delivery_tag)                  # 1 acked
    b = reopen.restart(b)
    assert ready(b, "q") == [(b"0", True), (b"2", True), (b"3", True), (b"4", False), (b"5", False)]
    # a requeue after recovery still goes back to its original place
    ch = b.channel()
    first = ch.basic_get("q")
    ch.basic_nack(first.delivery_tag, requeue=True)
    assert bodies(b, "q")[0] == b"0"
    ch.basic_publish("", "q", b"6", P2)
    b = reopen.restart(b)
    assert bodies(b, "q") == [b"0", b"2", b"3", b"4", b"5", b"6"]


def test_requeued_state_and_quorum_delivery_count_round_trip(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("qq", durable=True, arguments={"x-queue-type": "quorum"})
    ch.queue_declare("cq", durable=True)
    ch.basic_publish("", "qq", b"q", P2)
    ch.basic_publish("", "cq", b"c", P2)
    for _ in range(3):
        ch.basic_nack(ch.basic_get("qq").delivery_tag, requeue=True)
    ch.basic_nack(ch.basic_get("cq").delivery_tag, requeue=True)
    b = reopen.restart(b)
    entry = b.get_queue("qq")._all_ready()[0]
    assert (entry.redelivered, entry.delivery_count) == (True, 3)
    assert b.channel().basic_get("qq").headers == {"x-delivery-count": 3}
    assert ready(b, "cq") == [(b"c", True)]


def test_priority_queue_order_round_trips(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("p", durable=True, arguments={"x-max-priority": 3})
    for i, prio in enumerate([0, 3, 1, 3, None, 2, 9]):
        ch.basic_publish("", "p", b"%d" % i, Properties(delivery_mode=2, priority=prio))
    before = bodies(b, "p")
    b = reopen.restart(b)
    assert bodies(b, "p") == before == [b"1", b"3", b"6", b"5", b"2", b"0", b"4"]


def test_dead_letter_history_round_trips(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare("src", durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.basic_publish("", "src", b"m", Properties(delivery_mode=2, headers={"h": 1}, expiration="60000"))
    ch.basic_reject(ch.basic_get("src").delivery_tag, requeue=False)
    before = b.get_queue("dlq").ready_messages()[0]
    assert before.headers["x-death"][0]["reason"] == "rejected"
    b = reopen.restart(b)
    assert bodies(b, "src") == []
    after = b.get_queue("dlq").ready_messages()[0]
    assert after.properties == before.properties
    assert after.headers["x-death"] == before.headers["x-death"]
    assert isinstance(after.headers["x-death"][0]["time"], datetime.datetime)
    # dying twice in the same place bumps the count; that survives too
    ch = b.channel()
    ch.queue_declare("back", durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    d = ch.basic_get("dlq")
    ch.basic_publish("", "src", d.body, d.properties)
    ch.basic_ack(d.delivery_tag)
    ch.basic_reject(ch.basic_get("src").delivery_tag, requeue=False)
    b = reopen.restart(b)
    [again] = b.get_queue("dlq").ready_messages()
    assert [(x["queue"], x["count"]) for x in again.headers["x-death"]] == [("src", 2)]


def test_max_length_drop_head_updates_the_store(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("q", durable=True, arguments={"x-max-length": 2})
    for i in range(5):
        ch.basic_publish("", "q", b"%d" % i, P2)
    b = reopen.restart(b)
    assert bodies(b, "q") == [b"3", b"4"]


# -- time -----------------------------------------------------------------------------------------
WALL0 = 1_700_000_000.0


def test_message_ttl_keeps_counting_from_the_original_publish(reopen):
    clock = ManualClock(wall_start=WALL0)
    b = reopen(clock)
    ch = b.channel()
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare("q", durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.queue_declare("qttl", durable=True, arguments={"x-message-ttl": 10_000})
    ch.basic_publish("", "q", b"per-message", Properties(delivery_mode=2, expiration="10000"))
    ch.basic_publish("", "qttl", b"per-queue", P2)
    clock.advance(4)
    # down for 3 seconds: 7 of the 10 seconds have gone when the next broker starts, whose monotonic
    # clock starts elsewhere (ManualClock's wall time is wall_start + its monotonic time)
    clock2 = ManualClock(start=500.0, wall_start=WALL0 + 7 - 500.0)
    b = reopen.restart(b, clock2)
    assert bodies(b, "q") == [b"per-message"] and bodies(b, "qttl") == [b"per-queue"]
    clock2.advance(2.9)
    assert b.get_queue("q").message_count == 1 and b.get_queue("qttl").message_count == 1
    clock2.advance(0.2)
    assert b.get_queue("q").message_count == 0 and b.get_queue("qttl").message_count == 0
    assert bodies(b, "dlq") == [b"per-message"]
    # the expiry and the dead-lettering were recorded
    b = reopen.restart(b, ManualClock(wall_start=WALL0 + 20))
    assert bodies(b, "q") == [] and bodies(b, "dlq") == [b"per-message"]
    assert b.get_queue("dlq").ready_messages()[0].headers["x-death"][0]["reason"] == "expired"


def test_messages_that_expired_while_down_are_dead_lettered_at_start(reopen):
    clock = ManualClock(wall_start=WALL0)
    b = reopen(clock)
    ch = b.channel()
    ch.queue_declare("dlq", durable=True)
    ch.queue_declare("q", durable=True, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": "dlq"})
    ch.basic_publish("", "q", b"short", Properties(delivery_mode=2, expiration="1000"))
    ch.basic_publish("", "q", b"long", Properties(delivery_mode=2, expiration="100000"))
    b = reopen.restart(b, ManualClock(wall_start=WALL0 + 60))
    assert bodies(b, "q") == [b"long"] and bodies(b, "dlq") == [b"short"]


# -- crash (in process): the file is left as a kill would leave it ---------------------------------
def _crash(broker):
    """Commit what is pending, then drop the file without the clean-shutdown record."""
    store = broker.store
    store.flush()
    store._closed = True
    store._kick.set()
    conn, store._conn = store._conn, None
    conn.close()


def test_after_a_crash_every_recovered_message_is_flagged_redelivered(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("q", durable=True)
    for i in range(3):
        ch.basic_publish("", "q", b"%d" % i, P2)
    ch.basic_get("q")  # delivered: its delivery is never written, so after a crash it may have been seen
    _crash(b)
    b = reopen()
    assert ready(b, "q") == [(b"0", True), (b"1", True), (b"2", True)]
    b = reopen.restart(b)  # and the flag sticks after a clean restart
    assert ready(b, "q") == [(b"0", True), (b"1", True), (b"2", True)]


def test_a_clean_restart_keeps_never_delivered_messages_unflagged(reopen):
    b = reopen()
    ch = b.channel()
    ch.queue_declare("q", durable=True)
    ch.basic_publish("", "q", b"0", P2)
    b = reopen.restart(b)
    b = reopen.restart(b)
    assert ready(b, "q") == [(b"0", False)]


def test_recovery_is_repeatable(reopen):
    """Recover, change, recover again: ids and positions stay consistent across generations."""
    b = reopen()
    ch = b.channel()
    ch.queue_declare("a", durable=True)
    ch.queue_declare("b", durable=True)
    expected = {"a": [], "b": []}
    n = 0
    for round_ in range(4):
        ch = b.channel()
        for _ in range(5):
            for q in ("a", "b"):
                ch.basic_publish("", q, b"%d" % n, P2)
                expected[q].append(b"%d" % n)
                n += 1
        d = ch.basic_get("a")
        ch.basic_ack(d.delivery_tag)
        expected["a"].remove(d.body)
        if round_ == 2:
            ch.queue_delete("b")
            ch.queue_declare("b", durable=True)
            expected["b"] = []
        b = reopen.restart(b) if round_ % 2 else (_crash(b) or reopen())
        assert bodies(b, "a") == expected["a"] and bodies(b, "b") == expected["b"]
