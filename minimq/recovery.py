"""Rebuild a broker's durable state from its store (called once, by ``Broker.__init__``).

Order: vhosts, then exchanges, then queues with their messages, then bindings (an exchange-to-exchange
binding needs both ends).  Nothing rebuilt here is reported back to the store: ``kernel.store`` is
unset while rebuilding.  Entities are created the way a declare creates them, without the declare
checks (they passed when first declared, and a server-named ``amq.gen-`` queue could not be declared
again by name): :meth:`VirtualHost.create_exchange`, :meth:`VirtualHost.create_queue`,
:meth:`VirtualHost.add_binding`.

Messages go back into their queue in position order with their original ``seq`` (:meth:`Queue.restore`),
so a later requeue still finds its place; deadlines come back from wall-clock time, so a TTL keeps
counting from the original publish.  Once the store is re-attached, queues with deadlines expire what
is already due (:meth:`Queue.expire_due`, dead-lettering it as usual, which the store then records)
and arm their timer.
"""

from __future__ import annotations

from typing import Callable, Iterable

from .exchanges import EXCHANGE_TYPES
from .kernel import Kernel
from .queue import Queue, QueuedMessage
from .store import RecoveredMessage, Store
from .vhost import VirtualHost

__all__ = ["recover_from_store", "RecoveryError"]


class RecoveryError(RuntimeError):
    """The store's state cannot be rebuilt (an exchange type that is not registered, for instance)."""


def recover_from_store(kernel: Kernel, vhost: Callable[[str], VirtualHost], store: Store) -> None:
    """Rebuild the broker's durable state from ``store`` and attach the store to ``kernel``.

    ``vhost(name)`` returns the named vhost, creating it if needed.  If rebuilding fails the store is
    closed (releasing its file) and the error raised, since no broker will own the store.
    """
    try:
        _recover(kernel, vhost, store)
    except BaseException:
        try:
            store.close()
        except Exception:  # the recovery error is the one to report
            pass
        raise


def _recover(kernel: Kernel, vhost_named: Callable[[str], VirtualHost], store: Store) -> None:
    clock = kernel.clock
    state = store.recover(kernel.lock, clock)
    kernel.lock.acquire()
    kernel.store = None
    timed: list[Queue] = []
    try:
        for name in state.vhosts:
            vhost_named(name)
        for x in state.exchanges:
            vhost = vhost_named(x.vhost)
            if x.name in vhost.exchanges:
                continue
            if x.type not in EXCHANGE_TYPES:
                raise RecoveryError(f"cannot recover exchange '{x.name}' in vhost '{x.vhost}': unknown exchange "
                                    f"type '{x.type}'")
            vhost.create_exchange(x.name, x.type, True, x.auto_delete, x.internal, dict(x.arguments))
        # deadline on the broker clock = wall-clock deadline - wall now + monotonic now
        offset = clock.now_ms() - clock.wall_time() * 1000.0
        for q in state.queues:
            vhost = vhost_named(q.vhost)
            queue = vhost.create_queue(q.name, True, None, q.auto_delete, dict(q.arguments))
            if queue.restore(_entries(state.messages(q.vhost, q.name), offset)):
                timed.append(queue)
        for b in state.bindings:
            vhost = vhost_named(b.vhost)
            source = vhost.exchanges.get(b.source)
            destination = (vhost.queues if b.dest_is_queue else vhost.exchanges).get(b.destination)
            if source is None or destination is None:
                continue  # the store removes such bindings with their ends; nothing to route to
            vhost.add_binding(source, destination, b.routing_key, dict(b.arguments) if b.arguments else None)
    finally:
        kernel.store = store
        kernel.release()
    if timed:
        with kernel:
            now = clock.now_ms()
            for queue in timed:
                queue.expire_due(now)


def _entries(recovered: Iterable[RecoveredMessage], offset: float) -> Iterable[QueuedMessage]:
    """The queue's records of recovered messages, deadlines moved onto the broker clock."""
    for rm in recovered:
        expires_at = rm.expires_at
        if expires_at is not None:
            expires_at += offset
        entry = QueuedMessage(rm.seq, rm.message, expires_at)
        entry.redelivered = rm.redelivered
        entry.delivery_count = rm.delivery_count
        yield entry
