"""Partition days: exactly ``YYYY-MM-DD``, everywhere a day is named."""

from __future__ import annotations

import datetime as _dt
import re

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class BadDay(ValueError):
    """A ``--date``/``--as-of`` that is not exactly ``YYYY-MM-DD``."""


def parse_day(text: str, option: str = "--date") -> str:
    """``text`` if it is exactly ``YYYY-MM-DD`` and a real day, else ``BadDay``.

    Python 3.11's ``date.fromisoformat`` also takes ``20261102`` and ``2026-W44-1``; a
    partition named like that breaks every reader, so only the one form is accepted.
    """
    if not isinstance(text, str) or not _DAY.match(text):
        raise BadDay(f"{option} {text!r} is not YYYY-MM-DD (for example 2026-11-02)")
    try:
        _dt.date.fromisoformat(text)
    except ValueError:
        raise BadDay(f"{option} {text!r} is not a real day") from None
    return text


def is_day(text: str) -> bool:
    try:
        parse_day(text)
    except BadDay:
        return False
    return True
