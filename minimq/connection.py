"""A client connection: one vhost, one user, its channels, and what closing it closes.

A connection opens channels through the factory the broker hands it (the :class:`~minimq.channel.Channel`
class), so this module knows channels only as objects with a ``close_locked(cause)`` method.  Its
exclusive queues are the vhost's to keep: closing asks the vhost to delete them.

Channel numbers (docs/semantics.md §1.1): any of 1..65535; ``channel_max`` (2047) bounds how many are
open at once, not the numbers; a second ``channel.open`` of an open number is a hard error (504), and
so is opening one past ``channel_max`` (530).  A hard error closes the connection with every channel on
it, through the kernel's release path, so waiters on sibling channels wake at once.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

from .errors import AMQPError, ChannelErrorHard, ConnectionClosed, NotAllowed
from .kernel import Kernel
from .vhost import VirtualHost

__all__ = ["Connection", "CHANNEL_MAX"]

#: the channel_max minimq negotiates (RabbitMQ 3.10's default)
CHANNEL_MAX = 2047


class ChannelLike(Protocol):
    """What a connection needs of its channels."""

    number: int

    def close_locked(self, cause: AMQPError | None) -> None:
        """Close the channel (lock held); ``cause`` None means the client closed it."""


class Connection:
    """One client connection to one vhost: owns channels; its exclusive queues live in the vhost."""

    def __init__(self, kernel: Kernel, vhost: VirtualHost, user: str,
                 open_channel: Callable[[Connection, int, bool], Any], registry: set[Connection]) -> None:
        self.kernel = kernel
        self.vhost = vhost
        self.user = user
        kernel.connections_opened += 1
        #: this connection's number, in opening order from 1 (``Event.connection``, ``list_connections``)
        self.number = kernel.connections_opened
        self.channels: dict[int, Any] = {}
        self.close_cause: AMQPError | None = None
        self.is_open = True
        #: builds a channel: ``open_channel(connection, number, inline)``
        self._open_channel = open_channel
        #: the broker's set of open connections; a closing connection removes itself
        self._registry = registry
        #: ``on_close(cause)``, called once after the lock is released when the connection closes
        #: (``cause`` None: closed by the client); protocol facades use it to tell their client
        self.on_close: Callable[[AMQPError | None], None] | None = None
        #: the client's ``connection_name`` (its client properties), when a facade knows it
        self.client_name: str | None = None
        #: ``on_blocked(reason)`` / ``on_blocked(None)``: the client asked for ``connection.blocked``
        #: notifications (its capabilities); called outside the lock when this connection gets
        #: blocked / unblocked (see :meth:`note_publish`)
        self.on_blocked: Callable[[str | None], None] | None = None
        #: the broker's resource alarm while one is raised (``Broker.block_publishers``), else None
        self.alarm: str | None = None
        #: RabbitMQ's ``should_block``: this connection has published (only publishers are blocked)
        self.has_published = False
        #: a ``connection.blocked`` was sent and no ``connection.unblocked`` yet
        self.blocked_sent = False

    @property
    def is_closed(self) -> bool:
        """True once the connection is closed (by the client, a hard error or the broker)."""
        return not self.is_open

    def channel(self, channel_number: int | None = None, *, inline: bool = True) -> Any:
        """Open a channel (lowest free number unless given).  ``inline=False``: events wait to be pulled.

        Raises :class:`ConnectionClosed` on a closed connection, ``ValueError`` for a number outside
        1..65535, :class:`ChannelErrorHard` (504) for a number already open and :class:`NotAllowed`
        (530) past ``channel_max``; the last two close the connection, as RabbitMQ does.
        """
        kernel = self.kernel
        kernel.lock.acquire()
        try:
            if not self.is_open:
                raise ConnectionClosed("connection is closed", self.close_cause)
            if channel_number is None:
                channel_number = 1
                while channel_number in self.channels:
                    channel_number += 1
            elif type(channel_number) is not int or not 1 <= channel_number <= 65535:
                raise ValueError(f"channel_number must be an int in 1..65535, got {channel_number!r}")
            if channel_number in self.channels:
                # a second channel.open on an open number: RabbitMQ closes the connection
                error: AMQPError = ChannelErrorHard("second 'channel.open' seen")
                self.close_locked(error)
                raise error
            if len(self.channels) >= CHANNEL_MAX:  # channel_max bounds how many are open, not the numbers
                error = NotAllowed(f"number of channels opened ({len(self.channels)}) has reached the "
                                   f"negotiated channel_max ({CHANNEL_MAX})")
                self.close_locked(error)
                raise error
            channel = self._open_channel(self, channel_number, inline)
            self.channels[channel_number] = channel
            return channel
        finally:
            kernel.release()  # wakes the channels a refusal closed

    def close(self) -> None:
        """Close every channel (unacked messages requeued) and delete this connection's exclusive queues.

        Closing twice is harmless.
        """
        with self.kernel:
            if self.is_open:
                self.close_locked(None)

    def close_with_error(self, error: AMQPError) -> None:
        """Close as the server does after a hard error it detects outside any channel method (e.g. a
        method sent on a channel number that is not open: 504 CHANNEL_ERROR).  Facades use it for
        protocol violations their client library commits.  A closed connection stays as it was."""
        with self.kernel:
            self.close_locked(error)

    def close_locked(self, cause: AMQPError | None, origin: ChannelLike | None = None) -> None:
        """Close with the lock held: channels closed with ``cause``, exclusive queues deleted.

        ``origin`` is the channel whose method caused a hard error: it closes first, as in RabbitMQ,
        where that channel's process stops before the connection shuts the others down.  What it
        requeues is therefore offered to the other channels' consumers while they are still attached.
        """
        if not self.is_open:
            return
        self.is_open = False
        self.close_cause = cause
        if origin is not None:
            origin.close_locked(cause)
        for channel in list(self.channels.values()):
            channel.close_locked(cause)
        self.vhost.delete_exclusive_queues(self)
        self._registry.discard(self)
        if self.on_close is not None:
            self.kernel.wakes.append(self)  # the kernel calls wake() once the lock is released

    # -- flow control: RabbitMQ's reader throttle, modelled for facades that model the socket -------
    def note_publish(self) -> bool:
        """A facade is about to hand the broker a publish from this connection: True if the connection
        is blocked now (a resource alarm is raised), and the publish must wait until it is unblocked.

        As RabbitMQ's reader does, the first publish during an alarm blocks the connection and sends
        ``connection.blocked`` (to a client that asked for it); a connection that has published before
        the alarm is blocked, and told, when the alarm is raised.  The notification is delivered
        through :attr:`on_blocked`, outside the lock, before this returns.
        """
        if self.has_published and self.alarm is None:
            return False  # the common case: no lock round trip
        kernel = self.kernel
        with kernel:
            self.has_published = True
            reason = self.alarm
            notify = reason is not None and self.is_open and self.on_blocked is not None and not self.blocked_sent
            if notify:
                self.blocked_sent = True
        if notify:
            self.notify_blocked(reason)
        return reason is not None

    def set_alarm(self, reason: str | None) -> bool:
        """The broker raised (``reason``) or cleared (None) a resource alarm (lock held).  True when this
        connection is owed a ``connection.blocked`` / ``connection.unblocked`` notification: call
        :meth:`notify_blocked` with ``reason`` after releasing the lock."""
        self.alarm = reason
        if not self.is_open or self.on_blocked is None:
            return False
        if reason is not None:
            if self.has_published and not self.blocked_sent:
                self.blocked_sent = True
                return True
            return False
        if self.blocked_sent:
            self.blocked_sent = False
            return True
        return False

    def notify_blocked(self, reason: str | None) -> None:
        """Call :attr:`on_blocked` (outside the lock); a hook that raises is the facade's bug and propagates."""
        hook = self.on_blocked
        if hook is not None:
            hook(reason)

    def wake(self) -> None:
        """Run the ``on_close`` hook (the kernel calls this after the lock is released)."""
        hook = self.on_close
        if hook is not None:
            self.on_close = None
            hook(self.close_cause)

    def forget_channel(self, channel: ChannelLike) -> None:
        """A channel closed: its number is free again (lock held)."""
        if self.channels.get(channel.number) is channel:
            del self.channels[channel.number]

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self.is_open else "closed"
        return f"Connection({self.number}, vhost={self.vhost.name!r}, channels={len(self.channels)}, {state})"
