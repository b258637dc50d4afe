"""Regex recognizers the PII scrubber runs next to spaCy's NER.

Each recognizer is a plain function ``text -> list[Finding]`` behind a cheap pre-check (a text
without a digit cannot hold a phone number), so most texts cost one ``str`` scan per type.
They cover what Presidio's defaults miss on real-looking data: phone numbers in national formats
that ``phonenumbers`` does not validate, 12-digit cards, international street addresses and
address blocks, post codes next to a "zip"/"postal code" cue, and names after a title or an
introduction ("my name is ...").
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass

import tldextract


@dataclass(frozen=True)
class Finding:
    start: int
    end: int
    entity: str
    score: float


# --- e-mail -----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w!#$%&'*+/=?^`{|}~-]+(?:\.[\w!#$%&'*+/=?^`{|}~-]+)*"
    r"@(?:[^\W_](?:[\w-]*[^\W_])?\.)+[^\W\d_]{2,63}(?![\w-])"
)


def make_offline_tld_extractor() -> tldextract.TLDExtract:
    """A TLDExtract that reads only the public-suffix snapshot bundled with the package.

    The default module-level extractor fetches publicsuffix.org on first use and caches it under
    the home directory; in a worker without network that blocks on a socket timeout.
    """
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def patch_tldextract_offline() -> None:
    """Make ``tldextract.extract`` (used by Presidio's EmailRecognizer) use the bundled snapshot."""
    import tldextract.tldextract as module

    if module.TLD_EXTRACTOR.suffix_list_urls or module.TLD_EXTRACTOR._cache.enabled:
        module.TLD_EXTRACTOR = make_offline_tld_extractor()


def find_emails(text: str, tld: tldextract.TLDExtract) -> list[Finding]:
    if "@" not in text:
        return []
    out = []
    for m in _EMAIL.finditer(text):
        if tld(m.group().rsplit("@", 1)[1]).suffix:  # a real public suffix, not "a@b.zz"
            out.append(Finding(m.start(), m.end(), "EMAIL_ADDRESS", 1.0))
    return out


# --- URL --------------------------------------------------------------------------------------

_URL = re.compile(r"(?i)\b(?:https?://|www\.)[^\s<>\"'()]+[^\s<>\"'().,;:!?]")


def find_urls(text: str) -> list[Finding]:
    if "http" not in text and "www." not in text:
        return []
    return [Finding(m.start(), m.end(), "URL", 0.9) for m in _URL.finditer(text)]


# --- numbers: card, IBAN, SSN, IP, phone -------------------------------------------------------

_DIGIT = re.compile(r"\d")
# 12-19 digits, optionally grouped by single spaces/dashes (4-4-4-4, 4-6-5 Amex)
_CARD = re.compile(r"(?<![\w-])\d(?:[ -]?\d){11,18}(?![\w-])")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def find_cards(text: str) -> list[Finding]:
    out = []
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if _luhn_ok(digits) and len(set(digits)) > 1:  # "000000000000" is Luhn-valid, not a card
            out.append(Finding(m.start(), m.end(), "CREDIT_CARD", 0.95))
    return out


# contiguous, or printed in groups of four ("GB27 DAKD 5840 ...")
_IBAN = re.compile(
    r"(?i)\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b"
)


def _iban_ok(candidate: str) -> bool:
    s = candidate.replace(" ", "").upper()
    rearranged = s[4:] + s[:4]
    return int("".join(str(int(c, 36)) for c in rearranged)) % 97 == 1


def find_ibans(text: str) -> list[Finding]:
    return [
        Finding(m.start(), m.end(), "IBAN_CODE", 1.0)
        for m in _IBAN.finditer(text)
        if _iban_ok(m.group())
    ]


_SSN = re.compile(r"(?<![\w-])(\d{3})([- .]?)(\d{2})\2(\d{4})(?![\w-])")


def find_ssns(text: str) -> list[Finding]:
    out = []
    for m in _SSN.finditer(text):
        area, sep, group, serial = m.groups()
        if area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000":
            continue  # not issuable by the SSA
        if not sep and not re.search(r"(?i)\b(?:ssn|social security)\b", text):
            continue  # 9 bare digits are an SSN only with a cue
        out.append(Finding(m.start(), m.end(), "US_SSN", 0.85))
    return out


_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")


def find_ips(text: str) -> list[Finding]:
    out = []
    for pattern in (_IPV4, _IPV6) if ":" in text else (_IPV4,):
        for m in pattern.finditer(text):
            try:
                ipaddress.ip_address(m.group())
            except ValueError:
                continue
            out.append(Finding(m.start(), m.end(), "IP_ADDRESS", 0.95))
    return out


# Phone numbers as people write them: optional +country code, optional (area) code, then 2-6
# groups of digits separated by one space, dash or dot, optional extension. 7-15 digits in all
# (E.164 caps a number at 15).
_PHONE = re.compile(
    r"(?<![\w+.$€£/:-])"
    r"(?:\+\d{1,3}[ .-]?)?"
    r"(?:\(\d{1,4}\)[ .-]?)?"
    r"\d{1,11}(?:[ .-]\(?\d{1,11}\)?){0,5}"
    r"(?:[ ]?(?:x|ext\.?|#)[ ]?\d{1,5})?"
    r"(?![\w/:]|[.,-]\d)"
)
_YEAR = re.compile(r"(?:19|20)\d\d")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def find_phones(text: str) -> list[Finding]:
    out = []
    for m in _PHONE.finditer(text):
        value = m.group()
        main = re.split(r"\s?(?:x|ext\.?|#)", value)[0]
        digits = re.sub(r"\D", "", main)
        if not 7 <= len(digits) <= 15:
            continue
        groups = re.findall(r"\d+", main)
        if len(groups) == 1 and not value.startswith("+") and len(digits) not in (10, 11):
            continue  # one bare run of digits is a phone only in the common 10/11-digit shape
        if _ISO_DATE.fullmatch(main) or all(len(g) == 4 and _YEAR.fullmatch(g) for g in groups):
            continue  # "2021-03-04", "2019 2020"
        if "." in main and len(groups) == 4 and all(len(g) <= 3 for g in groups):
            continue  # dotted quad: an IP address, handled by find_ips
        out.append(Finding(m.start(), m.end(), "PHONE_NUMBER", 0.7))
    return out


# --- driver's licence, zip code: only next to their cue ----------------------------------------

_LICENSE = re.compile(
    r"(?i)\b(?:driver'?s?|driving)\s+licen[cs]e(?:\s+(?:number|no\.?|#))?(?:\s+is)?[\s:#]*"
    r"([A-Z0-9](?:[A-Z0-9-]{4,18})[A-Z0-9])\b"
)


def find_licenses(text: str) -> list[Finding]:
    if "icen" not in text:
        return []
    return [
        Finding(m.start(1), m.end(1), "US_DRIVER_LICENSE", 0.8)
        for m in _LICENSE.finditer(text)
        if _DIGIT.search(m.group(1))
    ]


_ZIP = re.compile(
    r"(?i)\b(?:zip|zip\s*code|postal\s*code|post\s*code|postcode|plz)\b[\s:#]*"
    r"([A-Z]?\d[\dA-Z]{1,5}(?:[ -][\dA-Z]{2,4})?)\b"
)


def find_zips(text: str) -> list[Finding]:
    return [Finding(m.start(1), m.end(1), "ZIP_CODE", 0.8) for m in _ZIP.finditer(text)]


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
    if _DIGIT.search(text) or " st" in lowered:
        for m in _ADDRESS.finditer(text):
            value = m.group().rstrip(" \t\n,>")
            if not _DIGIT.search(value) and len(value.split()) < 3:
                continue  # "Main Street" alone, too vague to take out
            out.append(Finding(m.start(), m.start() + len(value), "STREET_ADDRESS", 0.7))
    return out


# --- names the small NER model misses -----------------------------------------------------------

_NAME_TOKEN = r"[^\W\d_][\w'’-]*"
_TITLED_NAME = re.compile(
    rf"\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Madam|Mme|Mlle|Herr|Frau)\.?\s+"
    rf"({_NAME_TOKEN}(?:\s+(?:[A-Z]\.\s*)?{_NAME_TOKEN}){{0,2}})"
)
_INTRO_NAME = re.compile(
    r"(?i)\b(?:my\s+name\s+is|my\s+name's|i\s+am|i'm|this\s+is|call\s+me|called|named|"
    r"name:|last\s+name\?|first\s+name\?)[ \t]+"
    rf"({_NAME_TOKEN}(?:[ \t]+(?:[^\W\d_]\.?[ \t]+)?{_NAME_TOKEN}){{0,2}})"
)
# "Sari J. Paavolainen", "Ravil G Yefimov": first name, one-letter initial, surname
_UPPER = r"(?-i:[^\W\d_a-zß-ÿ])"
_INITIAL_NAME = re.compile(
    rf"(?<![\w<])({_UPPER}[\w'’-]+[ \t]+{_UPPER}\.?[ \t]+{_UPPER}[\w'’-]{{2,}})\b"
)
# a line holding only a name, right above an address: "Maureen Thibault", "> Esat Jeknić"
_ADDRESSEE_LINE = re.compile(
    rf"(?m)^[ \t>?|]*(?:[\w ]{{0,20}}:[ \t]*)?"
    rf"({_UPPER}[\w'’-]+(?:[ \t]+(?:{_UPPER}\.?|{_UPPER}[\w'’-]+|van|von|de|da|ten)){{0,3}})[ \t]*$"
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


def has_digit(text: str) -> bool:
    return _DIGIT.search(text) is not None


# entity type -> recognizer that can only fire on a text holding a digit
DIGIT_RECOGNIZERS: dict[str, Callable[[str], list[Finding]]] = {
    "CREDIT_CARD": find_cards,
    "IBAN_CODE": find_ibans,
    "US_SSN": find_ssns,
    "IP_ADDRESS": find_ips,
    "PHONE_NUMBER": find_phones,
    "US_DRIVER_LICENSE": find_licenses,
    "ZIP_CODE": find_zips,
}
# entity type -> recognizer that may fire on any text (EMAIL_ADDRESS and PERSON are wired by the
# scrubber: one needs the offline tld extractor, the other joins spaCy's PERSON)
TEXT_RECOGNIZERS: dict[str, Callable[[str], list[Finding]]] = {
    "URL": find_urls,
    "STREET_ADDRESS": find_addresses,
}
