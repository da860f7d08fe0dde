"""docs/semantics.md §15: direct reply-to (``amq.rabbitmq.reply-to``)."""

from __future__ import annotations

import re

import pytest

from core_helpers import pending_events, soft
from minimq import NotFound, PreconditionFailed, Properties, PublishOutcome

REPLY_TO = "amq.rabbitmq.reply-to"


def _rpc(broker):
    client = broker.channel(inline=False)
    tag = client.basic_consume(REPLY_TO, auto_ack=True)
    server = broker.channel()
    server.queue_declare("rpc")
    return client, tag, server


def test_rewrite_and_reply(broker):
    client, tag, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO, correlation_id="c1"))
    reply_to = requests[0].properties.reply_to
    assert re.match(r"^amq\.rabbitmq\.reply-to\.[A-Za-z0-9_\-=+/.]+$", reply_to)
    reply_channel = broker.channel()  # any channel, any connection
    outcome = reply_channel.basic_publish("", reply_to, b"answer",
                                          properties=Properties(correlation_id="c1"))
    assert outcome is PublishOutcome.UNROUTABLE  # the pseudo-queue never counts as a route
    (reply,) = pending_events(client)
    assert (reply.consumer_tag, reply.exchange, reply.routing_key, reply.redelivered, reply.body) == \
        (tag, "", reply_to, False, b"answer")
    assert reply.properties.correlation_id == "c1"
    assert reply.properties.reply_to is None


def test_reply_keeps_its_own_reply_to(broker):
    client, _, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    server.basic_publish("", requests[0].properties.reply_to, b"r", properties=Properties(reply_to="back"))
    assert client.pop_event().properties.reply_to == "back"


def test_reply_tags_do_not_consume_delivery_tags(broker):
    client, _, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    token_key = requests[0].properties.reply_to
    for _ in range(3):
        server.basic_publish("", token_key, b"r")
    assert [e.delivery_tag for e in pending_events(client)] == [1, 1, 1]
    client.queue_declare("own")
    client.basic_publish("", "own", b"x")
    assert client.basic_get("own").delivery_tag == 1
    server.basic_publish("", token_key, b"r")
    assert client.pop_event().delivery_tag == 2


def test_mandatory_reply_is_returned_even_when_delivered(broker):
    client, _, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    returns = []
    server.add_on_return_callback(returns.append)
    server.basic_publish("", requests[0].properties.reply_to, b"r", mandatory=True)
    assert len(returns) == 1 and returns[0].reply_text == "NO_ROUTE"
    assert client.pop_event().body == b"r"


def test_unknown_token_dropped(broker):
    ch = broker.channel(inline=False)
    assert ch.basic_publish("", REPLY_TO + ".bogus", b"r") is PublishOutcome.UNROUTABLE
    ch.basic_publish("", REPLY_TO + ".bogus", b"r", mandatory=True)
    assert ch.pop_event().reply_code == 312
    assert ch.is_open


def test_reply_consumer_must_be_auto_ack(ch):
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - reply consumer cannot acknowledge"):
        ch.basic_consume(REPLY_TO, print)


def test_second_reply_consumer(ch):
    ch.basic_consume(REPLY_TO, print, auto_ack=True)
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - reply consumer already set"):
        ch.basic_consume(REPLY_TO, print, auto_ack=True, consumer_tag="other")


def test_publish_reply_to_without_consumer(broker):
    ch = broker.channel()
    ch.queue_declare("rpc")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - fast reply consumer does not exist"):
        ch.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    assert broker.channel().queue_declare("rpc", passive=True).message_count == 0


def test_cancel_removes_reply_consumer(broker):
    ch = broker.channel()
    ch.queue_declare("rpc")
    tag = ch.basic_consume(REPLY_TO, print, auto_ack=True, consumer_tag="rt")
    assert tag == "rt"
    ch.basic_cancel("rt")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - fast reply consumer does not exist"):
        ch.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))


def test_reply_callback_on_inline_channel(broker):
    client = broker.channel()
    replies = []
    client.basic_consume(REPLY_TO, replies.append, auto_ack=True)
    client.queue_declare("rpc")
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    key = client.basic_get("rpc", auto_ack=True).properties.reply_to
    broker.channel().basic_publish("", key, b"answer")
    assert [r.body for r in replies] == [b"answer"]


def test_reply_channel_closed_drops(broker):
    client, _, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    client.close()
    server.basic_publish("", requests[0].properties.reply_to, b"late")
    assert server.is_open


def test_declare_reply_to_pseudo_queue(broker):
    ch = broker.channel()
    for kwargs in (dict(), dict(passive=True), dict(durable=True, exclusive=True, auto_delete=True)):
        assert tuple(ch.queue_declare(REPLY_TO, **kwargs)) == (REPLY_TO, 0, 1)
    client, _, server = _rpc(broker)
    requests = []
    server.basic_consume("rpc", requests.append, auto_ack=True)
    client.basic_publish("", "rpc", b"ask", properties=Properties(reply_to=REPLY_TO))
    key = requests[0].properties.reply_to
    assert tuple(ch.queue_declare(key)) == (key, 0, 1)
    with soft(ch, NotFound, 404, f"NOT_FOUND - no queue '{REPLY_TO}.nope' in vhost '/'"):
        ch.queue_declare(REPLY_TO + ".nope")


def test_get_reply_to_is_404(ch):
    with soft(ch, NotFound, 404, "NOT_FOUND - no queue 'amq.rabbitmq.reply-to' in vhost '/'"):
        ch.basic_get(REPLY_TO)


def test_reply_consumer_tag_generated(ch):
    tag = ch.basic_consume(REPLY_TO, print, auto_ack=True)
    assert tag.startswith("amq.ctag-")


def test_any_name_with_the_reply_to_prefix_is_the_pseudo_queue(broker):
    for name in (REPLY_TO + "-x", REPLY_TO + "x.y"):
        ch = broker.channel()
        with soft(ch, NotFound, 404, f"NOT_FOUND - no queue '{name}' in vhost '/'"):
            ch.queue_declare(name)


@pytest.mark.parametrize("other", [dict(expiration="soon"), dict(user_id="bob"), dict(delivery_mode=3),
                                   dict(headers={"CC": 5})])
def test_missing_reply_consumer_is_checked_before_the_other_properties(broker, other):
    ch = broker.channel()
    ch.queue_declare("q")
    with soft(ch, PreconditionFailed, 406, "PRECONDITION_FAILED - fast reply consumer does not exist"):
        ch.basic_publish("", "q", b"m", Properties(reply_to=REPLY_TO, **other))
