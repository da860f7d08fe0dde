"""Direct reply-to (docs/semantics.md §15): RPC replies without a reply queue.

A channel consumes from the pseudo-queue ``amq.rabbitmq.reply-to`` (no-ack only, one such consumer
per channel).  Its publishes with ``reply_to = "amq.rabbitmq.reply-to"`` go out with a per-channel
address, ``amq.rabbitmq.reply-to.<token>``; a reply published to the default exchange with that
address as routing key goes straight to the channel, bypassing queues.  The vhost maps tokens to
channels (``VirtualHost.reply_channels``).

This module holds those rules; the channel holds one :class:`ReplyConsumer` (or None) and calls
these functions with the lock held.
"""

from __future__ import annotations

from typing import Any, Callable

from .errors import NotFound, PreconditionFailed
from .names import REPLY_PREFIX, REPLY_TO, random_name
from .vhost import VirtualHost

__all__ = ["ReplyConsumer", "start", "stop", "declare_ok", "channel_for", "is_reply_to"]


class ReplyConsumer:
    """One channel's direct reply-to consumer: its address token, consumer tag and callback."""

    __slots__ = ("token", "tag", "callback", "address")

    def __init__(self, token: str, tag: str, callback: Callable | None) -> None:
        self.token = token
        self.tag = tag
        self.callback = callback
        #: what ``reply_to`` becomes in this channel's publishes
        self.address = REPLY_PREFIX + token

    def __repr__(self) -> str:
        return f"ReplyConsumer({self.tag!r}, address={self.address!r})"


def is_reply_to(name: str) -> bool:
    """Whether a queue name is the pseudo-queue or one of its addresses."""
    return name.startswith(REPLY_TO)


def start(vhost: VirtualHost, channel: Any, current: ReplyConsumer | None, tag: str, auto_ack: bool,
          callback: Callable | None) -> ReplyConsumer:
    """``basic.consume`` on the pseudo-queue: 406 unless no-ack, 406 if the channel has one already."""
    if not auto_ack:
        raise PreconditionFailed("reply consumer cannot acknowledge")
    if current is not None:
        raise PreconditionFailed("reply consumer already set")
    consumer = ReplyConsumer(random_name(""), tag, callback)
    vhost.reply_channels[consumer.token] = channel
    return consumer


def stop(vhost: VirtualHost, consumer: ReplyConsumer | None) -> None:
    """The reply consumer is cancelled or its channel closed: its address stops answering."""
    if consumer is not None:
        vhost.reply_channels.pop(consumer.token, None)


def declare_ok(vhost: VirtualHost, name: str) -> tuple[str, int, int]:
    """``queue.declare`` of the pseudo-queue or a live address: ``(name, 0, 1)``; otherwise 404."""
    if name == REPLY_TO or (name.startswith(REPLY_PREFIX) and name[len(REPLY_PREFIX):] in vhost.reply_channels):
        return name, 0, 1
    raise NotFound(f"no queue '{name}' in vhost '{vhost.name}'")


def channel_for(vhost: VirtualHost, routing_key: str, _token_at: int = len(REPLY_PREFIX)) -> Any:
    """The channel a reply addressed to ``routing_key`` goes to, or None (then it is dropped)."""
    return vhost.reply_channels.get(routing_key[_token_at:])
