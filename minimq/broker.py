"""The broker: the public face of one kernel, its vhosts, users, connections and policies.

A :class:`Broker` owns one :class:`~minimq.kernel.Kernel` (the lock and its release path, the
clock, the timers, the store port and the event hub) and the vhosts that share it.  Operations on
channels do not pass through here: a channel holds the kernel and its vhost directly.

Unknown vhosts.  Every call naming a vhost that does not exist raises
:class:`~minimq.errors.NotAllowed` (530, ``vhost X not found``), the answer RabbitMQ gives a
connection to one; :meth:`get_queue` and :meth:`get_exchange` included.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from .channel import Channel
from .clock import Clock
from .connection import Connection
from .errors import AMQPError, ChannelError, ConnectionForced, LoginRefused, NotAllowed, NotFound, error_for_code
from .events import Event, Subscription
from .exchanges import Exchange
from .kernel import Kernel
from .message import Message, Properties
from .names import REPLY_TO
from .poison import PoisonGuard
from .policies import Policy, validate_definition
from .publish_checks import check_properties, coerce_body
from .queue import Queue
from .recovery import recover_from_store
from .store import Store
from .users import PasswordHash, User
from .vhost import VirtualHost

if TYPE_CHECKING:  # the feature modules load on first use, in the methods: `import minimq` stays light
    from .definitions import ImportReport
    from .explain import Explanation
    from .journal import Journal, MessageRecord
    from .redrive import MoveReport
    from .snapshot import Snapshot
    from .stats import (BindingInfo, ChannelInfo, ConnectionInfo, ConsumerInfo, ExchangeInfo, QueueInfo,
                        StatsCollector)
    from .topology import Topology

__all__ = ["Broker", "ConnectionSummary", "MANAGEMENT_CLOSE_TEXT", "SHUTDOWN_CLOSE_TEXT"]

#: RabbitMQ's reply text when the management UI or HTTP API closes a connection
MANAGEMENT_CLOSE_TEXT = "CONNECTION_FORCED - Closed via management plugin"
#: RabbitMQ's reply text for the connections it closes when it shuts down
SHUTDOWN_CLOSE_TEXT = "CONNECTION_FORCED - broker forced connection closure with reason 'shutdown'"


@dataclass(frozen=True)
class ConnectionSummary:
    """One open connection as :meth:`Broker.connections` lists it.

    ``connection`` is the core :class:`~minimq.connection.Connection` (pass it to
    :meth:`Broker.close_connection`; its ``channels`` maps channel numbers to core channels, for
    :meth:`Broker.close_channel`).  ``client_name`` is the client's ``connection_name`` when a
    facade knows it, else None.  ``blocked`` is True while a resource alarm holds its publishes.
    """

    number: int
    user: str
    vhost: str
    channels: int
    client_name: str | None
    blocked: bool
    connection: Connection


def _error_with_text(reply_code: int, reply_text: str) -> AMQPError:
    """The core error for ``reply_code`` whose ``reply_text`` is exactly ``reply_text``."""
    try:
        error = error_for_code(reply_code, "")
    except KeyError:
        raise ValueError(f"reply_code {reply_code!r} is not an AMQP error code minimq knows "
                         "(320, 403, 404, 405, 406, 501, 503, 504, 530, 540, 541)") from None
    error.reply_text = reply_text
    error.explanation = reply_text.partition(" - ")[2] if reply_text.startswith(f"{error.name} - ") else reply_text
    error.args = (reply_code, reply_text)
    return error


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

    ``clock``: a :class:`~minimq.clock.ManualClock` makes TTLs deterministic (default: real time).
    ``store``: a :class:`~minimq.store.Store` (e.g. ``minimq.persistence.sqlite.SQLiteStore``); the
    broker rebuilds its durable state from it before the constructor returns.
    """

    def __init__(self, clock: Clock | None = None, store: Store | None = None) -> None:
        kernel = self._kernel = Kernel(clock)
        self._connections: set[Connection] = set()
        #: user name -> User, checked when a connection gives a password (RabbitMQ's default user)
        self._users: dict[str, User] = {
            "guest": User("guest", PasswordHash.for_password("guest"), ("administrator",))}
        self.vhosts: dict[str, VirtualHost] = {"/": VirtualHost(kernel, "/")}
        self._stats: StatsCollector | None = None
        #: ``refuse_connections(True)``: new connections fail as a closed port would
        self._refusing = False
        #: the resource alarm raised by ``block_publishers``, or None
        self._alarm: str | None = None
        self._journal: Journal | None = None
        if store is not None:
            recover_from_store(kernel, self._vhost_for_recovery, store)

    def _vhost_for_recovery(self, name: str) -> VirtualHost:
        vhost = self.vhosts.get(name)
        if vhost is None:
            vhost = self.vhosts[name] = VirtualHost(self._kernel, name)
        return vhost

    @property
    def clock(self) -> Clock:
        """The clock every deadline and timestamp of this broker is read from."""
        return self._kernel.clock

    @property
    def store(self) -> Store | None:
        """The persistence store given to the constructor, or None."""
        return self._kernel.store

    # -- events and statistics ------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], Any], kinds: Iterable[str] | None = None) -> Subscription:
        """Call ``callback(event)`` for every event of ``kinds`` (None: all of
        :data:`~minimq.events.EVENT_KINDS`) from now on; ``close()`` the subscription to stop.

        Callbacks run outside the broker lock, in the broker's one event order, before the operation
        that caused them returns (docs/events.md).  ``ValueError`` naming the valid kinds for an
        unknown one; ``TypeError`` for a callback that is not callable or a ``kinds`` that is a str.
        """
        return self._kernel.events.subscribe(callback, kinds)

    def enable_stats(self, window: float = 5.0) -> StatsCollector:
        """Start counting messages per queue and exchange, with rates over ``window`` seconds of the
        broker clock (an event subscriber; see :mod:`minimq.stats`).  Returns the collector; a
        second call returns the running one.  ``ValueError`` for a ``window`` that is not > 0."""
        from .stats import COUNTED_KINDS, StatsCollector  # loaded on first use
        if self._stats is None:
            collector = StatsCollector(self._kernel.clock, window)
            collector.subscription = self.subscribe(collector.on_event, COUNTED_KINDS)
            self._stats = collector
        return self._stats

    def disable_stats(self) -> None:
        """Stop counting (counts and rates read None again); harmless when stats are off."""
        collector, self._stats = self._stats, None
        if collector is not None:
            collector.close()

    # -- the journal, peek/inject/move, the poison guard (docs/journal.md) -----------------------
    def enable_journal(self, limit: int | None = None) -> Journal:
        """Start recording every message from now on (a :class:`~minimq.journal.Journal`, an event
        subscriber: free until called).  ``limit`` bounds the records kept (oldest forgotten first).
        Returns the journal; a second call returns the running one.  ``ValueError`` for a bad ``limit``."""
        from .journal import JOURNAL_KINDS, Journal  # loaded on first use
        if self._journal is None:
            journal = Journal(limit)
            journal.subscription = self.subscribe(journal.callback, JOURNAL_KINDS)
            self._journal = journal
        return self._journal

    def disable_journal(self) -> None:
        """Stop recording (the journal object keeps what it has); harmless when the journal is off."""
        journal, self._journal = self._journal, None
        if journal is not None:
            journal.close()

    @property
    def journal(self) -> Journal | None:
        """The running journal, or None when it is off."""
        return self._journal

    def published(self, exchange: str | None = None, routing_key: str | None = None,
                  where: Callable[[MessageRecord], Any] | None = None) -> list[MessageRecord]:
        """The journal's records of messages ``basic.publish``-ed to ``exchange`` with ``routing_key``
        (None: any) satisfying ``where`` (a predicate on the record), in publish order.
        :class:`~minimq.journal.JournalDisabledError` when the journal is off."""
        from .journal import JournalDisabledError  # loaded on first use
        if self._journal is None:
            raise JournalDisabledError()
        return self._journal.published(exchange, routing_key, where)

    def peek(self, queue: str, n: int = 10, vhost: str = "/") -> list[Message]:
        """The first ``n`` ready messages of ``queue`` in delivery order, changing nothing (no
        delivery, no redelivered flag, no expiry acted on: expired messages not yet dropped are
        included, as in ``message_count``).  Works with the journal off.  404 :class:`NotFound` for an
        unknown queue, 530 for an unknown vhost, ``ValueError`` for ``n`` < 0."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        with self._kernel:
            target = self._vhost(vhost)
            q = target.queues.get(queue)
            if q is None:
                raise NotFound(f"no queue '{queue}' in vhost '{vhost}'")
            return q.ready_messages()[:n]

    def inject(self, queue: str, body: bytes, properties: Properties | None = None, vhost: str = "/") -> bool:
        """Put a message straight into ``queue`` as if the default exchange routed it there: the
        queue's limits, TTL, consumers and dead-lettering apply, and the journal records it as
        ``"injected"``.  Returns False if a ``reject-publish`` limit refused it (dropped, or
        dead-lettered with ``reject-publish-dlx``, as a publish would be).  Properties are checked as a
        publish's (406 :class:`PreconditionFailed`); 404 for an unknown queue, 530 for an unknown vhost."""
        from .redrive import inject_message  # loaded on first use
        if type(body) is not bytes:
            body = coerce_body(body)
        props, _headers, _extra, ttl = _explain_checks(properties or Properties(), len(body))
        with self._kernel:
            taken, message = inject_message(self._vhost(vhost), queue, body, props, ttl)
            if self._journal is not None and message.trace_id is not None:
                self._journal.note(message.trace_id, "injected")  # before its events are handed out
        return taken

    def move(self, src_queue: str, dst_exchange: str, routing_key: str | None = None,
             where: Callable[[Message], Any] | None = None, limit: int | None = None,
             vhost: str = "/") -> MoveReport:
        """Redrive: move ready messages of ``src_queue`` (a dead-letter queue, say) by publishing them
        to ``dst_exchange``, in queue order, keeping their properties and ``x-death`` history.

        ``routing_key`` None: each message's original key (for a dead-lettered message, the keys of
        its first death; see :mod:`minimq.redrive`).  ``where``: a predicate on the message (runs
        under the broker lock: it must not call the broker).  ``limit``: at most this many messages
        are tried.  Atomic per message: a message no queue takes stays in the source and is listed in
        the report's ``unroutable``.  Returns a :class:`~minimq.redrive.MoveReport` (``moved``: how
        many).  404 for an unknown queue or exchange, 530 for an unknown vhost, ``ValueError`` for a
        bad ``limit``."""
        from .redrive import move_messages  # loaded on first use
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
            raise ValueError(f"limit must be an int >= 0 or None, got {limit!r}")
        if routing_key is not None and not isinstance(routing_key, str):
            raise TypeError(f"routing_key must be str or None, not {type(routing_key).__name__}")
        with self._kernel:
            report, links = move_messages(self._vhost(vhost), src_queue, dst_exchange, routing_key, where, limit)
            journal = self._journal
            if journal is not None:  # before the moved messages' events are handed out
                for source_id, new_id in links:
                    journal.note(new_id, "moved", source_id)
        return report

    def set_poison_guard(self, threshold: int | None, action: str = "warn") -> PoisonGuard | None:
        """Watch for poison loops: a message requeued ``threshold`` times in a row on a queue without
        a delivery limit is logged on the ``minimq.poison`` logger (``action="warn"``), or the
        requeuing ``basic_nack``/``basic_reject``/``basic_recover`` raises
        :class:`~minimq.poison.PoisonMessageError` and changes nothing (``action="error"``); see
        :mod:`minimq.poison`.  ``threshold=None`` switches the guard off (the default: free).
        Returns the guard.  ``ValueError`` for a bad threshold or action."""
        guard = None if threshold is None else PoisonGuard(self._kernel, threshold, action)
        with self._kernel as kernel:
            kernel.poison = guard
        return guard

    def list_queues(self, vhost: str = "/") -> list[QueueInfo]:
        """``rabbitmqctl list_queues``: one record per queue, by name (format with ``format_table``)."""
        from .stats import queue_infos  # loaded on first use
        with self._kernel:
            return queue_infos(self._vhost(vhost), self._stats)

    def list_exchanges(self, vhost: str = "/") -> list[ExchangeInfo]:
        """``rabbitmqctl list_exchanges``: one record per exchange, by name (the default exchange first)."""
        from .stats import exchange_infos  # loaded on first use
        with self._kernel:
            return exchange_infos(self._vhost(vhost), self._stats)

    def list_bindings(self, vhost: str = "/") -> list[BindingInfo]:
        """``rabbitmqctl list_bindings``: the default exchange's implicit bindings, then the others."""
        from .stats import binding_infos  # loaded on first use
        with self._kernel:
            return binding_infos(self._vhost(vhost))

    def list_consumers(self, vhost: str = "/") -> list[ConsumerInfo]:
        """``rabbitmqctl list_consumers``: every consumer, by queue name."""
        from .stats import consumer_infos  # loaded on first use
        with self._kernel:
            return consumer_infos(self._vhost(vhost))

    def list_channels(self, vhost: str = "/") -> list[ChannelInfo]:
        """``rabbitmqctl list_channels``: every open channel of the connections to ``vhost``."""
        from .stats import channel_infos  # loaded on first use
        with self._kernel:
            self._vhost(vhost)
            return channel_infos(self._connections, vhost)

    def list_connections(self, vhost: str = "/") -> list[ConnectionInfo]:
        """``rabbitmqctl list_connections``: every open connection to ``vhost``."""
        from .stats import connection_infos  # loaded on first use
        with self._kernel:
            self._vhost(vhost)
            return connection_infos(self._connections, vhost)

    # -- vhosts, users and connections --------------------------------------------------------
    def _vhost(self, name: str) -> VirtualHost:
        """The named vhost (lock held or not); 530 NOT_ALLOWED if there is none, as RabbitMQ answers."""
        vhost = self.vhosts.get(name)
        if vhost is None:
            raise NotAllowed(f"vhost {name} not found")
        return vhost

    def add_vhost(self, name: str) -> VirtualHost:
        """Create a vhost with the predeclared ``amq.*`` exchanges (an existing one is returned)."""
        if not isinstance(name, str):
            raise TypeError(f"vhost name must be str, not {type(name).__name__}")
        with self._kernel as kernel:
            vhost = self.vhosts.get(name)
            if vhost is None:
                vhost = self.vhosts[name] = VirtualHost(kernel, name)
                if kernel.store is not None:
                    kernel.store.vhost_added(name)
            return vhost

    def delete_vhost(self, name: str) -> None:
        """Delete a vhost (a missing one is fine); its connections are closed with 320 CONNECTION_FORCED."""
        with self._kernel as kernel:
            vhost = self.vhosts.pop(name, None)
            if vhost is None:
                return
            vhost.deleted = True
            error = ConnectionForced(f"vhost '{name}' is deleted")
            for connection in [c for c in self._connections if c.vhost is vhost]:
                connection.close_locked(error)
            for queue in list(vhost.queues.values()):
                vhost.delete_queue_now(queue, "vhost deleted")
            if kernel.store is not None:
                kernel.store.vhost_deleted(name)

    def add_user(self, name: str, password: str | None = None, *, password_hash: PasswordHash | None = None,
                 tags: Iterable[str] = ()) -> None:
        """Add a user (or replace one): its password is kept as a salted hash, as RabbitMQ keeps it.

        Give ``password`` (hashed here with sha256 and a random salt) or a ready ``password_hash``
        (e.g. ``PasswordHash.from_encoded`` of a RabbitMQ export), not both; with neither the user
        has no password and cannot log in with one.  ``tags`` are kept for export only.
        ``guest``/``guest`` (tag ``administrator``) exists from the start.
        """
        if not isinstance(name, str):
            raise TypeError(f"user name must be str, not {type(name).__name__}")
        if password is not None and password_hash is not None:
            raise ValueError("give a password or a password_hash, not both")
        if password is not None:
            if not isinstance(password, str):
                raise TypeError(f"password must be str, not {type(password).__name__}")
            password_hash = PasswordHash.for_password(password)
        elif password_hash is not None and not isinstance(password_hash, PasswordHash):
            raise TypeError(f"password_hash must be a PasswordHash, not {type(password_hash).__name__}")
        tags = (tags,) if isinstance(tags, str) else tuple(tags)
        if not all(isinstance(tag, str) for tag in tags):
            raise TypeError("user tags must be str")
        user = User(name, password_hash, tags)
        with self._kernel:
            self._users[name] = user

    def users(self) -> list[User]:
        """Every user, sorted by name."""
        with self._kernel:
            return [self._users[name] for name in sorted(self._users)]

    def delete_user(self, name: str) -> None:
        """Remove a user; its open connections stay open (as in RabbitMQ until they reconnect)."""
        with self._kernel:
            self._users.pop(name, None)

    def authenticate(self, user: str, password: str) -> None:
        """Check a login as RabbitMQ's PLAIN mechanism does: an unknown user or a wrong password
        raises 403 :class:`LoginRefused`.  Protocol facades call it when the client logs in, before
        the client names a vhost."""
        with self._kernel:
            self._check_login(user, password)

    def _check_login(self, user: str, password: str) -> None:
        """403 :class:`LoginRefused` for an unknown user or a wrong password (lock held)."""
        known = self._users.get(user)
        if known is None or not known.check_password(password):
            raise LoginRefused("Login was refused using authentication mechanism PLAIN. "
                               "For details see the broker logfile.")

    def connect(self, vhost: str = "/", user: str = "guest", password: str | None = None) -> Connection:
        """Open a connection to ``vhost`` as ``user``.

        With a ``password`` (protocol facades pass the client's credentials) an unknown user or a wrong
        password is refused with 403 ACCESS_REFUSED (:class:`LoginRefused`), before the vhost is looked
        at, as RabbitMQ's PLAIN login does; 530 NOT_ALLOWED if the vhost does not exist; 320 after
        :meth:`close`; the builtin ``ConnectionRefusedError`` while :meth:`refuse_connections` is on.
        """
        with self._kernel as kernel:
            if kernel.closed:
                raise ConnectionForced("broker forced connection closure with reason 'shutdown'")
            if self._refusing:
                raise ConnectionRefusedError(111, "Connection refused")  # as a closed port: refuse_connections
            if password is not None:
                self._check_login(user, password)
            connection = Connection(kernel, self._vhost(vhost), user, Channel, self._connections)
            connection.alarm = self._alarm
            self._connections.add(connection)
            return connection

    def channel(self, vhost: str = "/", *, inline: bool = True) -> Channel:
        """Shortcut: a new connection with one channel."""
        return self.connect(vhost).channel(inline=inline)

    def close(self) -> None:
        """Shut down: every connection closed with 320 CONNECTION_FORCED, the timer thread stopped,
        the store closed.  Closing twice is harmless."""
        kernel = self._kernel
        with kernel:
            kernel.closed = True  # under the lock: no connection opens after this point
            error = ConnectionForced("broker forced connection closure with reason 'shutdown'")
            for connection in list(self._connections):
                connection.close_locked(error)
        kernel.close()
        if kernel.store is not None:
            kernel.store.close()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- introspection -----------------------------------------------------------------------
    def get_queue(self, name: str, vhost: str = "/") -> Queue | None:
        """The queue object (for inspection: ``message_count``, ``ready_messages()``...), or None.

        530 :class:`NotAllowed` if the vhost does not exist.
        """
        return self._vhost(vhost).queues.get(name)

    def get_exchange(self, name: str, vhost: str = "/") -> Exchange | None:
        """The exchange object (for inspection: ``type``, ``bindings``...), or None; 530 for an unknown vhost."""
        return self._vhost(vhost).exchanges.get(name)

    def topology(self, vhost: str = "/") -> Topology:
        """A snapshot of ``vhost``'s exchanges, queues, bindings and consumers, with live counts
        (:class:`~minimq.topology.Topology`; draw it with ``to_svg()``, ``to_mermaid()``, ``to_dot()``
        or ``to_text()``).  Taken under the lock, so it is consistent; 530 for an unknown vhost."""
        from .topology import Topology  # loaded on first use
        with self._kernel:
            return Topology.from_vhost(self._vhost(vhost))

    def _repr_svg_(self) -> str:
        """Jupyter's rich display: the default vhost's topology as SVG, with live counts."""
        from .drawing import to_svg  # loaded on first use
        return to_svg(self.topology("/"), None, True)

    def explain(self, exchange: str, routing_key: str, headers: dict[str, Any] | None = None,
                properties: Any = None, vhost: str = "/", *, body: bytes = b"") -> Explanation:
        """What publishing to ``exchange`` with ``routing_key`` would do, step by step; publishes nothing.

        Returns an :class:`~minimq.explain.Explanation` (``print()`` it for a readable tree): the
        exchanges visited and why each binding matched or not, alternate exchanges, and for every queue
        reached what its effective settings do to this message now (TTL, length limits and overflow,
        dead-lettering, priority, consumers).  See docs/explain.md.

        ``headers`` is a shortcut for ``properties.headers`` (giving both is a ``ValueError``);
        ``properties`` a :class:`~minimq.Properties` or any object with its attributes; ``body`` only
        counts for ``x-max-length-bytes``.  A publish the server would refuse (404 unknown exchange, 403
        internal exchange, 406 invalid properties) is explained, not raised: ``outcome`` is ``"refused"``
        and ``error`` the error the publish would raise.  Explain has no connection, so ``user_id`` and
        a direct reply-to ``reply_to`` are not checked.  530 :class:`NotAllowed` for an unknown vhost;
        ``TypeError`` for a non-``str`` exchange or routing key, or a body that is not bytes.
        """
        from .explain import explain_publish  # loaded on first use
        if not isinstance(exchange, str) or not isinstance(routing_key, str):
            raise TypeError(f"exchange and routing_key must be str, got {type(exchange).__name__} and "
                            f"{type(routing_key).__name__}")
        if type(body) is not bytes:
            body = coerce_body(body)
        if headers is not None:
            if not isinstance(headers, dict):
                raise TypeError(f"headers must be a dict or None, not {type(headers).__name__}")
            if properties is None:
                properties = Properties(headers=headers)
            else:
                if type(properties) is not Properties:
                    properties = Properties.from_object(properties)
                if properties.headers is not None:
                    raise ValueError("give the headers either as headers= or in properties.headers, not both")
                properties = properties.copy(headers=headers)
        with self._kernel:
            return explain_publish(self._vhost(vhost), exchange, routing_key, properties, len(body),
                                   _explain_checks)

    def run_due_timers(self) -> None:
        """Act on every deadline that is due now (TTL expiry, ``x-expires``); the timer thread and
        manual clocks call this, so users rarely need to."""
        self._kernel.run_due_timers()

    def _check(self) -> None:
        """Assert every invariant of every vhost, queue and channel (tests call this)."""
        with self._kernel:
            for vhost in self.vhosts.values():
                vhost._check()
            for connection in self._connections:
                for channel in connection.channels.values():
                    channel._check()

    # -- policies -----------------------------------------------------------------------------
    def set_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                   apply_to: str = "queues", vhost: str = "/") -> Policy:
        """Create or replace a policy; every matching queue/exchange picks up its settings at once.

        ``ValueError`` for an invalid definition (naming the key, the value and the rule); 530
        :class:`NotAllowed` for an unknown vhost.
        """
        return self._set_policy(name, pattern, definition, priority, apply_to, vhost, False)

    def set_operator_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                            apply_to: str = "queues", vhost: str = "/") -> Policy:
        """An operator policy: limits only, and the stricter of it and the user's settings wins."""
        return self._set_policy(name, pattern, definition, priority, apply_to, vhost, True)

    def _set_policy(self, name: str, pattern: str, definition: dict, priority: int, apply_to: str,
                    vhost: str, operator: bool) -> Policy:
        validate_definition(definition, operator, apply_to, pattern)
        with self._kernel:
            target = self._vhost(vhost)
            policy = Policy(name, pattern, dict(definition), priority, apply_to, vhost, operator)
            target.set_policy(policy)
            return policy

    def clear_policy(self, name: str, vhost: str = "/") -> None:
        """Remove a policy; ``KeyError`` if there is none by that name, 530 for an unknown vhost."""
        with self._kernel:
            self._vhost(vhost).clear_policy(name, operator=False)

    def clear_operator_policy(self, name: str, vhost: str = "/") -> None:
        """Remove an operator policy; ``KeyError`` if there is none by that name, 530 for an unknown vhost."""
        with self._kernel:
            self._vhost(vhost).clear_policy(name, operator=True)

    def list_policies(self, vhost: str | None = None, operator: bool = False) -> list[Policy]:
        """The policies (or operator policies) of one vhost, or of every vhost when ``vhost`` is None."""
        with self._kernel:
            vhosts = self.vhosts.values() if vhost is None else [self._vhost(vhost)]
            return [p for v in vhosts for p in (v.operator_policies if operator else v.policies).values()]

    def effective_arguments(self, queue: str, vhost: str = "/") -> dict[str, tuple[Any, str]]:
        """Each setting in force on ``queue`` with its source: argument, policy or operator policy.

        ``KeyError`` if there is no such queue; 530 for an unknown vhost.
        """
        with self._kernel:
            target = self._vhost(vhost)
            q = target.queues.get(queue)
            if q is None:
                raise KeyError(f"no queue {queue!r} in vhost {vhost!r}")
            return target.effective_arguments(q)

    # -- definitions ----------------------------------------------------------------------------
    def import_definitions(self, source: str | os.PathLike[str] | Mapping[str, Any], *, vhost: str = "/",
                           strict: bool = False) -> ImportReport:
        """Import RabbitMQ definitions (a dict, or the path of a JSON file): see docs/definitions.md.

        Validates everything first: :class:`~minimq.definitions.DefinitionsError` (a ``ValueError``
        naming the entry and the field) and no change for a malformed document.  What minimq does not
        model is listed in the report's ``unsupported`` (``strict=True``: raised instead, before any
        change).  Entries without a ``vhost`` field go to ``vhost``.
        """
        from .definitions import import_definitions  # loaded on first use
        return import_definitions(self, source, vhost=vhost, strict=strict)

    def export_definitions(self, vhost: str | None = None) -> dict[str, Any]:
        """The broker's state in RabbitMQ's definitions format (``vhost``: the single-vhost form)."""
        from .definitions import export_definitions  # loaded on first use
        return export_definitions(self, vhost)

    # -- faults: what an operator or a failing server does to clients (docs/faults.md) ------------
    def connections(self, vhost: str | None = None) -> list[ConnectionSummary]:
        """Every open connection (to ``vhost``, or to any vhost when None), in opening order."""
        with self._kernel:
            return [ConnectionSummary(c.number, c.user, c.vhost.name, len(c.channels), c.client_name,
                                      c.blocked_sent or (c.alarm is not None and c.has_published), c)
                    for c in sorted(self._connections, key=lambda c: c.number)
                    if vhost is None or c.vhost.name == vhost]

    def close_connection(self, which: Connection | Callable[[ConnectionSummary], bool] | str,
                         reply_code: int = 320, reply_text: str = MANAGEMENT_CLOSE_TEXT) -> int:
        """Close connections from the server side, as ``rabbitmqctl close_connection`` or the management
        UI does: each client gets ``connection.close`` with ``reply_code`` and ``reply_text`` (by default
        RabbitMQ's management text, 320 CONNECTION_FORCED), its channels close and their unacked
        messages are requeued.

        ``which``: a core :class:`~minimq.connection.Connection`, a predicate called with each
        :class:`ConnectionSummary`, or ``"all"``.  Returns how many connections were closed (a closed
        connection is skipped).  ``ValueError`` for a ``reply_code`` that is not a connection (hard)
        error code; ``TypeError`` for any other ``which``.
        """
        error = _error_with_text(reply_code, reply_text)
        if not error.closes_connection:
            raise ValueError(f"reply_code {reply_code} closes a channel, not a connection: use close_channel")
        if not (which == "all" or isinstance(which, Connection) or callable(which)):
            raise TypeError(f"which must be a Connection, a predicate or 'all', not {which!r}")
        targets = [info for info in self.connections()
                   if which == "all" or info.connection is which or (not isinstance(which, (str, Connection))
                                                                       and which(info))]
        closed = 0
        with self._kernel:
            for info in targets:
                if info.connection.is_open:
                    info.connection.close_locked(error)
                    closed += 1
        return closed

    def close_channel(self, channel: Channel, reply_code: int, reply_text: str) -> None:
        """Close one channel from the server side with a soft error (403, 404, 405 or 406): its client
        gets ``channel.close`` with this code and text, the channel's unacked messages are requeued and
        its siblings stay open.  ``channel`` is a core :class:`~minimq.channel.Channel` (see
        :class:`ConnectionSummary`).  A closed channel stays as it was.  ``ValueError`` for a hard
        error code (use :meth:`close_connection`)."""
        error = _error_with_text(reply_code, reply_text)
        if not isinstance(error, ChannelError):
            raise ValueError(f"reply_code {reply_code} closes a connection, not a channel: use close_connection")
        if not isinstance(channel, Channel):
            raise TypeError(f"channel must be a minimq Channel, not {type(channel).__name__}")
        with self._kernel:
            channel.close_locked(error)

    def cancel_consumers(self, queue: str, vhost: str = "/") -> int:
        """Send every consumer of ``queue`` the server ``basic.cancel`` RabbitMQ sends when a queue is
        deleted, without deleting it: clients see their cancel notification (pika's
        ``on_cancel_callback``, aio-pika's consumer cancel, a native ``ConsumerCancelled`` event); the
        channels stay open and their unacked messages stay unacked.  An ``auto_delete`` queue left with
        no consumer is deleted, as after any last cancel.  Returns how many consumers were cancelled;
        ``KeyError`` if there is no such queue, 530 for an unknown vhost."""
        with self._kernel:
            target = self._vhost(vhost).queues.get(queue)
            if target is None:
                raise KeyError(f"no queue {queue!r} in vhost {vhost!r}")
            consumers = target.consumers
            for consumer in consumers:
                consumer.cancelled_by_server(consumer)
                target.remove_consumer(consumer, dispatch=False)
            target.after_consumers_changed(run=False)
            return len(consumers)

    def block_publishers(self, reason: str = "low on memory") -> None:
        """Raise a resource alarm, as RabbitMQ does when it runs low on memory or disk: every connection
        that has published is blocked and, if it asked for them, gets ``connection.blocked(reason)``; a
        connection that publishes later is blocked (and told) at its first publish.  Only the protocol
        facades hold a blocked connection's publishes (RabbitMQ stops reading its socket, they stop
        reading it too); native channels are not held (docs/faults.md).  A second call while blocked
        changes nothing, as RabbitMQ sends one ``connection.blocked`` for any number of alarms."""
        if not isinstance(reason, str):
            raise TypeError(f"reason must be str, not {type(reason).__name__}")
        self._set_alarm(reason)

    def unblock_publishers(self) -> None:
        """Clear the alarm: blocked connections get ``connection.unblocked`` and their held publishes go
        through, in order.  Harmless when no alarm is raised."""
        self._set_alarm(None)

    @property
    def publishers_blocked(self) -> str | None:
        """The reason given to :meth:`block_publishers` while the alarm is raised, else None."""
        return self._alarm

    def _set_alarm(self, reason: str | None) -> None:
        with self._kernel:
            if (reason is None) == (self._alarm is None):
                return
            self._alarm = reason
            owed = [c for c in sorted(self._connections, key=lambda c: c.number) if c.set_alarm(reason)]
        for connection in owed:
            connection.notify_blocked(reason)

    def refuse_connections(self, refuse: bool = True) -> None:
        """``True``: the broker is "down": new connections fail as a closed port fails them (the core
        raises ``ConnectionRefusedError``; pika code sees ``AMQPConnectionError``, aio-pika code
        ``AMQPConnectionError``/``ConnectionError``) and every open connection is closed with 320
        CONNECTION_FORCED (RabbitMQ's shutdown text).  ``False``: connections are accepted again."""
        with self._kernel:
            self._refusing = bool(refuse)
            if refuse:
                error = _error_with_text(320, SHUTDOWN_CLOSE_TEXT)
                for connection in sorted(self._connections, key=lambda c: c.number):
                    connection.close_locked(error)

    @property
    def refusing_connections(self) -> bool:
        """True while :meth:`refuse_connections` makes the broker look down."""
        return self._refusing

    @contextlib.contextmanager
    def down(self) -> Iterator[Broker]:
        """``with broker.down():`` the broker is down inside the block (:meth:`refuse_connections`),
        up again after it, also when the block raises."""
        self.refuse_connections(True)
        try:
            yield self
        finally:
            self.refuse_connections(False)
    # -- snapshots (docs/testing.md) --------------------------------------------------------------
    def snapshot(self) -> Snapshot:
        """An opaque :class:`~minimq.snapshot.Snapshot` of the whole state: vhosts, exchanges, queues
        with their arguments and ready messages (properties, order, priorities, redelivered flags,
        remaining TTLs), bindings, policies, operator policies and users.  Taken under the lock, so it
        is consistent.  Not in it: connections, channels, consumers, unacked messages, exclusive
        queues (all belong to clients) and statistics.  Give it to :meth:`restore`, as often as wanted.
        """
        from .snapshot import take_snapshot  # loaded on first use
        with self._kernel as kernel:
            return take_snapshot(list(self.vhosts.values()), list(self._users.values()), kernel.clock.now_ms())

    def restore(self, snapshot: Snapshot) -> None:
        """Reset the broker to ``snapshot``: a reset, not a merge.

        Every open connection is closed first with 320 CONNECTION_FORCED (``broker forced connection
        closure with reason 'restore'``), as a broker restart would; then every vhost, exchange, queue
        (with its messages), binding, policy and user is replaced by the snapshot's.  A deadline comes
        back with the time it had left when the snapshot was taken.  ``TypeError`` for anything but a
        Snapshot; ``ValueError`` on a broker with a store (a restore is not a durable change the store
        could follow); 320 :class:`ConnectionForced` after :meth:`close`.
        """
        from .snapshot import Snapshot, restore_snapshot  # loaded on first use
        if not isinstance(snapshot, Snapshot):
            raise TypeError(f"restore needs a Snapshot from Broker.snapshot(), not {type(snapshot).__name__}")
        kernel = self._kernel
        if kernel.store is not None:
            raise ValueError("restore() is not supported on a broker with a store; use an in-memory broker")
        with kernel:
            if kernel.closed:
                raise ConnectionForced("broker forced connection closure with reason 'shutdown'")
            error = ConnectionForced("broker forced connection closure with reason 'restore'")
            for connection in list(self._connections):
                connection.close_locked(error)
            for vhost in self.vhosts.values():
                vhost.deleted = True
                for queue in list(vhost.queues.values()):
                    vhost.delete_queue_now(queue, "deleted")
            vhosts, users = restore_snapshot(kernel, snapshot, kernel.clock.now_ms())
            self.vhosts.clear()
            self.vhosts.update(vhosts)
            self._users = users

    # -- waiting without sleeps (docs/testing.md) ----------------------------------------------
    def busy(self) -> list[str]:
        """What keeps the broker from being idle now, one line each (empty: idle); see
        :meth:`run_until_idle` for the definition.  Looked at under the lock, so no message moves
        between queues and channels meanwhile."""
        with self._kernel:
            reasons = []
            for connection in self._connections:
                for channel in list(connection.channels.values()):
                    reason = channel.busy()
                    if reason:
                        reasons.append(f"channel {channel.number} of connection {connection.number} "
                                       f"(vhost {connection.vhost.name!r}): {reason}")
            for vhost in self.vhosts.values():
                for queue in vhost.queues.values():
                    reason = queue.busy()
                    if reason:
                        reasons.append(f"vhost {vhost.name!r}: {reason}")
            return reasons

    def run_until_idle(self, timeout: float = 5.0) -> None:
        """Wait until the broker is idle, then return; ``TimeoutError`` naming what was still busy
        after ``timeout`` seconds.

        Idle means, looked at in one pass under the lock after acting on every timer due now: no
        queue has a ready message and an active consumer with capacity for it; no inline channel has
        a callback waiting or running; no channel has events waiting in its inbox (a message sitting
        in the inbox of an ``inline=False`` channel counts as not handled until it is pulled, so
        pull them from another thread or this never returns); and no layer that pulls events
        reports one in hand (``Channel.add_busy_probe``): ``minimq.aio`` consumers until their
        loop has drained them and a ``basic_consume`` callback has returned, the pika facade until
        ``process_data_events``/``start_consuming`` has run the callback.  A delivery still unacked
        with its consumer at its prefetch limit and no callback running is not work: nothing more can
        happen without the application.  Call it from a thread that runs no consumer of this broker
        (not from a callback, not from an event loop: use :meth:`run_until_idle_async` there).
        """
        _check_timeout(timeout)
        import asyncio  # here, not at the top: importing minimq should not cost asyncio's import

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            pass
        else:
            raise RuntimeError("run_until_idle() would block this thread's event loop and the consumers on it; "
                               "use 'await broker.run_until_idle_async()'")
        deadline = time.monotonic() + timeout
        pause = _Pause()
        while True:
            self._kernel.run_due_timers()
            reasons = self.busy()
            if not reasons:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(_busy_message(reasons, timeout))
            pause.wait()

    async def run_until_idle_async(self, timeout: float = 5.0) -> None:
        """:meth:`run_until_idle` for a coroutine: waits on the running loop without blocking it, so
        consumers on this loop keep running.  ``TimeoutError`` naming what was still busy."""
        import asyncio

        _check_timeout(timeout)
        deadline = time.monotonic() + timeout
        delay = 0.0
        while True:
            self._kernel.run_due_timers()
            reasons = self.busy()
            if not reasons:
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(_busy_message(reasons, timeout))
            await asyncio.sleep(delay)
            delay = min(0.005, delay * 2 + 0.0001)

    def wait_for(self, queue: str, count: int = 0, timeout: float = 5.0, vhost: str = "/") -> None:
        """Wait until ``queue``'s *ready* count (``message_count``: messages waiting for a consumer,
        unacked ones excluded) equals ``count``; e.g. ``wait_for("q", 0)`` waits for a queue to be
        drained, ``wait_for("q", 3)`` for three messages published by other threads.  Timers due
        now are acted on first each time.  ``TimeoutError`` giving the last count seen (or that the
        queue does not exist); 530 for an unknown vhost; ``ValueError`` for a negative count."""
        _check_timeout(timeout)
        if not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be an int >= 0, got {count!r}")
        deadline = time.monotonic() + timeout
        pause = _Pause()
        while True:
            self._kernel.run_due_timers()
            with self._kernel:
                found = self._vhost(vhost).queues.get(queue)
                seen = None if found is None else found.message_count
            if seen == count:
                return
            if time.monotonic() >= deadline:
                have = f"no queue {queue!r} in vhost {vhost!r}" if seen is None else f"{seen} ready message(s)"
                raise TimeoutError(f"queue {queue!r} did not reach {count} ready message(s) in {timeout} s: {have}")
            pause.wait()

    def __repr__(self) -> str:
        return f"Broker(vhosts={list(self.vhosts)}, clock={self._kernel.clock!r})"


class _Pause:
    """Short, growing pauses between two looks (from 0.1 ms to 5 ms): the waits above poll, since the
    work they wait for runs on threads and loops the broker does not own."""

    def __init__(self) -> None:
        self._delay = 0.0001
        self._event = threading.Event()

    def wait(self) -> None:
        self._event.wait(self._delay)
        self._delay = min(0.005, self._delay * 2)


def _check_timeout(timeout: float) -> None:
    if not isinstance(timeout, (int, float)) or isinstance(timeout, bool) or not timeout > 0:
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")


def _busy_message(reasons: list[str], timeout: float) -> str:
    return f"broker still busy after {timeout} s: " + "; ".join(reasons)


def _explain_checks(properties: Any, size: int) -> tuple[Properties, dict | None, list[str] | None, int | None]:
    """The publish checks of ``minimq.publish_checks`` for :meth:`Broker.explain`, which has no connection:
    ``user_id`` is taken as the user's, and a direct reply-to ``reply_to`` as answered."""
    user = getattr(properties, "user_id", None) or "guest"
    checked, headers, extra, ttl, _bcc = check_properties(properties, size, user, REPLY_TO)
    return checked, headers, extra, ttl
