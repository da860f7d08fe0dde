"""A drop-in for pika's ``BlockingConnection``, backed by an in-process minimq broker.

    from minimq.compat import pika

    connection = pika.BlockingConnection(pika.ConnectionParameters("localhost"))  # the default broker
    connection = pika.BlockingConnection(broker=my_broker)                         # a given broker
    channel = connection.channel()
    channel.queue_declare("hello")
    channel.basic_publish("", "hello", b"Hello World!")

Everything pika's ``BlockingConnection``/``BlockingChannel`` offers is here with pika 1.x's names,
defaults, return values, client-side checks and exceptions, and the broker behaves as RabbitMQ 3.10
(docs/semantics.md).  When pika is importable the facade takes and gives pika's own objects
(``pika.BasicProperties``, ``pika.spec`` methods, ``pika.frame.Method``, ``pika.exceptions``); without
pika, :mod:`.spec`, :mod:`.exceptions`, :mod:`.frame` and :mod:`.connection` provide equivalents under
the same names (``USING_PIKA`` says which).

For tests, the ``minimq`` pytest plugin (:mod:`.pytest_plugin`) provides ``minimq_broker`` and
``minimq_pika``: the latter makes ``pika.BlockingConnection(...)`` in unmodified code connect to the
test's broker, and refuses real pika connections.  Outside pytest the same patch is the context manager
:func:`patch_pika` (:mod:`.patch`).
"""

from . import connection, data, exceptions, frame, spec
from .blocking_connection import (BlockingChannel, BlockingConnection, ReturnedMessage, default_broker,
                                  reset_default_broker)
from .connection import ConnectionParameters, Parameters, PlainCredentials, URLParameters
from .patch import PikaPatch, patch_pika
from .spec import BasicProperties, DeliveryMode, ExchangeType
from .translate import translate_error

#: True when the facade uses pika's own classes (pika is importable); False for the built-in equivalents
USING_PIKA: bool = spec.USING_PIKA

__all__ = [
    "BlockingConnection", "BlockingChannel", "ReturnedMessage", "default_broker", "reset_default_broker",
    "translate_error", "ConnectionParameters", "URLParameters", "Parameters", "PlainCredentials",
    "BasicProperties", "DeliveryMode", "ExchangeType", "spec", "exceptions", "frame", "data", "connection",
    "USING_PIKA", "patch_pika", "PikaPatch",
]
