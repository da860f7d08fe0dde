"""What a listener's handler asks for, read from its signature once, and filled in for each message.

A handler's parameters are read when the listener is registered (:func:`analyse`):

* a parameter annotated :class:`Headers` receives a copy of the message's headers;
* a parameter annotated :class:`~minimq.app.messages.Inbound` receives the delivery itself;
* the first other parameter is the *payload*: the body, read by the converters (by ``content_type``)
  and then converted to the parameter's declared type.

Declared types understood: ``bytes`` (the raw body), ``str``, plain ``dict``/``list``/``int``/
``float``/``bool`` (and their generic forms, items converted), ``Optional``/unions (first that fits),
dataclasses (built from a JSON object, nested dataclasses included), ``TypedDict`` (keys checked),
pydantic v1/v2 models (``model_validate`` / ``parse_obj``) when pydantic is importable, and
``Enum``.  No annotation (or ``Any``) passes the converted value as it is.

A payload that cannot be converted raises :class:`MessageConversionError` naming the parameter, the
type and why (for a nested field, the path to it); the listener then applies its error policy.  All
the reading of annotations happens once, in :func:`analyse`; per message the work is the converter
call and one walk of the declared type.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import json
import sys
import types
import typing
from dataclasses import dataclass
from typing import Any, Callable, Union

from .converters import Converters
from .errors import MessageConversionError
from .messages import Inbound

__all__ = ["Headers", "HandlerSignature", "analyse", "convert"]


class Headers(dict):  # type: ignore[type-arg]
    """Annotate a handler parameter with ``Headers`` to receive the message's headers (a copy, a dict)."""


