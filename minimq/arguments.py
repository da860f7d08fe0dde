"""Declare arguments: validation of new queues, equivalence of redeclares, as RabbitMQ 3.10 words them.

Validation runs only when a queue is created; a redeclare never validates, it compares (a differing
value, valid or not, is an equivalence mismatch).  Texts follow docs/semantics.md §6.2-§6.3 and §14.
"""

from __future__ import annotations

from typing import Any

from .errors import InternalError, NotImplementedByServer, PreconditionFailed
from .fieldtypes import format_value, is_integer, type_class, type_name

__all__ = ["check_server_named", "validate_queue_arguments", "queue_settings", "check_queue_equivalence",
           "check_exchange_equivalence", "validate_exchange_arguments", "MAX_TTL"]

#: Largest ``x-message-ttl`` / ``x-expires`` accepted, in milliseconds (3650 days, RabbitMQ's limit).
MAX_TTL = 315_360_000_000

#: compared on redeclare, in this order: each queue type's own arguments (RabbitMQ 3.10's
#: ``queue_arguments`` capability); other keys are never compared
_EQUIVALENCE_ORDER = (
    "x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
    "x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
    "x-queue-version", "x-single-active-consumer", "x-queue-type", "x-queue-master-locator",
)
_QUORUM_EQUIVALENCE_ORDER = (
    "x-dead-letter-exchange", "x-dead-letter-routing-key", "x-dead-letter-strategy", "x-expires",
    "x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes", "x-overflow",
    "x-single-active-consumer", "x-queue-type", "x-quorum-initial-group-size", "x-delivery-limit",
    "x-message-ttl", "x-queue-leader-locator",
)
_MASTER_LOCATORS = ("min-masters", "client-local", "random")
_LEADER_LOCATORS = ("client-local", "balanced", "random", "least-leaders")

_OTHER_TYPE_ARGS_CLASSIC = (
    "x-delivery-limit", "x-max-age", "x-dead-letter-strategy", "x-quorum-initial-group-size",
    "x-max-in-memory-length", "x-max-in-memory-bytes", "x-queue-leader-locator",
    "x-initial-cluster-size", "x-stream-max-segment-size-bytes",
)
_CLASSIC_ONLY_ARGS = ("x-max-priority", "x-queue-mode", "x-queue-version", "x-queue-master-locator",
                      "x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size")


def _invalid(arg: str, queue: str, vhost: str, term: str) -> PreconditionFailed:
    return PreconditionFailed(f"invalid arg '{arg}' for queue '{queue}' in vhost '{vhost}': {term}")


def _expect_integer(arg: str, value: Any, queue: str, vhost: str) -> int:
    if not is_integer(value):
        raise _invalid(arg, queue, vhost, f'"expected integer, got {type_name(value)}"')
    return value


def _expect_one_of(arg: str, args: dict[str, Any], allowed: tuple[str, ...], term: str, name: str,
                   vhost: str) -> None:
    """A string argument with a fixed set of values: another type, or another string, is refused."""
    value = args[arg]
    if not isinstance(value, str):
        raise _invalid(arg, name, vhost, f"{{unacceptable_type,{type_name(value)}}}")
    if value not in allowed:
        raise _invalid(arg, name, vhost, term)


def check_server_named(args: dict[str, Any]) -> None:
    """A server-named queue (``queue.declare`` of ``''``) of a type that cannot have one: 406, checked
    before the queue's properties and arguments, as RabbitMQ 3.10 does when it picks the name.

    Only classic queues may be server-named.  ``x-queue-type`` is read as RabbitMQ reads it there (a
    byte string counts as its text); a value that names no queue type crashes RabbitMQ's lookup:
    :class:`InternalError` (541, which closes the connection).
    """
    if "x-queue-type" not in args:
        return
    qtype = args["x-queue-type"]
    if isinstance(qtype, (bytes, bytearray)):
        qtype = bytes(qtype).decode("utf-8", "replace")
    if qtype == "classic":
        return
    if qtype == "quorum" or qtype == "stream":
        raise PreconditionFailed(f"Cannot declare a server-named queue for type rabbit_{qtype}_queue")
    raise InternalError()


