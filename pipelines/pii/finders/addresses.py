"""Street addresses, address blocks and the name lines above them."""

from __future__ import annotations

import re

from pipelines.pii.finders.base import DIGIT, UPPER, Finding

# --- street addresses --------------------------------------------------------------------------

# Street types, as separate words (English, French, Spanish, Portuguese, Italian, Polish, ...)
_STREET_WORD = (
    r"(?:street|st|avenue|ave|av|road|rd|drive|dr|lane|ln|boulevard|blvd|court|ct|place|pl|"
    r"square|sq|terrace|terrasse|way|parkway|pkwy|highway|hwy|circle|cir|crescent|close|"
    r"alley|row|route|path|pass|loop|trail|plaza|crossing|crossroad|heights|gardens?|greens?|"
    r"park|parks|grove|hill|hills|view|walk|wharf|quay|mews|rise|ridge|radial|forges?|"
    r"rue|rua|via|viale|vicolo|piazza|corso|largo|calle|avda|avenida|carrer|paseo|camino|"
    r"travessa|estrada|praça|chaussée|allée|ul|ulica|aleja|al|út|utca|tér|körút|"
    r"cesta|ulice|náměstí|gasse|allee|platz|ring|damm|kade|laan|straat|plein|weg|vej|gade|"
    r"gata|gatan|gate|vägen|veien|vegen|katu|tie|kuja|polku)"
)
# Street names with the type fused on (Nørregade, Storgatan, Koskikatu, Lindenstraße, ...)
_FUSED_STREET = (
    r"[^\W\d_][\w'-]*?(?:vej|gade|gaden|gata|gatan|vägen|vegen|veien|veg|weg|straße|strasse|"
    r"str|gasse|allee|platz|damm|laan|straat|plein|katu|tie|kuja|polku|stien|bakken|krogen|"
    r"gränd|torget|torv|stræde|utca|ulica|cesta|ulice)"
)
_NUM = r"\d{1,6}[A-Za-z]?"
_WORD = r"(?:[^\W\d_][\w'’.-]*|\d{1,2}(?:st|nd|rd|th))"
# (?-i:...) keeps "starts upper case" true inside the case-insensitive street pattern
_CAP_WORD = r"(?:(?-i:[^\W\d_a-zß-ÿ])[\w'’.-]*|\d{1,2}(?:st|nd|rd|th)|d[eiao]s?|del|della|dei|van|von|de|la|le|du|y)"
# "1234 [56] Some Street Name <Suffix>" or "1234 [56] Name Words 78" or "Fusedvej 78"
_STREET_LINE = (
    rf"(?:{_NUM}\s+(?:{_NUM}\s+)?(?:{_CAP_WORD}\s+){{0,4}}{_STREET_WORD}\b\.?(?:\s+\d{{1,5}}\b\.?)?"
    rf"|{_NUM}\s+(?:{_NUM}\s+)?{_CAP_WORD}(?:\s+{_CAP_WORD}){{0,3}}\s+\d{{1,5}}[A-Za-z]?\b\.?"
    rf"|(?:{_NUM}\s+)?(?:{_CAP_WORD}\s+){{0,3}}{_FUSED_STREET}\s+\d{{1,5}}[A-Za-z]?\b\.?"
    rf"|{_STREET_WORD}\.?\s+(?:{_CAP_WORD}\s+){{0,3}}{_CAP_WORD}\s+\d{{1,5}}[A-Za-z]?\b\.?"
    rf"|(?:{_CAP_WORD}\s+){{1,4}}(?:{_STREET_WORD})\b\.?)"
)
_UNIT = r"(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|#)\.?\s*#?\s*\d{1,5}[A-Za-z]?\b"
# A locality segment after the street line: city, region code, country, post code, "nan"
_LOC_TOKEN = r"(?:[^\W\d_a-zß-ÿ][\w'’.-]*|\([^\W\d_][\w ]{1,20}\)|nan|\d{3,6}(?:[ -]\d{2,4})?|[A-Z]\d[A-Z] ?\d[A-Z]\d)"
_LOC_SEGMENT = rf"{_LOC_TOKEN}(?:[ ]{_LOC_TOKEN}){{0,4}}"
# between address lines: a comma or a line break (one blank line, mail quoting "> " allowed)
_LINE_BREAK = r"(?:[ \t]*(?:,|\n(?:[ \t>?|]*\n)?)[ \t>?|]*)"
_SEP = rf"(?:{_LINE_BREAK}|[ \t]+)"
_CORNER = re.compile(
    r"(?i)\b(?:the\s+)?corner\s+of\s+((?:[\w'’.-]+\s+){0,5}?[\w'’.-]+)\s+and\s+"
    r"((?:[\w'’.-]+\s+){0,4}?[\w'’.-]+?)(?=[.,;!?]?(?:\s|$))"
)
_MILITARY = re.compile(
    r"(?i)\b(?:psc\s+\d{3,5},?\s+box\s+\d{3,5}|unit\s+\d{3,5},?\s+box\s+\d{3,5}|"
    r"us[a-z]{1,3}\s+[^\W\d_][\w'-]*(?:\s+[^\W\d_][\w'-]*)?)"
    r"[ \t]*[,\n]?[ \t>]*(?:apo|fpo|dpo)\s+(?:aa|ae|ap)\s+\d{5}\b"
)


