"""minimq.drawing: SVG, Mermaid, DOT and text pictures of a topology snapshot, with a highlighted path.

The SVG is checked as XML, by geometry (boxes never overlap, labels never sit on a box), and in a real
headless browser (Debian's ``chromium``); the DOT by Graphviz's ``dot``.  Those two tools are
installed by .ci/run: locally a missing tool skips its test (with the reason), in CI (``CI=true``)
it fails it.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from types import SimpleNamespace

import pytest

from minimq import drawing
from minimq.drawing import MAX_CONSUMERS_SHOWN, to_dot, to_mermaid, to_svg, to_text

SVG_NS = "{http://www.w3.org/2000/svg}"
STRONG, MUTED = "#d9480f", "#c4c4c4"
ODD_EXCHANGE = 'we<ird&"x\\'
ODD_QUEUE = 'q<&">\'s'


def _tool(name: str) -> str:
    """The path of an installed program; skip without it, but fail in CI, which installs it."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true" or os.environ.get("MINIMQ_REQUIRE_DRAWING_TOOLS") == "1":
            pytest.fail(f"{name} is not installed, and this is CI: .ci/run should have installed it")
        pytest.skip(f"{name} is not installed (apt-get install -y {'graphviz' if name == 'dot' else name})")
    return path


@pytest.fixture
def shop(broker, ch):
    ch.exchange_declare("orders", "topic", arguments={"alternate-exchange": "unrouted"})
    ch.exchange_declare("unrouted", "fanout")
    ch.exchange_declare("audit", "fanout")
    ch.exchange_declare("docs", "headers")
    ch.exchange_declare("dlx", "direct")
    ch.exchange_declare(ODD_EXCHANGE, "direct")
    ch.queue_declare("eu", arguments={"x-dead-letter-exchange": "dlx", "x-dead-letter-routing-key": "dead"})
    ch.queue_declare("us")
    broker.set_policy("dl", "^us$", {"dead-letter-exchange": "dlx"})
    for name in ("audit-log", "lost", "dead", "pdfs", ODD_QUEUE):
        ch.queue_declare(name)
    ch.queue_bind("eu", "orders", "order.eu.*")
    ch.queue_bind("us", "orders", "order.us.#")
    ch.exchange_bind("audit", "orders", "#")
    ch.queue_bind("audit-log", "audit", "")
    ch.queue_bind("lost", "unrouted", "")
    ch.queue_bind("dead", "dlx", "dead")
    ch.queue_bind("pdfs", "docs", "", {"x-match": "all", "format": "pdf", "type": "report"})
    ch.queue_bind(ODD_QUEUE, ODD_EXCHANGE, 'k<&"')
    ch.basic_publish("orders", "order.eu.1", b"one")
    ch.basic_consume("eu", lambda delivery: None, consumer_tag="eu-worker")
    return broker.topology()


def _key(topology, source, destination):
    (binding,) = [b for b in topology.bindings if b.source == source and b.destination == destination]
    return binding.key


def _eu_route(topology):
    """What publishing ``order.eu.1`` to ``orders`` does: eu and (through audit) audit-log."""
    return SimpleNamespace(
        visited_exchanges=frozenset({"orders", "audit"}),
        reached_queues=frozenset({"eu", "audit-log"}),
        matched_bindings=frozenset({_key(topology, "orders", "eu"), _key(topology, "orders", "audit"),
                                    _key(topology, "audit", "audit-log")}),
        unmatched_bindings=frozenset({_key(topology, "orders", "us")}),
        alternate_hops=frozenset())


def _unroutable(topology):
    """What publishing ``nothing`` to ``orders`` does: no binding matches, the alternate takes it."""
    return SimpleNamespace(
        visited_exchanges=frozenset({"orders", "unrouted"}),
        reached_queues=frozenset({"lost"}),
        matched_bindings=frozenset({_key(topology, "unrouted", "lost")}),
        unmatched_bindings=frozenset({_key(topology, "orders", d) for d in ("eu", "us", "audit")}),
        alternate_hops=frozenset({("orders", "unrouted")}))


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode("utf-8"))
    assert root.tag == SVG_NS + "svg"
    return root


def _rects(root: ET.Element, cls: str) -> list[tuple[float, float, float, float]]:
    return [tuple(float(r.get(a)) for a in ("x", "y", "width", "height"))
            for r in root.iter(SVG_NS + "rect") if r.get("class") == cls]


