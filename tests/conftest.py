"""Shared fixtures: a real warehouse made by the real simulator and the real Beam job.

``curated_warehouse`` simulates two days of traffic and curates each with
``pipelines.curate`` on the DirectRunner. Tests of the analyst surface, datasets, training
and governance read it; none of them builds warehouse rows by hand.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]
# ../shared/data beside the checkout; FLYWHEEL_SHARED_DATA points elsewhere (a git worktree).
SHARED_DATA = Path(os.environ.get("FLYWHEEL_SHARED_DATA") or REPO.parent / "shared" / "data")

DAYS = ("2026-11-01", "2026-11-02")
SEED = 7
USERS = 60
PSEUDONYM_KEY = "test-key-not-secret-0123456789abcdef"


def shared_file(name: str) -> Path:
    """A file of ../shared/data, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.exists():
        pytest.skip(f"real data {path} is absent (see ../shared/data/README.md)")
    return path


@dataclass(frozen=True)
class CuratedWarehouse:
    warehouse: Path
    landing: Path
    days: tuple[str, ...]
    truth: dict[str, dict]  # date -> the simulator's ground truth of that day
    key: str  # the pseudonymization key the job ran with


@pytest.fixture(scope="session")
def curated_warehouse(tmp_path_factory) -> CuratedWarehouse:
    from feedback import simulate
    from pipelines import curate

    root = tmp_path_factory.mktemp("flywheel")
    landing, warehouse = root / "landing", root / "warehouse"
    truth = {}
    os.environ["FLYWHEEL_PSEUDONYM_KEY"] = PSEUDONYM_KEY
    for index, day in enumerate(DAYS):
        truth_path = simulate.simulate_day(
            landing=landing, date=day, users=USERS, seed=SEED,
            model_versions=("v1",) if index == 0 else ("v1", "v2"),
        )
        truth[day] = json.loads(Path(truth_path).read_text())
        curate.run(["--landing", str(landing), "--warehouse", str(warehouse), "--date", day])
    return CuratedWarehouse(warehouse, landing, DAYS, truth, PSEUDONYM_KEY)


def table_files(warehouse, table: str, day: str | None = None) -> list[str]:
    """The committed data files of a Delta table (all days or one), as readers see them: read
    through the transaction log, never by listing the folder (which also holds replaced files
    kept for time travel)."""
    from warehouse import partitions

    by_day = partitions.partition_files(str(warehouse), table)
    return sorted(p for d, paths in by_day.items() if day in (None, d) for p in paths)


def strings_in(value):
    """Every string inside a row value (bytes read as latin-1), for tests that search rows for
    an erased user's traces."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, bytes):
        yield value.decode("latin-1")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(k)
            yield from strings_in(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from strings_in(v)


def table_rows(warehouse, table: str, day: str | None = None) -> list[dict]:
    import pyarrow.parquet as pq

    return [row for path in table_files(warehouse, table, day) for row in pq.read_table(path).to_pylist()]


# A real S3-compatible server on 127.0.0.1 (moto), for the object-storage tests.
from tests.s3_store import s3_endpoint, s3_store  # noqa: E402, F401
