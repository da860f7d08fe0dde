"""Assertions for tests, read from a broker's message journal (``Broker.enable_journal()``).

Each helper checks one thing and, when it does not hold, raises :class:`JournalAssertionError` (an
``AssertionError``, so pytest shows it as a failed assertion) whose text says what was expected,
what happened instead and the journal lines that matter: for a publish that did not happen, the
publishes that came closest (same exchange, similar routing key); for a delivery or
dead-lettering that did not happen, what became of the messages of that queue.

``count=None`` means "at least one"; an int means exactly that many.  The helpers return what they
matched (records or events), so a test can look further.

A test toolkit on top of the core: it uses the broker's public methods only, and costs nothing
unless called.  :class:`~minimq.journal.JournalDisabledError` when the journal is off (except
:func:`assert_queue_empty`, which needs no journal and uses it when it is on).
"""

from __future__ import annotations

import difflib
from typing import Any, Callable, Sequence

from .broker import Broker
from .events import Event
from .journal import Journal, JournalDisabledError, MessageRecord

__all__ = ["JournalAssertionError", "assert_published", "assert_delivered", "assert_acked",
           "assert_dead_lettered", "assert_queue_empty"]

#: at most this many records' lines go into a failure message
SHOWN = 5


class JournalAssertionError(AssertionError):
    """A journal assertion that did not hold; the text says what was expected, what happened and why."""


def _journal(broker: Broker) -> Journal:
    journal = broker.journal
    if journal is None:
        raise JournalDisabledError()
    return journal


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def _expected(count: int | None, word: str, plural: str | None = None) -> str:
    if count is None:
        return f"at least 1 {word}"
    return _plural(count, word, plural)


def _matches(found: Sequence[Any], count: int | None) -> bool:
    return len(found) >= 1 if count is None else len(found) == count


def _record_lines(records: Sequence[MessageRecord]) -> list[str]:
    lines: list[str] = []
    for record in records[:SHOWN]:
        lines.extend("  " + line for line in record.lines())
    if len(records) > SHOWN:
        lines.append(f"  ... and {len(records) - SHOWN} more")
    return lines


def _fail(summary: str, lines: list[str]) -> JournalAssertionError:
    return JournalAssertionError("\n".join([summary, *lines]) if lines else summary)


def _where_text(exchange: str | None, routing_key: str | None) -> str:
    parts = []
    if exchange is not None:
        parts.append(f"to {exchange!r}" if exchange else "to the default exchange ''")
    if routing_key is not None:
        parts.append(f"with key {routing_key!r}")
    return (" " + " ".join(parts)) if parts else ""


def _closest(records: list[MessageRecord], exchange: str | None, routing_key: str | None) -> list[MessageRecord]:
    """The published records most like the publish asked for: by routing key, then by exchange."""
    def score(record: MessageRecord) -> float:
        total = 0.0
        if routing_key is not None:
            total += difflib.SequenceMatcher(None, routing_key, record.routing_key or "").ratio()
        if exchange is not None:
            total += difflib.SequenceMatcher(None, exchange, record.exchange or "").ratio()
        return total

    wanted = (routing_key is not None) + (exchange is not None)
    scored = sorted(((score(r), i, r) for i, r in enumerate(records)), key=lambda t: (-t[0], t[1]))
    return [r for s, _i, r in scored if wanted and s / wanted >= 0.5][:3]


def assert_published(broker: Broker, exchange: str | None = None, routing_key: str | None = None,
                     count: int | None = None,
                     where: Callable[[MessageRecord], Any] | None = None) -> list[MessageRecord]:
    """Assert ``count`` messages (None: at least one) were ``basic.publish``-ed to ``exchange`` with
    ``routing_key`` (None: any) satisfying ``where``.  Returns their records."""
    journal = _journal(broker)
    found = journal.published(exchange, routing_key, where)
    if _matches(found, count):
        return found
    summary = (f"expected {_expected(count, 'publish', 'publishes')}{_where_text(exchange, routing_key)}"
               f"{' matching where' if where is not None else ''}; got {len(found)}")
    if found:
        raise _fail(summary, ["publishes that matched:", *_record_lines(found)])
    others = [r for r in journal.published() if r not in found]
    closest = _closest(others, exchange, routing_key)
    if closest:
        summary += "; closest: " + ", ".join(f"{r.routing_key!r} to {r.exchange!r} at t={r.time / 1000:.3f}s"
                                           for r in closest)
        raise _fail(summary, ["closest publishes:", *_record_lines(closest)])
    summary += f"; the journal holds {_plural(len(others), 'other publish', 'other publishes')}"
    raise _fail(summary, _record_lines(others))


def _records_of(journal: Journal, events: list[Event]) -> list[MessageRecord]:
    seen: dict[int, MessageRecord] = {}
    for event in events:
        if event.message_id is not None and event.message_id not in seen:
            record = journal.get(event.message_id)
            if record is not None:
                seen[event.message_id] = record
    return list(seen.values())


