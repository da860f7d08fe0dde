"""6. RPC, in the application API and asyncio: a listener that returns a value is an RPC server.

RabbitMQ tutorial six: the ``fib`` listener consumes ``rpc_queue`` and *returns* the answer; the app
publishes the returned value to the request's ``reply_to`` with its ``correlation_id``.  The client
is the app's :class:`AsyncTemplate`: ``convert_send_and_receive`` sends the request with direct
reply-to and awaits the reply carrying its correlation id, so many calls can wait at once and each
gets its own answer.

Run it: ``python examples/app/6_rpc.py [URL]``
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import dataclass

from minimq.app import App

QUEUES = ("rpc_queue",)
EXCHANGES: tuple[str, ...] = ()
CONCURRENT_CALLS = 100


@dataclass
class Outcome:
    answers: dict[int, int]           # n -> fib(n), one call at a time
    concurrent_calls_right: int       # of CONCURRENT_CALLS calls in flight at once, how many got their own answer


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


async def run(target: str, suffix: str) -> Outcome:
    app = App(target)
    queue = "rpc_queue" + suffix

    @app.listener(queue=queue, concurrency=2, prefetch=20)
    async def serve_fib(n: int) -> int:
        return fib(n)

    async with app:
        client = app.async_template
        answers = {}
        for n in (10, 30, 20, 50):
            print(f" [x] Requesting fib({n})")
            answers[n] = await client.convert_send_and_receive("", queue, n)
            print(f" [.] Got fib({n}) = {answers[n]}")
        numbers = [n % 60 for n in range(CONCURRENT_CALLS)]
        replies = await asyncio.gather(*(client.convert_send_and_receive("", queue, n) for n in numbers))
        right = sum(reply == fib(n) for n, reply in zip(numbers, replies))
        print(f" [.] {right} of {CONCURRENT_CALLS} concurrent calls got their own answer")
        await client.close()
    await app.close_async()
    return Outcome(answers, right)


def main(target: str = "memory://", suffix: str = "") -> Outcome:
    return asyncio.run(run(target, suffix))


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
