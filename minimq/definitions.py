"""Definitions: import and export a broker's topology in RabbitMQ 3.10's definitions JSON.

The format is what ``rabbitmqctl export_definitions`` writes (and ``rabbitmqctl import_definitions``
reads): top-level ``rabbit_version``, ``rabbitmq_version``, ``product_name``, ``product_version`` and
the sections ``users``, ``vhosts``, ``permissions``, ``topic_permissions``, ``parameters``,
``global_parameters``, ``policies``, ``queues``, ``exchanges`` and ``bindings``.  The management UI's
single-vhost export (no ``users``/``vhosts``/``permissions``, entries without a ``vhost`` field) is
read too: entries without ``vhost`` go to the vhost the caller names.

Import runs in two phases.  **Plan** reads the whole document and the broker's current state and
raises :class:`DefinitionsError` (naming the entry and the field) for the first malformed value; it
changes nothing.  **Apply** then creates what the plan holds through the broker's public methods
(:class:`DefinitionsTarget`) and channels, so durable objects reach the store like any declare.

What minimq does not model is never dropped silently: each such entry (or policy key) becomes an
:class:`Skipped` in :attr:`ImportReport.unsupported` and one warning line on the
``minimq.definitions`` logger; ``strict=True`` raises instead, before anything changes.  Where an
object of the document already exists with a different declaration, RabbitMQ 3.10.8's import keeps
the existing one without a word (checked on the real server); minimq keeps it too, and reports it in
:attr:`ImportReport.kept_existing`.  A binding to or from an exchange or queue that neither exists nor
is declared is skipped by RabbitMQ without a word too; minimq reports it in :attr:`ImportReport.dangling`.

Export reads the state under the broker's lock and returns one dict, in the full form or (given a
vhost) the single-vhost form, with every list in a fixed order, so equal states export equal dicts.
"""

from __future__ import annotations

import datetime
import decimal
import json
import logging
import os
import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Iterable, Mapping, Protocol

from .arguments import check_exchange_equivalence, check_queue_equivalence, validate_exchange_arguments, \
    validate_queue_arguments
from .connection import Connection
from .errors import AMQPError, NotImplementedByServer
from .exchanges import EXCHANGE_TYPES
from .fieldtypes import is_integer
from .headers import validate_binding_arguments
from .policies import OPERATOR_KEYS, POLICY_KEYS, Policy, validate_definition
from .users import DEFAULT_HASHING_ALGORITHM, HASHING_ALGORITHMS, PasswordHash, User
from .vhost import VirtualHost

__all__ = ["DefinitionsError", "Skipped", "ImportReport", "DefinitionsTarget", "import_definitions",
           "export_definitions", "load_document", "RABBIT_VERSION"]

#: the RabbitMQ version whose behaviour minimq reproduces, written as ``rabbit_version``
RABBIT_VERSION = "3.10.8"

logger = logging.getLogger("minimq.definitions")

#: informational top-level keys (RabbitMQ's and its management UI's); read and ignored
_INFORMATIONAL = frozenset({"rabbit_version", "rabbitmq_version", "product_name", "product_version",
                            "rabbitmq_definition_format", "original_cluster_name", "original_vhost_name",
                            "explanation"})
_SECTIONS = ("users", "vhosts", "permissions", "topic_permissions", "parameters", "global_parameters",
             "policies", "queues", "exchanges", "bindings")
#: policy keys RabbitMQ 3.10.8 recognises (with the federation plugin's) that minimq does not model
_RABBIT_ONLY_POLICY_KEYS = frozenset({
    "ha-mode", "ha-params", "ha-sync-mode", "ha-sync-batch-size", "ha-promote-on-shutdown",
    "ha-promote-on-failure", "queue-master-locator", "max-age", "stream-max-segment-size-bytes",
    "dead-letter-strategy", "max-in-memory-length", "max-in-memory-bytes", "queue-leader-locator",
    "initial-cluster-size", "federation-upstream", "federation-upstream-set"})
#: operator policy keys RabbitMQ 3.10.8 recognises that minimq does not model
_RABBIT_ONLY_OPERATOR_KEYS = frozenset({"max-in-memory-length", "max-in-memory-bytes"})
_ALL_PERMISSIONS = ".*"
_REQUIRED = object()


