"""A vhost: its exchanges, queues and bindings, and the declare rules (403/404/405/406/503).

Every method runs with the broker lock held and either completes or raises before changing anything
(validation first, then mutation).  Routing beyond one exchange (exchange-to-exchange bindings,
alternate exchanges, ``CC``/``BCC`` keys) is expanded here, once, with each exchange visited at most
once per publish and each queue reached at most once.
"""

from __future__ import annotations

import base64
import os
from typing import TYPE_CHECKING, Any, Iterable

from .arguments import (check_exchange_equivalence, check_queue_equivalence, validate_exchange_arguments,
                        validate_queue_arguments)
from .deadletter import dead_letter_copy, is_cycle, routing_keys_of
from .errors import (AccessRefused, CommandInvalid, NotFound, NotImplementedByServer, PreconditionFailed,
                     ResourceLocked)
from .exchanges import EXCHANGE_TYPES, Binding, DefaultExchange, Exchange, freeze_table
from .message import Message
from .queue import Queue

if TYPE_CHECKING:  # pragma: no cover
    from .broker import Broker
    from .channel import Connection

__all__ = ["VirtualHost", "PREDECLARED"]

PREDECLARED = (
    ("amq.direct", "direct", False),
    ("amq.fanout", "fanout", False),
    ("amq.topic", "topic", False),
    ("amq.headers", "headers", False),
    ("amq.match", "headers", False),
    ("amq.rabbitmq.trace", "topic", True),
)

REPLY_TO = "amq.rabbitmq.reply-to"
_EMPTY: tuple = ()


def random_name(prefix: str) -> str:
    """``prefix`` + 22 URL-safe base64 characters, as RabbitMQ names server-generated queues and tags."""
    return prefix + base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]


def _strip_crlf(name: str) -> str:
    if "\r" in name or "\n" in name:
        return name.replace("\r", "").replace("\n", "")
    return name


