"""5. Topics, asyncio: ``*`` matches one word, ``#`` zero or more; unroutable mandatory messages
come back to the publisher's return callback.

Run it: ``python examples/aio/5_topics.py``
"""

import asyncio

import minimq
import minimq.aio

KEYS = ["quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox", "lazy.brown.fox",
        "quick.brown.fox", "lazy.orange.new.rabbit"]


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        ch = await conn.channel()
        returned = []
        ch.add_on_return_callback(lambda message: returned.append(message.routing_key))
        await ch.exchange_declare("topic_logs", "topic")
        for queue, patterns in (("Q1", ["*.orange.*"]), ("Q2", ["*.*.rabbit", "lazy.#"])):
            await ch.queue_declare(queue)
            for pattern in patterns:
                await ch.queue_bind(queue, "topic_logs", pattern)
        for key in KEYS:
            await ch.basic_publish("topic_logs", key, key.encode(), mandatory=True)
        await asyncio.sleep(0)                        # return callbacks run on the loop
        for queue in ("Q1", "Q2"):
            got = []
            while (delivery := await ch.basic_get(queue, auto_ack=True)) is not None:
                got.append(delivery.routing_key)
            print(f" [{queue}] {got}")
        print(f" [.] returned (unroutable, mandatory): {returned}")
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
