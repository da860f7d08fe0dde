"""aio-pika on minimq (``minimq.compat.aio_pika``) against aio-pika on a real RabbitMQ, and against
minimq's native asyncio API, in one run.

The same client code runs against each target: pipelined publish -> consume -> ack (confirmed
publishes, prefetch 100, one consumer task) and sequential RPC round trips with
``aio_pika.patterns.RPC``.  Wall-clock time (the server of the RabbitMQ target is another process),
rounds interleaved target by target, the best round reported.

    python benchmarks/aio_pika_bench.py                 # needs RabbitMQ on 127.0.0.1:5672 for its column
    python benchmarks/aio_pika_bench.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import time
import uuid
from typing import Any, Awaitable, Callable

import aio_pika
from aio_pika.patterns import RPC

import minimq
from minimq.aio import connect as native_connect
from minimq.compat.aio_pika import install, uninstall

URL = "amqp://guest:guest@127.0.0.1:5672/"


async def aio_pika_pipeline(n: int) -> None:
    """publish (confirmed) -> consume -> ack, ``n`` messages, through aio-pika."""
    connection = await aio_pika.connect(URL)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=100)
    queue = await channel.declare_queue(f"bench.{uuid.uuid4().hex[:8]}", auto_delete=True)
    done = asyncio.Event()
    seen = 0

    async def on_message(message: Any) -> None:
        nonlocal seen
        await message.ack()
        seen += 1
        if seen == n:
            done.set()

    await queue.consume(on_message)
    body = b"x" * 100
    window = []
    for _ in range(n):
        window.append(channel.default_exchange.publish(aio_pika.Message(body), queue.name))
        if len(window) == 100:
            await asyncio.gather(*window)
            window.clear()
    if window:
        await asyncio.gather(*window)
    await done.wait()
    await connection.close()


async def aio_pika_rpc(n: int) -> None:
    """``n`` sequential RPC round trips with aio-pika's RPC pattern."""
    connection = await aio_pika.connect(URL)
    channel = await connection.channel()
    rpc = await RPC.create(channel)
    name = f"bench.rpc.{uuid.uuid4().hex[:8]}"

    async def echo(*, x: int) -> int:
        return x

    await rpc.register(name, echo, auto_delete=True)
    for i in range(n):
        await rpc.call(name, kwargs={"x": i})
    await rpc.close()
    await connection.close()


async def native_pipeline(broker: minimq.Broker, n: int) -> None:
    """The same pipeline on minimq's native asyncio API (``minimq.aio``)."""
    connection = await native_connect(broker)
    channel = await connection.channel()
    await channel.confirm_select()
    await channel.basic_qos(prefetch_count=100)
    queue = (await channel.queue_declare("", exclusive=True)).queue
    body = b"x" * 100
    async with channel.consume(queue) as deliveries:
        for _ in range(n):
            await channel.basic_publish("", queue, body)
            delivery = await deliveries.__anext__()
            await delivery.ack()
    await connection.close()


def best_of(rounds: int, run: Callable[[], Awaitable[None]]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        asyncio.run(run())
        best = min(best, time.perf_counter() - start)
    return best


def rabbitmq_answers() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5672), timeout=1.0):
            return True
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    args = parser.parse_args()
    messages, calls, rounds = (500, 100, 3) if args.quick else (5000, 1000, 5)
    print(f"aio-pika benchmark: Python {platform.python_version()}, aio-pika {aio_pika.__version__}, "
          f"{messages} messages / {calls} RPC calls per round, best of {rounds} rounds, wall clock")
    results: dict[str, dict[str, float]] = {}
    broker = minimq.Broker()
    install(broker)
    try:
        results["aio-pika on minimq"] = {"pipeline": best_of(rounds, lambda: aio_pika_pipeline(messages)),
                                         "rpc": best_of(rounds, lambda: aio_pika_rpc(calls))}
    finally:
        uninstall()
        broker.close()
    if rabbitmq_answers():
        results["aio-pika on RabbitMQ"] = {"pipeline": best_of(rounds, lambda: aio_pika_pipeline(messages)),
                                           "rpc": best_of(rounds, lambda: aio_pika_rpc(calls))}
    native = minimq.Broker()
    try:
        results["minimq.aio (native)"] = {"pipeline": best_of(rounds, lambda: native_pipeline(native, messages))}
    finally:
        native.close()
    print(f"{'target':<24} {'publish->consume->ack':>24} {'RPC round trip':>16}")
    for name, figures in results.items():
        pipeline = f"{messages / figures['pipeline']:,.0f} msg/s"
        rpc = f"{figures['rpc'] / calls * 1e6:,.0f} µs" if "rpc" in figures else "-"
        print(f"{name:<24} {pipeline:>24} {rpc:>16}")
    if "aio-pika on RabbitMQ" in results:
        on_minimq, on_rabbit = results["aio-pika on minimq"], results["aio-pika on RabbitMQ"]
        print(f"aio-pika, minimq vs RabbitMQ: pipeline {on_rabbit['pipeline'] / on_minimq['pipeline']:.2f}x, "
              f"RPC {on_rabbit['rpc'] / on_minimq['rpc']:.2f}x faster (target: 20x)")
        native_speed = on_rabbit["pipeline"] / results["minimq.aio (native)"]["pipeline"]
        print(f"minimq.aio (native) vs aio-pika on RabbitMQ: pipeline {native_speed:.1f}x faster")
    else:
        print("RabbitMQ not reachable on 127.0.0.1:5672: its column is missing")


if __name__ == "__main__":
    main()