def _overlap(a, b) -> bool:
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _edges(root: ET.Element) -> dict[str, ET.Element]:
    """Edge groups by their tooltip."""
    return {g.find(SVG_NS + "title").text: g for g in root.iter(SVG_NS + "g")
            if (g.get("class") or "").startswith("edge ")}


# -- SVG ---------------------------------------------------------------------------------------

def test_svg_is_well_formed_and_shows_every_name_escaped(shop):
    svg = to_svg(shop, live=True)
    root = _parse(svg)
    assert root.get("version") == "1.1"
    assert root.get("viewBox") == f"0 0 {root.get('width')} {root.get('height')}"
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    for name in ("orders", "unrouted", "audit", "docs", "dlx", ODD_EXCHANGE,
                 "eu", "us", "audit-log", "lost", "dead", "pdfs", ODD_QUEUE):
        assert name in texts, name
    assert "we&lt;ird&amp;&quot;x\\" in svg and "q&lt;&amp;&quot;&gt;'s" in svg
    assert "<ird" not in svg and '<&"' not in svg
    assert "ready 0, unacked 1, consumers 1" in texts          # eu, live
    assert "k<&\"" in texts                                      # a routing key, escaped the same way
    assert "x-match=all format=pdf type=r…" in texts             # headers arguments, shortened
    assert "eu-worker" in texts
    # nothing a browser would fetch or run
    assert "<script" not in svg and "href" not in svg and "@import" not in svg and "url(http" not in svg


def test_node_boxes_never_overlap_and_labels_never_sit_on_a_box(shop):
    root = _parse(to_svg(shop, live=True))
    boxes = _rects(root, "box")
    assert len(boxes) == 6 + 7 + 1
    for a, b in itertools.combinations(boxes, 2):
        assert not _overlap(a, b), (a, b)
    width, height = float(root.get("width")), float(root.get("height"))
    for x, y, w, h in boxes + _rects(root, "label-bg"):
        assert 0 <= x and x + w <= width and 0 <= y and y + h <= height
    for label, box in itertools.product(_rects(root, "label-bg"), boxes):
        assert not _overlap(label, box), (label, box)


def test_layout_columns_run_left_to_right(shop):
    root = _parse(to_svg(shop))
    x_of = {}
    for g in root.iter(SVG_NS + "g"):
        if (g.get("class") or "").startswith("node "):
            box = g.find(SVG_NS + "rect")
            x_of[g.find(SVG_NS + "title").text.split(":")[0]] = float(box.get("x"))
    # exchange-to-exchange and alternate edges push their targets one column right
    assert x_of["exchange 'orders'"] < x_of["exchange 'audit'"] == x_of["exchange 'unrouted'"]
    queues = [x for name, x in x_of.items() if name.startswith("queue")]
    assert min(queues) > x_of["exchange 'audit'"]
    assert x_of["consumer 'eu-worker' of queue 'eu'"] > max(queues)


def test_barycenter_ordering_removes_crossings(broker, ch):
    """Queues declared in the opposite order of their exchanges are drawn opposite them, uncrossed."""
    for name in ("a", "b", "c"):
        ch.exchange_declare(name, "fanout")
    for name in ("to-c", "to-b", "to-a"):
        ch.queue_declare(name)
        ch.queue_bind(name, name[-1], "")
    root = _parse(to_svg(broker.topology()))
    y_of = {g.find(SVG_NS + "title").text.split(":")[0]: float(g.find(SVG_NS + "rect").get("y"))
            for g in root.iter(SVG_NS + "g") if (g.get("class") or "").startswith("node ")}
    assert y_of["exchange 'a'"] < y_of["exchange 'b'"] < y_of["exchange 'c'"]
    assert y_of["queue 'to-a'"] < y_of["queue 'to-b'"] < y_of["queue 'to-c'"]


