"""2. Work queues, in the application API: one queue, three competing workers.

RabbitMQ tutorial two: tasks go to ``task_queue``; a listener with ``concurrency=3`` runs three
workers, each its own consumer, and ``prefetch=1`` means a worker is given its next task only once
it acked the last one (fair dispatch: a busy worker is not handed more).  Each task is a ``Task``
dataclass, converted from the JSON the template sent; a task's ``dots`` make it take longer.

Run it: ``python examples/app/2_work_queues.py [URL]``
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass

from minimq.app import App

QUEUES = ("task_queue",)
EXCHANGES: tuple[str, ...] = ()
TASKS = 12


@dataclass
class Task:
    number: int
    dots: int


@dataclass
class Outcome:
    done: list[int]          # task numbers, sorted: each task done exactly once
    workers_used: int        # how many of the three workers did some task


def say(line: str) -> None:
    sys.stdout.write(line + "\n")  # one write per line: handlers print from worker threads


def wait_until(condition, timeout: float = 10.0) -> None:
    """Wait for ``condition()``; the timeout only guards against a hang."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the workers did not finish every task in time")
        time.sleep(0.01)


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    app = App(target)
    queue = "task_queue" + suffix
    done_by: dict[int, str] = {}
    lock = threading.Lock()

    @app.listener(queue=queue, concurrency=3, prefetch=1)
    def work(task: Task) -> None:
        time.sleep(0.01 * task.dots)  # the "work"
        worker = threading.current_thread().name.rsplit("-", 1)[1]
        say(f" [worker {worker}] done task {task.number} ({'.' * task.dots})")
        with lock:
            done_by[task.number] = worker

    with app:  # returns once all three workers consume, so the tasks are shared among them
        for number in range(1, TASKS + 1):
            app.template.convert_and_send("", queue, Task(number, dots=number % 4 + 1))
        say(f" [x] Sent {TASKS} tasks")
        wait_until(lambda: len(done_by) == TASKS)
    app.close()
    outcome = Outcome(sorted(done_by), workers_used=len(set(done_by.values())))
    say(f" [.] {len(outcome.done)} tasks done by {outcome.workers_used} workers")
    return outcome


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
