"""Headers-exchange bindings (docs/semantics.md §5.3): matcher vs a reference, x-match errors, value equality.

The exact error texts and the value-equality expectations were recorded from RabbitMQ 3.10.8
(Debian 3.10.8-1.1, OTP 25) through pika 1.4.
"""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minimq.errors import PreconditionFailed
from minimq.fieldtypes import values_equal
from minimq.headers import X_MATCH_KINDS, HeadersBinding, erlang_term, validate_binding_arguments

DT = datetime.datetime(2020, 1, 1)
EPOCH = 1577836800

# ---------------------------------------------------------------------------------------------
# Reference: the table of docs/semantics.md §5.3, as plainly as possible.


def ref_matches(arguments: dict | None, headers: dict | None) -> bool:
    arguments = arguments or {}
    headers = headers or {}
    kind = arguments.get("x-match", "all")
    if not isinstance(kind, str) or kind not in X_MATCH_KINDS:
        kind = "all"
    with_x = kind.endswith("-with-x")
    considered = [(k, v) for k, v in arguments.items()
                  if k != "x-match" and (with_x or not k.startswith("x-"))]

    def ok(key: str, want: object) -> bool:
        return key in headers and (want is None or values_equal(want, headers[key]))

    if kind.startswith("all"):
        return all(ok(k, v) for k, v in considered)
    return any(ok(k, v) for k, v in considered)


VALUES = ["v", b"v", "w", "", 1, 0, True, False, None, None, None, 2**40, Decimal("1.5"), Decimal("1.50"),
          {"n": "v"}, {"n": b"v"}, ["v"], [], {}, DT, EPOCH,
          "ww", "".join(["w", "w"]), int("1099511627776")]  # equal values that are not identical
KEYS = st.sampled_from(["a", "b", "c", "x-a", "x-match", "X-b"])
VALUE = st.sampled_from(VALUES)
X_MATCH = st.sampled_from([None, "all", "any", "all-with-x", "any-with-x"])
HEADERS = st.one_of(st.none(), st.dictionaries(KEYS, VALUE, max_size=5))


@st.composite
def binding_arguments(draw) -> dict | None:
    if draw(st.integers(0, 9)) == 0:
        return None
    args = draw(st.dictionaries(KEYS.filter(lambda k: k != "x-match"), VALUE, max_size=4))
    kind = draw(X_MATCH)
    if kind is not None:
        args["x-match"] = kind
    return args


@st.composite
def headers_for(draw, arguments: dict | None) -> dict | None:
    """Headers that often agree with the binding: each pattern key copied, changed or left out."""
    headers = draw(HEADERS)
    if headers is None and draw(st.booleans()):
        return None
    headers = dict(headers or {})
    for key, value in (arguments or {}).items():
        choice = draw(st.sampled_from(["same", "same", "other", "absent"]))
        if choice == "same":
            headers[key] = value.encode() if isinstance(value, str) and draw(st.booleans()) else value
        elif choice == "other":
            headers[key] = draw(VALUE)
        else:
            headers.pop(key, None)
    return headers


@settings(max_examples=800, deadline=None)
@given(data=st.data(), arguments=binding_arguments())
def test_matches_reference(data, arguments) -> None:
    headers = data.draw(headers_for(arguments), label="headers")
    binding = HeadersBinding(arguments)
    expected = ref_matches(arguments, headers)
    actual = binding.matches(headers)
    assert actual == expected, (
        f"arguments={arguments!r}\n  headers={headers!r}\n  expected={expected!r} actual={actual!r}"
    )
    validate_binding_arguments(arguments)  # every generated x-match is valid


@settings(max_examples=300, deadline=None)
@given(arguments=st.dictionaries(KEYS, VALUE, max_size=4), headers=HEADERS)
def test_unvalidated_bad_x_match_means_all(arguments, headers) -> None:
    # A dict that may hold any value under 'x-match': RabbitMQ's parse_x_match falls back to all.
    assert HeadersBinding(arguments).matches(headers) == ref_matches(arguments, headers)


