"""Snapshots: a broker's whole definitional state and its ready messages, taken once, restored often.

:func:`take_snapshot` copies, with the lock held, everything a test suite builds once per run:
vhosts; exchanges (type, flags, arguments); queues (flags, arguments, and their ready messages in
delivery order, each with its properties, position, redelivered flag, delivery count and remaining
TTL); bindings (exchange to queue and exchange to exchange); policies and operator policies; users.
:func:`restore_snapshot` builds fresh vhosts from it (the caller swaps them in).

What a snapshot does not hold, by design: connections, channels, consumers and unacknowledged
messages (they belong to clients, and a restore closes every connection), exclusive queues (they
belong to a connection) and statistics.

Time.  A deadline is kept as the time left when the snapshot was taken and restored as that much
time from the restore: time stands still inside a snapshot, so a snapshot restored an hour later on
a real clock still holds its messages, and an ``x-expires`` countdown starts afresh.

Sharing.  The :class:`~minimq.message.Message` objects are shared, as the broker shares one message
between every queue it reaches (a message is never mutated after routing); everything mutable (the
queue positions, the argument and definition dicts) is copied on the way in and on the way out, so
one snapshot restores to the same state however often it is used.

Cost: O(exchanges + queues + bindings + ready messages) for both directions, with the lock held.
"""

from __future__ import annotations

import copy
from typing import Iterable

from .kernel import Kernel
from .message import Message
from .policies import Policy
from .queue import QueuedMessage
from .users import User
from .vhost import VirtualHost

__all__ = ["Snapshot", "take_snapshot", "restore_snapshot"]


class _ExchangeState:
    __slots__ = ("name", "type", "durable", "auto_delete", "internal", "arguments")

    def __init__(self, name: str, type_: str, durable: bool, auto_delete: bool, internal: bool,
                 arguments: dict) -> None:
        self.name = name
        self.type = type_
        self.durable = durable
        self.auto_delete = auto_delete
        self.internal = internal
        self.arguments = arguments


class _QueueState:
    __slots__ = ("name", "durable", "auto_delete", "arguments", "messages")

    def __init__(self, name: str, durable: bool, auto_delete: bool, arguments: dict,
                 messages: list[tuple[int, Message, bool, float | None, int]]) -> None:
        self.name = name
        self.durable = durable
        self.auto_delete = auto_delete
        self.arguments = arguments
        #: (seq, message, redelivered, time left in ms or None, delivery count), in delivery order
        self.messages = messages


class _VhostState:
    __slots__ = ("name", "exchanges", "queues", "bindings", "policies", "operator_policies")

    def __init__(self, name: str) -> None:
        self.name = name
        self.exchanges: list[_ExchangeState] = []
        self.queues: list[_QueueState] = []
        #: (source, destination, destination is a queue, routing key, arguments)
        self.bindings: list[tuple[str, str, bool, str, dict]] = []
        self.policies: list[Policy] = []
        self.operator_policies: list[Policy] = []


class Snapshot:
    """An opaque copy of a broker's state, made by :meth:`minimq.Broker.snapshot` and given back to
    :meth:`minimq.Broker.restore` (as often as wanted).  Immutable once taken."""

    __slots__ = ("_vhosts", "_users")

    def __init__(self, vhosts: list[_VhostState], users: list[User]) -> None:
        self._vhosts = vhosts
        self._users = users

    @property
    def vhosts(self) -> list[str]:
        """The names of the vhosts the snapshot holds."""
        return [v.name for v in self._vhosts]

    @property
    def message_count(self) -> int:
        """How many ready messages the snapshot holds, over every queue."""
        return sum(len(q.messages) for v in self._vhosts for q in v.queues)

    def __repr__(self) -> str:
        queues = sum(len(v.queues) for v in self._vhosts)
        return f"Snapshot(vhosts={self.vhosts}, queues={queues}, messages={self.message_count})"


