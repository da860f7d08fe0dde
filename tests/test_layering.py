"""The layout is the architecture: these tests hold the code to it.

* Core modules (``minimq/*.py``) form one order, bottom to top (``CORE_ORDER``, described module by
  module in docs/architecture.md).  Each imports only modules below it, at run time, under
  ``TYPE_CHECKING`` or inside a function alike: a back edge fails.
* The core imports no plugin (``persistence``, ``compat``, ``aio``): plugins depend on the core through its
  documented interfaces, never the reverse.
* No core module reads another module's private (underscore) attributes.  The one convention allowed
  across modules is ``_check()``, the invariant check every stateful class offers to tests.
* No module of the package, plugins included, is part of an import circle.
* Front ends (``FRONT_ENDS``: the command line) sit on top of everything: they import the package's
  public face (``from minimq import ...``, names in ``minimq.__all__``), a plugin's public face
  (``from minimq.persistence import SQLiteStore``, names in that package's ``__all__``) and each other,
  nothing else of the package, and read no private attribute.
* The broker lock is given back only by ``Kernel.release``, which wakes what the lock holder owes a
  wake-up; nothing else calls ``lock.release()`` or holds the lock with ``with ...lock:``.
"""

from __future__ import annotations

import ast
import importlib
import pathlib
import sys

import minimq

CORE = pathlib.Path(minimq.__file__).parent

#: bottom to top; a module may import only modules listed before it
CORE_ORDER = [
    # leaves
    "errors", "fieldtypes", "names", "message", "clock", "events",
    # matchers, exchanges and routing
    "topic", "headers", "exchanges", "routing",
    # rules that need no broker state
    "arguments", "deadletter", "policies", "poison",
    # ports and the kernel
    "store", "kernel",
    # queues and the vhost
    "consumer", "queue", "vhost", "recovery", "redrive",
    # pictures and snapshots of the topology (drawing reads snapshots through protocols)
    "drawing", "topology",
    # teaching: reads vhosts, exchanges, bindings, queues and policies; changes nothing
    "explain",
    # channel pieces
    "connection", "inbox", "publish_checks", "reply_to", "channel",
    # the public face: stats, users, definitions import/export, the broker
    "stats", "journal", "users", "definitions", "snapshot", "broker",
    # the test toolkit: assertions on a broker's journal, through the broker's public methods
    "testing",
]
#: subpackages that sit on the core (they must exist: the list names no plans)
PLUGINS = ("persistence", "compat", "aio", "app")
#: top-level modules that sit on the public face of the package, outside the core order
FRONT_ENDS = ("cli", "__main__")
#: private names a core module may use on objects of another module (see the module docstring)
ALLOWED_PRIVATE = {"_check"}


def _core_modules() -> dict[str, str]:
    return {path.stem: path.read_text() for path in sorted(CORE.glob("*.py"))
            if path.stem != "__init__" and path.stem not in FRONT_ENDS}


