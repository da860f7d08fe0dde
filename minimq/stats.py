"""Statistics like ``rabbitmqctl list_*``: records of queues, exchanges, bindings, consumers, channels
and connections, and a text table of them.

What is read from live state and what is counted.  Sizes (messages ready and unacknowledged,
consumers, channels ...) are read from the broker's objects when a list is asked for.  Message
counts and rates (published, delivered, acked per queue; in and out per exchange) come from a
:class:`StatsCollector`, an ordinary subscriber to the event stream (:mod:`minimq.events`) that
``Broker.enable_stats()`` opens.  The hot path keeps no counters of its own: a broker without stats
pays nothing for them (the event hook points are one attribute test each, whoever listens), and with
stats enabled the cost is the event stream's (benchmarks/README.md has both figures).  Without a
collector the count and rate fields are ``None``.

Rates are messages per second over the collector's ``window`` (seconds of the broker clock): the
events counted in the last ``window``, in buckets of a tenth of it, divided by ``window``.  A bucket is
dropped whole, so a rate can lag by up to one bucket.

Counts follow the event stream: a collector's callback runs after the lock is released, before the
operation that caused the events returns (see :mod:`minimq.events`), so on the thread that made a
change the counts include it.  A queue or exchange deleted and declared again starts from zero.

Every function taking broker objects runs with the broker lock held (the broker calls them).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from .clock import Clock
from .events import Event

__all__ = ["COUNTED_KINDS", "StatsCollector", "QueueInfo", "ExchangeInfo", "BindingInfo", "ConsumerInfo", "ChannelInfo",
           "ConnectionInfo", "format_table", "queue_infos", "exchange_infos", "binding_infos",
           "consumer_infos", "channel_infos", "connection_infos"]

#: the event kinds a collector counts
COUNTED_KINDS = ("publish", "route", "enqueue", "deliver", "ack", "dead-letter",
                 "queue.created", "queue.deleted", "exchange.created", "exchange.deleted")


class _Counter:
    """A total and per-bucket counts of the last window (bucket index = time // bucket length)."""

    __slots__ = ("total", "buckets")

    def __init__(self) -> None:
        self.total = 0
        self.buckets: deque[list[int]] = deque()

    def add(self, bucket: int, keep: int) -> None:
        self.total += 1
        buckets = self.buckets
        if buckets and buckets[-1][0] == bucket:
            buckets[-1][1] += 1
            return
        buckets.append([bucket, 1])
        while buckets[0][0] <= bucket - keep:
            buckets.popleft()

    def in_window(self, bucket: int, keep: int) -> int:
        return sum(n for b, n in self.buckets if bucket - keep < b <= bucket)


class StatsCollector:
    """Message counts and rates per queue and per exchange, kept from the event stream.

    ``window`` (seconds, > 0) is the span rates are computed over.  Open one with
    ``Broker.enable_stats()``; :meth:`on_event` is its subscription's callback.
    """

    def __init__(self, clock: Clock, window: float = 5.0) -> None:
        if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:
            raise ValueError(f"window must be a number of seconds > 0, got {window!r}")
        self.window = float(window)
        self._now = clock.now_ms
        self._bucket_ms = self.window * 1000.0 / 10
        #: (vhost, "queue" or "exchange", name) -> counter name -> _Counter
        self._counters: dict[tuple[str, str, str], dict[str, _Counter]] = {}
        #: the subscription feeding it (set by the broker), closed by :meth:`close`
        self.subscription: Any = None

    def on_event(self, event: Event) -> None:
        """Count one event (the subscription's callback)."""
        kind = event.kind
        vhost = event.vhost or ""
        if kind == "enqueue":
            self._add(vhost, "queue", event.queue, "published", event.time)
        elif kind == "deliver":
            if event.delivery_tag is not None:  # a direct reply-to reply has no queue to count against
                self._add(vhost, "queue", event.queue, "delivered", event.time)
        elif kind == "ack":
            self._add(vhost, "queue", event.queue, "acked", event.time)
        elif kind == "publish":
            self._add(vhost, "exchange", event.exchange, "published_in", event.time)
        elif kind == "route":
            if event.queues:
                self._add(vhost, "exchange", event.exchange, "published_out", event.time)
        elif kind == "dead-letter":
            self._add(vhost, "exchange", event.exchange, "published_in", event.time)
            if event.queues:
                self._add(vhost, "exchange", event.exchange, "published_out", event.time)
        elif kind in ("queue.created", "queue.deleted"):
            self._counters.pop((vhost, "queue", event.queue or ""), None)
        elif kind in ("exchange.created", "exchange.deleted"):
            self._counters.pop((vhost, "exchange", event.exchange or ""), None)

    def _add(self, vhost: str, kind: str, name: str | None, counter: str, time: float) -> None:
        table = self._counters.setdefault((vhost, kind, name or ""), {})
        count = table.get(counter)
        if count is None:
            count = table[counter] = _Counter()
        count.add(int(time // self._bucket_ms), 10)

    def count(self, vhost: str, kind: str, name: str, counter: str) -> int:
        """The total of ``counter`` (e.g. ``"published"``) for queue/exchange ``name`` (``kind``)."""
        found = self._counters.get((vhost, kind, name), {}).get(counter)
        return 0 if found is None else found.total

    def rate(self, vhost: str, kind: str, name: str, counter: str) -> float:
        """``counter`` events per second over the last :attr:`window` seconds of the broker clock."""
        found = self._counters.get((vhost, kind, name), {}).get(counter)
        if found is None:
            return 0.0
        return found.in_window(int(self._now() // self._bucket_ms), 10) / self.window

    def close(self) -> None:
        """Stop counting (the broker's ``disable_stats`` calls this)."""
        if self.subscription is not None:
            self.subscription.close()

    def __repr__(self) -> str:
        return f"StatsCollector(window={self.window:g}s, objects={len(self._counters)})"


# -- records ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class QueueInfo:
    """One queue, as ``rabbitmqctl list_queues`` shows it (counts and rates None without stats)."""

    vhost: str
    name: str
    type: str
    durable: bool
    auto_delete: bool
    exclusive: bool
    messages_ready: int
    messages_unacknowledged: int
    messages: int
    consumers: int
    published: int | None = None
    delivered: int | None = None
    acked: int | None = None
    publish_rate: float | None = None
    deliver_rate: float | None = None
    ack_rate: float | None = None

    DEFAULT_COLUMNS = ("name", "messages_ready", "messages_unacknowledged", "consumers")


@dataclass(frozen=True, slots=True)
class ExchangeInfo:
    """One exchange, as ``rabbitmqctl list_exchanges`` shows it (counts and rates None without stats)."""

    vhost: str
    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    published_in: int | None = None
    published_out: int | None = None
    publish_in_rate: float | None = None
    publish_out_rate: float | None = None

    DEFAULT_COLUMNS = ("name", "type")


@dataclass(frozen=True, slots=True)
class BindingInfo:
    """One binding, as ``rabbitmqctl list_bindings`` shows it (the default exchange's implicit ones included)."""

    vhost: str
    source_name: str
    source_kind: str
    destination_name: str
    destination_kind: str
    routing_key: str
    arguments: dict

    DEFAULT_COLUMNS = ("source_name", "source_kind", "destination_name", "destination_kind", "routing_key",
                       "arguments")


@dataclass(frozen=True, slots=True)
class ConsumerInfo:
    """One consumer, as ``rabbitmqctl list_consumers`` shows it; ``channel`` is ``"<connection>.<channel>"``."""

    vhost: str
    queue_name: str
    channel: str
    consumer_tag: str
    ack_required: bool
    prefetch_count: int
    active: bool
    exclusive: bool
    priority: int
    arguments: dict

    DEFAULT_COLUMNS = ("queue_name", "channel", "consumer_tag", "ack_required", "prefetch_count", "active",
                       "arguments")


@dataclass(frozen=True, slots=True)
class ChannelInfo:
    """One open channel, as ``rabbitmqctl list_channels`` shows it; ``name`` is ``"<connection>.<channel>"``."""

    vhost: str
    name: str
    connection: int
    number: int
    user: str
    mode: str
    consumer_count: int
    messages_unacknowledged: int
    prefetch_count: int
    global_prefetch_count: int

    DEFAULT_COLUMNS = ("name", "user", "consumer_count", "messages_unacknowledged")


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """One open connection, as ``rabbitmqctl list_connections`` shows it."""

    vhost: str
    number: int
    user: str
    channels: int

    DEFAULT_COLUMNS = ("number", "user", "vhost", "channels")


# -- building them (lock held) ------------------------------------------------------------------------

def queue_infos(vhost: Any, stats: StatsCollector | None) -> list[QueueInfo]:
    """A :class:`QueueInfo` per queue of ``vhost`` (a ``VirtualHost``), in name order."""
    out = []
    for name in sorted(vhost.queues):
        queue = vhost.queues[name]
        ready = queue.message_count
        unacked = queue.unacked_count
        counts: dict[str, Any] = {}
        if stats is not None:
            key = (vhost.name, "queue", name)
            for counter, rate in (("published", "publish_rate"), ("delivered", "deliver_rate"),
                                  ("acked", "ack_rate")):
                counts[counter] = stats.count(*key, counter)
                counts[rate] = stats.rate(*key, counter)
        out.append(QueueInfo(vhost.name, name, queue.queue_type, queue.durable, queue.auto_delete,
                             queue.exclusive_owner is not None, ready, unacked, ready + unacked,
                             queue.consumer_count, **counts))
    return out


def exchange_infos(vhost: Any, stats: StatsCollector | None) -> list[ExchangeInfo]:
    """An :class:`ExchangeInfo` per exchange of ``vhost``, the default exchange (``""``) first."""
    out = []
    for name in sorted(vhost.exchanges):
        exchange = vhost.exchanges[name]
        counts: dict[str, Any] = {}
        if stats is not None:
            key = (vhost.name, "exchange", name)
            counts = {"published_in": stats.count(*key, "published_in"),
                      "published_out": stats.count(*key, "published_out"),
                      "publish_in_rate": stats.rate(*key, "published_in"),
                      "publish_out_rate": stats.rate(*key, "published_out")}
        out.append(ExchangeInfo(vhost.name, name, exchange.type, exchange.durable, exchange.auto_delete,
                                exchange.internal, **counts))
    return out


def binding_infos(vhost: Any) -> list[BindingInfo]:
    """Every binding of ``vhost``: the default exchange's implicit ones (one per queue), then the
    others by source name, in the order they were made."""
    out = [BindingInfo(vhost.name, "", "exchange", name, "queue", name, {}) for name in sorted(vhost.queues)]
    for name in sorted(vhost.exchanges):
        for binding in vhost.exchanges[name].bindings.values():
            destination = binding.destination
            out.append(BindingInfo(vhost.name, name, "exchange", destination.name,
                                   "queue" if destination.is_queue else "exchange", binding.routing_key,
                                   dict(binding.arguments)))
    return out


def consumer_infos(vhost: Any) -> list[ConsumerInfo]:
    """Every consumer of ``vhost``'s queues, by queue name, then in subscription order."""
    out = []
    for name in sorted(vhost.queues):
        for consumer in vhost.queues[name].consumers:
            channel = consumer.channel
            out.append(ConsumerInfo(vhost.name, name, f"{channel.connection.number}.{channel.number}",
                                    consumer.tag, not consumer.no_ack, consumer.prefetch, consumer.active,
                                    consumer.exclusive, consumer.priority, dict(consumer.arguments)))
    return out


def channel_infos(connections: Iterable[Any], vhost: str) -> list[ChannelInfo]:
    """Every open channel of the open ``connections`` to ``vhost``, by connection and channel number."""
    out = []
    for connection in sorted((c for c in connections if c.vhost.name == vhost), key=_by_number):
        for number in sorted(connection.channels):
            channel = connection.channels[number]
            out.append(ChannelInfo(vhost, f"{connection.number}.{number}", connection.number, number,
                                   connection.user, channel.mode, len(channel.consumers), channel.unacked_count,
                                   channel.prefetch_count, channel.global_prefetch_count))
    return out


def connection_infos(connections: Iterable[Any], vhost: str) -> list[ConnectionInfo]:
    """Every open connection to ``vhost``, in opening order."""
    return [ConnectionInfo(vhost, c.number, c.user, len(c.channels))
            for c in sorted((c for c in connections if c.vhost.name == vhost), key=_by_number)]


def _by_number(connection: Any) -> int:
    return connection.number


# -- the text table ------------------------------------------------------------------------------------

def format_table(rows: Sequence[Any], columns: Sequence[str] | None = None) -> str:
    """``rows`` (records of one type from ``Broker.list_*``) as a text table: a header line, then one
    line per row, columns separated by two spaces, numbers right-aligned, rates with two decimals.

    ``columns`` picks the fields and their order (default: the record type's ``DEFAULT_COLUMNS``,
    what ``rabbitmqctl`` shows without arguments).  ``ValueError`` naming the valid columns for an
    unknown one, or when ``columns`` is None and ``rows`` is empty (the record type is unknown then).
    """
    if isinstance(columns, str):
        raise TypeError(f"columns must be a sequence of column names, not the str {columns!r}")
    if rows:
        record_type = type(rows[0])
        if any(type(row) is not record_type for row in rows):
            raise TypeError("rows must all be records of one type (one Broker.list_* result)")
        valid = [field.name for field in dataclasses.fields(record_type)]
        if columns is None:
            columns = record_type.DEFAULT_COLUMNS
        unknown = [c for c in columns if c not in valid]
        if unknown:
            raise ValueError(f"unknown column(s) {', '.join(map(repr, unknown))} for {record_type.__name__}; "
                             f"valid columns: {', '.join(valid)}")
    elif columns is None:
        raise ValueError("columns must be given for an empty list of rows")
    columns = list(columns)
    cells = [[_cell(getattr(row, c)) for c in columns] for row in rows]
    numeric = [all(_is_number(getattr(row, c)) for row in rows) and bool(rows) for c in columns]
    widths = [max([len(c)] + [len(line[i]) for line in cells]) for i, c in enumerate(columns)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(columns)] + [line(values) for values in cells]) + "\n"


def _is_number(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return "[" + ", ".join(f"{{{k!r},{v!r}}}" for k, v in value.items()) + "]" if value else "[]"
    return str(value)
