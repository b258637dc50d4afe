"""Names and places the way people type them in comments and chats (``casual_names``).

@handles, lower-case given names and places, ALL-CAPS names and places, and the place
abbreviations everyone writes (``NYC``, ``Greenville , OH``). Tuned on WNUT-17 train only; the
dev split measures it (bench/scrub.py).
"""

from __future__ import annotations

import re

from pipelines.pii.finders.base import PROPER, Finding
from pipelines.pii.finders.vocab import (
    AMBIGUOUS_FIRST_NAMES,
    AMBIGUOUS_PLACE_WORDS,
    TECH_WORDS,
    census_names,
    gazetteer_places,
)

# an @handle (Twitter, Reddit u/, GitHub): an account name reaches the person
_HANDLE = re.compile(r"(?<![\w@.])(?:@|\bu/)[A-Za-z0-9_][A-Za-z0-9_.-]{1,29}(?<![.-])")
_WORD = re.compile(r"[^\W\d_][\w'’-]*")
# place abbreviations that are no English word in any case
PLACE_ABBREVIATIONS = frozenset("""
    nyc usa u.s. u.s.a. uk u.k. uae d.c. nola socal norcal philly cali atl chi-town
""".split())
# US state and Canadian province codes: a place after "City ," ("Greenville , OH")
REGION_CODES = frozenset("""
    AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
    NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC BC ON QC AB MB SK NS NB NL PE
""".split())
_CITY_REGION = re.compile(r"(?<=[^\W\d_])[ \t]*,[ \t]*([A-Z]{2}|[A-Z]\.[A-Z]\.)(?![\w.])")
_ABBREVIATION = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,3}|(?<![\w.])[A-Za-z][\w-]{1,7}\b")
# a lower-case place right after a preposition of place or travel
_PLACE_PREP = re.compile(
    r"(?i)\b(?:in|to|from|at|near|around|visit(?:ing|ed)?|leaving(?:\s+for)?|headed\s+to|"
    r"back\s+to)[ \t]+((?-i:[a-z][a-z'-]+)(?:[ \t]+(?-i:[a-z][a-z'-]+)){0,2})")
# a state code after a preposition of place ("back home to GA", "ahead in AK"); codes that are
# also English words in capitals ("in IN", "to OR", "ME") are left out
_AMBIGUOUS_CODES = frozenset("IN OR ME OK HI ON AS PE NS DE MA LA".split())
_PREP_CODE = re.compile(r"\b(?:in|to|from|at|near|around|visiting|leaving)[ \t]+([A-Z]{2})(?![\w.])")
# a venue people name with the time they will be there: "at Primal tonight", "@ Music Box on
# Friday", "tonight at The Standard"
_WHEN = (r"(?:tonight|tonite|tomorrow|tmrw|today|this\s+(?:weekend|week|morning|evening)|"
         r"on\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day)")
_VENUE = re.compile(
    rf"(?:(?<![\w@])(?:at|@)[ \t]+(?:[Tt]he[ \t]+)?((?-i:{PROPER}))[ \t]+(?i:{_WHEN})\b"
    rf"|(?i:{_WHEN})[ \t]+(?:at|@)[ \t]+(?:[Tt]he[ \t]+)?((?-i:{PROPER})))")
# titles people type before a name, in any case: "DJ Elements", "dj finese", "Pastor Ayo
# Oritsejafor", "Coach K"
_CASUAL_TITLE = re.compile(
    r"(?<![\w@#])(?:DJ|Dj|dj|MC|Pastor|pastor|Rev\.?|Coach|coach|Senator|Sen\.|Gov\.|Governor|"
    r"Mayor|Judge|Sgt\.?|Capt\.?|Captain|Officer|Auntie|Aunty|Uncle|uncle|Grandma|Grandpa)"
    r"[ \t]+([^\W\d_][\w'’-]*(?:[ \t]+(?-i:[^\W\d_a-z])[\w'’-]*)?)")
# a short lower-case given name after a word people put before a name ("thanks sam",
# "blame rose" is ambiguous and stays); 4+ letters are taken alone, see _people
_NAME_CUE = re.compile(
    r"(?i)\b(?:i'm|im|i\s+am|this\s+is|it's|with|thanks|thank\s+you|thx|hey|hi|hello|love|"
    r"ask|tell|told|call|called|text|texted|miss|met|and)[ \t]+((?-i:[a-z]{3}))\b")


def _name_word_ok(key: str, stop_words: frozenset[str]) -> bool:
    return (len(key) >= 3 and key in census_names("first") and key not in AMBIGUOUS_FIRST_NAMES
            and key not in stop_words and key not in TECH_WORDS)