def _imported_modules(source: str) -> list[tuple[str, int]]:
    """Every ``minimq`` module (first component under the package) that ``source`` imports, with its line."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                if node.module:
                    found.append((node.module.split(".")[0], node.lineno))
                else:  # from . import x
                    found.extend((alias.name.split(".")[0], node.lineno) for alias in node.names)
            elif node.level == 0 and node.module and node.module.split(".")[0] == "minimq":
                parts = node.module.split(".")
                if len(parts) > 1:
                    found.append((parts[1], node.lineno))
                else:
                    found.extend((alias.name, node.lineno) for alias in node.names)
            elif node.level > 1:
                found.append(("<outside the package>", node.lineno))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "minimq" and len(parts) > 1:
                    found.append((parts[1], node.lineno))
    return found


def back_edges(sources: dict[str, str], order: list[str]) -> list[str]:
    """Each import of a module that is not below the importer in ``order``, as readable lines."""
    rank = {name: i for i, name in enumerate(order)}
    problems = []
    for module, source in sources.items():
        for target, line in _imported_modules(source):
            if target in PLUGINS:
                problems.append(f"{module}.py:{line} imports the plugin {target!r}")
            elif target not in rank:
                problems.append(f"{module}.py:{line} imports {target!r}, which is not in CORE_ORDER")
            elif rank[target] >= rank[module]:
                problems.append(f"{module}.py:{line} imports {target!r}, which is not below it (back edge)")
    return problems


def private_reads(source: str) -> list[str]:
    """``obj._name`` reads where ``obj`` is not ``self``/``cls`` and this module defines no ``_name``."""
    tree = ast.parse(source)
    own: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            own.add(node.name)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and \
                node.value.id in ("self", "cls") and isinstance(node.ctx, ast.Store):
            own.add(node.attr)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    own.add(target.id)
                    if target.id == "__slots__" and isinstance(node.value, (ast.Tuple, ast.List)):
                        own.update(e.value for e in node.value.elts if isinstance(e, ast.Constant))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            own.add(node.target.id)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Attribute):
            continue
        name = node.attr
        if not name.startswith("_") or name.startswith("__") or name in ALLOWED_PRIVATE or name in own:
            continue
        value = node.value
        if isinstance(value, ast.Name) and value.id in ("self", "cls"):
            continue
        found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_every_core_module_has_a_place_in_the_order():
    modules = set(_core_modules())
    assert modules == set(CORE_ORDER), (
        f"not placed: {sorted(modules - set(CORE_ORDER))}; listed but missing: {sorted(set(CORE_ORDER) - modules)}")


def test_core_modules_import_only_modules_below_them():
    assert back_edges(_core_modules(), CORE_ORDER) == []


def test_a_back_edge_is_caught_wherever_the_import_hides():
    """The checker itself: a deliberate back edge in each form an import can take is reported."""
    sources = _core_modules()
    for import_line in ("from .channel import Channel",
                        "from . import channel",
                        "import minimq.channel",
                        "from minimq.channel import Channel",
                        "if TYPE_CHECKING:\n    from .channel import Channel",
                        "def f():\n    from .broker import Broker"):
        tampered = dict(sources, queue=sources["queue"] + "\n" + import_line + "\n")
        problems = back_edges(tampered, CORE_ORDER)
        assert len(problems) == 1 and problems[0].startswith("queue.py:"), (import_line, problems)
        assert "back edge" in problems[0]
    tampered = dict(sources, vhost=sources["vhost"] + "\nfrom .persistence import sqlite\n")
    assert back_edges(tampered, CORE_ORDER) == [
        f"vhost.py:{len(sources['vhost'].splitlines()) + 2} imports the plugin 'persistence'"]


def test_the_plugin_list_names_packages_that_exist():
    for plugin in PLUGINS:
        assert (CORE / plugin / "__init__.py").is_file(), plugin


def test_core_modules_read_no_private_attribute_of_another_module():
    offenders = {module: reads for module, source in _core_modules().items() if (reads := private_reads(source))}
    assert offenders == {}


def test_the_asyncio_plugin_reads_no_private_attribute_of_the_core():
    """``minimq.aio`` uses the core's public API only: its underscore reads are of names it defines."""
    package = "\n".join(path.read_text() for path in sorted((CORE / "aio").glob("*.py")))
    assert private_reads(package) == []


def test_the_private_read_check_can_fail():
    assert private_reads("def f(broker):\n    return broker._lock\n") == ["line 2: broker._lock"]
    assert private_reads("class A:\n    __slots__ = ('_x',)\n\ndef f(a):\n    return a._x\n") == []
    assert private_reads("def f(queue):\n    queue._check()\n") == []


def _is_broker_lock(expr: ast.expr) -> bool:
    """``x.lock`` (the kernel's lock, under any name) or ``x._lock`` of another object; an object's
    own private lock (``self._lock``, e.g. ManualClock's) is not the broker lock."""
    if not isinstance(expr, ast.Attribute):
        return False
    own = isinstance(expr.value, ast.Name) and expr.value.id == "self"
    return expr.attr == "lock" or (expr.attr == "_lock" and not own)


