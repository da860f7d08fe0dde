"""Conformance harness: scenarios written once against the pika ``BlockingConnection`` API.

A scenario is a function ``scenario_<name>(env, trace)`` registered with :func:`scenario`.  It talks to
a broker only through ``env.connect()`` (a pika-compatible ``BlockingConnection``) and records every
observable outcome in ``trace``.  The same scenario runs against a real RabbitMQ 3.10 (:class:`RabbitBackend`)
and against minimq through its pika facade (:class:`MinimqBackend`); the two traces must be equal.

Traces are lists of JSON-able records.  Values are normalised (:func:`normalise`) so that traces of two
runs compare equal: server-generated names and tokens become ``<n>`` placeholders numbered in order of
first appearance, x-death ``time`` values become a fixed placeholder, and non-JSON types become tagged
strings (``<bytes b'..'>``, ``<Decimal 1.5>``, ``<datetime 2020-01-01T00:00:00>``).

Layout: this module knows nothing about particular scenarios; ``scenarios_*.py`` register them on import
(:func:`load_scenarios`), ``record.py`` writes the golden traces, ``test_conformance.py`` compares.
"""

from __future__ import annotations

import datetime
import decimal
import importlib
import json
import os
import re
import socket
import time
import traceback
import urllib.parse
import uuid
from typing import Any, Callable, Dict, List, Optional

import pika
import pika.exceptions
import pika.frame
import pika.spec

HERE = os.path.dirname(os.path.abspath(__file__))
GOLDEN_DIR = os.path.join(HERE, "golden")
DEFAULT_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
SCENARIO_MODULES = (
    "scenarios_routing",
    "scenarios_declare",
    "scenarios_delivery",
    "scenarios_confirms",
    "scenarios_properties",
    "scenarios_policies",
)

# ------------------------------------------------------------------------------------------------
# Registry

#: name -> scenario function, in registration order (module order, then source order).
SCENARIOS: Dict[str, Callable[["Env", "Trace"], None]] = {}


def scenario(fn: Callable[["Env", "Trace"], None]) -> Callable[["Env", "Trace"], None]:
    """Register ``scenario_<name>``; the name (without the prefix) is the stable identity of the
    scenario and the name of its golden file."""
    fname = fn.__name__
    if not fname.startswith("scenario_"):
        raise ValueError("scenario function %r must be named scenario_<name>" % fname)
    name = fname[len("scenario_"):]
    if name in SCENARIOS and SCENARIOS[name] is not fn:
        raise ValueError("duplicate scenario name %r" % name)
    SCENARIOS[name] = fn
    return fn


def load_scenarios() -> Dict[str, Callable[["Env", "Trace"], None]]:
    """Import every ``scenarios_*`` module of this package; returns the registry."""
    package = __name__.rpartition(".")[0]
    for mod in SCENARIO_MODULES:
        if package:
            importlib.import_module("%s.%s" % (package, mod))
        else:  # imported as a top-level module (harness on sys.path)
            importlib.import_module(mod)
    return SCENARIOS


# ------------------------------------------------------------------------------------------------
# Normalisation

_PLACEHOLDER_PATTERNS = (
    # (category, regex, replacement builder)
    ("gen", re.compile(r"amq\.gen-[A-Za-z0-9_\-]{22}"), lambda m, n: "amq.gen-<%d>" % n),
    ("ctag", re.compile(r"amq\.ctag-[A-Za-z0-9_\-]{22}"), lambda m, n: "amq.ctag-<%d>" % n),
    ("pikatag", re.compile(r"ctag(\d+)\.[0-9a-f]{32}"), lambda m, n: "ctag%s.<%d>" % (m.group(1), n)),
    ("replyto", re.compile(r"amq\.rabbitmq\.reply-to\.[A-Za-z0-9_=+/\-.]+?(?=['\"\s]|$)"),
     lambda m, n: "amq.rabbitmq.reply-to.<%d>" % n),
)

XDEATH_TIME = "<x-death-time>"
#: ``env.unique`` names carry a per-run token in place of ``conf.`` (``~3fa.<scenario>.<name>``, the
#: same length, since RabbitMQ truncates reply texts to 255 bytes) so that concurrent runs against one
#: server do not share queues; traces show them as ``conf.<scenario>.<name>``.
_RUN_TOKEN = re.compile(r"~[0-9a-f]{3}\.")
_INTERNAL_REPR = re.compile(r"<(SelectConnection|BlockingConnection|BlockingChannel|Channel)\b.*$", re.S)