@settings(max_examples=500, deadline=None)
@given(want=VALUE, got=VALUE)
def test_single_key_equality_is_values_equal(want, got) -> None:
    for kind in X_MATCH_KINDS:
        binding = HeadersBinding({"x-match": kind, "k": want})
        assert binding.matches({"k": got}) == (want is None or values_equal(want, got)), (want, got, kind)


# ---------------------------------------------------------------------------------------------
# The rules, one by one.


def test_all_with_no_considered_keys_matches_everything() -> None:
    for arguments in (None, {}, {"x-match": "all"}, {"x-match": "all", "x-a": 1}, {"x-b": "v"}):
        binding = HeadersBinding(arguments)
        assert binding.matches(None) and binding.matches({}) and binding.matches({"a": 1})


def test_any_with_no_considered_keys_matches_nothing() -> None:
    for arguments in ({"x-match": "any"}, {"x-match": "any", "x-a": 1}, {"x-match": "any-with-x"}):
        binding = HeadersBinding(arguments)
        assert not binding.matches(None) and not binding.matches({}) and not binding.matches({"x-a": 1})


def test_x_keys_ignored_unless_with_x() -> None:
    args = {"a": "v", "x-a": "v"}
    headers = {"a": "v"}
    assert HeadersBinding({**args, "x-match": "all"}).matches(headers)
    assert not HeadersBinding({**args, "x-match": "all-with-x"}).matches(headers)
    assert HeadersBinding({**args, "x-match": "all-with-x"}).matches({**headers, "x-a": b"v"})
    assert not HeadersBinding({"x-match": "any", "x-a": "v"}).matches({"x-a": "v"})
    assert HeadersBinding({"x-match": "any-with-x", "x-a": "v"}).matches({"x-a": "v"})
    # message keys are never filtered: a plain pattern key can be satisfied by any header
    assert HeadersBinding({"x-match": "any", "b": 1}).matches({"x-a": 2, "b": 1})


def test_x_match_key_never_compared() -> None:
    assert HeadersBinding({"x-match": "all-with-x"}).matches({})
    assert not HeadersBinding({"x-match": "any-with-x"}).matches({"x-match": "any-with-x"})
    assert HeadersBinding({"x-match": "all-with-x", "a": 1}).matches({"a": 1, "x-match": "other"})


def test_void_pattern_means_presence() -> None:
    binding = HeadersBinding({"k": None})
    assert binding.matches({"k": None}) and binding.matches({"k": 3}) and binding.matches({"k": "x"})
    assert not binding.matches({"j": None}) and not binding.matches(None)
    assert HeadersBinding({"x-match": "any", "k": None, "j": 1}).matches({"k": False})


def test_any_needs_one_all_needs_every() -> None:
    args = {"a": 1, "b": "two"}
    assert HeadersBinding({**args, "x-match": "any"}).matches({"b": b"two"})
    assert not HeadersBinding({**args, "x-match": "all"}).matches({"b": b"two"})
    assert HeadersBinding({**args, "x-match": "all"}).matches({"b": b"two", "a": 1, "c": 3})
    assert not HeadersBinding({**args, "x-match": "any"}).matches({"a": 2, "b": "three"})


def test_binding_exposes_kind_and_considered_pairs() -> None:
    binding = HeadersBinding({"x-match": "any", "a": 1, "x-b": 2})
    assert binding.kind == "any"
    assert binding.pairs == (("a", 1),)
    assert HeadersBinding({"x-match": "ALL"}).kind == "all"
    assert "any" in repr(binding)


# ---------------------------------------------------------------------------------------------
# Value equality (Erlang == on decoded values), as RabbitMQ 3.10.8 answered for a one-key binding.

