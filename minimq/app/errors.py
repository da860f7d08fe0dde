"""The application API's own errors.

Refusals by the broker keep their core class (:mod:`minimq.errors`, the same on every transport), so
a caller handles one family for them.  What is raised here is what only the application layer can
go wrong at: a declaration refused while an app starts, an object no converter can write, an RPC
request nobody routed or answered.

``MessageConversionError`` is a ``TypeError`` and ``ReplyTimeout`` a ``TimeoutError`` on purpose:
code that already catches the builtin kind keeps working, and code that wants the precise one can.
"""

from __future__ import annotations

from typing import Any

from .messages import ReturnedMessage

__all__ = ["AppError", "DeclarationError", "MessageConversionError", "ReplyTimeout", "MessageReturnedError"]


class AppError(Exception):
    """Base class of the application API's errors that are not a builtin kind (see the module docstring)."""


class DeclarationError(AppError):
    """A queue, exchange or binding the broker refused to declare.

    ``declaration`` is the refused :class:`~minimq.app.declarations.Queue` / ``Exchange`` /
    ``Binding``; ``cause`` is the broker's error (a :mod:`minimq.errors` class, e.g. 406
    ``PreconditionFailed`` for an existing queue declared with other arguments), also set as
    ``__cause__`` when raised with ``raise ... from cause``.
    """

    def __init__(self, declaration: Any, cause: BaseException) -> None:
        super().__init__(f"cannot declare {declaration!r}: {cause}")
        self.declaration = declaration
        self.cause = cause


class MessageConversionError(TypeError):
    """An object no converter can write, or a body that does not decode as its ``content_type`` says."""


class ReplyTimeout(TimeoutError):
    """No reply with the request's correlation id came within the timeout (an RPC call).

    ``correlation_id`` is the request's; ``timeout`` the seconds waited.  A reply arriving later is
    dropped as a stray one: it never answers another call.
    """

    def __init__(self, correlation_id: str, timeout: float, exchange: str, routing_key: str) -> None:
        super().__init__(f"no reply to correlation id {correlation_id!r} (sent to exchange {exchange!r} "
                         f"with routing key {routing_key!r}) within {timeout} s")
        self.correlation_id = correlation_id
        self.timeout = timeout


class MessageReturnedError(AppError):
    """An RPC request published ``mandatory`` came back unroutable (``basic.return``, 312 NO_ROUTE):
    no reply can come, so the call fails at once instead of waiting for its timeout.
    ``returned`` is the :class:`~minimq.app.messages.ReturnedMessage`."""

    def __init__(self, returned: ReturnedMessage, correlation_id: str) -> None:
        super().__init__(f"request {correlation_id!r} returned by the broker: {returned.reply_code} "
                         f"{returned.reply_text} (exchange {returned.exchange!r}, routing key "
                         f"{returned.routing_key!r})")
        self.returned = returned
        self.correlation_id = correlation_id
