"""Prints the conformance score at the end of a pytest run that collected this directory."""

from __future__ import annotations

import pytest


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # outermost wrapper: the line comes after pytest's own summary sections
    yield
    from . import harness
    from .test_conformance import RESULTS

    names = list(harness.load_scenarios())
    identical = 0
    for name in names:
        r = RESULTS.get(name)
        if not r or r.get("minimq") is not True:
            continue
        if r.get("rabbitmq") is False:  # a live server ran and disagreed with the golden trace
            continue
        identical += 1
    terminalreporter.write_line("conformance: %d/%d scenarios identical to RabbitMQ" % (identical, len(names)))
