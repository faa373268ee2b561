"""``KeyDigest``: the server's API key as a salted HMAC-SHA256, so worker processes never hold the key itself.

``hub serve --workers N`` hands its settings to each worker through the environment, which any process of the
same user can read (``/proc/PID/environ``) and which children inherit. Only the digest travels there: a worker
hashes each presented key with the salt and compares digests in constant time. A digest rather than a file
removed after start-up, because uvicorn starts a new worker whenever one dies, long after any such file is gone.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class KeyDigest:
    """A salted digest of one API key.

    Example:
        >>> digest = KeyDigest.of("s3cret")
        >>> digest.matches("s3cret"), digest.matches("guess")
        (True, False)
        >>> KeyDigest.parse(str(digest)) == digest
        True
    """

    salt: bytes
    digest: bytes

    @classmethod
    def of(cls, key: str) -> KeyDigest:
        salt = os.urandom(16)
        return cls(salt, _mac(salt, key.encode("utf-8")))

    @classmethod
    def parse(cls, text: str) -> KeyDigest:
        """Read ``str(digest)`` back ("SALT$DIGEST", both hex)."""
        salt, _, digest = text.partition("$")
        return cls(bytes.fromhex(salt), bytes.fromhex(digest))

    def matches(self, presented: str | bytes) -> bool:
        """Whether ``presented`` (text, or the UTF-8 bytes of a header) is the key, in constant time."""
        raw = presented.encode("utf-8", "surrogateescape") if isinstance(presented, str) else presented
        return hmac.compare_digest(_mac(self.salt, raw), self.digest)

    def __str__(self) -> str:
        return f"{self.salt.hex()}${self.digest.hex()}"


def _mac(salt: bytes, key: bytes) -> bytes:
    return hmac.new(salt, key, hashlib.sha256).digest()
