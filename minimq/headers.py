"""Headers-exchange bindings: ``x-match`` validation and compiled header matchers.

Rules (docs/semantics.md §5.3; RabbitMQ 3.10.8 ``rabbit_exchange_type_headers``):

* ``x-match`` is ``all`` (the default when absent), ``any``, ``all-with-x`` or ``any-with-x``.  Any
  other value fails the bind with 406 and an Erlang-formatted explanation (see
  :func:`validate_binding_arguments`); RabbitMQ treats an unvalidated bad value as ``all`` and so
  does :class:`HeadersBinding`.
* The ``x-match`` key is never compared.  Other pattern keys starting with ``x-`` are ignored by
  ``all``/``any`` and compared by the ``-with-x`` kinds.  Message header keys are never filtered.
* ``all``: every considered pattern key is present in the headers with an equal value (no
  considered key: every message matches).  ``any``: at least one is (no considered key: nothing
  matches).  Missing headers (``None``) behave like ``{}``.
* A pattern value ``None`` (AMQP void) matches the key's presence, whatever its value.  Other
  values compare with :func:`minimq.fieldtypes.values_equal` (Erlang ``==`` on decoded values).

Cost model: ``HeadersBinding`` is built once per binding and keeps only the considered
``(key, value)`` pairs, so ``matches`` is one ``dict.get`` per considered key.  Pattern values of a
plain type (``str``, ``bytes``, ``int``, ``bool``) are compared with ``==`` when the header value has
the same type, and ``str``/``bytes`` also against the other one through a precomputed encoding (the
answers ``values_equal`` would give); only other type mixes and structured values pay for the
general comparison.
"""

from __future__ import annotations

import calendar
import datetime
import decimal
from typing import Any

from .errors import PreconditionFailed
from .fieldtypes import format_value, type_name, values_equal

__all__ = ["X_MATCH_KINDS", "HeadersBinding", "validate_binding_arguments", "erlang_term"]

#: Valid ``x-match`` values -> (all?, compare x- keys?).
X_MATCH_KINDS: dict[str, tuple[bool, bool]] = {
    "all": (True, False),
    "any": (False, False),
    "all-with-x": (True, True),
    "any-with-x": (False, True),
}

_MISSING = object()

# Types whose same-type comparison is plain ``==`` under values_equal.
_PLAIN_TYPES = frozenset((str, bytes, int, bool))


def _fast_forms(value: Any) -> tuple[type | None, Any, type | None, Any]:
    """(type, value) pairs a header value may be compared to with ``==`` (values_equal's answer)."""
    kind = type(value)
    if kind is str:
        return str, value, bytes, value.encode("utf-8", "surrogatepass")  # str == its UTF-8 bytes
    if kind is bytes:
        try:
            return bytes, value, str, value.decode("utf-8")
        except UnicodeDecodeError:
            return bytes, value, None, None
    if kind in _PLAIN_TYPES:
        return kind, value, None, None
    return None, None, None, None


def validate_binding_arguments(arguments: dict | None) -> None:
    """Raise :class:`PreconditionFailed` (406) for an invalid ``x-match``, as RabbitMQ 3.10 words it.

    Only ``x-match`` is checked: absent, or one of :data:`X_MATCH_KINDS`, passes; a ``str`` outside
    them and a value of any other type (``bytes`` included) fail.  Other keys are not looked at.
    ``None`` or ``{}`` passes.  O(1) when valid.

    >>> validate_binding_arguments({"x-match": "any", "a": 1})
    >>> validate_binding_arguments({"x-match": "ALL"})
    Traceback (most recent call last):
    ...
    minimq.errors.PreconditionFailed: (406) PRECONDITION_FAILED - Invalid x-match field value <<"ALL">>; expected all, any, all-with-x, or any-with-x
    >>> validate_binding_arguments({"x-match": 1})
    Traceback (most recent call last):
    ...
    minimq.errors.PreconditionFailed: (406) PRECONDITION_FAILED - Invalid x-match field type signedint (value 1); expected longstr
    """
    if not arguments:
        return
    value = arguments.get("x-match", _MISSING)
    if value is _MISSING:
        return
    if isinstance(value, str):
        if value in X_MATCH_KINDS:
            return
        prefix = "Invalid x-match field value "
        raise PreconditionFailed(
            f"{prefix}{erlang_term(value, len(prefix) + 1)}; expected all, any, all-with-x, or any-with-x"
        )
    prefix = f"Invalid x-match field type {type_name(value)} (value "
    raise PreconditionFailed(f"{prefix}{erlang_term(value, len(prefix) + 1)}); expected longstr")


