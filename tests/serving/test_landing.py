"""The landing writer: whole lines only, closed on limits, day rollover, no clashes, recovery."""

from __future__ import annotations

import datetime as dt
import json
import os
import time

from feedback.contract import format_timestamp, parse_line
from serving.clock import SimulatedClock
from serving.config import LandingConfig
from serving.landing import SegmentWriter, recover_open_segments


def event(i: int, at: dt.datetime) -> dict:
    return {"event_type": "deletion_request", "event_id": f"del-{i:08d}",
            "timestamp": format_timestamp(at), "user_id": f"user-{i}"}


def closed(landing) -> list:
    return sorted(landing.glob("dt=*/*.jsonl"))


def test_open_segment_is_invisible_until_closed_then_whole(tmp_path):
    writer = SegmentWriter(LandingConfig(str(tmp_path)))
    now = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)
    for i in range(5):
        writer.write(event(i, now))
    assert closed(tmp_path) == []  # the curation job's glob (*.jsonl*) sees nothing yet
    assert [p.name for p in (tmp_path / "dt=2026-11-03").iterdir()][0].startswith(".")
    writer.close()
    [path] = closed(tmp_path)
    assert path.name == f"gateway-{writer.instance}-000000.jsonl"
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and all(parse_line(line).ok for line in lines[:-1]) and len(lines) == 6


def test_size_limit_age_limit_and_midnight_rollover(tmp_path):
    clock = SimulatedClock(dt.datetime(2026, 11, 3, 23, 59, 59, 800_000, tzinfo=dt.UTC))
    writer = SegmentWriter(LandingConfig(str(tmp_path), max_segment_bytes=400, max_segment_age_s=3600),
                           clock)
    for i in range(8):  # ~110 bytes each: three segments of at most 400 bytes
        writer.write(event(i, clock.now()))
    assert len(closed(tmp_path)) == 2 and all(p.stat().st_size <= 400 for p in closed(tmp_path))
    time.sleep(0.3)  # the clock passes midnight: the day's open segment is closed by the tick
    assert writer.rotate_if_due()
    writer.write(event(9, clock.now()))
    writer.close()
    days = sorted({p.parent.name for p in closed(tmp_path)})
    assert days == ["dt=2026-11-03", "dt=2026-11-04"]
    aged = SegmentWriter(LandingConfig(str(tmp_path / "aged"), max_segment_age_s=0.0))
    aged.write(event(1, dt.datetime.now(dt.UTC)))
    assert aged.rotate_if_due() and len(closed(tmp_path / "aged")) == 1


def test_writers_never_clash_even_with_one_instance_id(tmp_path):
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    writers = [SegmentWriter(LandingConfig(str(tmp_path), instance="edge1")) for _ in range(2)]
    writers.append(SegmentWriter(LandingConfig(str(tmp_path))))
    for i in range(30):
        writers[i % 3].write(event(i, now))
    for writer in writers:
        writer.close()
    ids = [json.loads(line)["event_id"] for p in closed(tmp_path) for line in p.read_text().splitlines()]
    assert sorted(ids) == [f"del-{i:08d}" for i in range(30)]
    assert len(closed(tmp_path)) == 3


def test_recovery_cuts_a_torn_tail_and_skips_live_writers(tmp_path):
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    live = SegmentWriter(LandingConfig(str(tmp_path)))
    live.write(event(0, now))
    folder = tmp_path / "dt=2026-11-03"
    dead = folder / ".gateway-dead0001-000004.jsonl.open"  # a writer killed mid-line
    dead.write_bytes(json.dumps(event(1, now)).encode() + b"\n" + b'{"event_type":"intera')
    assert recover_open_segments(tmp_path) == [str(folder / "gateway-dead0001-000004.jsonl")]
    assert (folder / "gateway-dead0001-000004.jsonl").read_text() == json.dumps(event(1, now)) + "\n"
    assert [p for p in folder.iterdir() if p.name.startswith(".")]  # the live one stays open
    live.close()
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_object_store_url_gets_whole_closed_segments(tmp_path):
    import fsspec

    writer = SegmentWriter(LandingConfig("memory://landing-test", spool=str(tmp_path / "spool")))
    now = dt.datetime(2026, 11, 3, tzinfo=dt.UTC)
    writer.write(event(0, now))
    fs = fsspec.filesystem("memory")
    assert not fs.exists("/landing-test/dt=2026-11-03") or not fs.ls("/landing-test/dt=2026-11-03")
    writer.close()
    [name] = fs.ls("/landing-test/dt=2026-11-03", detail=False)
    assert name.endswith(f"gateway-{writer.instance}-000000.jsonl")
    assert parse_line(fs.cat(name).splitlines()[0]).ok
    assert not os.listdir(tmp_path / "spool" / "dt=2026-11-03")
