"""A vhost: its exchanges, queues, bindings and policies, and the declare rules (403/404/405/406/503).

Every method runs with the broker lock held and either completes or raises before changing anything
(validation first, then mutation).  Routing beyond one exchange is :func:`minimq.routing.route`'s.

Connections appear here only as opaque owners: ``owner`` arguments are compared by identity, to
enforce exclusive queues (405) and to delete a closing connection's exclusive queues.

Policies (docs/semantics.md §6.2) live with the vhost they belong to: setting or clearing one
re-applies the settings of every queue and exchange here at once.
"""

from __future__ import annotations

from typing import Any

from .arguments import (check_exchange_equivalence, check_queue_equivalence, check_server_named,
                        queue_settings, validate_exchange_arguments, validate_queue_arguments)
from .deadletter import dead_letter_copy, is_cycle, routing_keys_of
from .errors import (AccessRefused, CommandInvalid, NotFound, NotImplementedByServer, PreconditionFailed,
                     ResourceLocked)
from .exchanges import EXCHANGE_TYPES, Binding, DefaultExchange, Exchange, freeze_table
from .kernel import Kernel
from .message import Message
from .names import random_name, strip_crlf
from .policies import Policy, pick, resolve_queue_settings
from .queue import Queue
from .routing import LAZY_HEADERS, route

__all__ = ["VirtualHost", "PREDECLARED"]

PREDECLARED = (
    ("amq.direct", "direct", False),
    ("amq.fanout", "fanout", False),
    ("amq.topic", "topic", False),
    ("amq.headers", "headers", False),
    ("amq.match", "headers", False),
    ("amq.rabbitmq.trace", "topic", True),
)