class HeadersBinding:
    """One headers-exchange binding, compiled: ``matches(headers)`` says whether a message is routed.

    Construction never raises and does not validate (call :func:`validate_binding_arguments`
    first): a missing or invalid ``x-match`` means ``all``.  It costs O(arguments) once per binding
    and keeps the pattern values by reference.

    >>> b = HeadersBinding({"x-match": "any", "format": "pdf", "type": "report", "x-tag": 1})
    >>> b.matches({"format": b"pdf"}), b.matches({"x-tag": 1}), b.matches(None)
    (True, False, False)
    >>> HeadersBinding({}).matches(None)
    True
    """

    __slots__ = ("kind", "pairs", "_checks", "_all", "_when_empty")

    def __init__(self, arguments: dict | None) -> None:
        arguments = arguments or {}
        kind = arguments.get("x-match", "all")
        if not isinstance(kind, str) or kind not in X_MATCH_KINDS:
            kind = "all"  # RabbitMQ's parse_x_match: an unvalidated bad value means all
        match_all, with_x = X_MATCH_KINDS[kind]
        pairs = []
        checks = []
        for key, value in arguments.items():
            if key == "x-match":
                continue
            if not with_x and isinstance(key, str) and key.startswith("x-"):
                continue
            pairs.append((key, value))
            checks.append((key, value, *_fast_forms(value)))
        #: ``all``, ``any``, ``all-with-x`` or ``any-with-x``.
        self.kind = kind
        #: The considered ``(key, pattern value)`` pairs, in argument order.
        self.pairs: tuple[tuple[Any, Any], ...] = tuple(pairs)
        # (key, value, plain type, value as plain, other type, value as other): a header value of
        # one of the two types compares with ==; anything else goes to values_equal.
        self._checks = tuple(checks)
        self._all = match_all
        # Result for a message without headers: all -> only if nothing is considered; any -> never.
        self._when_empty = match_all and not pairs

    def matches(self, headers: dict | None) -> bool:
        """True when the message headers satisfy this binding (``None`` is an empty table).

        HOT (once per binding per publish to a headers exchange).  O(considered keys): one
        ``dict.get`` and an ``==`` per key when the header value's type is the pattern's or its
        ``str``/``bytes`` counterpart, :func:`~minimq.fieldtypes.values_equal` otherwise; ``all``
        stops at the first miss (and at once when ``headers`` has fewer keys than the pattern),
        ``any`` at the first hit.  Does not modify ``headers``; never raises for AMQP values.
        """
        checks = self._checks
        if not headers or not checks:
            return self._when_empty
        get = headers.get
        if self._all:
            if len(headers) < len(checks):
                return False  # some considered key must be missing
            for key, want, plain, as_plain, other, as_other in checks:
                got = get(key, _MISSING)
                if got is _MISSING:
                    return False
                if want is None:
                    continue  # void pattern: presence is enough
                kind = type(got)
                if kind is plain:
                    if got != as_plain:
                        return False
                elif kind is other:
                    if got != as_other:
                        return False
                elif not values_equal(want, got):
                    return False
            return True
        for key, want, plain, as_plain, other, as_other in checks:
            got = get(key, _MISSING)
            if got is _MISSING:
                continue
            if want is None:
                return True
            kind = type(got)
            if kind is plain:
                if got == as_plain:
                    return True
            elif kind is other:
                if got == as_other:
                    return True
            elif values_equal(want, got):
                return True
        return False

    def __repr__(self) -> str:
        shown = ", ".join(f"{k!r}: {v!r}" for k, v in self.pairs)
        return f"<HeadersBinding {self.kind} {{{shown}}}>"


