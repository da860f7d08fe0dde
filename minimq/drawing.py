"""Pictures of a topology: SVG (laid out and drawn here, in pure Python), Mermaid, Graphviz DOT, text.

Every renderer takes a topology snapshot (anything shaped like :class:`TopologyView`, such as
``minimq.topology.Topology``), an optional :class:`Highlight` (the path one message took: the
bindings it matched are drawn strong and coloured, the ones it tried and missed greyed) and
``live`` (show ready/unacked/consumer counts on queues).  All four build the same :class:`_Graph`
first, so they show the same nodes and edges:

* exchanges, except that the default exchange and the predeclared ``amq.*`` ones are left out
  while nothing touches them (no binding, alternate or dead-letter reference, not on a highlighted
  path); an alternate or dead-letter exchange that is not declared is shown as a "not declared" node;
* queues, and up to :data:`MAX_CONSUMERS_SHOWN` consumers per queue;
* binding edges labelled with their routing key (headers bindings: their arguments, shortened;
  fanout bindings: no label), alternate-exchange and dead-letter edges dashed.

Why this module sits below ``topology`` (docs/architecture.md): a snapshot wants ``to_svg()`` and
Jupyter's ``_repr_svg_``, and the layering rule forbids importing upward even inside a function.  So
the renderers read the snapshot through the small structural protocols below and never import it.

The SVG layout is layered, left to right: exchanges in columns by their depth along exchange-to-exchange
and alternate-exchange edges (longest path, cycles broken by a depth-first search), then one column of
queues, then one of consumers.  Node order inside a column comes from a few barycenter sweeps (each
node moves towards the mean position of its neighbours in the previous column, then the next), which
removes most crossings.  Edges into a column end in a straight run whose length fits the longest label
drawn on it, so labels never sit on a box; edges that go right to left (dead-lettering, exchange cycles)
loop below the picture, one lane each.  Every coordinate is computed from sorted data, so the same
topology gives the same bytes.  Text is escaped (names may hold ``<&"`` and control characters).

Cost: O(V + E) per sweep, and a few sweeps; a string join at the end.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Iterable, Protocol, Sequence

__all__ = [
    "Highlight", "TopologyView", "ExchangeView", "QueueView", "BindingView",
    "to_svg", "to_mermaid", "to_dot", "to_text", "MAX_CONSUMERS_SHOWN",
]

#: consumers drawn per queue; the rest are summed up in one "+N more" node
MAX_CONSUMERS_SHOWN = 5
#: longest name or label shown in full; longer ones are cut with an ellipsis (SVG tooltips keep them whole)
_MAX_NAME = 40
_MAX_EDGE_LABEL = 30


# -- what the renderers read --------------------------------------------------------------------

class ExchangeView(Protocol):
    """What drawing reads from an exchange record (``minimq.topology.ExchangeRecord``)."""

    @property
    def name(self) -> str:
        """The exchange's name (``""`` for the default exchange)."""

    @property
    def type(self) -> str:
        """``direct``, ``fanout``, ``topic`` or ``headers``."""

    @property
    def durable(self) -> bool:
        """Declared durable."""

    @property
    def auto_delete(self) -> bool:
        """Declared auto-delete."""

    @property
    def internal(self) -> bool:
        """Declared internal (clients cannot publish to it)."""

    @property
    def alternate_exchange(self) -> str | None:
        """The alternate exchange in force, or None."""


class QueueView(Protocol):
    """What drawing reads from a queue record (``minimq.topology.QueueRecord``)."""

    @property
    def name(self) -> str:
        """The queue's name."""

    @property
    def durable(self) -> bool:
        """Declared durable."""

    @property
    def exclusive(self) -> bool:
        """Exclusive to one connection."""

    @property
    def auto_delete(self) -> bool:
        """Declared auto-delete."""

    @property
    def dead_letter_exchange(self) -> str | None:
        """The dead-letter exchange in force, or None."""

    @property
    def dead_letter_routing_key(self) -> str | None:
        """The dead-letter routing key in force, or None (the message's own keys are used)."""

    @property
    def ready(self) -> int:
        """Ready messages."""

    @property
    def unacked(self) -> int:
        """Delivered, unsettled messages."""

    @property
    def consumer_tags(self) -> tuple[str, ...]:
        """The consumers' tags, in subscription order."""


class BindingView(Protocol):
    """What drawing reads from a binding record (``minimq.topology.BindingRecord``)."""

    @property
    def source(self) -> str:
        """The source exchange's name."""

    @property
    def destination_kind(self) -> str:
        """``"queue"`` or ``"exchange"``."""

    @property
    def destination(self) -> str:
        """The destination's name."""

    @property
    def routing_key(self) -> str:
        """The binding key."""

    @property
    def arguments(self) -> dict[str, Any]:
        """The binding arguments (headers bindings match on them)."""

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        """The binding's identity, as a :class:`Highlight` names it."""


class TopologyView(Protocol):
    """What drawing reads from a snapshot (``minimq.topology.Topology``)."""

    @property
    def vhost(self) -> str:
        """The vhost's name."""

    @property
    def exchanges(self) -> Sequence[ExchangeView]:
        """Every exchange, in declaration order."""

    @property
    def queues(self) -> Sequence[QueueView]:
        """Every queue, in declaration order."""

    @property
    def bindings(self) -> Sequence[BindingView]:
        """Every explicit binding."""


