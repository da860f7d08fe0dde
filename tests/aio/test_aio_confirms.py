"""minimq.aio publisher confirms with a store: awaited on the loop (no executor), never blocking it."""

from __future__ import annotations

import asyncio
import threading

import pytest

import minimq.aio
from minimq import Broker, ChannelClosed, ConfirmTimeout, Properties, PublishNacked, PublishOutcome
from minimq.persistence import SQLiteStore, StoreIOError

from aio_helpers import eventually, run

P2 = Properties(delivery_mode=2)


@pytest.fixture
def sbroker(tmp_path):
    b = Broker(store=SQLiteStore(str(tmp_path / "aio.db"), synchronous="NORMAL"))
    yield b
    b.close()


def no_executor(loop):
    def refuse(*args):
        raise AssertionError("a confirm was waited for in an executor")
    loop.run_in_executor = refuse


def hold_commits(store, monkeypatch):
    gate, entered = threading.Event(), threading.Event()
    write = store._write

    def held(batch):
        entered.set()
        assert gate.wait(30)
        write(batch)

    monkeypatch.setattr(store, "_write", held)
    return gate, entered


def test_streaming_publishes_then_wait_for_confirms(sbroker):
    async def main():
        no_executor(asyncio.get_running_loop())
        async with await minimq.aio.connect(sbroker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.confirm_select(wait=False)
            seen = []
            ch.add_on_confirm_callback(seen.append)
            for i in range(3000):
                assert await ch.basic_publish("", "q", b"%d" % i, P2) is PublishOutcome.ROUTED
            assert await ch.wait_for_confirms() is True
            last = 0
            for c in seen:
                assert (last + 1 if c.multiple else c.seq) == last + 1 and c.ack
                last = c.seq
            assert last == 3000
    run(main())
    assert sbroker.get_queue("q").message_count == 3000


def test_awaiting_a_publish_does_not_block_the_loop(sbroker, monkeypatch):
    gate, entered = hold_commits(sbroker.store, monkeypatch)

    async def main():
        loop = asyncio.get_running_loop()
        no_executor(loop)
        async with await minimq.aio.connect(sbroker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.confirm_select()  # wait=True: basic_publish returns once durable
            publishes = [asyncio.ensure_future(ch.basic_publish("", "q", b"%d" % i, P2)) for i in range(20)]
            await eventually(entered.is_set)
            ticks = 0
            for _ in range(5):  # the loop runs other work while the commit is held
                await asyncio.sleep(0)
                ticks += 1
            assert ticks == 5 and not any(p.done() for p in publishes)
            with pytest.raises(ConfirmTimeout):
                await ch.wait_for_confirms(timeout=0.01)
            gate.set()
            assert await asyncio.gather(*publishes) == [PublishOutcome.ROUTED] * 20
            assert await ch.wait_for_confirms() is True
    run(main())


def test_a_failed_commit_reaches_the_awaiting_publisher(sbroker, monkeypatch):
    store = sbroker.store
    write = store._write
    failed = []

    def failing(batch):
        if not failed:
            failed.append(1)
            raise StoreIOError("simulated I/O error", store.path)
        write(batch)

    async def main():
        async with await minimq.aio.connect(sbroker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.confirm_select()
            monkeypatch.setattr(store, "_write", failing)
            with pytest.raises(StoreIOError, match="simulated"):
                await ch.basic_publish("", "q", b"x", P2)
            with pytest.raises(PublishNacked) as info:
                await ch.wait_for_confirms_or_die()
            assert isinstance(info.value.error, StoreIOError)
            assert await ch.basic_publish("", "q", b"y", P2) is PublishOutcome.ROUTED  # retried and committed
            assert await ch.wait_for_confirms() is True
    run(main())


def test_closing_fails_the_waiters(sbroker, monkeypatch):
    gate, entered = hold_commits(sbroker.store, monkeypatch)

    async def main():
        async with await minimq.aio.connect(sbroker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.confirm_select(wait=False)
            await ch.basic_publish("", "q", b"x", P2)
            waiter = asyncio.ensure_future(ch.wait_for_confirms())
            await eventually(entered.is_set)
            await ch.close()
            with pytest.raises(ChannelClosed):
                await waiter
            gate.set()
    run(main())


def test_confirm_mode_without_a_store_is_immediate():
    broker = Broker()

    async def main():
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q")
            with pytest.raises(RuntimeError):
                await ch.wait_for_confirms()
            await ch.confirm_select()
            assert await ch.basic_publish("", "q", b"x", P2) is PublishOutcome.ROUTED
            assert await ch.wait_for_confirms() is True
            with pytest.raises(ValueError):
                await ch.confirm_select(wait=False)
    run(main())
    broker.close()
