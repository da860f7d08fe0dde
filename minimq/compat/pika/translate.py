"""Core errors -> pika exceptions: the facade's one translation point.

minimq's core raises :mod:`minimq.errors` (soft channel errors, hard connection errors, and "already
closed" errors); a pika user expects ``pika.exceptions``.  :func:`translate_error` is the single
mapping between the two, so that every call in :mod:`.blocking_connection` that catches a core error
raises what pika would, with the reply text as it would have crossed the wire
(:func:`wire_reply_text`).  :data:`CORE_ERRORS` is the tuple of core error classes the facade
catches around core calls.

This module imports only the core's public error classes and :mod:`.exceptions`.
"""

from __future__ import annotations

from typing import Any

from ... import errors as core_errors
from . import exceptions

__all__ = ["CORE_ERRORS", "translate_error", "wire_reply_text"]

#: the core errors the facade catches around a core call (and hands to :func:`translate_error`)
CORE_ERRORS: tuple[type[Exception], ...] = (core_errors.AMQPError, core_errors.ChannelClosed,
                                            core_errors.ConnectionClosed)


def translate_error(error: BaseException, *, opening: bool = False) -> BaseException:
    """The pika exception a pika user sees for a core error (the facade's single translation point).

    * :class:`minimq.errors.ChannelError` (soft) -> ``ChannelClosedByBroker(reply_code, reply_text)``
    * :class:`minimq.errors.ConnectionError` (hard) -> ``ConnectionClosedByBroker(reply_code, reply_text)``;
      while the connection is being opened (``opening``), what pika's constructor raises instead:
      ``ProbableAccessDeniedError`` for 530 (unknown vhost), ``ProbableAuthenticationError`` for 403
      (login refused), else ``AMQPConnectionError``
    * :class:`minimq.errors.ChannelClosed` -> ``ChannelWrongStateError('Channel is closed.')``
    * :class:`minimq.errors.ConnectionClosed` -> ``ConnectionWrongStateError``

    The reply text is the one that crosses the wire (see :func:`wire_reply_text`).  Anything else is
    returned unchanged.
    """
    if isinstance(error, core_errors.ChannelError):
        return exceptions.ChannelClosedByBroker(error.reply_code, wire_reply_text(error.reply_text))
    if isinstance(error, core_errors.ConnectionError):
        closed = exceptions.ConnectionClosedByBroker(error.reply_code, wire_reply_text(error.reply_text))
        if not opening:
            return closed
        if error.reply_code == 530:
            return exceptions.ProbableAccessDeniedError(repr(closed))
        if error.reply_code == 403:
            return exceptions.ProbableAuthenticationError(repr(closed))
        return exceptions.AMQPConnectionError(repr(closed))
    if isinstance(error, core_errors.ChannelClosed):
        return exceptions.ChannelWrongStateError("Channel is closed.")
    if isinstance(error, core_errors.ConnectionClosed):
        return exceptions.ConnectionWrongStateError("Attempted to send a frame on closed connection.")
    return error


def wire_reply_text(text: str) -> Any:
    """A reply text as pika receives it: a short string, so RabbitMQ cuts a text over 255 bytes to its
    first 252 bytes + ``...`` (``rabbit_binary_generator``), and pika keeps bytes it cannot decode.

    Returns ``text`` itself when it fits, else the cut text as ``str`` (or ``bytes`` when the cut falls
    inside a multi-byte character).
    """
    raw = text.encode()
    if len(raw) <= 255:
        return text
    raw = raw[:252] + b"..."
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw
