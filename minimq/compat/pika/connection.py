"""Connection parameters and credentials: pika's own classes when pika is importable, else equivalents.

The facade reads only ``virtual_host`` and ``credentials.username`` (minimq checks no passwords and
opens no sockets); host, port, TLS and the tuning options are accepted and kept for code that reads
them back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlparse

__all__ = ["Parameters", "ConnectionParameters", "URLParameters", "PlainCredentials", "USING_PIKA"]

try:
    from pika.connection import ConnectionParameters, Parameters, URLParameters
    from pika.credentials import PlainCredentials
except ImportError:
    USING_PIKA = False
else:
    USING_PIKA = True

if not USING_PIKA:

    class PlainCredentials:  # type: ignore[no-redef]
        """Username and password (``guest``/``guest`` unless given)."""

        TYPE = "PLAIN"

        def __init__(self, username: str, password: str, erase_on_connect: bool = False) -> None:
            self.username = username
            self.password = password
            self.erase_on_connect = erase_on_connect

        def __eq__(self, other: object) -> bool:
            if isinstance(other, PlainCredentials):
                return (self.username, self.password, self.erase_on_connect) == (
                    other.username, other.password, other.erase_on_connect)
            return NotImplemented

        __hash__ = None  # type: ignore[assignment]

        def __repr__(self) -> str:
            return f"PlainCredentials(username={self.username!r})"

    _OPTIONS = {
        "channel_max": 65535, "frame_max": 131072, "heartbeat": None, "ssl_options": None,
        "connection_attempts": 1, "retry_delay": 2.0, "socket_timeout": 10.0, "stack_timeout": 15.0,
        "locale": "en_US", "blocked_connection_timeout": None, "client_properties": None, "tcp_options": None,
    }

    class Parameters:  # type: ignore[no-redef]
        """Defaults: ``localhost:5672``, vhost ``/``, user ``guest``."""

        DEFAULT_HOST = "localhost"
        DEFAULT_PORT = 5672
        DEFAULT_SSL_PORT = 5671
        DEFAULT_VIRTUAL_HOST = "/"
        DEFAULT_USERNAME = "guest"
        DEFAULT_PASSWORD = "guest"

        def __init__(self) -> None:
            self.host = self.DEFAULT_HOST
            self.port = self.DEFAULT_PORT
            self.virtual_host = self.DEFAULT_VIRTUAL_HOST
            self.credentials = PlainCredentials(self.DEFAULT_USERNAME, self.DEFAULT_PASSWORD)
            for name, value in _OPTIONS.items():
                setattr(self, name, value)

        def __repr__(self) -> str:
            return (f"<{self.__class__.__name__} host={self.host} port={self.port} "
                    f"virtual_host={self.virtual_host} ssl={bool(self.ssl_options)}>")

    class ConnectionParameters(Parameters):  # type: ignore[no-redef]
        """``ConnectionParameters(host, port, virtual_host, credentials, **options)`` as in pika."""

        _DEFAULT = object()

        def __init__(self, host: Any = _DEFAULT, port: Any = _DEFAULT, virtual_host: Any = _DEFAULT,
                     credentials: Any = _DEFAULT, **options: Any) -> None:
            super().__init__()
            unknown = sorted(set(options) - set(_OPTIONS))
            if unknown:
                raise TypeError(f"unexpected kwargs: {dict((k, options[k]) for k in unknown)!r}")
            default = self._DEFAULT
            if host is not default:
                self.host = host
            if port is not default:
                self.port = port
            if virtual_host is not default:
                self.virtual_host = virtual_host
            if credentials is not default:
                self.credentials = credentials
            for name, value in options.items():
                setattr(self, name, value)

    class URLParameters(Parameters):  # type: ignore[no-redef]
        """``amqp://user:password@host:port/<vhost>?options``; the vhost is URL-quoted (``%2F`` is ``/``)."""

        def __init__(self, url: str) -> None:
            super().__init__()
            if url[0:4].lower() == "amqp":
                url = "http" + url[4:]
            parts = urlparse(url)
            if parts.scheme not in ("http", "https", ""):
                raise ValueError(f"Unexpected URL scheme {parts.scheme!r}; supported scheme values: amqp, amqps")
            if parts.hostname is not None:
                self.host = parts.hostname
            self.port = parts.port if parts.port is not None else (
                self.DEFAULT_SSL_PORT if parts.scheme == "https" else self.DEFAULT_PORT)
            if parts.username is not None:
                self.credentials = PlainCredentials(unquote(parts.username), unquote(parts.password or ""))
            if len(parts.path) > 1:
                self.virtual_host = unquote(parts.path.split("/")[1])
