"""A publisher-supplied ``x-death`` header whose elements are not tables (see README's known
divergences: RabbitMQ's queue process crashes on it; minimq steps over them)."""

from __future__ import annotations

import minimq


def test_non_table_x_death_elements_are_stepped_over_when_dead_lettering() -> None:
    broker = minimq.Broker()
    ch = broker.channel()
    ch.exchange_declare("dlx", "fanout")
    ch.queue_declare("dlq")
    ch.queue_bind("dlq", "dlx")
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": "dlx"})
    ch.basic_publish("", "q", b"x", minimq.Properties(headers={"x-death": [5, "junk", {"queue": "q"}]}))
    delivery = ch.basic_get("q")
    ch.basic_reject(delivery.delivery_tag, requeue=False)
    dead = ch.basic_get("dlq", auto_ack=True)
    deaths = dead.message.headers["x-death"]
    assert deaths[0]["reason"] == "rejected" and deaths[0]["queue"] == "q"
    assert deaths[1:] == [5, "junk", {"queue": "q"}]
    broker.close()
