"""Rotation trusts only the key ring the warehouse records, and its CLI fails in one line."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from governance import rotate_key
from tests.conftest import table_files
from warehouse import pseudonym

NEW_KEY = b"rotated-key-not-secret-fedcba9876543210"
WRONG_KEY = b"wrong-old-key-not-secret-0123456789abcdef"


def tree_hashes(wh: Path) -> dict[str, str]:
    return {p.relative_to(wh).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(wh.rglob("*")) if p.is_file()}


@pytest.fixture()
def wh(curated_warehouse, tmp_path) -> Path:
    """A copy of the curated warehouse with the fingerprint its curation records."""
    path = tmp_path / "wh"
    shutil.copytree(curated_warehouse.warehouse, path)
    pseudonym.ensure_key_fingerprint(str(path), [curated_warehouse.key.encode()])
    return path


def write_key(path: Path, *keys: bytes) -> str:
    path.write_bytes(b"\n".join(keys) + b"\n")
    path.chmod(0o600)
    return str(path)


def test_the_first_rotation_refuses_a_wrong_old_key(wh):
    """It used to accept any old key and silently split every user in two."""
    before = tree_hashes(wh)
    with pytest.raises(rotate_key.RotateError, match="not the warehouse's current key"):
        rotate_key.rotate(str(wh), WRONG_KEY, NEW_KEY)
    assert tree_hashes(wh) == before  # nothing re-keyed, nothing recorded


def test_a_warehouse_without_a_fingerprint_is_not_rotated(curated_warehouse, tmp_path):
    path = tmp_path / "legacy"
    shutil.copytree(curated_warehouse.warehouse, path)
    shutil.rmtree(path / "_keys", ignore_errors=True)
    before = tree_hashes(path)
    with pytest.raises(rotate_key.RotateError, match="records no key fingerprint.*curate a day"):
        rotate_key.rotate(str(path), curated_warehouse.key.encode(), NEW_KEY)
    assert tree_hashes(path) == before


def test_rotation_records_the_new_ring(wh, curated_warehouse):
    old = curated_warehouse.key.encode()
    rotate_key.rotate(str(wh), old, NEW_KEY)
    epochs = rotate_key.read_epochs(str(wh))
    assert [e["state"] for e in epochs] == ["complete", "complete"]
    assert epochs[-1]["fingerprint"] == pseudonym.ring_fingerprint([old, NEW_KEY])
    pseudonym.ensure_key_fingerprint(str(wh), [old, NEW_KEY])  # curation goes on with the ring
    for stale_ring in ([old], [NEW_KEY]):  # the old key alone, or the new one alone, would split users
        with pytest.raises(pseudonym.KeyMismatch):
            pseudonym.ensure_key_fingerprint(str(wh), stale_ring)
    # A second rotation starts from the whole ring, not from its newest key alone.
    third = b"third-key-not-secret-0123456789abcdefgh"
    with pytest.raises(rotate_key.RotateError, match="not the warehouse's current key"):
        rotate_key.rotate(str(wh), NEW_KEY, third)
    assert rotate_key.rotate(str(wh), [old, NEW_KEY], third)["epoch"] == 2
    assert "third" not in (wh / "_keys" / "epochs.json").read_text()


def test_cli_wrong_old_key_is_one_error_line(wh, tmp_path, capsys):
    before = tree_hashes(wh)
    code = rotate_key.main(["--warehouse", str(wh),
                            "--old-key-file", write_key(tmp_path / "old.key", WRONG_KEY),
                            "--new-key-file", write_key(tmp_path / "new.key", NEW_KEY)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: --old-key-file is not")
    assert tree_hashes(wh) == before


def test_cli_refuses_an_exposed_key_file_in_one_line(wh, curated_warehouse, tmp_path, capsys):
    old = write_key(tmp_path / "old.key", curated_warehouse.key.encode())
    exposed = write_key(tmp_path / "new.key", NEW_KEY)
    Path(exposed).chmod(0o644)
    assert rotate_key.main(["--warehouse", str(wh), "--old-key-file", old,
                            "--new-key-file", exposed]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mode 0644" in err[0] and "chmod 600" in err[0]


def test_cli_new_key_file_may_hold_the_whole_new_ring(wh, curated_warehouse, tmp_path, capsys):
    old_key = curated_warehouse.key.encode()
    old = write_key(tmp_path / "old.key", old_key)
    wrong_ring = write_key(tmp_path / "wrong.key", WRONG_KEY, NEW_KEY)
    assert rotate_key.main(["--warehouse", str(wh), "--old-key-file", old,
                            "--new-key-file", wrong_ring]) == 2
    assert "first ones are not the old ring" in capsys.readouterr().err
    ring = write_key(tmp_path / "ring.key", old_key, NEW_KEY)
    assert rotate_key.main(["--warehouse", str(wh), "--old-key-file", old,
                            "--new-key-file", ring]) == 0
    assert json.loads(capsys.readouterr().out)["epoch"] == 1
    pseudonym.ensure_key_fingerprint(str(wh), pseudonym.load_key_ring(ring))


def test_cli_storage_failure_is_one_error_line_and_resumes(wh, curated_warehouse, tmp_path,
                                                           capsys):
    """A warehouse that cannot be written (here: a folder where a re-keyed file goes) ends in
    one line."""
    old = write_key(tmp_path / "old.key", curated_warehouse.key.encode())
    new = write_key(tmp_path / "new.key", NEW_KEY)
    first = table_files(wh, "interactions")[0]
    fp = rotate_key.fingerprint([curated_warehouse.key.encode(), NEW_KEY])
    in_the_way = Path(first).parent / f"{rotate_key.ROTATE_PREFIX}{fp[:12]}-{Path(first).name}"
    in_the_way.mkdir()
    argv = ["--warehouse", str(wh), "--old-key-file", old, "--new-key-file", new]
    assert rotate_key.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "rerun" in err[0]
    assert "Traceback" not in "\n".join(err)
    in_the_way.rmdir()
    assert rotate_key.main(argv) == 0  # the interrupted rotation completes
    assert rotate_key.read_epochs(str(wh))[-1]["state"] == "complete"
