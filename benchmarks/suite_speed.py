"""The suite-speed benchmark: the same 200 pika tests (benchmarks/suite_speed/) run by pytest against
minimq (the ``minimq_pika`` fixture) and against the RabbitMQ on 127.0.0.1:5672.

Each run is a subprocess ``python -m pytest -q`` timed from start to exit, so pytest's own start-up
and collection are included, as a developer waits for them.  ``--repeat`` runs of each (default 3),
alternating; min and median reported; the ratio is RabbitMQ's median over minimq's.  RabbitMQ's own
start time is read from its log (the time from "Starting RabbitMQ" to "Server startup complete" of
each boot), since stopping the shared server to time a start would break the people using it.

    PYTHONPATH=. python3 benchmarks/suite_speed.py [--repeat N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SUITE = ROOT / "benchmarks" / "suite_speed"
RABBITMQ_LOG_DIR = Path(os.environ.get("MINIMQ_RABBITMQ_DIR", "/tmp/minimq-rabbitmq")) / "log"
TARGET_RATIO = 10.0


def run_suite(target: str) -> tuple[float, str]:
    """Wall seconds of one ``python -m pytest -q`` of the suite against ``target``, and its summary line."""
    env = dict(os.environ, MINIMQ_SUITE_TARGET=target)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
                           str(SUITE)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    elapsed = time.perf_counter() - start
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-300:]
    if done.returncode != 0:
        raise SystemExit(f"the suite failed against {target}:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return elapsed, summary


def rabbitmq_start_times() -> list[float]:
    """Seconds from "Starting RabbitMQ" to "Server startup complete" for each boot in the server's log."""
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)([+-]\d\d:\d\d)")
    times, started = [], None
    for log in sorted(RABBITMQ_LOG_DIR.glob("rabbit@*.log")):
        if "upgrade" in log.name:
            continue
        for line in log.read_text(errors="replace").splitlines():
            match = stamp.match(line)
            if not match:
                continue
            when = dt.datetime.fromisoformat(match.group(1) + match.group(2))
            if "Starting RabbitMQ" in line:
                started = when
            elif "Server startup complete" in line and started is not None:
                times.append((when - started).total_seconds())
                started = None
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs: dict[str, list[float]] = {"minimq": [], "rabbitmq": []}
    summaries = {}
    run_suite("minimq")  # warm-up: bytecode caches, page cache
    for _ in range(args.repeat):
        for target in runs:
            elapsed, summaries[target] = run_suite(target)
            runs[target].append(elapsed)
    for target, times in runs.items():
        print(f"{target:<9} pytest wall  min {min(times):7.2f} s  median {statistics.median(times):7.2f} s"
              f"   ({summaries[target]})")
    ratio = statistics.median(runs["rabbitmq"]) / statistics.median(runs["minimq"])
    verdict = "PASS" if ratio >= TARGET_RATIO else "FAIL"
    print(f"ratio (RabbitMQ / minimq, medians, RabbitMQ start excluded): {ratio:.1f}x   "
          f"target >= {TARGET_RATIO:.0f}x: {verdict}")
    starts = rabbitmq_start_times()
    if starts:
        print(f"RabbitMQ start (its log, {len(starts)} boot(s)): " + ", ".join(f"{s:.2f} s" for s in starts))
        with_start = (statistics.median(runs["rabbitmq"]) + statistics.median(starts)) / statistics.median(runs["minimq"])
        print(f"ratio including RabbitMQ's median start: {with_start:.1f}x")
    else:
        print(f"RabbitMQ start: not measured (no boot found in {RABBITMQ_LOG_DIR})")


if __name__ == "__main__":
    main()
