"""Push delivery into an asyncio event loop through the channel's ``on_events`` hook, including
deliveries produced by the broker's timer thread (expiry and dead-lettering with nobody publishing)."""

import asyncio

import minimq


async def _next_event(channel, woken: asyncio.Event, timeout: float = 5.0):
    while True:
        event = channel.pop_event()
        if event is not None:
            return event
        woken.clear()
        event = channel.pop_event()  # an event may have landed between the first look and clear()
        if event is not None:
            return event
        await asyncio.wait_for(woken.wait(), timeout)


def _attach(channel) -> asyncio.Event:
    loop = asyncio.get_running_loop()
    woken = asyncio.Event()
    channel.on_events = lambda: loop.call_soon_threadsafe(woken.set)
    return woken


def test_deliveries_from_another_thread_wake_the_event_loop():
    async def main():
        broker = minimq.Broker()
        consumer = broker.channel(inline=False)
        consumer.queue_declare("jobs")
        woken = _attach(consumer)
        consumer.basic_consume("jobs", auto_ack=True)
        publisher = broker.channel()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: [publisher.basic_publish("", "jobs", b"%d" % i) for i in range(3)])
        bodies = [(await _next_event(consumer, woken)).body for _ in range(3)]
        assert bodies == [b"0", b"1", b"2"]
        broker.close()

    asyncio.run(main())


def test_timer_thread_dead_letters_into_an_asyncio_consumer():
    async def main():
        broker = minimq.Broker()  # real clock: the timer thread drives expiry
        ch = broker.channel(inline=False)
        ch.exchange_declare("dlx", "fanout")
        ch.queue_declare("dead")
        ch.queue_bind("dead", "dlx")
        ch.queue_declare("work", arguments={"x-message-ttl": 20, "x-dead-letter-exchange": "dlx"})
        woken = _attach(ch)
        ch.basic_consume("dead", auto_ack=True)
        ch.basic_publish("", "work", b"too late")
        event = await _next_event(ch, woken)
        assert event.body == b"too late"
        assert event.headers["x-death"][0]["reason"] == "expired"
        assert broker.get_queue("work").message_count == 0
        broker.close()

    asyncio.run(main())


def test_manual_clock_expiry_reaches_an_asyncio_consumer_before_advance_returns():
    async def main():
        clock = minimq.ManualClock()
        broker = minimq.Broker(clock=clock)
        ch = broker.channel(inline=False)
        ch.exchange_declare("dlx", "fanout")
        ch.queue_declare("dead")
        ch.queue_bind("dead", "dlx")
        ch.queue_declare("work", arguments={"x-message-ttl": 1000, "x-dead-letter-exchange": "dlx"})
        woken = _attach(ch)
        ch.basic_consume("dead", auto_ack=True)
        ch.basic_publish("", "work", b"m")
        clock.advance(0.999)
        assert ch.pop_event() is None
        clock.advance(0.001)
        event = await _next_event(ch, woken, timeout=1)
        assert event.body == b"m"

    asyncio.run(main())