def _people(text: str, stop_words: frozenset[str]) -> list[Finding]:
    """ALL-CAPS given names (``SCOTT WEILAND``, ``HAPPY B-DAY TAYLOR``) with the caps words
    after them, and lower-case given names alone (``a call from sam``)."""
    out = []
    tokens = list(_WORD.finditer(text))
    i = 0
    while i < len(tokens):
        word = tokens[i].group()
        key = word.lower()
        if (word.isupper() and len(word) > 2) or word.islower():
            if _name_word_ok(key, stop_words) and (word.isupper() or len(word) >= 4):
                end, j = tokens[i].end(), i + 1
                while (word.isupper() and j < len(tokens) and j - i <= 2
                       and tokens[j].group().isupper() and len(tokens[j].group()) > 1
                       and text[end:tokens[j].start()] == " "
                       and tokens[j].group().lower() not in stop_words):
                    end, j = tokens[j].end(), j + 1
                out.append(Finding(tokens[i].start(), end, "PERSON", 0.5))
                i = j
                continue
        i += 1
    return out


def _cued_people(text: str, stop_words: frozenset[str]) -> list[Finding]:
    """A name after a casual title (``DJ X``), a short given name after a cue (``thanks sam``)."""
    out = []
    for m in _CASUAL_TITLE.finditer(text):
        if m.group(1)[0].islower() and not text[m.start()].islower():
            continue  # "DJ set": a capitalised title takes a capitalised name ("dj finese" ok)
        words = m.group(1).split()
        while words and (words[-1].lower() in stop_words or words[-1].lower() in TECH_WORDS):
            words.pop()  # "DJ set", "Coach said": no name after the title
        if words:
            out.append(Finding(m.start(1), m.start(1) + len(" ".join(words)), "PERSON", 0.5))
    out += [Finding(m.start(1), m.end(1), "PERSON", 0.5) for m in _NAME_CUE.finditer(text)
            if _name_word_ok(m.group(1), stop_words)]
    return out


def _venues(text: str, stop_words: frozenset[str]) -> list[Finding]:
    """``at X tonight`` and ``tonight at X``: a named place people say they will be at."""
    out = []
    for m in _VENUE.finditer(text):
        group = 1 if m.group(1) else 2
        name = m.group(group)
        if name.lower() not in stop_words and not name.lower().startswith(tuple(_WEEKDAYS)):
            out.append(Finding(m.start(group), m.end(group), "LOCATION", 0.5))
    return out


_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun", "noon", "night", "home", "work")


def _places(text: str, stop_words: frozenset[str]) -> list[Finding]:
    places = gazetteer_places()
    out = [Finding(m.start(1), m.end(1), "LOCATION", 0.55) for m in _CITY_REGION.finditer(text)
           if m.group(1).replace(".", "") in REGION_CODES]
    out += [Finding(m.start(1), m.end(1), "LOCATION", 0.55) for m in _PREP_CODE.finditer(text)
            if m.group(1) in REGION_CODES and m.group(1) not in _AMBIGUOUS_CODES]
    out += _venues(text, stop_words)
    out += [Finding(m.start(), m.end(), "LOCATION", 0.55) for m in _ABBREVIATION.finditer(text)
            if m.group().lower() in PLACE_ABBREVIATIONS]
    for m in _PLACE_PREP.finditer(text):
        words = m.group(1).split()
        for n in range(len(words), 0, -1):  # the longest gazetteer name at the start
            candidate = " ".join(words[:n])
            if (candidate in places and candidate not in AMBIGUOUS_PLACE_WORDS
                    and candidate not in stop_words and candidate not in AMBIGUOUS_FIRST_NAMES
                    and candidate not in TECH_WORDS and len(candidate) > 3):
                out.append(Finding(m.start(1), m.start(1) + len(candidate), "LOCATION", 0.55))
                break
    for m in _WORD.finditer(text):  # ALL-CAPS single-word cities and countries
        word = m.group()
        key = word.lower()
        if (word.isupper() and len(word) > 3 and key in places and key not in stop_words
                and key not in AMBIGUOUS_PLACE_WORDS and key not in TECH_WORDS):
            out.append(Finding(m.start(), m.end(), "LOCATION", 0.55))
    return out


def find_casual_names(text: str, stop_words: frozenset[str] = frozenset()) -> list[Finding]:
    """``@handles``, ALL-CAPS and lower-case given names, casual places (see module doc)."""
    out = []
    if "@" in text or "u/" in text:
        out += [Finding(m.start(), m.end(), "PERSON", 0.6) for m in _HANDLE.finditer(text)]
    return (out + _people(text, stop_words) + _cued_people(text, stop_words)
            + _places(text, stop_words))