def test_backward_edges_are_dashed_and_loop_below(shop):
    root = _parse(to_svg(shop))
    edges = _edges(root)
    dead_letter = edges["dead-letter exchange of 'eu': 'dlx', routing key 'dead'"]
    assert dead_letter.get("class") == "edge dead-letter normal"
    path = dead_letter.find(SVG_NS + "path")
    assert path.get("stroke-dasharray")
    lowest_box = max(y + h for _, y, _, h in _rects(root, "box"))
    assert max(float(v) for v in re.findall(r",(-?[\d.]+)", path.get("d"))) > lowest_box
    assert edges["dead-letter exchange of 'us': 'dlx'"].find(SVG_NS + "path").get("stroke-dasharray")
    alternate = edges["alternate exchange of 'orders': 'unrouted'"].find(SVG_NS + "path")
    assert alternate.get("stroke-dasharray")
    assert not edges["binding 'orders' -> queue 'eu': order.eu.*"].find(SVG_NS + "path").get("stroke-dasharray")


def test_svg_output_is_deterministic_across_processes(tmp_path):
    """Same topology, same bytes, whatever the hash seed (no set or dict order leaks into the output)."""
    script = tmp_path / "draw.py"
    script.write_text(
        "import sys\nfrom minimq import Broker\nb = Broker()\nch = b.channel()\n"
        "for x in ('x1', 'x2', 'x3'):\n    ch.exchange_declare(x, 'topic', arguments={'alternate-exchange': 'x3'})\n"
        "for i in range(8):\n    ch.queue_declare(f'q{i}')\n    ch.queue_bind(f'q{i}', f'x{i % 3 + 1}', f'k.{i}')\n"
        "ch.exchange_bind('x2', 'x1', '#')\n"
        "sys.stdout.write(b.topology().to_svg() + b.topology().to_dot() + b.topology().to_mermaid())\n")
    outputs = set()
    for seed in ("1", "2", "3"):
        root = str(Path(drawing.__file__).parents[1])
        env = dict(os.environ, PYTHONHASHSEED=seed,
                   PYTHONPATH=os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
        proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=60)
        assert proc.returncode == 0, proc.stderr
        outputs.add(proc.stdout)
    assert len(outputs) == 1


def test_idle_system_exchanges_are_left_out_unless_asked_for(broker, ch):
    ch.queue_declare("q")
    root = _parse(to_svg(broker.topology()))
    titles = [t.text for t in root.iter(SVG_NS + "title")]
    assert titles == ["queue 'q': transient"]
    everything = [t.text for t in _parse(to_svg(broker.topology(), all_exchanges=True)).iter(SVG_NS + "title")]
    assert "exchange '': direct, durable" in everything and "exchange 'amq.topic': topic, durable" in everything
    ch.queue_bind("q", "amq.topic", "a.#")
    titles = [t.text for t in _parse(to_svg(broker.topology())).iter(SVG_NS + "title")]
    assert "exchange 'amq.topic': topic, durable" in titles and "exchange 'amq.direct': direct, durable" not in titles


def test_undeclared_alternate_and_dead_letter_exchanges_are_drawn_as_such(broker, ch):
    ch.exchange_declare("x", "direct", arguments={"alternate-exchange": "ghost"})
    ch.queue_declare("q", arguments={"x-dead-letter-exchange": ""})
    topology = broker.topology()
    root = _parse(to_svg(topology))
    missing = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "node exchange missing"]
    assert [g.find(SVG_NS + "title").text for g in missing] == ["exchange 'ghost' is not declared"]
    assert "exchange '': direct, durable" in [t.text for t in root.iter(SVG_NS + "title")]
    assert "(default exchange)" in [t.text for t in root.iter(SVG_NS + "text")]
    assert to_text(topology) == (
        "vhost '/'\n"
        "exchange '' (direct, durable)\n"
        "exchange 'x' (direct)\n"
        "└── alternate exchange -> exchange 'ghost'\n"
        "exchange 'ghost' [not declared]\n"
        "queue 'q' (transient)\n"
        "└── dead letter -> exchange ''\n")


def test_long_names_are_cut_but_kept_whole_in_tooltips_and_odd_characters_stay_valid_xml(broker, ch):
    long_name = "a-very-long-queue-name-" + "x" * 80
    ch.queue_declare(long_name)
    ch.queue_declare("tab\there\x01")
    root = _parse(to_svg(broker.topology()))
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert long_name[:39] + "…" in texts and long_name not in texts
    assert f"queue {long_name!r}: transient" in [t.text for t in root.iter(SVG_NS + "title")]
    assert "tab\\x09here\\x01" in texts


