"""Explain a publish: what would happen to a message, step by step, without publishing it.

:func:`explain_publish` answers "where would this message go, and why?" for one publish: the
exchanges it passes through, each binding of those exchanges with the reason it matched or did not,
the exchange-to-exchange hops and alternate exchanges taken, and for every queue reached what the
queue's effective settings (arguments merged with policies) would do to this message given the
queue's current depth and consumers.  :meth:`minimq.Broker.explain` calls it with the lock held.

How it stays faithful to the broker
    Routing follows :func:`minimq.routing.route_keys` rule for rule (docs/semantics.md §4.6, §4.7,
    §5): every routing key (the publish key, then the ``CC`` and ``BCC`` keys, §5.4) at every exchange
    visited; each exchange visited at most once, in the same order (a stack); an exchange whose
    bindings match nothing hands the message to its alternate exchange, if that exists; the default
    exchange reached as an alternate routes nothing; each queue at most once, in declaration order.
    Each binding is evaluated on its own (the exchanges' indexes only say *which destinations*
    match, not *why*): direct by equality, fanout always, topic by a small backtracking matcher that
    records the words each ``*`` and ``#`` took, headers by :class:`~minimq.headers.HeadersBinding`
    (the exchange's own matcher) plus one comparison per considered header key.  A queue's fate is
    read from the attributes the queue itself runs with (``message_ttl``, ``max_length``,
    ``overflow``...), and their sources from :meth:`~minimq.vhost.VirtualHost.effective_arguments`.
    ``tests/property/test_explain_agrees.py`` checks on random topologies that the queues named here
    are exactly the queues a real publish reaches.

What it changes
    Nothing it owns: no message is created, no topic cache is filled (the topic trie is never
    asked), no counter moves.  Like every observation (§1.5), reading a reached queue's depth first
    applies that queue's deadlines that are already due (TTL expiry, ``x-expires``); a publish at the
    same moment would apply them first too.

Cost: not a hot path.  O(bindings of the visited exchanges x routing keys), a topic binding
O(pattern words x key words²) at worst; a queue over its length limit O(its ready messages).
Nothing here is used by a publish, so :mod:`minimq.routing` keeps its fast path untouched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from .errors import AccessRefused, AMQPError, NotFound
from .exchanges import Binding, Exchange
from .headers import HeadersBinding
from .message import Properties
from .names import REPLY_PREFIX
from .queue import Queue
from .topic import split_words
from .topology import Topology
from .vhost import VirtualHost

__all__ = [
    "Explanation", "ExchangeStep", "BindingMatch", "HeaderComparison", "QueueFate",
    "explain_publish", "binding_key", "PublishCheck",
    "ROUTED", "NACKED", "UNROUTABLE", "REFUSED",
    "DELIVERED", "ENQUEUED", "REJECTED", "DROPPED", "EXPIRED", "QUEUE_GONE",
]

#: :attr:`Explanation.outcome` values (what ``Channel.basic_publish`` would return, or that it raises)
ROUTED, NACKED, UNROUTABLE, REFUSED = "routed", "nacked", "unroutable", "refused"
#: :attr:`QueueFate.fate` values
DELIVERED = "delivered to a consumer at once"
ENQUEUED = "enqueued"
REJECTED = "refused by the queue"
DROPPED = "dropped at once by the length limit"
EXPIRED = "expires at once"
QUEUE_GONE = "lost: the queue expires first"

#: ``check(properties, body_size) -> (properties, headers, extra_keys, ttl)``: the server's publish
#: checks (``minimq.publish_checks``), raising the :class:`AMQPError` a publish would raise.
PublishCheck = Callable[[Properties, int], "tuple[Properties, dict | None, list[str] | None, int | None]"]


def binding_key(source: str, destination_kind: str, destination: str, routing_key: str,
                arguments: dict | None) -> tuple[str, str, str, str, str]:
    """The key that names one binding across minimq's teaching tools (explain, drawings).

    ``(source, destination_kind, destination, routing_key, args_repr)``: ``destination_kind`` is
    ``"queue"`` or ``"exchange"``, ``args_repr`` is ``repr(sorted((arguments or {}).items()))``.  The
    default exchange's implicit binding of queue ``q`` is ``("", "queue", "q", "q", "[]")``.
    """
    return (source, destination_kind, destination, routing_key, repr(sorted((arguments or {}).items())))


def _q(text: str) -> str:
    return repr(text)


def _words(words: Sequence[str]) -> str:
    if not words:
        return "no word"
    if len(words) == 1 and words[0] == "":
        return "'' (an empty word)"
    return repr(".".join(words))


# -- records -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HeaderComparison:
    """One header comparison of a headers binding: the pattern ``key``/``wanted`` against the message.

    ``wanted`` None means "any value, the key must be present".  ``present`` says whether the message
    has the key; ``got`` is its value (None when absent).  ``held`` is this comparison's result.
    """

    key: str
    wanted: Any
    present: bool
    got: Any
    held: bool

    def to_text(self) -> str:
        """One line: the pattern, what the message has, and whether it held."""
        want = "present (any value)" if self.wanted is None else f"= {self.wanted!r}"
        has = f"message has {self.got!r}" if self.present else "message lacks it"
        return f"{self.key!r} {want}: {has} -> {'yes' if self.held else 'no'}"


@dataclass(frozen=True, slots=True)
class BindingMatch:
    """One binding of a visited exchange, and whether (and why) the message matched it.

    ``rule`` is the exchange type that decided (``direct``, ``fanout``, ``topic``, ``headers``, or
    ``default`` for the default exchange's implicit queue-name binding).  ``matched_keys`` are the
    routing keys that matched (publish key, CC, BCC; empty for fanout/headers matches, which ignore
    keys, and for misses).  ``captures``: for a topic match, ``(wildcard, words)`` for each ``*`` and
    ``#`` of the pattern in order, for the first matching key (when several splits work, each ``#``
    takes as few words as it can).  ``x_match`` and ``comparisons``: a headers binding's rule and its
    comparisons.  ``reason`` says why, in a sentence.  ``already_visited``: the destination is an
    exchange the message had already passed (it is not routed there twice).
    """

    source: str
    destination_kind: str
    destination: str
    routing_key: str
    arguments: dict
    rule: str
    matched: bool
    matched_keys: tuple[str, ...]
    captures: tuple[tuple[str, tuple[str, ...]], ...]
    x_match: str | None
    comparisons: tuple[HeaderComparison, ...]
    reason: str
    already_visited: bool = False

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """This binding's :func:`binding_key` (the shape drawings use)."""
        return binding_key(self.source, self.destination_kind, self.destination, self.routing_key,
                           self.arguments)

    def to_text(self) -> str:
        """One line: match or not, the binding, and the reason."""
        verdict = "MATCH   " if self.matched else "no match"
        if self.rule == "default":
            what = f"implicit binding {self.routing_key!r} -> queue {self.destination!r}"
        elif self.rule in ("fanout", "headers"):
            args = "" if not self.arguments else f" {self.arguments!r}"
            what = f"binding{args} -> {self.destination_kind} {self.destination!r}"
        else:
            what = f"binding {self.routing_key!r} -> {self.destination_kind} {self.destination!r}"
        return f"{verdict} {what}: {self.reason}"


