"""Run the six RabbitMQ tutorial patterns on minimq, one after the other.

    pip install -e . && python examples/demo.py

Each step is a standalone script in this folder (``python examples/5_topics.py`` runs one alone).
"""

from __future__ import annotations

import runpy
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
STEPS = [
    ("1_hello_world.py", "Hello World: the default exchange routes by queue name"),
    ("2_work_queues.py", "Work queues: manual acks, and prefetch for fair dispatch"),
    ("3_publish_subscribe.py", "Publish/subscribe: a fanout exchange copies to every bound queue"),
    ("4_routing.py", "Routing: a direct exchange matches the routing key exactly"),
    ("5_topics.py", "Topics: '*' is one word, '#' is zero or more"),
    ("6_rpc.py", "RPC: reply_to + correlation_id, callback queue or direct reply-to"),
]


def main() -> int:
    for number, (script, title) in enumerate(STEPS, 1):
        print("=" * 78)
        print(f"{number}/{len(STEPS)}  {title}    (examples/{script})")
        print("=" * 78)
        start = time.monotonic()
        runpy.run_path(str(HERE / script), run_name="__main__")
        print(f"--- {script} finished in {time.monotonic() - start:.2f} s\n")
        sys.stdout.flush()
    print(f"demo: all {len(STEPS)} examples ran")
    return 0


if __name__ == "__main__":
    sys.exit(main())
