"""The order-processing demo: ``python -m examples.app.orders [URL]`` (``memory://`` by default).

Three orders: two the shop confirms (routed by ``order.*``), and one for an unknown product, which
is retried twice, 0.2 s apart, then dead-lettered to ``orders.dlq``.  A client asks the price service
for a quote along the way.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass

from .app import Order, build_shop


@dataclass
class DemoOutcome:
    confirmed: dict[int, int]          # order id -> total in cents
    attempts: dict[int, list[int]]     # order id -> retry count of each attempt
    dead_lettered: dict                # the order found in the dead-letter queue
    quote: dict


def main(target: str = "memory://", suffix: str = "") -> DemoOutcome:
    logging.getLogger("minimq.app").setLevel(logging.CRITICAL)  # the failures below are on purpose
    shop = build_shop(target, suffix=suffix, retry_delay=0.2)
    with shop.app:
        quote = shop.quote("A-7", 2)
        print(f" [client] quote for 2 x A-7: {quote['total_cents']} cents")
        for order, key in ((Order(1, "A-7", 2), "order.new"), (Order(2, "B-2", 1), "order.rush"),
                           (Order(3, "Z-9", 1), "order.new")):
            shop.place(order, key)
            print(f" [client] placed {order} as {key!r}")
        dead = None
        deadline = time.monotonic() + 30  # liveness only: the ladder takes about 0.4 s
        while dead is None and time.monotonic() < deadline:
            found = shop.app.template.receive_and_convert(shop.names.dead_letters, timeout=1.0)
            if isinstance(found, dict) and found.get("id") == 3:  # skip leftovers of an earlier run
                dead = found
        while len(shop.confirmed) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
    shop.app.close()
    for confirmation in shop.confirmed:
        print(f" [shop] confirmed order {confirmation.order.id} ({confirmation.routing_key}): "
              f"{confirmation.total_cents} cents")
    print(f" [shop] attempts at order 3 (x-retry-count): {shop.attempts.get(3)}")
    print(f" [shop] dead-lettered: {dead}")
    return DemoOutcome({c.order.id: c.total_cents for c in shop.confirmed}, shop.attempts, dead, quote)


if __name__ == "__main__":
    print(main(*sys.argv[1:2]))