class DefinitionsError(ValueError):
    """A definitions document that cannot be imported; nothing was changed.

    ``path`` names the entry and field (``queues[3].arguments``), ``reason`` says what is wrong with
    it; ``str()`` is ``"<path>: <reason>"``.
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True)
class Skipped:
    """One entry (or one field of an entry) of the document that the import did not apply, and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class ImportReport:
    """What an import did.

    ``applied``: per section, how many entries were created or replaced.  ``unsupported``: entries and
    policy keys minimq does not model.  ``kept_existing``: entries naming an object that already
    exists with a different declaration; the existing object was kept, as RabbitMQ's import keeps it.
    ``dangling``: bindings whose source or destination neither exists nor is declared by the document;
    RabbitMQ 3.10.8's import skips them without a word (and its own export lists the bindings of the
    internal exchanges it leaves out), so minimq skips them too, and reports them.
    """

    applied: dict[str, int] = field(default_factory=dict)
    unsupported: list[Skipped] = field(default_factory=list)
    kept_existing: list[Skipped] = field(default_factory=list)
    dangling: list[Skipped] = field(default_factory=list)


class DefinitionsTarget(Protocol):
    """The public broker methods import and export use (:class:`minimq.Broker` provides them)."""

    vhosts: dict[str, VirtualHost]

    def add_vhost(self, name: str) -> VirtualHost:
        """Create a vhost (an existing one is returned)."""

    def add_user(self, name: str, password: str | None = None, *, password_hash: PasswordHash | None = None,
                 tags: Iterable[str] = ()) -> None:
        """Add or replace a user."""

    def users(self) -> list[User]:
        """Every user, sorted by name."""

    def set_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                   apply_to: str = "queues", vhost: str = "/") -> Policy:
        """Create or replace a policy."""

    def set_operator_policy(self, name: str, pattern: str, definition: dict[str, Any], priority: int = 0,
                            apply_to: str = "queues", vhost: str = "/") -> Policy:
        """Create or replace an operator policy."""

    def connect(self, vhost: str = "/", user: str = "guest", password: str | None = None) -> Connection:
        """Open a connection (without a password: no login check)."""


# -- loading ------------------------------------------------------------------------------------

