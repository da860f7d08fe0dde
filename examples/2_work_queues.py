"""2. Work queues: several workers share one queue's tasks; prefetch makes the sharing fair.

RabbitMQ tutorial two, on minimq's own API.  Each worker runs in its own thread with its own channel
and acknowledges a task only when it has finished it (manual acks: a worker that dies before acking
gives its task back to the queue).  A task's dots say how long it takes (``task 7 ...`` = 3 units).

Two runs of the same 24 tasks over three workers of different speeds:

1. no prefetch limit: the queue deals tasks out round-robin as soon as they arrive, 8 each, so the
   slow worker holds a pile of tasks while the fast one sits idle;
2. ``basic_qos(prefetch_count=1)``: a worker holds at most one unacked task, so the queue gives the
   next task to whichever worker is free -- each gets a share in proportion to its speed.

Run it: ``python examples/2_work_queues.py``
"""

from __future__ import annotations

import threading
import time

from minimq import Broker

TASKS = 24
UNIT = 0.004  # seconds per dot for the fast worker
WORKERS = {"fast": 1, "medium": 3, "slow": 6}  # slowness factor: seconds per dot = UNIT * factor


def run(broker: Broker, prefetch: int | None) -> dict[str, list[int]]:
    """Publish TASKS tasks, let the three workers drain them; returns the task numbers each did."""
    producer = broker.channel()
    producer.queue_declare("task_queue")
    done: dict[str, list[int]] = {name: [] for name in WORKERS}
    finished = threading.Event()
    count_lock = threading.Lock()
    ready = threading.Barrier(len(WORKERS) + 1)

    def worker(name: str, slowness: int) -> None:
        # inline=False: deliveries wait in the channel until this thread pulls them with get_event
        channel = broker.connect().channel(inline=False)
        if prefetch is not None:
            channel.basic_qos(prefetch_count=prefetch)  # at most `prefetch` unacked tasks at a time
        channel.basic_consume("task_queue")  # manual acks (auto_ack=False is the default)
        ready.wait()
        while not finished.is_set():
            delivery = channel.get_event(timeout=0.05)
            if delivery is None:
                continue
            task = delivery.body.decode()
            time.sleep(task.count(".") * UNIT * slowness)  # "work"
            channel.basic_ack(delivery.delivery_tag)  # done: the queue may send the next one
            with count_lock:
                done[name].append(int(task.split()[1]))
                if sum(len(v) for v in done.values()) == TASKS:
                    finished.set()
        channel.connection.close()

    threads = [threading.Thread(target=worker, args=(n, s)) for n, s in WORKERS.items()]
    for thread in threads:
        thread.start()
    ready.wait()  # every worker is subscribed before the first task is published
    start = time.monotonic()
    for i in range(1, TASKS + 1):
        producer.basic_publish("", "task_queue", f"task {i} {'.' * (1 + i % 3)}".encode())
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    producer.queue_delete("task_queue")
    producer.close()
    label = "no prefetch limit (round-robin)" if prefetch is None else f"prefetch_count={prefetch} (fair dispatch)"
    print(f" [*] {label}: {TASKS} tasks in {elapsed:.2f} s")
    for name, tasks in done.items():
        print(f"     {name:<6} worker (x{WORKERS[name]} slower) did {len(tasks):2d} tasks: {sorted(tasks)}")
    return done


def main() -> None:
    broker = Broker()
    round_robin = run(broker, prefetch=None)
    fair = run(broker, prefetch=1)
    shares = {name: len(tasks) for name, tasks in fair.items()}
    print(f" [=] round-robin shares {[len(t) for t in round_robin.values()]}; fair shares {list(shares.values())}")
    print(" [=] with prefetch_count=1 the fast worker did the most tasks"
          if shares["fast"] > shares["slow"] else " [!] unexpected: the fast worker did not do the most")
    broker.close()


if __name__ == "__main__":
    main()
