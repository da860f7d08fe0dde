"""The broker's event stream: what happened to every message, queue, exchange and binding, in order.

``broker.subscribe(callback, kinds=None)`` registers a callback; every event the broker emits from
then on reaches it as one :class:`Event` record.  The kinds are :data:`EVENT_KINDS` (see
docs/events.md for the fields each one fills).

Where events come from.  Each hook point in the core (channel, queue, vhost) is one test,
``kernel.observers is not None``; the kernel holds the :class:`EventHub` there only while at least
one subscription is open, so a broker nobody listens to allocates nothing and calls nothing.  Behind
that test the hook asks the hub to build the event (the hub drops kinds no subscription wants).

Where callbacks run.  Events are built under the broker lock and appended to the hub's buffer; the
hub takes a place in ``kernel.wakes`` for that lock hold, so ``Kernel.release`` calls
:meth:`EventHub.wake` after releasing the lock, on the thread that made the change (the timer
thread for an expiry it acts on, the store's committer for an asynchronous confirm).  ``wake`` takes
the dispatch lock (blocking) and hands the buffered events out until the buffer is empty.  So:

* callbacks run outside the broker lock and may call the broker;
* one total order per broker: events are numbered (``Event.seq``) and buffered under the broker
  lock, and only the thread holding the dispatch lock hands them out, oldest first, so every
  subscriber sees every event in that order, whatever thread produced it;
* an operation returns only after its events (and every earlier one) were handed out, except when
  it was called from inside a callback: the dispatching thread delivers those after the callback
  returns (dispatching them there would show them to the remaining subscribers before the event
  being dispatched);
* a callback must not wait for another thread's broker operation: that thread waits for the
  dispatch lock this callback's thread holds.

A callback that raises changes nothing: the error is logged once per subscription on the
``minimq.events`` logger (naming the subscriber and the event), counted in
:attr:`Subscription.errors`, and dispatch goes on with the other subscribers.

Message identity.  A message published while a subscription is open is a :class:`TracedMessage`
(or :class:`TracedBccMessage`): a ``Message`` with one more slot, ``trace_id``, which every event
about it carries as ``Event.message_id``.  A dead-lettered copy gets its own id, and its events carry
the id of the message it was copied from as ``Event.origin_id``.  Messages published while nobody
listened have no id (``None``).

Cost model.  No subscription: one attribute test per hook point, nothing else.  With subscriptions:
per event one :class:`Event` (slots, not frozen) and one deque append under the lock, one clock read
per lock hold, and outside the lock one dispatch-lock round trip per operation and one call per
interested subscription per event.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Iterable

from .clock import Clock
from .message import BccMessage, Message, Properties

__all__ = ["Event", "EventHub", "Subscription", "TracedMessage", "TracedBccMessage", "EVENT_KINDS"]

log = logging.getLogger("minimq.events")
_get_ident = threading.get_ident

#: every event kind, in the order a message meets them, then the topology events
EVENT_KINDS = (
    "publish", "route", "enqueue", "deliver", "ack", "nack", "reject", "return", "confirm",
    "expire", "dead-letter", "drop",
    "queue.created", "queue.deleted", "exchange.created", "exchange.deleted",
    "binding.created", "binding.deleted",
)
_KIND_SET = frozenset(EVENT_KINDS)


class TracedMessage(Message):
    """A :class:`~minimq.message.Message` published while someone listens: ``trace_id`` names it in events."""

    __slots__ = ("trace_id",)

    def __init__(self, body: bytes, properties: Properties | None, exchange: str, routing_key: str,
                 ttl: int | None, trace_id: int) -> None:
        self.body = body  # Message.__init__'s five writes, inlined (one frame fewer per publish)
        self.properties = properties
        self.exchange = exchange
        self.routing_key = routing_key
        self.ttl = ttl
        self.trace_id = trace_id


class TracedBccMessage(BccMessage):
    """A :class:`~minimq.message.BccMessage` published while someone listens (see :class:`TracedMessage`)."""

    __slots__ = ("trace_id",)

    def __init__(self, body: bytes, properties: Properties | None, exchange: str, routing_key: str,
                 ttl: int | None, bcc: list[str], trace_id: int) -> None:
        BccMessage.__init__(self, body, properties, exchange, routing_key, ttl, bcc)
        self.trace_id = trace_id


_FIELDS = ("seq", "kind", "time", "vhost", "exchange", "routing_key", "queue", "queues", "message",
           "message_id", "origin_id", "consumer_tag", "delivery_tag", "redelivered", "auto_ack",
           "requeue", "channel", "connection", "reason", "count", "detail")
_FIELD_SET = frozenset(_FIELDS)


class Event:
    """One thing that happened in the broker.  A plain ``__slots__`` record; fields that do not apply
    to a kind are ``None`` (docs/events.md lists them per kind).

    ``seq`` is the event's place in the broker's one total order (1, 2, 3 ...); ``time`` is the
    broker clock's ``now_ms()`` when it happened (read once per lock hold: the events of one
    operation share it).  ``message_id`` is the message's identity (the
    same in all its events), ``origin_id`` the identity of the message a dead-lettered copy was made
    from.  ``channel`` is the channel number and ``connection`` the connection number of the client
    that caused it, when one did.

    The other fields: ``queue`` the queue concerned (enqueue, deliver, settlements, expire, drop,
    dead-letter's source ...); ``queues`` for route the names of the queues reached (empty:
    unroutable), for dead-letter the copy's targets; ``reason`` why (expire ``"expired"``; drop
    ``"maxlen"``, ``"reject-publish"``, ``"unroutable"``, ``"purged"``, ``"queue deleted"`` ...;
    dead-letter the dead-lettering reason; queue.deleted how it went); ``count`` for a drop of
    several messages at once (purge, queue deletion) how many; ``detail`` a kind-specific extra
    (confirm ack (True) or nack (False) with publish_seq in ``delivery_tag``; binding events the
    binding's destination kind, ``"queue"`` or ``"exchange"``; exchange/queue created the type;
    publish the mandatory flag).

    Cost: the hub writes only the slots a kind fills; an unwritten slot reads as None through
    :meth:`__getattr__` (a slower read, paid by whoever reads a field the kind does not have).
    """

    __slots__ = _FIELDS

    def __init__(self, seq: int, kind: str, time: float, vhost: str | None, message: Message | None = None,
                 queue: str | None = None) -> None:
        self.seq = seq
        self.kind = kind
        self.time = time
        self.vhost = vhost
        self.queue = queue
        self.message = message
        if message is not None:
            self.exchange = message.exchange
            self.routing_key = message.routing_key
            self.message_id = message.trace_id
            self.origin_id = message.origin_id

    def __getattr__(self, name: str) -> Any:
        """A field this event's kind does not fill: None (only called for a slot never written)."""
        if name in _FIELD_SET:
            return None
        raise AttributeError(f"'Event' object has no attribute {name!r}")

    def __repr__(self) -> str:
        parts = [f"#{self.seq} {self.kind}"]
        for name in ("exchange", "routing_key", "queue", "queues", "message_id", "origin_id", "consumer_tag",
                     "delivery_tag", "requeue", "reason", "count", "detail"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={value!r}")
        return f"Event({', '.join(parts)})"


_new_event = Event.__new__


class Subscription:
    """An open subscription to a broker's events; :meth:`close` (or leaving a ``with`` block) ends it.

    It receives every event emitted after :meth:`EventHub.subscribe` returned whose kind is in
    ``kinds`` (None: every kind).  ``errors`` counts the events its callback raised on.
    """

    __slots__ = ("callback", "kinds", "first_seq", "closed", "errors", "_hub")

    def __init__(self, hub: EventHub, callback: Callable[[Event], Any], kinds: frozenset[str] | None,
                 first_seq: int) -> None:
        self.callback = callback
        self.kinds = kinds
        #: the first event number this subscription receives
        self.first_seq = first_seq
        self.closed = False
        self.errors = 0
        self._hub = hub

    def close(self) -> None:
        """Stop receiving events (closing twice is harmless).  No event reaches the callback after
        ``close`` returns, except one another thread is handing it at that moment."""
        if not self.closed:
            self._hub.unsubscribe(self)

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kinds = "all kinds" if self.kinds is None else ", ".join(sorted(self.kinds))
        state = "closed" if self.closed else "open"
        return f"Subscription({_describe(self.callback)}, {kinds}, {state})"


def _describe(callback: Any) -> str:
    name = getattr(callback, "__qualname__", None) or type(callback).__name__
    module = getattr(callback, "__module__", None)
    return f"{module}.{name}" if module else name


class EventHub:
    """A broker's subscriptions, its event buffer and the dispatch that empties it.

    ``kernel`` is the broker's kernel (only ``lock``, ``release``, ``wakes`` and ``observers`` are
    used; the hub sets ``kernel.observers`` to itself while a subscription is open).  Every method
    whose name is a past participle (``published``, ``enqueued`` ...) runs with the lock held and
    is called only behind the ``kernel.observers is not None`` test.
    """

    __slots__ = ("_kernel", "_now", "_seq", "_message_ids", "_subscriptions", "_wanted", "_pending",
                 "_registered_in", "_hold_time", "_dispatch_lock", "_dispatcher")

    def __init__(self, kernel: Any, clock: Clock) -> None:
        self._kernel = kernel
        self._now = clock.now_ms
        self._seq = 0
        self._message_ids = 0
        #: the open subscriptions (replaced, never mutated: dispatch iterates a snapshot)
        self._subscriptions: tuple[Subscription, ...] = ()
        #: the kinds some subscription wants; None when one wants them all
        self._wanted: frozenset[str] | None = frozenset()
        #: events built under the lock, not yet handed out (appended under the broker lock; the
        #: dispatching thread, under the dispatch lock, copies a prefix and deletes it: both are
        #: single list operations, so an append racing with them is kept for the next round)
        self._pending: list[Event] = []
        #: the ``kernel.wakes`` list this hub last joined: a new list means a new lock hold
        self._registered_in: list | None = None
        #: the clock read at this lock hold's first event: the events of one hold share it
        self._hold_time = 0.0
        #: held by the thread handing events out; ``_dispatcher`` is its thread id
        self._dispatch_lock = threading.Lock()
        self._dispatcher: int | None = None

    # -- subscriptions (lock not held) -----------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], Any], kinds: Iterable[str] | None = None) -> Subscription:
        """Register ``callback(event)`` for the events of ``kinds`` (None: all) emitted from now on.

        ``TypeError`` if ``callback`` is not callable or ``kinds`` is a string or not iterable;
        ``ValueError`` naming the valid kinds for an unknown one.
        """
        if not callable(callback):
            raise TypeError(f"event callback must be callable, callback(event); got {type(callback).__name__}")
        wanted = _check_kinds(kinds)
        kernel = self._kernel
        with kernel:
            subscription = Subscription(self, callback, wanted, self._seq + 1)
            self._subscriptions = (*self._subscriptions, subscription)
            self._recompute()
            return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Close ``subscription`` (what :meth:`Subscription.close` calls)."""
        with self._kernel:
            subscription.closed = True
            self._subscriptions = tuple(s for s in self._subscriptions if s is not subscription)
            self._recompute()

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        """The open subscriptions, oldest first."""
        return self._subscriptions

    def _recompute(self) -> None:
        subscriptions = self._subscriptions
        if any(s.kinds is None for s in subscriptions):
            self._wanted = None
        else:
            self._wanted = frozenset().union(*(s.kinds for s in subscriptions))  # type: ignore[arg-type]
        self._kernel.observers = self if subscriptions else None

    def wants(self, kind: str) -> bool:
        """Whether some open subscription wants ``kind`` events (lock held)."""
        wanted = self._wanted
        return wanted is None or kind in wanted

    # -- building events (lock held) ---------------------------------------------------------------
    def _join(self, wakes: list) -> None:
        """The first event of a lock hold: join its wake-ups and read the clock (``Kernel.release``
        replaces a non-empty ``wakes`` list, so a new list is a new hold)."""
        self._registered_in = wakes
        wakes.append(self)
        self._hold_time = self._now()

    def _event(self, kind: str, vhost: str | None, message: Message | None = None, queue: str | None = None) -> Event:
        """A new event, numbered and buffered (the hot hooks, ``published`` and ``enqueued``, inline this)."""
        seq = self._seq = self._seq + 1
        wakes = self._kernel.wakes
        if self._registered_in is not wakes:
            self._join(wakes)
        event = Event(seq, kind, self._hold_time, vhost, message, queue)
        self._pending.append(event)
        return event

    def new_message(self, body: bytes, properties: Properties | None, exchange: str, routing_key: str,
                    ttl: int | None, bcc: list[str] | None) -> Message:
        """The message a publish builds while someone listens: one that carries its identity."""
        self._message_ids += 1
        if bcc is None:
            return TracedMessage(body, properties, exchange, routing_key, ttl, self._message_ids)
        return TracedBccMessage(body, properties, exchange, routing_key, ttl, bcc, self._message_ids)

    def name_copy(self, copy: Any) -> None:
        """Give a dead-lettered copy an identity of its own (its ``trace_id`` slot)."""
        self._message_ids += 1
        copy.trace_id = self._message_ids

    def published(self, channel: Any, message: Message, queues: Iterable[Any], mandatory: bool) -> None:
        """``publish`` then ``route`` (the names of the queues reached) for one ``basic.publish``."""
        wanted = self._wanted
        want_publish = wanted is None or "publish" in wanted
        want_route = wanted is None or "route" in wanted
        if not (want_publish or want_route):
            return
        wakes = self._kernel.wakes
        if self._registered_in is not wakes:
            self._join(wakes)
        time = self._hold_time
        connection = channel.connection
        vhost = connection.vhost.name
        number = channel.number
        connection_number = connection.number
        exchange = message.exchange
        routing_key = message.routing_key
        message_id = message.trace_id
        origin_id = message.origin_id
        append = self._pending.append
        if want_publish:
            event = _new_event(Event)
            event.seq = self._seq = self._seq + 1
            event.kind = "publish"
            event.time = time
            event.vhost = vhost
            event.message = message
            event.exchange = exchange
            event.routing_key = routing_key
            event.message_id = message_id
            event.origin_id = origin_id
            event.channel = number
            event.connection = connection_number
            event.detail = mandatory
            append(event)
        if want_route:
            event = _new_event(Event)
            event.seq = self._seq = self._seq + 1
            event.kind = "route"
            event.time = time
            event.vhost = vhost
            event.message = message
            event.exchange = exchange
            event.routing_key = routing_key
            event.message_id = message_id
            event.origin_id = origin_id
            event.channel = number
            event.connection = connection_number
            event.queues = tuple([q.name for q in queues])
            append(event)

    def enqueued(self, queue: Any, message: Message) -> None:
        """``enqueue``: ``queue`` accepted ``message``."""
        wanted = self._wanted
        if wanted is None or "enqueue" in wanted:
            wakes = self._kernel.wakes
            if self._registered_in is not wakes:
                self._join(wakes)
            event = _new_event(Event)
            event.seq = self._seq = self._seq + 1
            event.kind = "enqueue"
            event.time = self._hold_time
            event.vhost = queue.vhost.name
            event.queue = queue.name
            event.message = message
            event.exchange = message.exchange
            event.routing_key = message.routing_key
            event.message_id = message.trace_id
            event.origin_id = message.origin_id
            self._pending.append(event)

    def delivered(self, queue_name: str, vhost: str, channel: Any, message: Message, consumer_tag: str | None,
                  delivery_tag: int | None, redelivered: bool, auto_ack: bool) -> None:
        """``deliver``: a ``basic.deliver`` (``consumer_tag`` set) or ``basic.get-ok`` (None)."""
        if self.wants("deliver"):
            event = self._event("deliver", vhost, message, queue_name)
            event.consumer_tag = consumer_tag
            event.delivery_tag = delivery_tag
            event.redelivered = redelivered
            event.auto_ack = auto_ack
            event.channel = channel.number
            event.connection = channel.connection.number

    def settled(self, kind: str, channel: Any, delivery: Any, requeue: bool | None,
                reason: str | None = None) -> None:
        """``ack``, ``nack`` or ``reject`` of one delivery (``reason``: a broker-side requeue, e.g.
        ``"channel closed"``)."""
        if self.wants(kind):
            event = self._event(kind, channel.connection.vhost.name, delivery.entry.message, delivery.queue.name)
            event.consumer_tag = delivery.consumer_tag
            event.delivery_tag = delivery.delivery_tag
            event.requeue = requeue
            event.reason = reason
            event.channel = channel.number
            event.connection = channel.connection.number

    def returned(self, channel: Any, message: Message, mandatory: bool) -> None:
        """An unroutable publish: ``return`` (mandatory) or ``drop`` with reason ``unroutable``."""
        kind = "return" if mandatory else "drop"
        if self.wants(kind):
            event = self._event(kind, channel.connection.vhost.name, message)
            event.reason = "NO_ROUTE" if mandatory else "unroutable"
            event.channel = channel.number
            event.connection = channel.connection.number

    def confirmed(self, channel: Any, publish_seq: int, ack: bool) -> None:
        """``confirm``: publish ``publish_seq`` of ``channel`` was acked (True) or nacked (False)."""
        if self.wants("confirm"):
            event = self._event("confirm", channel.connection.vhost.name)
            event.delivery_tag = publish_seq
            event.detail = ack
            event.channel = channel.number
            event.connection = channel.connection.number

    def discarded(self, queue: Any, message: Message, reason: str) -> None:
        """A message left ``queue`` unconsumed: ``expire`` (reason ``expired``) or ``drop`` (``maxlen``,
        ``reject-publish``, ``delivery_limit`` ...)."""
        kind = "expire" if reason == "expired" else "drop"
        if self.wants(kind):
            event = self._event(kind, queue.vhost.name, message)
            event.queue = queue.name
            event.reason = reason

    def dead_lettered(self, queue: Any, copy: Any, reason: str, targets: Iterable[Any]) -> None:
        """``dead-letter``: ``copy`` (with its own id; ``origin_id`` the original's) leaves ``queue``
        for the DLX, reaching ``targets``."""
        if self.wants("dead-letter"):
            event = self._event("dead-letter", queue.vhost.name, copy)
            event.queue = queue.name
            event.reason = reason
            event.queues = tuple(t.name for t in targets)

    def dropped_many(self, queue: Any, count: int, reason: str) -> None:
        """``drop`` of ``count`` ready messages at once (``purged``, ``queue deleted``)."""
        if count and self.wants("drop"):
            event = self._event("drop", queue.vhost.name)
            event.queue = queue.name
            event.count = count
            event.reason = reason

    def topology(self, kind: str, vhost: str, name: str, detail: Any = None, reason: str | None = None) -> None:
        """``queue.*`` / ``exchange.*`` events (``name`` goes in ``queue`` or ``exchange``)."""
        if self.wants(kind):
            event = self._event(kind, vhost)
            if kind[0] == "q":
                event.queue = name
            else:
                event.exchange = name
            event.detail = detail
            event.reason = reason

    def binding(self, kind: str, vhost: str, binding: Any) -> None:
        """``binding.created`` / ``binding.deleted``: ``exchange`` is the source, ``queue`` the
        destination's name, ``detail`` its kind (``"queue"`` or ``"exchange"``)."""
        if self.wants(kind):
            event = self._event(kind, vhost)
            event.exchange = binding.source.name
            event.queue = binding.destination.name
            event.routing_key = binding.routing_key
            event.detail = "queue" if binding.destination.is_queue else "exchange"

    # -- dispatch (lock not held) ------------------------------------------------------------------
    def wake(self) -> None:
        """Hand every buffered event to the subscriptions, in order (``Kernel.release`` calls this)."""
        me = _get_ident()
        if self._dispatcher == me:
            return  # called from inside a callback: the loop below, further up this stack, delivers them
        pending = self._pending
        with self._dispatch_lock:
            self._dispatcher = me
            try:
                while pending:
                    batch = pending[:]  # the events buffered so far, oldest first; later ones stay
                    del pending[:len(batch)]
                    # a subscription opened during this batch numbers its first event past all of it
                    subscriptions = self._subscriptions
                    if len(subscriptions) == 1:  # one subscriber: the same order, a shorter loop
                        self._deliver(subscriptions[0], batch)
                        continue
                    for event in batch:
                        kind = event.kind
                        seq = event.seq
                        for subscription in subscriptions:
                            kinds = subscription.kinds
                            if subscription.closed or seq < subscription.first_seq or \
                                    (kinds is not None and kind not in kinds):
                                continue
                            try:
                                subscription.callback(event)
                            except Exception:  # a subscriber's bug must not change what the broker does
                                subscription.errors += 1
                                if subscription.errors == 1:
                                    log.exception("event subscriber %s raised on %r (logged once per subscriber)",
                                                  _describe(subscription.callback), event)
            finally:
                self._dispatcher = None

    @staticmethod
    def _deliver(subscription: Subscription, batch: list[Event]) -> None:
        """Hand ``batch`` to the only subscription (dispatch lock held): the checks of the general
        loop with the subscription's fields read once."""
        callback = subscription.callback
        kinds = subscription.kinds
        first_seq = subscription.first_seq
        for event in batch:
            if subscription.closed:
                return
            if event.seq < first_seq or (kinds is not None and event.kind not in kinds):
                continue
            try:
                callback(event)
            except Exception:  # a subscriber's bug must not change what the broker does
                subscription.errors += 1
                if subscription.errors == 1:
                    log.exception("event subscriber %s raised on %r (logged once per subscriber)",
                                  _describe(callback), event)

    def __repr__(self) -> str:
        return f"EventHub(subscriptions={len(self._subscriptions)}, pending={len(self._pending)})"


def _check_kinds(kinds: Iterable[str] | None) -> frozenset[str] | None:
    if kinds is None:
        return None
    if isinstance(kinds, str):
        raise TypeError(f"kinds must be an iterable of event kind names, not the str {kinds!r} "
                        f"(write kinds=[{kinds!r}])")
    try:
        wanted = frozenset(kinds)
    except TypeError:
        raise TypeError(f"kinds must be an iterable of event kind names or None, not {type(kinds).__name__}") from None
    unknown = sorted(k for k in wanted if k not in _KIND_SET) if all(isinstance(k, str) for k in wanted) \
        else [repr(k) for k in wanted if not isinstance(k, str) or k not in _KIND_SET]
    if unknown:
        raise ValueError(f"unknown event kind(s) {', '.join(map(str, unknown))}; valid kinds: {', '.join(EVENT_KINDS)}")
    return wanted