@dataclass(frozen=True, slots=True)
class ExchangeStep:
    """One exchange the message passes through.

    ``how`` is ``"published to"``, ``"exchange binding"`` or ``"alternate exchange"``; ``parent`` the
    index in :attr:`Explanation.steps` of the step that led here (None for the first), and
    ``via_binding`` the matched binding's key when ``how`` is an exchange binding.  ``bindings`` are
    every binding of the exchange, matched or not, in creation order (for the default exchange only
    the implicit binding that matched, if any).  ``alternate`` is the exchange's alternate exchange and
    ``alternate_source`` where it comes from (``"argument"`` or ``"policy"``); ``alternate_result``
    what happened with it: None (not needed: a binding matched, or there is none), ``"taken"``,
    ``"missing"`` (no such exchange: the message stops here), ``"already visited"`` or ``"default
    exchange routes nothing"``.  ``note`` adds a sentence (empty when there is nothing to add).
    """

    exchange: str
    type: str
    internal: bool
    how: str
    parent: int | None
    via_binding: tuple[str, str, str, str, str] | None
    bindings: tuple[BindingMatch, ...]
    alternate: str | None
    alternate_source: str | None
    alternate_result: str | None
    note: str

    @property
    def matched(self) -> tuple[BindingMatch, ...]:
        """The bindings that matched."""
        return tuple(b for b in self.bindings if b.matched)

    def title(self) -> str:
        """``exchange 'x' (topic)``, ``the default exchange ''`` ..., with how the message got here."""
        name = "the default exchange ''" if self.exchange == "" else f"exchange {self.exchange!r}"
        flags = self.type + (", internal" if self.internal else "")
        return f"{name} ({flags}), {self.how}"


