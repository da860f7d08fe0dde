"""3. Publish/subscribe, in the application API: a fanout exchange copies every message to each queue.

RabbitMQ tutorial three: the producer publishes log lines to the fanout exchange ``logs`` and does
not care who listens.  Two listeners, ``screen`` and ``disk``, each have their own queue bound to
``logs``, so each receives every line.

Run it: ``python examples/app/3_publish_subscribe.py [URL]``
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from minimq.app import App, Exchange, Queue

QUEUES = ("logs.screen", "logs.disk")
EXCHANGES = ("logs",)
LINES = ("info: service started", "warning: disk 91% full", "error: request failed")


@dataclass
class Outcome:
    screen: list[str]
    disk: list[str]


def say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: handlers print from worker threads


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the subscribers did not receive every line in time")
        time.sleep(0.01)


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    app = App(target)
    logs = Exchange("logs" + suffix, type="fanout")
    outcome = Outcome(screen=[], disk=[])
    lock = threading.Lock()

    # a fanout exchange ignores routing keys: binding the queue is enough
    @app.listener(queue=Queue("logs.screen" + suffix), exchange=logs)
    def screen(line: str) -> None:
        say(f" [screen] got {line!r}")
        with lock:
            outcome.screen.append(line)

    @app.listener(queue=Queue("logs.disk" + suffix), exchange=logs)
    def disk(line: str) -> None:
        say(f" [disk]   got {line!r}")
        with lock:
            outcome.disk.append(line)

    with app:
        for line in LINES:
            app.template.convert_and_send(logs.name, "", line)
        say(f" [x] Published {len(LINES)} lines to 'logs'")
        wait_until(lambda: len(outcome.screen) == len(outcome.disk) == len(LINES))
    app.close()
    return outcome


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