# Street words match any case ("2407 tawastintie 6"), but locality tokens must start upper case:
# a case-insensitive locality would swallow "in case of an issue" after a post code.
_STREET_PART = (
    rf"(?i:(?:{_UNIT}\s+)?{_STREET_LINE}"
    rf"(?:[ \t]+(?:{_CAP_WORD}\s+){{0,2}}{_STREET_WORD}\b\.?)?"  # "11 Rott Crossroad" tails
    rf"(?:{_SEP}{_UNIT})*)"
)
_ADDRESS = re.compile(rf"(?<![\w]){_STREET_PART}(?:{_LINE_BREAK}{_LOC_SEGMENT}){{0,4}}")


def find_addresses(text: str) -> list[Finding]:
    out = []
    lowered = text.lower()
    if "corner" in lowered:
        out += [
            Finding(m.start(), m.end(), "STREET_ADDRESS", 0.75) for m in _CORNER.finditer(text)
        ]
    if "apo" in lowered or "fpo" in lowered or "dpo" in lowered:
        out += [
            Finding(m.start(), m.end(), "STREET_ADDRESS", 0.9) for m in _MILITARY.finditer(text)
        ]
    if DIGIT.search(text) or " st" in lowered:
        for m in _ADDRESS.finditer(text):
            value = m.group().rstrip(" \t\n,>")
            if not DIGIT.search(value) and len(value.split()) < 3:
                continue  # "Main Street" alone, too vague to take out
            out.append(Finding(m.start(), m.start() + len(value), "STREET_ADDRESS", 0.7))
    return out


# a line holding only a name, right above an address: "Maureen Thibault", "> Esat Jeknić"
_ADDRESSEE_LINE = re.compile(
    rf"(?m)^[ \t>?|]*(?:[\w ]{{0,20}}:[ \t]*)?"
    rf"({UPPER}[\w'’-]+(?:[ \t]+(?:{UPPER}\.?|{UPPER}[\w'’-]+|van|von|de|da|ten)){{0,3}})[ \t]*$"
)

def find_addressees(text: str, addresses: list[Finding]) -> list[Finding]:
    """Name lines in the three lines above a found street address (a letter's address block)."""
    out = []
    for address in addresses:
        window_start = address.start
        for _ in range(4):
            window_start = text.rfind("\n", 0, max(0, window_start - 1)) + 1 if window_start else 0
        for m in _ADDRESSEE_LINE.finditer(text, window_start, address.start):
            # one word alone on such a line is the company ("Irecycle"), more is the person
            entity = "PERSON" if " " in m.group(1).strip() else "ORGANIZATION"
            out.append(Finding(m.start(1), m.end(1), entity, 0.5))
    return out