VALUE_TABLE = [
    # (binding value, message value, routed?)
    ("x", b"x", True),
    (b"x", "x", True),
    ("", b"", True),
    ("x", "y", False),
    (1, True, False),
    (True, 1, False),
    (0, False, False),
    (1, "1", False),
    ("1", 1, False),
    (2**40, 2**40, True),
    (2**31, 2**31, True),
    (5, 5, True),
    (True, True, True),
    (Decimal("1.5"), Decimal("1.50"), True),
    (Decimal("5"), 5, False),
    (5, Decimal("5"), False),
    (DT, EPOCH, True),
    (EPOCH, DT, True),
    (DT, DT, True),
    (1, None, False),
    (None, 3, True),
    (None, None, True),
    ({"a": 1, "b": 2}, {"a": 1, "b": 2}, True),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),
    ({"a": True}, {"a": 1}, False),
    ({"a": 5}, {"a": 5}, True),
    ({"a": Decimal("1.5")}, {"a": Decimal("1.50")}, True),
    ({"a": None}, {"a": None}, True),
    ({"a": None}, {"a": 1}, False),
    ({"a": {}}, {"a": []}, False),
    ([1, "a"], [1, "a"], True),
    ([{"a": "x"}], [{"a": "x"}], True),
    ([2**40], [2**40], True),
    ([1], [1, 1], False),
    ([[]], [{}], False),
]

# Inside tables and arrays RabbitMQ compares the field *types* too (longstr vs binary, timestamp vs
# signedint); at the top level an empty table and an empty array are both the Erlang term [] and so equal.
VALUE_TABLE += [
    ({"a": "x"}, {"a": b"x"}, False),
    (["x"], [b"x"], False),
    ({"t": DT}, {"t": EPOCH}, False),
    ([DT], [EPOCH], False),
    ({}, [], True),
    ([], {}, True),
]


@pytest.mark.parametrize("want,got,routed", VALUE_TABLE, ids=repr)
def test_value_equality_table(want, got, routed) -> None:
    assert HeadersBinding({"k": want}).matches({"k": got}) is routed
    assert HeadersBinding({"x-match": "any", "k": want}).matches({"k": got}) is routed


# ---------------------------------------------------------------------------------------------
# x-match validation: exact reply texts from RabbitMQ 3.10.8.

_VALUE = "PRECONDITION_FAILED - Invalid x-match field value {}; expected all, any, all-with-x, or any-with-x"
_TYPE = "PRECONDITION_FAILED - Invalid x-match field type {} (value {}); expected longstr"