@dataclass(frozen=True, slots=True)
class QueueFate:
    """What one reached queue would do with the message, given its effective settings and state now.

    ``fate`` is one of :data:`DELIVERED`, :data:`ENQUEUED`, :data:`REJECTED`, :data:`DROPPED`,
    :data:`EXPIRED`, :data:`QUEUE_GONE`.  ``reached_by`` are the keys of the matched bindings that
    lead to it.  ``settings`` is :meth:`~minimq.Broker.effective_arguments` (setting -> (value,
    source)).  ``ready_before``/``ready_bytes_before`` the queue's ready messages and their body bytes
    now.  ``ttl``: the message's effective TTL in ms (None: it never expires) and ``ttl_from`` why
    (the lower of the ``expiration`` property and the queue's message TTL wins).  ``dropped_from_head``:
    how many older messages ``drop-head`` removes to make room.  ``dead_lettered``: the dead-letter
    reason (``maxlen``, ``expired``) if this message itself is dead-lettered, else None.
    ``dead_letter_exchange``/``dead_letter_routing_key``: the queue's DLX and key (None: none, or
    the message's own keys), and ``dead_letter_exchange_exists``.  ``priority``: the level the message
    takes in a priority queue (None: no priorities).  ``consumers``: the tags of the queue's
    consumers; ``active_consumer`` the single active consumer, if the queue has that setting.
    ``notes`` are the human sentences :meth:`to_lines` prints.
    """

    queue: str
    fate: str
    reached_by: tuple[tuple[str, str, str, str, str], ...]
    settings: dict[str, tuple[Any, str]]
    ready_before: int
    ready_bytes_before: int
    ttl: int | None
    ttl_from: str
    dropped_from_head: int
    dead_lettered: str | None
    dead_letter_exchange: str | None
    dead_letter_routing_key: str | None
    dead_letter_exchange_exists: bool
    priority: int | None
    max_priority: int | None
    single_active_consumer: bool
    active_consumer: str | None
    consumers: tuple[str, ...]
    notes: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        """False when the queue refuses the message (``reject-publish``: a nack in confirm mode)."""
        return self.fate != REJECTED

    def to_lines(self) -> list[str]:
        """The queue's name and fate, then one line per note."""
        return [f"queue {self.queue!r}: {self.fate}", *("  " + n for n in self.notes)]


@dataclass(frozen=True, slots=True)
class Explanation:
    """What a publish would do: the publish, the exchanges it visits, the queues and their fates.

    The publish: ``vhost``, ``exchange``, ``routing_key``; ``keys`` every routing key routed (publish
    key, CC, BCC); ``headers`` the headers table headers bindings see (``BCC`` removed).  ``outcome``:
    :data:`ROUTED`, :data:`NACKED` (a queue refuses it: ``reject-publish``), :data:`UNROUTABLE`, or
    :data:`REFUSED` when the publish itself fails; then ``error`` is the error it would raise (404
    unknown exchange, 403 internal exchange, 406 invalid properties) and nothing else is filled in.
    ``steps`` the exchanges visited, in visit order; ``queues`` the reached queues, in declaration
    order (the order a publish enqueues them).  ``notes``: sentences about the whole publish
    (``mandatory``, direct reply-to).

    For drawings (the ``Highlight`` protocol): ``visited_exchanges``, ``reached_queues``,
    ``matched_bindings`` and ``unmatched_bindings`` (binding keys, :func:`binding_key`), and
    ``alternate_hops``: ``(exchange, alternate)`` for each alternate exchange the message was handed to.
    ``str(explanation)`` is :meth:`to_text`.  ``topology`` is the vhost as it was when the message was
    explained; :meth:`to_svg` (and ``_repr_svg_``, which Jupyter shows), :meth:`to_mermaid` and
    :meth:`to_dot` draw it with this message's path highlighted and the bindings it missed greyed.
    """

    vhost: str
    exchange: str
    routing_key: str
    keys: tuple[str, ...]
    headers: dict | None
    outcome: str
    error: AMQPError | None
    steps: tuple[ExchangeStep, ...]
    queues: tuple[QueueFate, ...]
    notes: tuple[str, ...]
    visited_exchanges: frozenset[str]
    reached_queues: frozenset[str]
    matched_bindings: frozenset[tuple]
    unmatched_bindings: frozenset[tuple]
    alternate_hops: frozenset[tuple[str, str]]
    topology: Topology | None = field(default=None, compare=False, repr=False)

    def to_svg(self, live: bool = False) -> str:
        """The vhost's picture (SVG) with this message's path drawn on it."""
        return self._picture().to_svg(highlight=self, live=live)

    def to_mermaid(self) -> str:
        """The vhost as Mermaid text with this message's path highlighted."""
        return self._picture().to_mermaid(highlight=self)

    def to_dot(self) -> str:
        """The vhost as Graphviz DOT text with this message's path highlighted."""
        return self._picture().to_dot(highlight=self)

    def _repr_svg_(self) -> str:
        return self.to_svg()

    def _picture(self) -> Topology:
        if self.topology is None:
            raise ValueError("this explanation was built without a topology to draw on")
        return self.topology

    def queue(self, name: str) -> QueueFate:
        """The fate of the reached queue ``name``; ``KeyError`` if the message does not reach it."""
        for fate in self.queues:
            if fate.queue == name:
                return fate
        raise KeyError(f"the message does not reach queue {name!r} (reached: {sorted(self.reached_queues)})")

    def to_text(self) -> str:
        """An indented tree a newcomer can read: the publish, each exchange and binding, each queue."""
        keys = ""
        if len(self.keys) > 1:
            keys = f" (and CC/BCC keys {', '.join(map(_q, self.keys[1:]))})"
        where = "the default exchange ''" if self.exchange == "" else f"exchange {self.exchange!r}"
        lines = [f"publish to {where} with routing key {self.routing_key!r}{keys}, vhost {self.vhost!r}"]
        if self.error is not None:
            lines.append(f"  refused: {self.error.reply_code} {self.error.reply_text}")
            lines.append("  the channel is closed; nothing is routed")
            return "\n".join(lines)
        if self.headers:
            lines.append(f"  headers: {self.headers!r}")
        children: dict[int | None, list[int]] = {}
        for index, step in enumerate(self.steps):
            children.setdefault(step.parent, []).append(index)
        if self.steps:
            self._step_lines(0, children, 1, lines)
        if self.queues:
            lines.append(f"queues reached ({len(self.queues)}):")
            for fate in self.queues:
                lines.extend("  " + line for line in fate.to_lines())
        else:
            lines.append("queues reached: none")
        lines.append(f"outcome: {self._outcome_text()}")
        lines.extend("  " + note for note in self.notes)
        return "\n".join(lines)

    def _outcome_text(self) -> str:
        if self.outcome == UNROUTABLE:
            return "unroutable"
        n = len(self.queues)
        text = f"routed to {n} queue{'s' if n != 1 else ''}"
        if self.outcome == NACKED:
            refused = [f.queue for f in self.queues if not f.accepted]
            text += f", but refused by {', '.join(map(_q, refused))}: a nack in confirm mode"
        return text

    def _step_lines(self, index: int, children: dict[int | None, list[int]], depth: int,
                    lines: list[str]) -> None:
        step = self.steps[index]
        pad = "  " * depth
        lines.append(pad + step.title())
        if step.note:
            lines.append(pad + "  " + step.note)
        mine = children.get(index, [])
        for binding in step.bindings:
            lines.append(pad + "  " + binding.to_text())
            for comparison in binding.comparisons:
                lines.append(pad + "      " + comparison.to_text())
            for child in mine:
                if self.steps[child].via_binding == binding.key:
                    self._step_lines(child, children, depth + 2, lines)
        if not step.bindings and step.exchange != "":
            lines.append(pad + "  (no bindings)")
        if step.alternate_result is not None:
            lines.append(pad + f"  nothing matched: alternate exchange {step.alternate!r} "
                               f"({step.alternate_source}): {step.alternate_result}")
            for child in mine:
                if self.steps[child].how == "alternate exchange":
                    self._step_lines(child, children, depth + 2, lines)

    def __str__(self) -> str:
        return self.to_text()


