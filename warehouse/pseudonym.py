"""Keyed pseudonyms for user ids: HMAC-SHA256 under a secret key.

The same user maps to the same pseudonym every day (joins and erasure work), nobody without the
key can recompute it from a known user id, and the key never enters a table, a log or a job graph:
workers read it themselves in ``DoFn.setup()`` from the environment or a key file URL.

A key is refused when it is guessable (``key_weakness``) or, in a local key file, readable by
anyone but its owner. The warehouse records which key ring wrote it (``ensure_key_fingerprint``:
an HMAC of a fixed label, never a key), so that a job run with another ring stops instead of
splitting every user in two.
"""

from __future__ import annotations

import collections
import hashlib
import hmac
import json
import math
import os
import secrets
import stat
from pathlib import Path

KEY_ENV = "FLYWHEEL_PSEUDONYM_KEY"
KEY_FILE_ENV = "FLYWHEEL_PSEUDONYM_KEY_FILE"
# 128 bits of the HMAC are plenty to avoid collisions among billions of users and keep ids short.
PSEUDONYM_HEX_CHARS = 32
# The strength floor of a key (docs/governance.md "Keys"): it refuses typed placeholders such as
# 'aaaaaaaaaaaaaaaa' or 'password12345678', not every weak key; generate keys with
# create_key_file (256 random bits).
MIN_KEY_BYTES = 16  # characters
MIN_KEY_DISTINCT = 8  # distinct characters
MIN_KEY_ENTROPY_BITS = 64.0  # length x Shannon entropy per character (a random 32-hex key: ~120)
FINGERPRINT_LABEL = b"flywheel-key-fingerprint"
FINGERPRINT_HEX_CHARS = 16  # identifies a ring; nothing to keep secret, nothing to collide with
# The key ring record under the warehouse: one entry per key epoch, newest last.
KEY_RECORD = ("_keys", "epochs.json")


class MissingKey(RuntimeError):
    pass


class WeakKey(MissingKey):
    """A key that is guessable, or a key file that others can read."""


class KeyMismatch(MissingKey):
    """A key ring that is not the one the warehouse's pseudonyms were written under."""


def load_key(key_file: str | None = None) -> bytes:
    """The newest key (see ``load_key_ring``)."""
    return load_key_ring(key_file)[-1]


def load_key_ring(key_file: str | None = None) -> list[bytes]:
    """The keys from ``key_file`` (local path or any Beam filesystem URL), else the environment.

    One key per line, oldest first: after a rotation (``governance.rotate_key``) the file holds
    every key so far and pseudonyms are chained through them (``pseudonymize_ring``). Refuses to
    go on without a key: a pipeline that silently used a default would publish reversible
    pseudonyms. Refuses a weak key, and a local key file readable by group or others.
    """
    key_file = key_file or os.environ.get(KEY_FILE_ENV)
    if key_file:
        from warehouse.files import filesystems

        FileSystems = filesystems()

        _check_key_file_mode(key_file)
        try:
            with FileSystems.open(key_file) as handle:
                key = handle.read().strip()
        except Exception as exc:  # noqa: BLE001 - any filesystem error means the same here
            raise MissingKey(f"cannot read the pseudonymization key file {key_file}: {exc}") from exc
        source = f"key file {key_file}"
    else:
        value = os.environ.get(KEY_ENV, "")
        key = value.strip().encode()
        source = f"${KEY_ENV}"
    ring = [line.strip() for line in key.splitlines() if line.strip()]
    if not ring:
        raise MissingKey(
            f"no pseudonymization key: set {KEY_ENV} (at least {MIN_KEY_BYTES} characters) or "
            f"pass --pseudonym-key-file / {KEY_FILE_ENV}"
        )
    for number, candidate in enumerate(ring, start=1):
        reason = key_weakness(candidate)
        if reason:
            where = f"line {number} of the {source}" if len(ring) > 1 else f"the {source}"
            raise WeakKey(f"the pseudonymization key in {where} is too weak: {reason}; make a "
                          f"random one with python -c 'import secrets; print(secrets.token_hex(32))'")
    return ring