class Highlight(Protocol):
    """A path to draw over a topology, e.g. the route of one message.

    ``matched_bindings`` and ``unmatched_bindings`` hold binding keys
    (``minimq.topology.BindingRecord.key``); ``alternate_hops`` holds ``(exchange, alternate)``
    pairs the message was handed along.  Any object with these five attributes will do.
    """

    @property
    def visited_exchanges(self) -> frozenset[str]:
        """Exchanges the message passed through."""

    @property
    def reached_queues(self) -> frozenset[str]:
        """Queues the message was delivered to."""

    @property
    def matched_bindings(self) -> frozenset[tuple[str, str, str, str, str]]:
        """Keys of the bindings the message matched."""

    @property
    def unmatched_bindings(self) -> frozenset[tuple[str, str, str, str, str]]:
        """Keys of the bindings of visited exchanges that the message did not match."""

    @property
    def alternate_hops(self) -> frozenset[tuple[str, str]]:
        """``(exchange, alternate exchange)`` pairs the message followed."""


_HIGHLIGHT_FIELDS = ("visited_exchanges", "reached_queues", "matched_bindings", "unmatched_bindings",
                     "alternate_hops")
_TOPOLOGY_FIELDS = ("vhost", "exchanges", "queues", "bindings")


# -- the graph every format draws ---------------------------------------------------------------

class _Node:
    """One box: an exchange, a queue or a consumer.  ``state``: "", "visited", "reached", "missing"."""

    __slots__ = ("id", "kind", "name", "lines", "title", "state", "order", "column", "width", "height",
                 "x", "y", "ports")

    def __init__(self, id_: str, kind: str, name: str, lines: list[str], title: str, state: str,
                 order: int) -> None:
        self.id = id_
        self.kind = kind
        self.name = name
        self.lines = lines
        self.title = title
        self.state = state
        self.order = order
        self.column = 0
        self.width = 0.0
        self.height = 0.0
        self.x = 0.0
        self.y = 0.0
        #: incoming forward edge -> the y where it meets this box's left side
        self.ports: dict[int, float] = {}


class _Edge:
    """One arrow.  ``kind``: binding, alternate, dead-letter, consumer.  ``state``: normal, matched,
    unmatched."""

    __slots__ = ("index", "kind", "source", "target", "label", "detail", "title", "state", "dashed")

    def __init__(self, index: int, kind: str, source: _Node, target: _Node, label: str, detail: str,
                 title: str, state: str) -> None:
        self.index = index
        self.kind = kind
        self.source = source
        self.target = target
        #: drawn on the edge (shortened); ``detail`` is the whole text, for tooltips and the text tree
        self.label = label
        self.detail = detail
        self.title = title
        self.state = state
        self.dashed = kind in ("alternate", "dead-letter")


class _Graph:
    """Nodes and edges of one picture, in a deterministic order."""

    __slots__ = ("vhost", "nodes", "edges", "highlighted")

    def __init__(self, vhost: str, highlighted: bool) -> None:
        self.vhost = vhost
        self.nodes: list[_Node] = []
        self.edges: list[_Edge] = []
        self.highlighted = highlighted


def _check_arguments(topology: Any, highlight: Any, live: Any) -> None:
    missing = [name for name in _TOPOLOGY_FIELDS if not hasattr(topology, name)]
    if missing:
        raise TypeError(f"topology must be a topology snapshot (broker.topology()), got "
                        f"{type(topology).__name__} without {', '.join(missing)}")
    if highlight is not None:
        missing = [name for name in _HIGHLIGHT_FIELDS if not hasattr(highlight, name)]
        if missing:
            raise TypeError(f"highlight must have the attributes of minimq.drawing.Highlight; "
                            f"{type(highlight).__name__} has no {', '.join(missing)}")
    if not isinstance(live, bool):
        raise TypeError(f"live must be a bool, got {live!r}")


def _display(name: str, limit: int = _MAX_NAME) -> str:
    """A name as shown: control characters made visible, cut at ``limit`` with an ellipsis."""
    text = "".join(c if c.isprintable() or c == " " else f"\\x{ord(c):02x}" for c in name)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _exchange_caption(name: str) -> str:
    return "(default exchange)" if name == "" else _display(name)


def _flags(*pairs: tuple[bool, str]) -> list[str]:
    return [word for on, word in pairs if on]


def _argument_text(arguments: dict[str, Any]) -> str:
    """Headers-binding arguments in a short form: ``x-match`` first, then the keys in order."""
    items = sorted(arguments.items(), key=lambda kv: (kv[0] != "x-match", kv[0]))
    return " ".join(f"{k}={v if isinstance(v, str) else repr(v)}" for k, v in items)


def _binding_label(source_type: str, binding: BindingView) -> tuple[str, str]:
    """(the short label drawn on the edge, the full text for its tooltip)."""
    if source_type == "headers":
        full = _argument_text(binding.arguments or {}) or "(no arguments)"
    elif source_type == "fanout":
        return "", "fanout binding" + (f" (key {binding.routing_key!r})" if binding.routing_key else "")
    else:
        full = binding.routing_key if binding.routing_key != "" else '""'
    return _display(full, _MAX_EDGE_LABEL), full


