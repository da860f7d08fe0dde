"""Names: how the broker checks, cleans and invents the names of exchanges, queues and consumer tags.

A leaf module: it imports nothing of the broker.  The rules (docs/semantics.md §3):

* every name is a ``str`` of at most 255 bytes of UTF-8 (AMQP's ``shortstr``); anything else is a
  programming mistake, refused with ``TypeError``/``ValueError`` before any state changes;
* RabbitMQ strips CR and LF from the names it declares, deletes and binds;
* server-generated names are a prefix and 22 URL-safe base64 characters of randomness
  (``amq.gen-…`` queues, ``amq.ctag-…`` consumer tags);
* ``amq.rabbitmq.reply-to`` is the pseudo-queue of direct reply-to.
"""

from __future__ import annotations

import base64
import os
from typing import Any

__all__ = ["REPLY_TO", "REPLY_PREFIX", "check_name", "random_name", "strip_crlf"]

#: the pseudo-queue a client consumes from (and names in ``reply_to``) for direct reply-to
REPLY_TO = "amq.rabbitmq.reply-to"
#: routing keys of replies: ``amq.rabbitmq.reply-to.<token>``
REPLY_PREFIX = REPLY_TO + "."


def check_name(value: Any, what: str) -> str:
    """Return ``value`` if it is a ``str`` of at most 255 UTF-8 bytes.

    Raises ``TypeError`` (not a ``str``) or ``ValueError`` (too long), naming ``what``.  Cost: a type
    test; names of up to 63 characters are never encoded (they cannot exceed 255 bytes).
    """
    if type(value) is not str:
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    if len(value) > 63 and len(value.encode()) > 255:
        raise ValueError(f"{what} must be at most 255 bytes of UTF-8, got {len(value.encode())}")
    return value


def random_name(prefix: str) -> str:
    """``prefix`` + 22 URL-safe base64 characters, as RabbitMQ names server-generated queues and tags."""
    return prefix + base64.urlsafe_b64encode(os.urandom(16)).decode()[:22]


def strip_crlf(name: str) -> str:
    """``name`` without CR and LF characters (RabbitMQ removes them from declared names)."""
    if "\r" in name or "\n" in name:
        return name.replace("\r", "").replace("\n", "")
    return name