# -- matching one binding ------------------------------------------------------------------------

def _topic_match(pattern: str, key: str) -> tuple[tuple | None, str]:
    """(captures, "") when ``key`` matches ``pattern``, else (None, why not), by the rules of §5.2."""
    pwords = split_words(pattern)
    kwords = split_words(key)
    failed: set[tuple[int, int]] = set()
    # the failure that explains a miss best: a word that differs (rather than one side running out),
    # then the one furthest into the key, then into the pattern; (kind, j, i)
    worst: list[tuple[int, int, int]] = [(-1, -1, -1)]

    def note(kind: int, i: int, j: int) -> None:
        if (kind, j, i) > worst[0]:
            worst[0] = (kind, j, i)

    def walk(i: int, j: int, taken: tuple) -> tuple | None:
        if (i, j) in failed:
            return None
        if i == len(pwords):
            if j == len(kwords):
                return taken
            note(0, i, j)  # the pattern ends, the key goes on
        else:
            word = pwords[i]
            if word == "#":
                for k in range(j, len(kwords) + 1):  # the fewest words first
                    found = walk(i + 1, k, taken + (("#", tuple(kwords[j:k])),))
                    if found is not None:
                        return found
            elif j == len(kwords):
                note(1, i, j)  # the key ends, the pattern wants a word
            elif word == "*" or word == kwords[j]:
                extra = (("*", (kwords[j],)),) if word == "*" else ()
                found = walk(i + 1, j + 1, taken + extra)
                if found is not None:
                    return found
            else:
                note(2, i, j)  # a literal word differs
        failed.add((i, j))
        return None

    captures = walk(0, 0, ())
    if captures is not None:
        return captures, ""
    _, j, i = worst[0]
    if i == len(pwords):
        rest = kwords[j:]
        return None, f"the pattern ends but the key goes on with {_words(rest)} (from key word {j + 1})"
    if j == len(kwords):
        return None, f"the key ends ({len(kwords)} word{'s' if len(kwords) != 1 else ''}) but the pattern " \
                     f"still wants {pwords[i]!r} (pattern word {i + 1})"
    return None, f"key word {j + 1} is {kwords[j]!r} where the pattern wants {pwords[i]!r} (pattern word {i + 1})"