class VirtualHost:
    """One namespace of exchanges, queues and policies.  Created by the broker; lock held throughout."""

    def __init__(self, kernel: Kernel, name: str) -> None:
        self.kernel = kernel
        self.name = name
        self.queues: dict[str, Queue] = {}
        self.exchanges: dict[str, Exchange] = {}
        #: destination -> the bindings that lead to it (for deletes)
        self._incoming: dict[Any, dict[Binding, None]] = {}
        self._seq = 0
        #: owner (connection) -> its exclusive queues, deleted when it closes
        self._exclusive: dict[Any, list[Queue]] = {}
        #: direct reply-to token -> the channel consuming its replies
        self.reply_channels: dict[str, Any] = {}
        #: policy name -> Policy, for user policies and for operator policies
        self.policies: dict[str, Policy] = {}
        self.operator_policies: dict[str, Policy] = {}
        self.deleted = False
        self.unroutable_dropped = 0
        default = DefaultExchange(self.queues)
        self.exchanges[""] = default
        for name_, type_, internal in PREDECLARED:
            self.create_exchange(name_, type_, True, False, internal, {})

    def next_seq(self) -> int:
        """A new declaration number: routing results list queues in this order."""
        self._seq += 1
        return self._seq

    # -- lookups ------------------------------------------------------------------------------
    def queue_for(self, owner: Any, name: str) -> Queue:
        """The named queue, or 404; 405 if it is exclusive to another connection."""
        queue = self.queues.get(name)
        if queue is None:
            raise NotFound(f"no queue '{name}' in vhost '{self.name}'")
        exclusive_owner = queue.exclusive_owner
        if exclusive_owner is not None and exclusive_owner is not owner:
            raise self._locked(name)
        return queue

    def _locked(self, name: str) -> ResourceLocked:
        return ResourceLocked(
            f"cannot obtain exclusive access to locked queue '{name}' in vhost '{self.name}'. It could be "
            "originally declared on another connection or the exclusive property value does not match "
            "that of the original declaration.")

    def exchange_for(self, name: str) -> Exchange:
        """The named exchange, or 404."""
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
        """``exchange.declare``: the new or existing exchange.  403 for ``amq.*`` names and the default
        exchange, 404 (passive, missing), 406 (declared differently, invalid arguments), 503 (unknown type)."""
        arguments = dict(arguments) if arguments else {}
        if passive:
            if name == "":
                raise self._default_refused()
            return self.exchange_for(name)
        if type not in EXCHANGE_TYPES:
            # RabbitMQ says "invalid" when the name is an existing Erlang atom ('' is one), else "unknown"
            adjective = "invalid" if type == "" else "unknown"
            raise CommandInvalid(f"{adjective} exchange type '{type}'")
        name = strip_crlf(name)
        if name == "":
            raise self._default_refused()
        existing = self.exchanges.get(name)
        if existing is None:
            if name.startswith("amq."):
                raise AccessRefused(f"exchange name '{name}' contains reserved prefix 'amq.*'")
            validate_exchange_arguments(name, self.name, arguments)
            exchange = self.create_exchange(name, type, durable, auto_delete, internal, arguments)
            store = self.kernel.store
            if durable and store is not None:
                store.exchange_declared(self.name, name, type, durable, auto_delete, internal, arguments)
            return exchange
        check_exchange_equivalence(name, self.name, type=type, durable=durable, auto_delete=auto_delete,
                                   internal=internal, args=arguments, existing=existing)
        return existing

    def create_exchange(self, name: str, type_: str, durable: bool, auto_delete: bool, internal: bool,
                        arguments: dict) -> Exchange:
        """Create an exchange without the declare checks (predeclared ones, recovery).  Not reported
        to the store."""
        exchange = EXCHANGE_TYPES[type_](name, durable=durable, auto_delete=auto_delete, internal=internal,
                                         arguments=arguments, seq=self.next_seq())
        if name:
            exchange.policy_alternate = self._exchange_policy_alternate(name)
        self.exchanges[name] = exchange
        if self.kernel.observers is not None:
            self.kernel.observers.topology("exchange.created", self.name, name, type_)
        return exchange

    def exchange_delete(self, name: str, if_unused: bool = False) -> None:
        """``exchange.delete``: 403 for the default and ``amq.*`` exchanges, 406 if ``if_unused`` and bound."""
        name = strip_crlf(name)
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
        if self.kernel.observers is not None:
            self.kernel.observers.topology("exchange.deleted", self.name, exchange.name, exchange.type)
        store = self.kernel.store
        if exchange.durable and store is not None:
            store.exchange_deleted(self.name, exchange.name)

    # -- bindings -----------------------------------------------------------------------------
    def add_binding(self, source: Exchange, destination: Any, routing_key: str, arguments: dict | None) -> None:
        """Bind ``destination`` (a queue or an exchange) to ``source``; a duplicate is a no-op.

        Raises what ``source.validate_binding`` raises (invalid headers arguments: 406), before any change.
        """
        source.validate_binding(routing_key, arguments)
        binding = source.add_binding(destination, routing_key, arguments)
        if binding is None:
            return
        incoming = self._incoming.get(destination)
        if incoming is None:
            incoming = self._incoming[destination] = {}
        incoming[binding] = None
        if self.kernel.observers is not None:
            self.kernel.observers.binding("binding.created", self.name, binding)
        store = self.kernel.store
        if store is not None and source.durable and destination.durable:
            store.binding_added(self.name, source.name, destination.name, destination.is_queue,
                                routing_key, binding.arguments)

    def _remove_binding(self, binding: Binding, cascade: bool = True) -> None:
        source = binding.source
        source.drop_binding(binding)
        incoming = self._incoming.get(binding.destination)
        if incoming is not None:
            incoming.pop(binding, None)
        if self.kernel.observers is not None:
            self.kernel.observers.binding("binding.deleted", self.name, binding)
        store = self.kernel.store
        if store is not None and source.durable and binding.destination.durable:
            store.binding_removed(self.name, source.name, binding.destination.name,
                                  binding.destination.is_queue, binding.routing_key, binding.arguments)
        if cascade and source.auto_delete and not source.bindings and not source.deleted:
            self._delete_exchange_now(source)

    def queue_bind(self, owner: Any, queue: str, exchange: str, routing_key: str,
                   arguments: dict | None) -> None:
        """``queue.bind``: 403 for the default exchange, 404 for a missing end, 405 for another owner's
        exclusive queue."""
        queue, exchange = strip_crlf(queue), strip_crlf(exchange)
        if exchange == "":
            raise self._default_refused()
        source = self.exchange_for(exchange)
        destination = self.queue_for(owner, queue)
        self.add_binding(source, destination, routing_key, arguments)

    def queue_unbind(self, owner: Any, queue: str, exchange: str, routing_key: str,
                     arguments: dict | None) -> None:
        """``queue.unbind``: a missing binding is fine; 405 for another owner's exclusive queue."""
        queue, exchange = strip_crlf(queue), strip_crlf(exchange)
        if exchange == "":
            raise self._default_refused()
        source = self.exchanges.get(exchange)
        destination = self.queues.get(queue)
        if source is None or destination is None:
            return
        binding = source.bindings.get((destination, routing_key, _frozen(arguments)))
        if binding is None:
            return
        if destination.exclusive_owner is not None and destination.exclusive_owner is not owner:
            raise self._locked(queue)
        self._remove_binding(binding)

    def exchange_bind(self, destination: str, source: str, routing_key: str, arguments: dict | None) -> None:
        """``exchange.bind``: 403 for the default exchange, 404 if either exchange is missing."""
        destination, source = strip_crlf(destination), strip_crlf(source)
        if destination == "" or source == "":
            raise self._default_refused()
        src = self.exchange_for(source)
        dst = self.exchange_for(destination)
        self.add_binding(src, dst, routing_key, arguments)

    def exchange_unbind(self, destination: str, source: str, routing_key: str, arguments: dict | None) -> None:
        """``exchange.unbind``: a missing binding or exchange is fine."""
        destination, source = strip_crlf(destination), strip_crlf(source)
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
    def queue_declare(self, owner: Any, name: str, passive: bool = False,
                      durable: bool = False, exclusive: bool = False, auto_delete: bool = False,
                      arguments: dict | None = None) -> Queue:
        """``queue.declare``: the new or existing queue (``''``: a server-named one).  403 for ``amq.*``
        names, 404 (passive, missing), 405 (another owner's exclusive queue), 406 (declared
        differently, invalid arguments)."""
        arguments = dict(arguments) if arguments else {}
        now = self.kernel.clock.now_ms()
        if passive:
            queue = self.queue_for(owner, name)
            queue.touch(now)
            return queue
        name = strip_crlf(name)
        server_named = name == ""
        if server_named:
            check_server_named(arguments)  # before any property or argument check
            name = random_name("amq.gen-")
            while name in self.queues:
                name = random_name("amq.gen-")
        elif name.startswith("amq."):
            raise AccessRefused(f"queue name '{name}' contains reserved prefix 'amq.*'")
        if exclusive:
            durable = False
        existing = self.queues.get(name)
        if existing is not None:
            exclusive_owner = existing.exclusive_owner
            if (exclusive_owner is not None and exclusive_owner is not owner) or \
                    (exclusive_owner is not None) != exclusive:
                raise self._locked(name)
            check_queue_equivalence(name, self.name, durable=durable, auto_delete=auto_delete,
                                    old_durable=existing.durable, old_auto_delete=existing.auto_delete,
                                    args=arguments, old_args=existing.arguments)
            existing.touch(now)
            return existing
        validate_queue_arguments(name, self.name, arguments, durable=durable, exclusive=exclusive,
                                 auto_delete=auto_delete, server_named=server_named)
        queue = self.create_queue(name, durable, owner if exclusive else None, auto_delete, arguments)
        store = self.kernel.store
        if durable and store is not None:
            store.queue_declared(self.name, name, arguments, auto_delete)
        return queue

    def create_queue(self, name: str, durable: bool, exclusive_owner: Any, auto_delete: bool,
                     arguments: dict) -> Queue:
        """Create a queue without the declare checks (recovery uses it).  Not reported to the store."""
        queue = Queue(self, self.kernel, name, self.next_seq(), durable, exclusive_owner, auto_delete,
                      arguments, self.settings_for(name, arguments))
        self.queues[name] = queue
        if exclusive_owner is not None:
            self._exclusive.setdefault(exclusive_owner, []).append(queue)
        if self.kernel.observers is not None:
            self.kernel.observers.topology("queue.created", self.name, name, queue.queue_type)
        return queue

    def delete_exclusive_queues(self, owner: Any) -> None:
        """``owner`` (a connection) closed: delete the queues exclusive to it."""
        for queue in self._exclusive.pop(owner, ()):
            self.delete_queue_now(queue, "owner closed")

    def queue_purge(self, owner: Any, name: str) -> int:
        """``queue.purge``: drop the ready messages (not dead-lettered); returns how many."""
        queue = self.queue_for(owner, name)
        count = queue.purge()
        if self.kernel.observers is not None:
            self.kernel.observers.dropped_many(queue, count, "purged")
        return count

    def queue_delete(self, owner: Any, name: str, if_unused: bool = False,
                     if_empty: bool = False) -> int:
        """``queue.delete``: the count of ready messages it held (0 if missing).  405 for another owner's
        exclusive queue, 406 if in use/not empty with the flags, 540 for those flags on quorum queues."""
        name = strip_crlf(name)
        queue = self.queues.get(name)
        if queue is None:
            return 0
        exclusive_owner = queue.exclusive_owner
        if exclusive_owner is not None and exclusive_owner is not owner:
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

    def delete_queue_now(self, queue: Queue, reason: str = "deleted") -> None:
        """Delete without checks: nothing is dead-lettered.  ``reason`` (for the ``queue.deleted``
        event): ``deleted``, ``auto-delete``, ``expired`` (x-expires), ``owner closed``, ``vhost deleted``."""
        if queue.deleted:
            return
        queue.cancel_all_consumers()
        dropped = queue.purge()
        queue.deleted = True
        observers = self.kernel.observers
        if observers is not None:
            observers.dropped_many(queue, dropped, "queue deleted")
        if self.queues.get(queue.name) is queue:
            del self.queues[queue.name]
        for binding in list(self._incoming.get(queue, ())):
            self._remove_binding(binding, cascade=True)
        self._incoming.pop(queue, None)
        owned = self._exclusive.get(queue.exclusive_owner)
        if owned is not None and queue in owned:
            owned.remove(queue)
        if observers is not None:
            observers.topology("queue.deleted", self.name, queue.name, queue.queue_type, reason)
        store = self.kernel.store
        if queue.durable and store is not None:
            store.queue_deleted(self.name, queue.name)

    # -- dead-lettering -----------------------------------------------------------------------
    def dead_letter(self, queue: Queue, message: Message, reason: str) -> None:
        """Republish a dead message through the queue's DLX (dropped silently if the DLX is missing)."""
        dlx_name = queue.dead_letter_exchange
        if dlx_name is None:
            return
        exchange = self.exchanges.get(dlx_name)
        if exchange is None:
            return
        clock = self.kernel.clock
        dlrk = queue.dead_letter_routing_key
        copy = dead_letter_copy(message, queue.name, reason, dlx_name, dlrk, clock.wall_time())
        keys = [dlrk] if dlrk is not None else routing_keys_of(message, with_bcc=True)
        targets = route(self.exchanges, exchange, keys[0], LAZY_HEADERS, keys[1:] or None, copy)
        observers = self.kernel.observers
        if observers is not None:
            observers.name_copy(copy)
            observers.dead_lettered(queue, copy, reason, [t for t in targets if not is_cycle(copy, t.name)])
        now = clock.now_ms()
        for target in targets:
            if is_cycle(copy, target.name):
                continue
            target.publish(copy, now)

    # -- policies -----------------------------------------------------------------------------
    def set_policy(self, policy: Policy) -> None:
        """Add or replace ``policy`` (user or operator, by its flag); settings change at once."""
        (self.operator_policies if policy.operator else self.policies)[policy.name] = policy
        self.reapply_policies()

    def clear_policy(self, name: str, operator: bool) -> None:
        """Remove a policy; ``KeyError`` if there is none by that name.  Settings change at once."""
        table = self.operator_policies if operator else self.policies
        if table.pop(name, None) is None:
            raise KeyError(f"no policy {name!r} in vhost {self.name!r}")
        self.reapply_policies()

    def policies_for(self, name: str, kind: str) -> tuple[Policy | None, Policy | None]:
        """The user policy and the operator policy that apply to ``name`` (``kind``: queues/exchanges)."""
        user = list(self.policies.values())
        operator = list(self.operator_policies.values())
        return (pick(user, name, kind) if user else None, pick(operator, name, kind) if operator else None)

    def effective_arguments(self, queue: Queue) -> dict[str, tuple[Any, str]]:
        """Each setting in force on ``queue`` with its source: argument, policy or operator policy."""
        policy, operator = self.policies_for(queue.name, "queues")
        return resolve_queue_settings(queue.arguments, policy, operator)

    def settings_for(self, name: str, arguments: dict) -> dict:
        """The settings a queue named ``name`` runs with: its arguments merged with the policies."""
        if not self.policies and not self.operator_policies:
            return queue_settings(arguments)
        policy, operator = self.policies_for(name, "queues")
        merged = dict(arguments)
        for key, (value, _source) in resolve_queue_settings(arguments, policy, operator).items():
            merged["x-" + key] = value
        return queue_settings(merged)

    def _exchange_policy_alternate(self, name: str) -> str | None:
        if not self.policies:
            return None
        policy, _ = self.policies_for(name, "exchanges")
        return None if policy is None else policy.definition.get("alternate-exchange")

    def reapply_policies(self) -> None:
        """Re-apply every queue's and exchange's effective settings (after a policy change)."""
        for queue in list(self.queues.values()):
            queue.apply_settings(self.settings_for(queue.name, queue.arguments))
            queue.after_requeue()
        for exchange in self.exchanges.values():
            exchange.policy_alternate = self._exchange_policy_alternate(exchange.name)

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