_BASIC_PROPERTY_NAMES = (
    "content_type", "content_encoding", "headers", "delivery_mode", "priority", "correlation_id",
    "reply_to", "expiration", "message_id", "timestamp", "type", "user_id", "app_id", "cluster_id",
)


class Normaliser:
    """Turns run-dependent strings into numbered placeholders, remembering the raw values."""

    def __init__(self) -> None:
        self._maps: Dict[str, Dict[str, int]] = {cat: {} for cat, _, _ in _PLACEHOLDER_PATTERNS}
        self.raw_server_names: List[str] = []  # amq.gen-… names seen (for cleanup)

    def text(self, s: str) -> str:
        if "~" in s:
            s = _RUN_TOKEN.sub("conf.", s)
        for cat, rx, build in _PLACEHOLDER_PATTERNS:
            if cat == "gen" and "amq.gen-" not in s:
                continue
            if cat == "ctag" and "amq.ctag-" not in s:
                continue
            if cat == "pikatag" and "ctag" not in s:
                continue
            if cat == "replyto" and "amq.rabbitmq.reply-to." not in s:
                continue
            mapping = self._maps[cat]

            def repl(m: "re.Match[str]", cat: str = cat, mapping: Dict[str, int] = mapping,
                     build: Any = build) -> str:
                raw = m.group(0)
                if raw not in mapping:
                    mapping[raw] = len(mapping) + 1
                    if cat == "gen":
                        self.raw_server_names.append(raw)
                return build(m, mapping[raw])

            s = rx.sub(repl, s)
        return s

    # -- values --------------------------------------------------------------------------------

    def value(self, v: Any) -> Any:
        """Normalise any observable value to JSON-able data."""
        if v is None or isinstance(v, bool):
            return v
        if isinstance(v, int):
            return v
        if isinstance(v, float):
            return "<float %r>" % v
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, (bytes, bytearray, memoryview)):
            b = bytes(v)
            try:
                txt = b.decode("ascii")
                printable = all(32 <= ord(c) < 127 for c in txt)
            except UnicodeDecodeError:
                printable = False
            if printable:
                return "<bytes %s>" % self.text(repr(b))
            return "<bytes %s>" % self.text(repr(b))
        if isinstance(v, decimal.Decimal):
            return "<Decimal %s>" % v
        if isinstance(v, datetime.datetime):
            return "<datetime %s>" % v.isoformat()
        if isinstance(v, dict):
            # a dict logged by the scenario itself: its order is the scenario's, not the broker's
            return {(self.text(k) if isinstance(k, str) else json.dumps(self.value(k))): self.value(x)
                    for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self.value(x) for x in v]
        if isinstance(v, pika.frame.Method):
            d = self.method(v.method)
            d["channel_number"] = v.channel_number
            return d
        if isinstance(v, pika.frame.Header):
            return {"header": self.properties(v.properties), "body_size": v.body_size}
        if isinstance(v, pika.spec.BasicProperties):
            return self.properties(v)
        if isinstance(v, pika.amqp_object.Method):
            return self.method(v)
        if isinstance(v, BaseException):
            return self.exception(v)
        if type(v).__name__ == "ReturnedMessage":
            return {"returned": self.method(v.method), "properties": self.properties(v.properties),
                    "body": self.value(v.body)}
        if hasattr(v, "method") and hasattr(v, "properties") and hasattr(v, "body"):
            return {"method": self.value(v.method), "properties": self.value(v.properties),
                    "body": self.value(v.body)}
        return "<%s %s>" % (type(v).__name__, self.text(repr(v)))

    def table(self, d: Dict[Any, Any], xdeath: bool = False) -> Dict[str, Any]:
        out: Dict[str, Any] = {}
        keys = list(d.keys())
        for k in keys:
            val = d[k]
            key = self.text(k) if isinstance(k, str) else self.value(k)
            if not isinstance(key, str):
                key = json.dumps(key)
            if k == "x-death" and isinstance(val, list):
                out[key] = [self.xdeath_entry(e) if isinstance(e, dict) else self.value(e) for e in val]
            else:
                out[key] = self.nested(val)
        # AMQP tables are ordered; the order is observable (dict iteration), so keep it where the
        # JSON's sorted keys would hide it.
        skeys = [self.text(k) if isinstance(k, str) else repr(k) for k in keys]
        if skeys != sorted(skeys):
            out["$order"] = skeys
        return out

    def nested(self, v: Any) -> Any:
        """A value inside a broker table: nested tables keep their order marker too."""
        if isinstance(v, dict):
            return self.table(v)
        if isinstance(v, (list, tuple)):
            return [self.nested(x) for x in v]
        return self.value(v)

    def xdeath_entry(self, e: Dict[Any, Any]) -> Dict[str, Any]:
        out = self.table(e)
        if "time" in e and isinstance(e["time"], datetime.datetime):
            out["time"] = "<datetime %s>" % XDEATH_TIME
        return out

    def properties(self, p: Any) -> Dict[str, Any]:
        if p is None:
            return None  # type: ignore[return-value]
        out = {}
        for name in _BASIC_PROPERTY_NAMES:
            val = getattr(p, name, None)
            if val is not None:
                out[name] = self.table(val) if name == "headers" and isinstance(val, dict) else self.value(val)
        return out

    def method(self, m: Any) -> Dict[str, Any]:
        out: Dict[str, Any] = {"method": getattr(m, "NAME", type(m).__name__)}
        for k, val in sorted(vars(m).items()):
            if k.startswith("_"):
                continue
            out[k] = self.value(val)
        return out

    def exception(self, e: BaseException) -> Dict[str, Any]:
        out: Dict[str, Any] = {"error": type(e).__name__}
        if isinstance(e, (pika.exceptions.ChannelClosed, pika.exceptions.ConnectionClosed)):
            out["reply_code"] = e.reply_code
            out["reply_text"] = self.text(str(e.reply_text))
        elif isinstance(e, (pika.exceptions.UnroutableError, pika.exceptions.NackError)):
            out["messages"] = [self.value(m) for m in e.messages]
        else:
            # pika appends reprs of its internal objects to some texts; those are not observable API
            out["text"] = _INTERNAL_REPR.sub("<...>", self.text(str(e)))
        return out