def _capture_text(captures: tuple) -> str:
    if not captures:
        return "the words are equal"
    return ", ".join(f"{wild} took {_words(words)}" for wild, words in captures)


def _header_comparisons(arguments: dict, headers: dict | None) -> tuple[str, tuple[HeaderComparison, ...]]:
    compiled = HeadersBinding(arguments)
    table = headers or {}
    out = []
    for key, wanted in compiled.pairs:
        present = key in table
        got = table.get(key)
        # the exchange's own equality, one key at a time (with-x: the key is already known to count)
        held = present and HeadersBinding({"x-match": "all-with-x", key: wanted}).matches({key: got})
        out.append(HeaderComparison(key, wanted, present, got, held))
    return compiled.kind, tuple(out)


def _headers_reason(kind: str, comparisons: tuple[HeaderComparison, ...], matched: bool) -> str:
    every = kind.startswith("all")
    if not comparisons:
        return (f"x-match {kind} with nothing to compare matches every message" if every else
                f"x-match {kind} with nothing to compare matches no message")
    held = [c for c in comparisons if c.held]
    if matched:
        if every:
            return f"x-match {kind}: all {len(comparisons)} comparison{'s' if len(comparisons) > 1 else ''} held"
        return f"x-match {kind}: {held[0].key!r} held"
    if every:
        miss = next(c for c in comparisons if not c.held)
        why = "is missing" if not miss.present else f"is {miss.got!r}, not {miss.wanted!r}"
        return f"x-match {kind}: {miss.key!r} {why}"
    return f"x-match {kind}: none of the {len(comparisons)} comparisons held"


def _evaluate(exchange: Exchange, binding: Binding, keys: Sequence[str], headers: dict | None) -> BindingMatch:
    dest = binding.destination
    kind = "queue" if dest.is_queue else "exchange"
    rule = exchange.type
    matched_keys: tuple[str, ...] = ()
    captures: tuple = ()
    x_match = None
    comparisons: tuple[HeaderComparison, ...] = ()
    if rule == "fanout":
        matched, reason = True, "a fanout exchange sends to every binding"
    elif rule == "headers":
        x_match, comparisons = _header_comparisons(binding.arguments, headers)
        matched = HeadersBinding(binding.arguments).matches(headers)
        reason = _headers_reason(x_match, comparisons, matched)
    elif rule == "topic":
        misses = []
        for key in keys:
            found, why = _topic_match(binding.routing_key, key)
            if found is not None:
                if not matched_keys:
                    captures = found
                matched_keys += (key,)
            else:
                misses.append((key, why))
        matched = bool(matched_keys)
        if matched:
            reason = _capture_text(captures)
            if len(keys) > 1:
                reason = f"key {matched_keys[0]!r}: {reason}"
        elif len(keys) == 1:
            reason = misses[0][1]
        else:
            reason = "; ".join(f"key {k!r}: {why}" for k, why in misses)
    else:  # direct
        matched_keys = tuple(k for k in keys if k == binding.routing_key)
        matched = bool(matched_keys)
        if matched:
            reason = "the routing key equals the binding key" if len(keys) == 1 else \
                f"key {binding.routing_key!r} equals the binding key"
        elif len(keys) == 1:
            reason = f"the routing key {keys[0]!r} is not {binding.routing_key!r}"
        else:
            reason = f"none of the keys {', '.join(map(_q, keys))} is {binding.routing_key!r}"
    return BindingMatch(exchange.name, kind, dest.name, binding.routing_key, binding.arguments, rule, matched,
                        matched_keys, captures, x_match, comparisons, reason)


# -- the walk --------------------------------------------------------------------------------------

def _alternate_source(exchange: Exchange) -> str | None:
    if exchange.alternate_exchange is None:
        return None
    return "argument" if isinstance(exchange.arguments.get("alternate-exchange"), str) else "policy"