def test_many_consumers_are_summed_up(broker, ch):
    ch.queue_declare("busy")
    for i in range(MAX_CONSUMERS_SHOWN + 3):
        ch.basic_consume("busy", lambda delivery: None, consumer_tag=f"c{i}")
    root = _parse(to_svg(broker.topology()))
    consumers = [g for g in root.iter(SVG_NS + "g") if g.get("class") == "node consumer"]
    captions = [g.findall(SVG_NS + "text")[0].text for g in consumers]
    assert captions == [f"c{i}" for i in range(MAX_CONSUMERS_SHOWN - 1)] + ["+4 more"]


def test_empty_vhost_gives_a_small_valid_picture(broker):
    broker.add_vhost("empty")
    root = _parse(to_svg(broker.topology("empty")))
    assert [t.text for t in root.iter(SVG_NS + "text")] == ["vhost empty: no exchanges or queues"]


def test_jupyter_reprs_are_svg_with_live_counts(broker, ch, shop):
    for svg in (shop._repr_svg_(), broker._repr_svg_()):
        texts = [t.text for t in _parse(svg).iter(SVG_NS + "text")]
        assert "ready 0, unacked 1, consumers 1" in texts
    assert shop.to_svg() == to_svg(shop)


def test_bad_arguments_are_refused_at_the_call(shop):
    with pytest.raises(TypeError, match=r"^highlight must have the attributes of minimq.drawing.Highlight; "
                                        r"SimpleNamespace has no reached_queues, alternate_hops$"):
        to_svg(shop, SimpleNamespace(visited_exchanges=frozenset(), matched_bindings=frozenset(),
                                     unmatched_bindings=frozenset()))
    with pytest.raises(TypeError, match=r"^topology must be a topology snapshot \(broker.topology\(\)\), got dict "
                                        r"without vhost, exchanges, queues, bindings$"):
        to_mermaid({})
    with pytest.raises(TypeError, match=r"^live must be a bool, got 'yes'$"):
        to_dot(shop, None, "yes")


# -- highlight ---------------------------------------------------------------------------------

def test_highlight_draws_the_path_strong_and_the_misses_grey_in_svg(shop):
    root = _parse(to_svg(shop, _eu_route(shop)))
    edges = _edges(root)

    def state(title):
        g = edges[title]
        return g.get("class").split()[-1], g.find(SVG_NS + "path").get("stroke")

    assert state("binding 'orders' -> queue 'eu': order.eu.*") == ("matched", STRONG)
    assert state("binding 'orders' -> exchange 'audit': #") == ("matched", STRONG)
    assert state("binding 'audit' -> queue 'audit-log': fanout binding") == ("matched", STRONG)
    assert state("binding 'orders' -> queue 'us': order.us.#") == ("unmatched", MUTED)
    assert state("binding 'dlx' -> queue 'dead': dead") == ("normal", "#555555")
    assert state("alternate exchange of 'orders': 'unrouted'") == ("normal", "#555555")
    nodes = {g.find(SVG_NS + "title").text.split(":")[0]: g for g in root.iter(SVG_NS + "g")
             if (g.get("class") or "").startswith("node ")}
    assert nodes["exchange 'orders'"].get("class") == "node exchange visited"
    assert nodes["queue 'audit-log'"].get("class") == "node queue reached"
    assert nodes["queue 'eu'"].find(SVG_NS + "rect").get("stroke") == STRONG
    assert nodes["queue 'us'"].get("class") == "node queue"
    # the alternate hop of an unroutable message is drawn strong
    edges = _edges(_parse(to_svg(shop, _unroutable(shop))))
    alternate = edges["alternate exchange of 'orders': 'unrouted'"]
    assert alternate.get("class") == "edge alternate matched"
    assert alternate.find(SVG_NS + "path").get("marker-end") == "url(#minimq-arrow-strong)"
    assert edges["binding 'orders' -> queue 'eu': order.eu.*"].get("class") == "edge binding unmatched"


