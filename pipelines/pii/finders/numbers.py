"""Numbers that identify: cards, IBANs, SSNs, IPs, phones, licences, post codes."""

from __future__ import annotations

import ipaddress
import re

from pipelines.pii.finders.base import DIGIT, PROPER, Finding

# --- numbers: card, IBAN, SSN, IP, phone -------------------------------------------------------

# 12-19 digits, optionally grouped by single spaces/dashes/dots (4-4-4-4, 4-6-5 Amex)
_CARD = re.compile(r"(?<![\w.-])\d(?:[ .-]?\d){11,18}(?![\w-]|\.\d)")


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
        if DIGIT.search(m.group(1))
    ]


_ZIP = re.compile(
    r"(?i)\b(?:zip|zip\s*code|postal\s*code|post\s*code|postcode|plz)\b[\s:#]*(?:is[ \t]+)?"
    r"([A-Z]?\d[\dA-Z]{1,5}(?:[ -][\dA-Z]{2,4})?)\b"
)


def find_zips(text: str) -> list[Finding]:
    return [Finding(m.start(1), m.end(1), "ZIP_CODE", 0.8) for m in _ZIP.finditer(text)]


# a post code after a region code or "nan" at the end of an address line ("Aalborg NO 9100"), or
# alone on the line under a locality line
_REGION_ZIP = re.compile(
    r"(?m)(?<=[ \t])(?:[A-Z]{2}|nan)[ \t]+([A-Z]?\d{3,5}(?:[ -]\d{2,4})?)[ \t]*(?=$|[,?.!])"
    r"|^[ \t]*[^\W\d_][^\n\d]{1,40}\n[ \t]*(\d{2,5}(?:[ -]\d{2,4})?)[ \t]*$"
    rf"|\b(?:in|at|from)[ \t]+{PROPER}[ \t]+(?!(?:19|20)\d\d\b)(\d{{3,5}}(?:-\d{{3}})?)\b"
)


def find_region_zips(text: str) -> list[Finding]:
    out = []
    for m in _REGION_ZIP.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g))
        out.append(Finding(m.start(group), m.end(group), "ZIP_CODE", 0.6))
    return out