def explain_publish(vhost: VirtualHost, exchange: str, routing_key: str, properties: Properties | None,
                    body_size: int, check: PublishCheck) -> Explanation:
    """What publishing to ``exchange`` with ``routing_key`` and ``properties`` would do; publishes nothing.

    Lock held (see :meth:`minimq.Broker.explain`, which supplies ``check``).  The refusals come in the
    order a publish meets them: the exchange (404 missing, 403 internal), then ``check`` (406 for
    invalid properties); a refusal is returned as an :class:`Explanation` with outcome
    :data:`REFUSED`, not raised.  ``body_size`` is the body length in bytes (``x-max-length-bytes``).
    """
    error: AMQPError | None = None
    target = vhost.exchanges.get(exchange)
    if target is None:
        error = NotFound(f"no exchange '{exchange}' in vhost '{vhost.name}'")
    elif target.internal:
        error = AccessRefused(f"cannot publish to internal exchange '{exchange}' in vhost '{vhost.name}'")
    headers = extra = ttl = None
    if error is None:
        try:
            if properties is not None:
                properties, headers, extra, ttl = check(properties, body_size)
            else:
                check(Properties(), body_size)
        except AMQPError as refused:
            error = refused
    keys = (routing_key,) if not extra else (routing_key, *extra)
    if error is not None:
        return Explanation(vhost.name, exchange, routing_key, keys, headers, REFUSED, error, (), (), (),
                           frozenset(), frozenset(), frozenset(), frozenset(), frozenset(),
                           Topology.from_vhost(vhost))
    assert target is not None
    steps, queues, reached_by = _walk(vhost, target, keys, headers)
    priority = None if properties is None else properties.priority
    fates = tuple(_fate(vhost, q, reached_by[q], ttl, body_size, priority, keys) for q in queues)
    notes = []
    if not fates:
        outcome = UNROUTABLE
        notes.append("dropped (mandatory=False), or returned to the publisher as 312 NO_ROUTE "
                     "(mandatory=True); in confirm mode it is still acked (§5.5)")
        if exchange == "" and routing_key.startswith(REPLY_PREFIX):
            notes.append("a direct reply-to address: the reply goes to the channel waiting for it, "
                         "if it still waits, not to a queue (§15)")
    else:
        outcome = ROUTED if all(f.accepted for f in fates) else NACKED
        notes.append("routed: no basic.return even with mandatory=True, whatever the queues do with it (§5.5)")
    matched = frozenset(b.key for s in steps for b in s.bindings if b.matched)
    unmatched = frozenset(b.key for s in steps for b in s.bindings if not b.matched)
    hops = frozenset((s.exchange, s.alternate) for s in steps
                     if s.alternate is not None and s.alternate_result in ("taken", "already visited"))
    return Explanation(vhost.name, exchange, routing_key, keys, headers, outcome, None, tuple(steps), fates,
                       tuple(notes), frozenset(s.exchange for s in steps), frozenset(f.queue for f in fates),
                       matched, unmatched, hops, Topology.from_vhost(vhost))


def _walk(vhost: VirtualHost, first: Exchange, keys: Sequence[str], headers: dict | None
          ) -> tuple[list[ExchangeStep], list[Queue], dict[Queue, list[tuple]]]:
    """The graph walk of :func:`minimq.routing.route_keys`, recording every decision.

    Same stack, same order: per exchange, the destinations of each key in turn (each key's in
    declaration order), so the exchanges are visited in the order a publish visits them.
    """
    exchanges = vhost.exchanges
    visited: set[str] = set()
    steps: list[ExchangeStep] = []
    queues: dict[Queue, None] = {}
    reached_by: dict[Queue, list[tuple]] = {}
    # (exchange, parent step index, how, via binding key), popped as route_keys pops its stack
    pending: list[tuple[Exchange, int | None, str, tuple | None]] = [(first, None, "published to", None)]
    while pending:
        current, parent, how, via = pending.pop()
        if current.name in visited:
            continue
        visited.add(current.name)
        index = len(steps)
        note = ""
        if current.name == "":
            pairs = _default_bindings(vhost, keys)
            if not pairs:
                note = f"no queue is named {' or '.join(map(_q, dict.fromkeys(keys)))}"
        else:
            pairs = [(_evaluate(current, b, keys, headers), b.destination) for b in current.bindings.values()]
            if current.internal and how != "published to":
                note = "internal: it cannot be published to directly, but routes what reaches it"
        # destination -> its matched bindings, in route_keys' order (per key, declaration order)
        found: dict[Any, list[BindingMatch]] = {}
        for key in keys:
            hits = [(d, m) for m, d in pairs
                    if m.matched and (key in m.matched_keys or m.rule in ("fanout", "headers"))]
            for dest, match in sorted(hits, key=lambda pair: pair[0].seq):
                matches = found.setdefault(dest, [])
                if not any(m is match for m in matches):
                    matches.append(match)
        alternate = current.alternate_exchange if current.name != "" else None
        result = None
        if not found and alternate is not None:
            target = exchanges.get(alternate) if alternate else None
            if alternate == "":
                result = "default exchange routes nothing"
            elif target is None:
                result = "missing"
            elif target.name in visited:
                result = "already visited"
            else:
                result = "taken"
                pending.append((target, index, "alternate exchange", None))
        source = _alternate_source(current) if alternate is not None else None
        steps.append(ExchangeStep(current.name, current.type, current.internal, how, parent, via,
                                  tuple(m for m, _ in pairs), alternate, source, result, note))
        for dest, matches in found.items():
            if dest.is_queue:
                queues[dest] = None
                reached_by.setdefault(dest, []).extend(m.key for m in matches)
            else:
                for match in matches:
                    pending.append((dest, index, "exchange binding", match.key))
    return _mark_repeat_hops(steps), sorted(queues, key=lambda q: q.seq), reached_by


