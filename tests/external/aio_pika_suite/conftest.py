"""Fixtures for aio-pika's own tests (vendored unchanged in ``tests/``), run against minimq or RabbitMQ.

This replaces aio-pika's ``tests/conftest.py``, which starts RabbitMQ in docker.  It provides the same
fixtures under the same names and with the same bodies where they do not touch docker (``add_cleanup``,
``create_task``, ``connection_fabric``, ``create_connection``, ``create_channel``, ``connection``,
``channel``, ``declare_queue``, ``declare_exchange``, ``amqp_url``); only ``amqp_direct_url`` differs.

Target (``MINIMQ_AIO_PIKA_SUITE_TARGET``):

* unset or ``minimq``: each test gets a fresh :class:`minimq.Broker`, served to every aio-pika
  connection through :func:`minimq.compat.aio_pika.install` and uninstalled (and its invariants
  checked) when the test ends;
* ``rabbitmq``: the real server at ``MINIMQ_AIO_PIKA_SUITE_URL`` (default
  ``amqp://guest:guest@127.0.0.1:5672//``).

aiomisc's pytest plugin.  aio-pika's tests run under it: its ``event_loop`` fixture, its running of
``async def`` tests and fixtures on that loop.  Installed, the plugin is global (an autouse loop, an
autouse aiomisc entrypoint and a patched ``asyncio.get_event_loop`` for every test in the run), so the
project's ``pyproject.toml`` disables it (``-p no:aiomisc``) and this file imports the plugin's hooks and
fixtures instead: hooks and fixtures defined in a conftest apply only to the tests below it.  The
three fixtures that read the plugin's command-line options (not registered while it is disabled) get
the plugin's defaults here.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial

import pytest
from aiomisc import awaitable
from aiomisc.pytest import (  # noqa: F401 - imported to register them for this directory only
    _entrypoint_kwargs,
    _thread_pool_executor,
    aiomisc_func_wrap,
    default_context,
    entrypoint,
    event_loop,
    localhost,
    pytest_fixture_setup,
    pytest_pycollect_makeitem,
    pytest_pyfunc_call,
    services,
)
from yarl import URL

import aio_pika

TARGET = os.environ.get("MINIMQ_AIO_PIKA_SUITE_TARGET", "minimq").lower()
if TARGET not in ("minimq", "rabbitmq"):
    raise pytest.UsageError(f"MINIMQ_AIO_PIKA_SUITE_TARGET must be 'minimq' or 'rabbitmq', not {TARGET!r}")

RABBITMQ_URL = os.environ.get("MINIMQ_AIO_PIKA_SUITE_URL", "amqp://guest:guest@127.0.0.1:5672//")
#: any URL on a served port reaches the in-process broker; this one reads like the default server
MINIMQ_URL = "amqp://guest:guest@localhost:5672//"


def pytest_configure(config: pytest.Config) -> None:
    # the markers aiomisc's plugin declares, so aio-pika's tests may use them with --strict-markers
    config.addinivalue_line("markers", "forbid_get_event_loop: fail when asyncio.get_event_loop will be called")
    config.addinivalue_line("markers", "catch_loop_exceptions: fails when unhandled loop exception will be raised")


def pytest_report_header(config: pytest.Config) -> str:
    if TARGET == "rabbitmq":
        return f"aio-pika suite target: RabbitMQ at {URL(RABBITMQ_URL).with_password('***')}"
    return "aio-pika suite target: minimq (a fresh in-process broker per test)"


# -- aiomisc's option-reading fixtures, with the plugin's defaults -----------------------------------
@pytest.fixture(scope="session")
def thread_pool_size() -> int:
    return 4


@pytest.fixture(scope="session")
def loop_debug() -> bool:
    return False


@pytest.fixture(scope="session")
def aiomisc_test_timeout() -> None:
    return None


# -- the target ----------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def aio_pika_target():
    """Serve this test's aio-pika connections from a fresh minimq broker (or leave them to RabbitMQ).

    Autouse and function-scoped, so it is set up before, and torn down after, every connection and
    channel fixture of the test.
    """
    if TARGET == "rabbitmq":
        yield None
        return
    from minimq import Broker
    from minimq.compat.aio_pika import current, install, uninstall

    broker = Broker()
    whole_run = current()
    if whole_run is not None:
        # MINIMQ_AIO_PIKA=1 installed the patch for the whole run: lend it this test's broker and leave
        # it installed, since uninstalling here would end the whole-run mode for every later test
        previous = whole_run.broker
        whole_run.use(broker)
        try:
            yield whole_run
        finally:
            whole_run.use(previous)
            broker._check()
            broker.close()
        return
    patch = install(broker)
    try:
        yield patch
    finally:
        uninstall()
        broker._check()
        broker.close()


@pytest.fixture(scope="session")
def amqp_direct_url() -> URL:
    return URL(RABBITMQ_URL if TARGET == "rabbitmq" else MINIMQ_URL)


# -- aio-pika's fixtures (tests/conftest.py at 0a9f24c, unchanged but for amqp_direct_url) -------------
@pytest.fixture
async def add_cleanup(event_loop):
    entities = []

    def payload(func, *args, **kwargs):
        func = partial(awaitable(func), *args, **kwargs)
        entities.append(func)

    try:
        yield payload
    finally:
        for func in entities[::-1]:
            await func()

        entities.clear()


@pytest.fixture
async def create_task(event_loop):
    tasks = []

    def payload(coroutine):
        task = event_loop.create_task(coroutine)
        tasks.append(task)
        return task

    try:
        yield payload
    finally:
        cancelled = []
        for task in tasks:
            if task.done():
                continue
            task.cancel()
            cancelled.append(task)

        results = await asyncio.gather(*cancelled, return_exceptions=True)

        for result in results:
            if not isinstance(result, asyncio.CancelledError):
                raise result


@pytest.fixture
def amqp_url(request, amqp_direct_url) -> URL:
    query = dict(amqp_direct_url.query)
    query["name"] = request.node.nodeid
    return amqp_direct_url.with_query(**query)


@pytest.fixture(
    scope="module",
    params=[aio_pika.connect, aio_pika.connect_robust],
    ids=["connect", "connect_robust"],
)
def connection_fabric(request):
    return request.param


@pytest.fixture
def create_connection(connection_fabric, event_loop, amqp_url):
    return partial(connection_fabric, amqp_url, loop=event_loop)


@pytest.fixture
def create_channel(connection: aio_pika.Connection, add_cleanup):
    conn = connection

    async def fabric(cleanup=True, connection=None, *args, **kwargs):
        if connection is None:
            connection = conn

        channel = await connection.channel(*args, **kwargs)
        if cleanup:
            add_cleanup(channel.close)

        return channel

    return fabric


@pytest.fixture
async def connection(create_connection) -> aio_pika.Connection:  # type: ignore
    async with await create_connection() as conn:
        yield conn


@pytest.fixture
async def channel(connection: aio_pika.Connection) -> aio_pika.Channel:  # type: ignore
    async with connection.channel() as ch:
        yield ch


@pytest.fixture
def declare_queue(connection, channel, add_cleanup):
    ch = channel

    async def fabric(*args, cleanup=True, channel=None, **kwargs) -> aio_pika.Queue:
        if channel is None:
            channel = ch

        queue = await channel.declare_queue(*args, **kwargs)

        if cleanup and not kwargs.get("auto_delete"):
            add_cleanup(queue.delete)

        return queue

    return fabric


@pytest.fixture
def declare_exchange(connection, channel, add_cleanup):
    ch = channel

    async def fabric(*args, channel=None, cleanup=True, **kwargs) -> aio_pika.Exchange:
        if channel is None:
            channel = ch

        exchange = await channel.declare_exchange(*args, **kwargs)

        if cleanup and not kwargs.get("auto_delete"):
            add_cleanup(exchange.delete)

        return exchange

    return fabric


# -- warnings ------------------------------------------------------------------------------------------
_THIS_DIRECTORY = os.path.dirname(os.path.abspath(__file__))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """aio-pika runs its suite with pytest's default of reporting unraisable exceptions as warnings;
    the project's configuration makes them errors.  Under this directory they are warnings again: the
    ones seen here are aiormq's own coroutines (``Connection.__writer``, ``__reader``) collected after
    their loop closed, on RabbitMQ and on minimq alike, and they are listed in the run's summary."""
    for item in items:
        if str(item.path).startswith(_THIS_DIRECTORY):
            item.add_marker(pytest.mark.filterwarnings("default::pytest.PytestUnraisableExceptionWarning"))
