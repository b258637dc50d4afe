"""Deterministic ids, RFC 3339 timestamps and the encoding of one landing line."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


def digest(*parts: Any) -> bytes:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).digest()


def uuid_for(*parts: Any) -> str:
    # Same value as uuid.UUID(bytes=digest[:16], version=4), without the object (hot path).
    h = digest(*parts)[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def user_id(seed: int, index: int) -> str:
    return "user_" + digest(seed, "user", index).hex()[:12]


def fmt_ts(date: str, ms: int, offset_hours: int = 0) -> str:
    """RFC 3339; with an offset the local clock is shown but the instant is the same."""
    if offset_hours == 0:
        s, milli = divmod(ms, 1000)
        h, rem = divmod(s, 3600)
        return f"{date}T{h:02d}:{rem // 60:02d}:{rem % 60:02d}.{milli:03d}Z"
    local = datetime.fromisoformat(date) + timedelta(milliseconds=ms + offset_hours * 3_600_000)
    sign = "+" if offset_hours > 0 else "-"
    return f"{local.isoformat(timespec='milliseconds')}{sign}{abs(offset_hours):02d}:00"


def json_line(record: Any) -> bytes:
    text = json.dumps(record, ensure_ascii=False, separators=(",", ":"))
    # Characters that str.splitlines() treats as line breaks must not appear raw in a line.
    for ch in ("\u2028", "\u2029", "\x85"):
        if ch in text:
            text = text.replace(ch, f"\\u{ord(ch):04x}")
    return text.encode("utf-8")


@dataclass
class Line:
    """One landing line and what the truth says about it."""

    data: bytes
    ts: int
    event_id: str | None = None
    malformed: str | None = None  # reject reason
    malformed_kind: str | None = None
    redelivered: bool = False
