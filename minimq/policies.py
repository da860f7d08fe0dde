"""Policies and operator policies: queue settings set by name pattern instead of declare arguments.

Resolution follows RabbitMQ 3.10 (``rabbit_queue_type_util:args_policy_lookup`` and the operator
policy merge in ``rabbit_policy``):

* at most one policy and one operator policy apply to a queue: the matching one (``re.search`` of the
  pattern on the name, ``apply-to`` queues/exchanges/all) with the highest priority;
* numeric limits (``message-ttl``, ``expires``, ``max-length``, ``max-length-bytes``,
  ``delivery-limit``): the **stricter** (smallest) of argument, policy and operator policy;
* everything else (``dead-letter-exchange``, ``dead-letter-routing-key``, ``overflow``,
  ``queue-mode``, ``alternate-exchange`` ...): the declare **argument wins**, the policy fills in.

Changing or clearing a policy re-applies the settings of every queue and exchange it touches at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .fieldtypes import is_integer

__all__ = ["Policy", "resolve_queue_settings", "validate_definition", "POLICY_KEYS", "OPERATOR_KEYS"]

_STRICTER = ("message-ttl", "expires", "max-length", "max-length-bytes", "delivery-limit")
_ARG_WINS = ("dead-letter-exchange", "dead-letter-routing-key", "overflow", "queue-mode",
             "single-active-consumer", "max-priority", "queue-type")
#: keys a (user) policy may carry
POLICY_KEYS = frozenset(_STRICTER + ("dead-letter-exchange", "dead-letter-routing-key", "overflow",
                                     "queue-mode", "alternate-exchange", "queue-version"))
#: keys an operator policy may carry (RabbitMQ 3.10 allows only limits)
OPERATOR_KEYS = frozenset(_STRICTER)
_ARGUMENT_OF = {key: "x-" + key for key in _STRICTER + _ARG_WINS}


@dataclass(frozen=True)
class Policy:
    """A named policy of one vhost.

    Immutable.  ``pattern`` is compiled at construction (``re.error`` if invalid); ``definition`` is
    kept by reference and not validated (see :func:`validate_definition`).  ``apply_to`` is
    ``queues``, ``exchanges`` or ``all``; ``operator`` marks an operator policy.  Equality compares
    every field but the compiled pattern; not hashable (``definition`` is a dict).
    """

    name: str
    pattern: str
    definition: dict[str, Any]
    priority: int = 0
    apply_to: str = "queues"
    vhost: str = "/"
    operator: bool = False
    _regex: re.Pattern = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_regex", re.compile(self.pattern))

    def applies(self, name: str, kind: str) -> bool:
        """True when the policy covers the object ``name`` of ``kind`` (``queues`` or ``exchanges``).

        ``apply_to`` must be ``all`` or ``kind``, and the pattern must ``re.search`` the name
        (unanchored: ``^``/``$`` are the pattern's to give).  O(regex search).
        """
        if self.apply_to not in ("all", kind):
            return False
        return self._regex.search(name) is not None


def validate_definition(definition: dict[str, Any], operator: bool, apply_to: str, pattern: str) -> None:
    """Raise ValueError naming the key, the value and the rule (as ``rabbitmqctl set_policy`` refuses).

    Refused: an ``apply_to`` other than ``queues``/``exchanges``/``all``; a pattern that is not a
    regular expression; an empty definition; a key outside :data:`POLICY_KEYS` (or
    :data:`OPERATOR_KEYS` for an operator policy); a negative or non-integer limit, ``expires`` 0;
    an unknown ``overflow``; a ``queue-version`` other than 1 or 2; another key's non-``str`` value.
    Stops at the first problem, in definition order.  Changes nothing.
    """
    if apply_to not in ("queues", "exchanges", "all"):
        raise ValueError(f"apply_to must be 'queues', 'exchanges' or 'all', got {apply_to!r}")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"pattern {pattern!r} is not a valid regular expression: {exc}") from None
    if not definition:
        raise ValueError("a policy definition must set at least one key")
    allowed = OPERATOR_KEYS if operator else POLICY_KEYS
    for key, value in definition.items():
        if key not in allowed:
            kind = "operator policy" if operator else "policy"
            raise ValueError(f"{kind} key {key!r} is not supported (supported: {', '.join(sorted(allowed))})")
        if key in _STRICTER:
            if not is_integer(value) or value < 0 or (key == "expires" and value == 0):
                rule = "> 0" if key == "expires" else ">= 0"
                raise ValueError(f"{key} must be an integer {rule}, got {value!r}")
        elif key == "overflow":
            if value not in ("drop-head", "reject-publish", "reject-publish-dlx"):
                raise ValueError(f"overflow must be drop-head, reject-publish or reject-publish-dlx, got {value!r}")
        elif key == "queue-version":
            if value not in (1, 2):
                raise ValueError(f"queue-version must be 1 or 2, got {value!r}")
        elif not isinstance(value, str):
            raise ValueError(f"{key} must be a string, got {value!r}")


def pick(policies: list[Policy], name: str, kind: str) -> Policy | None:
    """The matching policy with the highest priority (first in ``policies`` among equals).

    ``None`` when none applies (:meth:`Policy.applies`).  O(len(policies)) regex searches.
    """
    best: Policy | None = None
    for policy in policies:
        if policy.applies(name, kind) and (best is None or policy.priority > best.priority):
            best = policy
    return best


def resolve_queue_settings(arguments: dict[str, Any], policy: Policy | None,
                           operator: Policy | None) -> dict[str, tuple[Any, str]]:
    """Each effective setting with where it came from: ``{"max-length": (10, "policy"), ...}``.

    Limits (``message-ttl``, ``expires``, ``max-length``, ``max-length-bytes``, ``delivery-limit``)
    take the smallest of the integer ``x-`` argument, the policy and the operator policy (the
    first of equal values, in that order); other settings come from the ``x-`` argument, else
    the policy.  A ``dead-letter-routing-key`` without a ``dead-letter-exchange`` is dropped.
    ``alternate-exchange`` and ``queue-version`` are not resolved here.  Returns a new dict.
    """
    out: dict[str, tuple[Any, str]] = {}
    for key in _STRICTER:
        candidates = []
        arg = _ARGUMENT_OF[key]
        if arg in arguments and is_integer(arguments[arg]):
            candidates.append((arguments[arg], "argument"))
        if policy is not None and key in policy.definition:
            candidates.append((policy.definition[key], "policy"))
        if operator is not None and key in operator.definition:
            candidates.append((operator.definition[key], "operator policy"))
        if candidates:
            out[key] = min(candidates, key=lambda c: c[0])
    for key in _ARG_WINS:
        arg = _ARGUMENT_OF[key]
        if arg in arguments:
            out[key] = (arguments[arg], "argument")
        elif policy is not None and key in policy.definition:
            out[key] = (policy.definition[key], "policy")
    if "dead-letter-routing-key" in out and "dead-letter-exchange" not in out:
        del out["dead-letter-routing-key"]
    return out
