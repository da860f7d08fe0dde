"""The one error family of the core.

Every refusal the broker makes is an :class:`AMQPError` carrying the AMQP ``reply_code`` and the
``reply_text`` RabbitMQ 3.10 would send, byte for byte.  Two branches tell what the error closes:

* :class:`ChannelError` (soft: 403, 404, 405, 406) closes the channel that made the call;
* :class:`ConnectionError` (hard: 320, 503, 504, 530, 540, 541) closes the connection and every
  channel on it.

Using a channel or connection after it closed raises :class:`ChannelClosed` /
:class:`ConnectionClosed`, which carry the error that closed it (``cause``).

Facades (``minimq.compat.pika``, ``minimq.aio``) translate this family in one function at their
boundary; the core raises nothing else for protocol-level refusals.  Plain programming mistakes
(a ``str`` body where bytes are needed, a non-``str`` name) raise ``TypeError``/``ValueError``
before any state changes.
"""

from __future__ import annotations

__all__ = [
    "AMQPError",
    "ChannelError",
    "ConnectionError",
    "AccessRefused",
    "NotFound",
    "ResourceLocked",
    "PreconditionFailed",
    "ConnectionForced",
    "FrameError",
    "CommandInvalid",
    "ChannelErrorHard",
    "NotAllowed",
    "LoginRefused",
    "NotImplementedByServer",
    "InternalError",
    "ChannelClosed",
    "ConnectionClosed",
    "error_for_code",
]


class AMQPError(Exception):
    """Base of every refusal the broker makes; ``reply_code`` and ``reply_text`` as on the wire.

    Abstract: only the concrete classes below (each a :class:`ChannelError` or a
    :class:`ConnectionError`, so each knows whether it closes the connection) can be raised.
    Instantiating :class:`AMQPError`, :class:`ChannelError` or :class:`ConnectionError` itself raises
    ``TypeError``.
    """

    reply_code: int = 0
    name: str = ""
    #: True: the connection closes (hard error); False: only the channel (soft error)
    closes_connection: bool

    def __init__(self, explanation: str = "", reply_code: int | None = None) -> None:
        if type(self) in _ABSTRACT:
            raise TypeError(f"{type(self).__name__} is abstract: raise one of its concrete subclasses "
                            "(NotFound, PreconditionFailed, NotAllowed, ...)")
        if reply_code is not None:
            self.reply_code = reply_code
        self.explanation = explanation
        if explanation:
            self.reply_text = f"{self.name} - {explanation}" if self.name else explanation
        else:
            self.reply_text = self.name
        super().__init__(self.reply_code, self.reply_text)

    def __str__(self) -> str:
        return f"({self.reply_code}) {self.reply_text}"


class ChannelError(AMQPError):
    """A soft error: the channel that made the call is closed; its siblings keep working."""

    closes_connection = False


class ConnectionError(AMQPError):  # noqa: A001 - AMQP's name; shadows the builtin only inside this module
    """A hard error: the whole connection is closed."""

    closes_connection = True


_ABSTRACT = (AMQPError, ChannelError, ConnectionError)


class AccessRefused(ChannelError):
    """403 ACCESS_REFUSED (soft): a reserved ``amq.*`` name, a system or internal exchange, the default
    exchange, a queue in exclusive use."""

    reply_code = 403
    name = "ACCESS_REFUSED"


class NotFound(ChannelError):
    """404 NOT_FOUND (soft): the exchange or queue named does not exist (passive declares included)."""

    reply_code = 404
    name = "NOT_FOUND"


class ResourceLocked(ChannelError):
    """405 RESOURCE_LOCKED (soft): the queue is exclusive to another connection."""

    reply_code = 405
    name = "RESOURCE_LOCKED"


class PreconditionFailed(ChannelError):
    """406 PRECONDITION_FAILED (soft): an inequivalent redeclare, an invalid argument, an unknown
    delivery tag, a tx/confirm mode switch."""

    reply_code = 406
    name = "PRECONDITION_FAILED"


