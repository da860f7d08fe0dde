"""minimq: an embeddable, in-process message broker with RabbitMQ 3.10's AMQP 0-9-1 model.

The supported surface is re-exported here.  Layout: the core (this package's top-level modules)
knows nothing of persistence, asyncio or the pika facade; those live in subpackages that depend on
the core, never the reverse.
"""

from .broker import Broker
from .channel import Channel, PublishOutcome, QueueDeclareOk
from .connection import Connection
from .clock import Clock, ManualClock, SystemClock
from .errors import (AccessRefused, AMQPError, ChannelClosed, ChannelError, ChannelErrorHard,
                     CommandInvalid, ConnectionClosed, ConnectionError, ConnectionForced, FrameError,
                     InternalError, ConfirmTimeout, PublishNacked,
                     LoginRefused, NotAllowed, NotFound, NotImplementedByServer, PreconditionFailed, ResourceLocked)
from .events import EVENT_KINDS, Event, Subscription
from .poison import PoisonGuard, PoisonMessageError
from .message import Confirm, ConsumerCancelled, Delivery, Message, Properties, Returned
from .users import PasswordHash, User

__version__ = "0.1.0"


#: names of the feature modules (definitions, statistics, the journal, redrive, snapshots) exported
#: here but imported on first use, so that ``import minimq`` loads only what brokers need
_ON_FIRST_USE = {
    "format_table": "stats",
    "DefinitionsError": "definitions", "ImportReport": "definitions", "Skipped": "definitions",
    "Journal": "journal", "JournalDisabledError": "journal", "MessageRecord": "journal",
    "MoveReport": "redrive",
    "Snapshot": "snapshot",
}


def __getattr__(name: str) -> object:
    """The names of :data:`_ON_FIRST_USE`, and ``minimq.App`` (the application API: the core never
    imports its plugins), imported on first use."""
    if name == "App":
        from .app import App

        return App
    module = _ON_FIRST_USE.get(name)
    if module is not None:
        import importlib

        value = getattr(importlib.import_module(f".{module}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'minimq' has no attribute {name!r}")


__all__ = [
    "Broker", "Connection", "Channel", "PublishOutcome", "QueueDeclareOk",
    "Clock", "ManualClock", "SystemClock",
    "Properties", "Message", "Delivery", "Returned", "ConsumerCancelled", "Confirm",
    "AMQPError", "ChannelError", "ConnectionError", "AccessRefused", "NotFound", "ResourceLocked",
    "PreconditionFailed", "ConnectionForced", "FrameError", "CommandInvalid", "ChannelErrorHard", "NotAllowed", "LoginRefused",
    "NotImplementedByServer", "InternalError", "ChannelClosed", "ConnectionClosed",
    "ConfirmTimeout", "PublishNacked",
    "Event", "Subscription", "EVENT_KINDS", "format_table",
    "Journal", "MessageRecord", "JournalDisabledError", "MoveReport", "PoisonGuard", "PoisonMessageError",
    "DefinitionsError", "ImportReport", "Skipped", "PasswordHash", "User", "Snapshot",
    "__version__",
]
