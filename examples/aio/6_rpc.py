"""6. RPC, asyncio: many concurrent calls over one reply queue, matched by correlation_id.

Run it: ``python examples/aio/6_rpc.py``
"""

import asyncio
import uuid

import minimq
import minimq.aio
from minimq import Properties


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


async def server(conn) -> None:
    ch = await conn.channel()
    await ch.queue_declare("rpc_queue")
    await ch.basic_qos(prefetch_count=10)
    async for request in ch.consume("rpc_queue"):
        async with request.process():
            n = int(request.body)
            await ch.basic_publish("", request.reply_to, str(fib(n)).encode(),
                                   Properties(correlation_id=request.correlation_id))


class FibonacciClient:
    def __init__(self, ch) -> None:
        self.ch = ch
        self.pending: dict[str, asyncio.Future] = {}

    async def start(self) -> None:
        self.queue = (await self.ch.queue_declare("", exclusive=True)).queue
        await self.ch.basic_consume(self.queue, self.on_reply, auto_ack=True)

    async def on_reply(self, reply) -> None:
        future = self.pending.pop(reply.correlation_id, None)
        if future is not None:
            future.set_result(int(reply.body))

    async def call(self, n: int) -> int:
        correlation_id = str(uuid.uuid4())
        self.pending[correlation_id] = asyncio.get_running_loop().create_future()
        await self.ch.basic_publish("", "rpc_queue", str(n).encode(),
                                    Properties(reply_to=self.queue, correlation_id=correlation_id))
        return await self.pending[correlation_id]


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        serving = asyncio.create_task(server(conn))
        client = FibonacciClient(await conn.channel())
        await client.start()
        for n, result in zip((10, 30, 20, 50), await asyncio.gather(*(client.call(n) for n in (10, 30, 20, 50)))):
            print(f" [.] Got fib({n}) = {result}")
        many = await asyncio.gather(*(client.call(n % 90) for n in range(1000)))
        print(f" [.] 1000 concurrent calls answered correctly: {many == [fib(n % 90) for n in range(1000)]}")
        serving.cancel()
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
