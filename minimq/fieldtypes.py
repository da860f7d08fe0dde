"""AMQP field-table values as RabbitMQ names and prints them in reply texts.

pika encodes Python values into AMQP field types; RabbitMQ's error texts then name those types
(``longstr``, ``signedint`` ...) and print values Erlang-style.  The helpers here reproduce both so
error texts match the real server byte for byte.
"""

from __future__ import annotations

import datetime
import decimal

__all__ = ["type_name", "format_value", "is_integer", "type_class", "values_equal", "explain_with_term"]

#: Erlang's pretty printer (``~p``) breaks a term that would reach this column
_LINE_WIDTH = 80


def explain_with_term(prefix: str, tag: str, value: str) -> str:
    """``prefix`` followed by the Erlang tuple ``{tag,value}`` as ``~p`` prints it at that column.

    A tuple that would reach column 80 is broken after its first element and the second element is
    indented to one past the opening brace, exactly as RabbitMQ's reply texts show it.
    """
    term = f"{{{tag},{value}}}"
    column = len(prefix)
    if column + len(term) < _LINE_WIDTH:
        return prefix + term
    return f"{prefix}{{{tag},\n{' ' * (column + 1)}{value}}}"

_INT32_MIN = -(2**31)
_INT32_MAX = 2**31 - 1


def is_integer(value: object) -> bool:
    """An AMQP integer: any ``int`` except ``bool``."""
    return type(value) is int or (isinstance(value, int) and not isinstance(value, bool))


def type_name(value: object) -> str:
    """RabbitMQ's name for the AMQP type pika would encode ``value`` as.

    ``int`` is ``signedint`` within 32 bits and ``long`` beyond; a value of no AMQP type yields its
    Python class name.  Never raises.
    """
    if value is None:
        return "void"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "signedint" if _INT32_MIN <= value <= _INT32_MAX else "long"
    if isinstance(value, str):
        return "longstr"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "binary"
    if isinstance(value, decimal.Decimal):
        return "decimal"
    if isinstance(value, datetime.datetime):
        return "timestamp"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, float):
        return "double"
    return type(value).__name__


def type_class(value: object) -> str:
    """Equivalence class used when RabbitMQ compares declare arguments.

    ``signedint``, ``long`` and ``decimal`` are all ``number``; ``binary`` is ``longstr``; any other
    type is its own class (:func:`type_name`).  Never raises.
    """
    name = type_name(value)
    if name in ("signedint", "long", "decimal"):
        return "number"
    if name == "binary":
        return "longstr"  # both are Erlang binaries: the same bytes compare equal
    return name


def format_value(value: object) -> str:
    """Print a value the way RabbitMQ's reply texts do: strings raw, integers decimal, booleans lower-case.

    ``None`` prints ``undefined``; ``bytes`` are decoded as UTF-8 (invalid bytes replaced); anything
    else is ``str(value)``.  Never raises for the AMQP types.
    """
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "undefined"
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    return str(value)


def _as_epoch(value: datetime.datetime) -> int:
    if value.tzinfo is None:
        value = value.replace(tzinfo=datetime.timezone.utc)
    return int(value.timestamp())


def values_equal(pattern: object, actual: object) -> bool:
    """Erlang ``==`` on decoded header values, as the headers exchange compares them.

    At the top level only values are compared: ``str`` and ``bytes`` with the same bytes are equal,
    integers compare by value whatever their width, booleans equal only booleans, a timestamp equals
    the integer of its epoch seconds, and an empty table equals an empty array (both are Erlang
    ``[]``).  Inside tables and arrays every element carries its AMQP type, so types must match too.
    """
    if isinstance(pattern, bool) or isinstance(actual, bool):
        return type(pattern) is bool and type(actual) is bool and pattern == actual
    if isinstance(pattern, str):
        if isinstance(actual, str):
            return pattern == actual
        if isinstance(actual, (bytes, bytearray)):
            return pattern.encode() == bytes(actual)
        return False
    if isinstance(pattern, (bytes, bytearray)):
        if isinstance(actual, (bytes, bytearray)):
            return bytes(pattern) == bytes(actual)
        if isinstance(actual, str):
            return bytes(pattern) == actual.encode()
        return False
    if isinstance(pattern, (dict, list, tuple)) or isinstance(actual, (dict, list, tuple)):
        if not isinstance(pattern, (dict, list, tuple)) or not isinstance(actual, (dict, list, tuple)):
            return False
        if not pattern and not actual:
            return True
        return _typed_equal(pattern, actual)
    if isinstance(pattern, datetime.datetime):
        pattern = _as_epoch(pattern)
    if isinstance(actual, datetime.datetime):
        actual = _as_epoch(actual)
    if isinstance(pattern, int):
        return isinstance(actual, int) and not isinstance(actual, bool) and pattern == actual
    if isinstance(pattern, decimal.Decimal):
        return isinstance(actual, decimal.Decimal) and pattern == actual
    if pattern is None:
        return actual is None
    return type(pattern) is type(actual) and pattern == actual


def _typed_equal(a: object, b: object) -> bool:
    """Equality of values that travel with their AMQP type (elements of tables and arrays)."""
    if type_name(a) != type_name(b):
        return False
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return list(a) == list(b) and all(_typed_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple))
        return len(a) == len(b) and all(_typed_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, (bytes, bytearray)):
        return bytes(a) == bytes(b)  # type: ignore[arg-type]
    return a == b
