"""The gateway's one source of "now": the system clock, or a simulated one for simulated days.

Event timestamps, landing partitions and midnight rollover read ``Clock.now()``; durations
(latency, segment age) read ``Clock.monotonic()``, which is always real time, because a latency
is a physical quantity even when the calendar is simulated.
"""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    """The system clock (UTC)."""

    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def monotonic(self) -> float:
        return time.monotonic()


class SimulatedClock(Clock):
    """Starts at ``start`` when created and runs ``speed`` times faster than real time."""

    def __init__(self, start: dt.datetime, speed: float = 1.0):
        if start.tzinfo is None:
            raise ValueError(f"simulated clock start {start.isoformat()} needs a time zone (e.g. ...Z)")
        if speed <= 0:
            raise ValueError(f"simulated clock speed must be > 0, got {speed}")
        self._start = start.astimezone(dt.UTC)
        self._speed = speed
        self._origin = time.monotonic()

    def now(self) -> dt.datetime:
        return self._start + dt.timedelta(seconds=(time.monotonic() - self._origin) * self._speed)


def make_clock(start: str | None, speed: float = 1.0) -> Clock:
    """``start`` as RFC 3339 (``2026-11-03T08:00:00Z``) gives a simulated clock; None the system one."""
    if start is None:
        if speed != 1.0:
            raise ValueError("--clock-speed needs --clock-start (the simulated instant to start from)")
        return Clock()
    try:
        instant = dt.datetime.fromisoformat(start.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(f"bad clock start {start!r}: expected RFC 3339, e.g. 2026-11-03T08:00:00Z") from error
    return SimulatedClock(instant, speed)