X_MATCH_ERRORS = [
    ("ALL", _VALUE.format('<<"ALL">>')),
    ("Any", _VALUE.format('<<"Any">>')),
    ("", _VALUE.format("<<>>")),
    (" all", _VALUE.format('<<" all">>')),
    ("all-with-x ", _VALUE.format('<<"all-with-x ">>')),
    ("any-with-X", _VALUE.format('<<"any-with-X">>')),
    ('a"b\\c', _VALUE.format('<<"a\\"b\\\\c">>')),
    ("a\nb", _VALUE.format('<<"a\\nb">>')),
    ("a\tb\x1b", _VALUE.format('<<"a\\tb\\e">>')),
    ("é", _VALUE.format('<<"é">>')),
    ("Ω", _VALUE.format('<<"Ω">>')),
    ("€", _VALUE.format("<<226,130,172>>")),
    ("\x7f", _VALUE.format("<<127>>")),
    ("\x00", _VALUE.format("<<0>>")),
    ("abc\x01", _VALUE.format("<<97,98,99,1>>")),
    ("€€€€€", _VALUE.format("<<226,130,172,226,130,172,226,130,172,226,130,172,\n"
                            "                              226,130,172>>")),
    ("日本語のテキスト", _VALUE.format(
        "<<230,151,165,230,156,172,232,170,158,227,129,174,\n"
        "                              227,131,134,227,130,173,227,130,185,227,131,136>>")),
    (1, _TYPE.format("signedint", "1")),
    (-5, _TYPE.format("signedint", "-5")),
    (2**31, _TYPE.format("long", "2147483648")),
    (-(2**31) - 1, _TYPE.format("long", "-2147483649")),
    (2**40, _TYPE.format("long", "1099511627776")),
    (2**63 - 1, _TYPE.format("long", "9223372036854775807")),
    (True, _TYPE.format("bool", "true")),
    (False, _TYPE.format("bool", "false")),
    (None, _TYPE.format("void", "undefined")),
    (b"all", _TYPE.format("binary", '<<"all">>')),
    (b"", _TYPE.format("binary", "<<>>")),
    (b"\x80", _TYPE.format("binary", "<<128>>")),
    (b'q"\\', _TYPE.format("binary", '<<"q\\"\\\\">>')),
    (b"\x80\x01" * 12, _TYPE.format("binary", "<<128,1,128,1,128,1,128,1,128,1,128,1,\n"
                                              + " " * 43 + "128,1,128,1,128,1,128,1,128,1,128,1>>")),
    (Decimal("1.23"), _TYPE.format("decimal", "{2,123}")),
    (Decimal("1.50"), _TYPE.format("decimal", "{1,15}")),
    (Decimal("100"), _TYPE.format("decimal", "{0,100}")),
    (Decimal("-1.5"), _TYPE.format("decimal", "{1,4294967281}")),
    (DT, _TYPE.format("timestamp", "1577836800")),
    (datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
     _TYPE.format("timestamp", "1577829600")),
    ([], _TYPE.format("array", "[]")),
    ({}, _TYPE.format("table", "[]")),
    (["a", 1], _TYPE.format("array", '[{longstr,<<"a">>},{signedint,1}]')),
    ([["a"]], _TYPE.format("array", '[{array,[{longstr,<<"a">>}]}]')),
    ([{}], _TYPE.format("array", "[{table,[]}]")),
    ([b"x", Decimal("2.5")], _TYPE.format("array", '[{binary,<<"x">>},{decimal,{1,25}}]')),
    ({"é": "x"}, _TYPE.format("table", '[{<<"é">>,longstr,<<"x">>}]')),
    ({"a": "b", "c": 1}, _TYPE.format("table", '[{<<"a">>,longstr,<<"b">>},\n'
                                               + " " * 41 + '{<<"c">>,signedint,1}]')),
    ({"k": None, "b": True}, _TYPE.format("table", '[{<<"k">>,void,undefined},\n'
                                                   + " " * 41 + '{<<"b">>,bool,true}]')),
]


@pytest.mark.parametrize("value,reply_text", X_MATCH_ERRORS, ids=repr)
def test_x_match_error_text(value, reply_text) -> None:
    with pytest.raises(PreconditionFailed) as info:
        validate_binding_arguments({"x-match": value, "a": 1})
    assert info.value.reply_code == 406
    assert info.value.reply_text == reply_text


def test_x_match_error_str_pinned() -> None:
    with pytest.raises(PreconditionFailed, match=r"^\(406\) PRECONDITION_FAILED - Invalid x-match field value "
                       r'<<"ALL">>; expected all, any, all-with-x, or any-with-x$'):
        validate_binding_arguments({"x-match": "ALL"})
    with pytest.raises(PreconditionFailed, match=r"^\(406\) PRECONDITION_FAILED - Invalid x-match field type "
                       r"signedint \(value 1\); expected longstr$"):
        validate_binding_arguments({"x-match": 1})


@pytest.mark.parametrize("arguments", [None, {}, {"a": 1}, {"x-match": "all"}, {"x-match": "any"},
                                       {"x-match": "all-with-x", "x-a": 1}, {"x-match": "any-with-x"}])
def test_valid_arguments_pass(arguments) -> None:
    assert validate_binding_arguments(arguments) is None


def test_non_utf8_bytes_survive_as_surrogates() -> None:
    # RabbitMQ sends the raw byte 0xFF (pika then returns bytes); we keep it recoverable.
    text = erlang_term(b"\xff")
    assert text.encode("utf-8", "surrogateescape") == b'<<"\xff">>'