def _build(topology: TopologyView, highlight: Highlight | None, live: bool,
           all_exchanges: bool) -> _Graph:
    graph = _Graph(topology.vhost, highlight is not None)
    visited = frozenset(highlight.visited_exchanges) if highlight is not None else frozenset()
    reached = frozenset(highlight.reached_queues) if highlight is not None else frozenset()
    matched = frozenset(highlight.matched_bindings) if highlight is not None else frozenset()
    unmatched = frozenset(highlight.unmatched_bindings) if highlight is not None else frozenset()
    hops = frozenset(highlight.alternate_hops) if highlight is not None else frozenset()

    exchanges = {x.name: x for x in topology.exchanges}
    queues = {q.name: q for q in topology.queues}
    # which system exchanges something touches (the others would be clutter)
    touched: set[str] = set(visited)
    for binding in topology.bindings:
        touched.add(binding.source)
        if binding.destination_kind == "exchange":
            touched.add(binding.destination)
    for x in topology.exchanges:
        if x.alternate_exchange is not None:
            touched.update((x.name, x.alternate_exchange))
    for q in topology.queues:
        if q.dead_letter_exchange is not None:
            touched.add(q.dead_letter_exchange)

    exchange_nodes: dict[str, _Node] = {}
    for x in topology.exchanges:
        system = x.name == "" or x.name.startswith("amq.")
        if system and not all_exchanges and x.name not in touched:
            continue
        flags = _flags((x.durable, "durable"), (x.auto_delete, "auto-delete"), (x.internal, "internal"))
        title = f"exchange {x.name!r}: {x.type}" + (", " + ", ".join(flags) if flags else "")
        node = _Node(f"x{len(exchange_nodes)}", "exchange", x.name,
                     [_exchange_caption(x.name), ", ".join([x.type, *flags])], title,
                     "visited" if x.name in visited else "", len(graph.nodes))
        exchange_nodes[x.name] = node
        graph.nodes.append(node)

    def exchange_node(name: str) -> _Node:
        """The node of exchange ``name``, or a "not declared" one for a dangling reference."""
        node = exchange_nodes.get(name)
        if node is None:
            node = _Node(f"x{len(exchange_nodes)}", "exchange", name, [_exchange_caption(name), "not declared"],
                         f"exchange {name!r} is not declared", "missing", len(graph.nodes))
            exchange_nodes[name] = node
            graph.nodes.append(node)
        return node

    queue_nodes: dict[str, _Node] = {}
    for q in topology.queues:
        if live:
            detail = f"ready {q.ready}, unacked {q.unacked}, consumers {len(q.consumer_tags)}"
        else:
            detail = ", ".join(_flags((q.durable, "durable"), (q.exclusive, "exclusive"),
                                      (q.auto_delete, "auto-delete"))) or "transient"
        node = _Node(f"q{len(queue_nodes)}", "queue", q.name, [_display(q.name), detail],
                     f"queue {q.name!r}: {detail}", "reached" if q.name in reached else "", len(graph.nodes))
        queue_nodes[q.name] = node
        graph.nodes.append(node)

    def add_edge(kind: str, source: _Node, target: _Node, label: str, detail: str, title: str,
                 state: str) -> None:
        graph.edges.append(_Edge(len(graph.edges), kind, source, target, label, detail, title, state))

    for binding in topology.bindings:
        source_exchange = exchanges.get(binding.source)
        source = exchange_node(binding.source)
        if binding.destination_kind == "queue":
            target = queue_nodes.get(binding.destination)
            if target is None:
                continue
        else:
            target = exchange_node(binding.destination)
        label, full = _binding_label(source_exchange.type if source_exchange is not None else "", binding)
        key = binding.key
        state = "matched" if key in matched else "unmatched" if key in unmatched else "normal"
        add_edge("binding", source, target, label, full,
                 f"binding {binding.source!r} -> {binding.destination_kind} {binding.destination!r}: {full}", state)
    for x in topology.exchanges:
        if x.alternate_exchange is None or x.name not in exchange_nodes:
            continue
        state = "matched" if (x.name, x.alternate_exchange) in hops else "normal"
        add_edge("alternate", exchange_nodes[x.name], exchange_node(x.alternate_exchange), "alternate",
                 "alternate exchange",
                 f"alternate exchange of {x.name!r}: {x.alternate_exchange!r}", state)
    for q in topology.queues:
        if q.dead_letter_exchange is None:
            continue
        rk = q.dead_letter_routing_key
        label = "dead letter" + ("" if rk is None else f": {_display(rk, _MAX_EDGE_LABEL - 13)}")
        detail = "dead letter" + ("" if rk is None else f", routing key {rk!r}")
        add_edge("dead-letter", queue_nodes[q.name], exchange_node(q.dead_letter_exchange), label, detail,
                 f"dead-letter exchange of {q.name!r}: {q.dead_letter_exchange!r}"
                 + ("" if rk is None else f", routing key {rk!r}"), "normal")
    consumer_count = 0
    for q in topology.queues:
        tags = list(q.consumer_tags)
        shown = tags if len(tags) <= MAX_CONSUMERS_SHOWN else tags[:MAX_CONSUMERS_SHOWN - 1]
        entries = [(_display(tag), f"consumer {tag!r} of queue {q.name!r}", tag) for tag in shown]
        if len(shown) < len(tags):
            rest = len(tags) - len(shown)
            entries.append((f"+{rest} more", f"{rest} more consumers of queue {q.name!r}", ""))
        for caption, title, tag in entries:
            node = _Node(f"c{consumer_count}", "consumer", tag, [caption], title, "", len(graph.nodes))
            consumer_count += 1
            graph.nodes.append(node)
            add_edge("consumer", queue_nodes[q.name], node, "", caption, title, "normal")
    return graph