class ConnectionForced(ConnectionError):
    """320 CONNECTION_FORCED (hard): the broker closed the connection (shutdown, vhost deleted)."""

    reply_code = 320
    name = "CONNECTION_FORCED"


class FrameError(ConnectionError):
    """501: a frame the server cannot take (e.g. a content header larger than the negotiated frame_max)."""

    reply_code = 501
    name = "FRAME_ERROR"


class CommandInvalid(ConnectionError):
    """503 COMMAND_INVALID (hard): a command the broker cannot carry out (e.g. an unknown exchange type)."""

    reply_code = 503
    name = "COMMAND_INVALID"


class ChannelErrorHard(ConnectionError):
    """504 CHANNEL_ERROR: protocol misuse of a channel (a hard error despite its name)."""

    reply_code = 504
    name = "CHANNEL_ERROR"


class NotAllowed(ConnectionError):
    """530 NOT_ALLOWED (hard): an unknown vhost, a reused consumer tag, the channel limit reached."""

    reply_code = 530
    name = "NOT_ALLOWED"


class LoginRefused(ConnectionError):
    """403 while opening a connection: unknown user or wrong password (nothing is open yet)."""

    reply_code = 403
    name = "ACCESS_REFUSED"


class NotImplementedByServer(ConnectionError):
    """540 NOT_IMPLEMENTED (hard): a feature RabbitMQ 3.10 refuses (``prefetch_size``,
    ``flow(active=False)``) or minimq lacks (stream queues)."""

    reply_code = 540
    name = "NOT_IMPLEMENTED"


class InternalError(ConnectionError):
    """541 INTERNAL_ERROR (hard): where RabbitMQ 3.10 crashes instead of refusing (e.g. comparing an
    integer argument with a decimal on redeclare)."""

    reply_code = 541
    name = "INTERNAL_ERROR"


class _WrongState(Exception):
    def __init__(self, message: str, cause: AMQPError | None = None) -> None:
        super().__init__(message)
        self.cause = cause


class ChannelClosed(_WrongState):
    """The channel is closed; ``cause`` is the :class:`AMQPError` that closed it (None if the client did)."""


class ConnectionClosed(_WrongState):
    """The connection is closed; ``cause`` is the :class:`AMQPError` that closed it (None if the client did)."""


class ConfirmTimeout(TimeoutError):
    """``wait_for_confirms``: not every publish was confirmed within the timeout (nothing is lost:
    the confirms still come, and a later wait sees them).  ``pending`` publishes were unconfirmed."""

    def __init__(self, message: str, pending: int) -> None:
        super().__init__(message)
        self.pending = pending


class PublishNacked(Exception):
    """``wait_for_confirms_or_die``: ``nacked`` publishes since the last wait were nacked.

    ``error`` (also the ``__cause__``) is the store's exception when a failed commit nacked them, or
    None when a queue refused them (``x-overflow`` reject-publish).
    """

    def __init__(self, message: str, nacked: int, error: BaseException | None = None) -> None:
        super().__init__(message)
        self.nacked = nacked
        self.error = error


_BY_CODE = {
    cls.reply_code: cls
    for cls in (
        AccessRefused, NotFound, ResourceLocked, PreconditionFailed, ConnectionForced, FrameError,
        CommandInvalid, ChannelErrorHard, NotAllowed, NotImplementedByServer, InternalError,
    )
}


def error_for_code(reply_code: int, explanation: str) -> AMQPError:
    """An instance of the concrete error class registered for ``reply_code``, with ``explanation``.

    403 maps to :class:`AccessRefused` (never :class:`LoginRefused`).  Raises ``KeyError`` for a code
    with no registered class (e.g. 312, which is a return, not an error).
    """
    return _BY_CODE[reply_code](explanation)
