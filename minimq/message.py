"""Messages, their 14 basic properties, and what consumers receive.

Cost model: one :class:`Message` per publish, shared by every queue it reaches (it is never mutated
after routing); one :class:`Delivery` per delivery.  Both are plain ``__slots__`` classes (not frozen:
a frozen slotted instance costs about twice as much to create).  ``properties`` is ``None`` when the
publisher gave none, so the common case allocates nothing for them.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Properties", "Message", "BccMessage", "Delivery", "Returned", "ConsumerCancelled", "Confirm",
           "PROPERTY_NAMES"]

PROPERTY_NAMES = (
    "content_type",
    "content_encoding",
    "headers",
    "delivery_mode",
    "priority",
    "correlation_id",
    "reply_to",
    "expiration",
    "message_id",
    "timestamp",
    "type",
    "user_id",
    "app_id",
    "cluster_id",
)


class Properties:
    """The 14 AMQP basic properties; absent ones are ``None`` and stay absent (no defaults are added).

    Construction stores the arguments as given: no validation, no copying (``headers`` is kept by
    reference), 14 slot writes.  Validation of ``expiration``, ``priority`` etc. happens at publish.
    Equality compares all 14 fields; instances are unhashable.  Fields are mutable, but the broker
    never mutates a Properties once it is attached to a routed :class:`Message`: it rewrites by copy
    (:meth:`with_reply_to`, :meth:`dead_lettered`).
    """

    __slots__ = PROPERTY_NAMES

    def __init__(
        self,
        content_type: str | None = None,
        content_encoding: str | None = None,
        headers: dict[str, Any] | None = None,
        delivery_mode: int | None = None,
        priority: int | None = None,
        correlation_id: str | None = None,
        reply_to: str | None = None,
        expiration: str | None = None,
        message_id: str | None = None,
        timestamp: int | None = None,
        type: str | None = None,  # noqa: A002 - the AMQP property name
        user_id: str | None = None,
        app_id: str | None = None,
        cluster_id: str | None = None,
    ) -> None:
        self.content_type = content_type
        self.content_encoding = content_encoding
        self.headers = headers
        self.delivery_mode = delivery_mode
        self.priority = priority
        self.correlation_id = correlation_id
        self.reply_to = reply_to
        self.expiration = expiration
        self.message_id = message_id
        self.timestamp = timestamp
        self.type = type
        self.user_id = user_id
        self.app_id = app_id
        self.cluster_id = cluster_id

    @classmethod
    def from_object(cls, other: Any) -> Properties:
        """Copy the 14 fields from any object that has them (``pika.BasicProperties`` for instance).

        A field the object lacks becomes ``None``; values are taken by reference (``headers`` is not
        copied).  Never raises for a missing attribute.
        """
        return cls(**{name: getattr(other, name, None) for name in PROPERTY_NAMES})

    def copy(self, **changes: Any) -> Properties:
        """A new Properties with ``changes`` (property name -> value) applied.

        Shallow: unchanged fields, ``headers`` included, are shared with ``self``.  Raises
        ``AttributeError`` for a name that is not one of the 14 properties.
        """
        new = self._with(self.headers, self.reply_to, self.expiration)
        for name, value in changes.items():
            setattr(new, name, value)
        return new

    def with_reply_to(self, reply_to: str) -> Properties:
        """A copy with another ``reply_to`` (direct reply-to rewrites it on every request).

        Shallow (``headers`` is shared); one positional construction, no validation.
        """
        return self._with(self.headers, reply_to, self.expiration)

    def dead_lettered(self, headers: dict[str, Any]) -> Properties:
        """The properties of a dead-lettered copy: ``headers`` replaced, ``expiration`` removed.

        Every other field is kept as is; shallow, one positional construction, no validation.
        """
        return self._with(headers, self.reply_to, None)

    def _with(self, headers: dict[str, Any] | None, reply_to: str | None, expiration: str | None) -> Properties:
        # The three fields the broker ever rewrites; built positionally (one call, no kwargs dict):
        # direct reply-to and dead-lettering pay this per message.
        return Properties(self.content_type, self.content_encoding, headers, self.delivery_mode,
                          self.priority, self.correlation_id, reply_to, expiration, self.message_id,
                          self.timestamp, self.type, self.user_id, self.app_id, self.cluster_id)

    def to_dict(self) -> dict[str, Any]:
        """The properties that are not ``None``, by name, in AMQP order (:data:`PROPERTY_NAMES`).

        A new dict each call; values are not copied.
        """
        return {name: value for name in PROPERTY_NAMES if (value := getattr(self, name)) is not None}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Properties):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in PROPERTY_NAMES)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"Properties({inner})"


class Message:
    """A published message: body, properties and the exchange/routing key it was published with.

    Construction stores the arguments as given (no validation, no copy; five slot writes); the
    channel validates at publish time.  One Message is shared by every queue it reaches and is not
    mutated after routing.  ``ttl`` is the per-message TTL in milliseconds parsed from the
    ``expiration`` property, or ``None``.
    """

    __slots__ = ("body", "properties", "exchange", "routing_key", "ttl")

    #: the message's identity in the broker's event stream (:mod:`minimq.events`): class-level None,
    #: so a message published while nobody listened costs no slot; traced subclasses set their own
    trace_id: int | None = None
    #: for a dead-lettered copy, the identity of the message it was made from
    origin_id: int | None = None

    def __init__(self, body: bytes, properties: Properties | None, exchange: str, routing_key: str,
                 ttl: int | None = None) -> None:
        self.body = body
        self.properties = properties
        self.exchange = exchange
        self.routing_key = routing_key
        #: per-message TTL in ms, parsed from the ``expiration`` property when it was published
        self.ttl = ttl

    @property
    def headers(self) -> dict[str, Any] | None:
        """``properties.headers``, or ``None`` when there are no properties or no headers (O(1), no copy)."""
        props = self.properties
        return None if props is None else props.headers

    def __repr__(self) -> str:
        return f"Message(exchange={self.exchange!r}, routing_key={self.routing_key!r}, body={self.body[:40]!r})"


class BccMessage(Message):
    """A message published with a ``BCC`` header: the header is gone from what consumers see, but
    its keys still route the message when it is dead-lettered (as RabbitMQ does).

    ``bcc`` holds the BCC routing keys, stored as given.
    """

    __slots__ = ("bcc",)

    def __init__(self, body: bytes, properties: Properties | None, exchange: str, routing_key: str,
                 ttl: int | None, bcc: list[str]) -> None:
        super().__init__(body, properties, exchange, routing_key, ttl)
        self.bcc = bcc


class Delivery:
    """One message handed to a consumer (``basic.deliver``) or to ``basic_get`` (``basic.get-ok``).

    ``consumer_tag`` is ``None`` for a get; ``message_count`` is set for a get only (ready messages left).
    ``exchange`` and ``routing_key`` are copied from the message at construction.  ``queue``, ``entry``
    and ``consumer`` are the broker's settlement bookkeeping; ``channel`` is the receiving channel.
    Construction does no validation.
    """

    __slots__ = (
        "consumer_tag",
        "delivery_tag",
        "redelivered",
        "exchange",
        "routing_key",
        "message",
        "message_count",
        "channel",
        "queue",
        "entry",
        "consumer",
    )

    def __init__(
        self,
        consumer_tag: str | None,
        delivery_tag: int,
        redelivered: bool,
        message: Message,
        queue: Any = None,
        entry: Any = None,
        consumer: Any = None,
        channel: Any = None,
    ) -> None:
        self.consumer_tag = consumer_tag
        self.delivery_tag = delivery_tag
        self.redelivered = redelivered
        self.message = message
        self.exchange = message.exchange
        self.routing_key = message.routing_key
        self.message_count: int | None = None
        #: the channel that received it
        self.channel: Any = channel
        #: broker bookkeeping for settlement: the Queue it left, its place there (QueuedMessage) and
        #: the Consumer it went to (None for a get or a direct reply-to)
        self.queue: Any = queue
        self.entry: Any = entry
        self.consumer: Any = consumer

    @property
    def body(self) -> bytes:
        """The message body (``message.body``)."""
        return self.message.body

    @property
    def properties(self) -> Properties | None:
        """The message's properties, ``None`` when it was published without any."""
        return self.message.properties

    @property
    def headers(self) -> dict[str, Any] | None:
        """The message's ``headers`` property, ``None`` when absent (:attr:`Message.headers`)."""
        return self.message.headers

    def ack(self, multiple: bool = False) -> None:
        """Shortcut for ``channel.basic_ack(delivery.delivery_tag, multiple)``.

        Raises what ``basic_ack`` raises: ``ChannelClosed`` on a closed channel, ``PreconditionFailed``
        (406, closes the channel) for a tag already settled or never awaiting an ack (a no-ack
        delivery).
        """
        self.channel.basic_ack(self.delivery_tag, multiple)

    def nack(self, multiple: bool = False, requeue: bool = True) -> None:
        """Shortcut for ``channel.basic_nack(delivery.delivery_tag, multiple, requeue)``.

        ``requeue=False`` dead-letters (reason ``rejected``) or drops the message.  Raises as :meth:`ack`.
        """
        self.channel.basic_nack(self.delivery_tag, multiple, requeue)

    def reject(self, requeue: bool = True) -> None:
        """Shortcut for ``channel.basic_reject(delivery.delivery_tag, requeue)``; raises as :meth:`ack`."""
        self.channel.basic_reject(self.delivery_tag, requeue)

    def __repr__(self) -> str:
        return (
            f"Delivery(tag={self.delivery_tag}, consumer_tag={self.consumer_tag!r}, "
            f"redelivered={self.redelivered}, exchange={self.exchange!r}, "
            f"routing_key={self.routing_key!r}, body={self.message.body[:40]!r})"
        )