# -- layout -------------------------------------------------------------------------------------

_FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace"
_CHAR = 0.6  # advance of one monospace character, in ems
_SIZE_NAME = 12.0
_SIZE_DETAIL = 10.5
_SIZE_EDGE = 10.5
_PAD_X = 10.0
_MIN_WIDTH = 70.0
_PORT_GAP = 16.0
_NODE_GAP = 18.0
_MIN_COLUMN_GAP = 64.0
_MARGIN = 20.0
_HEADER = 28.0
_LANE = 16.0
_RUN_STEP = 5.0


def _text_width(text: str, size: float) -> float:
    """Estimated advance of ``text`` in a monospace font: wide East Asian characters count twice."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return cells * _CHAR * size


def _columns(graph: _Graph) -> list[list[_Node]]:
    """Assign columns: exchanges by longest path over exchange-to-exchange edges (back edges of a
    depth-first search ignored), then queues, then consumers."""
    exchanges = [n for n in graph.nodes if n.kind == "exchange"]
    out: dict[_Node, list[_Node]] = {n: [] for n in exchanges}
    for edge in graph.edges:
        if edge.source.kind == "exchange" and edge.target.kind == "exchange":
            out[edge.source].append(edge.target)
    # depth-first search in declaration order; an edge to a node on the stack closes a cycle
    state: dict[_Node, int] = {}
    finished: list[_Node] = []
    forward: dict[_Node, list[_Node]] = {n: [] for n in exchanges}
    for root in exchanges:
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, successors = stack[-1]
            for succ in successors:
                mark = state.get(succ)
                if mark is None:
                    forward[node].append(succ)
                    state[succ] = 1
                    stack.append((succ, iter(out[succ])))
                    break
                if mark == 2:
                    forward[node].append(succ)
            else:
                state[node] = 2
                finished.append(node)
                stack.pop()
    depth = {n: 0 for n in exchanges}
    for node in reversed(finished):  # reverse finishing order is a topological order of forward edges
        for succ in forward[node]:
            depth[succ] = max(depth[succ], depth[node] + 1)
    width = max(depth.values(), default=-1) + 1
    columns: list[list[_Node]] = [[] for _ in range(width)]
    for node in exchanges:
        node.column = depth[node]
        columns[depth[node]].append(node)
    for kind in ("queue", "consumer"):
        members = [n for n in graph.nodes if n.kind == kind]
        if members:
            for node in members:
                node.column = len(columns)
            columns.append(members)
    return columns


def _order(graph: _Graph, columns: list[list[_Node]]) -> None:
    """Barycenter sweeps: sort each column by the mean position of its neighbours in earlier
    (then later) columns; nodes without such neighbours keep their place.  Ties keep the order."""
    position = {n: i for column in columns for i, n in enumerate(column)}
    before: dict[_Node, list[_Node]] = {n: [] for n in graph.nodes}
    after: dict[_Node, list[_Node]] = {n: [] for n in graph.nodes}
    for edge in graph.edges:
        if edge.source.column < edge.target.column:
            before[edge.target].append(edge.source)
            after[edge.source].append(edge.target)

    def sweep(indices: Iterable[int], neighbours: dict[_Node, list[_Node]]) -> None:
        for c in indices:
            column = columns[c]
            scale = max(len(column), 1)

            def barycenter(node: _Node) -> tuple[float, int]:
                linked = neighbours[node]
                if not linked:
                    return (position[node] / scale, position[node])
                mean = sum(position[n] / max(len(columns[n.column]), 1) for n in linked) / len(linked)
                return (mean, position[node])

            column.sort(key=barycenter)
            for i, node in enumerate(column):
                position[node] = i

    for _ in range(3):
        sweep(range(1, len(columns)), before)
        sweep(range(len(columns) - 2, -1, -1), after)
    sweep(range(1, len(columns)), before)


class _Layout:
    """Where everything went: the canvas size, each column's left and right x, and the edges that
    run right to left (or within one column) in lane order, with the x of their two vertical runs."""

    __slots__ = ("width", "height", "lanes_top", "backward", "runs")

    def __init__(self) -> None:
        self.width = 0.0
        self.height = 0.0
        self.lanes_top = 0.0
        self.backward: list[_Edge] = []
        #: backward edge index -> (x of the run down from the source, x of the run up to the target,
        #: y where it leaves the source, y where it enters the target)
        self.runs: dict[int, tuple[float, float, float, float]] = {}


def _layout(graph: _Graph) -> _Layout:
    """Place every node and route the backward edges (see the module docstring)."""
    layout = _Layout()
    columns = _columns(graph)
    _order(graph, columns)
    forward_in: dict[_Node, list[_Edge]] = {n: [] for n in graph.nodes}
    for edge in graph.edges:
        if edge.source.column < edge.target.column:
            forward_in[edge.target].append(edge)
        else:
            layout.backward.append(edge)
    # shorter spans take the lanes nearer the picture, so lanes nest instead of crossing
    layout.backward.sort(key=lambda e: (e.source.column - e.target.column, e.index))
    for node in graph.nodes:
        width = max(_text_width(node.lines[0], _SIZE_NAME),
                    max((_text_width(line, _SIZE_DETAIL) for line in node.lines[1:]), default=0.0))
        node.width = max(_MIN_WIDTH, width + 2 * _PAD_X)
        base = 22.0 if len(node.lines) == 1 else 38.0
        node.height = max(base, _PORT_GAP * len(forward_in[node]) + 6)
    # the straight run before each column fits the widest label drawn on it
    run = [0.0] * len(columns)
    for node in graph.nodes:
        for edge in forward_in[node]:
            if edge.label:
                run[node.column] = max(run[node.column], _text_width(edge.label, _SIZE_EDGE) + 14)
    leaving = [0] * len(columns)
    for edge in layout.backward:
        leaving[edge.source.column] += 1
    x = _MARGIN + _RUN_STEP * leaving[0] if columns else _MARGIN
    bounds = []
    heights = []
    for c, column in enumerate(columns):
        if c:
            x += max(_MIN_COLUMN_GAP, run[c] + 40 + _RUN_STEP * leaving[c])
        column_width = max(n.width for n in column)
        for node in column:
            node.x = x + (column_width - node.width) / 2 if node.kind != "exchange" else x
        bounds.append((x, x + column_width))
        x += column_width
        heights.append(sum(n.height for n in column) + _NODE_GAP * (len(column) - 1))
    tallest = max(heights, default=0.0)
    for column, height in zip(columns, heights):
        y = _MARGIN + _HEADER + (tallest - height) / 2
        for node in column:
            node.y = y
            y += node.height + _NODE_GAP
    # ports: incoming forward edges spread down the left side, in the order of their sources
    for node in graph.nodes:
        incoming = sorted(forward_in[node], key=lambda e: (e.source.y, e.source.x, e.index))
        for i, edge in enumerate(incoming):
            node.ports[edge.index] = node.y + node.height * (i + 1) / (len(incoming) + 1)
    # backward edges leave the source's lower left corner, run down the gap left of its column, along
    # their lane, up the gap right of the target's column, and enter the target's lower right side
    entering = [0] * len(columns)
    out_count: dict[_Node, int] = {}
    in_count: dict[_Node, int] = {}
    for lane, edge in enumerate(layout.backward):
        source, target = edge.source, edge.target
        # left of the labels drawn before the source's column
        down = bounds[source.column][0] - run[source.column] - 12 - _RUN_STEP * (leaving[source.column] - 1)
        leaving[source.column] -= 1
        up = bounds[target.column][1] + 8 + _RUN_STEP * entering[target.column]
        entering[target.column] += 1
        k = out_count[source] = out_count.get(source, -1) + 1
        j = in_count[target] = in_count.get(target, -1) + 1
        leave_y = source.y + source.height - 3 - min(4 * k, source.height / 2 - 3)
        enter_y = target.y + target.height - 5 - min(5 * j, target.height / 2 - 8)
        layout.runs[edge.index] = (down, up, leave_y, enter_y)
    layout.width = x + _MARGIN + _RUN_STEP * max(entering[-1:] or [0])
    layout.lanes_top = _MARGIN + _HEADER + tallest + _LANE
    layout.height = _MARGIN + _HEADER + tallest + _MARGIN
    if layout.backward:
        layout.height += _LANE * (len(layout.backward) + 1)
    return layout


# -- SVG ----------------------------------------------------------------------------------------

_STYLE = {
    # kind -> (fill, stroke)
    "exchange": ("#e8f0fe", "#3b6fd4"),
    "queue": ("#fff4df", "#c07b00"),
    "consumer": ("#eaf6ea", "#3a8a3a"),
}
_STRONG = "#d9480f"
_MUTED = "#c4c4c4"
_INK = "#333333"
_EDGE_INK = "#555555"


def _xml(text: str) -> str:
    """Text safe in XML content and double-quoted attributes; characters XML 1.0 forbids become ``\\xNN``."""
    out = []
    for c in text:
        code = ord(c)
        if c == "&":
            out.append("&amp;")
        elif c == "<":
            out.append("&lt;")
        elif c == ">":
            out.append("&gt;")
        elif c == '"':
            out.append("&quot;")
        elif (code < 0x20 and c not in "\t\n\r") or 0xD800 <= code <= 0xDFFF or code in (0xFFFE, 0xFFFF):
            out.append(f"\\x{code:02x}")
        else:
            out.append(c)
    return "".join(out)


def _n(value: float) -> str:
    """A coordinate with at most one decimal, no trailing zeros (the output stays byte-stable)."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _edge_colour(state: str) -> tuple[str, str, str]:
    """(stroke, stroke width, marker id) for an edge state."""
    if state == "matched":
        return _STRONG, "2.5", "minimq-arrow-strong"
    if state == "unmatched":
        return _MUTED, "1.2", "minimq-arrow-muted"
    return _EDGE_INK, "1.2", "minimq-arrow"


