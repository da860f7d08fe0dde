"""The message journal: one record per message, kept from the event stream, with queries.

``Broker.enable_journal()`` opens a :class:`Journal`, an ordinary subscriber to the event stream
(:mod:`minimq.events`), so a broker that never enables one pays nothing for it, and one that
disables it pays nothing again.  Each message published, injected, moved or dead-lettered while the
journal is on gets a :class:`MessageRecord`: where it came from (exchange, routing key,
properties, body, broker-clock time), the queues it reached (or why it was returned or dropped),
every delivery (consumer tag, channel, delivery tag), every settlement (ack, nack or reject, with
requeue), expiry and dead-lettering, with a link to the dead-lettered copy's own record.  A record
keeps the events themselves (``record.events``); everything else is a view of them.

Messages published before the journal was enabled have no record (they carry no identity, or one
the journal never saw published); their later events are ignored.

Consistency.  Records are filled by the subscription callback, which runs before the operation that
caused the events returns (on that thread; see :mod:`minimq.events`), so a query right after a
publish sees it.  Queries from other threads see a consistent snapshot: the journal's own lock
guards its tables.

Memory.  A record holds its message's body and events.  ``limit`` (records) bounds the journal:
past it, the oldest records are forgotten (``evicted`` counts them).

Cost model.  Recording is one C-level ``list.append`` of the event per event (the journal's
subscription callback is its log's ``append``); the records are built from that log when someone
asks: every query, and every read of a record's changing fields (``events``, ``copies``,
``routed``, ``origin``, ``source``), first files the events logged since the last one, under the
journal's lock.  So a publish with the journal on costs the event stream's three events and three
appends (benchmarks/README.md); the bookkeeping (one dict lookup and one list append per event,
one :class:`MessageRecord` per message) is paid once, by the first query after it.  With a
``limit`` the callback is :meth:`Journal.on_event`, which also files the log once it holds
``limit`` events, so the log never outgrows the bound.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Iterator

from .events import Event
from .message import Properties

__all__ = ["Journal", "MessageRecord", "JournalDisabledError", "JOURNAL_KINDS"]

#: the event kinds a journal records
JOURNAL_KINDS = ("publish", "route", "enqueue", "deliver", "ack", "nack", "reject", "return", "expire",
                 "dead-letter", "drop")

#: where a record's message came from
ORIGINS = ("published", "injected", "moved", "dead-lettered")


class JournalDisabledError(RuntimeError):
    """A journal query on a broker whose journal is off."""

    def __init__(self) -> None:
        super().__init__("the message journal is off: call broker.enable_journal() before the messages "
                         "you want to ask about are published")


def _fmt_time(ms: float) -> str:
    return f"t={ms / 1000:.3f}s"


def _body_prefix(body: bytes) -> str:
    body = bytes(body)
    return repr(body[:40] + (b"..." if len(body) > 40 else b""))


class MessageRecord:
    """Everything the journal knows about one message (a plain ``__slots__`` record).

    ``message_id`` is the message's event identity; ``origin`` one of ``"published"``,
    ``"injected"`` (``Broker.inject``), ``"moved"`` (``Broker.move``: ``source`` is the record of the
    message it was moved from) or ``"dead-lettered"`` (``source`` is the record of the message that
    died).  ``exchange``, ``routing_key``, ``properties``, ``body`` and ``time`` (broker clock, ms)
    describe how it entered; ``channel``/``connection`` the publisher's numbers (None for the others).
    ``copies`` are the records of the messages made from it (dead-lettered or moved).  ``events`` is
    every event about it, in order.
    """

    __slots__ = ("message_id", "_origin", "_source", "_copies", "vhost", "exchange", "routing_key", "properties",
                 "body", "time", "channel", "connection", "mandatory", "_routed", "_events", "_journal")

    def __init__(self, message_id: int, origin: str, event: Event, journal: Journal | None = None) -> None:
        message = event.message
        self.message_id = message_id
        self._journal = journal
        self._origin = origin
        self._source: MessageRecord | None = None
        self._copies: list[MessageRecord] = []
        self.vhost = event.vhost
        self.exchange = event.exchange
        self.routing_key = event.routing_key
        self.properties: Properties | None = message.properties if message is not None else None
        self.body: bytes = message.body if message is not None else b""
        self.time = event.time
        self.channel = event.channel
        self.connection = event.connection
        #: publish: the mandatory flag
        self.mandatory: bool | None = event.detail if event.kind == "publish" else None
        self._routed: tuple[str, ...] | None = None
        self._events: list[Event] = []

    # -- the fields later events change (each read first files the journal's log) ----------------
    def _sync(self) -> None:
        journal = self._journal
        if journal is not None and journal._log:
            journal._sync()

    @property
    def events(self) -> list[Event]:
        """Every event about the message, in order."""
        self._sync()
        return self._events

    @property
    def copies(self) -> list[MessageRecord]:
        """The records of the messages made from it (dead-lettered or moved)."""
        self._sync()
        return self._copies

    @property
    def routed(self) -> tuple[str, ...] | None:
        """The queues the publish's route (or the dead-lettering) reached; None until known."""
        self._sync()
        return self._routed

    @property
    def origin(self) -> str:
        """``"published"``, ``"injected"``, ``"moved"`` or ``"dead-lettered"``."""
        self._sync()
        return self._origin

    @property
    def source(self) -> MessageRecord | None:
        """The record of the message it was moved or dead-lettered from, or None."""
        self._sync()
        return self._source

    # -- views ----------------------------------------------------------------------------------
    def _of(self, *kinds: str) -> list[Event]:
        return [e for e in self.events if e.kind in kinds and e.message_id == self.message_id]

    @property
    def queues(self) -> tuple[str, ...]:
        """The queues that took the message (its ``enqueue`` events), in order."""
        return tuple(e.queue for e in self._of("enqueue"))  # type: ignore[misc]

    @property
    def returned(self) -> str | None:
        """The reason a mandatory publish came back (``"NO_ROUTE"``), or None."""
        found = self._of("return")
        return found[0].reason if found else None

    @property
    def dropped(self) -> list[tuple[str | None, str]]:
        """``(queue, reason)`` for each time the broker let go of it: ``(None, "unroutable")``,
        ``maxlen``, ``reject-publish``, ``delivery_limit``, ``moved`` ..."""
        return [(e.queue, e.reason or "") for e in self._of("drop")]

    @property
    def deliveries(self) -> list[Event]:
        """Its ``deliver`` events: ``queue``, ``consumer_tag`` (None for ``basic.get``), ``channel``,
        ``delivery_tag``, ``redelivered``."""
        return self._of("deliver")

    @property
    def settlements(self) -> list[Event]:
        """Its ``ack`` / ``nack`` / ``reject`` events (``requeue`` says whether it went back)."""
        return self._of("ack", "nack", "reject")

    @property
    def acked(self) -> bool:
        """True once a delivery of it was acked (or delivered with auto-ack)."""
        return any(e.kind == "ack" or (e.kind == "deliver" and e.auto_ack) for e in self._of("ack", "deliver"))

    @property
    def expired(self) -> list[str]:
        """The queues it expired in."""
        return [e.queue for e in self._of("expire")]  # type: ignore[misc]

    @property
    def dead_lettered(self) -> list[tuple[str, str, MessageRecord | None]]:
        """``(queue, reason, copy's record)`` for each time it was dead-lettered."""
        out = []
        events, copies = self.events, self.copies
        for e in events:
            if e.kind == "dead-letter" and e.origin_id == self.message_id and e.message_id != self.message_id:
                copy = next((c for c in copies if c.message_id == e.message_id), None)
                out.append((e.queue or "", e.reason or "", copy))
        return out

    @property
    def outcome(self) -> str:
        """How it stands, in a word: ``"acked"``, ``"rejected"``, ``"dead-lettered"``, ``"expired"``,
        ``"dropped"``, ``"returned"``, ``"moved"``, ``"unacked"`` (delivered, not settled) or
        ``"ready"`` (in a queue)."""
        state = "ready" if self.queues else "unrouted"
        for e in self.events:
            kind = e.kind
            if e.message_id != self.message_id:
                if kind == "dead-letter":
                    state = "dead-lettered"
                continue
            if kind == "deliver":
                state = "acked" if e.auto_ack else "unacked"
            elif kind == "ack":
                state = "acked"
            elif kind in ("nack", "reject"):
                state = "ready" if e.requeue else "rejected"
            elif kind == "expire":
                state = "expired"
            elif kind == "drop":
                state = "moved" if e.reason == "moved" else "dropped"
            elif kind == "return":
                state = "returned"
        return state

    def lines(self) -> list[str]:
        """The record as readable journal lines, one per event."""
        out = [f"{_fmt_time(self.time)} #{self.message_id} {self.describe()}"]
        for e in self.events:
            line = _event_line(e, self.message_id)
            if line is not None:
                out.append(f"{_fmt_time(e.time)}   {line}")
        return out

    def describe(self) -> str:
        """One line: how the message entered (``published to 'x' key 'k' body b'...'``)."""
        how = {"published": "published to", "injected": "injected via", "moved": "moved to",
               "dead-lettered": "dead-lettered to"}.get(self.origin, self.origin)
        return f"{how} exchange {self.exchange!r} key {self.routing_key!r} body {_body_prefix(self.body)}"

    def __repr__(self) -> str:
        return f"MessageRecord(#{self.message_id}, {self.describe()}, {self.outcome})"


