"""SIGKILL at random moments: every confirmed message survives, nothing is duplicated or corrupt.

Each round starts ``crash_child.py`` on the same file.  The child first reports what it recovered
(``R`` lines), then publishes with confirms from two threads and consumes with acks, rejects to a
dead-letter queue and requeues from a third, logging each operation after it returned; the test
kills it with SIGKILL after a random delay, checks the file with SQLite's integrity check, and checks
the *next* child's recovery report against a model built from the logs:

* every confirmed message that was not acked is recovered (in ``q`` or, if rejected, in ``dlq``);
* nothing is recovered that was never published, or whose ack or reject was made durable (``S``);
* no message is recovered twice (not twice in a queue, not in both queues);
* a message is in ``dlq`` only if it was delivered from ``q`` (rejected), and never in ``q`` once
  its reject was durable;
* a recovered message that had been delivered is flagged redelivered;
* ``q`` keeps publish order (per publisher thread); bodies and headers are intact.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

CHILD = os.path.join(os.path.dirname(__file__), "crash_child.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROUNDS = 14


def child_env() -> dict[str, str]:
    """The environment of a child: this checkout's package first on its path, so a plain checkout works
    (nothing installed) and an installed copy elsewhere is not the one tested."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


class Model:
    """Where each message may be at the next recovery, from the logs of the rounds so far.

    The store commits batches in the order the broker made its changes, so what a crash leaves is
    the effect of a *prefix* of the operations, at least up to the last durable point: for each
    message, any state it went through from its last durable operation on (its confirm for a publish,
    a later ``S`` for an ack or a reject) is allowed, and no other.  States: ``"q"``, ``"dlq"`` or
    ``None`` (not there).
    """

    def __init__(self) -> None:
        self.allowed: dict[int, set] = {}      # message -> states allowed at the next recovery
        self.delivered: dict[int, set[str]] = {}
        self.checked_rounds = 0

    def check_recovery(self, lines: list[str], label: str) -> bool:
        """Check the ``R`` lines of a child's log; returns False if the child died before READY."""
        found: dict[str, list[tuple[int, bool]]] = {"q": [], "dlq": []}
        complete = False
        for line in lines:
            kind, *rest = line.split()
            if kind == "R":
                queue, mid, redelivered, ok = rest[0], int(rest[1]), rest[2] == "1", rest[3] == "1"
                assert ok, f"{label}: message {mid} in {queue} does not match what was published"
                found[queue].append((mid, redelivered))
            elif kind == "READY":
                complete = True
                break
        if not complete:
            return False
        in_q = [mid for mid, _ in found["q"]]
        in_dlq = [mid for mid, _ in found["dlq"]]
        assert len(set(in_q)) == len(in_q), f"{label}: duplicates in q"
        assert len(set(in_dlq)) == len(in_dlq), f"{label}: duplicates in dlq"
        location = {**{m: "dlq" for m in in_dlq}, **{m: "q" for m in in_q}}
        assert len(location) == len(in_q) + len(in_dlq), f"{label}: messages in both q and dlq"
        for mid, where in location.items():
            allowed = self.allowed.get(mid, {None})
            assert where in allowed, f"{label}: message {mid} recovered in {where}, allowed {allowed}"
        lost = [m for m, allowed in self.allowed.items() if None not in allowed and m not in location]
        assert not lost, f"{label}: messages lost: {sorted(lost)[:20]} (allowed: {self.allowed[lost[0]]})"
        for queue, entries in found.items():
            for mid, redelivered in entries:
                if queue in self.delivered.get(mid, ()):
                    assert redelivered, f"{label}: {mid} was delivered from {queue} but is not flagged redelivered"
        for parity in (0, 1):
            ids = [m for m in in_q if m % 2 == parity]
            assert ids == sorted(ids), f"{label}: q out of publish order"
        self.allowed = {m: {where} for m, where in location.items()}
        self.checked_rounds += 1
        return True

    def apply_round(self, lines: list[str]) -> None:
        """Fold in what a killed child did after READY."""
        history: dict[int, list] = {}   # message -> [state after each operation]; [0] is the start
        durable: dict[int, int] = {}    # message -> index in its history known durable
        undecided: list[tuple[int, int]] = []  # consumer operations not yet followed by S
        published_at: dict[int, int] = {}  # message -> index of its publish in its history
        started = False
        for line in lines:
            if not line.endswith("\n"):
                break  # a partial last line: the kill interrupted the write
            kind, *rest = line.split()
            if kind == "READY":
                started = True
                continue
            if not started:
                continue
            if kind == "S":
                for mid, index in undecided:
                    durable[mid] = max(durable.get(mid, 0), index)
                undecided.clear()
                continue
            mid = int(rest[-1])
            if kind == "D":
                self.delivered.setdefault(mid, set()).add(rest[0])
                continue
            if mid not in history:
                [start] = self.allowed.get(mid, {None})
                history[mid] = [start]
                durable[mid] = 0
            states = history[mid]
            if kind == "P":
                states.append("q")
                published_at[mid] = len(states) - 1
            elif kind == "C":  # the confirm came back: the publish is durable
                durable[mid] = max(durable[mid], published_at[mid])
            elif kind in ("A", "J"):
                states.append(None if kind == "A" else "dlq")
                undecided.append((mid, len(states) - 1))
        for mid, states in history.items():
            self.allowed[mid] = set(states[durable[mid]:])


def read_log(path: str) -> list[str]:
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return f.readlines()


def wait_ready(path: str, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(line == "READY\n" for line in read_log(path)):
            return
        if proc.poll() is not None:
            raise AssertionError(f"crash child exited with {proc.returncode}: {proc.stderr.read().decode()}")
        time.sleep(0.01)
    raise AssertionError("crash child did not recover in time")


def integrity(db: str) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("SELECT value FROM meta WHERE key = 'clean'").fetchone() == (0,)  # it was killed
    finally:
        conn.close()


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_sigkill_at_random_moments_loses_no_confirmed_message(tmp_path):
    db = str(tmp_path / "crash.db")
    rng = random.Random(20240611)
    model = Model()
    total_confirmed = 0
    for round_ in range(ROUNDS):
        log_path = str(tmp_path / f"round{round_}.log")
        sync = "FULL" if round_ % 3 == 2 else "NORMAL"
        proc = subprocess.Popen([sys.executable, CHILD, db, log_path, str((round_ + 1) * 10_000_000),
                                 str(rng.randrange(1 << 30)), sync], stderr=subprocess.PIPE, env=child_env())
        try:
            wait_ready(log_path, proc)
            time.sleep(rng.uniform(0.05, 0.6))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stderr.close()
        assert proc.returncode == -signal.SIGKILL, "the child died on its own"
        lines = read_log(log_path)
        assert model.check_recovery(lines, f"round {round_} recovery")
        total_confirmed += sum(1 for line in lines if line.startswith("C "))
        model.apply_round(lines)
        integrity(db)
    # a last child only reports what it recovered, then closes cleanly
    log_path = str(tmp_path / "final.log")
    subprocess.run([sys.executable, CHILD, db, log_path, "0", "0", "NORMAL", "--dump-only"], check=True, timeout=60,
                   env=child_env())
    assert model.check_recovery(read_log(log_path), "final recovery")
    assert model.checked_rounds == ROUNDS + 1
    assert total_confirmed > 200, f"too little traffic to mean anything ({total_confirmed} confirms)"
