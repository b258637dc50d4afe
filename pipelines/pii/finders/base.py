"""What every finder returns, and the regex pieces several finders share.

A finder is a pure function ``text -> list[Finding]``: no model, no state beyond word lists read
once from installed packages. The Presidio wrappers live in :mod:`pipelines.pii.recognizers`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    entity: str
    score: float


DIGIT = re.compile(r"\d")
# one letter that is upper case in any script; (?-i:...) keeps it so inside (?i) patterns
UPPER = r"(?-i:[^\W\d_a-zß-ÿ])"
NAME_TOKEN = r"[^\W\d_][\w'’-]*"
# one to four capitalised (or ALL-CAPS) words, "de"/"la"/"del" allowed inside
PROPER = (r"(?:(?-i:[^\W\d_a-zß-ÿ])[\w'’-]*(?:[ \t]+(?:(?:de|del|la|le|di|da|do|dos|y|o')[ \t]+)?"
          r"(?-i:[^\W\d_a-zß-ÿ])[\w'’-]*){0,3})")


def has_digit(text: str) -> bool:
    return DIGIT.search(text) is not None
