"""The core never imports a plugin: persistence, compat facades, asyncio and teaching tools depend on
the core through its ports, never the reverse."""

import ast
import pathlib

import minimq

CORE = pathlib.Path(minimq.__file__).parent
PLUGINS = ("persistence", "compat", "aio", "app", "teach")


def _imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            found.append(("." * node.level) + module)
    return found


def test_core_modules_import_no_plugin():
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        for name in _imports(path):
            if name.startswith("."):
                package = name.lstrip(".").split(".")[0]
            elif name.startswith("minimq."):
                package = name.split(".")[1]
            else:
                continue
            if package in PLUGINS:
                offenders.append(f"{path.name} imports {name}")
    assert offenders == [], offenders


def test_core_has_no_third_party_imports_beyond_runtime_dependencies():
    allowed_third_party = {"sortedcontainers", "msgpack"}
    import sys
    stdlib = set(sys.stdlib_module_names)
    offenders = []
    for path in sorted(CORE.glob("*.py")):
        for name in _imports(path):
            if name.startswith(".") or name.startswith("minimq"):
                continue
            top = name.split(".")[0]
            if top not in stdlib and top not in allowed_third_party and top != "__future__":
                offenders.append(f"{path.name} imports {name}")
    assert offenders == [], offenders
