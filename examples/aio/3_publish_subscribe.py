"""3. Publish/subscribe, asyncio: a fanout exchange copies each message to every bound queue.

Run it: ``python examples/aio/3_publish_subscribe.py``
"""

import asyncio

import minimq
import minimq.aio

LINES = [b"info: service started", b"warning: disk 91% full", b"error: request failed"]


async def subscriber(conn, name: str, ready: asyncio.Event) -> list:
    ch = await conn.channel()
    queue = (await ch.queue_declare("", exclusive=True)).queue   # server-named, private
    await ch.queue_bind(queue, "logs")
    got = []
    async with ch.consume(queue, auto_ack=True) as messages:
        ready.set()
        async for delivery in messages:
            print(f" [{name}] got {delivery.body.decode()!r}")
            got.append(delivery.body)
            if len(got) == len(LINES):
                return got


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        ch = await conn.channel()
        await ch.exchange_declare("logs", "fanout")
        ready = [asyncio.Event(), asyncio.Event()]
        subscribers = [asyncio.create_task(subscriber(conn, name, event))
                       for name, event in zip(("screen", "disk"), ready)]
        for event in ready:
            await event.wait()
        for line in LINES:
            await ch.basic_publish("logs", "", line)
        results = await asyncio.gather(*subscribers)
        print(f" [.] both subscribers got every line: {results[0] == results[1] == LINES}")
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
