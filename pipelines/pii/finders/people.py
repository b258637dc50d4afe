"""Person names the small NER model misses: cues, titles, the census gazetteer."""

from __future__ import annotations

import re

from pipelines.pii.finders.base import NAME_TOKEN, UPPER, Finding
from pipelines.pii.finders.vocab import (
    AMBIGUOUS_FIRST_NAMES,
    INTERJECTIONS,
    LINE_LABELS,
    TECH_WORDS,
    census_names,
    is_tech_term,
)

_TITLED_NAME = re.compile(
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Mme|Mlle|Herr|Frau)\.?\s+"
    rf"({NAME_TOKEN}(?:\s+(?:[A-Z]\.\s*)?{NAME_TOKEN}){{0,2}})"
)
_INTRO_NAME = re.compile(
    r"(?i)\b(?:my\s+name\s+is|my\s+name's|i\s+am|i'm|this\s+is|call\s+me|called|named|"
    r"name:|last\s+name\?|first\s+name\?)[ \t]+"
    rf"({NAME_TOKEN}(?:[ \t]+(?:[^\W\d_]\.?[ \t]+)?{NAME_TOKEN}){{0,2}})"
)
# "Sari J. Paavolainen", "Ravil G Yefimov": first name, one-letter initial, surname

_INITIAL_NAME = re.compile(
    rf"(?<![\w<])({UPPER}[\w'’-]+[ \t]+{UPPER}\.?[ \t]+{UPPER}[\w'’-]{{2,}})\b"
)

# Lower-case words that follow "I am"/"I'm" and are not names
_NOT_NAMES = frozenset(
    "a an the not so very really just sorry happy glad here there going trying looking "
    "interested able afraid fine good ok okay sure new back home from in at on with writing "
    "and or but to for of is was by he she it we they you i my your his her our their me "
    "calling having getting working thinking wondering also still now done ready tired sick "
    "hungry lost confused curious worried excited unable available".split()
)


def find_names(text: str) -> list[Finding]:
    out = [Finding(m.start(1), m.end(1), "PERSON", 0.6) for m in _TITLED_NAME.finditer(text)]
    lower_case_text = not any(ch.isupper() for ch in text)
    for m in _INTRO_NAME.finditer(text):
        # keep the leading words that look like a name: capitalised (or any word when the
        # whole text is lower case), never a word like "sorry" in "I'm sorry"
        end = None
        for w in re.finditer(r"\S+", m.group(1)):
            word = w.group()
            if word.lower().strip(".") in _NOT_NAMES or not (word[0].isupper() or lower_case_text):
                break
            end = m.start(1) + w.end()
        if end is not None:
            out.append(Finding(m.start(1), end, "PERSON", 0.5))
    out += [Finding(m.start(1), m.end(1), "PERSON", 0.6) for m in _INITIAL_NAME.finditer(text)]
    return out


_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
_PARTICLES = frozenset("van von de da di del della ten ter le la du bin al".split())

_SPEAKER = re.compile(r"(?m)^[ \t>]*([^\W\d_][\w'’-]+)[ \t]*:")


def find_gazetteer_names(text: str, stop_words: frozenset[str] = frozenset()) -> list[Finding]:
    """Given names from the census gazetteer, with the capitalised words that follow them.

    - ``Willemine ten Pas``, ``Maha Cazares``: a capitalised given name plus following
      capitalised words (particles and initials allowed);
    - ``naomi ryan``, ``benjamin a seiler``: a lower-case given name plus a following census
      surname (or initial + word);
    - a dialogue speaker (``Halldór: ...``) in a text with at least two speaker lines.
    Given names that are also English words (AMBIGUOUS_FIRST_NAMES), stop words and technical
    terms are never taken on the gazetteer's word alone.
    """
    first, last = census_names("first"), census_names("last")
    tokens = list(_TOKEN.finditer(text))
    out = []
    i = 0
    while i < len(tokens):
        m = tokens[i]
        word = m.group()
        key = word.lower()
        if (len(word) < 3 or key not in first or key in AMBIGUOUS_FIRST_NAMES
                or key in stop_words or key in TECH_WORDS or not (word.istitle() or word.islower())):
            i += 1
            continue
        end, j = m.end(), i + 1
        if word.istitle():
            while j < len(tokens) and j - i <= 3:
                nxt = tokens[j]
                gap = text[end:nxt.start()]
                w = nxt.group()
                if gap.strip(" \t.") or "\n" in gap:
                    break
                if w[0].isupper() or (w in _PARTICLES and j + 1 < len(tokens)
                                      and tokens[j + 1].group()[0].isupper()):
                    end, j = nxt.end(), j + 1
                    continue
                break
            out.append(Finding(m.start(), end, "PERSON", 0.6))
        else:
            if len(word) < 4:
                i += 1
                continue
            while j < len(tokens) and j - i <= 2:
                nxt = tokens[j]
                w = nxt.group()
                if text[end:nxt.start()].strip(" \t.") or not w.islower() or w in stop_words:
                    break
                if len(w) == 1 or (w in last and w not in AMBIGUOUS_FIRST_NAMES
                                   and w not in TECH_WORDS):
                    end, j = nxt.end(), j + 1
                    continue
                break
            out.append(Finding(m.start(), end, "PERSON", 0.5))
        i = j
    speakers = [m for m in _SPEAKER.finditer(text) if m.group(1).lower() not in LINE_LABELS
                and m.group(1).lower() not in stop_words and m.group(1).lower() not in TECH_WORDS]
    if len({m.group(1) for m in speakers}) >= 2:
        out += [Finding(m.start(1), m.end(1), "PERSON", 0.5) for m in speakers]
    return out


