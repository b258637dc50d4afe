"""Names the way people type them in comments and chats: @handles, lower case, first names."""

from __future__ import annotations

import re

from pipelines.pii.finders.base import Finding

# an @handle (Twitter, Reddit u/, GitHub): an account name reaches the person
_HANDLE = re.compile(r"(?<![\w@.])(?:@|\bu/)[A-Za-z0-9_][A-Za-z0-9_.-]{1,29}(?<![.-])")


def find_casual_names(text: str, stop_words: frozenset[str] = frozenset()) -> list[Finding]:
    """``@handles`` and ``u/handles``."""
    out = []
    if "@" in text or "u/" in text:
        out += [Finding(m.start(), m.end(), "PERSON", 0.6) for m in _HANDLE.finditer(text)]
    return out
