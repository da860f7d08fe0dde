"""Record golden traces from a real RabbitMQ.

    python -m tests.conformance.record [--repeat 3] [-k SUBSTRING ...] [--url URL] [--check] [--show]

Runs every scenario (or those whose name contains one of the ``-k`` substrings) ``--repeat`` times
against the server at ``--url`` (default: ``$MINIMQ_RABBITMQ_URL`` or the local guest account), requires
identical traces across the repeats, and writes ``golden/<scenario>.json``.  ``--check`` compares with
the existing golden files instead of writing them.  Exit status 1 if any scenario crashed, was
non-deterministic or (with ``--check``) differed from its golden file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from . import harness


def main(argv: "list[str] | None" = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tests.conformance.record")
    ap.add_argument("--repeat", type=int, default=1, help="runs per scenario; all must be identical")
    ap.add_argument("-k", dest="select", action="append", default=[], help="only scenarios containing this")
    ap.add_argument("--url", default=None, help="AMQP URL of the RabbitMQ server")
    ap.add_argument("--check", action="store_true", help="compare with golden files, write nothing")
    ap.add_argument("--show", action="store_true", help="print each trace")
    ap.add_argument("--prune", action="store_true", help="delete golden files of unknown scenarios")
    args = ap.parse_args(argv)

    backend = harness.RabbitBackend(args.url)
    why = backend.available()
    if why:
        print("cannot record: %s" % why, file=sys.stderr)
        return 2
    scenarios = harness.load_scenarios()
    names = [n for n in scenarios if not args.select or any(s in n for s in args.select)]
    failures = []
    t0 = time.monotonic()
    for name in names:
        runs = []
        crashed = None
        for _ in range(max(1, args.repeat)):
            res = harness.run_scenario(backend, name)
            if res.error:
                crashed = res.error
                break
            runs.append(res.records)
        if crashed:
            failures.append(name)
            print("CRASH  %s\n%s" % (name, crashed))
            continue
        diffs = [harness.diff_traces(runs[0], r, "run 1", "run %d" % (i + 2)) for i, r in enumerate(runs[1:])]
        diffs = [d for d in diffs if d]
        if diffs:
            failures.append(name)
            print("NONDET %s\n%s" % (name, diffs[0]))
            continue
        if args.show:
            print(json.dumps(runs[0], indent=1, sort_keys=True))
        if args.check:
            golden = harness.read_golden(name)
            if golden is None:
                failures.append(name)
                print("NOGOLD %s" % name)
                continue
            d = harness.diff_traces(golden, runs[0], "golden", "live")
            if d:
                failures.append(name)
                print("STALE  %s\n%s" % (name, d))
                continue
            print("ok     %s" % name)
        else:
            harness.write_golden(name, runs[0])
            print("wrote  %s (%d records)" % (name, len(runs[0])))
    if args.prune and not args.select:
        for fn in sorted(os.listdir(harness.GOLDEN_DIR)):
            if fn.endswith(".json") and fn[:-5] not in scenarios:
                os.remove(os.path.join(harness.GOLDEN_DIR, fn))
                print("pruned %s" % fn)
    print("%d scenarios, %d failed, %.1fs" % (len(names), len(failures), time.monotonic() - t0))
    if failures:
        print("failed: %s" % " ".join(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
