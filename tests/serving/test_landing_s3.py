"""The gateway's landing writer on S3: whole closed segments that the curation job selects."""

from __future__ import annotations

import datetime as dt

from feedback.contract import format_timestamp, parse_line
from serving.config import LandingConfig
from serving.landing import SegmentWriter


def event(i: int, at: dt.datetime) -> dict:
    return {"event_type": "deletion_request", "event_id": f"del-{i:08d}",
            "timestamp": format_timestamp(at), "user_id": f"user-{i}"}


def test_segments_land_on_s3_whole_and_curation_selects_them(s3_store, tmp_path):
    from pipelines import landing

    url = s3_store.url("landing")
    writer = SegmentWriter(LandingConfig(url, spool=str(tmp_path / "spool"), instance="gw1"))
    now = dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC)
    for i in range(3):
        writer.write(event(i, now))
    assert s3_store.keys("landing/") == []  # an open segment stays in the local spool
    writer.close()
    [key] = s3_store.keys("landing/")
    assert key == "landing/dt=2026-11-03/gateway-gw1-000000.jsonl"
    lines = s3_store.read(key).splitlines()
    assert [parse_line(line).ok for line in lines] == [True] * 3
    assert writer.closed_segments == [f"s3://{s3_store.bucket}/{key}"]
    selection = landing.select_files(url, "2026-11-03")
    assert [f.path for f in selection.files] == [f"s3://{s3_store.bucket}/{key}"]
    assert selection.files[0].size == len(s3_store.read(key))
