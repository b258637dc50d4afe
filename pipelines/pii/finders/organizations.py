"""Organisations: company suffixes, job cues, "the X website", "X is a ... company"."""

from __future__ import annotations

import re

from pipelines.pii.finders.base import PROPER, UPPER, Finding
from pipelines.pii.finders.vocab import CONNECTORS, INTERJECTIONS, is_tech_term

_ORG_SUFFIX = (r"(?:Inc|Incorporated|LLC|L\.L\.C|Ltd|Limited|GmbH|AG|SA|S\.A|PLC|Corp|Corporation|"
               r"Co|Company|Group|Holdings|Technologies|Solutions|Associates|Partners|Systems|"
               r"Labs|Bank|Insurance|Capital|Global|Consulting|Services|Industries|Enterprises|"
               r"Foundation|Institute|Agency|Analytics|Software|Networks|Ventures)")
_ORG = re.compile(
    rf"(?<![\w<])(?:(?-i:[^\W\d_a-z])[\w'’&-]*[ \t]+){{1,3}}{_ORG_SUFFIX}\b\.?"
    r"|(?<![\w<])(?-i:[^\W\d_a-z])[\w'’-]+,[ \t]+(?-i:[^\W\d_a-z])[\w'’-]+,?[ \t]+and[ \t]+"
    r"(?-i:[^\W\d_a-z])[\w'’-]+\b"  # "Davis, Reynolds and Williamson": a firm of partners
)
_ORG_CUE = re.compile(
    r"(?i)\b(?:works?\s+(?:at|for)|worked\s+(?:at|for)|working\s+(?:at|for)|employed\s+(?:at|by)|"
    r"joined|a\s+year\s+at|years\s+at|(?:is|am|was)\s+from|support|the\s+following\s+year\s+at|"
    r"later\s+became)[ \t]+"
    rf"({PROPER})"
)



def find_organizations(text: str) -> list[Finding]:
    """``X Y Inc``/``Ltd``/``Technologies``..., ``A, B and C`` firms, a name after a job cue."""
    out = [Finding(m.start(), m.end(), "ORGANIZATION", 0.6) for m in _ORG.finditer(text)
           if not is_tech_term(m.group(), as_person=False)]
    for m in _ORG_CUE.finditer(text):
        if not is_tech_term(m.group(1), as_person=False):
            out.append(Finding(m.start(1), m.end(1), "ORGANIZATION", 0.5))
    return out



_ORG_NOUN = re.compile(
    rf"\b[Tt]he[ \t]+((?:{UPPER}[\w'’&-]+[ \t]+){{1,3}})"
    r"(?:office|offices|website|web[ \t]site|site|app|headquarters|hq|team|staff|employees|"
    r"orchestra|band|company|store|stores|branch|board|ceo|founders|management|foundation|"
    r"brand|platform|account|group|network|studio|label)\b"
)
_ORG_IS = re.compile(
    rf"(?m)(?:^|(?<=[.!?][ \t]))[ \t]*({UPPER}[\w'’&-]+(?:[ \t]+{UPPER}[\w'’&-]+){{0,2}})"
    r"[ \t]+(?:is|was)[ \t]+(?:an?|the)[ \t]+(?:[\w-]+[ \t]+){0,3}?"
    r"(?:company|multinational|corporation|firm|startup|start-up|nonprofit|non-profit|"
    r"organi[sz]ation|charity|brainchild|501\(c\)|provider|manufacturer|retailer|bank|agency|"
    r"business|conglomerate|subsidiary|brand)"
)

def find_cue_organizations(text: str) -> list[Finding]:
    """``the X office/website/team``, ``X is a ... company/nonprofit``."""
    out = []
    for pattern in (_ORG_NOUN, _ORG_IS):
        for m in pattern.finditer(text):
            value = m.group(1).rstrip()
            if (value.split()[0].lower() in CONNECTORS | INTERJECTIONS
                    or (value.isupper() and len(value) <= 5)
                    or is_tech_term(value, as_person=False)):
                continue
            if pattern is _ORG_IS and value.lower() in ("it", "this", "that", "there", "he", "she"):
                continue
            out.append(Finding(m.start(1), m.start(1) + len(value), "ORGANIZATION", 0.5))
    return out



