"""Conformance: every scenario's trace on minimq (and, when reachable, on a live RabbitMQ) must equal the
golden trace recorded from RabbitMQ 3.10.8 (``golden/<scenario>.json``).

Two tests per scenario:

* ``test_minimq[<scenario>]`` runs the scenario on a fresh ``minimq.Broker()`` through
  ``minimq.compat.pika`` and compares with the golden trace (skipped while the facade is not importable);
* ``test_rabbitmq[<scenario>]`` runs it on the server at ``$MINIMQ_RABBITMQ_URL`` (default: local guest
  account) and compares with the golden trace, which detects stale goldens (skipped when no server is
  reachable).

Refresh the goldens with ``python -m tests.conformance.record --repeat 3``.
"""

from __future__ import annotations

import os

import pytest

from . import harness

SCENARIOS = list(harness.load_scenarios())

#: scenario -> {"minimq": bool | None, "rabbitmq": bool | None}; None = skipped.  Read by conftest.py.
RESULTS: dict = {}

_backends: dict = {}


def _backend(kind):
    if kind not in _backends:
        _backends[kind] = {"minimq": harness.MinimqBackend, "rabbitmq": harness.RabbitBackend,
                           "minimq-wire": harness.WireBackend}[kind]()
        _backends[kind + ".why"] = _backends[kind].available()
    return _backends[kind], _backends[kind + ".why"]


def _run_and_compare(kind, name):
    RESULTS.setdefault(name, {"minimq": None, "rabbitmq": None, "minimq-wire": None})
    golden = harness.read_golden(name)
    if golden is None:
        RESULTS[name][kind] = False
        pytest.fail("no golden trace for %r: run python -m tests.conformance.record -k %s" % (name, name))
    backend, why = _backend(kind)
    if why:
        if kind == "rabbitmq" and os.environ.get("MINIMQ_REQUIRE_RABBITMQ") == "1":
            # CI starts a server and must run both halves: a missing server is a failure there
            pytest.fail("MINIMQ_REQUIRE_RABBITMQ=1 but " + why)
        pytest.skip(why)
    # A real server is asynchronous and a loaded machine can stretch its timing past a scenario's
    # barriers; a mismatch there is retried (twice) before it counts.  minimq runs once: it is
    # deterministic, so any difference is real.
    attempts = 1 if kind == "minimq" else 3
    for _ in range(attempts):
        res = harness.run_scenario(backend, name)
        diff = harness.diff_traces(golden, res.records, "golden (RabbitMQ 3.10.8)", kind)
        if diff is None:
            break
    RESULTS[name][kind] = diff is None
    if diff is not None:
        msg = "scenario %r: %s trace differs from golden\n%s" % (name, kind, diff)
        if res.error:
            msg += "\n\nscenario raised:\n" + res.error
        pytest.fail(msg, pytrace=False)


@pytest.mark.parametrize("name", SCENARIOS)
def test_minimq(name):
    _run_and_compare("minimq", name)


@pytest.mark.parametrize("name", SCENARIOS)
def test_minimq_wire(name):
    """The scenario through real pika over a loopback socket to minimq's AMQP endpoint, the server
    side of the aio-pika facade: its frames and errors must match RabbitMQ's."""
    _run_and_compare("minimq-wire", name)


@pytest.mark.parametrize("name", SCENARIOS)
def test_rabbitmq(name):
    _run_and_compare("rabbitmq", name)


def test_every_golden_has_a_scenario():
    import os

    names = {fn[:-5] for fn in os.listdir(harness.GOLDEN_DIR) if fn.endswith(".json")}
    assert sorted(names - set(SCENARIOS)) == [], "stale golden files (use record.py --prune)"
