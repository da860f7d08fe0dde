"""4. Routing, asyncio: a direct exchange delivers by exact routing key (severity here).

Run it: ``python examples/aio/4_routing.py``
"""

import asyncio

import minimq
import minimq.aio


async def main() -> None:
    broker = minimq.Broker()
    async with await minimq.aio.connect(broker) as conn:
        ch = await conn.channel()
        await ch.exchange_declare("direct_logs", "direct")
        bindings = {"disk": ["error"], "screen": ["info", "warning", "error"]}
        for queue, severities in bindings.items():
            await ch.queue_declare(queue, exclusive=True)
            for severity in severities:
                await ch.queue_bind(queue, "direct_logs", severity)
        for severity in ("info", "warning", "error", "debug"):
            outcome = await ch.basic_publish("direct_logs", severity, f"a {severity} message".encode())
            print(f" [x] Sent {severity}: {outcome.name.lower()}")
        for queue, severities in bindings.items():
            got = []
            async with ch.consume(queue) as messages:
                async for delivery in messages:
                    await delivery.ack()
                    got.append(delivery.routing_key)
                    if len(got) == len(severities):
                        break
            print(f" [{queue}] got {got}")
    broker.close()


if __name__ == "__main__":
    asyncio.run(main())
