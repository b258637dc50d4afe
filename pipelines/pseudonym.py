"""Keyed pseudonyms for user ids: HMAC-SHA256 under a secret key.

The same user maps to the same pseudonym every day (joins and erasure work), nobody without the
key can recompute it from a known user id, and the key never enters a table, a log or a job graph:
workers read it themselves in ``DoFn.setup()`` from the environment or a key file URL.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
from pathlib import Path

KEY_ENV = "FLYWHEEL_PSEUDONYM_KEY"
KEY_FILE_ENV = "FLYWHEEL_PSEUDONYM_KEY_FILE"
# 128 bits of the HMAC are plenty to avoid collisions among billions of users and keep ids short.
PSEUDONYM_HEX_CHARS = 32
MIN_KEY_BYTES = 16


class MissingKey(RuntimeError):
    pass


def load_key(key_file: str | None = None) -> bytes:
    """The newest key (see ``load_key_ring``)."""
    return load_key_ring(key_file)[-1]


def load_key_ring(key_file: str | None = None) -> list[bytes]:
    """The keys from ``key_file`` (local path or any Beam filesystem URL), else the environment.

    One key per line, oldest first: after a rotation (``pipelines.rotate_key``) the file holds
    every key so far and pseudonyms are chained through them (``pseudonymize_ring``). Refuses to
    go on without a key: a pipeline that silently used a default would publish reversible
    pseudonyms.
    """
    key_file = key_file or os.environ.get(KEY_FILE_ENV)
    if key_file:
        from apache_beam.io.filesystems import FileSystems

        try:
            with FileSystems.open(key_file) as handle:
                key = handle.read().strip()
        except Exception as exc:  # noqa: BLE001 - any filesystem error means the same here
            raise MissingKey(f"cannot read the pseudonymization key file {key_file}: {exc}") from exc
    else:
        value = os.environ.get(KEY_ENV, "")
        key = value.strip().encode()
    ring = [line.strip() for line in key.splitlines() if line.strip()]
    if not ring or any(len(k) < MIN_KEY_BYTES for k in ring):
        raise MissingKey(
            f"no pseudonymization key: set {KEY_ENV} (at least {MIN_KEY_BYTES} characters) or "
            f"pass --pseudonym-key-file / {KEY_FILE_ENV}"
        )
    return ring


def pseudonymize_ring(ring: list[bytes], user_id: str) -> str:
    """The pseudonym under a key ring, oldest key first: HMAC(k_n, ... HMAC(k_1, user_id))."""
    value = pseudonymize(ring[0], user_id)
    for key in ring[1:]:
        value = pseudonymize(key, value)
    return value


def pseudonymize(key: bytes, user_id: str) -> str:
    digest = hmac.new(key, user_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return "u_" + digest[:PSEUDONYM_HEX_CHARS]


def create_key_file(path: Path) -> Path:
    """A fresh random key readable by its owner only (0600); kept if it already exists."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path
