"""4. Routing: a direct exchange delivers by exact routing key.

RabbitMQ tutorial four, on minimq's own API.  A *direct* exchange gives a message to the queues
bound with a binding key equal to the message's routing key.  A queue may be bound with several
keys, and several queues may use the same key (each gets a copy).

Here the routing key is a log severity: the ``disk`` subscriber keeps only errors, the ``screen``
subscriber shows info, warning and error.  Nobody binds ``debug``, so debug messages are dropped.

Run it: ``python examples/4_routing.py``
"""

from minimq import Broker

SEVERITIES = ("debug", "info", "warning", "error")


def main() -> None:
    broker = Broker()
    producer = broker.channel()
    producer.exchange_declare("direct_logs", "direct")

    received: dict[str, list[str]] = {}
    for name, keys in (("disk", ["error"]), ("screen", ["info", "warning", "error"])):
        channel = broker.channel()
        queue = channel.queue_declare("", exclusive=True).queue
        for key in keys:
            channel.queue_bind(queue, "direct_logs", key)  # one binding per severity
        received[name] = []

        def callback(delivery, name=name) -> None:
            received[name].append(delivery.routing_key)
            print(f"     [{name}] {delivery.routing_key}: {delivery.body.decode()!r}")

        channel.basic_consume(queue, callback, auto_ack=True)
        print(f" [*] {name!r} bound with keys {keys}")

    for severity in SEVERITIES:
        text = f"something at {severity} level"
        print(f" [x] Sent {severity}:{text!r}")
        # consumers' callbacks run inside basic_publish (inline delivery), so their lines come next
        outcome = producer.basic_publish("direct_logs", severity, text.encode())
        if outcome.name == "UNROUTABLE":
            print(f"     (no queue is bound with key {severity!r}: the message is dropped)")

    print(" [=] summary: " + "; ".join(f"{name} got {keys}" for name, keys in received.items()))
    broker.close()


if __name__ == "__main__":
    main()
