"""The events a blocking channel hands around, and ``ReturnedMessage``: pika's own classes when importable.

pika's ``BlockingChannel`` queues what the broker sent as ``_ConsumerDeliveryEvt``,
``_ConsumerCancellationEvt`` and ``_ReturnedMessageEvt`` objects until it dispatches them, and
``UnroutableError``/``NackError`` carry ``ReturnedMessage`` objects.  With pika installed these are the
classes of ``pika.adapters.blocking_connection`` (so code that inspects them, or ``isinstance`` checks,
see pika's types); without pika, equivalents with the same names, slots and constructors are defined
here.  ``USING_PIKA`` says which.
"""

from __future__ import annotations

from typing import Any, Callable

__all__ = ["ReturnedMessage", "_ConsumerDeliveryEvt", "_ConsumerCancellationEvt", "_ReturnedMessageEvt",
           "_ConnectionBlockedEvt", "_ConnectionUnblockedEvt", "USING_PIKA"]

try:
    from pika.adapters.blocking_connection import (ReturnedMessage, _ConnectionBlockedEvt,
                                                   _ConnectionUnblockedEvt, _ConsumerCancellationEvt,
                                                   _ConsumerDeliveryEvt, _ReturnedMessageEvt)
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:

    class ReturnedMessage:  # type: ignore[no-redef]
        """A message returned via Basic.Return in publisher-acknowledgements mode."""

        __slots__ = ("method", "properties", "body")

        def __init__(self, method: Any, properties: Any, body: bytes) -> None:
            self.method = method
            self.properties = properties
            self.body = body

    class _ConsumerDeliveryEvt:  # type: ignore[no-redef]
        """A ``Basic.Deliver`` for a consumer: method, properties and body, waiting for dispatch."""

        __slots__ = ("method", "properties", "body")

        def __init__(self, method: Any, properties: Any, body: bytes) -> None:
            self.method = method
            self.properties = properties
            self.body = body

    class _ConsumerCancellationEvt:  # type: ignore[no-redef]
        """The broker's ``Basic.Cancel`` of a consumer (its queue was deleted ...), waiting for dispatch."""

        __slots__ = ("method_frame",)

        def __init__(self, method_frame: Any) -> None:
            self.method_frame = method_frame

        def __repr__(self) -> str:
            return f"<{self.__class__.__name__} method_frame={self.method_frame!r}>"

        @property
        def method(self) -> Any:
            """The ``Basic.Cancel`` method."""
            return self.method_frame.method

    class _ReturnedMessageEvt:  # type: ignore[no-redef]
        """A message returned by the broker (``Basic.Return``) for a return callback."""

        __slots__ = ("callback", "channel", "method", "properties", "body")

        def __init__(self, callback: Callable, channel: Any, method: Any, properties: Any, body: bytes) -> None:
            self.callback = callback
            self.channel = channel
            self.method = method
            self.properties = properties
            self.body = body

        def __repr__(self) -> str:
            return (f"<{self.__class__.__name__} callback={self.callback!r} channel={self.channel!r} "
                    f"method={self.method!r} properties={self.properties!r} body={self.body!r:.300}>")

        def dispatch(self) -> None:
            """Run the return callback: ``callback(channel, method, properties, body)``."""
            self.callback(self.channel, self.method, self.properties, self.body)

    class _ConnectionBlockedEvt:  # type: ignore[no-redef]
        """A ``Connection.Blocked`` from the broker, for a blocked callback."""

        __slots__ = ("_callback", "_method_frame")

        def __init__(self, callback: Callable, method_frame: Any) -> None:
            self._callback = callback
            self._method_frame = method_frame

        def dispatch(self) -> None:
            """Run the callback: ``callback(method_frame)`` (the connection is bound in already)."""
            self._callback(self._method_frame)

    class _ConnectionUnblockedEvt(_ConnectionBlockedEvt):  # type: ignore[no-redef]
        """A ``Connection.Unblocked`` from the broker, for an unblocked callback."""
