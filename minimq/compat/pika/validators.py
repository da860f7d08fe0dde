"""pika's client-side argument checks, with pika's exception types and messages.

pika's ``BlockingChannel``/``BlockingConnection`` check some arguments before anything is sent
(``pika.validators``): a queue name must be a ``str``, a callback must be callable, prefetch values
must not be negative.  The facade makes the same checks at the same points, so that wrong arguments
raise the same ``TypeError``/``ValueError`` with the same text.  Checks that pika leaves to its wire
encoder (short-string lengths, field types) are in :mod:`.codec`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["require_string", "require_callback", "zero_or_greater"]


def require_string(value: Any, value_name: str) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``str`` (pika's ``validators.require_string``)."""
    if not isinstance(value, str):
        raise TypeError(f"{value_name} must be a str or unicode str, but got {value!r}")


def require_callback(callback: Any, callback_name: str = "callback") -> None:
    """Raise ``TypeError`` unless ``callback`` is callable (pika's ``validators.require_callback``)."""
    if not callable(callback):
        raise TypeError(f"callback {callback_name} must be callable, but got {callback!r}")


def zero_or_greater(name: str, value: Any) -> None:
    """Raise ``ValueError`` if ``int(value)`` is negative (pika's ``validators.zero_or_greater``)."""
    if int(value) < 0:
        raise ValueError(f"{name} must be >= 0, but got {value}")