# ------------------------------------------------------------------------------------------------
# Trace


class Trace:
    """Ordered list of JSON-able records describing everything a scenario observed."""

    #: exceptions a ``call`` turns into a record (anything else is a harness/facade bug and escapes).
    CAUGHT = (pika.exceptions.AMQPError, TypeError, ValueError)

    def __init__(self) -> None:
        self.records: List[Dict[str, Any]] = []
        self.norm = Normaliser()

    def log(self, label: str, value: Any = None) -> Any:
        self.records.append({"label": label, "value": self.norm.value(value)})
        return value

    def call(self, label: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run ``fn(*args, **kw)``; log its (normalised) result, or the exception it raised."""
        try:
            result = fn(*args, **kw)
        except self.CAUGHT as e:
            self.records.append({"label": label, "raised": self.norm.exception(e)})
            return None
        self.records.append({"label": label, "result": self.norm.value(result)})
        return result

    def state(self, label: str, obj: Any) -> None:
        """Log ``is_open``/``is_closed`` of a channel or connection."""
        self.records.append({"label": label, "state": {"is_open": obj.is_open, "is_closed": obj.is_closed}})

    def to_json(self) -> List[Dict[str, Any]]:
        return json.loads(json.dumps(self.records, sort_keys=True))


# ------------------------------------------------------------------------------------------------
# Backends


class BackendUnavailable(Exception):
    pass


class RabbitBackend:
    """A real RabbitMQ reached with real pika."""

    name = "rabbitmq"
    pika = pika

    def __init__(self, url: Optional[str] = None) -> None:
        self.url = url or os.environ.get("MINIMQ_RABBITMQ_URL", DEFAULT_URL)

    def available(self) -> Optional[str]:
        """None if reachable, else the reason why not."""
        parsed = urllib.parse.urlparse(self.url)
        host = parsed.hostname or "127.0.0.1"
        port = parsed.port or 5672
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return None
        except OSError as e:
            return "RabbitMQ not reachable at %s:%s (%s); set MINIMQ_RABBITMQ_URL" % (host, port, e)

    def begin(self, scenario_name: str) -> None:
        pass

    def end(self) -> None:
        pass

    def connect(self) -> Any:
        return pika.BlockingConnection(pika.URLParameters(self.url))

    needs_cleanup = True


class MinimqBackend:
    """minimq through its pika facade; a fresh broker per scenario."""

    name = "minimq"
    pika = pika  # the facade returns and raises pika's own classes
    needs_cleanup = False

    def __init__(self) -> None:
        self._error: Optional[str] = None
        try:
            import minimq  # noqa: F401
            from minimq.compat.pika import BlockingConnection  # type: ignore[import-not-found]
        except Exception as e:  # ImportError, or a facade that fails to import
            self._error = "minimq.compat.pika is not importable yet (%s: %s)" % (type(e).__name__, e)
            self._minimq = None
            self._bc = None
        else:
            self._minimq = minimq
            self._bc = BlockingConnection
        self._broker = None

    def available(self) -> Optional[str]:
        return self._error

    def begin(self, scenario_name: str) -> None:
        if self._error:
            raise BackendUnavailable(self._error)
        self._clock = self._minimq.ManualClock()
        self._broker = self._minimq.Broker(clock=self._clock)

    def advance(self, seconds: float) -> None:
        """The scenario lets ``seconds`` pass (see ``Env.sleep``)."""
        self._clock.advance(seconds)

    def end(self) -> None:
        broker, self._broker = self._broker, None
        close = getattr(broker, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                pass

    def connect(self) -> Any:
        return self._bc(broker=self._broker)


class WireBackend:
    """Real pika over a loopback socket to minimq's AMQP endpoint (what the aio-pika facade talks to in
    memory); a fresh broker per scenario on the real clock, so timing works as on a real server."""

    name = "minimq-wire"
    pika = pika
    needs_cleanup = False
    _server: Any = None

    def __init__(self) -> None:
        self._error: Optional[str] = None
        try:
            import minimq
            from .wire_server import WireServer
        except Exception as e:  # pamqp missing, or the facade fails to import
            self._error = "minimq's AMQP endpoint is not importable (%s: %s)" % (type(e).__name__, e)
        else:
            self._minimq = minimq
            self._server_class = WireServer

    def available(self) -> Optional[str]:
        return self._error

    def begin(self, scenario_name: str) -> None:
        if self._error:
            raise BackendUnavailable(self._error)
        if WireBackend._server is None:
            WireBackend._server = self._server_class()
        WireBackend._server.broker = self._minimq.Broker()

    def end(self) -> None:
        broker, WireBackend._server.broker = WireBackend._server.broker, None
        if broker is not None:
            broker.close()

    def connect(self) -> Any:
        return pika.BlockingConnection(pika.ConnectionParameters("127.0.0.1", WireBackend._server.port))


# ------------------------------------------------------------------------------------------------
# Env and runner


class Env:
    """What a scenario gets besides its trace."""

    def __init__(self, backend: Any, scenario_name: str, trace: Trace) -> None:
        self.backend = backend
        self.pika = backend.pika
        self.name = scenario_name
        self._trace = trace
        self._connections: List[Any] = []
        self._names: List[str] = []
        self._cleanup_conn: Any = None
        self._token = uuid.uuid4().hex[:3]

    # -- connections ---------------------------------------------------------------------------

    def connect(self) -> Any:
        conn = self.backend.connect()
        self._connections.append(conn)
        return conn

    def sleep(self, seconds: float, conn: Any = None) -> None:
        """Let ``seconds`` pass, processing events on ``conn`` (default: the newest open connection).

        The real server sleeps in real time (``conn.sleep``).  minimq's broker runs on a manual clock:
        its time advances by ``seconds`` (expiring and dead-lettering what falls due) and the events
        are processed once, so TTL scenarios are deterministic and take no wall-clock time there.
        """
        if conn is None:
            for c in reversed(self._connections):
                if c.is_open:
                    conn = c
                    break
        advance = getattr(self.backend, "advance", None)
        if advance is not None:
            advance(seconds)
            if conn is not None and conn.is_open:
                conn.process_data_events(time_limit=0)
        elif conn is not None and conn.is_open:
            conn.sleep(seconds)
        else:
            time.sleep(seconds)

    def idle(self, seconds: float = 0.3) -> None:
        """Wait without doing I/O: what the real server sends meanwhile reaches the socket unread (pika
        reads it at its next call that does I/O).  minimq has nothing in flight: no wait."""
        if self.backend.name in ("rabbitmq", "minimq-wire"):
            time.sleep(seconds)

    def barrier(self, conn: Any = None, seconds: float = 0.15) -> None:
        """Let the real server finish asynchronous work before an observation.

        RabbitMQ answers a passive ``queue.declare`` (queue stat) with priority over requeues, acks and
        publishes still queued in the queue process, and it deletes auto-delete/exclusive queues and
        requeues the messages of error-closed channels asynchronously.  Scenarios call this before
        observing such effects; minimq performs them synchronously, so it changes nothing there."""
        self.sleep(seconds, conn)

    def wait_for(self, conn: Any, predicate: Callable[[], bool], timeout: float = 2.0) -> bool:
        """Process events on ``conn`` until ``predicate()`` holds or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() >= deadline:
                return False
            conn.process_data_events(time_limit=0.05)
        return True

    # -- names ---------------------------------------------------------------------------------

    def unique(self, name: str) -> str:
        """A name for ``conf.<scenario>.<name>``; deleted (queue and exchange) before first use and after
        the scenario on backends that persist state.  The real name carries a per-run token
        (``~3fa.<scenario>.<name>``, as long as ``conf.``) so that concurrent runs do not collide; the
        trace normalisation turns it back into ``conf.<scenario>.<name>``."""
        full = "~%s.%s.%s" % (self._token, self.name, name)
        if full not in self._names:
            self._names.append(full)
            if self.backend.needs_cleanup:
                self._delete_names([full])
        return full

    def _cleanup_channel(self) -> Any:
        if self._cleanup_conn is None or not self._cleanup_conn.is_open:
            self._cleanup_conn = self.backend.connect()
        return self._cleanup_conn.channel()

    def _delete_names(self, names: List[str], exchanges: bool = True) -> None:
        for n in names:
            for kind in ("queue", "exchange") if exchanges else ("queue",):
                if kind == "exchange" and n.startswith("amq."):
                    continue
                ch = self._cleanup_channel()
                try:
                    if kind == "queue":
                        ch.queue_delete(n)
                    else:
                        ch.exchange_delete(n)
                except pika.exceptions.ChannelClosed:
                    continue
                except pika.exceptions.ConnectionClosed:
                    self._cleanup_conn = None
                    continue
                if ch.is_open:
                    ch.close()

    def finish(self) -> None:
        for c in self._connections:
            try:
                if c.is_open:
                    c.close()
            except Exception:
                pass
        if self.backend.needs_cleanup:
            try:
                self._delete_names(list(self._names))
                self._delete_names(list(self._trace.norm.raw_server_names), exchanges=False)
            finally:
                if self._cleanup_conn is not None and self._cleanup_conn.is_open:
                    self._cleanup_conn.close()
                self._cleanup_conn = None


