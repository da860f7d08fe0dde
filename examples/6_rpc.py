"""6. RPC: request/reply over queues with ``reply_to`` and ``correlation_id``.

RabbitMQ tutorial six, on minimq's own API.  A server consumes requests from ``rpc_queue`` and
computes Fibonacci numbers; a client publishes a request and waits for the answer.  Two message
properties make it work:

* ``reply_to``: where the server should send the answer (a queue name);
* ``correlation_id``: a unique id per request, copied into the reply, so the client can match a
  reply to its request and ignore anything else that lands in its reply queue.

Two ways to receive replies are shown:

1. the classic way: the client declares an *exclusive*, server-named callback queue and consumes it;
2. direct reply-to: the client consumes the pseudo-queue ``amq.rabbitmq.reply-to`` (with
   ``auto_ack=True``) and sets ``reply_to="amq.rabbitmq.reply-to"``; the broker rewrites it to a
   channel-specific name and routes the reply straight to the client's channel, with no queue.

The server runs in its own thread with a pull-style channel (``inline=False``: it takes requests
with ``get_event``), as a separate RPC server process would.

Run it: ``python examples/6_rpc.py``
"""

from __future__ import annotations

import threading
import time
import uuid

from minimq import Broker, Properties

DIRECT_REPLY_TO = "amq.rabbitmq.reply-to"


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def rpc_server(broker: Broker, stop: threading.Event, ready: threading.Event) -> None:
    channel = broker.channel(inline=False)
    channel.queue_declare("rpc_queue")
    channel.basic_qos(prefetch_count=1)  # one request at a time
    channel.basic_consume("rpc_queue")
    ready.set()
    while not stop.is_set():
        request = channel.get_event(timeout=0.05)
        if request is None:
            continue
        n = int(request.body)
        props = request.properties
        print(f"     [server] fib({n}) requested, reply_to={props.reply_to[:28]}..., "
              f"correlation_id={props.correlation_id[:8]}...")
        # The reply goes through the default exchange to the queue (or pseudo-queue) named by reply_to,
        # carrying the request's correlation id.
        channel.basic_publish("", props.reply_to, str(fib(n)).encode(),
                              Properties(correlation_id=props.correlation_id))
        channel.basic_ack(request.delivery_tag)  # ack after replying: a crash would redeliver it
    channel.connection.close()


class FibonacciRpcClient:
    """Publishes a request, then waits for the reply with the same correlation id."""

    def __init__(self, broker: Broker, direct_reply_to: bool) -> None:
        self.channel = broker.channel(inline=False)  # replies wait in the channel for get_event
        if direct_reply_to:
            self.reply_to = DIRECT_REPLY_TO  # no queue at all; must be consumed with auto_ack=True
        else:
            self.reply_to = self.channel.queue_declare("", exclusive=True).queue
        self.channel.basic_consume(self.reply_to, auto_ack=True)

    def call(self, n: int, timeout: float = 5.0) -> int:
        correlation_id = str(uuid.uuid4())
        self.channel.basic_publish("", "rpc_queue", str(n).encode(),
                                   Properties(reply_to=self.reply_to, correlation_id=correlation_id))
        deadline = time.monotonic() + timeout
        while (remaining := deadline - time.monotonic()) > 0:
            reply = self.channel.get_event(timeout=min(remaining, 0.05))
            if reply is None:
                continue
            if reply.properties.correlation_id == correlation_id:
                return int(reply.body)
            print(f"     [client] ignoring a reply for another request ({reply.properties.correlation_id!r})")
        raise TimeoutError(f"no reply to fib({n}) within {timeout} s")

    def close(self) -> None:
        self.channel.connection.close()


def main() -> None:
    broker = Broker()
    stop, ready = threading.Event(), threading.Event()
    server = threading.Thread(target=rpc_server, args=(broker, stop, ready))
    server.start()
    ready.wait()

    print(" [*] classic RPC: exclusive callback queue")
    client = FibonacciRpcClient(broker, direct_reply_to=False)
    print(f"     [client] callback queue {client.reply_to}")
    # A stray message in the callback queue (a late reply, say) is recognised by its correlation id.
    client.channel.basic_publish("", client.reply_to, b"999", Properties(correlation_id="stale"))
    for n in (10, 30):
        print(f" [x] Requesting fib({n})")
        print(f" [.] Got fib({n}) = {client.call(n)}")
    client.close()

    print(" [*] direct reply-to: amq.rabbitmq.reply-to")
    client = FibonacciRpcClient(broker, direct_reply_to=True)
    for n in (20, 50):
        print(f" [x] Requesting fib({n})")
        print(f" [.] Got fib({n}) = {client.call(n)}")
    client.close()

    stop.set()
    server.join()
    broker.close()


if __name__ == "__main__":
    main()