def load_document(source: str | os.PathLike[str] | Mapping[str, Any]) -> dict[str, Any]:
    """The definitions document: ``source`` itself if it is a mapping, else the JSON file it names.

    ``OSError`` if the file cannot be read; :class:`DefinitionsError` if it is not JSON or not an
    object at the top; ``TypeError`` for a ``source`` of another type.
    """
    if isinstance(source, Mapping):
        return dict(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"definitions must be a path or a dict, not {type(source).__name__}")
    with open(source, encoding="utf-8-sig") as file:   # -sig: RabbitMQ strips a byte order mark too
        text = file.read()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionsError(os.fspath(source), f"not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise DefinitionsError(os.fspath(source), f"must hold a JSON object, got {_json_type(document)}")
    return document


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


# -- the plan -----------------------------------------------------------------------------------

@dataclass
class _UserPlan:
    name: str
    password_hash: PasswordHash | None
    tags: tuple[str, ...]


@dataclass
class _PolicyPlan:
    path: str
    vhost: str
    name: str
    pattern: str
    definition: dict[str, Any]
    priority: int
    apply_to: str
    operator: bool


@dataclass
class _ExchangePlan:
    vhost: str
    name: str
    type: str
    durable: bool
    auto_delete: bool
    internal: bool
    arguments: dict[str, Any]


@dataclass
class _QueuePlan:
    vhost: str
    name: str
    durable: bool
    auto_delete: bool
    arguments: dict[str, Any]


@dataclass
class _BindingPlan:
    vhost: str
    source: str
    destination: str
    destination_type: str
    routing_key: str
    arguments: dict[str, Any]


class _Planner:
    """Reads a document against the broker's state: the plan, or the first DefinitionsError."""

    def __init__(self, document: dict[str, Any], target: DefinitionsTarget, default_vhost: str) -> None:
        self.document = document
        self.target = target
        self.default_vhost = default_vhost
        self.report = ImportReport()
        self.vhosts: list[str] = []
        self.users: list[_UserPlan] = []
        self.policies: list[_PolicyPlan] = []
        self.exchanges: dict[tuple[str, str], _ExchangePlan] = {}
        self.queues: dict[tuple[str, str], _QueuePlan] = {}
        self.bindings: list[_BindingPlan] = []
        #: (vhost, name) of exchanges and queues the document names but the import leaves out
        self.left_out_exchanges: set[tuple[str, str]] = set()
        self.left_out_queues: set[tuple[str, str]] = set()
        self.known_users = {user.name for user in target.users()}

    # -- small readers --------------------------------------------------------------------------
    def unsupported(self, path: str, reason: str) -> None:
        self.report.unsupported.append(Skipped(path, reason))

    def get(self, entry: dict, path: str, key: str, kind: type | tuple[type, ...], default: Any = _REQUIRED) -> Any:
        """``entry[key]`` checked against ``kind`` (bool is not an int here); ``default`` if absent."""
        if key not in entry:
            if default is _REQUIRED:
                raise DefinitionsError(f"{path}.{key}", "is required")
            return default
        value = entry[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if isinstance(value, bool) and bool not in kinds:
            ok = False
        else:
            ok = isinstance(value, kinds)
        if not ok:
            names = " or ".join({str: "a string", bool: "a boolean", int: "an integer", dict: "an object",
                                 list: "an array"}[k] for k in kinds)
            raise DefinitionsError(f"{path}.{key}", f"must be {names}, got {_json_type(value)} {json.dumps(value)}")
        return value

    def section(self, name: str) -> list[tuple[str, dict]]:
        """(path, entry) for each entry of a section (absent: none); each entry must be an object."""
        entries = self.document.get(name, [])
        if not isinstance(entries, list):
            raise DefinitionsError(name, f"must be an array, got {_json_type(entries)}")
        out = []
        for index, entry in enumerate(entries):
            path = f"{name}[{index}]"
            if not isinstance(entry, dict):
                raise DefinitionsError(path, f"must be an object, got {_json_type(entry)}")
            out.append((path, entry))
        return out

    def vhost_of(self, entry: dict, path: str) -> str:
        vhost = self.get(entry, path, "vhost", str, self.default_vhost)
        if vhost not in self.vhosts and vhost not in self.target.vhosts:
            raise DefinitionsError(f"{path}.vhost", f"vhost {vhost!r} does not exist and the document does not "
                                   "create it")
        return vhost

    # -- sections, in the order they are applied ---------------------------------------------------
    def plan(self) -> None:
        for key in self.document:
            if key not in _INFORMATIONAL and key not in _SECTIONS and key not in ("metadata", "description",
                                                                                 "limits"):
                self.unsupported(key, "not a section of RabbitMQ 3.10's definitions format")
        self.plan_single_vhost_metadata()
        for path, entry in self.section("vhosts"):
            self.plan_vhost(path, entry)
        for path, entry in self.section("users"):
            self.plan_user(path, entry)
        for path, entry in self.section("permissions"):
            self.plan_permission(path, entry)
        for path, entry in self.section("topic_permissions"):
            self.get(entry, path, "user", str)
            self.unsupported(path, "topic permissions are not modelled by minimq (it checks no permissions)")
        for path, entry in self.section("global_parameters"):
            name = self.get(entry, path, "name", str)
            self.unsupported(path, f"global parameter {name!r} is not modelled by minimq")
        for path, entry in self.section("parameters"):
            self.plan_parameter(path, entry)
        for path, entry in self.section("policies"):
            self.plan_policy(path, entry, entry, operator=False)
        for path, entry in self.section("exchanges"):
            self.plan_exchange(path, entry)
        for path, entry in self.section("queues"):
            self.plan_queue(path, entry)
        for path, entry in self.section("bindings"):
            self.plan_binding(path, entry)

    def plan_single_vhost_metadata(self) -> None:
        """The management UI's single-vhost export carries the vhost's own description and limits."""
        for key in ("metadata", "description", "limits"):
            if key in self.document and self.document[key] not in ({}, [], "", None) and \
                    not (key == "metadata" and _empty_metadata(self.document[key])):
                self.unsupported(key, f"vhost {key} are not modelled by minimq")

    def plan_vhost(self, path: str, entry: dict) -> None:
        name = self.get(entry, path, "name", str)
        limits = self.get(entry, path, "limits", (list, dict), [])
        if limits:
            self.unsupported(f"{path}.limits", "vhost limits are not modelled by minimq")
        metadata_ = self.get(entry, path, "metadata", dict, {})
        if not _empty_metadata(metadata_) or entry.get("description") or entry.get("tags"):
            self.unsupported(f"{path}.metadata", "vhost descriptions and tags are not modelled by minimq")
        if name not in self.vhosts and name not in self.target.vhosts:
            self.vhosts.append(name)

    def plan_user(self, path: str, entry: dict) -> None:
        name = self.get(entry, path, "name", str)
        algorithm = self.get(entry, path, "hashing_algorithm", str, DEFAULT_HASHING_ALGORITHM)
        if algorithm not in HASHING_ALGORITHMS:
            raise DefinitionsError(f"{path}.hashing_algorithm", f"{algorithm!r} is not supported (supported: "
                                   f"{', '.join(sorted(HASHING_ALGORITHMS))})")
        password_hash: PasswordHash | None = None
        if "password" in entry:   # RabbitMQ's import also takes a plain password
            password_hash = PasswordHash.for_password(self.get(entry, path, "password", str), algorithm)
        else:
            encoded = self.get(entry, path, "password_hash", str)
            if encoded:   # "": a user without a password, as RabbitMQ allows
                try:
                    password_hash = PasswordHash.from_encoded(encoded, algorithm)
                except ValueError as exc:
                    raise DefinitionsError(f"{path}.password_hash", str(exc)) from None
        tags = self.get(entry, path, "tags", (list, str), [])
        if isinstance(tags, str):   # older exports: "administrator,monitoring"
            tags = [tag for tag in tags.split(",") if tag]
        for index, tag in enumerate(tags):
            if not isinstance(tag, str):
                raise DefinitionsError(f"{path}.tags[{index}]", f"must be a string, got {_json_type(tag)}")
        limits = self.get(entry, path, "limits", dict, {})
        if limits:
            self.unsupported(f"{path}.limits", "user limits are not modelled by minimq")
        self.users.append(_UserPlan(name, password_hash, tuple(tags)))
        self.known_users.add(name)

    def plan_permission(self, path: str, entry: dict) -> None:
        user = self.get(entry, path, "user", str)
        if user not in self.known_users:
            raise DefinitionsError(f"{path}.user", f"user {user!r} does not exist and the document does not "
                                   "create it")
        self.vhost_of(entry, path)
        patterns = [self.get(entry, path, key, str) for key in ("configure", "write", "read")]
        if any(pattern != _ALL_PERMISSIONS for pattern in patterns):
            self.unsupported(path, "minimq checks no permissions: every user may configure, write and read "
                             "everything in every vhost")

    def plan_parameter(self, path: str, entry: dict) -> None:
        component = self.get(entry, path, "component", str)
        name = self.get(entry, path, "name", str)
        if component != "operator_policy":
            self.unsupported(path, f"parameter {name!r} of component {component!r} is not modelled by minimq")
            return
        value = self.get(entry, path, "value", dict)
        self.plan_policy(path, entry, value, operator=True, value_path=f"{path}.value")

    def plan_policy(self, path: str, entry: dict, body: dict, operator: bool, value_path: str | None = None) -> None:
        at = value_path or path
        vhost = self.vhost_of(entry, path)
        name = self.get(entry, path, "name", str)
        pattern = self.get(body, at, "pattern", str)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise DefinitionsError(f"{at}.pattern", f"{pattern!r} is not a valid regular expression: {exc}") from None
        apply_to = self.get(body, at, "apply-to", str, "all")
        if apply_to not in ("queues", "exchanges", "all"):
            raise DefinitionsError(f"{at}.apply-to", f"must be 'queues', 'exchanges' or 'all', got {apply_to!r}")
        priority = self.get(body, at, "priority", int, 0)
        definition = self.get(body, at, "definition", dict)
        modelled = OPERATOR_KEYS if operator else POLICY_KEYS
        rabbit_only = _RABBIT_ONLY_OPERATOR_KEYS if operator else _RABBIT_ONLY_POLICY_KEYS
        kind = "operator policy" if operator else "policy"
        kept = {}
        for key, value in definition.items():
            if key in modelled:
                kept[key] = value
            elif key in rabbit_only:
                self.unsupported(f"{at}.definition.{key}", f"{kind} key {key!r} is not modelled by minimq")
            else:
                raise DefinitionsError(f"{at}.definition.{key}", f"is not a {kind} setting RabbitMQ 3.10 recognises")
        if not kept:
            if definition:
                self.unsupported(at, f"{kind} {name!r} has no setting minimq models; it is not created")
                return
            raise DefinitionsError(f"{at}.definition", "must set at least one key")
        try:
            validate_definition(kept, operator, apply_to, pattern)
        except ValueError as exc:
            raise DefinitionsError(f"{at}.definition", str(exc)) from None
        self.policies.append(_PolicyPlan(path, vhost, name, pattern, kept, priority, apply_to, operator))

    def plan_exchange(self, path: str, entry: dict) -> None:
        vhost = self.vhost_of(entry, path)
        name = self.get(entry, path, "name", str)
        type_ = self.get(entry, path, "type", str)
        durable = self.get(entry, path, "durable", bool)
        auto_delete = self.get(entry, path, "auto_delete", bool)
        internal = self.get(entry, path, "internal", bool, False)
        arguments = self.get(entry, path, "arguments", dict, {})
        if name == "":
            raise DefinitionsError(f"{path}.name", "the default exchange cannot be declared")
        if name.startswith("amq."):
            self.left_out_exchanges.add((vhost, name))
            self.unsupported(path, f"exchange {name!r}: names beginning with 'amq.' are reserved "
                             "(RabbitMQ's import skips them too)")
            return
        if type_ not in EXCHANGE_TYPES:
            self.left_out_exchanges.add((vhost, name))
            self.unsupported(path, f"exchange type {type_!r} is not modelled by minimq (supported: "
                             f"{', '.join(EXCHANGE_TYPES)})")
            return
        plan = _ExchangePlan(vhost, name, type_, durable, auto_delete, internal, dict(arguments))
        existing = self.exchanges.get((vhost, name)) or self.existing_exchange(vhost, name)
        if existing is not None:
            try:
                check_exchange_equivalence(name, vhost, type=type_, durable=durable, auto_delete=auto_delete,
                                           internal=internal, args=arguments, existing=existing)
            except AMQPError as exc:
                self.report.kept_existing.append(Skipped(path, f"the existing exchange is kept: {exc.explanation}"))
            return
        try:
            validate_exchange_arguments(name, vhost, arguments)
        except AMQPError as exc:
            raise DefinitionsError(f"{path}.arguments", exc.explanation) from None
        self.exchanges[(vhost, name)] = plan

    def existing_exchange(self, vhost: str, name: str) -> Any:
        host = self.target.vhosts.get(vhost)
        return None if host is None else host.exchanges.get(name)

    def existing_queue(self, vhost: str, name: str) -> Any:
        host = self.target.vhosts.get(vhost)
        return None if host is None else host.queues.get(name)

    def plan_queue(self, path: str, entry: dict) -> None:
        vhost = self.vhost_of(entry, path)
        name = self.get(entry, path, "name", str)
        durable = self.get(entry, path, "durable", bool)
        auto_delete = self.get(entry, path, "auto_delete", bool)
        arguments = dict(self.get(entry, path, "arguments", dict, {}))
        declared_type = self.get(entry, path, "type", str, None)
        argument_type = arguments.get("x-queue-type", "classic")
        if declared_type is not None and declared_type != argument_type:
            raise DefinitionsError(f"{path}.type", f"{declared_type!r} disagrees with the arguments (x-queue-type "
                                   f"{argument_type!r})")
        if name == "":
            raise DefinitionsError(f"{path}.name", "must not be empty (server-named queues cannot be imported)")
        if name.startswith("amq."):
            self.left_out_queues.add((vhost, name))
            self.unsupported(path, f"queue {name!r}: names beginning with 'amq.' are reserved "
                             "(RabbitMQ's import skips them too)")
            return
        existing = self.queues.get((vhost, name)) or self.existing_queue(vhost, name)
        if existing is not None:
            if getattr(existing, "exclusive_owner", None) is not None:
                self.report.kept_existing.append(Skipped(path, "the existing queue is kept: it is exclusive to "
                                                         "a connection"))
                return
            try:
                check_queue_equivalence(name, vhost, durable=durable, auto_delete=auto_delete,
                                        old_durable=existing.durable, old_auto_delete=existing.auto_delete,
                                        args=arguments, old_args=existing.arguments)
            except AMQPError as exc:
                self.report.kept_existing.append(Skipped(path, f"the existing queue is kept: {exc.explanation}"))
            return
        try:
            validate_queue_arguments(name, vhost, arguments, durable=durable, exclusive=False,
                                     auto_delete=auto_delete, server_named=False)
        except NotImplementedByServer:
            self.left_out_queues.add((vhost, name))
            self.unsupported(path, f"queue {name!r}: stream queues are not modelled by minimq")
            return
        except AMQPError as exc:
            raise DefinitionsError(f"{path}.arguments", exc.explanation or exc.reply_text) from None
        self.queues[(vhost, name)] = _QueuePlan(vhost, name, durable, auto_delete, arguments)

    def plan_binding(self, path: str, entry: dict) -> None:
        vhost = self.vhost_of(entry, path)
        source = self.get(entry, path, "source", str)
        destination = self.get(entry, path, "destination", str)
        destination_type = self.get(entry, path, "destination_type", str)
        routing_key = self.get(entry, path, "routing_key", str, "")
        arguments = dict(self.get(entry, path, "arguments", dict, {}))
        if destination_type not in ("queue", "exchange"):
            raise DefinitionsError(f"{path}.destination_type", f"must be 'queue' or 'exchange', got "
                                   f"{destination_type!r}")
        if source == "":
            raise DefinitionsError(f"{path}.source", "the default exchange's bindings are implicit and cannot be "
                                   "declared")
        source_exchange = self.exchanges.get((vhost, source)) or self.existing_exchange(vhost, source)
        if source_exchange is None:
            if (vhost, source) in self.left_out_exchanges:
                self.unsupported(path, f"its source exchange {source!r} is not imported")
                return
            self.report.dangling.append(Skipped(path, f"exchange {source!r} does not exist in vhost {vhost!r} and "
                                                "the document does not declare it"))
            return
        if destination_type == "queue":
            found = self.queues.get((vhost, destination)) or self.existing_queue(vhost, destination)
            left_out = (vhost, destination) in self.left_out_queues
        else:
            found = self.exchanges.get((vhost, destination)) or self.existing_exchange(vhost, destination)
            left_out = (vhost, destination) in self.left_out_exchanges
        if found is None:
            if left_out:
                self.unsupported(path, f"its destination {destination_type} {destination!r} is not imported")
                return
            self.report.dangling.append(Skipped(path, f"{destination_type} {destination!r} does not exist in "
                                                f"vhost {vhost!r} and the document does not declare it"))
            return
        if getattr(found, "exclusive_owner", None) is not None:
            self.unsupported(path, f"queue {destination!r} is exclusive to a connection")
            return
        if source_exchange.type == "headers":
            try:
                validate_binding_arguments(arguments)
            except AMQPError as exc:
                raise DefinitionsError(f"{path}.arguments", exc.explanation) from None
        self.bindings.append(_BindingPlan(vhost, source, destination, destination_type, routing_key, arguments))


def _empty_metadata(value: Any) -> bool:
    return isinstance(value, dict) and all(v in ("", [], None) for v in value.values())


# -- import ---------------------------------------------------------------------------------------

def import_definitions(target: DefinitionsTarget, source: str | os.PathLike[str] | Mapping[str, Any], *,
                       vhost: str = "/", strict: bool = False) -> ImportReport:
    """Import a definitions document (a dict, or the path of a JSON file) into ``target``.

    Entries without a ``vhost`` field (the single-vhost form) go to ``vhost``.  Validates the whole
    document first: a malformed one raises :class:`DefinitionsError` naming the entry and the field,
    and nothing changes.  Entries minimq does not model are reported in the returned
    :class:`ImportReport` (and logged, one warning each); with ``strict=True`` they raise
    :class:`DefinitionsError` instead, before anything changes, as do entries that conflict with
    existing objects and dangling bindings.  Policies and users of the same name are replaced; existing vhosts, exchanges,
    queues and bindings are kept.
    """
    if not isinstance(vhost, str):
        raise TypeError(f"vhost must be str, not {type(vhost).__name__}")
    planner = _Planner(load_document(source), target, vhost)
    planner.plan()
    report = planner.report
    skipped = report.unsupported + report.kept_existing + report.dangling
    if strict and skipped:
        first = skipped[0]
        more = f" (and {len(skipped) - 1} more: {'; '.join(str(s) for s in skipped[1:])})" if len(skipped) > 1 else ""
        raise DefinitionsError(first.path, f"{first.reason} (strict import){more}")
    for entry in report.unsupported:
        logger.warning("definitions import: not applied: %s", entry)
    for entry in report.kept_existing:
        logger.warning("definitions import: kept the existing object: %s", entry)
    for entry in report.dangling:
        logger.warning("definitions import: binding skipped: %s", entry)
    _apply(planner, target)
    return report


def _apply(plan: _Planner, target: DefinitionsTarget) -> None:
    applied = plan.report.applied
    for name in plan.vhosts:
        target.add_vhost(name)
    applied["vhosts"] = len(plan.vhosts)
    for user in plan.users:
        target.add_user(user.name, password_hash=user.password_hash, tags=user.tags)
    applied["users"] = len(plan.users)
    for policy in plan.policies:
        setter = target.set_operator_policy if policy.operator else target.set_policy
        setter(policy.name, policy.pattern, policy.definition, policy.priority, policy.apply_to, policy.vhost)
    applied["policies"] = sum(1 for p in plan.policies if not p.operator)
    applied["operator_policies"] = sum(1 for p in plan.policies if p.operator)
    vhosts = sorted({key[0] for key in plan.exchanges} | {key[0] for key in plan.queues} |
                    {b.vhost for b in plan.bindings})
    for vhost in vhosts:
        # declares go through a channel, as a client's would: the same rules, the same store reports
        connection = target.connect(vhost)
        try:
            channel = connection.channel()
            for x in plan.exchanges.values():
                if x.vhost == vhost:
                    channel.exchange_declare(x.name, x.type, durable=x.durable, auto_delete=x.auto_delete,
                                             internal=x.internal, arguments=x.arguments)
            for q in plan.queues.values():
                if q.vhost == vhost:
                    channel.queue_declare(q.name, durable=q.durable, auto_delete=q.auto_delete,
                                          arguments=q.arguments)
            for b in plan.bindings:
                if b.vhost != vhost:
                    continue
                if b.destination_type == "queue":
                    channel.queue_bind(b.destination, b.source, b.routing_key, b.arguments)
                else:
                    channel.exchange_bind(b.destination, b.source, b.routing_key, b.arguments)
        finally:
            connection.close()
    applied["exchanges"] = len(plan.exchanges)
    applied["queues"] = len(plan.queues)
    applied["bindings"] = len(plan.bindings)


# -- export ---------------------------------------------------------------------------------------

def export_definitions(target: DefinitionsTarget, vhost: str | None = None) -> dict[str, Any]:
    """The broker's state as a definitions document (a dict ready for ``json.dump``).

    ``vhost=None``: the full form (every user, vhost, policy, exchange, queue and binding).  A vhost
    name: the management UI's single-vhost form (no users, vhosts or permissions; no ``vhost`` field
    in the entries).  Left out, as RabbitMQ leaves them out: the default exchange, ``amq.*``
    exchanges and queues, exclusive queues and the default exchange's implicit bindings.  Internal
    exchanges are kept, with ``internal: true`` (RabbitMQ 3.10.8's export leaves them out; its import
    reads the field).  Every list is sorted (vhost, then name or binding fields), so equal states
    export equal documents.  Argument values that JSON cannot hold are converted: bytes to text
    (UTF-8), decimals to numbers, timestamps to seconds since the epoch.  ``KeyError`` for an unknown
    ``vhost``.
    """
    users = target.users()
    hosts = target.vhosts
    if vhost is not None and vhost not in hosts:
        raise KeyError(f"no vhost {vhost!r}")
    names = sorted(hosts) if vhost is None else [vhost]
    policies: list[dict] = []
    parameters: list[dict] = []
    exchanges: list[dict] = []
    queues: list[dict] = []
    bindings: list[dict] = []
    kernel = next(iter(hosts.values())).kernel if hosts else None
    if kernel is not None:
        with kernel:   # one consistent snapshot of every vhost
            for name in names:
                _export_vhost(hosts[name], policies, parameters, exchanges, queues, bindings)
    document: dict[str, Any] = {"rabbit_version": RABBIT_VERSION, "rabbitmq_version": RABBIT_VERSION}
    document["product_name"] = "minimq"
    document["product_version"] = _minimq_version()
    if vhost is None:
        document["users"] = [_user_entry(user) for user in users]
        document["vhosts"] = [{"name": name, "limits": [], "metadata": {"description": "", "tags": []}}
                              for name in names]
        # minimq checks no permissions: every user may do everything in every vhost, and says so
        document["permissions"] = [{"user": user.name, "vhost": name, "configure": _ALL_PERMISSIONS,
                                    "write": _ALL_PERMISSIONS, "read": _ALL_PERMISSIONS}
                                   for user in users for name in names]
        document["topic_permissions"] = []
    document["parameters"] = parameters
    if vhost is None:
        document["global_parameters"] = []
    document["policies"] = policies
    document["queues"] = queues
    document["exchanges"] = exchanges
    document["bindings"] = bindings
    if vhost is not None:
        for section in ("parameters", "policies", "queues", "exchanges", "bindings"):
            for entry in document[section]:
                del entry["vhost"]
    return document


def _minimq_version() -> str:
    try:
        return metadata.version("minimq")
    except metadata.PackageNotFoundError:
        return "unknown"


def _user_entry(user: User) -> dict[str, Any]:
    password_hash = user.password_hash
    return {"name": user.name,
            "password_hash": "" if password_hash is None else password_hash.encoded,
            "hashing_algorithm": DEFAULT_HASHING_ALGORITHM if password_hash is None else password_hash.algorithm,
            "tags": list(user.tags), "limits": {}}


def _export_vhost(host: VirtualHost, policies: list, parameters: list, exchanges: list, queues: list,
                  bindings: list) -> None:
    vhost = host.name
    for name in sorted(host.policies):
        p = host.policies[name]
        policies.append({"vhost": vhost, "name": p.name, "pattern": p.pattern, "apply-to": p.apply_to,
                         "definition": _json_value(p.definition), "priority": p.priority})
    for name in sorted(host.operator_policies):
        p = host.operator_policies[name]
        parameters.append({"vhost": vhost, "component": "operator_policy", "name": p.name,
                           "value": {"pattern": p.pattern, "apply-to": p.apply_to,
                                     "definition": _json_value(p.definition), "priority": p.priority}})
    for name in sorted(host.exchanges):
        x = host.exchanges[name]
        if name == "" or name.startswith("amq."):
            continue
        exchanges.append({"name": name, "vhost": vhost, "type": x.type, "durable": x.durable,
                          "auto_delete": x.auto_delete, "internal": x.internal,
                          "arguments": _json_value(x.arguments)})
    for name in sorted(host.queues):
        q = host.queues[name]
        if name.startswith("amq.") or q.exclusive_owner is not None:
            continue
        queues.append({"name": name, "vhost": vhost, "durable": q.durable, "auto_delete": q.auto_delete,
                       "arguments": _json_value(q.arguments), "type": q.arguments.get("x-queue-type", "classic")})
    found = []
    for b in host.bindings():
        destination = b.destination
        if destination.is_queue and (destination.exclusive_owner is not None or destination.name.startswith("amq.")):
            continue
        found.append({"source": b.source.name, "vhost": vhost, "destination": destination.name,
                      "destination_type": "queue" if destination.is_queue else "exchange",
                      "routing_key": b.routing_key, "arguments": _json_value(b.arguments)})
    found.sort(key=lambda e: (e["source"], e["destination_type"], e["destination"], e["routing_key"],
                              json.dumps(e["arguments"], sort_keys=True)))
    bindings.extend(found)


def _json_value(value: Any) -> Any:
    """``value`` with everything JSON cannot hold converted (see :func:`export_definitions`)."""
    if isinstance(value, dict):
        return {str(k): _json_value(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.datetime):
        return int(value.timestamp())
    if value is None or isinstance(value, (str, bool, float)) or is_integer(value):
        return value
    return str(value)