class RunResult:
    def __init__(self, name: str, records: List[Dict[str, Any]], error: Optional[str]) -> None:
        self.name = name
        self.records = records
        self.error = error  # traceback text if the scenario crashed


def run_scenario(backend: Any, name: str) -> RunResult:
    """Run one scenario on ``backend`` and return its normalised trace."""
    fn = SCENARIOS[name]
    trace = Trace()
    backend.begin(name)
    env = Env(backend, name, trace)
    error = None
    try:
        fn(env, trace)
    except Exception as e:
        error = traceback.format_exc()
        trace.records.append({"label": "<scenario crashed>", "crash": "%s: %s" % (type(e).__name__, e)})
    finally:
        try:
            env.finish()
        finally:
            backend.end()
    return RunResult(name, trace.to_json(), error)


# ------------------------------------------------------------------------------------------------
# Golden files and comparison


def golden_path(name: str) -> str:
    return os.path.join(GOLDEN_DIR, "%s.json" % name)


def dump_trace(name: str, records: List[Dict[str, Any]]) -> str:
    return json.dumps({"scenario": name, "trace": records}, sort_keys=True, indent=2,
                      ensure_ascii=False) + "\n"


def write_golden(name: str, records: List[Dict[str, Any]]) -> None:
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    with open(golden_path(name), "w", encoding="utf-8") as f:
        f.write(dump_trace(name, records))