def _mark_repeat_hops(steps: list[ExchangeStep]) -> list[ExchangeStep]:
    """Flag matched exchange bindings that did not lead to a visit: the exchange was reached another way."""
    used = {(s.parent, s.via_binding) for s in steps if s.via_binding is not None}
    out = []
    for index, step in enumerate(steps):
        if any(b.matched and b.destination_kind == "exchange" and (index, b.key) not in used for b in step.bindings):
            bindings = tuple(
                replace(b, already_visited=True,
                        reason=b.reason + "; the message reaches that exchange by another path, and goes there once")
                if b.matched and b.destination_kind == "exchange" and (index, b.key) not in used else b
                for b in step.bindings)
            step = replace(step, bindings=bindings)
        out.append(step)
    return out


def _default_bindings(vhost: VirtualHost, keys: Sequence[str]) -> list[tuple[BindingMatch, Queue]]:
    """The default exchange's implicit bindings that match: one per key naming a queue."""
    out = []
    reason = "the default exchange sends a message to the queue named by its routing key"
    for key in dict.fromkeys(keys):
        queue = vhost.queues.get(key)
        if queue is not None:
            out.append((BindingMatch("", "queue", queue.name, queue.name, {}, "default", True, (key,), (), None, (),
                                     reason), queue))
    return out


# -- what a queue does with it -------------------------------------------------------------------

