"""4. Routing, in the application API: a direct exchange routes by exact routing key.

RabbitMQ tutorial four: log lines go to the direct exchange ``direct_logs`` with their severity as
the routing key.  The ``disk`` listener's queue is bound with ``error`` only; the ``screen``
listener's with ``info``, ``warning`` and ``error`` (a list of keys, one binding each).  A ``debug``
line matches no binding: it is published ``mandatory``, so the broker returns it, and the template's
``return_callback`` says so.

Run it: ``python examples/app/4_routing.py [URL]``
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from minimq.app import App, Exchange, ReturnedMessage, Template

QUEUES = ("direct_logs.disk", "direct_logs.screen")
EXCHANGES = ("direct_logs",)
SEVERITIES = ("info", "warning", "error", "debug")


@dataclass
class Outcome:
    disk: list[str]          # severities each listener received, in order
    screen: list[str]
    returned: list[str]      # severities no queue took


def say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: handlers print from worker threads


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the listeners did not receive every routed line in time")
        time.sleep(0.01)


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    app = App(target)
    direct_logs = Exchange("direct_logs" + suffix, type="direct")
    outcome = Outcome(disk=[], screen=[], returned=[])
    lock = threading.Lock()

    @app.listener(queue="direct_logs.disk" + suffix, exchange=direct_logs, routing_key="error")
    def disk(line: str) -> None:
        say(f" [disk]   {line}")
        with lock:
            outcome.disk.append(line.split(":", 1)[0])

    @app.listener(queue="direct_logs.screen" + suffix, exchange=direct_logs,
                  routing_key=["info", "warning", "error"])
    def screen(line: str) -> None:
        say(f" [screen] {line}")
        with lock:
            outcome.screen.append(line.split(":", 1)[0])

    def returned(message: ReturnedMessage) -> None:
        say(f" [x] {message.routing_key!r} was returned: {message.reply_code} {message.reply_text}")
        outcome.returned.append(message.routing_key)

    with app, Template(app.transport, app.converters, return_callback=returned) as template:
        for severity in SEVERITIES:
            # mandatory: a line no queue is bound for comes back instead of vanishing
            template.convert_and_send(direct_logs.name, severity, f"{severity}: something at {severity} level",
                                      mandatory=True)
        wait_until(lambda: len(outcome.disk) + len(outcome.screen) == 4)
    app.close()
    say(f" [.] disk got {outcome.disk}; screen got {outcome.screen}; returned {outcome.returned}")
    return outcome


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
