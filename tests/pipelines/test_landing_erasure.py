"""Erasure reaches the landing zone, and curated landing days expire.

The end-to-end tests erase the simulator's own deletion requests from a copy of the real landing
zone and warehouse; the expected files are computed from the raw lines and the simulator's
ground truth (raw user ids), independently of the code under test.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import shutil
from pathlib import Path

import pytest

from governance import erase, landing_erasure
from warehouse import pseudonym

RING = [b"landing-test-key-not-secret-0123456789"]


def raw_lines(path: Path) -> list[bytes]:
    data = gzip.decompress(path.read_bytes()) if path.name.endswith(".gz") else path.read_bytes()
    return data.splitlines(keepends=True)


def landing_lines(landing: Path) -> dict[str, list[bytes]]:
    return {p.relative_to(landing).as_posix(): raw_lines(p)
            for p in sorted(landing.glob("dt=*/*.jsonl*"))}


def mentions(line: bytes, users: set[str]) -> bool:
    """The oracle: the line names one of ``users`` as a JSON string (the simulator writes raw
    ids in ``user_id`` only, in valid lines and in the hostile ones curation rejects)."""
    return any(json.dumps(u).encode() in line for u in users)


def tree_hashes(root: Path) -> dict[str, str]:
    # _locks/ holds who last held a lock (pid, time), not warehouse content
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "_locks" not in p.parts}


@pytest.fixture()
def world(curated_warehouse, tmp_path):
    """(warehouse, landing, key ring, raw ids of the users who asked to be erased)."""
    wh, landing = tmp_path / "wh", tmp_path / "landing"
    shutil.copytree(curated_warehouse.warehouse, wh)
    shutil.copytree(curated_warehouse.landing, landing)
    ring = [curated_warehouse.key.encode()]
    pseudonym.ensure_key_fingerprint(str(wh), ring)  # as curation does
    victims = {u for day in curated_warehouse.days
               for u in curated_warehouse.truth[day]["deletion_requests"]}
    return wh, landing, ring, victims


def erase_with_landing(wh: Path, landing: Path, ring) -> dict:
    return erase.erase(str(wh), tracking_uri=f"sqlite:///{wh / 'mlflow.db'}",
                       landing=str(landing), key_ring=ring)


def test_erasure_removes_the_users_landing_lines_and_keeps_every_other_byte(world, caplog):
    wh, landing, ring, victims = world
    before = landing_lines(landing)
    assert len(victims) == 2
    hit_files = {f for f, lines in before.items() if any(mentions(x, victims) for x in lines)}
    assert hit_files and any(f.endswith(".gz") for f in hit_files), "the fixture must cover .gz"
    hashes = tree_hashes(landing)

    with caplog.at_level(logging.DEBUG):
        summary = erase_with_landing(wh, landing, ring)

    after = landing_lines(landing)
    assert sorted(after) == sorted(before)
    for name, lines in before.items():
        assert after[name] == [x for x in lines if not mentions(x, victims)], name
    removed = sum(len(before[f]) - len(after[f]) for f in before)
    assert summary["landing"] == {"files_scanned": len(before), "files_rewritten": len(hit_files),
                                  "lines_removed": removed, "unreadable_files": 0}
    now = tree_hashes(landing)
    for name in before:  # files without the users' lines are not even rewritten
        assert (now[name] == hashes[name]) == (name not in hit_files), name
    assert not list(landing.rglob(f"{landing_erasure.TMP_PREFIX}*"))
    text = json.dumps(summary) + caplog.text
    assert not any(v in text for v in victims)  # no raw id in the summary or the log

    # A rerun finds nothing left and changes nothing.
    again = erase_with_landing(wh, landing, ring)
    assert again["landing"]["lines_removed"] == 0 and tree_hashes(landing) == now


def test_a_key_ring_that_is_not_the_warehouses_is_refused_before_anything_changes(world):
    wh, landing, _, _ = world
    before = tree_hashes(landing), tree_hashes(wh)
    with pytest.raises(pseudonym.KeyMismatch, match="not the one"):
        erase_with_landing(wh, landing, RING)  # it would match nobody and erase nothing
    assert (tree_hashes(landing), tree_hashes(wh)) == before


def test_after_a_rotation_the_whole_ring_finds_the_users_lines(world):
    from governance import rotate_key

    wh, landing, ring, victims = world
    new_key = b"rotated-key-not-secret-fedcba9876543210"
    rotate_key.rotate(str(wh), ring, new_key)
    with pytest.raises(pseudonym.KeyMismatch):
        erase_with_landing(wh, landing, ring)  # the old key alone would match nobody now
    summary = erase_with_landing(wh, landing, [*ring, new_key])
    assert summary["landing"]["lines_removed"] > 0
    assert not any(mentions(x, victims) for lines in landing_lines(landing).values() for x in lines)


def test_rewrite_keeps_other_lines_byte_for_byte_whatever_they_hold(tmp_path):
    """Lines curation rejects still hold the raw id: malformed JSON, duplicate keys, an escaped
    key, a line over the parse cap. Other users' lines keep CRLF, odd spacing, no final newline."""
    day = tmp_path / "landing" / "dt=2026-11-05"
    day.mkdir(parents=True)
    victim = "victim@example.com"
    gone = [
        b'{"event_type": "interaction", "user_id": "victim@example.com", "event_id": "a"}\n',
        b'{"user_id": "victim@example.com", "event_id": "b", "response": "trunc\n',
        b'{"user_id": "bob", "user_id": "victim@example.com", "event_id": "c"}\n',
        b'{"user\\u005fid": "victim@example.com", "event_id": "d"}\n',
        b'{"user_id": "victim@example.com", "response": "' + b"x" * 5000 + b'"}\n',
        b'{"event_type": "feedback", "metadata": {"user_id": "victim@example.com"}}\n',
    ]
    kept = [
        b'{"event_type": "interaction", "user_id": "bob",  "event_id": "e"}\r\n',
        b'not json at all, user_id nowhere\n',
        b'{"user_id": "carol", "response": "the victim@example.com wrote to me"}\n',
        b'\n',
        b'{"user_id": "dave", "event_id": "f"}',  # no final newline
    ]
    order = [kept[0], gone[0], gone[1], kept[1], gone[2], kept[2], gone[3], gone[4], kept[3],
             gone[5], kept[4]]
    (day / "a.jsonl").write_bytes(b"".join(order))
    (day / "b.jsonl.gz").write_bytes(gzip.compress(b"".join(order), mtime=0))
    (day / "a.jsonl").chmod(0o640)
    (day / "untouched.jsonl").write_bytes(kept[0] + kept[2])
    config = landing_erasure.LandingConfig(max_line_bytes=1024)
    erased = {pseudonym.pseudonymize_ring(RING, victim)}

    summary = landing_erasure.erase_landing(str(tmp_path / "landing"), RING, erased, config)

    assert summary == {"files_scanned": 3, "files_rewritten": 2, "lines_removed": 12,
                       "unreadable_files": 0}
    assert (day / "a.jsonl").read_bytes() == b"".join(kept)
    assert gzip.decompress((day / "b.jsonl.gz").read_bytes()) == b"".join(kept)
    assert (day / "a.jsonl").stat().st_mode & 0o777 == 0o640  # the file keeps its mode
    assert (day / "untouched.jsonl").read_bytes() == kept[0] + kept[2]


