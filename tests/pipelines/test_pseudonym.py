"""Keys: weak keys and exposed key files are refused; the warehouse knows which key ring wrote it."""

from __future__ import annotations

import json
import secrets

import pytest

from tests.conftest import PSEUDONYM_KEY
from warehouse import pseudonym

A = b"first-key-not-secret-0123456789abcdef"
B = b"second-key-not-secret-fedcba9876543210"


def key_file(tmp_path, text: str, mode: int = 0o600):
    path = tmp_path / "key"
    path.write_text(text)
    path.chmod(mode)
    return str(path)


# ---------------------------------------------------------------------------------------------
# Key strength and key file mode


@pytest.mark.parametrize(("key", "reason"), [
    ("aaaaaaaaaaaaaaaa", "1 distinct characters"),
    ("abababababababababababab", "2 distinct characters"),
    ("password12345678", "bits of entropy"),
    ("short-key", "9 characters"),
])
def test_weak_keys_are_refused_with_the_reason(monkeypatch, key, reason):
    monkeypatch.delenv(pseudonym.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(pseudonym.KEY_ENV, key)
    with pytest.raises(pseudonym.WeakKey, match=reason) as caught:
        pseudonym.load_key_ring()
    assert key not in str(caught.value)  # the reason never repeats the key
    assert f"${pseudonym.KEY_ENV}" in str(caught.value)


def test_a_weak_line_of_a_key_file_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(pseudonym.KEY_FILE_ENV, raising=False)
    path = key_file(tmp_path, f"{A.decode()}\naaaaaaaaaaaaaaaaaaaa\n")
    with pytest.raises(pseudonym.WeakKey, match="line 2 of the key file"):
        pseudonym.load_key_ring(path)


@pytest.mark.parametrize("key", [
    PSEUDONYM_KEY,  # what the test suite runs with
    secrets.token_hex(16),
    secrets.token_hex(32),  # what create_key_file (and so make demo) writes
    secrets.token_urlsafe(16),
    "correct horse battery staple",
], ids=["suite", "hex16", "hex32", "urlsafe16", "passphrase"])  # stable names: xdist workers
def test_reasonable_keys_are_accepted(monkeypatch, key):
    monkeypatch.delenv(pseudonym.KEY_FILE_ENV, raising=False)
    monkeypatch.setenv(pseudonym.KEY_ENV, key)
    assert pseudonym.load_key_ring() == [key.encode()]


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o610], ids=oct)
def test_a_key_file_others_can_reach_is_refused(tmp_path, mode):
    path = key_file(tmp_path, A.decode(), mode)
    with pytest.raises(pseudonym.WeakKey, match=f"mode {mode:04o}.*chmod 600"):
        pseudonym.load_key_ring(path)


def test_a_private_key_file_is_accepted(tmp_path):
    assert pseudonym.load_key_ring(key_file(tmp_path, f"{A.decode()}\n{B.decode()}\n", 0o600)) == [A, B]
    assert pseudonym.load_key_ring(key_file(tmp_path, A.decode(), 0o400)) == [A]


def test_a_missing_key_file_is_named(tmp_path):
    with pytest.raises(pseudonym.MissingKey, match="nope"):
        pseudonym.load_key_ring(str(tmp_path / "nope"))


def test_created_key_files_are_private_strong_and_load(tmp_path):
    """What ``make demo`` creates: 0600 and 256 random bits, accepted by every job."""
    path = pseudonym.create_key_file(tmp_path / "demo" / "pseudonym.key")
    assert path.stat().st_mode & 0o777 == 0o600
    key = pseudonym.load_key(str(path))
    assert len(key) == 64 and pseudonym.key_weakness(key) is None


# ---------------------------------------------------------------------------------------------
# The warehouse's key fingerprint


def test_the_first_run_records_the_fingerprint_and_never_the_key(tmp_path):
    wh = tmp_path / "wh"
    wh.mkdir()
    pseudonym.ensure_key_fingerprint(str(wh), [A])
    record = (wh / "_keys" / "epochs.json").read_text()
    assert json.loads(record)["epochs"] == [
        {"epoch": 0, "fingerprint": pseudonym.ring_fingerprint([A]), "state": "complete"}]
    assert A.decode() not in record
    before = record
    pseudonym.ensure_key_fingerprint(str(wh), [A])  # the same ring: accepted, nothing changes
    assert (wh / "_keys" / "epochs.json").read_text() == before
    assert not list((wh / "_keys").glob("*.tmp"))


def test_another_key_is_refused_with_the_fix(tmp_path):
    wh = str(tmp_path)
    pseudonym.ensure_key_fingerprint(wh, [A])
    with pytest.raises(pseudonym.KeyMismatch, match="not the one .* was written under.*use that key file"):
        pseudonym.ensure_key_fingerprint(wh, [B])
    # A ring that ends in a key the warehouse was never rotated to would split every user.
    with pytest.raises(pseudonym.KeyMismatch, match="never rotated to.*rotate_key"):
        pseudonym.ensure_key_fingerprint(wh, [A, B])
    assert issubclass(pseudonym.KeyMismatch, pseudonym.MissingKey)  # the CLIs' one-line errors


def test_after_a_rotation_only_the_whole_new_ring_is_accepted(tmp_path):
    wh = str(tmp_path)
    pseudonym.write_key_epochs(wh, [
        {"epoch": 0, "fingerprint": pseudonym.ring_fingerprint([A]), "state": "complete"},
        {"epoch": 1, "fingerprint": pseudonym.ring_fingerprint([A, B]), "state": "complete"}])
    pseudonym.ensure_key_fingerprint(wh, [A, B])
    with pytest.raises(pseudonym.KeyMismatch, match="earlier epoch.*append the newer keys"):
        pseudonym.ensure_key_fingerprint(wh, [A])
    with pytest.raises(pseudonym.KeyMismatch, match="not the one"):
        pseudonym.ensure_key_fingerprint(wh, [B])  # B alone is another chain


def test_an_unfinished_rotation_stops_every_job(tmp_path):
    wh = str(tmp_path)
    pseudonym.write_key_epochs(wh, [
        {"epoch": 0, "fingerprint": pseudonym.ring_fingerprint([A]), "state": "complete"},
        {"epoch": 1, "fingerprint": pseudonym.ring_fingerprint([A, B]), "state": "rotating"}])
    for ring in ([A], [A, B]):
        with pytest.raises(pseudonym.KeyMismatch, match="unfinished.*rerun python -m governance.rotate_key"):
            pseudonym.ensure_key_fingerprint(wh, ring)


def test_ring_fingerprints_identify_the_chain():
    assert pseudonym.ring_fingerprint([A]) != pseudonym.ring_fingerprint([B])
    assert pseudonym.ring_fingerprint([A, B]) not in {pseudonym.ring_fingerprint([B]),
                                                      pseudonym.ring_fingerprint([B, A])}
    assert A.hex() not in pseudonym.ring_fingerprint([A])