# ---------------------------------------------------------------------------------------------
# Erlang ``~p`` rendering of decoded AMQP values, for reply texts.
#
# pika encodes the Python value; RabbitMQ decodes it and prints the Erlang term with ``~p``:
# OTP's io_lib_pretty with the latin-1 printable range, a line length of 80 and the column the
# term starts at.  A term that does not fit is broken over several lines.  The layout functions
# below are a port of the io_lib_pretty subset these terms need (atoms, integers, binaries, lists,
# tuples; no depth or character limits).  Checked against RabbitMQ 3.10.8 on OTP 25.
#
# Work is done in "latin-1 space": one str character per byte, as Erlang counts them; the final
# text is re-read as UTF-8 because RabbitMQ writes these bytes and pika decodes them as UTF-8.

_LINE = 80
# Latin-1 "printable" bytes for ~p: a binary made only of these prints as <<"...">>.
_PRINTABLE = frozenset([*range(32, 127), *range(160, 256), 8, 9, 10, 11, 12, 13, 27])
_ESCAPES = {34: '\\"', 92: "\\\\", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 8: "\\b", 12: "\\f", 27: "\\e"}

# Intermediate form (io_lib_pretty's print_length): (kind, printed length, data)
#   ("s", n, text)                   an atomic term (atom, integer, printable binary): "ATM"
#   ("bin", n, [byte tokens])        a binary printed as <<1,2,3>>
#   ("list", n, [items])             a list
#   ("tuple", n, (tagged, [items]))  a tuple; tagged when its first element is an atom


def _atom(text: str) -> tuple:
    return ("s", len(text), text)


def _seq(kind: str, items: list, tagged: bool = False) -> tuple:
    if not items:
        return _atom("[]" if kind == "list" else "{}")
    n = 2 + sum(item[1] for item in items) + len(items) - 1
    return (kind, n, items) if kind == "list" else (kind, n, (tagged, items))


def _binary(data: bytes) -> tuple:
    if not data:
        return _atom("<<>>")
    if _PRINTABLE.issuperset(data):
        esc = _ESCAPES
        return _atom('<<"' + "".join(esc.get(c) or chr(c) for c in data) + '">>')
    tokens = [str(c) for c in data]
    return ("bin", 4 + sum(map(len, tokens)) + len(tokens) - 1, tokens)


def _intermediate(value: Any) -> tuple:
    """The Erlang term RabbitMQ decodes from ``value`` as pika encodes it."""
    if value is True or value is False or value is None:
        return _atom(format_value(value))  # true / false / undefined
    if isinstance(value, str):
        return _binary(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, (bytes, bytearray, memoryview)):
        return _binary(bytes(value))
    if isinstance(value, decimal.Decimal):
        value = value.normalize()
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < 0:
            places, raw = -exponent, int(value.scaleb(-exponent))
        else:
            places, raw = 0, int(value)
        # {Places, Raw}; RabbitMQ reads the 32 raw bits unsigned.
        return _seq("tuple", [_atom(str(places)), _atom(str(raw % 2**32))])
    if isinstance(value, datetime.datetime):
        return _atom(str(calendar.timegm(value.utctimetuple())))
    if isinstance(value, dict):  # [{Key, Type, Value}]
        return _seq("list", [
            _seq("tuple", [_binary(str(k).encode("utf-8", "surrogatepass")), _atom(type_name(v)),
                           _intermediate(v)])
            for k, v in value.items()
        ])
    if isinstance(value, (list, tuple)):  # [{Type, Value}]
        return _seq("list", [_seq("tuple", [_atom(type_name(v)), _intermediate(v)], tagged=True)
                             for v in value])
    return _atom(format_value(value))


