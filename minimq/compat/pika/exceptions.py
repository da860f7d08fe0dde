"""pika's exception classes: ``pika.exceptions`` itself when pika is importable, else equivalents.

The fallback classes have pika 1.x's names, bases, constructor arguments and ``repr`` texts, so code
written against ``pika.exceptions`` (``except ChannelClosedByBroker as e: e.reply_code``) works the same
either way.
"""

from __future__ import annotations

from typing import Any, Sequence

__all__ = [
    "AMQPError", "AMQPConnectionError", "ConnectionOpenAborted", "StreamLostError", "IncompatibleProtocolError",
    "AuthenticationError", "ProbableAuthenticationError", "ProbableAccessDeniedError", "NoFreeChannels",
    "ConnectionWrongStateError", "ConnectionClosed", "ConnectionClosedByBroker", "ConnectionClosedByClient",
    "ConnectionBlockedTimeout", "AMQPHeartbeatTimeout", "AMQPChannelError", "ChannelWrongStateError",
    "ChannelClosed", "ChannelClosedByBroker", "ChannelClosedByClient", "DuplicateConsumerTag",
    "ConsumerCancelled", "UnroutableError", "NackError", "InvalidChannelNumber", "ProtocolSyntaxError",
    "UnexpectedFrameError", "ProtocolVersionMismatch", "BodyTooLongError", "InvalidFrameError",
    "InvalidFieldTypeException", "UnsupportedAMQPFieldException", "MethodNotImplemented", "ChannelError",
    "ReentrancyError", "ShortStringTooLong", "DuplicateGetOkCallback", "USING_PIKA",
]