class _Unfit(Exception):
    """Internal: the value does not fit the type; ``path`` and ``why`` say where and how."""

    def __init__(self, why: str, path: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.path = path

    def inside(self, step: str) -> _Unfit:
        self.path = step + ("." + self.path if self.path and not self.path.startswith("[") else self.path)
        return self


_NOTHING = inspect.Parameter.empty
_STRUCTURED_ORIGINS = (dict, list, tuple, set, frozenset)


def _type_name(target: Any) -> str:
    if isinstance(target, type) and not typing.get_args(target):
        return target.__qualname__
    return repr(target).replace("typing.", "")


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _pydantic_base() -> tuple[type, ...]:
    """pydantic's BaseModel classes (v2 and its v1 compatibility module), or () without pydantic."""
    module = sys.modules.get("pydantic")
    if module is None:
        try:
            import pydantic as module  # type: ignore[no-redef]
        except ImportError:
            return ()
    bases: list[type] = [module.BaseModel]
    v1 = sys.modules.get("pydantic.v1")
    if v1 is not None:
        bases.append(v1.BaseModel)
    return tuple(bases)


def _is_pydantic(target: Any) -> bool:
    if not isinstance(target, type) or "pydantic" not in sys.modules:
        return False  # a pydantic model's module imported pydantic, so an unloaded pydantic means "not one"
    return issubclass(target, _pydantic_base())


def _wants_structure(target: Any) -> bool:
    """True when ``target`` is built from decoded JSON rather than from the raw body or text."""
    if target in (bytes, str, _NOTHING, Any, object):
        return False
    return True


def convert(value: Any, target: Any) -> Any:
    """``value`` (decoded data: dicts, lists, numbers, text) as an instance of ``target``.

    Raises ``ValueError`` with the path and reason when it does not fit (the listener wraps it in a
    :class:`MessageConversionError` naming the parameter)."""
    try:
        return _convert(value, target)
    except _Unfit as unfit:
        where = f" at {unfit.path}" if unfit.path else ""
        raise ValueError(f"{unfit.why}{where}") from None


def _convert(value: Any, target: Any) -> Any:
    if target is _NOTHING or target is Any or target is object:
        return value
    origin = typing.get_origin(target)
    if origin is Union or origin is types.UnionType:
        members = typing.get_args(target)
        if value is None and type(None) in members:
            return None
        reasons = []
        for member in members:
            if member is type(None):
                continue
            try:
                return _convert(value, member)
            except _Unfit as unfit:
                reasons.append(unfit.why)
        raise _Unfit(f"expected {_type_name(target)}, got {_describe(value)} ({'; '.join(reasons)})")
    if origin is typing.Annotated:
        return _convert(value, typing.get_args(target)[0])
    if origin is typing.Literal:
        if value in typing.get_args(target):
            return value
        raise _Unfit(f"expected one of {typing.get_args(target)!r}, got {_describe(value)}")
    if origin in _STRUCTURED_ORIGINS:
        return _convert_container(value, origin, typing.get_args(target))
    if target is bool:
        if type(value) is bool:
            return value
        raise _Unfit(f"expected bool, got {_describe(value)}")
    if target is int:
        if type(value) is int:
            return value
        raise _Unfit(f"expected int, got {_describe(value)}")
    if target is float:
        if type(value) in (int, float):
            return float(value)
        raise _Unfit(f"expected float, got {_describe(value)}")
    if target is str:
        if isinstance(value, str):
            return value
        raise _Unfit(f"expected str, got {_describe(value)}")
    if target is bytes:
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        raise _Unfit(f"expected bytes, got {_describe(value)}")
    if target in _STRUCTURED_ORIGINS:
        return _convert_container(value, target, ())
    if isinstance(target, type) and dataclasses.is_dataclass(target):
        return _convert_dataclass(value, target)
    if typing.is_typeddict(target):
        return _convert_typeddict(value, target)
    if _is_pydantic(target):
        return _convert_pydantic(value, target)
    if isinstance(target, type) and issubclass(target, enum.Enum):
        try:
            return target(value)
        except ValueError:
            raise _Unfit(f"{value!r} is not a {target.__qualname__} "
                         f"(one of {[member.value for member in target]!r})") from None
    if isinstance(target, type):
        if isinstance(value, target):
            return value
        raise _Unfit(f"expected {target.__qualname__}, got {_describe(value)}")
    raise _Unfit(f"cannot convert to {_type_name(target)}: the type is not one the listeners understand")


def _convert_container(value: Any, origin: type, args: tuple[Any, ...]) -> Any:
    if origin is dict:
        if not isinstance(value, dict):
            raise _Unfit(f"expected a JSON object (dict), got {_describe(value)}")
        if not args:
            return value
        key_type, value_type = args
        out = {}
        for key, item in value.items():
            try:
                out[_convert(key, key_type)] = _convert(item, value_type)
            except _Unfit as unfit:
                raise unfit.inside(f"[{key!r}]") from None
        return out
    if not isinstance(value, (list, tuple)):
        raise _Unfit(f"expected a JSON array ({origin.__name__}), got {_describe(value)}")
    if not args:
        return origin(value)
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        if len(args) != len(value):
            raise _Unfit(f"expected {len(args)} items, got {len(value)}")
        item_types = list(args)
    else:
        item_types = [args[0]] * len(value)
    items = []
    for index, (item, item_type) in enumerate(zip(value, item_types)):
        try:
            items.append(_convert(item, item_type))
        except _Unfit as unfit:
            raise unfit.inside(f"[{index}]") from None
    return origin(items)


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception as error:  # an annotation naming something not importable from the class's module
        raise _Unfit(f"cannot read the annotations of {cls.__qualname__}: {error}") from None


def _convert_dataclass(value: Any, cls: type) -> Any:
    if not isinstance(value, dict):
        raise _Unfit(f"expected a JSON object for {cls.__qualname__}, got {_describe(value)}")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(value) - set(fields))
    if unknown:
        raise _Unfit(f"unknown field(s) {unknown} for {cls.__qualname__}")
    missing = sorted(name for name, f in fields.items() if name not in value and
                     f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if missing:
        raise _Unfit(f"missing field(s) {missing} for {cls.__qualname__}")
    arguments = {}
    for name, item in value.items():
        try:
            arguments[name] = _convert(item, hints.get(name, Any))
        except _Unfit as unfit:
            raise unfit.inside(name) from None
    return cls(**arguments)


def _convert_typeddict(value: Any, cls: Any) -> Any:
    if not isinstance(value, dict):
        raise _Unfit(f"expected a JSON object for {cls.__qualname__}, got {_describe(value)}")
    hints = _hints(cls)
    missing = sorted(set(cls.__required_keys__) - set(value))
    if missing:
        raise _Unfit(f"missing key(s) {missing} for {cls.__qualname__}")
    unknown = sorted(set(value) - set(hints))
    if unknown:
        raise _Unfit(f"unknown key(s) {unknown} for {cls.__qualname__}")
    out = {}
    for key, item in value.items():
        try:
            out[key] = _convert(item, hints[key])
        except _Unfit as unfit:
            raise unfit.inside(key) from None
    return out


def _convert_pydantic(value: Any, cls: Any) -> Any:
    validate = getattr(cls, "model_validate", None) or cls.parse_obj  # v2, else v1
    try:
        return validate(value)
    except Exception as error:  # pydantic's ValidationError (v1 and v2 are different classes)
        text = " ".join(str(error).split())
        raise _Unfit(f"{cls.__qualname__} refused it: {text}") from None


@dataclass(frozen=True)
class HandlerSignature:
    """A handler's parameters, read once: where the payload, the headers and the delivery go."""

    function: Callable[..., Any]
    #: the payload parameter's name (None: the handler takes no payload)
    payload: str | None
    #: its declared type (``inspect.Parameter.empty`` when unannotated)
    payload_type: Any
    #: names of the parameters annotated ``Headers``
    headers: tuple[str, ...]
    #: names of the parameters annotated ``Inbound``
    inbound: tuple[str, ...]
    #: True for ``async def`` handlers
    is_async: bool

    def arguments(self, message: Inbound, converters: Converters) -> dict[str, Any]:
        """Keyword arguments for one call of the handler with ``message``.

        Raises :class:`MessageConversionError` (naming the parameter, its type and why) when the body
        does not convert."""
        kwargs: dict[str, Any] = {}
        for name in self.headers:
            kwargs[name] = Headers(message.headers)
        for name in self.inbound:
            kwargs[name] = message
        if self.payload is not None:
            kwargs[self.payload] = self.payload_of(message, converters)
        return kwargs

    def payload_of(self, message: Inbound, converters: Converters) -> Any:
        """The message's body as the payload parameter's declared type."""
        target = self.payload_type
        if target is bytes:
            return message.body  # the raw body whatever its content type: nothing to convert
        properties = message.properties
        try:
            value = converters.from_message(message.body, properties.content_type, properties.content_encoding)
        except Exception as error:
            raise self._error(f"the body could not be read ({error})") from error
        if isinstance(value, (bytes, bytearray)):
            if target is str:
                try:
                    return bytes(value).decode(properties.content_encoding or "utf-8")
                except (UnicodeDecodeError, LookupError) as error:
                    raise self._error(f"the body is not text: {error}") from None
            if _wants_structure(target):
                # no content type said JSON, but a structured type was asked for: JSON is the
                # only structured reading a bare body can have
                try:
                    value = json.loads(value)
                except ValueError as error:
                    raise self._error(f"the body (content_type {properties.content_type!r}) is not JSON: "
                                      f"{error}") from None
        try:
            return convert(value, target)
        except ValueError as error:
            raise self._error(str(error)) from None

    def _error(self, why: str) -> MessageConversionError:
        name = getattr(self.function, "__qualname__", repr(self.function))
        return MessageConversionError(f"cannot convert the message to parameter {self.payload!r} "
                                      f"({_type_name(self.payload_type)}) of {name}: {why}")


def _annotation(function: Callable[..., Any], parameter: inspect.Parameter) -> Any:
    """The parameter's annotation, evaluated (string annotations from ``from __future__ import
    annotations`` included, with the function's globals and closure)."""
    annotation = parameter.annotation
    if not isinstance(annotation, str):
        return annotation
    namespace = dict(getattr(function, "__globals__", {}))
    code = getattr(function, "__code__", None)
    closure = getattr(function, "__closure__", None)
    if code is not None and closure:
        for name, cell in zip(code.co_freevars, closure):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:  # an empty cell
                pass
    try:
        return eval(annotation, namespace)  # noqa: S307 - evaluating the handler's own annotation
    except Exception as error:
        raise TypeError(f"cannot read the annotation {annotation!r} of parameter {parameter.name!r} "
                        f"of {function.__qualname__}: {error}") from None


def analyse(function: Callable[..., Any]) -> HandlerSignature:
    """Read ``function``'s signature once (see the module docstring).

    Raises ``TypeError`` when a parameter cannot be filled (a second payload-like parameter without a
    default, ``*args``/``**kwargs`` of a required kind, or an annotation that does not evaluate)."""
    if not callable(function):
        raise TypeError(f"a listener handler must be callable, not {function!r}")
    signature = inspect.signature(function)
    payload: str | None = None
    payload_type: Any = _NOTHING
    headers: list[str] = []
    inbound: list[str] = []
    for parameter in signature.parameters.values():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        if parameter.kind is parameter.POSITIONAL_ONLY:
            raise TypeError(f"parameter {parameter.name!r} of {function.__qualname__} is positional-only: "
                            "handler arguments are passed by keyword")
        annotation = _annotation(function, parameter)
        if annotation is Headers:
            headers.append(parameter.name)
        elif annotation is Inbound:
            inbound.append(parameter.name)
        elif payload is None:
            payload, payload_type = parameter.name, annotation
        elif parameter.default is _NOTHING:
            raise TypeError(f"{function.__qualname__} has a second payload parameter {parameter.name!r} "
                            f"(after {payload!r}): a handler takes one payload; annotate the others "
                            "Headers or Inbound, or give them defaults")
    is_async = inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        getattr(function, "__call__", None))
    return HandlerSignature(function, payload, payload_type, tuple(headers), tuple(inbound), is_async)
