"""Definitions import/export (docs/definitions.md): RabbitMQ 3.10's definitions JSON in and out."""

from __future__ import annotations

import copy
import json
import logging
import re

import pytest

from minimq import Broker, DefinitionsError, LoginRefused, PasswordHash

VHOST = "defs"
#: the password_hash RabbitMQ 3.10.8 exported for guest/guest (salt 0xbb24e896)
RABBIT_GUEST_HASH = "uyTolpa6Z7ckdKraUv8xcmZLOQw1/yYQ4g3lGYgENaGw6Q9/"


def rich_document() -> dict:
    """Every kind of entry minimq models, in the shape ``rabbitmqctl export_definitions`` writes."""
    return {
        "rabbit_version": "3.10.8", "rabbitmq_version": "3.10.8",
        "users": [{"name": "app", "password_hash": RABBIT_GUEST_HASH,
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["monitoring"], "limits": {}}],
        "vhosts": [{"name": VHOST, "limits": [], "metadata": {"description": "", "tags": []}}],
        "permissions": [{"user": "app", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"}],
        "topic_permissions": [],
        "parameters": [{"vhost": VHOST, "component": "operator_policy", "name": "cap",
                        "value": {"pattern": "^", "apply-to": "queues", "definition": {"max-length": 1000},
                                  "priority": 0}}],
        "global_parameters": [],
        "policies": [
            {"vhost": VHOST, "name": "dlx", "pattern": "^work$", "apply-to": "queues",
             "definition": {"dead-letter-exchange": "dead"}, "priority": 1},
            {"vhost": VHOST, "name": "ttl", "pattern": "^short", "apply-to": "queues",
             "definition": {"message-ttl": 500, "dead-letter-exchange": "dead"}, "priority": 0},
        ],
        "queues": [
            {"name": "work", "vhost": VHOST, "durable": True, "auto_delete": False,
             "arguments": {"x-max-length": 2}, "type": "classic"},
            {"name": "short", "vhost": VHOST, "durable": False, "auto_delete": False, "arguments": {}},
            {"name": "dead", "vhost": VHOST, "durable": True, "auto_delete": False, "arguments": {}},
            {"name": "unrouted", "vhost": VHOST, "durable": True, "auto_delete": False, "arguments": {}},
            {"name": "quorum", "vhost": VHOST, "durable": True, "auto_delete": False,
             "arguments": {"x-queue-type": "quorum", "x-delivery-limit": 3}, "type": "quorum"},
        ],
        "exchanges": [
            {"name": "orders", "vhost": VHOST, "type": "topic", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {"alternate-exchange": "lost"}},
            {"name": "lost", "vhost": VHOST, "type": "fanout", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
            {"name": "inner", "vhost": VHOST, "type": "direct", "durable": True, "auto_delete": False,
             "internal": True, "arguments": {}},
            {"name": "match", "vhost": VHOST, "type": "headers", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
            {"name": "dead", "vhost": VHOST, "type": "fanout", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
        ],
        "bindings": [
            {"source": "orders", "vhost": VHOST, "destination": "inner", "destination_type": "exchange",
             "routing_key": "order.#", "arguments": {}},
            {"source": "inner", "vhost": VHOST, "destination": "work", "destination_type": "queue",
             "routing_key": "order.new", "arguments": {}},
            {"source": "lost", "vhost": VHOST, "destination": "unrouted", "destination_type": "queue",
             "routing_key": "", "arguments": {}},
            {"source": "match", "vhost": VHOST, "destination": "short", "destination_type": "queue",
             "routing_key": "", "arguments": {"x-match": "any", "kind": "brief", "size": 1}},
            {"source": "dead", "vhost": VHOST, "destination": "dead", "destination_type": "queue",
             "routing_key": "", "arguments": {}},
        ],
    }


def declared(broker: Broker, name: str) -> dict:
    queue = broker.get_queue(name, VHOST)
    assert queue is not None, name
    return {"durable": queue.durable, "auto_delete": queue.auto_delete, "arguments": queue.arguments}


# -- round trip ------------------------------------------------------------------------------------
def test_round_trip_import_export_import_export_is_identical(broker):
    report = broker.import_definitions(rich_document())
    assert report.unsupported == [] and report.kept_existing == []
    assert report.applied == {"vhosts": 1, "users": 1, "policies": 2, "operator_policies": 1, "exchanges": 5,
                              "queues": 5, "bindings": 5}
    first = broker.export_definitions()
    json.dumps(first)   # JSON all the way down
    with Broker() as fresh:
        assert fresh.import_definitions(first).unsupported == []
        second = fresh.export_definitions()
    assert json.dumps(second, sort_keys=False) == json.dumps(first, sort_keys=False)


def test_export_shape_follows_rabbitmq(broker):
    broker.import_definitions(rich_document())
    doc = broker.export_definitions()
    assert list(doc) == ["rabbit_version", "rabbitmq_version", "product_name", "product_version", "users",
                         "vhosts", "permissions", "topic_permissions", "parameters", "global_parameters",
                         "policies", "queues", "exchanges", "bindings"]
    assert doc["rabbit_version"] == "3.10.8"
    assert [q["name"] for q in doc["queues"]] == ["dead", "quorum", "short", "unrouted", "work"]
    assert {"name": "quorum", "vhost": VHOST, "durable": True, "auto_delete": False,
            "arguments": {"x-delivery-limit": 3, "x-queue-type": "quorum"}, "type": "quorum"} in doc["queues"]
    # predeclared amq.* exchanges and the default exchange are not exported, as RabbitMQ does
    assert all(not x["name"].startswith("amq.") and x["name"] for x in doc["exchanges"])
    assert {"vhost": VHOST, "component": "operator_policy", "name": "cap",
            "value": {"pattern": "^", "apply-to": "queues", "definition": {"max-length": 1000},
                      "priority": 0}} in doc["parameters"]
    assert {"user": "app", "vhost": VHOST, "configure": ".*", "write": ".*", "read": ".*"} in doc["permissions"]


def test_imported_topology_routes_and_applies_policies(broker):
    broker.import_definitions(rich_document())
    assert broker.effective_arguments("work", VHOST) == {
        "max-length": (2, "argument"), "dead-letter-exchange": ("dead", "policy")}
    assert broker.get_exchange("inner", VHOST).internal is True
    ch = broker.channel(VHOST)
    for key in ("order.new", "order.new", "order.new", "order.old", "other"):
        ch.basic_publish("orders", key, key.encode())
    ch.basic_publish("match", "", b"headers", properties=None)
    # work holds 2 (x-max-length), its dropped head went to dead via the policy's DLX; the alternate
    # exchange took "other" only: "order.old" reached the exchange inner, so orders did route it
    assert broker.get_queue("work", VHOST).message_count == 2
    assert broker.get_queue("dead", VHOST).message_count == 1
    assert broker.get_queue("unrouted", VHOST).message_count == 1


def test_single_vhost_form_exports_without_vhost_fields_and_imports_into_another_vhost(broker):
    broker.import_definitions(rich_document())
    single = broker.export_definitions(vhost=VHOST)
    assert list(single) == ["rabbit_version", "rabbitmq_version", "product_name", "product_version",
                            "parameters", "policies", "queues", "exchanges", "bindings"]
    assert all("vhost" not in entry for section in ("parameters", "policies", "queues", "exchanges", "bindings")
               for entry in single[section])
    broker.add_vhost("copy")
    report = broker.import_definitions(single, vhost="copy")
    assert report.unsupported == [] and report.kept_existing == []
    assert broker.export_definitions(vhost="copy") == single
    with pytest.raises(KeyError):
        broker.export_definitions(vhost="nowhere")


def test_import_from_a_file_path(broker, tmp_path):
    path = tmp_path / "definitions.json"
    path.write_text(json.dumps(rich_document()), encoding="utf-8")
    broker.import_definitions(path)
    assert broker.get_queue("work", VHOST) is not None
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DefinitionsError, match=r"definitions.json: not valid JSON: Expecting property name"):
        broker.import_definitions(str(path))
    path.write_text("[]", encoding="utf-8")
    with pytest.raises(DefinitionsError, match=r"definitions.json: must hold a JSON object, got an array$"):
        broker.import_definitions(path)
    with pytest.raises(TypeError, match=r"^definitions must be a path or a dict, not int$"):
        broker.import_definitions(3)


# -- users ----------------------------------------------------------------------------------------
def test_a_user_imported_with_rabbitmqs_hash_logs_in_with_the_real_password(broker):
    broker.import_definitions(rich_document())
    broker.connect(VHOST, "app", "guest").close()
    with pytest.raises(LoginRefused):
        broker.connect(VHOST, "app", "wrong")
    [app] = [u for u in broker.export_definitions()["users"] if u["name"] == "app"]
    assert app == {"name": "app", "password_hash": RABBIT_GUEST_HASH,
                   "hashing_algorithm": "rabbit_password_hashing_sha256", "tags": ["monitoring"], "limits": {}}


def test_exported_password_hash_is_rabbitmqs_salted_sha256(broker):
    broker.add_user("bob", "s3cret", tags=["management"])
    [bob] = [u for u in broker.export_definitions()["users"] if u["name"] == "bob"]
    import base64
    import hashlib
    raw = base64.b64decode(bob["password_hash"])
    assert len(raw) == 36 and raw[4:] == hashlib.sha256(raw[:4] + b"s3cret").digest()
    assert bob["tags"] == ["management"]
    assert PasswordHash.from_encoded(RABBIT_GUEST_HASH).verify("guest")
    assert not PasswordHash.from_encoded(RABBIT_GUEST_HASH).verify("Guest")


def test_other_hashing_algorithms_and_plain_passwords(broker):
    sha512 = PasswordHash.for_password("pw", "rabbit_password_hashing_sha512", salt=b"abcd")
    md5 = PasswordHash.for_password("pw", "rabbit_password_hashing_md5", salt=b"abcd")
    broker.import_definitions({"users": [
        {"name": "a", "password_hash": sha512.encoded, "hashing_algorithm": "rabbit_password_hashing_sha512",
         "tags": "administrator,monitoring"},
        {"name": "b", "password_hash": md5.encoded, "hashing_algorithm": "rabbit_password_hashing_md5", "tags": []},
        {"name": "c", "password": "plain", "tags": []},
        {"name": "d", "password_hash": "", "tags": []},
    ]})
    for name, password in (("a", "pw"), ("b", "pw"), ("c", "plain")):
        broker.connect("/", name, password).close()
    with pytest.raises(LoginRefused):
        broker.connect("/", "d", "")
    users = {u.name: u for u in broker.users()}
    assert users["a"].tags == ("administrator", "monitoring")


def test_add_user_refuses_bad_arguments(broker):
    with pytest.raises(ValueError, match=r"^give a password or a password_hash, not both$"):
        broker.add_user("x", "pw", password_hash=PasswordHash.for_password("pw"))
    with pytest.raises(TypeError, match=r"^password_hash must be a PasswordHash, not str$"):
        broker.add_user("x", password_hash="abc")
    with pytest.raises(ValueError, match=r"^hashing algorithm 'sha1' is not supported"):
        PasswordHash.for_password("pw", "sha1")
    with pytest.raises(ValueError, match=r"^password_hash must decode to 36 bytes"):
        PasswordHash.from_encoded("YWJj")


# -- errors: named entry and field, nothing changed -------------------------------------------------
def _set(path: str, value: object):
    """A mutation of rich_document(): set the value at ``section.index.key...`` (_DELETE: remove it)."""
    def mutate(doc: dict) -> None:
        *parents, last = path.split(".")
        node = doc
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        if value is _DELETE:
            del node[last]
        else:
            node[int(last) if last.isdigit() else last] = value
    return mutate


_DELETE = object()

ERROR_CASES = [
    ("queues.0.arguments.x-max-length", "ten",
     r"queues[0].arguments: invalid arg 'x-max-length' for queue 'work' in vhost 'defs': "
     r"\"expected integer, got longstr\""),
    ("queues.0.arguments.x-message-ttl", -1,
     r"queues[0].arguments: invalid arg 'x-message-ttl' for queue 'work' in vhost 'defs': {value_negative,-1}"),
    ("queues.1.durable", "yes", r'queues[1].durable: must be a boolean, got a string "yes"'),
    ("queues.2.name", _DELETE, r"queues[2].name: is required"),
    ("queues.0.type", "quorum", r"queues[0].type: 'quorum' disagrees with the arguments (x-queue-type 'classic')"),
    ("queues.0.vhost", "elsewhere",
     r"queues[0].vhost: vhost 'elsewhere' does not exist and the document does not create it"),
    ("exchanges.0.arguments.alternate-exchange", 5,
     r"exchanges[0].arguments: invalid type 'signedint' for arg 'alternate-exchange' in exchange 'orders' "
     r"in vhost 'defs'"),
    ("exchanges.1.auto_delete", _DELETE, r"exchanges[1].auto_delete: is required"),
    ("bindings.3.arguments.x-match", "some",
     r"bindings[3].arguments: Invalid x-match field value <<\"some\">>; expected all, any, all-with-x, or "
     r"any-with-x"),
    ("bindings.0.destination_type", "topic", r"bindings[0].destination_type: must be 'queue' or 'exchange', got 'topic'"),
    ("policies.0.definition.message-ttl", "soon",
     r"policies[0].definition: message-ttl must be an integer >= 0, got 'soon'"),
    ("policies.0.definition.mesage-ttl", 5,
     r"policies[0].definition.mesage-ttl: is not a policy setting RabbitMQ 3.10 recognises"),
    ("policies.1.pattern", "(", r"policies[1].pattern: '(' is not a valid regular expression"),
    ("policies.1.apply-to", "streams", r"policies[1].apply-to: must be 'queues', 'exchanges' or 'all', got 'streams'"),
    ("parameters.0.value.definition.overflow", "drop-head",
     r"parameters[0].value.definition.overflow: is not a operator policy setting RabbitMQ 3.10 recognises"),
    ("users.0.password_hash", "***", r"users[0].password_hash: password_hash '***' is not valid base64"),
    ("users.0.hashing_algorithm", "rabbit_password_hashing_sha1",
     r"users[0].hashing_algorithm: 'rabbit_password_hashing_sha1' is not supported"),
    ("permissions.0.user", "nobody", r"permissions[0].user: user 'nobody' does not exist and the document does not "
                                     r"create it"),
    ("queues", {"name": "x"}, r"queues: must be an array, got an object"),
    ("exchanges.2", "inner", r"exchanges[2]: must be an object, got a string"),
]


@pytest.mark.parametrize("path, value, message", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_a_malformed_document_names_entry_and_field_and_changes_nothing(broker, path, value, message):
    before = broker.export_definitions()
    doc = rich_document()
    _set(path, value)(doc)
    with pytest.raises(DefinitionsError) as info:
        broker.import_definitions(doc)
    expected = message.replace('\\"', '"')
    assert str(info.value).startswith(expected), (str(info.value), expected)
    assert isinstance(info.value, ValueError)
    assert info.value.path == message.split(":")[0]
    assert broker.export_definitions() == before
    assert VHOST not in broker.vhosts


# -- unsupported entries ------------------------------------------------------------------------
def test_unsupported_entries_are_reported_logged_and_left_out(broker, caplog):
    doc = rich_document()
    doc["topic_permissions"] = [{"user": "app", "vhost": VHOST, "exchange": "amq.topic", "write": ".*", "read": ".*"}]
    doc["global_parameters"] = [{"name": "cluster_name", "value": "rabbit@here"}]
    doc["parameters"].append({"vhost": VHOST, "component": "federation-upstream", "name": "up",
                              "value": {"uri": "amqp://elsewhere"}})
    doc["permissions"].append({"user": "app", "vhost": "/", "configure": "^app\\.", "write": ".*", "read": ".*"})
    doc["users"][0]["limits"] = {"max-connections": 10}
    doc["vhosts"][0]["limits"] = {"max-queues": 5}
    doc["policies"].append({"vhost": VHOST, "name": "ha", "pattern": "^ha", "apply-to": "queues",
                            "definition": {"ha-mode": "all", "max-length": 7}, "priority": 0})
    doc["policies"].append({"vhost": VHOST, "name": "mirror", "pattern": ".", "apply-to": "all",
                            "definition": {"ha-mode": "all"}, "priority": 0})
    doc["queues"].append({"name": "log", "vhost": VHOST, "durable": True, "auto_delete": False,
                          "arguments": {"x-queue-type": "stream"}, "type": "stream"})
    doc["queues"].append({"name": "amq.reserved", "vhost": VHOST, "durable": True, "auto_delete": False,
                          "arguments": {}})
    doc["exchanges"].append({"name": "later", "vhost": VHOST, "type": "x-delayed-message", "durable": True,
                             "auto_delete": False, "internal": False, "arguments": {"x-delayed-type": "direct"}})
    doc["bindings"].append({"source": "later", "vhost": VHOST, "destination": "work", "destination_type": "queue",
                            "routing_key": "", "arguments": {}})
    doc["bindings"].append({"source": "orders", "vhost": VHOST, "destination": "log", "destination_type": "queue",
                            "routing_key": "#", "arguments": {}})
    doc["explicit_extras"] = []
    with caplog.at_level(logging.WARNING, logger="minimq.definitions"):
        report = broker.import_definitions(doc)
    assert [(s.path, s.reason) for s in report.unsupported] == [
        ("explicit_extras", "not a section of RabbitMQ 3.10's definitions format"),
        ("vhosts[0].limits", "vhost limits are not modelled by minimq"),
        ("users[0].limits", "user limits are not modelled by minimq"),
        ("permissions[1]", "minimq checks no permissions: every user may configure, write and read everything "
                           "in every vhost"),
        ("topic_permissions[0]", "topic permissions are not modelled by minimq (it checks no permissions)"),
        ("global_parameters[0]", "global parameter 'cluster_name' is not modelled by minimq"),
        ("parameters[1]", "parameter 'up' of component 'federation-upstream' is not modelled by minimq"),
        ("policies[2].definition.ha-mode", "policy key 'ha-mode' is not modelled by minimq"),
        ("policies[3].definition.ha-mode", "policy key 'ha-mode' is not modelled by minimq"),
        ("policies[3]", "policy 'mirror' has no setting minimq models; it is not created"),
        ("exchanges[5]", "exchange type 'x-delayed-message' is not modelled by minimq (supported: direct, fanout, "
                         "topic, headers)"),
        ("queues[5]", "queue 'log': stream queues are not modelled by minimq"),
        ("queues[6]", "queue 'amq.reserved': names beginning with 'amq.' are reserved (RabbitMQ's import skips "
                      "them too)"),
        ("bindings[5]", "its source exchange 'later' is not imported"),
        ("bindings[6]", "its destination queue 'log' is not imported"),
    ]
    warnings = [r.getMessage() for r in caplog.records if r.name == "minimq.definitions"]
    assert len(warnings) == len(report.unsupported)
    assert warnings[0] == ("definitions import: not applied: explicit_extras: not a section of RabbitMQ 3.10's "
                           "definitions format")
    # the modelled part of a partly supported policy is applied; the rest of the document too
    assert [p.definition for p in broker.list_policies(VHOST) if p.name == "ha"] == [{"max-length": 7}]
    assert "mirror" not in {p.name for p in broker.list_policies(VHOST)}
    assert broker.get_queue("log", VHOST) is None and broker.get_exchange("later", VHOST) is None
    assert broker.get_queue("work", VHOST) is not None


def test_strict_import_raises_for_unsupported_entries_and_changes_nothing(broker):
    doc = rich_document()
    doc["topic_permissions"] = [{"user": "app", "vhost": VHOST, "exchange": "amq.topic", "write": ".*", "read": ".*"}]
    doc["global_parameters"] = [{"name": "cluster_name", "value": "rabbit@here"}]
    before = broker.export_definitions()
    with pytest.raises(DefinitionsError, match=re.escape(
            "topic_permissions[0]: topic permissions are not modelled by minimq (it checks no permissions) "
            "(strict import) (and 1 more: global_parameters[0]: global parameter 'cluster_name' is not "
            "modelled by minimq)")):
        broker.import_definitions(doc, strict=True)
    assert broker.export_definitions() == before
    assert broker.import_definitions(rich_document(), strict=True).unsupported == []


# -- conflicts with existing objects: kept, as RabbitMQ 3.10.8's import keeps them ------------------
def test_existing_objects_declared_differently_are_kept_and_reported(broker):
    broker.add_vhost(VHOST)
    ch = broker.channel(VHOST)
    ch.queue_declare("work", durable=True, arguments={"x-max-length": 5})
    ch.exchange_declare("orders", "direct", durable=True)
    ch.queue_declare("dead", durable=True)
    report = broker.import_definitions(rich_document())
    assert [(s.path, s.reason) for s in report.kept_existing] == [
        ("exchanges[0]", "the existing exchange is kept: inequivalent arg 'type' for exchange 'orders' in vhost "
                         "'defs': received 'topic' but current is 'direct'"),
        ("queues[0]", "the existing queue is kept: inequivalent arg 'x-max-length' for queue 'work' in vhost "
                      "'defs': received '2' but current is '5'"),
    ]
    assert declared(broker, "work")["arguments"] == {"x-max-length": 5}
    assert broker.get_exchange("orders", VHOST).type == "direct"
    # bindings still attach to the kept objects, and the equal redeclare of "dead" is no conflict
    assert any(b.destination.name == "inner" for b in broker.get_exchange("orders", VHOST).bindings.values())
    with pytest.raises(DefinitionsError, match=r"^exchanges\[0\]: the existing exchange is kept"):
        broker.import_definitions(rich_document(), strict=True)


def test_dangling_bindings_are_skipped_and_reported_as_rabbitmq_skips_them(broker):
    doc = rich_document()
    doc["bindings"][1]["destination"] = "nope"
    doc["bindings"][0]["source"] = "ghost"
    report = broker.import_definitions(doc)
    assert [str(s) for s in report.dangling] == [
        "bindings[0]: exchange 'ghost' does not exist in vhost 'defs' and the document does not declare it",
        "bindings[1]: queue 'nope' does not exist in vhost 'defs' and the document does not declare it"]
    assert report.applied["bindings"] == 3
    assert broker.get_exchange("inner", VHOST).bindings == {}
    with pytest.raises(DefinitionsError, match=r"^bindings\[0\]: exchange 'ghost' does not exist"):
        with Broker() as fresh:
            fresh.import_definitions(doc, strict=True)


def test_importing_twice_changes_nothing_and_replaces_policies(broker):
    broker.import_definitions(rich_document())
    first = broker.export_definitions()
    again = broker.import_definitions(rich_document())
    assert again.kept_existing == [] and again.unsupported == []
    assert broker.export_definitions() == first
    doc = copy.deepcopy(rich_document())
    doc["policies"][0]["definition"] = {"dead-letter-exchange": "elsewhere"}
    broker.import_definitions(doc)
    assert broker.effective_arguments("work", VHOST)["dead-letter-exchange"] == ("elsewhere", "policy")


def test_a_rabbitmq_export_imports_with_only_its_vhost_description_reported(broker):
    """The shape a fresh RabbitMQ 3.10.8 exports (recorded from the real server)."""
    export = {
        "bindings": [], "exchanges": [], "global_parameters": [], "parameters": [],
        "permissions": [{"configure": ".*", "read": ".*", "user": "guest", "vhost": "/", "write": ".*"}],
        "policies": [], "queues": [], "rabbit_version": "3.10.8", "rabbitmq_version": "3.10.8",
        "topic_permissions": [],
        "users": [{"hashing_algorithm": "rabbit_password_hashing_sha256", "limits": {}, "name": "guest",
                   "password_hash": RABBIT_GUEST_HASH, "tags": ["administrator"]}],
        "vhosts": [{"limits": [], "metadata": {"description": "Default virtual host", "tags": []}, "name": "/"}],
    }
    report = broker.import_definitions(export)
    assert [str(s) for s in report.unsupported] == [
        "vhosts[0].metadata: vhost descriptions and tags are not modelled by minimq"]
    assert broker.export_definitions()["users"] == export["users"]
    broker.connect("/", "guest", "guest").close()


def test_export_converts_amqp_values_json_cannot_hold(broker):
    import datetime
    import decimal
    ch = broker.channel()
    ch.exchange_declare("h", "headers")
    ch.queue_declare("q")
    ch.queue_bind("q", "h", "", {"x-match": "all", "b": b"bytes", "d": decimal.Decimal("1.5"),
                                 "t": datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)})
    [binding] = broker.export_definitions()["bindings"]
    assert binding["arguments"] == {"b": "bytes", "d": 1.5, "t": 1704067200, "x-match": "all"}
    json.dumps(binding)


def test_exclusive_queues_are_not_exported(broker):
    ch = broker.channel()
    ch.queue_declare("mine", exclusive=True)
    ch.queue_declare("shared")
    assert [q["name"] for q in broker.export_definitions()["queues"]] == ["shared"]
