"""5. Topics: a topic exchange routes by patterns over dot-separated words.

RabbitMQ tutorial five, on minimq's own API.  A *topic* exchange's routing keys are words separated
by dots (``quick.orange.rabbit``: speed.colour.species).  A binding key is a pattern over words:

* ``*`` matches exactly one word,
* ``#`` matches zero or more words,
* any other word matches itself.

Queue ``Q1`` wants every orange animal (``*.orange.*``); queue ``Q2`` wants every rabbit
(``*.*.rabbit``) and everything lazy (``lazy.#``).  A message matching several bindings of one queue
still reaches that queue once.  ``mandatory=True`` asks for unroutable messages to come back.

Run it: ``python examples/5_topics.py``
"""

from minimq import Broker

BINDINGS = {"Q1": ["*.orange.*"], "Q2": ["*.*.rabbit", "lazy.#"]}

KEYS = [
    "quick.orange.rabbit",  # Q1 and Q2
    "lazy.orange.elephant",  # Q1 and Q2
    "quick.orange.fox",  # Q1
    "lazy.brown.fox",  # Q2
    "lazy.pink.rabbit",  # Q2 -- matches both of its bindings, delivered once
    "quick.brown.fox",  # nobody
    "orange",  # nobody: '*.orange.*' needs exactly three words
    "quick.orange.new.rabbit",  # nobody: four words
    "lazy.orange.new.rabbit",  # Q2: '#' takes 'orange.new.rabbit'
    "lazy",  # Q2: '#' may match zero words
]


def main() -> None:
    broker = Broker()
    producer = broker.channel()
    producer.exchange_declare("topic_logs", "topic")
    returned: list[str] = []
    producer.add_on_return_callback(lambda r: returned.append(r.routing_key))

    got: dict[str, list[str]] = {}
    for queue, patterns in BINDINGS.items():
        channel = broker.channel()
        channel.queue_declare(queue, exclusive=True)
        for pattern in patterns:
            channel.queue_bind(queue, "topic_logs", pattern)
        got[queue] = []
        channel.basic_consume(queue, lambda d, q=queue: got[q].append(d.routing_key), auto_ack=True)
        print(f" [*] {queue} bound to 'topic_logs' with {patterns}")

    print()
    print(f" {'routing key':<26} delivered to")
    for key in KEYS:
        before = {q: len(v) for q, v in got.items()}
        producer.basic_publish("topic_logs", key, key.encode(), mandatory=True)
        to = [q for q in got if len(got[q]) > before[q]]
        copies = {q: len(got[q]) - before[q] for q in to}
        where = ", ".join(f"{q} (x{copies[q]})" for q in to) if to else "nobody -> returned to the publisher"
        print(f" {key:<26} {where}")

    print()
    print(f" [=] Q1 received {got['Q1']}")
    print(f" [=] Q2 received {got['Q2']}")
    print(f" [=] returned (unroutable, mandatory): {returned}")
    broker.close()


if __name__ == "__main__":
    main()
