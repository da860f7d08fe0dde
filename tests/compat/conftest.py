"""Fixtures for the pika facade tests.

* ``MINIMQ_TEST_HIDE_PIKA=1`` makes ``import pika`` fail for this test run, so the facade falls back to
  its own ``spec``/``exceptions``/``frame`` classes (``test_without_pika`` runs this directory that way
  in a subprocess, with the ``minimq`` entry-point plugin disabled so nothing imports the facade before
  pika is hidden).
* The ``minimq`` plugin normally comes from the package's ``pytest11`` entry point.  If it is not
  registered (no ``pip install -e .``, or disabled with ``-p no:minimq``), register the same module
  here (under another name: a name blocked with ``-p no:`` cannot be registered).  Checking first avoids
  registering it twice (pluggy refuses one plugin under two names).
"""

from __future__ import annotations

import os
import sys

if os.environ.get("MINIMQ_TEST_HIDE_PIKA"):
    for _name in [m for m in sys.modules if m == "pika" or m.startswith("pika.")]:
        del sys.modules[_name]
    sys.modules["pika"] = None  # type: ignore[assignment]  # "import pika" raises ImportError


def pytest_configure(config):
    from minimq.compat.pika import pytest_plugin

    manager = config.pluginmanager
    if not manager.is_registered(pytest_plugin):
        manager.register(pytest_plugin, "minimq-from-conftest")