def to_svg(topology: TopologyView, highlight: Highlight | None = None, live: bool = False, *,
           all_exchanges: bool = False) -> str:
    """The topology as a standalone SVG 1.1 document (a string), laid out left to right.

    ``highlight``: a :class:`Highlight` whose path is drawn strong (matched bindings, alternate hops,
    visited exchanges, reached queues, in orange) and whose unmatched bindings are greyed.  ``live``:
    queues show ready/unacked/consumer counts instead of their flags.  ``all_exchanges``: also draw
    the default and ``amq.*`` exchanges nothing touches.  No scripts, no external references: it
    renders on GitHub and in any browser.  ``TypeError`` for an argument of the wrong shape.
    """
    _check_arguments(topology, highlight, live)
    graph = _build(topology, highlight, live, all_exchanges)
    if not graph.nodes:
        width, height = 320.0, 80.0
        body = [f'<text x="{_n(_MARGIN)}" y="{_n(_MARGIN + 24)}" font-size="{_SIZE_NAME}" fill="{_INK}">'
                f"vhost {_xml(_display(graph.vhost))}: no exchanges or queues</text>"]
        return _svg_document(width, height, body)
    layout = _layout(graph)
    body = [f'<text x="{_n(_MARGIN)}" y="{_n(_MARGIN + 12)}" font-size="{_SIZE_NAME}" font-weight="bold" '
            f'fill="{_INK}">vhost {_xml(_display(graph.vhost))}</text>']
    labels: list[str] = []
    # muted edges first, strong ones last, so the highlighted path is drawn on top
    rank = {"unmatched": 0, "normal": 1, "matched": 2}
    lane_of = {edge.index: i for i, edge in enumerate(layout.backward)}
    for edge in sorted(graph.edges, key=lambda e: (rank[e.state], e.index)):
        stroke, stroke_width, marker = _edge_colour(edge.state)
        source, target = edge.source, edge.target
        dash = ' stroke-dasharray="6 4"' if edge.dashed else ""
        if edge.index in lane_of:
            lane = layout.lanes_top + _LANE * lane_of[edge.index]
            down, up, leave_y, enter_y = layout.runs[edge.index]
            path = (f"M{_n(source.x)},{_n(leave_y)} L{_n(down)},{_n(leave_y)} L{_n(down)},{_n(lane)} "
                    f"L{_n(up)},{_n(lane)} L{_n(up)},{_n(enter_y)} L{_n(target.x + target.width)},{_n(enter_y)}")
            label_x, label_y, anchor = (down + up) / 2, lane - 3, "middle"
        else:
            sx = source.x + source.width
            sy = source.y + source.height / 2
            tx = target.x
            ty = target.ports[edge.index]
            bend = tx - max(_text_width(edge.label, _SIZE_EDGE) + 14, 12.0) if edge.label else tx - 12
            bend = max(bend, sx + 12)
            reach = (bend - sx) / 2
            path = (f"M{_n(sx)},{_n(sy)} C{_n(sx + reach)},{_n(sy)} {_n(bend - reach)},{_n(ty)} "
                    f"{_n(bend)},{_n(ty)} L{_n(tx)},{_n(ty)}")
            label_x, label_y, anchor = tx - 10, ty - 4, "end"
        body.append(f'<g class="edge {edge.kind} {edge.state}"><title>{_xml(edge.title)}</title>'
                    f'<path d="{path}" fill="none" stroke="{stroke}" stroke-width="{stroke_width}"{dash} '
                    f'marker-end="url(#{marker})"/></g>')
        if edge.label:
            text_width = _text_width(edge.label, _SIZE_EDGE)
            left = label_x - text_width if anchor == "end" else label_x - text_width / 2
            colour = _STRONG if edge.state == "matched" else "#aaaaaa" if edge.state == "unmatched" else _EDGE_INK
            weight = ' font-weight="bold"' if edge.state == "matched" else ""
            labels.append(
                f'<g class="edge-label {edge.kind} {edge.state}">'
                f'<rect class="label-bg" x="{_n(left - 2)}" y="{_n(label_y - _SIZE_EDGE + 1)}" '
                f'width="{_n(text_width + 4)}" height="{_n(_SIZE_EDGE + 3)}" fill="#ffffff" fill-opacity="0.85"/>'
                f'<text x="{_n(label_x)}" y="{_n(label_y)}" font-size="{_SIZE_EDGE}" text-anchor="{anchor}" '
                f'fill="{colour}"{weight}>{_xml(edge.label)}</text></g>')
    body.extend(labels)
    for node in graph.nodes:
        fill, stroke = _STYLE[node.kind]
        stroke_width = "1.2"
        dash = ""
        if node.state in ("visited", "reached"):
            stroke, stroke_width = _STRONG, "3"
        elif node.state == "missing":
            fill, dash = "#ffffff", ' stroke-dasharray="4 3"'
        elif graph.highlighted:
            stroke = _MUTED if node.kind == "exchange" else stroke
        radius = 11 if node.kind == "consumer" else 3 if node.kind == "exchange" else 8
        classes = " ".join(filter(None, ("node", node.kind, node.state)))
        parts = [f'<g class="{classes}"><title>{_xml(node.title)}</title>'
                 f'<rect class="box" x="{_n(node.x)}" y="{_n(node.y)}" width="{_n(node.width)}" '
                 f'height="{_n(node.height)}" rx="{radius}" fill="{fill}" stroke="{stroke}" '
                 f'stroke-width="{stroke_width}"{dash}/>']
        centre = node.x + node.width / 2
        if len(node.lines) == 1:
            baseline = node.y + node.height / 2 + _SIZE_NAME * 0.35
            parts.append(f'<text x="{_n(centre)}" y="{_n(baseline)}" font-size="{_SIZE_NAME}" '
                         f'text-anchor="middle" fill="{_INK}">{_xml(node.lines[0])}</text>')
        else:
            top = node.y + node.height / 2 - 3
            parts.append(f'<text x="{_n(centre)}" y="{_n(top)}" font-size="{_SIZE_NAME}" font-weight="bold" '
                         f'text-anchor="middle" fill="{_INK}">{_xml(node.lines[0])}</text>')
            parts.append(f'<text x="{_n(centre)}" y="{_n(top + _SIZE_DETAIL + 3)}" font-size="{_SIZE_DETAIL}" '
                         f'text-anchor="middle" fill="#666666">{_xml(node.lines[1])}</text>')
        parts.append("</g>")
        body.append("".join(parts))
    return _svg_document(layout.width, layout.height, body)


