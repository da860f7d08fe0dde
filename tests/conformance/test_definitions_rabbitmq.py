"""Definitions against the real RabbitMQ 3.10: one definitions file imported into both brokers routes alike.

The file is imported into the server with ``rabbitmqctl import_definitions`` (in the dedicated vhost
``minimq-definitions-test``, deleted afterwards) and into a ``minimq.Broker``; the same publishes (pika
on the server, a native channel on minimq) must leave the same bodies in the same queues.  Then the
server's own export imports into minimq, and minimq's export imports into the server.

rabbitmqctl is called with the environment ``scripts/start-rabbitmq.sh`` gives the server it starts
(``$MINIMQ_RABBITMQ_DIR``, default /tmp/minimq-rabbitmq).  Without a reachable server or a working
rabbitmqctl these tests skip; with ``MINIMQ_REQUIRE_RABBITMQ=1`` (CI) they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse

import pytest

from minimq import Broker, Properties

from .harness import DEFAULT_URL

VHOST = "minimq-definitions-test"
USER = "minimq-definitions-test-user"
SERVER_DIR = os.environ.get("MINIMQ_RABBITMQ_DIR", "/tmp/minimq-rabbitmq")

DEFINITIONS = {
    "rabbit_version": "3.10.8",
    "vhosts": [{"name": VHOST}],
    "permissions": [{"user": "guest", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}],
    "policies": [
        {"vhost": VHOST, "name": "limited-dlx", "pattern": "^limited$", "apply-to": "queues",
         "definition": {"dead-letter-exchange": "dlx"}, "priority": 1},
        {"vhost": VHOST, "name": "expire-at-once", "pattern": "^expiring$", "apply-to": "queues",
         "definition": {"message-ttl": 0, "dead-letter-exchange": "dlx", "dead-letter-routing-key": "expired"},
         "priority": 0},
    ],
    "exchanges": [
        {"name": "d", "vhost": VHOST, "type": "direct", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {"alternate-exchange": "ae"}},
        {"name": "f", "vhost": VHOST, "type": "fanout", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {}},
        {"name": "t", "vhost": VHOST, "type": "topic", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {}},
        {"name": "h", "vhost": VHOST, "type": "headers", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {}},
        {"name": "ae", "vhost": VHOST, "type": "fanout", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {}},
        {"name": "dlx", "vhost": VHOST, "type": "direct", "durable": True, "auto_delete": False, "internal": False,
         "arguments": {}},
        {"name": "inner", "vhost": VHOST, "type": "topic", "durable": True, "auto_delete": False, "internal": True,
         "arguments": {}},
    ],
    "queues": [
        {"name": name, "vhost": VHOST, "durable": True, "auto_delete": False, "arguments": arguments}
        for name, arguments in (
            ("q.direct", {}), ("q.fanout1", {}), ("q.fanout2", {"x-max-priority": 5}), ("q.topic", {}),
            ("q.all", {}), ("q.any", {}), ("q.ae", {}), ("q.inner", {}),
            ("limited", {"x-max-length": 2}), ("expiring", {}), ("dead.expired", {}), ("dead.limited", {}))
    ],
    "bindings": [
        {"vhost": VHOST, "source": source, "destination": destination, "destination_type": kind,
         "routing_key": key, "arguments": arguments}
        for source, destination, kind, key, arguments in (
            ("d", "q.direct", "queue", "a", {}),
            ("d", "limited", "queue", "lim", {}),
            ("d", "expiring", "queue", "exp", {}),
            ("f", "q.fanout1", "queue", "", {}),
            ("f", "q.fanout2", "queue", "ignored", {}),
            ("t", "q.topic", "queue", "*.orange.*", {}),
            ("t", "inner", "exchange", "#.important", {}),
            ("inner", "q.inner", "queue", "#", {}),
            ("h", "q.all", "queue", "", {"x-match": "all", "color": "red", "size": "big"}),
            ("h", "q.any", "queue", "", {"x-match": "any", "color": "red", "size": "big"}),
            ("ae", "q.ae", "queue", "", {}),
            ("dlx", "dead.expired", "queue", "expired", {}),
            ("dlx", "dead.limited", "queue", "lim", {}),
        )
    ],
}

#: (exchange, routing key, headers)
PROBES = [
    ("d", "a", None), ("d", "b", None), ("d", "lim", None), ("d", "lim", None), ("d", "lim", None),
    ("d", "exp", None), ("f", "anything", None), ("t", "x.orange.y", None), ("t", "a.b.important", None),
    ("t", "x.orange.important", None), ("t", "nothing", None),
    ("h", "", {"color": "red", "size": "big"}), ("h", "", {"color": "red"}), ("h", "", {"size": "small"}),
    ("h", "", None),
]
QUEUES = [q["name"] for q in DEFINITIONS["queues"]]


def _server_problem() -> str | None:
    parsed = urllib.parse.urlparse(os.environ.get("MINIMQ_RABBITMQ_URL", DEFAULT_URL))
    try:
        with socket.create_connection((parsed.hostname or "127.0.0.1", parsed.port or 5672), timeout=1.0):
            pass
    except OSError as exc:
        return f"RabbitMQ not reachable ({exc})"
    if _rabbitmqctl_path() is None:
        return "rabbitmqctl not found (install rabbitmq-server; see scripts/start-rabbitmq.sh)"
    return None


def _rabbitmqctl_path() -> str | None:
    return shutil.which("rabbitmqctl") or next(
        (p for p in ("/usr/sbin/rabbitmqctl", "/usr/lib/rabbitmq/bin/rabbitmqctl") if os.path.exists(p)), None)


def _env() -> dict[str, str]:
    """The variables scripts/start-rabbitmq.sh exports for the server, so rabbitmqctl finds that node."""
    env = dict(os.environ)
    env.update({
        "RABBITMQ_NODENAME": "rabbit@localhost", "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": "5672", "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_CONFIG_FILE": f"{SERVER_DIR}/rabbitmq", "RABBITMQ_MNESIA_BASE": f"{SERVER_DIR}/mnesia",
        "RABBITMQ_LOG_BASE": f"{SERVER_DIR}/log", "RABBITMQ_PID_FILE": f"{SERVER_DIR}/rabbitmq.pid",
        "RABBITMQ_ENABLED_PLUGINS_FILE": f"{SERVER_DIR}/enabled_plugins",
        "RABBITMQ_FEATURE_FLAGS_FILE": f"{SERVER_DIR}/feature_flags",
    })
    return env


def rabbitmqctl(*args: str) -> str:
    """Run rabbitmqctl; its stdout, or an AssertionError with its output when it fails."""
    proc = subprocess.run([_rabbitmqctl_path(), "--quiet", *args], env=_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, f"rabbitmqctl {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def import_into_server(document: dict) -> None:
    # the node may read the file as the rabbitmq user: a world-readable file in a world-readable folder
    folder = tempfile.mkdtemp(prefix="minimq-definitions-")
    try:
        os.chmod(folder, 0o755)
        path = os.path.join(folder, "definitions.json")
        with open(path, "w", encoding="utf-8") as file:
            json.dump(document, file)
        os.chmod(path, 0o644)
        rabbitmqctl("import_definitions", path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    problem = _server_problem()
    if problem is None:
        try:
            rabbitmqctl("list_vhosts")
        except (AssertionError, OSError, subprocess.TimeoutExpired) as exc:
            problem = f"rabbitmqctl does not reach the node: {exc}"
    if problem is not None:
        if os.environ.get("MINIMQ_REQUIRE_RABBITMQ") == "1":
            pytest.fail("MINIMQ_REQUIRE_RABBITMQ=1 but " + problem)
        pytest.skip(problem)
    _clean_server()
    yield
    _clean_server()


def _clean_server() -> None:
    if VHOST in rabbitmqctl("list_vhosts").split():
        rabbitmqctl("delete_vhost", VHOST)
    if USER in rabbitmqctl("list_users").split():
        rabbitmqctl("delete_user", USER)


def _server_channel():
    import pika
    params = pika.URLParameters(os.environ.get("MINIMQ_RABBITMQ_URL", DEFAULT_URL))
    params.virtual_host = VHOST
    connection = pika.BlockingConnection(params)
    return connection, connection.channel()


def _server_counts(channel) -> dict[str, int]:
    return {name: channel.queue_declare(name, passive=True).method.message_count for name in QUEUES}


def _publish_probes_on_server() -> dict[str, list[bytes]]:
    import pika
    connection, channel = _server_channel()
    try:
        channel.confirm_delivery()
        for index, (exchange, key, headers) in enumerate(PROBES):
            channel.basic_publish(exchange, key, f"probe {index}".encode(), pika.BasicProperties(headers=headers))
        return _drain_server(connection, channel)
    finally:
        connection.close()


def _drain_server(connection, channel) -> dict[str, list[bytes]]:
    # dead-lettering happens inside the server after the confirm: wait until the counts stop moving
    counts, deadline = _server_counts(channel), time.monotonic() + 10
    while time.monotonic() < deadline:
        connection.sleep(0.3)
        now = _server_counts(channel)
        if now == counts:
            break
        counts = now
    bodies = {}
    for name in QUEUES:
        got = []
        while (message := channel.basic_get(name, auto_ack=True))[0] is not None:
            got.append(message[2])
        bodies[name] = got
    return bodies


def _publish_probes_on_minimq(broker: Broker) -> dict[str, list[bytes]]:
    channel = broker.channel(VHOST)
    for index, (exchange, key, headers) in enumerate(PROBES):
        channel.basic_publish(exchange, key, f"probe {index}".encode(), properties=Properties(headers=headers))
    bodies = {}
    for name in QUEUES:
        got = []
        while (delivery := channel.basic_get(name, auto_ack=True)) is not None:
            got.append(delivery.body)
        bodies[name] = got
    return bodies


def test_one_definitions_file_routes_alike_on_rabbitmq_and_minimq(server):
    import_into_server(DEFINITIONS)
    with Broker() as broker:
        report = broker.import_definitions(DEFINITIONS)
        assert report.unsupported == [] and report.kept_existing == [] and report.dangling == []
        on_minimq = _publish_probes_on_minimq(broker)
    on_server = _publish_probes_on_server()
    assert on_minimq == on_server
    # the probes did exercise every part of the file
    assert all(on_server[name] for name in QUEUES if name != "expiring"), on_server


def test_rabbitmqs_export_imports_into_minimq(server):
    import_into_server(DEFINITIONS)
    export = json.loads(rabbitmqctl("export_definitions", "-"))
    with Broker() as broker:
        report = broker.import_definitions(export)
        # the server leaves internal exchanges out of its export but keeps their bindings
        assert [str(s) for s in report.dangling] == [
            f"bindings[{i}]: exchange 'inner' does not exist in vhost '{VHOST}' and the document does not declare it"
            for i, b in enumerate(export["bindings"]) if "inner" in (b["source"], b["destination"])]
        assert len(report.dangling) == 2
        ours = broker.export_definitions(vhost=VHOST)
        assert sorted(q["name"] for q in ours["queues"]) == sorted(QUEUES)
        assert {p["name"] for p in ours["policies"]} == {"limited-dlx", "expire-at-once"}
        assert {x["name"] for x in ours["exchanges"]} == {"d", "f", "t", "h", "ae", "dlx"}
        broker.connect("/", "guest", "guest").close()   # the server's guest hash, verified by minimq


def test_minimqs_export_imports_into_rabbitmq(server):
    _clean_server()
    with Broker() as broker:
        broker.delete_user("guest")    # the export carries users: leave the server's guest alone
        broker.delete_vhost("/")
        broker.add_user(USER, "s3cret", tags=["monitoring"])
        broker.import_definitions(dict(DEFINITIONS, permissions=[]))   # guest is gone here
        export = broker.export_definitions()
    assert export["permissions"] == [{"user": USER, "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}]
    import_into_server(export)
    # the server now holds the same topology, and logs the user in with minimq's hash
    again = json.loads(rabbitmqctl("export_definitions", "-"))
    assert sorted(q["name"] for q in again["queues"] if q["vhost"] == VHOST) == sorted(QUEUES)
    assert sorted((b["source"], b["destination"], b["routing_key"]) for b in again["bindings"]
                  if b["vhost"] == VHOST) == sorted((b["source"], b["destination"], b["routing_key"])
                                                    for b in DEFINITIONS["bindings"])
    assert [x for x in rabbitmqctl("list_exchanges", "-p", VHOST, "name", "internal").splitlines()
            if x.startswith("inner")] == ["inner\ttrue"]
    rabbitmqctl("authenticate_user", USER, "s3cret")
    _clean_server()