def read_golden(name: str) -> Optional[List[Dict[str, Any]]]:
    try:
        with open(golden_path(name), encoding="utf-8") as f:
            return json.load(f)["trace"]
    except FileNotFoundError:
        return None


def diff_traces(expected: List[Dict[str, Any]], actual: List[Dict[str, Any]],
                expected_name: str = "expected", actual_name: str = "actual", context: int = 3) -> Optional[str]:
    """None when equal, else a readable description of the first difference."""
    if expected == actual:
        return None
    n = min(len(expected), len(actual))
    i = 0
    while i < n and expected[i] == actual[i]:
        i += 1

    def fmt(r: Any) -> str:
        return json.dumps(r, sort_keys=True, ensure_ascii=False)

    lines = ["traces differ at record #%d (%s has %d records, %s has %d)"
             % (i, expected_name, len(expected), actual_name, len(actual))]
    for j in range(max(0, i - context), i):
        lines.append("    #%d  (same) %s" % (j, fmt(expected[j])))
    lines.append("  - #%d %s: %s" % (i, expected_name, fmt(expected[i]) if i < len(expected) else "<end of trace>"))
    lines.append("  + #%d %s: %s" % (i, actual_name, fmt(actual[i]) if i < len(actual) else "<end of trace>"))
    if i < len(expected) and i < len(actual):
        lines.extend(_field_diff(expected[i], actual[i], "    "))
    rest = actual[i + 1:i + 1 + context]
    for k, r in enumerate(rest):
        lines.append("    #%d %s: %s" % (i + 1 + k, actual_name, fmt(r)))
    return "\n".join(lines)


