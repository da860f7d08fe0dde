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


# -- a channel closed while confirms are outstanding: every awaiting task gets ChannelClosed at once
async def _outstanding(conn):
    """A channel in confirm mode (wait=True) with a task awaiting its publish's confirm and one in
    wait_for_confirms, both held by a commit that does not finish."""
    ch = await conn.channel()
    await ch.queue_declare("q", durable=True)
    await ch.confirm_select()
    publish = asyncio.ensure_future(ch.basic_publish("", "q", b"x", P2))
    await asyncio.sleep(0)
    waiter = asyncio.ensure_future(ch.wait_for_confirms())
    await asyncio.sleep(0)
    assert not publish.done() and not waiter.done()
    return ch, publish, waiter


async def _both_closed(ch, tasks, reply_code):
    """Both tasks raise the aio channel-closed error whose cause is the error that closed it (None
    when the client closed it); the commit is still held, so nothing but the close woke them."""
    for task in tasks:
        with pytest.raises(ChannelClosed) as closed:
            await task
        if reply_code is None:
            assert closed.value.cause is None
        else:
            assert closed.value.cause.reply_code == reply_code
    assert ch.is_closed
    with pytest.raises(ChannelClosed):
        await ch.wait_for_confirms()


@pytest.mark.parametrize("how", ["channel.close", "connection.close", "channel error", "hard error on a sibling",
                                 "vhost deleted"])
def test_a_close_fails_the_tasks_awaiting_confirms(sbroker, monkeypatch, how):
    gate, entered = hold_commits(sbroker.store, monkeypatch)
    vhost = "v" if how == "vhost deleted" else "/"
    if vhost != "/":
        sbroker.add_vhost(vhost)

    async def main():
        no_executor(asyncio.get_running_loop())
        conn = await minimq.aio.connect(sbroker, vhost)
        ch, publish, waiter = await _outstanding(conn)
        await eventually(entered.is_set)
        if how == "channel.close":
            await ch.close()
            code = None
        elif how == "connection.close":
            await conn.close()
            code = None
        elif how == "channel error":
            with pytest.raises(minimq.NotFound):
                await ch.basic_publish("no-such-exchange", "q", b"y")
            code = 404
        elif how == "hard error on a sibling":
            sibling = await conn.channel()
            with pytest.raises(minimq.errors.NotImplementedByServer):
                await sibling.basic_qos(prefetch_size=1)
            code = 540
        else:
            sbroker.delete_vhost(vhost)
            code = 320
        await _both_closed(ch, [publish, waiter], code)
        gate.set()
        await conn.close()
    run(main())


def test_a_broker_shutdown_from_another_thread_fails_the_tasks_awaiting_confirms(sbroker, monkeypatch):
    gate, entered = hold_commits(sbroker.store, monkeypatch)

    async def main():
        conn = await minimq.aio.connect(sbroker)
        ch, publish, waiter = await _outstanding(conn)
        await eventually(entered.is_set)
        # broker.close() closes every connection, then waits for the store (held here) in its own thread
        closer = threading.Thread(target=sbroker.close)
        closer.start()
        await _both_closed(ch, [publish, waiter], 320)
        gate.set()
        await asyncio.get_running_loop().run_in_executor(None, closer.join)
    run(main())


# -- tx_commit: awaited on the loop like a confirm, never in an executor
def test_tx_commit_without_a_store_never_suspends():
    broker = Broker()

    async def main():
        no_executor(asyncio.get_running_loop())
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q")
            await ch.tx_select()
            await ch.basic_publish("", "q", b"x")
            commit = ch.tx_commit()
            with pytest.raises(StopIteration):  # done on its first step: it never waits for anything
                commit.send(None)
            assert broker.get_queue("q").message_count == 1
    run(main())
    broker.close()


def test_tx_commit_with_a_store_awaits_the_commit_on_the_loop(tmp_path, monkeypatch):
    path = str(tmp_path / "tx.db")
    broker = Broker(store=SQLiteStore(path, synchronous="NORMAL"))
    gate, entered = hold_commits(broker.store, monkeypatch)

    async def main():
        no_executor(asyncio.get_running_loop())
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.tx_select()
            for i in range(3):
                await ch.basic_publish("", "q", b"%d" % i, P2)
            commit = asyncio.ensure_future(ch.tx_commit())
            await eventually(entered.is_set)
            for _ in range(5):  # the loop runs other work while the commit is held
                await asyncio.sleep(0)
            assert not commit.done()
            assert broker.get_queue("q").message_count == 3  # applied at once; durable later
            gate.set()
            await commit
            # a second commit with nothing new is covered by a commit that is already done
            await ch.tx_commit()
    run(main())
    broker.close()
    reopened = Broker(store=SQLiteStore(path, synchronous="NORMAL"))
    ch = reopened.channel()
    assert [ch.basic_get("q", auto_ack=True).body for _ in range(3)] == [b"0", b"1", b"2"]
    reopened.close()


def test_a_failed_commit_raises_from_tx_commit(sbroker, monkeypatch):
    store = sbroker.store
    write = store._write
    failed = []

    def failing(batch):
        if not failed:
            failed.append(1)
            raise StoreIOError("simulated I/O error", store.path)
        write(batch)

    async def main():
        no_executor(asyncio.get_running_loop())
        async with await minimq.aio.connect(sbroker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.tx_select()
            monkeypatch.setattr(store, "_write", failing)
            await ch.basic_publish("", "q", b"x", P2)
            with pytest.raises(StoreIOError, match="simulated"):
                await ch.tx_commit()
            assert ch.is_open  # as the core's tx_commit: the store's error, the channel stays open
            await ch.basic_publish("", "q", b"y", P2)
            await ch.tx_commit()  # the store retries the failed batch with the next commit
    run(main())


def test_closing_fails_a_tx_commit_awaiting_its_store_commit(sbroker, monkeypatch):
    gate, entered = hold_commits(sbroker.store, monkeypatch)

    async def main():
        conn = await minimq.aio.connect(sbroker)
        ch = await conn.channel()
        await ch.queue_declare("q", durable=True)
        await ch.tx_select()
        await ch.basic_publish("", "q", b"x", P2)
        commit = asyncio.ensure_future(ch.tx_commit())
        await eventually(entered.is_set)
        await conn.close()
        with pytest.raises(ChannelClosed):
            await commit
        gate.set()
    run(main())


def test_tx_commit_with_a_store_without_tickets_waits_in_the_executor():
    flushed = []

    class FlushOnlyStore:
        """A store with flush() only (no commit_ticket/when_durable): blocking is the one way to wait."""

        def recover(self, lock, clock):
            from minimq.store import RecoveredState
            return RecoveredState([], [], [], [], lambda v, q: iter(()), True)

        def flush(self):
            flushed.append(threading.current_thread())

        def __getattr__(self, name):
            if name in ("commit_ticket", "when_durable"):
                raise AttributeError(name)
            return lambda *args: None

    broker = Broker(store=FlushOnlyStore())

    async def main():
        async with await minimq.aio.connect(broker) as conn:
            ch = await conn.channel()
            await ch.queue_declare("q", durable=True)
            await ch.tx_select()
            await ch.basic_publish("", "q", b"x", P2)
            await ch.tx_commit()
            assert broker.get_queue("q").message_count == 1
            assert len(flushed) == 1 and flushed[0] is not threading.current_thread()  # not on the loop
    run(main())
    broker.close()
