"""2. Work queues, asyncio: three workers share one queue; prefetch_count=1 gives fair dispatch.

Each worker is a task with its own channel; a slow worker holds one unacked task at a time, so the
fast ones take more.  Run it: ``python examples/aio/2_work_queues.py``
"""

import asyncio

import minimq
import minimq.aio

TASKS = 24


async def worker(conn, name: str, seconds: float, done: dict, finished: asyncio.Event) -> None:
    ch = await conn.channel()
    await ch.basic_qos(prefetch_count=1)
    async for delivery in ch.consume("tasks"):
        async with delivery.process():
            await asyncio.sleep(seconds)              # the work
            done[name].append(int(delivery.body))
        if sum(len(tasks) for tasks in done.values()) == TASKS:
            finished.set()


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        ch = await conn.channel()
        await ch.queue_declare("tasks")
        for n in range(1, TASKS + 1):
            await ch.basic_publish("", "tasks", b"%d" % n)
        done = {"fast": [], "medium": [], "slow": []}
        finished = asyncio.Event()
        workers = [asyncio.create_task(worker(conn, name, seconds, done, finished))
                   for name, seconds in (("fast", 0.001), ("medium", 0.005), ("slow", 0.02))]
        await finished.wait()
        for task in workers:
            task.cancel()                             # cancelling a worker cancels its consumer
        await asyncio.gather(*workers, return_exceptions=True)
        for name, tasks in done.items():
            print(f" {name:>6} worker did {len(tasks):2} tasks: {tasks}")
        print(f" [.] all {TASKS} tasks done once: {sorted(t for ts in done.values() for t in ts) == list(range(1, TASKS + 1))}")
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