def test_highlight_in_dot(shop):
    dot = to_dot(shop, _eu_route(shop))
    line_of = {m.group(1): line for line in dot.splitlines() if (m := re.search(r'tooltip="([^"]*)"', line))}
    matched = line_of["binding 'orders' -> queue 'eu': order.eu.*"]
    assert f'color="{STRONG}"' in matched and "penwidth=2.5" in matched
    assert f'color="{MUTED}"' in line_of["binding 'orders' -> queue 'us': order.us.#"]
    plain = line_of["binding 'dlx' -> queue 'dead': dead"]
    assert "color=" not in plain
    assert "penwidth=3" in line_of["exchange 'orders': topic"]
    assert "penwidth=3" not in line_of["exchange 'dlx': direct"]


def test_highlight_in_mermaid_and_text(shop):
    highlight = _unroutable(shop)
    mermaid = to_mermaid(shop, highlight)
    edges = [line.strip() for line in mermaid.splitlines() if re.match(r"\s+\w+ (-->|-\.->)", line)]
    styles = dict(re.findall(r"linkStyle ([\d,]+) (\S+)", mermaid)[i][::-1] for i in range(2))
    matched = [edges[int(i)] for i in styles[f"stroke:{STRONG},stroke-width:3px"].split(",")]
    unmatched = [edges[int(i)] for i in styles[f"stroke:{MUTED}"].split(",")]
    ids = dict(re.findall(r'^\s+(\w+)\S*?"([^"<]*)', mermaid, re.M))
    named = {v: k for k, v in ids.items()}
    assert matched == [f"{named['unrouted']} --> {named['lost']}",
                       f"{named['orders']} -.->|\"alternate\"| {named['unrouted']}"]
    assert unmatched == [f'{named["orders"]} -->|"order.eu.*"| {named["eu"]}',
                         f'{named["orders"]} -->|"order.us.#35;"| {named["us"]}',
                         f'{named["orders"]} -->|"#35;"| {named["audit"]}']
    assert f"class {named['orders']},{named['unrouted']},{named['lost']} visited" in mermaid
    text = to_text(shop, highlight)
    assert "exchange 'orders' (topic) [visited]\n├── order.eu.* -> queue 'eu' [not matched]\n" in text
    assert "└── alternate exchange -> exchange 'unrouted' [taken]\n" in text
    assert "exchange 'unrouted' (fanout) [visited]\n└── fanout binding -> queue 'lost' [matched]\n" in text
    assert "queue 'lost' (transient) [reached]\n" in text


# -- Mermaid, DOT, text ------------------------------------------------------------------------

_MERMAID_NODE = re.compile(r'^    ([A-Za-z][A-Za-z0-9_]*)(\["|\[\("|\(\[")(.*?)("\]|"\)\]|"\]\))$')
_MERMAID_EDGE = re.compile(r'^    ([A-Za-z][A-Za-z0-9_]*) (-->|-\.->)(?:\|"(.*?)"\|)? ([A-Za-z][A-Za-z0-9_]*)$')


def _safe_label(label: str) -> bool:
    return '"' not in label and "|" not in label and "<" not in label.replace("<br/>", "")


def test_mermaid_structure(shop):
    mermaid = to_mermaid(shop, live=True)
    lines = mermaid.splitlines()
    assert lines[0] == "flowchart LR"
    declared: list[str] = []
    edges = 0
    for line in lines[1:]:
        if node := _MERMAID_NODE.match(line):
            assert node.group(1) not in declared, line
            assert _safe_label(node.group(3)), line
            declared.append(node.group(1))
        elif edge := _MERMAID_EDGE.match(line):
            assert edge.group(1) in declared and edge.group(4) in declared, line
            assert edge.group(3) is None or _safe_label(edge.group(3)), line
            edges += 1
        elif line.startswith("    class "):
            assert set(line.split()[1].split(",")) <= set(declared), line
        else:
            assert line.startswith(("    classDef ", "    linkStyle ")), line
    assert len(declared) == 6 + 7 + 1 and edges == 8 + 1 + 2 + 1
    assert 'we#lt;ird#amp;#quot;x#92;<br/>direct' in mermaid
    assert '|"k#lt;#amp;#quot;"|' in mermaid


def test_dot_parses_with_graphviz_and_keeps_odd_names(shop, tmp_path):
    dot_program = _tool("dot")
    source = to_dot(shop, _eu_route(shop), live=True)
    proc = subprocess.run([dot_program, "-Tsvg"], input=source.encode(), capture_output=True, timeout=60)
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"syntax error" not in proc.stderr and b"Error" not in proc.stderr, proc.stderr.decode()
    root = ET.fromstring(proc.stdout)
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert ODD_EXCHANGE in texts and ODD_QUEUE in texts and 'k<&"' in texts
    assert "ready 0, unacked 1, consumers 1" in texts


