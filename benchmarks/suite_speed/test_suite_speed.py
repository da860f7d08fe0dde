"""200 realistic pika tests: connect, declare a small topology, publish, consume, assert.

The code is what an application's test suite holds; it runs unchanged against minimq (the
``minimq_pika`` fixture) and against RabbitMQ (see conftest.py).  Names are unique per test and every
queue is exclusive, so runs against a shared server leave nothing behind.
"""

from __future__ import annotations

import uuid

import pika
import pytest

N = 40  # five scenarios x 40 = 200 tests


def _connect() -> tuple:
    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))
    channel = connection.channel()
    channel.confirm_delivery()  # a confirmed message is in its queues: basic_get sees it
    return connection, channel


def _name(kind: str) -> str:
    return f"suite-{kind}-{uuid.uuid4().hex[:12]}"


def _drain(channel, queue: str, ack: bool = True) -> list[bytes]:
    bodies = []
    while True:
        method, _props, body = channel.basic_get(queue)
        if method is None:
            return bodies
        bodies.append(body)
        if ack:
            channel.basic_ack(method.delivery_tag)


@pytest.mark.parametrize("i", range(N))
def test_direct_routing_with_acks(i: int) -> None:
    connection, channel = _connect()
    exchange, queue = _name("direct"), _name("q")
    channel.exchange_declare(exchange, "direct", auto_delete=True)
    channel.queue_declare(queue, exclusive=True)
    channel.queue_bind(queue, exchange, routing_key="orders")
    for n in range(i % 5 + 1):
        channel.basic_publish(exchange, "orders", f"order-{n}".encode())
    channel.basic_publish(exchange, "other", b"dropped")
    assert _drain(channel, queue) == [f"order-{n}".encode() for n in range(i % 5 + 1)]
    connection.close()


@pytest.mark.parametrize("i", range(N))
def test_topic_patterns(i: int) -> None:
    connection, channel = _connect()
    exchange, errors, everything = _name("topic"), _name("q"), _name("q")
    channel.exchange_declare(exchange, "topic", auto_delete=True)
    channel.queue_declare(errors, exclusive=True)
    channel.queue_declare(everything, exclusive=True)
    channel.queue_bind(errors, exchange, routing_key="*.error")
    channel.queue_bind(everything, exchange, routing_key="app.#")
    keys = ["app.error", "app.info", "db.error", f"app.svc{i}.debug"]
    for key in keys:
        channel.basic_publish(exchange, key, key.encode())
    assert _drain(channel, errors) == [b"app.error", b"db.error"]
    assert _drain(channel, everything) == [b"app.error", b"app.info", f"app.svc{i}.debug".encode()]
    connection.close()


@pytest.mark.parametrize("i", range(N))
def test_fanout_to_consumers(i: int) -> None:
    connection, channel = _connect()
    exchange = _name("fanout")
    channel.exchange_declare(exchange, "fanout", auto_delete=True)
    queues = []
    for _ in range(2 + i % 3):
        queue = channel.queue_declare("", exclusive=True).method.queue
        channel.queue_bind(queue, exchange)
        queues.append(queue)
    channel.basic_publish(exchange, "", f"news-{i}".encode())
    received = []
    for queue in queues:
        for method, _props, body in channel.consume(queue, inactivity_timeout=5):
            assert method is not None, "no delivery within 5 s"
            received.append(body)
            channel.basic_ack(method.delivery_tag)
            break
        channel.cancel()
    assert received == [f"news-{i}".encode()] * len(queues)
    connection.close()


@pytest.mark.parametrize("i", range(N))
def test_nack_requeue_then_dead_letter(i: int) -> None:
    connection, channel = _connect()
    dlx, dead, work = _name("dlx"), _name("dead"), _name("work")
    channel.exchange_declare(dlx, "fanout", auto_delete=True)
    channel.queue_declare(dead, exclusive=True)
    channel.queue_bind(dead, dlx)
    channel.queue_declare(work, exclusive=True, arguments={"x-dead-letter-exchange": dlx})
    channel.basic_publish("", work, f"job-{i}".encode(), pika.BasicProperties(message_id=str(i)))
    method, _props, _body = channel.basic_get(work)
    assert not method.redelivered
    channel.basic_nack(method.delivery_tag, requeue=True)
    method, props, body = channel.basic_get(work)
    assert method.redelivered and body == f"job-{i}".encode()
    channel.basic_reject(method.delivery_tag, requeue=False)
    # dead-lettering is asynchronous in RabbitMQ: wait for the copy
    for method, props, body in channel.consume(dead, auto_ack=True, inactivity_timeout=5):
        assert method is not None, "nothing dead-lettered within 5 s"
        break
    channel.cancel()
    assert body == f"job-{i}".encode() and props.message_id == str(i)
    assert props.headers["x-death"][0]["reason"] == "rejected"
    connection.close()


@pytest.mark.parametrize("i", range(N))
def test_rpc_round_trip(i: int) -> None:
    connection, channel = _connect()
    server = connection.channel()
    rpc_queue = _name("rpc")
    server.queue_declare(rpc_queue, exclusive=True)
    reply_queue = channel.queue_declare("", exclusive=True).method.queue
    correlation = uuid.uuid4().hex
    channel.basic_publish("", rpc_queue, str(i).encode(),
                          pika.BasicProperties(reply_to=reply_queue, correlation_id=correlation))
    for method, props, body in server.consume(rpc_queue, inactivity_timeout=5):
        assert method is not None, "no request within 5 s"
        server.basic_publish("", props.reply_to, str(int(body) * 2).encode(),
                             pika.BasicProperties(correlation_id=props.correlation_id))
        server.basic_ack(method.delivery_tag)
        break
    server.cancel()
    for method, props, body in channel.consume(reply_queue, inactivity_timeout=5):
        assert method is not None, "no reply within 5 s"
        assert props.correlation_id == correlation and body == str(i * 2).encode()
        channel.basic_ack(method.delivery_tag)
        break
    channel.cancel()
    connection.close()
