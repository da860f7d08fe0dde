"""1. Hello World: one producer, one queue, one consumer.

RabbitMQ tutorial one, on minimq's own API.  The pieces of the AMQP model that appear:

* a **broker** holds exchanges and queues; here it lives in this process (``Broker()``);
* a **channel** is what a client talks through (``broker.channel()`` opens a connection with one);
* a **queue** is a named buffer of messages; declaring it is idempotent, so both sides declare it;
* the **default exchange** ``""`` routes a message to the queue whose name equals its routing key.

Run it: ``python examples/1_hello_world.py``
"""

from minimq import Broker


def main() -> None:
    broker = Broker()

    # -- producer -------------------------------------------------------------------------------
    producer = broker.channel()
    producer.queue_declare("hello")
    # exchange "" (the default exchange) + routing key "hello" -> the queue named "hello"
    outcome = producer.basic_publish("", "hello", b"Hello World!")
    print(f" [x] Sent 'Hello World!' ({outcome.name.lower()})")
    print(f" [.] queue 'hello' holds {broker.get_queue('hello').message_count} message(s)")

    # -- consumer -------------------------------------------------------------------------------
    consumer = broker.channel()
    consumer.queue_declare("hello")  # idempotent: same name, same arguments -> the same queue

    def callback(delivery) -> None:
        print(f" [x] Received {delivery.body.decode()!r} (routing key {delivery.routing_key!r})")

    # A consumer subscribes to a queue; waiting messages are pushed to it right away.  minimq runs
    # callbacks "inline": on the thread whose operation produced the delivery, once the broker's
    # lock is released, so here the callback runs before basic_consume returns.
    print(" [*] Subscribing to 'hello'")
    consumer.basic_consume("hello", callback, auto_ack=True)

    # With the consumer in place, a new publish is delivered at once (inside basic_publish).
    producer.basic_publish("", "hello", b"Hello again!")
    print(f" [.] queue 'hello' holds {broker.get_queue('hello').message_count} message(s)")

    # A routing key that names no queue: the default exchange has nowhere to put the message.
    outcome = producer.basic_publish("", "no-such-queue", b"lost")
    print(f" [x] Sent to 'no-such-queue': {outcome.name.lower()} (dropped: no queue has that name)")
    broker.close()


if __name__ == "__main__":
    main()
