"""``simulate_day``: one landing day and its truth, from the phases in order."""

from __future__ import annotations

import json
import re
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from feedback.simulate.answers import generate_day
from feedback.simulate.config import DEFAULT_CONFIG, SimulateConfig
from feedback.simulate.events import day_events
from feedback.simulate.write import write_day


def _previous_params(landing: Path, prev: str, users: int, model_versions: tuple[str, ...],
                     previous_model_versions: tuple[str, ...] | None) -> tuple[int, tuple[str, ...]]:
    if previous_model_versions is not None:
        return users, tuple(previous_model_versions)
    truth = landing / "_truth" / f"dt={prev}.json"
    if truth.exists():
        meta = json.loads(truth.read_text())
        return int(meta["users"]), tuple(meta["model_versions"])
    return users, model_versions


def simulate_day(landing: Path, date: str, users: int, seed: int,
                 model_versions: tuple[str, ...] = ("v1",),
                 previous_model_versions: tuple[str, ...] | None = None,
                 config: SimulateConfig = DEFAULT_CONFIG) -> Path:
    """Write one day of landing files and its ground truth; return the truth's path.

    The previous day is regenerated in memory to refer to its interactions; its model versions
    (and user count) are ``previous_model_versions`` if given, else read from its truth file if
    present, else assumed equal to today's.
    """
    landing = Path(landing)
    # Exactly YYYY-MM-DD: fromisoformat alone also takes 20261102 and 2026-W44-1, and a
    # partition named like that breaks every reader.
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", date):
        raise ValueError(f"date {date!r} is not YYYY-MM-DD")
    Date.fromisoformat(date)  # raises ValueError on a day that does not exist
    if users < 1:
        raise ValueError(f"users must be >= 1, got {users}")
    model_versions = tuple(model_versions)
    if not model_versions or len(set(model_versions)) != len(model_versions):
        raise ValueError(f"model_versions must be distinct and non-empty, got {model_versions!r}")
    cfg = config
    prev = (Date.fromisoformat(date) - timedelta(days=1)).isoformat()
    prev_users, prev_versions = _previous_params(landing, prev, users, model_versions,
                                                 previous_model_versions)
    day = generate_day(date, seed, users, model_versions, cfg)
    yesterday = generate_day(prev, seed, prev_users, prev_versions, cfg)
    lines, truth = day_events(day, yesterday, cfg)
    return write_day(landing, day, lines, truth, prev_versions, cfg)