def test_a_rewrite_killed_midway_leaves_the_old_file_and_the_rerun_completes(tmp_path,
                                                                             monkeypatch):
    day = tmp_path / "landing" / "dt=2026-11-05"
    day.mkdir(parents=True)
    lines = [b'{"user_id": "victim"}\n', b'{"user_id": "bob"}\n']
    (day / "a.jsonl").write_bytes(b"".join(lines))
    erased = {pseudonym.pseudonymize_ring(RING, "victim")}

    def killed(src, dst):
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(landing_erasure.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        landing_erasure.erase_landing(str(tmp_path / "landing"), RING, erased)
    monkeypatch.undo()
    assert (day / "a.jsonl").read_bytes() == b"".join(lines)
    # A kill -9 would leave the temporary file: hidden, not a landing name, cleared next run.
    (day / f"{landing_erasure.TMP_PREFIX}0123{landing_erasure.TMP_SUFFIX}").write_bytes(lines[0])
    landing_erasure.erase_landing(str(tmp_path / "landing"), RING, erased)
    assert sorted(p.name for p in day.iterdir()) == ["a.jsonl"]
    assert (day / "a.jsonl").read_bytes() == lines[1]


def test_a_damaged_gzip_is_counted_not_fatal(tmp_path, caplog):
    day = tmp_path / "landing" / "dt=2026-11-05"
    day.mkdir(parents=True)
    good = gzip.compress(b'{"user_id": "victim"}\n' * 50, mtime=0)
    damaged = good[:20] + bytes(b ^ 0xFF for b in good[20:40]) + good[40:]
    (day / "victim-name.jsonl.gz").write_bytes(damaged)
    (day / "b.jsonl").write_bytes(b'{"user_id": "victim"}\n{"user_id": "bob"}\n')
    erased = {pseudonym.pseudonymize_ring(RING, "victim")}
    summary = landing_erasure.erase_landing(str(tmp_path / "landing"), RING, erased)
    assert summary["unreadable_files"] == 1 and summary["lines_removed"] == 1
    assert (day / "victim-name.jsonl.gz").read_bytes() == damaged
    assert "dt=2026-11-05" in caplog.text and "victim-name" not in caplog.text


def test_symlinks_leaving_the_landing_root_are_not_rewritten(tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_bytes(b'{"user_id": "victim"}\n')
    day = tmp_path / "landing" / "dt=2026-11-05"
    day.mkdir(parents=True)
    (day / "link.jsonl").symlink_to(outside)
    erased = {pseudonym.pseudonymize_ring(RING, "victim")}
    assert landing_erasure.erase_landing(str(tmp_path / "landing"), RING, erased)["files_scanned"] == 0
    assert outside.read_bytes() == b'{"user_id": "victim"}\n'


# ---------------------------------------------------------------------------------------------
# Retention


def test_retention_deletes_only_curated_days_past_it(world, caplog):
    wh, landing, _, _ = world
    (landing / "dt=2026-10-20").mkdir()  # never curated: kept, reported
    (landing / "dt=2026-10-20" / "events-00000.jsonl").write_bytes(b'{"user_id": "x"}\n')
    (landing / "dt=20261019").mkdir()  # not a day folder curation reads: left alone
    kept_before = tree_hashes(landing / "dt=2026-11-02")

    assert landing_erasure.apply_retention(str(landing), str(wh), "2026-11-02", 1)[
        "days_deleted"] == []  # 2026-11-01 is 1 day old: within a 1-day retention
    summary = landing_erasure.apply_retention(str(landing), str(wh), "2026-11-02", 0)
    assert summary == {"as_of": "2026-11-02", "retention_days": 0, "cutoff": "2026-11-02",
                       "days_deleted": ["2026-11-01"], "days_kept_uncurated": ["2026-10-20"]}
    assert sorted(p.name for p in landing.iterdir()) == [
        "_truth", "dt=2026-10-20", "dt=2026-11-02", "dt=20261019"]
    assert tree_hashes(landing / "dt=2026-11-02") == kept_before
    assert "2026-10-20" in caplog.text and "not curated" in caplog.text
    with pytest.raises(landing_erasure.LandingError, match="negative"):
        landing_erasure.apply_retention(str(landing), str(wh), "2026-11-02", -1)


# ---------------------------------------------------------------------------------------------
# CLI


def key_file(path: Path, ring) -> str:
    path.write_bytes(b"\n".join(ring) + b"\n")
    path.chmod(0o600)
    return str(path)


def test_cli_erases_landing_and_applies_retention(world, tmp_path, capsys):
    wh, landing, ring, victims = world
    code = erase.main(["--warehouse", str(wh), "--landing", str(landing),
                       "--pseudonym-key-file", key_file(tmp_path / "k", ring),
                       "--tracking-uri", f"sqlite:///{wh / 'mlflow.db'}",
                       "--landing-retention-days", "0"])
    out = capsys.readouterr().out
    assert code == 0
    summary = json.loads(out)
    assert summary["landing"]["lines_removed"] > 0
    assert summary["landing_retention"]["days_deleted"] == ["2026-11-01"]  # from the latest curated day
    assert not any(mentions(x, victims) for lines in landing_lines(landing).values() for x in lines)
    assert not any(v in out for v in victims)


@pytest.mark.parametrize(("argv", "message"), [
    (["--landing-retention-days", "3"], "error: --landing-retention-days needs --landing DIR"),
    (["--as-of", "20261102"], "error: --as-of '20261102' is not YYYY-MM-DD"),
    (["--as-of", "2026-W44-1"], "error: --as-of '2026-W44-1' is not YYYY-MM-DD"),
    (["--landing", "/no/such/landing"], "error: landing /no/such/landing is not a directory; "
     "pass the landing root (the folder holding dt=YYYY-MM-DD/)"),
    (["--landing", "/no/such/landing", "--landing-retention-days", "-1"],
     "error: --landing-retention-days -1 is negative; pass 0 or more"),
])
def test_cli_usage_errors_are_one_line_and_change_nothing(world, capsys, argv, message):
    wh = world[0]
    before = tree_hashes(wh)
    assert erase.main(["--warehouse", str(wh), *argv]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [message]
    assert tree_hashes(wh) == before


def test_cli_key_errors_are_one_line(world, tmp_path, capsys):
    wh, landing, ring, _ = world
    before = tree_hashes(wh), tree_hashes(landing)
    exposed = key_file(tmp_path / "exposed", ring)
    Path(exposed).chmod(0o644)
    for path, reason in ((exposed, "mode 0644"), (key_file(tmp_path / "wrong", RING), "not the one")):
        assert erase.main(["--warehouse", str(wh), "--landing", str(landing),
                           "--pseudonym-key-file", path]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and reason in err[0]
    assert (tree_hashes(wh), tree_hashes(landing)) == before


def test_cli_storage_failure_is_one_line_and_changes_nothing(world, tmp_path, capsys):
    """A warehouse that cannot be written (here: a file where the plan goes) ends in one line."""
    wh, landing, ring, _ = world
    (wh / erase.PLAN_DIR).write_text("in the way")
    before = tree_hashes(wh), tree_hashes(landing)
    argv = ["--warehouse", str(wh), "--landing", str(landing),
            "--pseudonym-key-file", key_file(tmp_path / "k", ring),
            "--tracking-uri", f"sqlite:///{wh / 'mlflow.db'}"]
    assert erase.main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "rerun" in err[0]
    assert (tree_hashes(wh), tree_hashes(landing)) == before
    (wh / erase.PLAN_DIR).unlink()
    assert erase.main(argv) == 0
