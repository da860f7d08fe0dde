"""1. Hello World, asyncio: one producer, one queue, one consumer (``async for``).

Run it: ``python examples/aio/1_hello_world.py``
"""

import asyncio

import minimq
import minimq.aio


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        ch = await conn.channel()
        await ch.queue_declare("hello")
        outcome = await ch.basic_publish("", "hello", b"Hello World!")
        print(f" [x] Sent 'Hello World!' ({outcome.name.lower()})")
        async with ch.consume("hello") as messages:   # the consumer is cancelled when the block ends
            async for delivery in messages:
                async with delivery.process():        # ack on success, reject if the block raises
                    print(f" [x] Received {delivery.body.decode()!r}")
                break
        print(f" [.] queue 'hello' holds {broker.get_queue('hello').message_count} message(s)")
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