def _svg_document(width: float, height: float, body: list[str]) -> str:
    markers = "".join(
        f'<marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
        f'markerWidth="8" markerHeight="8" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{colour}"/></marker>'
        for marker, colour in (("minimq-arrow", _EDGE_INK), ("minimq-arrow-strong", _STRONG),
                               ("minimq-arrow-muted", _MUTED)))
    w, h = _n(width), _n(height)
    return "\n".join([
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
        f'font-family="{_FONT}">',
        f"<defs>{markers}</defs>",
        f'<rect class="background" x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        *body,
        "</svg>",
        "",
    ])


# -- Mermaid ------------------------------------------------------------------------------------

def _mermaid_text(text: str) -> str:
    """A label for inside Mermaid's double quotes: quotes, markup and ``#`` as entity codes."""
    out = []
    for c in text:
        if c == '"':
            out.append("#quot;")
        elif c == "<":
            out.append("#lt;")
        elif c == ">":
            out.append("#gt;")
        elif c == "&":
            out.append("#amp;")
        elif c == "#":
            out.append("#35;")
        elif c in "|`\\":
            out.append(f"#{ord(c)};")
        else:
            out.append(c)
    return "".join(out)


def to_mermaid(topology: TopologyView, highlight: Highlight | None = None, live: bool = False, *,
               all_exchanges: bool = False) -> str:
    """The topology as a Mermaid ``flowchart LR`` (paste it into a Markdown ```mermaid block).

    Node ids are ``x0``, ``q0``, ``c0``... (names only appear in quoted labels); exchanges are boxes,
    queues cylinders, consumers stadiums.  With a ``highlight``, matched edges get a strong
    ``linkStyle`` and unmatched ones a grey one; visited exchanges and reached queues get the
    ``visited`` class.  Same arguments as :func:`to_svg`.
    """
    _check_arguments(topology, highlight, live)
    graph = _build(topology, highlight, live, all_exchanges)
    shapes = {"exchange": ('["', '"]'), "queue": ('[("', '")]'), "consumer": ('(["', '"])')}
    lines = ["flowchart LR"]
    for node in graph.nodes:
        opening, closing = shapes[node.kind]
        label = "<br/>".join(_mermaid_text(line) for line in node.lines)
        lines.append(f"    {node.id}{opening}{label}{closing}")
    for edge in graph.edges:
        arrow = "-.->" if edge.dashed else "-->"
        label = f'|"{_mermaid_text(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source.id} {arrow}{label} {edge.target.id}")
    lines.append("    classDef exchange fill:#e8f0fe,stroke:#3b6fd4")
    lines.append("    classDef queue fill:#fff4df,stroke:#c07b00")
    lines.append("    classDef consumer fill:#eaf6ea,stroke:#3a8a3a")
    lines.append("    classDef missing fill:#ffffff,stroke:#3b6fd4,stroke-dasharray:4 3")
    lines.append(f"    classDef visited stroke:{_STRONG},stroke-width:3px")
    for kind in ("exchange", "queue", "consumer"):
        ids = [n.id for n in graph.nodes if n.kind == kind]
        if ids:
            lines.append(f"    class {','.join(ids)} {kind}")
    for state in ("missing", "visited"):
        ids = [n.id for n in graph.nodes if n.state == state or (state == "visited" and n.state == "reached")]
        if ids:
            lines.append(f"    class {','.join(ids)} {state}")
    for state, style in (("matched", f"stroke:{_STRONG},stroke-width:3px"), ("unmatched", f"stroke:{_MUTED}")):
        indices = [str(e.index) for e in graph.edges if e.state == state]
        if indices:
            lines.append(f"    linkStyle {','.join(indices)} {style}")
    return "\n".join(lines) + "\n"