def key_weakness(key: bytes) -> str | None:
    """Why ``key`` is guessable, or None: too short, too few distinct characters, or too little
    entropy (length x Shannon entropy of its characters). Never names the key itself."""
    if len(key) < MIN_KEY_BYTES:
        return f"{len(key)} characters, at least {MIN_KEY_BYTES} needed"
    counts = collections.Counter(key)
    if len(counts) < MIN_KEY_DISTINCT:
        return f"{len(counts)} distinct characters, at least {MIN_KEY_DISTINCT} needed"
    per_char = -sum(n / len(key) * math.log2(n / len(key)) for n in counts.values())
    bits = per_char * len(key)
    if bits < MIN_KEY_ENTROPY_BITS:
        return f"about {bits:.0f} bits of entropy, at least {MIN_KEY_ENTROPY_BITS:.0f} needed"
    return None


def _check_key_file_mode(key_file: str) -> None:
    """A local key file must be private to its owner; object stores have no mode (their ACLs
    are the bucket's business)."""
    if "://" in key_file:
        return
    try:
        mode = stat.S_IMODE(os.stat(key_file).st_mode)
    except OSError as exc:
        raise MissingKey(f"cannot read the pseudonymization key file {key_file}: "
                         f"{exc.strerror}") from exc
    if mode & 0o077:
        raise WeakKey(f"the pseudonymization key file {key_file} is accessible by group or others "
                      f"(mode {mode:04o}); run chmod 600 {key_file}")


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


# ---------------------------------------------------------------------------------------------
# Which key ring wrote the warehouse


def ring_fingerprint(ring: list[bytes]) -> str:
    """Identifies a key ring without revealing it: the fixed label chained through the ring the
    way pseudonyms are, so ``[A, B]`` and ``[B]`` differ. One key: HMAC(key, label)."""
    value = FINGERPRINT_LABEL
    for key in ring:
        value = hmac.new(key, value, hashlib.sha256).hexdigest()[:FINGERPRINT_HEX_CHARS].encode()
    return value.decode()


def _record_path(warehouse: str) -> str:
    from warehouse.files import join

    return join(warehouse.rstrip("/"), *KEY_RECORD)


def read_key_epochs(warehouse: str) -> list[dict]:
    """The warehouse's key epochs, oldest first: {epoch, fingerprint, state}; [] before the first."""
    from warehouse.files import filesystems

    FileSystems = filesystems()
    path = _record_path(warehouse)
    if not FileSystems.exists(path):
        return []
    with FileSystems.open(path) as handle:
        return json.loads(handle.read().decode())["epochs"]


def write_key_epochs(warehouse: str, epochs: list[dict]) -> None:
    """Replace the record atomically (local: temp file + rename; object stores publish an
    object whole when it is closed)."""
    from warehouse.files import filesystems

    FileSystems = filesystems()
    path = _record_path(warehouse)
    payload = json.dumps({"epochs": epochs}, indent=2) + "\n"
    if "://" in path:
        with FileSystems.create(path) as handle:
            handle.write(payload.encode())
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    Path(tmp).write_text(payload)
    os.replace(tmp, path)


def ensure_key_fingerprint(warehouse: str, ring: list[bytes]) -> None:
    """Record ``ring``'s fingerprint under the warehouse if none is recorded yet; else check it.

    Call it before a job writes or matches pseudonyms. Raises ``KeyMismatch`` when the ring is
    not the one the warehouse is under now: a rotation is unfinished, the ring is older than the
    warehouse's, it holds a key never rotated in, or it is another ring altogether.
    """
    epochs = read_key_epochs(warehouse)
    current = ring_fingerprint(ring)
    if not epochs:
        write_key_epochs(warehouse, [{"epoch": 0, "fingerprint": current, "state": "complete"}])
        return
    last = epochs[-1]
    if last["state"] != "complete":
        raise KeyMismatch(f"a key rotation of {warehouse} to epoch {last['epoch']} is unfinished; "
                          "rerun python -m governance.rotate_key with the same key files first")
    if last["fingerprint"] == current:
        return
    if any(e["fingerprint"] == current for e in epochs):
        raise KeyMismatch(f"the key ring is that of an earlier epoch of {warehouse} (now epoch "
                          f"{last['epoch']}); append the newer keys to the key file, oldest first")
    if any(ring_fingerprint(ring[:n]) == last["fingerprint"] for n in range(1, len(ring))):
        raise KeyMismatch(f"the key ring ends with a key that {warehouse} was never rotated to; "
                          "run python -m governance.rotate_key first or remove that key")
    raise KeyMismatch(f"the key ring (fingerprint {current}) is not the one {warehouse} was "
                      f"written under (fingerprint {last['fingerprint']}); use that key file")