def _event_line(e: Event, own_id: int) -> str | None:
    kind = e.kind
    if kind == "publish":
        return None
    if kind == "route":
        return f"routed to {list(e.queues or ())}" if e.queues else "routed to no queue"
    if kind == "enqueue":
        return f"enqueued in {e.queue!r}"
    if kind == "deliver":
        who = f"consumer {e.consumer_tag!r}" if e.consumer_tag is not None else "basic.get"
        auto = ", auto-ack" if e.auto_ack else ""
        return (f"delivered from {e.queue!r} to {who} on channel {e.channel} (delivery tag {e.delivery_tag}"
                f"{', redelivered' if e.redelivered else ''}{auto})")
    if kind in ("ack", "nack", "reject"):
        requeue = "" if kind == "ack" else f" requeue={e.requeue}"
        why = f" ({e.reason})" if e.reason else ""
        return f"{kind} in {e.queue!r} (delivery tag {e.delivery_tag}){requeue}{why}"
    if kind == "return":
        return f"returned to the publisher ({e.reason})"
    if kind == "expire":
        return f"expired in {e.queue!r}"
    if kind == "drop":
        where = f" from {e.queue!r}" if e.queue else ""
        return f"dropped{where} ({e.reason})"
    if kind == "dead-letter":
        if e.message_id == own_id:
            return f"made by dead-lettering #{e.origin_id} from {e.queue!r} ({e.reason}) -> {list(e.queues or ())}"
        return f"dead-lettered from {e.queue!r} ({e.reason}) as #{e.message_id} -> {list(e.queues or ())}"
    return None


