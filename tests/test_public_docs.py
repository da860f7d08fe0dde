"""Every public name of the core carries a docstring, and the package ships a ``py.typed`` marker.

Covered: each top-level module of the ``minimq`` package (``minimq/*.py``, not subpackages); in it,
every public class defined there (``__module__`` is the module) and every public function; in each
such class, every public function, method, classmethod, staticmethod and property found in the
class's own ``__dict__`` (inherited members are checked where they are defined).  Dunder names are
exempt.  A class whose only docstring is the one ``dataclasses`` or ``namedtuple`` generates from its
signature counts as undocumented.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import pathlib

import minimq

PACKAGE_DIR = pathlib.Path(minimq.__file__).parent


def _core_modules() -> list[str]:
    return sorted(f"minimq.{path.stem}" for path in PACKAGE_DIR.glob("*.py") if path.stem != "__init__")


def _is_public(name: str) -> bool:
    return not name.startswith("_")


def _has_doc(doc: object) -> bool:
    return isinstance(doc, str) and doc.strip() != ""


def _generated_class_doc(cls: type) -> bool:
    """True when ``cls.__doc__`` is the text ``dataclasses``/``namedtuple`` write when none was given."""
    doc = cls.__dict__.get("__doc__")
    if not isinstance(doc, str):
        return False
    if dataclasses.is_dataclass(cls):
        try:
            generated = cls.__name__ + str(inspect.signature(cls)).replace(" -> None", "")
        except (TypeError, ValueError):
            return False
        return doc == generated
    fields = cls.__dict__.get("_fields")
    if isinstance(fields, tuple) and issubclass(cls, tuple):
        return doc == f"{cls.__name__}({', '.join(fields)})"
    return False


def _member_doc(member: object) -> tuple[bool, object]:
    """(is a checked kind of member, its docstring)."""
    if isinstance(member, (staticmethod, classmethod)):
        return True, member.__func__.__doc__
    if isinstance(member, property):
        return True, member.__doc__
    if isinstance(member, functools.cached_property):
        return True, member.__doc__
    if inspect.isfunction(member):
        return True, member.__doc__
    return False, None


def _class_offenders(cls: type, qualname: str) -> list[str]:
    offenders = []
    if not _has_doc(cls.__dict__.get("__doc__")) or _generated_class_doc(cls):
        offenders.append(qualname)
    for name, member in vars(cls).items():
        if not _is_public(name):
            continue
        if inspect.isclass(member) and member.__qualname__ == f"{cls.__qualname__}.{name}":
            offenders.extend(_class_offenders(member, f"{qualname}.{name}"))
            continue
        checked, doc = _member_doc(member)
        if checked and not _has_doc(doc):
            offenders.append(f"{qualname}.{name}")
    return offenders


def _module_offenders(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    offenders = []
    for name, obj in vars(module).items():
        if not _is_public(name) or getattr(obj, "__module__", None) != module_name:
            continue
        if inspect.isclass(obj):
            offenders.extend(_class_offenders(obj, f"{module_name}.{name}"))
        elif inspect.isfunction(obj) and not _has_doc(obj.__doc__):
            offenders.append(f"{module_name}.{name}")
    return offenders


def test_core_modules_found():
    modules = _core_modules()
    assert "minimq.errors" in modules and "minimq.exchanges" in modules, modules


def test_every_public_name_of_the_core_has_a_docstring():
    offenders = [offender for module_name in _core_modules() for offender in _module_offenders(module_name)]
    assert offenders == [], "public names without a docstring:\n" + "\n".join(offenders)


def test_package_ships_py_typed_marker():
    assert (PACKAGE_DIR / "py.typed").exists(), f"missing {PACKAGE_DIR / 'py.typed'} (PEP 561 marker)"
