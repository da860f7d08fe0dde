"""Users: a name, a salted password hash in RabbitMQ's format, and tags.

RabbitMQ's internal user database keeps ``base64(salt + H(salt + utf8(password)))`` with a random
four-byte salt, where H is the user's hashing algorithm (``rabbit_password_hashing_sha256`` by default;
``_sha512`` and the legacy ``_md5`` also exist).  minimq keeps the same value, so a user exported by
``rabbitmqctl export_definitions`` logs in to minimq with its real password, and minimq's export logs
in to RabbitMQ.  Checking a password costs one hash of a few dozen bytes, once per connection.

Tags (``administrator``, ``monitoring`` ...) are kept and exported as given; minimq has no management
interface and grants nothing by them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

__all__ = ["PasswordHash", "User", "HASHING_ALGORITHMS", "DEFAULT_HASHING_ALGORITHM"]

#: RabbitMQ's hashing module names -> hashlib names
HASHING_ALGORITHMS = {
    "rabbit_password_hashing_sha256": "sha256",
    "rabbit_password_hashing_sha512": "sha512",
    "rabbit_password_hashing_md5": "md5",
}
#: the algorithm RabbitMQ 3.10 uses for new users, and the one a definitions entry without one means
DEFAULT_HASHING_ALGORITHM = "rabbit_password_hashing_sha256"
_SALT_BYTES = 4


@dataclass(frozen=True)
class PasswordHash:
    """A salted password hash: ``digest = H(salt + utf8(password))`` (H named by ``algorithm``).

    Immutable.  Build one with :meth:`for_password` or :meth:`from_encoded`; ``ValueError`` for an
    unknown ``algorithm`` (the message lists the known ones).
    """

    algorithm: str
    salt: bytes
    digest: bytes

    def __post_init__(self) -> None:
        if self.algorithm not in HASHING_ALGORITHMS:
            raise ValueError(f"hashing algorithm {self.algorithm!r} is not supported "
                             f"(supported: {', '.join(sorted(HASHING_ALGORITHMS))})")

    @classmethod
    def for_password(cls, password: str, algorithm: str = DEFAULT_HASHING_ALGORITHM,
                     salt: bytes | None = None) -> PasswordHash:
        """Hash ``password`` with a fresh random four-byte salt (or the ``salt`` given)."""
        if not isinstance(password, str):
            raise TypeError(f"password must be str, not {type(password).__name__}")
        if algorithm not in HASHING_ALGORITHMS:
            cls(algorithm, b"", b"")  # raises the ValueError that names the known algorithms
        salt = os.urandom(_SALT_BYTES) if salt is None else bytes(salt)
        digest = hashlib.new(HASHING_ALGORITHMS[algorithm], salt + password.encode("utf-8")).digest()
        return cls(algorithm, salt, digest)

    @classmethod
    def from_encoded(cls, encoded: str, algorithm: str = DEFAULT_HASHING_ALGORITHM) -> PasswordHash:
        """Read RabbitMQ's ``password_hash`` text (base64 of salt + digest).

        ``ValueError`` if it is not base64, or its length is not four bytes of salt plus one digest of
        ``algorithm`` (36 bytes for sha256).
        """
        if algorithm not in HASHING_ALGORITHMS:
            cls(algorithm, b"", b"")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"password_hash {encoded!r} is not valid base64") from None
        size = _SALT_BYTES + hashlib.new(HASHING_ALGORITHMS[algorithm]).digest_size
        if len(raw) != size:
            raise ValueError(f"password_hash must decode to {size} bytes for {algorithm} "
                             f"(4 of salt and the digest), got {len(raw)}")
        return cls(algorithm, raw[:_SALT_BYTES], raw[_SALT_BYTES:])

    @property
    def encoded(self) -> str:
        """The ``password_hash`` text RabbitMQ exports: base64 of salt + digest."""
        return base64.b64encode(self.salt + self.digest).decode("ascii")

    def verify(self, password: str) -> bool:
        """True when ``password`` hashes to this digest (compared in constant time)."""
        digest = hashlib.new(HASHING_ALGORITHMS[self.algorithm], self.salt + password.encode("utf-8")).digest()
        return hmac.compare_digest(digest, self.digest)


@dataclass(frozen=True)
class User:
    """A user of the broker: its name, its password hash (None: no password login) and tags."""

    name: str
    password_hash: PasswordHash | None
    tags: tuple[str, ...] = ()

    def check_password(self, password: str) -> bool:
        """True when ``password`` is this user's (always False for a user without a password)."""
        return self.password_hash is not None and self.password_hash.verify(password)