def front_end_imports(source: str) -> list[str]:
    """Each import of the package in a front end that is not a public name of ``minimq`` or another front end."""
    problems = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "minimq"):
            module = node.module or ""
            if node.level == 0:
                module = module.partition(".")[2]
            if node.level > 1 or "." in module:
                problems.append(f"line {node.lineno}: from {'.' * node.level}{node.module or ''}")
            elif module in PLUGINS:  # a plugin's own public face: names in its package's __all__
                face = importlib.import_module(f"minimq.{module}")
                problems.extend(f"line {node.lineno}: {alias.name} is not in minimq.{module}.__all__"
                                for alias in node.names if alias.name not in face.__all__)
            elif module in FRONT_ENDS:
                continue
            elif module:
                problems.append(f"line {node.lineno}: imports minimq.{module}, not the public face")
            else:
                problems.extend(f"line {node.lineno}: {alias.name} is not in minimq.__all__"
                                for alias in node.names if alias.name not in minimq.__all__)
        elif isinstance(node, ast.Import):
            problems.extend(f"line {node.lineno}: import {alias.name}" for alias in node.names
                            if alias.name.startswith("minimq."))
    return problems


def test_front_ends_use_only_the_public_face():
    for name in FRONT_ENDS:
        source = (CORE / f"{name}.py").read_text()
        assert front_end_imports(source) == [], name
        assert private_reads(source) == [], name


def test_the_front_end_check_can_fail():
    assert front_end_imports("from minimq.broker import Broker\n") == [
        "line 1: imports minimq.broker, not the public face"]
    assert front_end_imports("from minimq import _kernel\n") == ["line 1: _kernel is not in minimq.__all__"]
    assert front_end_imports("from minimq import Broker\nfrom .cli import main\n") == []
    assert front_end_imports("from minimq.persistence import SQLiteStore\n") == []
    assert front_end_imports("from minimq.persistence import sqlite\n") == [
        "line 1: sqlite is not in minimq.persistence.__all__"]
    assert front_end_imports("from minimq.persistence.sqlite import SQLiteStore\n") == [
        "line 1: from minimq.persistence.sqlite"]


def test_only_the_kernel_releases_the_lock():
    offenders = []
    for module, source in _core_modules().items():
        if module == "kernel":
            continue
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr == "release" and _is_broker_lock(node.func.value):
                offenders.append(f"{module}.py:{node.lineno}: {ast.unparse(node)}")
            if isinstance(node, ast.With):
                offenders.extend(f"{module}.py:{node.lineno}: with {ast.unparse(item.context_expr)}"
                                 for item in node.items if _is_broker_lock(item.context_expr))
    assert offenders == []


def test_core_has_no_third_party_imports_beyond_runtime_dependencies():
    allowed_third_party = {"sortedcontainers", "msgpack"}
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for module, source in _core_modules().items():
        for node in ast.walk(ast.parse(source)):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in stdlib and top not in allowed_third_party and top not in ("__future__", "minimq"):
                    offenders.append(f"{module}.py imports {name}")
    assert offenders == []


def _package_graph() -> dict[str, set[str]]:
    """Every module of the minimq package (plugins included) -> the minimq modules it imports."""
    graph: dict[str, set[str]] = {}
    root = CORE.parent
    for path in sorted(CORE.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        name = ".".join(parts)
        package = parts if path.name == "__init__.py" else parts[:-1]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package[:len(package) - node.level + 1]
                    stem = base + (node.module.split(".") if node.module else [])
                    if node.module:
                        targets.add(".".join(stem))
                    else:
                        targets.update(".".join(stem + [alias.name]) for alias in node.names)
                elif node.module and node.module.startswith("minimq"):
                    targets.add(node.module)
            elif isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name.startswith("minimq"))
        graph[name] = targets
    modules = set(graph)
    # "from . import x" may name a module or an attribute; keep edges to modules, and package
    # __init__ edges are the package's face, not a dependency of its modules on each other
    return {name: {t for t in targets if t in modules and t != name} for name, targets in graph.items()}


def test_no_module_of_the_package_is_in_an_import_circle():
    """Plugins too: inside minimq/aio, minimq/compat and minimq/persistence the imports run one way."""
    graph = _package_graph()
    packages = {name for name in graph if (CORE.parent / name.replace(".", "/") / "__init__.py").exists()}
    edges = {name: {t for t in targets if t not in packages} for name, targets in graph.items()}
    circles = []
    state: dict[str, int] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = 1
        for target in sorted(edges[name]):
            if state.get(target) == 1:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in state:
                visit(target, path + [target])
        state[name] = 2

    for name in sorted(edges):
        if name not in state:
            visit(name, [name])
    assert circles == []
