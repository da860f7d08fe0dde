"""Rebuild a broker's durable state from its store (called once, by ``Broker.__init__``).

Order: vhosts, then exchanges, then queues with their messages, then bindings (an exchange-to-exchange
binding needs both ends).  Nothing rebuilt here is reported back to the store: ``broker._store`` is
unset while rebuilding.  Entities are created the way a declare creates them, without the declare
checks (they passed when first declared, and a server-named ``amq.gen-`` queue could not be declared
again by name).

Messages go back into their queue in position order with their original ``seq``, so a later requeue
still finds its place; deadlines come back from wall-clock time, so a TTL keeps counting from the
original publish.  Once the store is re-attached, queues with deadlines expire what is already due
(dead-lettering it as usual, which the store then records) and arm their timer.

This module uses these internals of :class:`~minimq.queue.Queue`: ``_level_of``, ``_Fifo.fresh``,
``_store_levels``, ``_ready_bytes``, ``_ready_count``, ``_next_seq``, ``_has_ttl``, ``_expire_head`` and
``_arm_timer`` (``tests/persistence`` runs ``Queue._check()`` on every recovered broker).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exchanges import EXCHANGE_TYPES
from .queue import Queue, QueuedMessage
from .vhost import VirtualHost

if TYPE_CHECKING:  # pragma: no cover
    from .broker import Broker

__all__ = ["recover_from_store", "RecoveryError"]


class RecoveryError(RuntimeError):
    """The store's state cannot be rebuilt (an exchange type that is not registered, for instance)."""


def recover_from_store(broker: Broker, store: Any) -> None:
    """Rebuild ``broker`` from ``store``; if that fails the store is closed (releasing its file) and
    the error raised, since no broker will own the store."""
    try:
        _recover(broker, store)
    except BaseException:
        try:
            store.close()
        except Exception:  # the recovery error is the one to report
            pass
        raise


def _recover(broker: Broker, store: Any) -> None:
    state = store.recover(broker._lock, broker._clock)
    clock = broker._clock
    broker._lock.acquire()
    broker._store = None
    timed: list[Queue] = []
    try:
        vhosts = broker.vhosts
        for name in state.vhosts:
            if name not in vhosts:
                vhosts[name] = VirtualHost(broker, name)
        for x in state.exchanges:
            vhost = _vhost(broker, x.vhost)
            if x.name in vhost.exchanges:
                continue
            if x.type not in EXCHANGE_TYPES:
                raise RecoveryError(f"cannot recover exchange '{x.name}' in vhost '{x.vhost}': unknown exchange "
                                    f"type '{x.type}'")
            vhost._create_exchange(x.name, x.type, True, x.auto_delete, x.internal, dict(x.arguments))
        # deadline on the broker clock = wall-clock deadline - wall now + monotonic now
        offset = clock.now_ms() - clock.wall_time() * 1000.0
        for q in state.queues:
            vhost = _vhost(broker, q.vhost)
            arguments = dict(q.arguments)
            queue = Queue(vhost, q.name, vhost._next_seq(), True, None, q.auto_delete, arguments,
                          broker._settings_for(vhost, q.name, arguments))
            vhost.queues[q.name] = queue
            if _load_messages(queue, state.messages(q.vhost, q.name), offset):
                timed.append(queue)
        for b in state.bindings:
            vhost = _vhost(broker, b.vhost)
            source = vhost.exchanges.get(b.source)
            destination = (vhost.queues if b.dest_is_queue else vhost.exchanges).get(b.destination)
            if source is None or destination is None:
                continue  # the store removes such bindings with their ends; nothing to route to
            vhost._add_binding(source, destination, b.routing_key, dict(b.arguments) if b.arguments else None)
    finally:
        broker._store = store
        broker._release()
    if timed:
        broker._lock.acquire()
        try:
            now = clock.now_ms()
            for queue in timed:
                if not queue.deleted:
                    queue._expire_head(now)
                    queue._arm_timer()
        finally:
            broker._release()


def _vhost(broker: Broker, name: str) -> VirtualHost:
    vhost = broker.vhosts.get(name)
    if vhost is None:
        vhost = broker.vhosts[name] = VirtualHost(broker, name)
    return vhost


def _load_messages(queue: Queue, recovered: Any, offset: float) -> bool:
    """Append recovered messages in position order; True if any has a deadline."""
    level_of = queue._level_of
    ready_bytes = 0
    last_seq = 0
    timed = False
    for rm in recovered:
        expires_at = rm.expires_at
        if expires_at is not None:
            expires_at += offset
            timed = True
        entry = QueuedMessage(rm.seq, rm.message, expires_at)
        entry.redelivered = rm.redelivered
        entry.delivery_count = rm.delivery_count
        level_of(rm.message).fresh.append(entry)
        ready_bytes += len(rm.message.body)
        if rm.seq > last_seq:
            last_seq = rm.seq
    queue._ready_bytes += ready_bytes
    queue._ready_count = sum(len(level) for level in queue._store_levels)
    if last_seq >= queue._next_seq:
        queue._next_seq = last_seq + 1
    if timed:
        queue._has_ttl = True
    return timed or queue._has_ttl
