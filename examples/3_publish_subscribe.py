"""3. Publish/subscribe: a fanout exchange copies every message to every bound queue.

RabbitMQ tutorial three, on minimq's own API.  Producers never publish to a queue directly: they
publish to an **exchange**, and the exchange's **bindings** decide which queues get a copy.  A
*fanout* exchange ignores the routing key and gives one copy to each bound queue.

Each subscriber declares its own queue with a server-generated name (``queue_declare("")``) and
``exclusive=True`` (deleted when its connection closes), then binds it to the ``logs`` exchange.

Run it: ``python examples/3_publish_subscribe.py``
"""

from minimq import Broker


def main() -> None:
    broker = Broker()
    producer = broker.channel()
    producer.exchange_declare("logs", "fanout")

    # Nobody is bound yet: a fanout exchange with no bindings drops the message.
    outcome = producer.basic_publish("logs", "", b"log line before anyone listens")
    print(f" [x] Sent 'log line before anyone listens': {outcome.name.lower()} (no queue bound yet)")

    subscribers = {}
    for name in ("screen", "disk"):
        channel = broker.channel()
        queue = channel.queue_declare("", exclusive=True).queue  # server-named, e.g. amq.gen-...
        channel.queue_bind(queue, "logs")  # fanout: the binding key does not matter

        def callback(delivery, name=name) -> None:
            print(f"     [{name}] got {delivery.body.decode()!r}")

        channel.basic_consume(queue, callback, auto_ack=True)
        subscribers[name] = (channel, queue)
        print(f" [*] subscriber {name!r} bound queue {queue[:12]}... to exchange 'logs'")

    for line in ("info: service started", "warning: disk 91% full", "error: request failed"):
        print(f" [x] Sent {line!r}")
        producer.basic_publish("logs", "", line.encode())  # the routing key is ignored by fanout

    # Closing a subscriber's connection deletes its exclusive queue, and with it the binding.
    channel, queue = subscribers["disk"]
    channel.connection.close()
    print(f" [*] subscriber 'disk' disconnected: its queue is gone ({broker.get_queue(queue) is None})")
    print(" [x] Sent 'info: only the screen sees this'")
    producer.basic_publish("logs", "", b"info: only the screen sees this")
    broker.close()


if __name__ == "__main__":
    main()