# --- more cues: relatives, credits, speakers, addressed people, organisation nouns --------------

_CAP_SEQ = rf"{UPPER}[\w'’-]+(?:[ \t]+(?:{UPPER}\.|{UPPER}[\w'’-]+)){{0,2}}"
_KIN = (r"son|daughter|kid|kids|child|baby|wife|husband|spouse|brother|sister|mother|father|mom|"
        r"mum|dad|friend|boss|colleague|coworker|co-worker|partner|boyfriend|girlfriend|fiance|"
        r"fiancee|cousin|uncle|aunt|nephew|niece|neighbou?r|grandson|granddaughter|grandma|"
        r"grandpa|grandmother|grandfather|stepson|stepdaughter|roommate|classmate|teacher|"
        r"student|manager|landlord|tenant|client|patient|doctor|lawyer")
_PERSON_CUE = re.compile(
    rf"(?i:\b(?:my|our|your|his|her|their)[ \t]+(?:(?:little|older|younger|elder|best|new|old|"
    rf"late|ex)[ \t]+)?(?:{_KIN}),?[ \t]+)({_CAP_SEQ})"
    rf"|(?i:\b(?:named|called|call|name)[ \t]+(?:him|her|them|me|it)[ \t]+)({_CAP_SEQ})"
    rf"|(?i:\b(?:directed|written|produced|composed|performed|sung|painted|signed|authored|"
    rf"created|founded|edited|narrated|illustrated|photographed|starring|presented|hosted)"
    rf"(?:[ \t]+by)?[ \t]*:?[ \t]+)({_CAP_SEQ})"
)
# "Zak shouted at", "Timotea lives on": a capitalised word (not opening a sentence with a stop
# word) before a verb only people do
_SUBJECT = re.compile(
    rf"(?<![\w<])({UPPER}[\w'’-]+(?:[ \t]+{UPPER}[\w'’-]+)?)[ \t]+"
    r"(?:said|says|told|tells|asked|asks|shouted|yelled|replied|answered|whispered|screamed|"
    r"lives|lived|married|smiled|laughed|cried|texted|emailed|phoned)\b"
)
# "Vide, can I please speak to your boss?": a name addressed at the start of a line
_VOCATIVE = re.compile(
    rf"(?m)^[ \t>\"“]*(?:(?:hi|hey|hello|dear|thanks|thank[ \t]+you|sorry|excuse[ \t]+me),?[ \t]+)?"
    rf"({UPPER}[\w'’-]+),[ \t]+(?=(?:can|could|would|will|please|do|did|are|is|have|i|you|"
    r"we|what|where|when|how|why|let|tell|give)\b)"
)

def _not_a_name(value: str, stop_words: frozenset[str]) -> bool:
    first = value.split()[0].lower()
    return (first.endswith("ly") or first in stop_words or first in INTERJECTIONS or first in LINE_LABELS
            or is_tech_term(value, as_person=True))


def find_cue_people(text: str, stop_words: frozenset[str] = frozenset()) -> list[Finding]:
    """Names after a relative/role (``my kid Lukas``), ``named him X``, credits (``Directed
    By: X``), before a verb only people do (``Zak shouted``), addressed (``Vide, can I ...``)."""
    out = []
    for m in _PERSON_CUE.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g))
        if not _not_a_name(m.group(group), stop_words):
            out.append(Finding(m.start(group), m.end(group), "PERSON", 0.5))
    for pattern in (_SUBJECT, _VOCATIVE):
        for m in pattern.finditer(text):
            if not _not_a_name(m.group(1), stop_words):
                out.append(Finding(m.start(1), m.end(1), "PERSON", 0.5))
    return out


