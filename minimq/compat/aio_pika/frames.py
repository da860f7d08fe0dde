"""AMQP 0-9-1 frames in memory: cutting the client's byte stream into frames, and writing the server's.

pamqp (aiormq's own codec) does the encoding of each method and property set; this module adds what a
server needs around it: a buffer that yields whole frames as bytes arrive, and content (a method, a
content header and the body) written as frames no larger than the negotiated ``frame_max``.
"""

from __future__ import annotations

import struct
from typing import Any, Iterator

import inspect
from pamqp import encode, frame, header

__all__ = ["FrameBuffer", "FrameSyntaxError", "make", "method_frame", "content_frames", "PROTOCOL_HEADER",
           "HEARTBEAT_FRAME"]

#: what a 0-9-1 client sends first
PROTOCOL_HEADER = b"AMQP\x00\x00\x09\x01"
#: a heartbeat frame on channel 0
HEARTBEAT_FRAME = b"\x08\x00\x00\x00\x00\x00\x00\xce"

_FRAME_HEADER = struct.Struct(">BHI")
_BODY_PREFIX = struct.Struct(">BHI")
_FRAME_END = b"\xce"
#: a frame's header (7 bytes) and end octet (1 byte)
FRAME_OVERHEAD = 8


class FrameSyntaxError(Exception):
    """The client sent bytes that are not a valid frame (the server answers 501 FRAME_ERROR with
    this text)."""


class FrameBuffer:
    """Bytes from the client in, whole frames out: ``(channel, frame)`` pairs in arrival order."""

    __slots__ = ("_data", "header_seen", "frame_max")

    def __init__(self, frame_max: int = 131072) -> None:
        self._data = bytearray()
        #: the negotiated frame_max: a frame whose payload exceeds it is an error
        self.frame_max = frame_max
        #: the 8-byte protocol header has arrived (it is yielded once, as ``(0, ProtocolHeader)``)
        self.header_seen = False

    def feed(self, data: bytes) -> Iterator[tuple[int, Any]]:
        """Append ``data`` and yield every frame it completes."""
        buffer = self._data
        buffer += data
        offset = 0
        try:
            if not self.header_seen:
                if len(buffer) < 8:
                    return
                self.header_seen = True
                offset = 8
                yield 0, header.ProtocolHeader() if bytes(buffer[:8]) == PROTOCOL_HEADER else bytes(buffer[:8])
            size = len(buffer)
            while size - offset >= 7:
                frame_type, channel, length = _FRAME_HEADER.unpack_from(buffer, offset)
                # RabbitMQ refuses a payload over frame_max (not frame_max - 8, the limit it prints)
                if length > self.frame_max:
                    raise FrameSyntaxError(f"type {frame_type}, all octets = <<>>: "
                                           f"{{frame_too_large,{length},{self.frame_max - FRAME_OVERHEAD}}}")
                end = offset + 7 + length + 1
                if end > size:
                    break
                if buffer[end - 1] != 0xCE:
                    raise FrameSyntaxError(f"frame on channel {channel} does not end with 0xCE")  # pragma: no cover
                try:
                    _, channel, value = frame.unmarshal(bytes(buffer[offset:end]))
                except Exception as error:  # pamqp raises several kinds for bad payloads
                    raise FrameSyntaxError(f"cannot decode a frame of type {frame_type} on channel "
                                           f"{channel}: {error}") from error
                offset = end
                yield channel, value
        finally:
            del buffer[:offset]


_DEFAULTS: dict[type, dict[str, Any]] = {}


def make(cls: type, **fields: Any) -> Any:
    """A pamqp method object built without pamqp's validation.

    pamqp checks names against the client-side rules of the AMQP grammar (``^[a-zA-Z0-9-_.:]*$``),
    but a server echoes whatever names its clients chose and RabbitMQ accepted (``~x``, spaces, any
    UTF-8): the endpoint must be able to send them back.
    """
    defaults = _DEFAULTS.get(cls)
    if defaults is None:
        defaults = {name: parameter.default for name, parameter in inspect.signature(cls).parameters.items()
                    if parameter.default is not inspect.Parameter.empty}
        _DEFAULTS[cls] = defaults
    method = cls.__new__(cls)
    for name in cls.__slots__:
        setattr(method, name, fields[name] if name in fields else defaults.get(name))
    return method


def _method_payload(method: Any) -> bytes:
    """pamqp's method encoding (``Frame.marshal``) without its validation (see :func:`make`)."""
    bits, offset, output, in_bits = 0, 0, [], False
    for argument in method.__slots__:
        data_type = method.amqp_type(argument)
        value = getattr(method, argument, 0)
        if data_type == "bit":
            if not in_bits:
                bits, offset, in_bits = 0, 0, True
            bits = encode.bit(value, bits, offset)
            offset += 1
            if offset == 8:
                output.append(encode.octet(bits))
                in_bits = False
            continue
        if in_bits:
            output.append(encode.octet(bits))
            in_bits = False
        output.append(encode.by_type(value, data_type))
    if in_bits:
        output.append(encode.octet(bits))
    return b"".join(output)


def method_frame(channel: int, method: Any) -> bytes:
    """One method frame (the method's fields are not validated: see :func:`make`)."""
    payload = _method_payload(method)
    return _FRAME_HEADER.pack(1, channel, len(payload) + 4) + method.index.to_bytes(4, "big") + payload + _FRAME_END


_CONTENT_HEADER = struct.Struct(">BHIHHQ")


def content_frames(channel: int, method: Any, properties: bytes, body: bytes, frame_max: int) -> bytes:
    """A content-carrying method (``basic.deliver``, ``basic.get-ok``, ``basic.return``), its content
    header (``properties`` already encoded: flags and list) and its body cut into frames of at most
    ``frame_max`` bytes."""
    parts = [method_frame(channel, method),
             _CONTENT_HEADER.pack(2, channel, 12 + len(properties), 60, 0, len(body)) + properties + _FRAME_END]
    if body:
        step = frame_max - FRAME_OVERHEAD
        if len(body) <= step:
            parts.append(_BODY_PREFIX.pack(3, channel, len(body)) + body + _FRAME_END)
        else:
            view = memoryview(body)
            for start in range(0, len(body), step):
                piece = view[start:start + step]
                parts.append(_BODY_PREFIX.pack(3, channel, len(piece)) + bytes(piece) + _FRAME_END)
    return b"".join(parts)
