"""Frames: ``pika.frame`` itself when pika is importable, else equivalents of its ``Method`` frame.

The facade returns ``Method(channel_number, method)`` from synchronous calls, as pika's
``BlockingChannel`` does (``frame.method`` is the ``spec`` reply, e.g. ``Queue.DeclareOk``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Frame", "Method", "Header", "USING_PIKA"]

try:
    from pika.frame import Frame, Header, Method
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:
    FRAME_METHOD = 1
    FRAME_HEADER = 2

    class Frame:  # type: ignore[no-redef]
        NAME = "Frame"

        def __init__(self, frame_type: int, channel_number: int) -> None:
            self.frame_type = frame_type
            self.channel_number = channel_number

        def __repr__(self) -> str:
            items = [f"{k}={v}" for k, v in self.__dict__.items() if getattr(self.__class__, k, None) != v]
            return f"<{self.NAME}({sorted(items)})>" if items else f"<{self.NAME}>"

        def __eq__(self, other: object) -> bool:
            return other is not None and self.__dict__ == getattr(other, "__dict__", None)

    class Method(Frame):  # type: ignore[no-redef]
        """A method frame: ``channel_number`` and the ``spec`` method object as ``method``."""

        NAME = "METHOD"

        def __init__(self, channel_number: int, method: Any) -> None:
            Frame.__init__(self, FRAME_METHOD, channel_number)
            self.method = method

    class Header(Frame):  # type: ignore[no-redef]
        NAME = "Header"

        def __init__(self, channel_number: int, body_size: int, props: Any) -> None:
            Frame.__init__(self, FRAME_HEADER, channel_number)
            self.body_size = body_size
            self.properties = props
