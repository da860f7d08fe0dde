"""5. Topics, in the application API and asyncio: a topic exchange routes by key pattern.

RabbitMQ tutorial five: routing keys are three words, ``<speed>.<colour>.<species>``.  ``Q1`` is
bound with ``*.orange.*`` (``*`` is exactly one word), ``Q2`` with ``*.*.rabbit`` and ``lazy.#``
(``#`` is zero or more words).  The listeners are ``async def`` and the app runs them under
``async with app``; an :class:`AsyncTemplate` publishes each key ``mandatory``, so a key no binding
matches comes back to the ``return_callback``.  A message that matches both of Q2's bindings
(``lazy.pink.rabbit``) reaches Q2 once.

Run it: ``python examples/app/5_topics.py [URL]``
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from minimq.app import App, AsyncTemplate, Exchange, Inbound, ReturnedMessage

QUEUES = ("topic_logs.Q1", "topic_logs.Q2")
EXCHANGES = ("topic_logs",)
KEYS = ("quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox", "lazy.brown.fox", "lazy.pink.rabbit",
        "quick.brown.fox", "orange", "quick.orange.new.rabbit", "lazy.orange.new.rabbit", "lazy")


@dataclass
class Outcome:
    q1: list[str]            # routing keys each queue received, in order
    q2: list[str]
    returned: list[str]      # keys no binding matched


async def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``; the timeout only guards against a hang."""
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)
    await asyncio.wait_for(poll(), timeout)


async def run(target: str, suffix: str) -> Outcome:
    app = App(target)
    topic_logs = Exchange("topic_logs" + suffix, type="topic")
    outcome = Outcome(q1=[], q2=[], returned=[])

    # every task runs on one event loop, so the lists need no lock
    @app.listener(queue="topic_logs.Q1" + suffix, exchange=topic_logs, routing_key="*.orange.*")
    async def q1(animal: str, message: Inbound) -> None:
        print(f" [Q1] {message.routing_key:<24} {animal}")
        outcome.q1.append(message.routing_key)

    @app.listener(queue="topic_logs.Q2" + suffix, exchange=topic_logs, routing_key=["*.*.rabbit", "lazy.#"])
    async def q2(animal: str, message: Inbound) -> None:
        print(f" [Q2] {message.routing_key:<24} {animal}")
        outcome.q2.append(message.routing_key)

    def returned(message: ReturnedMessage) -> None:
        print(f" [x]  {message.routing_key:<24} matched no binding: returned")
        outcome.returned.append(message.routing_key)

    async with app:
        async with AsyncTemplate(app.async_transport, app.converters, return_callback=returned) as template:
            for key in KEYS:
                await template.convert_and_send(topic_logs.name, key, f"a {key.replace('.', ' ')}", mandatory=True)
        await wait_until(lambda: len(outcome.q1) + len(outcome.q2) + len(outcome.returned) == 12)
    await app.close_async()
    print(f" [.] Q1 got {len(outcome.q1)}, Q2 got {len(outcome.q2)}, {len(outcome.returned)} returned")
    return outcome


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    return asyncio.run(run(target, suffix))


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
