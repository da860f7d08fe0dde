"""The broker: vhosts, the one lock, the clock, timers, and the plugin ports (store, tracer).

Threads.  One lock (``Broker._lock``, a plain ``threading.Lock``) guards all broker state; every
channel operation holds it for its whole, short, non-blocking duration.  User code (consumer
callbacks, event hooks) never runs under it: channels that received events are collected in
``_wakes`` while the lock is held and woken by :meth:`_release` after it is released.

Time.  Deadlines (message TTL at a queue head, ``x-expires``) go into one heap.  With a
:class:`~minimq.clock.ManualClock` they are processed when the clock advances; with real time a
daemon timer thread sleeps until the earliest deadline.  Every observation (publish, get, dispatch,
declare) also evaluates expiry against the clock, so a late timer is never visible.
"""

from __future__ import annotations

import heapq
import threading
import weakref
from typing import Any, Callable

from .arguments import queue_settings
from .policies import Policy, pick, resolve_queue_settings, validate_definition
from .channel import Channel, Connection
from .clock import Clock, SystemClock
from .errors import ConnectionForced, LoginRefused, NotAllowed
from .recovery import recover_from_store
from .vhost import VirtualHost

__all__ = ["Broker"]


class Broker:
    """An in-process AMQP 0-9-1 broker with RabbitMQ 3.10's semantics.

    >>> broker = Broker()
    >>> ch = broker.channel()
    >>> ch.queue_declare("hello").queue
    'hello'
    >>> ch.basic_publish("", "hello", b"Hello World!")
    <PublishOutcome.ROUTED: 1>
    >>> ch.basic_get("hello", auto_ack=True).body
    b'Hello World!'
    """

    def __init__(self, clock: Clock | None = None, store: Any = None) -> None:
        self._lock = threading.Lock()
        self._clock: Clock = clock if clock is not None else SystemClock()
        self._store = store
        #: tracer(kind, channel, message, queues, detail) or None; runs under the lock, must not call back
        self._tracer: Callable[..., None] | None = None
        self._wakes: list[Channel] = []
        self._timers: list[tuple[float, int, Any]] = []
        self._timer_seq = 0
        self._timer_cond = threading.Condition(threading.Lock())  # timer thread sleeps here; _schedule notifies
        self._timer_thread: threading.Thread | None = None
        self._closed = False
        self._connections: set[Connection] = set()
        #: user -> password, checked when a connection gives a password (RabbitMQ's default user)
        self._users: dict[str, str] = {"guest": "guest"}
        #: vhost -> policy name -> Policy, for user policies and operator policies
        self._policies: dict[str, dict[str, Policy]] = {}
        self._operator_policies: dict[str, dict[str, Policy]] = {}
        self.vhosts: dict[str, VirtualHost] = {}
        self.vhosts["/"] = VirtualHost(self, "/")
        if not self._clock.is_real_time:
            ref = weakref.ref(self)

            def on_advance() -> None:
                broker = ref()
                if broker is not None:
                    broker.run_due_timers()

            self._clock.subscribe(on_advance)
        if store is not None:
            recover_from_store(self, store)

    @property
    def clock(self) -> Clock:
        return self._clock

    # -- lock --------------------------------------------------------------------------------
    def _release(self) -> None:
        """Release the lock, then wake the channels that received events meanwhile."""
        wakes = self._wakes
        if wakes:
            self._wakes = []
            self._lock.release()
            for channel in wakes:
                channel._wake()
        else:
            self._lock.release()

    # -- vhosts and connections --------------------------------------------------------------
    def add_vhost(self, name: str) -> VirtualHost:
        with self._lock:
            vhost = self.vhosts.get(name)
            if vhost is None:
                vhost = self.vhosts[name] = VirtualHost(self, name)
                if self._store is not None:
                    self._store.vhost_added(name)
            return vhost

    def delete_vhost(self, name: str) -> None:
        """Delete a vhost; its connections are closed with 320 CONNECTION_FORCED."""
        self._lock.acquire()
        try:
            vhost = self.vhosts.pop(name, None)
            if vhost is None:
                return
            vhost.deleted = True
            error = ConnectionForced(f"vhost '{name}' is deleted")
            for connection in [c for c in self._connections if c.vhost is vhost]:
                connection._close_locked(error)
            for queue in list(vhost.queues.values()):
                vhost.delete_queue_now(queue)
            if self._store is not None:
                self._store.vhost_deleted(name)
        finally:
            self._release()

    def add_user(self, name: str, password: str) -> None:
        """Add a user (or change its password); ``guest``/``guest`` exists from the start."""
        if not isinstance(name, str) or not isinstance(password, str):
            raise TypeError("user name and password must be str")
        with self._lock:
            self._users[name] = password

    def delete_user(self, name: str) -> None:
        """Remove a user; its open connections stay open (as in RabbitMQ until they reconnect)."""
        with self._lock:
            self._users.pop(name, None)

    def connect(self, vhost: str = "/", user: str = "guest", password: str | None = None) -> Connection:
        """Open a connection to ``vhost`` as ``user``.

        With a ``password`` (protocol facades pass the client's credentials) an unknown user or a wrong
        password is refused with 403 ACCESS_REFUSED, before the vhost is looked at, as RabbitMQ's PLAIN
        login does; 530 NOT_ALLOWED if the vhost does not exist.
        """
        with self._lock:
            if self._closed:
                raise ConnectionForced("broker forced connection closure with reason 'shutdown'")
            if password is not None and self._users.get(user) != password:
                raise LoginRefused("Login was refused using authentication mechanism PLAIN. "
                                   "For details see the broker logfile.")
            target = self.vhosts.get(vhost)
            if target is None:
                raise NotAllowed(f"vhost {vhost} not found")
            connection = Connection(self, target, user)
            self._connections.add(connection)
            return connection

    def channel(self, vhost: str = "/", *, inline: bool = True) -> Channel:
        """Shortcut: a new connection with one channel."""
        return self.connect(vhost).channel(inline=inline)

    def close(self) -> None:
        """Shut down: every connection closed with 320 CONNECTION_FORCED, the timer thread stopped."""
        self._lock.acquire()
        try:
            self._closed = True
            error = ConnectionForced("broker forced connection closure with reason 'shutdown'")
            for connection in list(self._connections):
                connection._close_locked(error)
        finally:
            self._release()
        with self._timer_cond:
            self._timer_cond.notify_all()
        if self._store is not None:
            self._store.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection -----------------------------------------------------------------------
    def get_queue(self, name: str, vhost: str = "/") -> Any:
        """The queue object (for inspection: ``message_count``, ``ready_messages()``...), or None."""
        return self.vhosts[vhost].queues.get(name)

    def get_exchange(self, name: str, vhost: str = "/") -> Any:
        return self.vhosts[vhost].exchanges.get(name)

    def _check(self) -> None:
        """Assert every invariant of every vhost, queue and channel (tests call this)."""
        with self._lock:
            for vhost in self.vhosts.values():
                vhost._check()
            for connection in self._connections:
                for channel in connection.channels.values():
                    channel._check()

    # -- policies -----------------------------------------------------------------------------
    def set_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                   apply_to: str = "queues", vhost: str = "/") -> Policy:
        """Create or replace a policy; every matching queue/exchange picks up its settings at once."""
        return self._set_policy(self._policies, name, pattern, definition, priority, apply_to, vhost, False)

    def set_operator_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                            apply_to: str = "queues", vhost: str = "/") -> Policy:
        """An operator policy: limits only, and the stricter of it and the user's settings wins."""
        return self._set_policy(self._operator_policies, name, pattern, definition, priority, apply_to,
                                vhost, True)

    def _set_policy(self, table: dict, name: str, pattern: str, definition: dict, priority: int,
                    apply_to: str, vhost: str, operator: bool) -> Policy:
        validate_definition(definition, operator, apply_to, pattern)
        self._lock.acquire()
        try:
            if vhost not in self.vhosts:
                raise ValueError(f"no vhost {vhost!r}")
            policy = Policy(name, pattern, dict(definition), priority, apply_to, vhost, operator)
            table.setdefault(vhost, {})[name] = policy
            self._reapply_policies(self.vhosts[vhost])
            return policy
        finally:
            self._release()

    def clear_policy(self, name: str, vhost: str = "/") -> None:
        self._clear_policy(self._policies, name, vhost)

    def clear_operator_policy(self, name: str, vhost: str = "/") -> None:
        self._clear_policy(self._operator_policies, name, vhost)

    def _clear_policy(self, table: dict, name: str, vhost: str) -> None:
        self._lock.acquire()
        try:
            if table.get(vhost, {}).pop(name, None) is None:
                raise KeyError(f"no policy {name!r} in vhost {vhost!r}")
            if vhost in self.vhosts:
                self._reapply_policies(self.vhosts[vhost])
        finally:
            self._release()

    def list_policies(self, vhost: str | None = None, operator: bool = False) -> list[Policy]:
        table = self._operator_policies if operator else self._policies
        with self._lock:
            return [p for v, policies in table.items() if vhost is None or v == vhost for p in policies.values()]

    def _policies_for(self, vhost: str, name: str, kind: str) -> tuple[Policy | None, Policy | None]:
        user = list(self._policies.get(vhost, {}).values())
        operator = list(self._operator_policies.get(vhost, {}).values())
        return (pick(user, name, kind) if user else None, pick(operator, name, kind) if operator else None)

    def effective_arguments(self, queue: str, vhost: str = "/") -> dict[str, tuple[Any, str]]:
        """Each setting in force on ``queue`` with its source: argument, policy or operator policy."""
        with self._lock:
            q = self.vhosts[vhost].queues.get(queue)
            if q is None:
                raise KeyError(f"no queue {queue!r} in vhost {vhost!r}")
            policy, operator = self._policies_for(vhost, queue, "queues")
            return resolve_queue_settings(q.arguments, policy, operator)

    def _settings_for(self, vhost: VirtualHost, name: str, arguments: dict) -> dict:
        """The settings a queue runs with: its arguments, merged with the policies that match it."""
        if not self._policies.get(vhost.name) and not self._operator_policies.get(vhost.name):
            return queue_settings(arguments)
        policy, operator = self._policies_for(vhost.name, name, "queues")
        merged = dict(arguments)
        for key, (value, _source) in resolve_queue_settings(arguments, policy, operator).items():
            merged["x-" + key] = value
        return queue_settings(merged)

    def _exchange_policy_alternate(self, vhost: str, name: str) -> str | None:
        if not self._policies.get(vhost):
            return None
        policy, _ = self._policies_for(vhost, name, "exchanges")
        return None if policy is None else policy.definition.get("alternate-exchange")

    def _reapply_policies(self, vhost: VirtualHost) -> None:
        for queue in list(vhost.queues.values()):
            queue.apply_settings(self._settings_for(vhost, queue.name, queue.arguments))
            queue.after_requeue()
        for exchange in vhost.exchanges.values():
            exchange.policy_alternate = self._exchange_policy_alternate(vhost.name, exchange.name)

    # -- timers -------------------------------------------------------------------------------
    def _schedule(self, deadline: float, target: Any) -> None:
        """Ask for ``target.on_timer(now)`` at ``deadline`` (lock held).  Stale timers are harmless."""
        self._timer_seq += 1
        heapq.heappush(self._timers, (deadline, self._timer_seq, target))
        if self._clock.is_real_time:
            if self._timer_thread is None:
                self._start_timer_thread()
            if self._timers[0][2] is target:
                with self._timer_cond:
                    self._timer_cond.notify()

    def run_due_timers(self) -> None:
        """Act on every deadline that is due now (the timer thread and manual clocks call this)."""
        self._lock.acquire()
        try:
            now = self._clock.now_ms()
            timers = self._timers
            while timers and timers[0][0] <= now:
                _, _, target = heapq.heappop(timers)
                target.on_timer(now)
        finally:
            self._release()

    def _next_deadline(self) -> float | None:
        timers = self._timers
        return timers[0][0] if timers else None

    def _start_timer_thread(self) -> None:
        ref = weakref.ref(self)
        cond = self._timer_cond
        clock = self._clock

        def run() -> None:
            while True:
                broker = ref()
                if broker is None or broker._closed:
                    return
                deadline = broker._next_deadline()
                del broker
                with cond:
                    wait = 1.0 if deadline is None else max(0.0, (deadline - clock.now_ms()) / 1000.0)
                    if wait > 0:
                        cond.wait(min(wait, 1.0))
                broker = ref()
                if broker is None or broker._closed:
                    return
                broker.run_due_timers()
                del broker

        thread = threading.Thread(target=run, name="minimq-timers", daemon=True)
        self._timer_thread = thread
        thread.start()

    # -- store hooks (only called when a store is configured) ---------------------------------
    def _persist_enqueue(self, queue: Any, entry: Any) -> None:
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self._store.message_enqueued(queue.vhost.name, queue.name, entry.seq, entry)

    def _persist_remove(self, queue: Any, entry: Any) -> None:
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self._store.message_removed(queue.vhost.name, queue.name, entry.seq)

    def _persist_redelivered(self, queue: Any, entry: Any) -> None:
        props = entry.message.properties
        if props is not None and props.delivery_mode == 2:
            self._store.message_redelivered(queue.vhost.name, queue.name, entry.seq, entry)

    def __repr__(self) -> str:
        return f"Broker(vhosts={list(self.vhosts)}, clock={self._clock!r})"