class Journal:
    """A broker's message journal (``Broker.enable_journal``); see the module docstring.

    ``limit``: keep at most this many records (None: all).  :meth:`on_event` is its subscription's
    callback; ``subscription`` is set by the broker.
    """

    def __init__(self, limit: int | None = None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit must be an int >= 1 or None, got {limit!r}")
        self.limit = limit
        #: how many records were forgotten to stay within ``limit``
        self.evicted = 0
        self.subscription: Any = None
        #: guards ``_records`` and ``_notes`` (the callback writes, queries on any thread read)
        self._lock = threading.Lock()
        self._records: dict[int, MessageRecord] = {}
        #: message id -> (origin, source id): what the broker said of a message it made itself,
        #: waiting for the message's first event (or applied at once if its record exists)
        self._notes: dict[int, tuple[str, int | None]] = {}
        #: events received, not yet filed into records (appended by the dispatching thread without
        #: the lock; :meth:`_file` takes a prefix and deletes it, single list operations both)
        self._log: list[Event] = []
        #: the subscription callback: the log's own ``append`` (no Python frame per event), or
        #: :meth:`on_event` when ``limit`` bounds the journal
        self.callback: Callable[[Event], Any] = self._log.append if limit is None else self.on_event

    # -- recording (the subscription callback) --------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Record ``event`` (the subscription's callback when ``limit`` is set; :attr:`callback` is
        the one to subscribe).  Logged, and the log filed once it holds ``limit`` events."""
        log = self._log
        log.append(event)
        if len(log) >= (self.limit or 1):
            self._sync()

    def _sync(self) -> None:
        """File the logged events into records (takes the journal's lock)."""
        with self._lock:
            self._file()

    def _file(self) -> None:
        """File every logged event into its record, oldest first (the journal's lock held)."""
        log = self._log
        while log:
            batch = log[:]
            del log[:len(batch)]
            record_event = self._record_event
            for event in batch:
                record_event(event)

    def _record_event(self, event: Event) -> None:
        message_id = event.message_id
        if message_id is None:
            return
        records = self._records
        record = records.get(message_id)
        kind = event.kind
        if record is None:
            if kind == "publish":
                record = self._new(message_id, "published", event)
            elif kind == "dead-letter":
                record = self._new(message_id, "dead-lettered", event)
                source = records.get(event.origin_id) if event.origin_id is not None else None
                if source is not None:
                    record._source = source
                    source._copies.append(record)
                    source._events.append(event)
            elif message_id in self._notes:  # a message the broker made itself: inject or move
                record = self._new(message_id, "injected", event)
            else:
                return
        if kind == "route":
            record._routed = event.queues
        elif kind == "dead-letter" and record._origin == "dead-lettered" and record._routed is None:
            record._routed = event.queues
        record._events.append(event)

    def _new(self, message_id: int, origin: str, event: Event) -> MessageRecord:
        record = MessageRecord(message_id, origin, event, self)
        note = self._notes.pop(message_id, None)
        if note is not None:
            self._apply_note(record, *note)
        records = self._records
        records[message_id] = record
        limit = self.limit
        if limit is not None and len(records) > limit:
            del records[next(iter(records))]
            self.evicted += 1
        return record

    def _apply_note(self, record: MessageRecord, origin: str, source_id: int | None) -> None:
        record._origin = origin
        if source_id is not None:
            source = self._records.get(source_id)
            if source is not None and record not in source._copies:
                record._source = source
                source._copies.append(record)

    def note(self, message_id: int, origin: str, source_id: int | None = None) -> None:
        """The broker made message ``message_id`` itself (``origin``: ``"injected"`` or ``"moved"``,
        from the message ``source_id``).  Called with the broker lock held, before the message's
        events are handed out, so its first event (an ``enqueue``, or a ``drop`` when the queue
        refused it) opens its record."""
        if origin not in ORIGINS:
            raise ValueError(f"origin must be one of {', '.join(ORIGINS)}, got {origin!r}")
        with self._lock:
            self._file()
            record = self._records.get(message_id)
            if record is None:
                self._notes[message_id] = (origin, source_id)
            else:
                self._apply_note(record, origin, source_id)

    # -- queries ----------------------------------------------------------------------------------
    def records(self, where: Callable[[MessageRecord], Any] | None = None) -> list[MessageRecord]:
        """Every record in the order the messages appeared (``where``: a predicate on the record)."""
        with self._lock:
            self._file()
            found = list(self._records.values())
        return found if where is None else [r for r in found if where(r)]

    def get(self, message_id: int) -> MessageRecord | None:
        """The record of message ``message_id``, or None."""
        with self._lock:
            self._file()
            return self._records.get(message_id)

    def published(self, exchange: str | None = None, routing_key: str | None = None,
                  where: Callable[[MessageRecord], Any] | None = None) -> list[MessageRecord]:
        """The records of ``basic.publish``-ed messages to ``exchange`` with ``routing_key`` (None: any)
        that satisfy ``where``, in publish order."""
        with self._lock:
            self._file()
            found = [r for r in self._records.values() if r._origin == "published"
                     and (exchange is None or r.exchange == exchange)
                     and (routing_key is None or r.routing_key == routing_key)]
        return found if where is None else [r for r in found if where(r)]

    def events(self, *kinds: str) -> list[Event]:
        """Every recorded event of ``kinds`` (none given: all), each once, in the broker's order."""
        with self._lock:
            self._file()
            seen: dict[int, Event] = {}
            for record in self._records.values():
                for e in record._events:
                    if not kinds or e.kind in kinds:
                        seen[e.seq] = e
        return [seen[seq] for seq in sorted(seen)]

    def clear(self) -> None:
        """Forget every record (recording goes on)."""
        with self._lock:
            self._file()  # events logged before the clear belong to what is forgotten
            self._records.clear()
            self._notes.clear()

    def close(self) -> None:
        """Stop recording (the records stay readable)."""
        if self.subscription is not None:
            self.subscription.close()

    def lines(self) -> list[str]:
        """The whole journal as readable lines, record by record."""
        return [line for record in self.records() for line in record.lines()]

    def __len__(self) -> int:
        with self._lock:
            self._file()
            return len(self._records)

    def __iter__(self) -> Iterator[MessageRecord]:
        return iter(self.records())

    def __repr__(self) -> str:
        state = "closed" if self.subscription is None or self.subscription.closed else "recording"
        return f"Journal({len(self)} records, {state})"
