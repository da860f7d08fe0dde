"""benchmarks/run.py --quick runs to the end and every judged line carries a ratio.

No timing assertions (figures vary by machine): the test checks the shape of the report.  A judged line
is one with a target (its ``result`` column says PASS or FAIL); each must show a finite positive ratio,
and the judged lines must be exactly the ones run.py defines for the quick sizes, as many as the
summary line counts.
"""

from __future__ import annotations

import importlib.util
import math
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "benchmarks" / "run.py"


def _run(*args: str, timeout: int) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return subprocess.run([sys.executable, str(RUN), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _quick_sizes() -> dict:
    """run.py's QUICK settings, read from the script itself (it only runs when executed as a script)."""
    spec = importlib.util.spec_from_file_location("_minimq_bench_run", RUN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.QUICK)


def expected_judged(cfg: dict) -> list[str]:
    """The judged lines run.py produces (case order), named as it names them for the settings ``cfg``."""
    small, big = cfg["topic_sizes"][0], cfg["topic_sizes"][-1]
    names = ["direct publish -> 1 queue", "publish + basic_get + ack", "publish with one no-op event subscriber",
             "publish with the journal on",
             "fanout publish -> 10 queues", "fanout publish + drain 10 (get+ack)",
             f"topic hot keys: {big:,} vs {small} bindings", f"topic distinct keys: {big:,} vs {small} bindings",
             f"topic {small} bindings vs naive regex loop", f"topic queue_bind at {big:,} bindings (per binding)",
             "work queue, 4 consumers, prefetch 1, acks",
             "rpc round trip, exclusive reply queue", "rpc round trip, direct reply-to"]
    if cfg["threads"]:
        names.append("rpc round trip, 2 threads (wall clock)")
    names += ["asyncio publish -> consume -> ack", "asyncio rpc round trip, exclusive reply queue"]
    names.append(f"memory per ready message (B, {cfg['n_memory']:,} msgs)")
    return names


def parse_table(out: str) -> list[dict[str, str]]:
    """The table's rows as {column: cell}; column spans come from the dashed line under the header."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("case "))
    header, rule = lines[start], lines[start + 1]
    assert set(rule) <= {"-", " "}, rule
    spans = [(m.start(), m.end()) for m in re.finditer(r"-+", rule)]
    names = [header[a:b].strip() for a, b in spans]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip():
            break
        line = line.ljust(spans[-1][1])
        # the first column is left-aligned, the others right-aligned, each within its span
        rows.append({name: line[a:b].strip() for name, (a, b) in zip(names, spans)})
    return rows


def test_quick_benchmarks_complete_and_every_judged_line_has_a_ratio() -> None:
    proc = _run("--quick", timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    rows = parse_table(out)
    assert rows, out
    judged = [r for r in rows if r["result"] in ("PASS", "FAIL")]
    for r in rows:
        assert r["result"] in ("PASS", "FAIL", ""), f"unexpected result cell {r!r}"
        assert bool(r["target"]) == (r in judged), f"target without a result, or the reverse: {r!r}"
    for r in judged:
        ratio = float(r["ratio"]) if re.fullmatch(r"\d+(\.\d+)?", r["ratio"]) else None
        assert ratio is not None and math.isfinite(ratio) and ratio > 0, f"no ratio on a judged line: {r!r}\n{out}"
    assert [r["case"] for r in judged] == expected_judged(_quick_sizes()), out
    summary = re.search(r"^benchmarks: (\d+)/(\d+) targets met$", out, re.MULTILINE)
    assert summary, out
    met, total = int(summary.group(1)), int(summary.group(2))
    assert total == len(judged)
    assert met == sum(1 for r in judged if r["result"] == "PASS")
    # the unjudged topic rows are there too (figures only)
    for name in ("topic publish, 10 bindings, hot keys", "topic publish, 10 bindings, distinct keys"):
        assert any(r["case"] == name for r in rows), f"missing row {name!r}\n{out}"
    assert re.search(r"asyncio rpc: .* Round trips per second \(from the mins\): minimq [\d,]+, baseline [\d,]+$",
                     out, re.MULTILINE), out
    assert re.search(r"work queue shares \(last run\): minimq \[\d+, \d+, \d+, \d+\] \(fair\)", out), out


def test_case_filter_runs_one_group() -> None:
    proc = _run("--quick", "--case", "memory", timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = parse_table(proc.stdout)
    assert [r["case"] for r in rows] == [expected_judged(_quick_sizes())[-1]], proc.stdout
    assert re.search(r"^benchmarks: [01]/1 targets met$", proc.stdout, re.MULTILINE), proc.stdout
