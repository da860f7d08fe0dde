"""An order-processing application: topic routing, an RPC price lookup, retries and a dead-letter queue.

The pieces, all declared by the app when it starts:

* the topic exchange ``shop``; the queue ``orders`` is bound to it with ``order.*``, so ``order.new``
  and ``order.rush`` reach it and ``order.eu.new`` or ``invoice.paid`` do not;
* the ``on_order`` listener takes an :class:`Order` (converted from JSON) and asks the ``prices``
  listener for the price by RPC (``convert_send_and_receive``, direct reply-to);
* the ``prices`` listener answers a :class:`PriceRequest` with a :class:`PriceQuote`;
* an order for a product the catalogue does not know fails; ``Retry(attempts=2, delay)`` sends it
  through ``orders.retry.<d>ms`` twice (the catalogue may have caught up by then), then it is rejected
  and the queue's dead-letter arguments move it to ``orders.dlq``, where someone can look at it.

``build_shop(target)`` takes any ``App`` target: ``"memory://"``, a ``minimq.Broker`` (a
``ManualClock`` broker lets a test run the retry delays instantly) or an ``amqp://`` URL.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from minimq.app import App, Exchange, Headers, Inbound, Queue, Retry
from minimq.app.policies import RETRY_COUNT_HEADER

__all__ = ["Order", "PriceRequest", "PriceQuote", "Confirmation", "UnknownProduct", "ShopNames", "Shop",
           "build_shop", "CATALOGUE"]

#: unit prices in cents (whole cents: no rounding anywhere)
CATALOGUE = {"A-7": 1250, "B-2": 399, "C-1": 10}


@dataclass
class Order:
    id: int
    sku: str
    quantity: int


@dataclass
class PriceRequest:
    sku: str
    quantity: int


@dataclass
class PriceQuote:
    sku: str
    quantity: int
    unit_cents: int | None      # None: the catalogue does not know the product
    total_cents: int | None


@dataclass
class Confirmation:
    order: Order
    routing_key: str
    total_cents: int


class UnknownProduct(LookupError):
    """The price service has no price for the ordered product."""


@dataclass(frozen=True)
class ShopNames:
    """Every name the shop declares; ``suffix`` keeps runs apart on a shared RabbitMQ."""

    suffix: str = ""
    exchange: str = field(init=False)
    orders: str = field(init=False)
    dead_letters: str = field(init=False)
    prices: str = field(init=False)

    def __post_init__(self) -> None:
        for attribute, base in (("exchange", "shop"), ("orders", "orders"), ("dead_letters", "orders.dlq"),
                                ("prices", "prices")):
            object.__setattr__(self, attribute, base + self.suffix)


class Shop:
    """The running shop's app and what its listeners did (read it from any thread)."""

    def __init__(self, app: App, names: ShopNames, retry: Retry) -> None:
        self.app = app
        self.names = names
        self.retry = retry
        self._lock = threading.Lock()  # the listeners' worker threads append under it
        self.confirmed: list[Confirmation] = []
        #: order id -> the x-retry-count of each attempt at it (0 for the first delivery)
        self.attempts: dict[int, list[int]] = {}

    @property
    def retry_queue(self) -> str:
        return self.retry.retry_queue(self.names.orders)

    @property
    def queues(self) -> tuple[str, ...]:
        names = self.names
        return (names.orders, names.dead_letters, names.prices, self.retry_queue)

    @property
    def exchanges(self) -> tuple[str, ...]:
        return (self.names.exchange,)

    def place(self, order: Order, routing_key: str = "order.new", **options: Any) -> str:
        """Publish ``order`` to the shop exchange (a client's view); returns its correlation id."""
        return self.app.template.convert_and_send(self.names.exchange, routing_key, order, **options)

    def quote(self, sku: str, quantity: int = 1, timeout: float = 10.0) -> dict:
        """Ask the price service, as any client can."""
        return self.app.template.convert_send_and_receive("", self.names.prices, PriceRequest(sku, quantity),
                                                          timeout=timeout)

    def _attempted(self, order: Order, retry_count: int) -> None:
        with self._lock:
            self.attempts.setdefault(order.id, []).append(retry_count)

    def _confirm(self, confirmation: Confirmation) -> None:
        with self._lock:
            self.confirmed.append(confirmation)


def build_shop(target: Any = "memory://", *, suffix: str = "", retry_delay: float = 5.0,
               catalogue: dict[str, int] | None = None) -> Shop:
    """The shop's :class:`App` on ``target``, with its listeners registered (start it with ``with shop.app:``)."""
    prices = dict(CATALOGUE if catalogue is None else catalogue)
    names = ShopNames(suffix)
    app = App(target)
    retry = Retry(attempts=2, delay=retry_delay)
    shop = Shop(app, names, retry)

    app.declare(Queue(names.dead_letters))
    # rejected after the last retry: through the default exchange to the dead-letter queue
    orders_queue = Queue(names.orders, arguments={"x-dead-letter-exchange": "",
                                                  "x-dead-letter-routing-key": names.dead_letters})

    @app.listener(queue=names.prices, concurrency=4, prefetch=50)
    def price(request: PriceRequest) -> PriceQuote:
        unit = prices.get(request.sku)
        return PriceQuote(request.sku, request.quantity, unit, None if unit is None else unit * request.quantity)

    @app.listener(queue=orders_queue, exchange=Exchange(names.exchange, type="topic"), routing_key="order.*",
                  error_policy=retry)
    def on_order(order: Order, headers: Headers, message: Inbound) -> None:
        shop._attempted(order, headers.get(RETRY_COUNT_HEADER, 0))
        quote = shop.quote(order.sku, order.quantity)
        if quote["total_cents"] is None:
            raise UnknownProduct(f"order {order.id}: no price for product {order.sku!r}")
        shop._confirm(Confirmation(order, message.routing_key, quote["total_cents"]))

    return shop