def _flat(node: tuple) -> str:
    kind, _, data = node
    if kind == "s":
        return data
    if kind == "bin":
        return "<<" + ",".join(data) + ">>"
    if kind == "list":
        return "[" + ",".join(map(_flat, data)) + "]"
    return "{" + ",".join(map(_flat, data[1])) + "}"


class _NoGood(Exception):
    pass


def _fits(node: tuple, col: int, most: int, ld: int, w: int) -> bool:
    return node[1] < _LINE - col - ld and node[1] + w + ld <= most


def _tail_fits(node: tuple, col: int, most: int, ld1: int, w: int) -> bool:
    elen = 1 + node[1]
    if node[0] != "s":
        return False
    if ld1 == 0:
        return elen + 1 < _LINE - col and w + elen + 1 <= most
    return elen < _LINE - col - ld1 and w + elen + ld1 <= most


def _pp(node: tuple, col: int, most: int, tind: int, ind: int, ld: int, w: int) -> str:
    if _fits(node, col, most, ld, w):
        return _flat(node)
    kind, _, data = node
    if kind == "list":
        return "[" + _pp_list(data, col + 1, most, tind, ind + 1, ld, w + 1) + "]"
    if kind == "tuple":
        tagged, items = data
        if tagged:
            return "{" + _pp_tag_tuple(items, col, most, tind, ind, ld, w + 1) + "}"
        return "{" + _pp_list(items, col + 1, most, tind, ind + 1, ld, w + 1) + "}"
    if kind == "bin":
        return _pp_binary(data, col + 2, most, ind + 2, ld, w)
    return data


def _pp_tag_tuple(items: list, col: int, most: int, tind: int, ind: int, ld: int, w: int) -> str:
    tag = items[0]
    tag_ind = tag[1] + 2
    tcol = col + tag_ind
    if tind > 0 and tag_ind > tind:
        return _flat(tag) + _pp_tail(items[1:], col + tind, tcol, most, tind, ind + tind, ld, w + tag[1])
    return _flat(tag) + "," + _pp_list(items[1:], tcol, most, tind, ind + tag_ind, ld, w + tag[1] + 1)


def _pp_list(items: list, col0: int, most: int, tind: int, ind: int, ld: int, w: int) -> str:
    first, width = _pp_element(items[0], col0, most, tind, ind, ld + 1 if len(items) == 1 else 0, w)
    return first + _pp_tail(items[1:], col0, col0 + width, most, tind, ind, ld, w + width)


def _pp_tail(items: list, col0: int, col: int, most: int, tind: int, ind: int, ld: int, w: int) -> str:
    out = []
    last = len(items) - 1
    for i, item in enumerate(items):
        ld1 = ld + 1 if i == last else 0
        if _tail_fits(item, col, most, ld1, w):
            out.append("," + _flat(item))
            col += 1 + item[1]
            w += 1 + item[1]
        else:
            text, width = _pp_element(item, col0, most, tind, ind, ld1, 0)
            out.append(",\n" + " " * ind + text)
            col = col0 + width
            w = width
    return "".join(out)


def _pp_element(node: tuple, col: int, most: int, tind: int, ind: int, ld: int, w: int) -> tuple[str, int]:
    if node[0] == "s" and _fits(node, col, most, ld, w):
        return node[2], node[1]
    return _pp(node, col, most, tind, ind, ld, w), _LINE  # forces a new line after it


def _pp_binary(tokens: list, col: int, most: int, ind: int, ld: int, w: int) -> str:
    width = max(8, min(_LINE - col, most - 4 - w) - ld)
    room = width
    out = []
    pad = "\n" + " " * ind
    for token in tokens[:-1]:
        size = len(token) + 1
        if room - size < 0:
            out.append(pad + token + ",")
            room = width - size
        else:
            out.append(token + ",")
            room -= size
    last = tokens[-1]
    out.append(pad + last if len(last) > room else last)
    return "<<" + "".join(out) + ">>"