# -- Graphviz DOT -------------------------------------------------------------------------------

def _dot_string(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, line breaks as ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(topology: TopologyView, highlight: Highlight | None = None, live: bool = False, *,
           all_exchanges: bool = False) -> str:
    """The topology as a Graphviz ``digraph`` (``dot -Tsvg`` draws it), laid out left to right.

    Ids are quoted (``"x0"``, ``"q0"``...), labels quoted and escaped.  With a ``highlight``, matched
    edges and the path's nodes are drawn orange and thick, unmatched edges grey.  Same arguments as
    :func:`to_svg`.
    """
    _check_arguments(topology, highlight, live)
    graph = _build(topology, highlight, live, all_exchanges)
    lines = [
        f"digraph {_dot_string('minimq ' + graph.vhost)} {{",
        "    rankdir=LR;",
        '    node [fontname="monospace", fontsize=11, style="filled"];',
        '    edge [fontname="monospace", fontsize=10];',
    ]
    shapes = {"exchange": "box", "queue": "cylinder", "consumer": "ellipse"}
    for node in graph.nodes:
        fill, stroke = _STYLE[node.kind]
        pen = ""
        if node.state in ("visited", "reached"):
            stroke, pen = _STRONG, ", penwidth=3"
        elif node.state == "missing":
            fill, pen = "#ffffff", ', style="dashed,filled"'
        attributes = [f"label={_dot_string(chr(10).join(node.lines))}", f"shape={shapes[node.kind]}",
                      f'fillcolor="{fill}", color="{stroke}"{pen}', f"tooltip={_dot_string(node.title)}"]
        lines.append(f"    {_dot_string(node.id)} [{', '.join(attributes)}];")
    for edge in graph.edges:
        attributes = []
        if edge.label:
            attributes.append(f"label={_dot_string(edge.label)}")
        if edge.dashed:
            attributes.append("style=dashed")
        if edge.state == "matched":
            attributes += [f'color="{_STRONG}"', f'fontcolor="{_STRONG}"', "penwidth=2.5"]
        elif edge.state == "unmatched":
            attributes += [f'color="{_MUTED}"', 'fontcolor="#aaaaaa"']
        attributes.append(f"tooltip={_dot_string(edge.title)}")
        lines.append(f"    {_dot_string(edge.source.id)} -> {_dot_string(edge.target.id)} [{', '.join(attributes)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


# -- text tree ----------------------------------------------------------------------------------

def to_text(topology: TopologyView, highlight: Highlight | None = None, live: bool = False, *,
            all_exchanges: bool = False) -> str:
    """The topology as a plain text tree: each exchange with its bindings (and its alternate
    exchange), then each queue with its dead-letter exchange and consumers.

    Names are printed with ``repr`` quotes.  With a ``highlight`` the path is marked: ``[visited]``
    exchanges, ``[reached]`` queues, ``[matched]`` / ``[not matched]`` bindings, ``[taken]``
    alternate hops.  Same arguments as :func:`to_svg`.
    """
    _check_arguments(topology, highlight, live)
    graph = _build(topology, highlight, live, all_exchanges)
    marks = {"visited": " [visited]", "reached": " [reached]", "matched": " [matched]",
             "unmatched": " [not matched]", "missing": " [not declared]"}
    out_edges: dict[_Node, list[_Edge]] = {n: [] for n in graph.nodes}
    for edge in graph.edges:
        out_edges[edge.source].append(edge)
    lines = [f"vhost {graph.vhost!r}"]
    # exchanges (undeclared ones too, which were added as edges found them) before queues
    for node in sorted(graph.nodes, key=lambda n: (n.kind != "exchange", n.order)):
        if node.kind == "consumer":
            continue
        if node.kind == "exchange":
            kind = node.lines[1] if node.state != "missing" else "not declared"
            head = f"exchange {node.name!r} ({kind})" if node.state != "missing" else f"exchange {node.name!r}"
        else:
            head = f"queue {node.name!r} ({node.lines[1]})"
        lines.append(head + marks.get(node.state, ""))
        children = []
        for edge in out_edges[node]:
            target = f"{edge.target.kind} {edge.target.name!r}"
            if edge.kind == "binding":
                text = f"{edge.detail} -> {target}" + marks.get(edge.state, "")
            elif edge.kind == "alternate":
                text = f"alternate exchange -> {target}" + (" [taken]" if edge.state == "matched" else "")
            elif edge.kind == "dead-letter":
                text = f"{edge.detail} -> {target}"
            elif edge.target.name:
                text = f"consumer {edge.target.name!r}"
            else:
                text = edge.target.lines[0] + " consumers"
            children.append(text)
        for i, text in enumerate(children):
            lines.append(("└── " if i == len(children) - 1 else "├── ") + text)
    return "\n".join(lines) + "\n"