def validate_queue_arguments(name: str, vhost: str, args: dict[str, Any], *, durable: bool,
                             exclusive: bool, auto_delete: bool, server_named: bool) -> None:
    """Raise 406 for the first invalid argument of a queue being created, in RabbitMQ's order.

    Checks types and ranges of the ``x-`` arguments RabbitMQ validates (for a quorum queue only its
    own arguments: a classic-only one is refused as such whatever its value), the arguments another
    queue type owns, and the properties a quorum or stream queue cannot have (``auto_delete``,
    ``exclusive``, non-``durable``, ``server_named``).  Unknown keys are accepted.  Raises
    :class:`PreconditionFailed` (406) with RabbitMQ's text; :class:`NotImplementedByServer` (540)
    for a valid stream queue (minimq has none); :class:`InternalError` (541) for an unknown
    ``x-queue-master-locator`` on a classic queue (RabbitMQ crashes on it).  Does not modify ``args``.
    """
    if "x-dead-letter-exchange" in args and not isinstance(args["x-dead-letter-exchange"], str):
        raise PreconditionFailed(
            f"invalid type '{type_name(args['x-dead-letter-exchange'])}' for arg "
            f"'x-dead-letter-exchange' in queue '{name}' in vhost '{vhost}'")
    qtype = args.get("x-queue-type", "classic")
    if "x-queue-type" in args:
        if not isinstance(qtype, str):
            raise _invalid("x-queue-type", name, vhost, f"{{unacceptable_type,{type_name(qtype)}}}")
        if qtype not in ("classic", "quorum", "stream"):
            raise _invalid("x-queue-type", name, vhost, f"\"unsupported queue type '{qtype}'\"")
    if "x-expires" in args:
        value = _expect_integer("x-expires", args["x-expires"], name, vhost)
        if value == 0:
            raise _invalid("x-expires", name, vhost, "{value_zero,0}")
        if value < 0:
            raise _invalid("x-expires", name, vhost, f"{{value_negative,{value}}}")
        if value > MAX_TTL:
            raise _invalid("x-expires", name, vhost, f"{{value_too_large,{value}}}")
    if "x-message-ttl" in args:
        value = _expect_integer("x-message-ttl", args["x-message-ttl"], name, vhost)
        if value < 0:
            raise _invalid("x-message-ttl", name, vhost, f"{{value_negative,{value}}}")
        if value > MAX_TTL:
            raise _invalid("x-message-ttl", name, vhost, f"{{value_too_large,{value}}}")
    if "x-dead-letter-routing-key" in args:
        value = args["x-dead-letter-routing-key"]
        if not isinstance(value, str):
            raise _invalid("x-dead-letter-routing-key", name, vhost, f"{{unacceptable_type,{type_name(value)}}}")
        if "x-dead-letter-exchange" not in args:
            raise _invalid("x-dead-letter-routing-key", name, vhost, "routing_key_but_no_dlx_defined")
    if qtype == "quorum" and "x-dead-letter-strategy" in args:  # the validator runs only for its type
        _expect_one_of("x-dead-letter-strategy", args, ("at-most-once", "at-least-once"), "invalid_dlx_strategy",
                       name, vhost)
    for arg in ("x-max-length", "x-max-length-bytes", "x-max-in-memory-length", "x-max-in-memory-bytes"):
        if arg in args and (qtype == "quorum" or arg in ("x-max-length", "x-max-length-bytes")):
            value = _expect_integer(arg, args[arg], name, vhost)
            if value < 0:
                raise _invalid(arg, name, vhost, f"{{value_negative,{value}}}")
    if "x-max-priority" in args and qtype != "quorum":  # not a quorum argument: refused below, unvalidated
        value = _expect_integer("x-max-priority", args["x-max-priority"], name, vhost)
        if value < 0:
            raise _invalid("x-max-priority", name, vhost, f"{{value_negative,{value}}}")
        if value > 255:
            raise _invalid("x-max-priority", name, vhost, f"{{max_value_exceeded,{value}}}")
    if "x-overflow" in args:
        _expect_one_of("x-overflow", args, ("drop-head", "reject-publish", "reject-publish-dlx"), "invalid_overflow",
                       name, vhost)
    if "x-queue-mode" in args and qtype != "quorum" and args["x-queue-mode"] not in ("default", "lazy"):
        raise _invalid("x-queue-mode", name, vhost,
                       f"\"unsupported queue mode '{format_value(args['x-queue-mode'])}'\"")
    if "x-queue-version" in args and qtype != "quorum" and \
            not (is_integer(args["x-queue-version"]) and args["x-queue-version"] in (1, 2)):
        raise _invalid("x-queue-version", name, vhost,
                       f"\"unsupported queue version '{format_value(args['x-queue-version'])}'\"")
    if "x-single-active-consumer" in args and not isinstance(args["x-single-active-consumer"], bool):
        raise _invalid("x-single-active-consumer", name, vhost,
                       f"{{unacceptable_type,{type_name(args['x-single-active-consumer'])}}}")
    if qtype == "quorum" and "x-quorum-initial-group-size" in args:
        value = _expect_integer("x-quorum-initial-group-size", args["x-quorum-initial-group-size"], name, vhost)
        if value < 0:
            raise _invalid("x-quorum-initial-group-size", name, vhost, f"{{value_negative,{value}}}")
        if value == 0:
            raise _invalid("x-quorum-initial-group-size", name, vhost, "{value_zero,0}")
    if qtype == "quorum" and "x-queue-leader-locator" in args:  # the last of the validators
        _expect_one_of("x-queue-leader-locator", args, _LEADER_LOCATORS, "invalid_queue_locator_arg", name, vhost)
    if qtype == "quorum":
        for arg in _CLASSIC_ONLY_ARGS:
            if arg in args:
                raise PreconditionFailed(f"invalid arg '{arg}' for queue '{name}' in vhost '{vhost}' "
                                         f"of queue type rabbit_quorum_queue")
        _check_replicated_queue(name, vhost, "rabbit_quorum_queue", durable=durable, exclusive=exclusive,
                                auto_delete=auto_delete, server_named=server_named)
    elif qtype == "stream":
        _check_replicated_queue(name, vhost, "rabbit_stream_queue", durable=durable, exclusive=exclusive,
                                auto_delete=auto_delete, server_named=server_named)
        # an explicit refusal rather than a classic queue with other semantics (README, known divergences)
        raise NotImplementedByServer(f"queue '{name}' in vhost '{vhost}': stream queues are not "
                                     "implemented by minimq (declare a classic or quorum queue)")
    elif qtype == "classic":
        for arg in _OTHER_TYPE_ARGS_CLASSIC:
            if arg in args:
                raise PreconditionFailed(f"invalid arg '{arg}' for queue '{name}' in vhost '{vhost}' "
                                         f"of queue type rabbit_classic_queue")
        if "x-queue-master-locator" in args and args["x-queue-master-locator"] not in _MASTER_LOCATORS:
            raise InternalError()  # no validator: RabbitMQ's queue placement crashes on it


