"""Every example runs as a script and prints what the exchange model says it should.

Each example is run in a subprocess (as a reader would run it), and its output is checked for the
messages each queue must and must not have received.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def run_example(name: str, timeout: float = 120) -> str:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.stdout


def lines_with(output: str, needle: str) -> list[str]:
    return [line for line in output.splitlines() if needle in line]


def test_hello_world() -> None:
    out = run_example("1_hello_world.py")
    assert " [x] Sent 'Hello World!' (routed)" in out
    assert lines_with(out, "Received") == [
        " [x] Received 'Hello World!' (routing key 'hello')",
        " [x] Received 'Hello again!' (routing key 'hello')",
    ]
    # the message waited in the queue until the consumer subscribed, then the queue was empty
    assert lines_with(out, "queue 'hello' holds") == [" [.] queue 'hello' holds 1 message(s)",
                                                      " [.] queue 'hello' holds 0 message(s)"]
    assert "Sent to 'no-such-queue': unroutable" in out


def _shares(out: str, label: str) -> dict[str, list[int]]:
    """Task numbers per worker in the run whose header contains ``label``."""
    block = out.split(label, 1)[1].split(" [*]", 1)[0]
    found = re.findall(r"(\w+)\s+worker \(x\d+ slower\) did\s+(\d+) tasks: \[([\d, ]*)\]", block)
    shares = {name: [int(t) for t in tasks.split(", ") if t] for name, count, tasks in found}
    for name, count, _ in found:
        assert len(shares[name]) == int(count)
    return shares


def test_work_queues() -> None:
    out = run_example("2_work_queues.py")
    for label in ("round-robin)", "(fair dispatch)"):
        shares = _shares(out, label)
        assert set(shares) == {"fast", "medium", "slow"}
        done = sorted(t for tasks in shares.values() for t in tasks)
        assert done == list(range(1, 25)), f"each task done exactly once ({label})"
    # without a prefetch limit the queue deals round-robin: 8 tasks each, every third task
    round_robin = _shares(out, "round-robin)")
    assert sorted(len(t) for t in round_robin.values()) == [8, 8, 8]
    assert sorted(tuple(sorted(t)) for t in round_robin.values()) == sorted(
        tuple(range(start, 25, 3)) for start in (1, 2, 3))
    # with prefetch_count=1 each worker gets work in proportion to its speed
    fair = _shares(out, "(fair dispatch)")
    assert len(fair["fast"]) > len(fair["slow"]), fair
    assert len(fair["fast"]) > 8 and len(fair["slow"]) < 8, fair
    assert "with prefetch_count=1 the fast worker did the most tasks" in out


def test_publish_subscribe() -> None:
    out = run_example("3_publish_subscribe.py")
    assert "before anyone listens': unroutable" in out
    lines = ("info: service started", "warning: disk 91% full", "error: request failed")
    for name in ("screen", "disk"):
        assert [line.split(" got ", 1)[1] for line in lines_with(out, f"[{name}] got")] == \
            [repr(x) for x in lines] + (["'info: only the screen sees this'"] if name == "screen" else [])
    assert "its queue is gone (True)" in out
    assert "before anyone listens" not in "".join(lines_with(out, "got"))


def test_routing() -> None:
    out = run_example("4_routing.py")
    assert lines_with(out, "[disk]") == ["     [disk] error: 'something at error level'"]
    assert [line.split("]", 1)[1].split(":", 1)[0].strip() for line in lines_with(out, "[screen]")] == \
        ["info", "warning", "error"]
    assert "no queue is bound with key 'debug'" in out
    assert "summary: disk got ['error']; screen got ['info', 'warning', 'error']" in out


def test_topics() -> None:
    out = run_example("5_topics.py")
    table = {}
    for line in out.splitlines():
        parts = line.split(None, 1)
        if len(parts) == 2 and parts[0] in ("quick.orange.rabbit", "lazy.orange.elephant", "quick.orange.fox",
                                            "lazy.brown.fox", "lazy.pink.rabbit", "quick.brown.fox", "orange",
                                            "quick.orange.new.rabbit", "lazy.orange.new.rabbit", "lazy"):
            table[parts[0]] = parts[1].strip()
    assert table == {
        "quick.orange.rabbit": "Q1 (x1), Q2 (x1)",
        "lazy.orange.elephant": "Q1 (x1), Q2 (x1)",
        "quick.orange.fox": "Q1 (x1)",
        "lazy.brown.fox": "Q2 (x1)",
        "lazy.pink.rabbit": "Q2 (x1)",  # two matching bindings, one copy
        "quick.brown.fox": "nobody -> returned to the publisher",
        "orange": "nobody -> returned to the publisher",
        "quick.orange.new.rabbit": "nobody -> returned to the publisher",
        "lazy.orange.new.rabbit": "Q2 (x1)",
        "lazy": "Q2 (x1)",
    }
    assert "returned (unroutable, mandatory): ['quick.brown.fox', 'orange', 'quick.orange.new.rabbit']" in out


def test_rpc() -> None:
    out = run_example("6_rpc.py")
    results = re.findall(r"\[\.\] Got fib\((\d+)\) = (\d+)", out)
    assert results == [("10", "55"), ("30", "832040"), ("20", "6765"), ("50", "12586269025")]
    classic, direct = out.split(" [*] direct reply-to", 1)
    # classic: replies go to the client's server-named exclusive queue, and a stray reply is ignored
    queue = re.search(r"callback queue (amq\.gen-\S+)", classic).group(1)
    assert all(f"reply_to={queue[:28]}" in line for line in lines_with(classic, "[server]"))
    assert len(lines_with(classic, "[server]")) == 2
    assert "ignoring a reply for another request ('stale')" in classic
    # direct reply-to: the server sees the broker's channel-specific amq.rabbitmq.reply-to.<token> name
    served = lines_with(direct, "[server]")
    assert len(served) == 2 and all("reply_to=amq.rabbitmq.reply-to." in line for line in served)


def test_demo_runs_all_six() -> None:
    out = run_example("demo.py", timeout=300)
    for n, script in enumerate(["1_hello_world.py", "2_work_queues.py", "3_publish_subscribe.py", "4_routing.py",
                                "5_topics.py", "6_rpc.py"], 1):
        assert f"{n}/6" in out and f"--- {script} finished" in out
    assert out.index("1_hello_world.py finished") < out.index("6_rpc.py finished")
    assert "[.] Got fib(50) = 12586269025" in out
    assert out.rstrip().endswith("demo: all 6 examples ran")


# -- the same six patterns on the asyncio API (examples/aio/) --------------------------------------

def test_aio_hello_world() -> None:
    out = run_example("aio/1_hello_world.py")
    assert lines_with(out, "[x]") == [" [x] Sent 'Hello World!' (routed)", " [x] Received 'Hello World!'"]
    assert " [.] queue 'hello' holds 0 message(s)" in out


def test_aio_work_queues() -> None:
    out = run_example("aio/2_work_queues.py")
    found = re.findall(r"(\w+) worker did\s+(\d+) tasks: \[([\d, ]*)\]", out)
    assert sorted(name for name, _, _ in found) == ["fast", "medium", "slow"]
    done = sorted(int(t) for _, _, tasks in found for t in tasks.split(", ") if t)
    assert done == list(range(1, 25)), "each task done exactly once"
    assert " [.] all 24 tasks done once: True" in out


def test_aio_publish_subscribe() -> None:
    out = run_example("aio/3_publish_subscribe.py")
    lines = ["'info: service started'", "'warning: disk 91% full'", "'error: request failed'"]
    for name in ("screen", "disk"):
        assert [line.split(" got ", 1)[1] for line in lines_with(out, f"[{name}] got")] == lines
    assert " [.] both subscribers got every line: True" in out


def test_aio_routing() -> None:
    out = run_example("aio/4_routing.py")
    assert " [x] Sent debug: unroutable" in out
    assert " [disk] got ['error']" in out
    assert " [screen] got ['info', 'warning', 'error']" in out


def test_aio_topics() -> None:
    out = run_example("aio/5_topics.py")
    assert " [Q1] ['quick.orange.rabbit', 'lazy.orange.elephant', 'quick.orange.fox']" in out
    assert " [Q2] ['quick.orange.rabbit', 'lazy.orange.elephant', 'lazy.brown.fox', 'lazy.orange.new.rabbit']" in out
    assert " [.] returned (unroutable, mandatory): ['quick.brown.fox']" in out


def test_aio_rpc() -> None:
    out = run_example("aio/6_rpc.py")
    results = re.findall(r"\[\.\] Got fib\((\d+)\) = (\d+)", out)
    assert results == [("10", "55"), ("30", "832040"), ("20", "6765"), ("50", "12586269025")]
    assert " [.] 1000 concurrent calls answered correctly: True" in out


@pytest.mark.parametrize("name", sorted(p.relative_to(EXAMPLES).as_posix() for p in EXAMPLES.rglob("*.py")))
def test_every_example_is_covered(name: str) -> None:
    covered = {"1_hello_world.py", "2_work_queues.py", "3_publish_subscribe.py", "4_routing.py", "5_topics.py",
               "6_rpc.py", "demo.py"}
    covered |= {f"aio/{n}" for n in covered - {"demo.py"}}
    # the application-API examples are run on both transports by tests/app/test_examples_app.py
    covered |= {f"app/{n}" for n in covered - {"demo.py"}}
    covered |= {f"app/orders/{n}" for n in ("__init__.py", "__main__.py", "app.py")}
    assert name in covered, f"examples/{name} has no test in tests/test_examples.py"
