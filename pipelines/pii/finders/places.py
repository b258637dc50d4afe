"""Places: a proper name after a place cue, GeoNames cities and countries, labels."""

from __future__ import annotations

import re

from pipelines.pii.finders.base import PROPER, Finding
from pipelines.pii.finders.vocab import (
    AMBIGUOUS_FIRST_NAMES,
    AMBIGUOUS_PLACE_WORDS,
    TECH_WORDS,
    gazetteer_places,
    is_tech_term,
)

_PLACE_CUE = re.compile(
    r"(?i)\b(?:flew\s+to|moved\s+(?:here\s+)?(?:from|to)|originally\s+from|grew\s+up\s+in|"
    r"born\s+in|lives?\s+in|living\s+in|based\s+in|relocated\s+to|travel(?:l?ed|ling)?\s+to|"
    r"arrived\s+(?:at|in)|i\s+am\s+in|i'm\s+in|home\s+(?:city|town)|hometown)[ \t:]+"
    rf"({PROPER})"
)

def find_places(text: str) -> list[Finding]:
    """A proper name after a place cue: "flew to LEPPEN", "originally from PORT O' WARREN"."""
    out = []
    for m in _PLACE_CUE.finditer(text):
        value = m.group(1)
        if not is_tech_term(value, as_person=False):
            out.append(Finding(m.start(1), m.end(1), "LOCATION", 0.6))
    return out


_PLACE_JOINERS = frozenset("de la del las los le les du des da do dos di am an im upon on sur "
                           "of the y e en".split())


_PLACE_TOKEN = re.compile(r"[^\W\d_][\w'’.-]*")


def find_gazetteer_places(text: str, stop_words: frozenset[str] = frozenset()) -> list[Finding]:
    """Capitalised word sequences (1-5 words) that are a GeoNames city or a country name.

    The longest match wins (``Chiclana de la Frontera``). A one-word match must be Title case,
    not open a sentence or line (where any word is capitalised) and not be an English word
    (AMBIGUOUS_PLACE_WORDS, stop words, first names that are words, technical terms); a longer
    match may be ALL CAPS.
    """
    places = gazetteer_places()
    tokens = list(_PLACE_TOKEN.finditer(text))
    out = []
    i = 0
    while i < len(tokens):
        first = tokens[i].group()
        if not first[0].isupper():
            i += 1
            continue
        found = None
        for j in range(min(len(tokens), i + 5), i, -1):
            last = tokens[j - 1].group().rstrip(".")
            if not last[0].isupper():
                continue
            gaps = [text[tokens[k].end():tokens[k + 1].start()] for k in range(i, j - 1)]
            if any(g not in (" ", "-") for g in gaps):
                continue
            inner = [tokens[k].group() for k in range(i + 1, j - 1)]
            if any(not (w[0].isupper() or w.lower() in _PLACE_JOINERS) for w in inner):
                continue
            candidate = text[tokens[i].start():tokens[j - 1].start() + len(last)]
            if candidate.lower() not in places:
                continue
            if j - i == 1:
                key = candidate.lower()
                before = text[:tokens[i].start()].rstrip(" \t\"'(“")
                if (not candidate.istitle() or len(candidate) < 3 or key in stop_words
                        or key in AMBIGUOUS_PLACE_WORDS or key in AMBIGUOUS_FIRST_NAMES
                        or key in TECH_WORDS or not before or before[-1] in ".!?:\n"):
                    continue
            found = (tokens[i].start(), tokens[i].start() + len(candidate), j)
            break
        if found:
            out.append(Finding(found[0], found[1], "LOCATION", 0.55))
            i = found[2]
        else:
            i += 1
    return out


_PLACE_LABEL = re.compile(
    rf"(?im)^[ \t>]*(?:where|location|venue|city|town|place|hometown|birthplace)[ \t]*:[ \t]*"
    rf"((?-i:{PROPER}))"
)
_ZIP_PLACE = re.compile(
    rf"\b(?:in|at|from)[ \t]+({PROPER})[ \t]+(?!(?:19|20)\d\d\b)\d{{3,5}}(?:-\d{{3}})?\b"
)


def find_cue_places(text: str) -> list[Finding]:
    """``Where: X`` / ``Location: X`` labels, ``in X 6091`` (a proper name before a post code)."""
    out = []
    for pattern in (_PLACE_LABEL, _ZIP_PLACE):
        for m in pattern.finditer(text):
            if not is_tech_term(m.group(1), as_person=False):
                out.append(Finding(m.start(1), m.end(1), "LOCATION", 0.55))
    return out