def take_snapshot(vhosts: Iterable[VirtualHost], users: Iterable[User], now: float) -> Snapshot:
    """Copy the state of ``vhosts`` and ``users`` (lock held; ``now``: the broker clock, ms)."""
    taken = []
    for vhost in vhosts:
        state = _VhostState(vhost.name)
        for exchange in vhost.exchanges.values():
            if exchange.name == "":
                continue
            state.exchanges.append(_ExchangeState(exchange.name, exchange.type, exchange.durable,
                                                  exchange.auto_delete, exchange.internal,
                                                  copy.deepcopy(exchange.arguments)))
        for queue in vhost.queues.values():
            if queue.exclusive_owner is not None:
                continue
            messages = [(e.seq, e.message, e.redelivered, None if e.expires_at is None else e.expires_at - now,
                         e.delivery_count) for e in queue.ready_entries()]
            state.queues.append(_QueueState(queue.name, queue.durable, queue.auto_delete,
                                            copy.deepcopy(queue.arguments), messages))
        for binding in vhost.bindings():
            destination = binding.destination
            if getattr(destination, "exclusive_owner", None) is not None:
                continue
            state.bindings.append((binding.source.name, destination.name, bool(getattr(destination, "is_queue", False)),
                                   binding.routing_key, copy.deepcopy(binding.arguments)))
        state.policies = list(vhost.policies.values())
        state.operator_policies = list(vhost.operator_policies.values())
        taken.append(state)
    return Snapshot(taken, list(users))


def restore_snapshot(kernel: Kernel, snapshot: Snapshot, now: float) -> tuple[dict[str, VirtualHost], dict[str, User]]:
    """Fresh vhosts and the user table built from ``snapshot`` (lock held; ``now``: the broker clock, ms).

    Entities are created as recovery creates them (no declare checks: they passed when declared);
    policies go in first, so every queue and exchange starts with the settings it had.  Queues whose
    messages have deadlines arm their timers.
    """
    if not isinstance(snapshot, Snapshot):
        raise TypeError(f"restore needs a Snapshot from Broker.snapshot(), not {type(snapshot).__name__}")
    vhosts: dict[str, VirtualHost] = {}
    for state in snapshot._vhosts:
        vhost = vhosts[state.name] = VirtualHost(kernel, state.name)
        for policy in state.policies:
            vhost.policies[policy.name] = _copy_policy(policy)
        for policy in state.operator_policies:
            vhost.operator_policies[policy.name] = _copy_policy(policy)
        for x in state.exchanges:
            if x.name not in vhost.exchanges:
                vhost.create_exchange(x.name, x.type, x.durable, x.auto_delete, x.internal, copy.deepcopy(x.arguments))
        timed = []
        for q in state.queues:
            queue = vhost.create_queue(q.name, q.durable, None, q.auto_delete, copy.deepcopy(q.arguments))
            if queue.restore(_entries(q.messages, now)):
                timed.append(queue)
        for source, destination, to_queue, routing_key, arguments in state.bindings:
            vhost.add_binding(vhost.exchanges[source], (vhost.queues if to_queue else vhost.exchanges)[destination],
                              routing_key, copy.deepcopy(arguments) if arguments else None)
        vhost.reapply_policies()
        for queue in timed:
            queue.expire_due(now)
        for queue in vhost.queues.values():
            queue.touch(now)
    users = {user.name: user for user in snapshot._users}
    return vhosts, users


def _entries(messages: list[tuple[int, Message, bool, float | None, int]], now: float) -> list[QueuedMessage]:
    out = []
    for seq, message, redelivered, left, delivery_count in messages:
        entry = QueuedMessage(seq, message, None if left is None else now + left)
        entry.redelivered = redelivered
        entry.delivery_count = delivery_count
        out.append(entry)
    return out


def _copy_policy(policy: Policy) -> Policy:
    return Policy(policy.name, policy.pattern, copy.deepcopy(policy.definition), policy.priority, policy.apply_to,
                  policy.vhost, policy.operator)

