"""1. Hello World, in the application API: one listener, one message.

RabbitMQ tutorial one written with ``minimq.app``: the app declares the queue ``hello`` for its
listener, the template publishes a string to it through the default exchange, and the listener
receives it converted back to ``str`` (the template sent it as ``text/plain``).

Run it: ``python examples/app/1_hello_world.py [URL]`` (``memory://`` by default, or
``amqp://guest:guest@127.0.0.1:5672/`` for RabbitMQ).
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from minimq.app import App

#: what this example declares (RabbitMQ runs add a suffix to keep names apart)
QUEUES = ("hello",)
EXCHANGES: tuple[str, ...] = ()


@dataclass
class Outcome:
    received: list[str]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: handlers print from worker threads


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the listener did not receive everything in time")
        time.sleep(0.01)


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    app = App(target)
    queue = "hello" + suffix
    received: list[str] = []
    lock = threading.Lock()  # the handler runs on a worker thread

    @app.listener(queue=queue)
    def greet(text: str) -> None:
        say(f" [x] Received {text!r}")
        with lock:
            received.append(text)

    with app:  # declares 'hello', starts the worker; stops it on the way out
        for text in ("Hello World!", "Hello again!"):
            say(f" [x] Sending {text!r}")
            app.template.convert_and_send("", queue, text)
        wait_until(lambda: len(received) == 2)
    app.close()
    return Outcome(received)


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