class Returned:
    """A mandatory message that matched no queue (``basic.return`` 312 NO_ROUTE).

    ``reply_code`` is always 312 and ``reply_text`` ``"NO_ROUTE"``; ``exchange`` and ``routing_key``
    are those the message was published with.
    """

    __slots__ = ("reply_code", "reply_text", "exchange", "routing_key", "message")

    def __init__(self, message: Message, exchange: str, routing_key: str) -> None:
        self.reply_code = 312
        self.reply_text = "NO_ROUTE"
        self.exchange = exchange
        self.routing_key = routing_key
        self.message = message

    @property
    def body(self) -> bytes:
        """The returned message's body."""
        return self.message.body

    @property
    def properties(self) -> Properties | None:
        """The returned message's properties, ``None`` when it was published without any."""
        return self.message.properties

    def __repr__(self) -> str:
        return f"Returned(312 NO_ROUTE, exchange={self.exchange!r}, routing_key={self.routing_key!r})"


class Confirm:
    """A publisher confirm of a channel in asynchronous confirm mode (``confirm_select(wait=False)``).

    ``seq`` is the publish sequence number (``channel.publish_seq`` after that publish); with
    ``multiple`` the confirm covers every publish after the previous confirm up to ``seq``, as
    AMQP's ``basic.ack``/``basic.nack`` with ``multiple``.  ``ack`` False is a ``basic.nack``: a queue
    refused the message (``x-overflow`` reject-publish), or the store's commit failed, in which
    case ``error`` is the store's exception.  Confirms of one channel come in publish order, each
    publish covered exactly once.
    """

    __slots__ = ("seq", "ack", "multiple", "error")

    def __init__(self, seq: int, ack: bool, multiple: bool, error: BaseException | None = None) -> None:
        self.seq = seq
        self.ack = ack
        self.multiple = multiple
        self.error = error

    def __repr__(self) -> str:
        kind = "ack" if self.ack else "nack"
        extra = f", error={self.error!r}" if self.error is not None else ""
        return f"Confirm({kind} {self.seq}, multiple={self.multiple}{extra})"


class ConsumerCancelled:
    """The server cancelled a consumer (``basic.cancel`` from the broker, e.g. its queue was deleted).

    ``consumer_tag`` names the cancelled consumer.
    """

    __slots__ = ("consumer_tag",)

    def __init__(self, consumer_tag: str) -> None:
        self.consumer_tag = consumer_tag

    def __repr__(self) -> str:
        return f"ConsumerCancelled({self.consumer_tag!r})"