def _check_replicated_queue(name: str, vhost: str, type_module: str, *, durable: bool, exclusive: bool,
                            auto_delete: bool, server_named: bool) -> None:
    """Quorum queues and streams live on several nodes: durable, never exclusive, auto-delete or
    server-named (RabbitMQ's checks, in its order)."""
    if auto_delete:
        raise PreconditionFailed(f"invalid property 'auto-delete' for queue '{name}' in vhost '{vhost}'")
    if exclusive:
        raise PreconditionFailed(f"invalid property 'exclusive-owner' for queue '{name}' in vhost '{vhost}'")
    if not durable:
        raise PreconditionFailed(f"invalid property 'non-durable' for queue '{name}' in vhost '{vhost}'")
    if server_named:
        raise PreconditionFailed(f"Cannot declare a server-named queue for type {type_module}")


def queue_settings(args: dict[str, Any]) -> dict[str, Any]:
    """The queue's effective settings from validated declare arguments (policies may add to them).

    Maps each known ``x-`` argument to its policy-style key (``x-message-ttl`` -> ``message-ttl``
    ...); others are dropped.  A quorum queue's ``reject-publish-dlx`` overflow becomes
    ``drop-head`` and a non-integer ``x-delivery-limit`` is ignored, as RabbitMQ does.  Returns a
    new dict; never raises.
    """
    out: dict[str, Any] = {}
    for arg, key in (("x-message-ttl", "message-ttl"), ("x-expires", "expires"),
                     ("x-dead-letter-exchange", "dead-letter-exchange"),
                     ("x-dead-letter-routing-key", "dead-letter-routing-key"),
                     ("x-max-length", "max-length"), ("x-max-length-bytes", "max-length-bytes"),
                     ("x-overflow", "overflow"), ("x-max-priority", "max-priority"),
                     ("x-single-active-consumer", "single-active-consumer"),
                     ("x-queue-type", "queue-type"), ("x-delivery-limit", "delivery-limit")):
        if arg in args:
            out[key] = args[arg]
    if out.get("queue-type") == "quorum" and out.get("overflow") == "reject-publish-dlx":
        out["overflow"] = "drop-head"
    if "delivery-limit" in out and not is_integer(out["delivery-limit"]):
        del out["delivery-limit"]
    return out


def _mismatch(kind: str, name: str, vhost: str, field: str, received: str) -> PreconditionFailed:
    return PreconditionFailed(f"inequivalent arg '{field}' for {kind} '{name}' in vhost '{vhost}': received {received}")


def _bool(value: bool) -> str:
    return "'true'" if value else "'false'"