def _fate(vhost: VirtualHost, queue: Queue, reached_by: list[tuple], message_ttl: int | None, size: int,
          priority: int | None, keys: Sequence[str]) -> QueueFate:
    """Mirror of :meth:`minimq.queue.Queue.publish` (§10, §12, §13), read from the queue's own settings."""
    settings = vhost.effective_arguments(queue)
    ready = queue.message_count  # an observation: applies deadlines already due (§1.5), as a publish would
    ready_bytes = queue.ready_bytes
    notes: list[str] = []
    consumers = queue.consumers
    tags = tuple(c.tag for c in consumers)
    active = None
    if queue.single_active:
        active = next((c.tag for c in consumers if c.active), None)
    dlx = queue.dead_letter_exchange
    dlrk = queue.dead_letter_routing_key
    dlx_exists = dlx is not None and dlx in vhost.exchanges

    def source(setting: str) -> str:
        entry = settings.get(setting)
        return f"{entry[1]}" if entry is not None else "setting"

    # TTL: the lower of the message's expiration and the queue's message TTL (§10.1)
    qttl = queue.message_ttl
    ttl = message_ttl
    if message_ttl is not None and (qttl is None or message_ttl <= qttl):
        ttl_from = "the message's expiration property" + (f" (lower than the queue's {qttl})" if qttl is not None
                                                           else "")
    elif qttl is not None:
        ttl = qttl
        ttl_from = f"the queue's message-ttl ({source('message-ttl')})" + (
            f", lower than the message's expiration {message_ttl}" if message_ttl is not None else "")
    else:
        ttl_from = "neither the message nor the queue sets a TTL: it never expires"
    notes.append(f"ready now: {ready} message{'s' if ready != 1 else ''}, "
                 f"{ready_bytes} body byte{'s' if ready_bytes != 1 else ''}")
    notes.append(f"TTL: {ttl} ms, from {ttl_from}" if ttl is not None else f"TTL: none ({ttl_from})")

    level = None
    if queue.max_priority is not None:
        given = 0 if priority is None else priority
        level = given if given < queue.max_priority else queue.max_priority
        notes.append(f"priority queue (max-priority {queue.max_priority}): the message's priority "
                     f"{'(none) counts as 0' if priority is None else priority} puts it at level {level}; "
                     "higher levels are delivered first (§13)")
    elif priority is not None and not queue.quorum:
        notes.append(f"the queue has no max-priority: the message's priority {priority} is ignored (plain FIFO)")

    limits = []
    if queue.max_length is not None:
        limits.append(f"max-length {queue.max_length} ({source('max-length')})")
    if queue.max_length_bytes is not None:
        limits.append(f"max-length-bytes {queue.max_length_bytes} ({source('max-length-bytes')})")
    if limits:
        notes.append(f"limits: {', '.join(limits)}; overflow {queue.overflow}"
                     f"{'' if 'overflow' not in settings else ' (' + source('overflow') + ')'}")

    dropped_from_head = 0
    dead_lettered = None
    over = queue.max_length is not None and ready + 1 > queue.max_length or \
        queue.max_length_bytes is not None and ready_bytes + size > queue.max_length_bytes
    takers = [c for c in consumers if c.active and not c.blocked and not c.cancelled and c.can_take()]
    if queue.deleted:
        fate = QUEUE_GONE
        notes.append("its x-expires deadline has passed: the queue is deleted before the message arrives")
    elif limits and queue.overflow != "drop-head" and over:
        fate = REJECTED
        notes.append(f"it would go over the limit: {queue.overflow} refuses it (a nack in confirm mode, "
                     "dropped otherwise), before any consumer is considered (§12)")
        if queue.overflow == "reject-publish-dlx":
            dead_lettered = "maxlen"
    elif takers and not ready:
        fate = DELIVERED
        names = ", ".join(map(_q, (c.tag for c in takers)))
        notes.append(f"nothing is waiting and a consumer has capacity ({names}): it is delivered at once, "
                     "never stored, so limits and TTL do not apply")
    else:
        fate = ENQUEUED
        if consumers and not takers:
            notes.append("its consumers have no capacity left (prefetch): it waits")
        if limits and over:
            dropped_from_head, own = _drop_head(queue, size, level)
            if own:
                fate = DROPPED
                dead_lettered = "maxlen"
                notes.append("drop-head removes messages from the head until the limits hold: "
                             f"{dropped_from_head - 1} older one(s) and then this message itself (§12)")
            else:
                notes.append(f"drop-head removes {dropped_from_head} older message(s) from the head "
                             "to make room (§12)")
            if dlx is not None:
                notes.append("the removed messages are dead-lettered with reason maxlen")
        if fate == ENQUEUED and ttl == 0 and (ready == 0 or dropped_from_head >= ready):
            fate = EXPIRED
            dead_lettered = "expired"
            notes.append("TTL 0 and it is at the head with no consumer to take it: it expires at once (§10.2)")
        elif fate == ENQUEUED:
            position = "at the head" if ready - dropped_from_head == 0 else \
                f"behind {ready - dropped_from_head} message(s)"
            if level is not None:
                position = f"at its priority level {level}"
            notes.append(f"it waits in the queue, {position}")
    if dead_lettered is not None and dlx is None:
        dead_lettered = None
        notes.append("the queue has no dead-letter exchange: it is simply dropped")
    if dlx is not None and (dead_lettered is not None or fate in (ENQUEUED, DELIVERED)):
        rk = f"routing key {dlrk!r}" if dlrk is not None else \
            f"its own routing keys ({', '.join(map(_q, keys))})"
        exists = "" if dlx_exists else " (no such exchange: dead-lettered messages are dropped)"
        lead = f"dead-lettered now (reason {dead_lettered})" if dead_lettered else "if it dies later " \
            "(rejected, expired, maxlen)"
        notes.append(f"{lead}: to exchange {dlx!r}{exists} ({source('dead-letter-exchange')}) with {rk} (§11)")
    if queue.single_active:
        notes.append(f"single active consumer: only {active!r} receives" if active is not None
                     else "single active consumer: none attached yet")
    if consumers:
        notes.append(f"consumers: {', '.join(map(_q, tags))}")
    else:
        notes.append("no consumer attached")
    if queue.quorum and queue.delivery_limit is not None:
        notes.append(f"quorum queue: dropped (or dead-lettered) after {queue.delivery_limit} redeliveries")
    return QueueFate(queue.name, fate, tuple(reached_by), settings, ready, ready_bytes, ttl, ttl_from,
                     dropped_from_head, dead_lettered, dlx, dlrk, dlx_exists, level, queue.max_priority,
                     queue.single_active, active, tags, tuple(notes))


def _drop_head(queue: Queue, size: int, level: int | None) -> tuple[int, bool]:
    """How many messages drop-head removes after enqueuing a ``size``-byte message, and whether the new
    message is one of them.  O(ready messages): only called when a limit is exceeded."""
    bodies = []
    placed = False
    for message in queue.ready_messages():  # delivery order: highest priority level first
        if level is not None and not placed:
            props = message.properties
            given = 0 if props is None or props.priority is None else props.priority
            if min(given, queue.max_priority or 0) < level:
                bodies.append(None)
                placed = True
        bodies.append(len(message.body))
    if not placed:
        bodies.append(None)
    count = len(bodies)
    total = queue.ready_bytes + size
    dropped = 0
    for body in bodies:
        if (queue.max_length is None or count <= queue.max_length) and \
                (queue.max_length_bytes is None or total <= queue.max_length_bytes):
            break
        dropped += 1
        if body is None:
            return dropped, True
        count -= 1
        total -= body
    return dropped, False