class VirtualHost:
    """One namespace of exchanges and queues."""

    def __init__(self, broker: Broker, name: str) -> None:
        self.broker = broker
        self.name = name
        self.queues: dict[str, Queue] = {}
        self.exchanges: dict[str, Exchange] = {}
        #: destination -> the bindings that lead to it (for deletes)
        self._incoming: dict[Any, dict[Binding, None]] = {}
        self._seq = 0
        #: direct reply-to token -> channel
        self.reply_channels: dict[str, Any] = {}
        self.deleted = False
        self.unroutable_dropped = 0
        default = DefaultExchange(self.queues)
        self.exchanges[""] = default
        for name_, type_, internal in PREDECLARED:
            self._create_exchange(name_, type_, True, False, internal, {})

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # -- lookups ------------------------------------------------------------------------------
    def queue_for(self, connection: Connection | None, name: str) -> Queue:
        """The named queue, or 404; 405 if it is exclusive to another connection."""
        queue = self.queues.get(name)
        if queue is None:
            raise NotFound(f"no queue '{name}' in vhost '{self.name}'")
        owner = queue.exclusive_owner
        if owner is not None and owner is not connection:
            raise self._locked(name)
        return queue

    def _locked(self, name: str) -> ResourceLocked:
        return ResourceLocked(
            f"cannot obtain exclusive access to locked queue '{name}' in vhost '{self.name}'. It could be "
            "originally declared on another connection or the exclusive property value does not match "
            "that of the original declaration.")

    def exchange_for(self, name: str) -> Exchange:
        exchange = self.exchanges.get(name)
        if exchange is None:
            raise NotFound(f"no exchange '{name}' in vhost '{self.name}'")
        return exchange

    def _default_refused(self) -> AccessRefused:
        return AccessRefused("operation not permitted on the default exchange")

    # -- exchanges ----------------------------------------------------------------------------
    def exchange_declare(self, name: str, type: str = "direct", passive: bool = False,  # noqa: A002
                         durable: bool = False, auto_delete: bool = False, internal: bool = False,
                         arguments: dict | None = None) -> Exchange:
        arguments = dict(arguments) if arguments else {}
        if passive:
            if name == "":
                raise self._default_refused()
            return self.exchange_for(name)
        if type not in EXCHANGE_TYPES:
            # RabbitMQ says "invalid" when the name is an existing Erlang atom ('' is one), else "unknown"
            adjective = "invalid" if type == "" else "unknown"
            raise CommandInvalid(f"{adjective} exchange type '{type}'")
        name = _strip_crlf(name)
        if name == "":
            raise self._default_refused()
        existing = self.exchanges.get(name)
        if existing is None:
            if name.startswith("amq."):
                raise AccessRefused(f"exchange name '{name}' contains reserved prefix 'amq.*'")
            validate_exchange_arguments(name, self.name, arguments)
            exchange = self._create_exchange(name, type, durable, auto_delete, internal, arguments)
            if durable and self.broker._store is not None:
                self.broker._store.exchange_declared(self.name, name, type, durable, auto_delete, internal, arguments)
            return exchange
        check_exchange_equivalence(name, self.name, type=type, durable=durable, auto_delete=auto_delete,
                                   internal=internal, args=arguments, existing=existing)
        return existing

    def _create_exchange(self, name: str, type_: str, durable: bool, auto_delete: bool, internal: bool,
                         arguments: dict) -> Exchange:
        exchange = EXCHANGE_TYPES[type_](name, durable=durable, auto_delete=auto_delete, internal=internal,
                                         arguments=arguments, seq=self._next_seq())
        if name:
            exchange.policy_alternate = self.broker._exchange_policy_alternate(self.name, name)
        self.exchanges[name] = exchange
        return exchange

    def exchange_delete(self, name: str, if_unused: bool = False) -> None:
        name = _strip_crlf(name)
        if name == "":
            raise self._default_refused()
        if name.startswith("amq."):
            raise AccessRefused(f"deletion of system exchange '{name}' in vhost '{self.name}' not allowed")
        exchange = self.exchanges.get(name)
        if exchange is None:
            return
        if if_unused and exchange.bindings:
            raise PreconditionFailed(f"exchange '{name}' in vhost '{self.name}' in use")
        self._delete_exchange_now(exchange)

    def _delete_exchange_now(self, exchange: Exchange) -> None:
        if exchange.deleted:
            return
        exchange.deleted = True
        del self.exchanges[exchange.name]
        for binding in list(exchange.bindings.values()):
            self._remove_binding(binding, cascade=False)
        for binding in list(self._incoming.get(exchange, ())):
            self._remove_binding(binding, cascade=True)
        self._incoming.pop(exchange, None)
        if exchange.durable and self.broker._store is not None:
            self.broker._store.exchange_deleted(self.name, exchange.name)

    # -- bindings -----------------------------------------------------------------------------
    def _add_binding(self, source: Exchange, destination: Any, routing_key: str, arguments: dict | None) -> None:
        source.validate_binding(routing_key, arguments)
        binding = source.add_binding(destination, routing_key, arguments)
        if binding is None:
            return
        incoming = self._incoming.get(destination)
        if incoming is None:
            incoming = self._incoming[destination] = {}
        incoming[binding] = None
        store = self.broker._store
        if store is not None and source.durable and destination.durable:
            store.binding_added(self.name, source.name, destination.name, destination.is_queue,
                                routing_key, binding.arguments)

    def _remove_binding(self, binding: Binding, cascade: bool = True) -> None:
        source = binding.source
        if source.bindings.get(binding.key) is binding:
            del source.bindings[binding.key]
            source._forget(binding)
        incoming = self._incoming.get(binding.destination)
        if incoming is not None:
            incoming.pop(binding, None)
        store = self.broker._store
        if store is not None and source.durable and binding.destination.durable:
            store.binding_removed(self.name, source.name, binding.destination.name,
                                  binding.destination.is_queue, binding.routing_key, binding.arguments)
        if cascade and source.auto_delete and not source.bindings and not source.deleted:
            self._delete_exchange_now(source)

    def queue_bind(self, connection: Connection | None, queue: str, exchange: str, routing_key: str,
                   arguments: dict | None) -> None:
        queue, exchange = _strip_crlf(queue), _strip_crlf(exchange)
        if exchange == "":
            raise self._default_refused()
        source = self.exchange_for(exchange)
        destination = self.queue_for(connection, queue)
        self._add_binding(source, destination, routing_key, arguments)

    def queue_unbind(self, connection: Connection | None, queue: str, exchange: str, routing_key: str,
                     arguments: dict | None) -> None:
        queue, exchange = _strip_crlf(queue), _strip_crlf(exchange)
        if exchange == "":
            raise self._default_refused()
        source = self.exchanges.get(exchange)
        destination = self.queues.get(queue)
        if source is None or destination is None:
            return
        binding = source.bindings.get((destination, routing_key, _frozen(arguments)))
        if binding is None:
            return
        if destination.exclusive_owner is not None and destination.exclusive_owner is not connection:
            raise self._locked(queue)
        self._remove_binding(binding)

    def exchange_bind(self, destination: str, source: str, routing_key: str, arguments: dict | None) -> None:
        destination, source = _strip_crlf(destination), _strip_crlf(source)
        if destination == "" or source == "":
            raise self._default_refused()
        src = self.exchange_for(source)
        dst = self.exchange_for(destination)
        self._add_binding(src, dst, routing_key, arguments)

    def exchange_unbind(self, destination: str, source: str, routing_key: str, arguments: dict | None) -> None:
        destination, source = _strip_crlf(destination), _strip_crlf(source)
        if destination == "" or source == "":
            raise self._default_refused()
        src = self.exchanges.get(source)
        dst = self.exchanges.get(destination)
        if src is None or dst is None:
            return
        binding = src.bindings.get((dst, routing_key, _frozen(arguments)))
        if binding is not None:
            self._remove_binding(binding)

    def bindings(self) -> list[Binding]:
        """Every explicit binding of the vhost, in creation order per source exchange."""
        return [b for x in self.exchanges.values() for b in x.bindings.values()]

    # -- queues -------------------------------------------------------------------------------
    def queue_declare(self, connection: Connection | None, name: str, passive: bool = False,
                      durable: bool = False, exclusive: bool = False, auto_delete: bool = False,
                      arguments: dict | None = None) -> Queue:
        arguments = dict(arguments) if arguments else {}
        now = self.broker._clock.now_ms()
        if passive:
            queue = self.queue_for(connection, name)
            queue.touch(now)
            return queue
        name = _strip_crlf(name)
        server_named = name == ""
        if server_named:
            name = random_name("amq.gen-")
            while name in self.queues:
                name = random_name("amq.gen-")
        elif name.startswith("amq."):
            raise AccessRefused(f"queue name '{name}' contains reserved prefix 'amq.*'")
        if exclusive:
            durable = False
        existing = self.queues.get(name)
        if existing is not None:
            owner = existing.exclusive_owner
            if (owner is not None and owner is not connection) or (owner is not None) != exclusive:
                raise self._locked(name)
            check_queue_equivalence(name, self.name, durable=durable, auto_delete=auto_delete,
                                    old_durable=existing.durable, old_auto_delete=existing.auto_delete,
                                    args=arguments, old_args=existing.arguments)
            existing.touch(now)
            return existing
        validate_queue_arguments(name, self.name, arguments, durable=durable, exclusive=exclusive,
                                 auto_delete=auto_delete, server_named=server_named)
        queue = Queue(self, name, self._next_seq(), durable, connection if exclusive else None, auto_delete,
                      arguments, self.broker._settings_for(self, name, arguments))
        self.queues[name] = queue
        if exclusive and connection is not None:
            connection._exclusive_queues.append(queue)
        if durable and self.broker._store is not None:
            self.broker._store.queue_declared(self.name, name, arguments, auto_delete)
        return queue

    def queue_purge(self, connection: Connection | None, name: str) -> int:
        return self.queue_for(connection, name).purge()

    def queue_delete(self, connection: Connection | None, name: str, if_unused: bool = False,
                     if_empty: bool = False) -> int:
        name = _strip_crlf(name)
        queue = self.queues.get(name)
        if queue is None:
            return 0
        owner = queue.exclusive_owner
        if owner is not None and owner is not connection:
            raise self._locked(name)
        if queue.quorum and (if_unused or if_empty):
            flag = "if-unused" if if_unused else "if-empty"
            raise NotImplementedByServer(
                f"cannot delete queue '{name}' in vhost '{self.name}'. queue.delete operations with "
                f"{flag} flag set are not supported by quorum queues")
        if if_empty and queue.message_count:
            raise PreconditionFailed(f"queue '{name}' in vhost '{self.name}' not empty")
        if if_unused and queue.consumer_count:
            raise PreconditionFailed(f"queue '{name}' in vhost '{self.name}' in use")
        count = queue.message_count
        self.delete_queue_now(queue)
        return count

    def delete_queue_now(self, queue: Queue) -> None:
        """Delete without checks (delete, auto-delete, x-expires, owner closed): nothing is dead-lettered."""
        if queue.deleted:
            return
        queue.cancel_all_consumers()
        queue.purge()
        queue.deleted = True
        if self.queues.get(queue.name) is queue:
            del self.queues[queue.name]
        for binding in list(self._incoming.get(queue, ())):
            self._remove_binding(binding, cascade=True)
        self._incoming.pop(queue, None)
        owner = queue.exclusive_owner
        if owner is not None and queue in owner._exclusive_queues:
            owner._exclusive_queues.remove(queue)
        if queue.durable and self.broker._store is not None:
            self.broker._store.queue_deleted(self.name, queue.name)

    # -- routing ------------------------------------------------------------------------------
    def route(self, exchange: Exchange, message: Message, routing_key: str, headers: dict | None,
              extra_keys: list[str] | None) -> Iterable[Queue]:
        """Queues a message reaches: through e2e bindings and alternate exchanges, once each."""
        if extra_keys is None and not exchange.exchange_destinations:
            found = exchange.route(routing_key, headers)
            if found or exchange.alternate_exchange is None:
                return found
        keys = [routing_key] if extra_keys is None else [routing_key, *extra_keys]
        return self._route_keys(exchange, keys, headers)

    def _route_keys(self, exchange: Exchange, keys: list[str], headers: dict | None) -> list[Queue]:
        exchanges = self.exchanges
        visited: set[Exchange] = set()
        queues: dict[Queue, None] = {}
        pending = [exchange]
        while pending:
            current = pending.pop()
            if current in visited:
                continue
            visited.add(current)
            matched: dict[Any, None] = {}
            for key in keys:
                for dest in current.route(key, headers):
                    matched[dest] = None
            if not matched:
                alternate = current.alternate_exchange
                if alternate:  # the default exchange as an AE routes nothing: its bindings are implicit,
                    target = exchanges.get(alternate)  # honoured only for a publish to it (RabbitMQ too)
                    if target is not None:
                        pending.append(target)
                continue
            for dest in matched:
                if dest.is_queue:
                    queues[dest] = None
                else:
                    pending.append(dest)
        if len(queues) < 2:
            return list(queues)
        return sorted(queues, key=lambda q: q.seq)

    # -- dead-lettering -----------------------------------------------------------------------
    def dead_letter(self, queue: Queue, message: Message, reason: str) -> None:
        """Republish a dead message through the queue's DLX (dropped silently if the DLX is missing)."""
        dlx_name = queue.dead_letter_exchange
        if dlx_name is None:
            return
        exchange = self.exchanges.get(dlx_name)
        if exchange is None:
            return
        broker = self.broker
        dlrk = queue.dead_letter_routing_key
        copy = dead_letter_copy(message, queue.name, reason, dlx_name, dlrk, broker._clock.wall_time())
        keys = [dlrk] if dlrk is not None else routing_keys_of(message, with_bcc=True)
        if len(keys) == 1 and not exchange.exchange_destinations and exchange.type != "headers":
            targets = exchange.route(keys[0], None)  # the copy's headers are not built for this
            if not targets and exchange.alternate_exchange is not None:
                targets = self._route_keys(exchange, keys, copy.headers)
        else:
            targets = self._route_keys(exchange, keys, copy.headers)
        now = broker._clock.now_ms()
        for target in targets:
            if is_cycle(copy, target.name):
                continue
            target.publish(copy, now)

    # -- teardown -----------------------------------------------------------------------------
    def _check(self) -> None:
        for name, queue in self.queues.items():
            assert queue.name == name and not queue.deleted
            queue._check()
        for dest, incoming in self._incoming.items():
            for binding in incoming:
                assert binding.destination is dest, f"misfiled incoming binding {binding!r}"
                assert binding.source.bindings.get(binding.key) is binding, f"stale incoming binding {binding!r}"

    def __repr__(self) -> str:
        return f"VirtualHost({self.name!r}, exchanges={len(self.exchanges)}, queues={len(self.queues)})"


def _frozen(arguments: dict | None) -> Any:
    return freeze_table(dict(arguments) if arguments else {})