def _compare_argument(kind: str, name: str, vhost: str, arg: str, old: Any, new: Any,
                      old_present: bool, new_present: bool) -> None:
    if not old_present and not new_present:
        return
    if old_present and not new_present:
        raise _mismatch(kind, name, vhost, arg,
                        f"none but current is the value '{format_value(old)}' of type '{type_name(old)}'")
    if new_present and not old_present:
        raise _mismatch(kind, name, vhost, arg,
                        f"the value '{format_value(new)}' of type '{type_name(new)}' but current is none")
    if is_integer(old) and type_name(new) == "decimal":
        # RabbitMQ 3.10 crashes comparing an integer with a decimal: the connection closes with 541.
        raise InternalError()
    if type_class(old) != type_class(new) or not _same_value(old, new):
        raise _mismatch(kind, name, vhost, arg, f"'{format_value(new)}' but current is '{format_value(old)}'")


def _same_value(old: Any, new: Any) -> bool:
    if isinstance(old, bool) != isinstance(new, bool):
        return False
    if isinstance(old, (bytes, bytearray)) or isinstance(new, (bytes, bytearray)):
        old = old.encode() if isinstance(old, str) else bytes(old)
        new = new.encode() if isinstance(new, str) else bytes(new)
    return old == new


def check_queue_equivalence(name: str, vhost: str, *, durable: bool, auto_delete: bool,
                            old_durable: bool, old_auto_delete: bool,
                            args: dict[str, Any], old_args: dict[str, Any]) -> None:
    """406 for the first difference between a redeclare and the existing queue (exclusivity is the caller's).

    Compares ``durable``, ``auto_delete``, then the arguments the existing queue's type compares,
    in RabbitMQ's order; other keys are ignored, and an explicit ``x-queue-type: classic`` equals an
    absent one.  Raises :class:`PreconditionFailed` (406, ``inequivalent arg ...``), or
    :class:`InternalError` (541) when an integer is compared with a decimal (RabbitMQ crashes).
    """
    if durable != old_durable:
        raise _mismatch("queue", name, vhost, "durable", f"{_bool(durable)} but current is {_bool(old_durable)}")
    if auto_delete != old_auto_delete:
        raise _mismatch("queue", name, vhost, "auto_delete",
                        f"{_bool(auto_delete)} but current is {_bool(old_auto_delete)}")
    quorum = old_args.get("x-queue-type") == "quorum"
    order = _QUORUM_EQUIVALENCE_ORDER if quorum else _EQUIVALENCE_ORDER
    for arg in order:
        old, new = old_args.get(arg), args.get(arg)
        old_present, new_present = arg in old_args, arg in args
        if arg == "x-queue-type" and old_present != new_present and (old if old_present else new) == "classic":
            continue  # an explicit 'classic' equals no type at all
        _compare_argument("queue", name, vhost, arg, old, new, old_present, new_present)


def validate_exchange_arguments(name: str, vhost: str, args: dict[str, Any]) -> None:
    """Raise :class:`PreconditionFailed` (406) when ``alternate-exchange`` is present and not a ``str``.

    The only exchange argument validated here; others are accepted as given.
    """
    if "alternate-exchange" in args and not isinstance(args["alternate-exchange"], str):
        raise PreconditionFailed(
            f"invalid type '{type_name(args['alternate-exchange'])}' for arg 'alternate-exchange' "
            f"in exchange '{name}' in vhost '{vhost}'")


def check_exchange_equivalence(name: str, vhost: str, *, type: str, durable: bool, auto_delete: bool,  # noqa: A002
                               internal: bool, args: dict[str, Any], existing: Any) -> None:
    """406 for the first difference between an exchange redeclare and ``existing`` (an Exchange).

    Compares ``type``, ``durable``, ``auto_delete``, ``internal``, then the ``alternate-exchange``
    argument only (other arguments are never compared, as in RabbitMQ 3.10).  Raises
    :class:`PreconditionFailed` (406, ``inequivalent arg ...``) or :class:`InternalError` (541) as
    :func:`check_queue_equivalence` does.
    """
    if type != existing.type:
        raise _mismatch("exchange", name, vhost, "type", f"'{type}' but current is '{existing.type}'")
    for field, new, old in (("durable", durable, existing.durable),
                            ("auto_delete", auto_delete, existing.auto_delete),
                            ("internal", internal, existing.internal)):
        if new != old:
            raise _mismatch("exchange", name, vhost, field, f"{_bool(new)} but current is {_bool(old)}")
    old_args = existing.arguments
    _compare_argument("exchange", name, vhost, "alternate-exchange", old_args.get("alternate-exchange"),
                      args.get("alternate-exchange"), "alternate-exchange" in old_args,
                      "alternate-exchange" in args)
