"""AMQP 0-9-1 frames in memory: cutting the client's byte stream into frames, and writing the server's.

pamqp (aiormq's own codec) does the encoding of each method and property set; this module adds what a
server needs around it: a buffer that yields whole frames as bytes arrive, and content (a method, a
content header and the body) written as frames no larger than the negotiated ``frame_max``.
"""

from __future__ import annotations

import struct
from typing import Any, Iterator

from pamqp import commands, frame, header

__all__ = ["FrameBuffer", "FrameSyntaxError", "method_frame", "content_frames", "PROTOCOL_HEADER",
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
    """The client sent bytes that are not a valid frame (the server answers 501 FRAME_ERROR)."""


class FrameBuffer:
    """Bytes from the client in, whole frames out: ``(channel, frame)`` pairs in arrival order."""

    __slots__ = ("_data", "header_seen")

    def __init__(self) -> None:
        self._data = bytearray()
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
                end = offset + 7 + length + 1
                if end > size:
                    break
                if buffer[end - 1] != 0xCE:
                    raise FrameSyntaxError(f"frame on channel {channel} does not end with 0xCE")
                try:
                    _, channel, value = frame.unmarshal(bytes(buffer[offset:end]))
                except Exception as error:  # pamqp raises several kinds for bad payloads
                    raise FrameSyntaxError(f"cannot decode a frame of type {frame_type} on channel "
                                           f"{channel}: {error}") from error
                offset = end
                yield channel, value
        finally:
            del buffer[:offset]


def method_frame(channel: int, method: Any) -> bytes:
    """One method frame."""
    return frame.marshal(method, channel)


def content_frames(channel: int, method: Any, properties: commands.Basic.Properties, body: bytes,
                   frame_max: int) -> bytes:
    """A content-carrying method (``basic.deliver``, ``basic.get-ok``, ``basic.return``) with its
    header and its body cut into frames of at most ``frame_max`` bytes."""
    parts = [frame.marshal(method, channel),
             frame.marshal(header.ContentHeader(0, len(body), properties), channel)]
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
