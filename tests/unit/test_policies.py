"""Policies and operator policies (issue 4): matching, priority, resolution against arguments, re-application."""

import threading

import pytest

import minimq


@pytest.fixture
def broker():
    return minimq.Broker(clock=minimq.ManualClock())


def publish(ch, queue, n, prefix=b"m"):
    for i in range(n):
        ch.basic_publish("", queue, prefix + b"%d" % i)


def test_policy_applies_to_matching_queues_only(broker):
    ch = broker.channel()
    ch.queue_declare("orders.eu")
    ch.queue_declare("audit")
    broker.set_policy("cap", r"^orders\.", {"max-length": 2})
    publish(ch, "orders.eu", 5)
    publish(ch, "audit", 5)
    assert broker.get_queue("orders.eu").message_count == 2
    assert broker.get_queue("audit").message_count == 5
    assert [m.body for m in broker.get_queue("orders.eu").ready_messages()] == [b"m3", b"m4"]


def test_setting_a_policy_reapplies_to_existing_queue_at_once(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    publish(ch, "q", 5)
    broker.set_policy("cap", "^q$", {"max-length": 3})
    assert broker.get_queue("q").message_count == 3
    broker.clear_policy("cap")
    publish(ch, "q", 5, b"n")
    assert broker.get_queue("q").message_count == 8


def test_highest_priority_policy_wins(broker):
    ch = broker.channel()
    ch.queue_declare("q")
    broker.set_policy("low", ".*", {"max-length": 1}, priority=0)
    broker.set_policy("high", "^q", {"max-length": 4}, priority=5)
    assert broker.effective_arguments("q") == {"max-length": (4, "policy")}


def test_numeric_limits_take_the_stricter_of_argument_and_policy(broker):
    ch = broker.channel()
    ch.queue_declare("small", arguments={"x-max-length": 2, "x-message-ttl": 5000})
    ch.queue_declare("large", arguments={"x-max-length": 50})
    broker.set_policy("p", ".*", {"max-length": 10, "message-ttl": 1000})
    assert broker.effective_arguments("small") == {"max-length": (2, "argument"), "message-ttl": (1000, "policy")}
    assert broker.effective_arguments("large") == {"max-length": (10, "policy"), "message-ttl": (1000, "policy")}


def test_argument_wins_for_dead_letter_exchange_and_overflow(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "mine", "x-overflow": "reject-publish"})
    broker.set_policy("p", ".*", {"dead-letter-exchange": "theirs", "overflow": "drop-head",
                                  "dead-letter-routing-key": "dead"})
    eff = broker.effective_arguments("q")
    assert eff["dead-letter-exchange"] == ("mine", "argument")
    assert eff["overflow"] == ("reject-publish", "argument")
    assert eff["dead-letter-routing-key"] == ("dead", "policy")


def test_operator_policy_is_stricter_than_user_policy_and_argument(broker):
    ch = broker.channel()
    ch.queue_declare("q", arguments={"x-max-length": 100})
    broker.set_policy("user", ".*", {"max-length": 50})
    broker.set_operator_policy("ops", ".*", {"max-length": 10})
    assert broker.effective_arguments("q")["max-length"] == (10, "operator policy")
    broker.clear_operator_policy("ops")
    assert broker.effective_arguments("q")["max-length"] == (50, "policy")
    with pytest.raises(ValueError, match=r"^operator policy key 'dead-letter-exchange' is not supported"):
        broker.set_operator_policy("bad", ".*", {"dead-letter-exchange": "x"})


def test_policy_dead_lettering_and_ttl(broker):
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx")
    ch.queue_declare("work")
    broker.set_policy("p", "^work$", {"message-ttl": 1000, "dead-letter-exchange": "dlx"})
    ch.basic_publish("", "work", b"late")
    broker.clock.advance(0.999)
    assert broker.get_queue("dead").message_count == 0
    broker.clock.advance(0.001)
    assert broker.get_queue("work").message_count == 0
    dead = ch.basic_get("dead", auto_ack=True)
    assert dead.body == b"late"
    assert dead.headers["x-death"][0]["reason"] == "expired"
    assert dead.headers["x-first-death-queue"] == "work"


def test_policy_alternate_exchange_and_argument_precedence(broker):
    ch = broker.channel()
    ch.exchange_declare("ae", "fanout")
    ch.queue_declare("unrouted")
    ch.queue_bind("unrouted", "ae")
    ch.exchange_declare("main", "direct")
    broker.set_policy("ae", "^main$", {"alternate-exchange": "ae"}, apply_to="exchanges")
    assert ch.basic_publish("main", "nowhere", b"x") == minimq.PublishOutcome.ROUTED
    assert broker.get_queue("unrouted").message_count == 1
    broker.clear_policy("ae")
    assert ch.basic_publish("main", "nowhere", b"y") == minimq.PublishOutcome.UNROUTABLE


@pytest.mark.parametrize("definition, message", [
    ({"max-length": -1}, r"^max-length must be an integer >= 0, got -1$"),
    ({"expires": 0}, r"^expires must be an integer > 0, got 0$"),
    ({"overflow": "explode"}, r"^overflow must be drop-head, reject-publish or reject-publish-dlx, got 'explode'$"),
    ({"message-ttl": "10"}, r"^message-ttl must be an integer >= 0, got '10'$"),
    ({}, r"^a policy definition must set at least one key$"),
])
def test_invalid_policy_definitions_are_refused_and_change_nothing(broker, definition, message):
    ch = broker.channel()
    ch.queue_declare("q")
    with pytest.raises(ValueError, match=message):
        broker.set_policy("bad", ".*", definition)
    assert broker.list_policies() == []
    assert broker.effective_arguments("q") == {}


def test_list_and_clear_policies(broker):
    broker.set_policy("a", "x", {"max-length": 1})
    broker.add_vhost("other")
    broker.set_policy("b", "y", {"max-length": 2}, vhost="other")
    assert [p.name for p in broker.list_policies()] == ["a", "b"]
    assert [p.name for p in broker.list_policies(vhost="other")] == ["b"]
    broker.clear_policy("a")
    with pytest.raises(KeyError):
        broker.clear_policy("a")


def test_real_clock_timer_thread_dead_letters_with_nobody_looking():
    broker = minimq.Broker()
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dead")
    ch.queue_bind("dead", "dlx")
    ch.queue_declare("q", arguments={"x-message-ttl": 30, "x-dead-letter-exchange": "dlx"})
    arrived = threading.Event()
    watcher = broker.channel()
    watcher.basic_consume("dead", lambda d: arrived.set(), auto_ack=True)
    ch.basic_publish("", "q", b"short-lived")
    assert arrived.wait(5), "the timer thread did not dead-letter the expired message"
    broker.close()