try:
    from pika.exceptions import (AMQPChannelError, AMQPConnectionError, AMQPError, AMQPHeartbeatTimeout,
                                 AuthenticationError, BodyTooLongError, ChannelClosed, ChannelClosedByBroker,
                                 ChannelClosedByClient, ChannelError, ChannelWrongStateError,
                                 ConnectionBlockedTimeout, ConnectionClosed, ConnectionClosedByBroker,
                                 ConnectionClosedByClient, ConnectionOpenAborted, ConnectionWrongStateError,
                                 ConsumerCancelled, DuplicateConsumerTag, DuplicateGetOkCallback,
                                 IncompatibleProtocolError, InvalidChannelNumber, InvalidFieldTypeException,
                                 InvalidFrameError, MethodNotImplemented, NackError, NoFreeChannels,
                                 ProbableAccessDeniedError, ProbableAuthenticationError, ProtocolSyntaxError,
                                 ProtocolVersionMismatch, ReentrancyError, ShortStringTooLong, StreamLostError,
                                 UnexpectedFrameError, UnroutableError, UnsupportedAMQPFieldException)
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:

    class AMQPError(Exception):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: An unspecified AMQP error has occurred; {self.args}"

    class AMQPConnectionError(AMQPError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            if len(self.args) == 2:
                return f"{self.__class__.__name__}: ({self.args[0]}) {self.args[1]}"
            return f"{self.__class__.__name__}: {self.args}"

    class ConnectionOpenAborted(AMQPConnectionError):  # type: ignore[no-redef]
        """Client closed connection while opening."""

    class StreamLostError(AMQPConnectionError):  # type: ignore[no-redef]
        """Stream (TCP) connection lost."""

    class IncompatibleProtocolError(AMQPConnectionError):  # type: ignore[no-redef]
        pass

    class AuthenticationError(AMQPConnectionError):  # type: ignore[no-redef]
        pass

    class ProbableAuthenticationError(AMQPConnectionError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return (f"{self.__class__.__name__}: Client was disconnected at a connection stage indicating a "
                    f"probable authentication error: {self.args}")

    class ProbableAccessDeniedError(AMQPConnectionError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return (f"{self.__class__.__name__}: Client was disconnected at a connection stage indicating a "
                    f"probable denial of access to the specified virtual host: {self.args}")

    class NoFreeChannels(AMQPConnectionError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: The connection has run out of free channels"

    class ConnectionWrongStateError(AMQPConnectionError):  # type: ignore[no-redef]
        """Connection is in wrong state for the requested operation."""

        def __repr__(self) -> str:
            if self.args:
                return super().__repr__()
            return f"{self.__class__.__name__}: The connection is in wrong state for the requested operation."

    class _ClosedWithReply(Exception):
        """What pika's ConnectionClosed and ChannelClosed share: ``(reply_code, reply_text)`` args."""

        def __init__(self, reply_code: int, reply_text: str) -> None:
            super().__init__(int(reply_code), str(reply_text))

        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: ({self.reply_code}) {self.reply_text!r}"

        @property
        def reply_code(self) -> int:
            return self.args[0]

        @property
        def reply_text(self) -> str:
            return self.args[1]

    class ConnectionClosed(_ClosedWithReply, AMQPConnectionError):  # type: ignore[no-redef]
        pass

    class ConnectionClosedByBroker(ConnectionClosed):  # type: ignore[no-redef]
        """Connection.Close from broker."""

    class ConnectionClosedByClient(ConnectionClosed):  # type: ignore[no-redef]
        """Connection was closed at request of the client."""

    class ConnectionBlockedTimeout(AMQPConnectionError):  # type: ignore[no-redef]
        """RabbitMQ-specific: timed out waiting for connection.unblocked."""

    class AMQPHeartbeatTimeout(AMQPConnectionError):  # type: ignore[no-redef]
        """Connection was dropped as result of heartbeat timeout."""

    class AMQPChannelError(AMQPError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: {self.args!r}"

    class ChannelWrongStateError(AMQPChannelError):  # type: ignore[no-redef]
        """Channel is in wrong state for the requested operation."""

    class ChannelClosed(_ClosedWithReply, AMQPChannelError):  # type: ignore[no-redef]
        """The channel closed by client or by broker."""

    class ChannelClosedByBroker(ChannelClosed):  # type: ignore[no-redef]
        """``Channel.Close`` from broker."""

    class ChannelClosedByClient(ChannelClosed):  # type: ignore[no-redef]
        """Channel closed by client upon receipt of ``Channel.CloseOk``."""

    class DuplicateConsumerTag(AMQPChannelError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return (f"{self.__class__.__name__}: The consumer tag specified already exists for this channel: "
                    f"{self.args[0]}")

    class ConsumerCancelled(AMQPChannelError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Server cancelled consumer"

    class UnroutableError(AMQPChannelError):  # type: ignore[no-redef]
        """Unroutable messages returned by the broker via Basic.Return (publisher-confirm mode)."""

        def __init__(self, messages: Sequence[Any]) -> None:
            super().__init__(f"{len(messages)} unroutable message(s) returned")
            self.messages = messages

        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: {len(self.messages)} unroutable messages returned by broker"

    class NackError(AMQPChannelError):  # type: ignore[no-redef]
        """A message published in publisher-confirm mode was Nack'ed by the broker."""

        def __init__(self, messages: Sequence[Any]) -> None:
            super().__init__(f"{len(messages)} message(s) NACKed")
            self.messages = messages

        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: {len(self.messages)} unroutable messages returned by broker"

    class InvalidChannelNumber(AMQPError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: An invalid channel number has been specified: {self.args[0]}"

    class ProtocolSyntaxError(AMQPError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: An unspecified protocol syntax error occurred"

    class UnexpectedFrameError(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Received a frame out of sequence: {self.args[0]!r}"

    class ProtocolVersionMismatch(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Protocol versions did not match: {self.args[0]!r} vs {self.args[1]!r}"

    class BodyTooLongError(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return (f"{self.__class__.__name__}: Received too many bytes for a message delivery: "
                    f"Received {self.args[0]}, expected {self.args[1]}")

    class InvalidFrameError(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Invalid frame received: {self.args[0]!r}"

    class InvalidFieldTypeException(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Unsupported field kind {self.args[0]}"

    class UnsupportedAMQPFieldException(ProtocolSyntaxError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: Unsupported field kind {type(self.args[1])}"

    class MethodNotImplemented(AMQPError):  # type: ignore[no-redef]
        pass

    class ChannelError(Exception):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return f"{self.__class__.__name__}: An unspecified error occurred with the Channel"

    class ReentrancyError(Exception):  # type: ignore[no-redef]
        """The requested operation would result in unsupported recursion or reentrancy."""

    class ShortStringTooLong(AMQPError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return "%s: AMQP Short String can contain up to 255 bytes: %.300s" % (self.__class__.__name__,
                                                                                 self.args[0])

    class DuplicateGetOkCallback(ChannelError):  # type: ignore[no-redef]
        def __repr__(self) -> str:
            return (f"{self.__class__.__name__}: basic_get can only be called again after the callback for "
                    "the previous basic_get is executed")