def _queue_records(journal: Journal, queue: str | None) -> list[MessageRecord]:
    return _records_of(journal, [e for e in journal.events("enqueue") if queue is None or e.queue == queue])


def _from(queue: str | None) -> str:
    return f" from {queue!r}" if queue is not None else ""


def assert_delivered(broker: Broker, queue: str | None = None, count: int | None = None,
                     consumer_tag: str | None = None) -> list[Event]:
    """Assert ``count`` deliveries (``basic.deliver`` or ``basic.get-ok``; redeliveries count) were
    made from ``queue`` (None: any) to ``consumer_tag`` (None: any consumer or get).  Returns the
    ``deliver`` events."""
    journal = _journal(broker)
    found = [e for e in journal.events("deliver") if (queue is None or e.queue == queue)
             and (consumer_tag is None or e.consumer_tag == consumer_tag)]
    if _matches(found, count):
        return found
    to = f" to consumer {consumer_tag!r}" if consumer_tag is not None else ""
    summary = f"expected {_expected(count, 'delivery', 'deliveries')}{_from(queue)}{to}; got {len(found)}"
    records = _records_of(journal, found) or _queue_records(journal, queue)
    if not records:
        summary += f"; no message was enqueued{' in ' + repr(queue) if queue is not None else ''}"
    raise _fail(summary, _record_lines(records))


def assert_acked(broker: Broker, queue: str | None = None, count: int | None = None) -> list[Event]:
    """Assert ``count`` messages (None: at least one) were acked from ``queue`` (None: any): ``ack``
    events, and deliveries made with auto-ack.  Returns those events."""
    journal = _journal(broker)
    found = [e for e in journal.events("ack", "deliver") if (queue is None or e.queue == queue)
             and (e.kind == "ack" or e.auto_ack)]
    if _matches(found, count):
        return found
    summary = f"expected {_expected(count, 'ack')}{_from(queue)}; got {len(found)}"
    records = _queue_records(journal, queue)
    if records:
        outcomes: dict[str, int] = {}
        for record in records:
            outcomes[record.outcome] = outcomes.get(record.outcome, 0) + 1
        summary += "; its messages: " + ", ".join(f"{n} {what}" for what, n in outcomes.items())
    raise _fail(summary, _record_lines(records))


def assert_dead_lettered(broker: Broker, queue: str | None = None, count: int | None = None,
                         reason: str | None = None, to: str | None = None) -> list[MessageRecord]:
    """Assert ``count`` messages (None: at least one) were dead-lettered from ``queue`` (None: any)
    for ``reason`` (``rejected``, ``expired``, ``maxlen``, ``delivery_limit``; None: any), their
    copies reaching queue ``to`` (None: anywhere, or nowhere).  Returns the copies' records."""
    journal = _journal(broker)
    found = [e for e in journal.events("dead-letter") if (queue is None or e.queue == queue)
             and (reason is None or e.reason == reason) and (to is None or to in (e.queues or ()))]
    if _matches(found, count):
        return _records_of(journal, found)
    parts = [_from(queue)]
    if reason is not None:
        parts.append(f" ({reason})")
    if to is not None:
        parts.append(f" reaching {to!r}")
    summary = f"expected {_expected(count, 'dead-lettered message')}{''.join(parts)}; got {len(found)}"
    others = [e for e in journal.events("dead-letter") if e not in found]
    if others:
        summary += "; other dead-letterings: " + ", ".join(
            f"from {e.queue!r} ({e.reason}) -> {list(e.queues or ())}" for e in others[:SHOWN])
    raise _fail(summary, _record_lines(_records_of(journal, found) or _queue_records(journal, queue)))


def assert_queue_empty(broker: Broker, queue: str, vhost: str = "/") -> None:
    """Assert ``queue`` holds no message, ready or unacknowledged.  Works with the journal off; with
    it on, the failure shows the journal lines of the first messages left."""
    found = broker.get_queue(queue, vhost)
    if found is None:
        raise JournalAssertionError(f"expected queue {queue!r} in vhost {vhost!r} to be empty; there is no such queue")
    ready = found.message_count
    unacked = found.unacked_count
    if not ready and not unacked:
        return
    summary = (f"expected queue {queue!r} to be empty; it holds {ready} ready and {unacked} unacknowledged "
               f"{'message' if ready + unacked == 1 else 'messages'}")
    lines: list[str] = []
    left = broker.peek(queue, SHOWN, vhost)
    if left:
        lines.append("first ready: " + ", ".join(repr(bytes(m.body)[:40]) for m in left))
    journal = broker.journal
    if journal is not None:
        records = [r for m in left if m.trace_id is not None and (r := journal.get(m.trace_id)) is not None]
        lines.extend(_record_lines(records))
    raise _fail(summary, lines)