def _field_diff(a: Any, b: Any, indent: str, path: str = "") -> List[str]:
    out: List[str] = []
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            p = "%s.%s" % (path, k) if path else k
            if k not in a:
                out.append("%sonly in actual:   %s = %s" % (indent, p, json.dumps(b[k], sort_keys=True)))
            elif k not in b:
                out.append("%sonly in expected: %s = %s" % (indent, p, json.dumps(a[k], sort_keys=True)))
            elif a[k] != b[k]:
                out.extend(_field_diff(a[k], b[k], indent, p))
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for k, (x, y) in enumerate(zip(a, b)):
            if x != y:
                out.extend(_field_diff(x, y, indent, "%s[%d]" % (path, k)))
    else:
        out.append("%s%s: expected %s, got %s" % (indent, path or "<value>", json.dumps(a, sort_keys=True),
                                                 json.dumps(b, sort_keys=True)))
    return out


# ------------------------------------------------------------------------------------------------
# Helpers for scenarios (public pika API only)


def channel(env: Env, conn: Any = None) -> Any:
    """A new channel on ``conn`` (default: a new connection)."""
    if conn is None:
        conn = env.connect()
    return conn.channel()


def get_all(trace: Trace, label: str, ch: Any, queue: str, auto_ack: bool = True, limit: int = 50) -> int:
    """``basic_get`` until the queue is empty, logging each result; returns the number fetched."""
    n = 0
    while n < limit:
        res = trace.call("%s[%d]" % (label, n), ch.basic_get, queue, auto_ack=auto_ack)
        if not res or res[0] is None:
            break
        n += 1
    return n


def bodies(trace: Trace, label: str, ch: Any, queue: str, limit: int = 50) -> List[Any]:
    """Drain ``queue`` with auto-ack gets and log only the list of bodies (compact)."""
    out = []
    for _ in range(limit):
        method, _props, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            break
        out.append(body)
    trace.log(label, out)
    return out


def count(trace: Trace, label: str, ch: Any, queue: str) -> Any:
    """Log the passive-declare ``message_count``/``consumer_count`` of ``queue``."""
    return trace.call(label, ch.queue_declare, queue, passive=True)


class Collector:
    """A consumer callback that records deliveries (optionally acking them)."""

    def __init__(self, name: str = "", ack: bool = False) -> None:
        self.name = name
        self.ack = ack
        self.items: List[Any] = []

    def __call__(self, ch: Any, method: Any, properties: Any, body: Any) -> None:
        self.items.append((method, properties, body))
        if self.ack:
            ch.basic_ack(method.delivery_tag)

    def __len__(self) -> int:
        return len(self.items)

    def log(self, trace: Trace, label: str) -> None:
        trace.log(label, [list(x) for x in self.items])

    def log_short(self, trace: Trace, label: str) -> None:
        """Log (delivery_tag, redelivered, body) triples only."""
        trace.log(label, [[m.delivery_tag, m.redelivered, b] for m, _p, b in self.items])


def wait_count(env: Env, conn: Any, collectors: Any, n: int, timeout: float = 2.0) -> bool:
    """Process events until the collectors together hold ``n`` deliveries (or ``timeout``)."""
    if isinstance(collectors, Collector):
        collectors = [collectors]
    return env.wait_for(conn, lambda: sum(len(c) for c in collectors) >= n, timeout)


def settle(env: Env, conn: Any, seconds: float = 0.1) -> None:
    """Give the server time to deliver anything else (used to prove that nothing more arrives)."""
    env.sleep(seconds, conn)