def _cind(node: tuple, col: int, most: int, ind: int, ld: int, w: int) -> int:
    if _fits(node, col, most, ld, w):
        return ind
    kind, _, data = node
    if kind == "list":
        return _cind_list(data, col + 1, most, ind, ld, w + 1)
    if kind == "tuple":
        tagged, items = data
        if tagged:
            return _cind_tag_tuple(items, col, most, ind, ld, w + 1)
        return _cind_list(items, col + 1, most, ind, ld, w + 1)
    return ind


def _cind_tag_tuple(items: list, col: int, most: int, ind: int, ld: int, w: int) -> int:
    tlen = items[0][1]
    tag_ind = tlen + 2
    tcol = col + tag_ind
    if ind > 0 and tag_ind > ind:
        col1 = col + ind
        if most + col1 <= _LINE or col1 <= _LINE // 2:
            return _cind_tail(items[1:], col1, tcol, most, ind, ld, w + tlen)
        raise _NoGood
    if most + tcol < _LINE or tcol < _LINE // 2:
        return _cind_list(items[1:], tcol, most, ind, ld, w + tlen + 1)
    raise _NoGood


def _cind_list(items: list, col0: int, most: int, ind: int, ld: int, w: int) -> int:
    width = _cind_element(items[0], col0, most, ind, ld + 1 if len(items) == 1 else 0, w)
    return _cind_tail(items[1:], col0, col0 + width, most, ind, ld, w + width)


def _cind_tail(items: list, col0: int, col: int, most: int, ind: int, ld: int, w: int) -> int:
    last = len(items) - 1
    for i, item in enumerate(items):
        ld1 = ld + 1 if i == last else 0
        if _tail_fits(item, col, most, ld1, w):
            col += 1 + item[1]
            w += 1 + item[1]
        else:
            width = _cind_element(item, col0, most, ind, ld1, 0)
            col = col0 + width
            w = width
    return ind


def _cind_element(node: tuple, col: int, most: int, ind: int, ld: int, w: int) -> int:
    if node[0] == "s" and _fits(node, col, most, ld, w):
        return node[1]
    _cind(node, col, most, ind, ld, w)
    return _LINE


def erlang_term(value: Any, column: int = 1) -> str:
    """``value`` as RabbitMQ's ``~p`` prints it at ``column`` (1-based) once pika has encoded it.

    A term that would reach column 80 is broken over several lines, as ``io_lib_pretty`` does;
    ``column`` below 1 counts as 1.  Used only to build reply texts (not a hot path).

    RabbitMQ writes the printed bytes as they are and pika decodes them as UTF-8, so latin-1
    printable bytes of a UTF-8 string come back as the original text (``<<"é">>``) while a string
    with a byte in 0x80-0x9F prints as a byte list (``<<226,130,172>>`` for ``€``).  Bytes that are
    not valid UTF-8 are kept as surrogate escapes (pika would hand back ``bytes``).

    >>> erlang_term("ALL"), erlang_term(b"all"), erlang_term(""), erlang_term("€")
    ('<<"ALL">>', '<<"all">>', '<<>>', '<<226,130,172>>')
    >>> erlang_term({"a": "b", "c": [1]}), erlang_term(decimal.Decimal("1.50")), erlang_term(None)
    ('[{<<"a">>,longstr,<<"b">>},{<<"c">>,array,[{signedint,1}]}]', '{1,15}', 'undefined')
    """
    node = _intermediate(value)
    col = max(column, 1)
    most = node[1]
    if node[1] < _LINE - col:
        text = _flat(node)
    else:
        tind = 1
        for candidate in (-1, 4):
            try:
                _cind(node, col, most, candidate, 0, 0)
            except _NoGood:
                continue
            tind = candidate
            break
        text = _pp(node, col, most, tind, col - 1, 0, 0)
    return text.encode("latin-1").decode("utf-8", "surrogateescape")