def test_text_tree(shop):
    assert to_text(shop, live=True) == (
        "vhost '/'\n"
        "exchange 'orders' (topic)\n"
        "├── order.eu.* -> queue 'eu'\n"
        "├── order.us.# -> queue 'us'\n"
        "├── # -> exchange 'audit'\n"
        "└── alternate exchange -> exchange 'unrouted'\n"
        "exchange 'unrouted' (fanout)\n"
        "└── fanout binding -> queue 'lost'\n"
        "exchange 'audit' (fanout)\n"
        "└── fanout binding -> queue 'audit-log'\n"
        "exchange 'docs' (headers)\n"
        "└── x-match=all format=pdf type=report -> queue 'pdfs'\n"
        "exchange 'dlx' (direct)\n"
        "└── dead -> queue 'dead'\n"
        "exchange 'we<ird&\"x\\\\' (direct)\n"
        "└── k<&\" -> queue 'q<&\">\\'s'\n"
        "queue 'eu' (ready 0, unacked 1, consumers 1)\n"
        "├── dead letter, routing key 'dead' -> exchange 'dlx'\n"
        "└── consumer 'eu-worker'\n"
        "queue 'us' (ready 0, unacked 0, consumers 0)\n"
        "└── dead letter -> exchange 'dlx'\n"
        "queue 'audit-log' (ready 1, unacked 0, consumers 0)\n"
        "queue 'lost' (ready 0, unacked 0, consumers 0)\n"
        "queue 'dead' (ready 0, unacked 0, consumers 0)\n"
        "queue 'pdfs' (ready 0, unacked 0, consumers 0)\n"
        "queue 'q<&\">\\'s' (ready 0, unacked 0, consumers 0)\n")


# -- in a real browser -------------------------------------------------------------------------

def _png_pixels(data: bytes) -> tuple[int, int, bytes, int]:
    """Decode an 8-bit, non-interlaced RGB or RGBA PNG: (width, height, raw pixels, bytes per pixel)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, []
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    out = bytearray()
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        if kind == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:
            line = bytearray((a + b) & 0xFF for a, b in zip(line, previous))
        elif kind == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + previous[i]) >> 1)) & 0xFF
        elif kind == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = previous[i]
                c = previous[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        out += line
        previous = line
    return width, height, bytes(out), bpp


def _count_colour(pixels: bytes, bpp: int, hex_colour: str, tolerance: int = 12) -> int:
    target = bytes.fromhex(hex_colour[1:])
    return sum(1 for i in range(0, len(pixels), bpp)
               if all(abs(pixels[i + k] - target[k]) <= tolerance for k in range(3)))


def test_svg_renders_in_headless_chromium(shop, tmp_path):
    chromium = _tool("chromium")
    svg = to_svg(shop, _eu_route(shop), live=True)
    root = _parse(svg)
    width, height = round(float(root.get("width"))), round(float(root.get("height")))
    page = tmp_path / "topology.svg"
    page.write_text(svg, encoding="utf-8")
    png = tmp_path / "topology.png"
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
         f"--user-data-dir={tmp_path / 'profile'}", f"--window-size={width},{height}",
         f"--screenshot={png}", page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert png.is_file(), proc.stderr[-2000:]
    png_width, png_height, pixels, bpp = _png_pixels(png.read_bytes())
    assert (png_width, png_height) == (width, height)
    total = png_width * png_height
    background = _count_colour(pixels, bpp, "#ffffff", tolerance=2)
    assert total - background > total * 0.05, "the picture is (nearly) blank"
    # no XML error box (Chromium draws one, #ffdddd, over what it could parse of a broken document) ...
    assert _count_colour(pixels, bpp, "#ffdddd", 3) < 50
    # ... and the boxes' fills and the highlighted path are there
    assert _count_colour(pixels, bpp, "#e8f0fe", 3) > 6 * 500       # exchange boxes
    assert _count_colour(pixels, bpp, "#fff4df", 3) > 7 * 1000      # queue boxes
    assert _count_colour(pixels, bpp, STRONG, 40) > 300             # the highlighted path
