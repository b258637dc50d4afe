"""Recognizers the PII scrubber adds to Presidio's predefined ones.

Each detector is a plain function ``text -> list[Finding]`` behind a cheap pre-check (a text
without a digit cannot hold a phone number); :class:`FinderRecognizer` subclasses at the bottom
wrap them as Presidio ``EntityRecognizer`` objects so one ``AnalyzerEngine`` runs them next to
Presidio's own ``EmailRecognizer``, ``PhoneRecognizer``, ``CreditCardRecognizer``, ... and
``SpacyRecognizer``. They cover what Presidio's defaults miss on real-looking data: phone numbers
in national formats that ``phonenumbers`` does not validate, 12-digit cards, international street
addresses and address blocks, post codes next to a cue or a region code, names after a title or an
introduction ("my name is ..."), and given names from a census gazetteer.
"""

from __future__ import annotations

import ipaddress
import re
from abc import abstractmethod
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
    r"(?i)\b(?:zip|zip\s*code|postal\s*code|post\s*code|postcode|plz)\b[\s:#]*(?:is[ \t]+)?"
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


# --- words that are never PII -------------------------------------------------------------------

# Programming languages, tools and products the small NER model tags GPE/PERSON/ORG ("how do I
# reverse a list in Python?" -> "in <LOCATION>?"). An NER span made only of these words is
# dropped. Words that are also common given names (Julia, Ruby, Ada, Pascal, Dart, Swift, ...) are
# listed in TECH_NAME_WORDS instead: dropped as a place or organisation, kept when tagged PERSON.
TECH_WORDS = frozenset(w.lower() for w in """
    Python Java JavaScript TypeScript Rust Go Golang Kotlin Scala Haskell Perl PHP Lua Elixir
    Erlang Clojure Fortran COBOL Lisp Scheme OCaml Fsharp Matlab Octave Bash Zsh PowerShell Groovy
    Objective-C Assembly Solidity Verilog VHDL Prolog Racket Nim Zig Crystal Delphi VBA
    SQL NoSQL MySQL PostgreSQL Postgres SQLite MongoDB Redis Cassandra Elasticsearch DynamoDB
    Snowflake BigQuery DuckDB Parquet Kafka Spark Hadoop Hive Airflow Beam Flink Dask Pandas
    NumPy SciPy Matplotlib Seaborn Plotly Jupyter Colab Keras TensorFlow PyTorch Torch JAX
    Scikit-learn Sklearn HuggingFace Transformers LangChain Llama GPT ChatGPT Copilot OpenAI
    Gemini Bard Mistral BERT Whisper
    React Angular Vue Svelte Django Flask FastAPI Rails Laravel Symfony Express Node Node.js
    Deno Next.js Nuxt jQuery Bootstrap Tailwind Spring Hibernate Maven Gradle npm Yarn pip Conda
    Anaconda Poetry Docker Kubernetes Helm Terraform Ansible Jenkins Vagrant Nginx Apache Tomcat
    Linux Ubuntu Debian Fedora CentOS Arch Windows macOS iOS Android Unix FreeBSD WSL
    Git GitHub GitLab Bitbucket Jira Confluence Slack Zoom Teams Discord Notion Trello Figma
    Excel Word PowerPoint Outlook OneNote Access SharePoint OneDrive Dropbox Gmail Chrome Firefox
    Safari Edge Opera Photoshop Illustrator Premiere Blender Unity Unreal Godot AutoCAD Tableau
    PowerBI Looker Salesforce SAP Oracle Azure AWS GCP Lambda Heroku Vercel Netlify Cloudflare
    Vim Neovim Emacs VSCode IntelliJ PyCharm Eclipse Xcode LaTeX Markdown HTML CSS JSON YAML XML
    TOML CSV Regex Wi-Fi Bluetooth USB HDMI Ethernet
""".split())
TECH_NAME_WORDS = frozenset("julia ruby ada pascal dart swift elm r c".split())


_CONNECTORS = frozenset("with and or on in for of the & to vs".split())


def is_tech_term(span_text: str, as_person: bool) -> bool:
    """True when every word of an NER span is a technical/product word (see TECH_WORDS)."""
    words = [w for w in re.split(r"[\s/,]+", span_text.strip().strip(".,;:!?()\"'")) if w]
    if not words:
        return False
    words = [w for w in words if w.lower() not in _CONNECTORS]  # "Ubuntu with Kubernetes"
    if not words:
        return False
    allowed = TECH_WORDS if as_person else TECH_WORDS | TECH_NAME_WORDS
    return all(w.lower().strip("+#") in allowed or w.lower() in allowed for w in words)


# --- the detectors as Presidio recognizers -------------------------------------------------------

# Presidio is imported here, not at the top: the finders above are usable without it.
from presidio_analyzer import LocalRecognizer, RecognizerResult  # noqa: E402


class FinderRecognizer(LocalRecognizer):
    """A Presidio recognizer over one finder function of this module.

    ``TRIGGER`` is the cheap pre-check: ``None`` = any text, otherwise a text must contain one of
    its strings (or a digit, for ``"digit"``) before the regexes run at all.
    """

    ENTITIES: tuple[str, ...] = ()
    TRIGGER: str | None = None

    def __init__(self):
        super().__init__(supported_entities=list(self.ENTITIES), supported_language="en",
                         name=type(self).__name__)

    def load(self) -> None:
        pass  # regexes compile at import

    @abstractmethod
    def find(self, text: str) -> list[Finding]:
        """Spans of this recognizer's entities in ``text`` (each subclass's regexes)."""

    def analyze(self, text, entities, nlp_artifacts=None):
        if self.TRIGGER == "digit" and not has_digit(text):
            return []
        return [
            RecognizerResult(f.entity, f.start, f.end, f.score,
                             recognition_metadata={
                                 RecognizerResult.RECOGNIZER_NAME_KEY: self.name,
                                 RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id})
            for f in self.find(text)
            if f.entity in entities
        ]


class OfflineEmailRecognizer(FinderRecognizer):
    ENTITIES = ("EMAIL_ADDRESS",)

    def load(self) -> None:  # EntityRecognizer.__init__ calls it
        self._tld = make_offline_tld_extractor()
        self._tld("example.com")  # read the bundled snapshot now, not on the first e-mail

    def find(self, text):
        return find_emails(text, self._tld)


class PhoneFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("PHONE_NUMBER",), "digit"
    find = staticmethod(find_phones)


class CardDigitsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("CREDIT_CARD",), "digit"
    find = staticmethod(find_cards)


class IbanGroupsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("IBAN_CODE",), "digit"
    find = staticmethod(find_ibans)


class SsnFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("US_SSN",), "digit"
    find = staticmethod(find_ssns)


class IpAddressFormatsRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("IP_ADDRESS",), "digit"
    find = staticmethod(find_ips)


class DriverLicenseCueRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("US_DRIVER_LICENSE",), "digit"
    find = staticmethod(find_licenses)


class ZipCodeRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("ZIP_CODE",), "digit"

    def find(self, text):
        return find_zips(text)


class StreetAddressRecognizer(FinderRecognizer):
    ENTITIES = ("STREET_ADDRESS",)
    find = staticmethod(find_addresses)


class UrlFormatsRecognizer(FinderRecognizer):
    ENTITIES = ("URL",)
    find = staticmethod(find_urls)


class CueNameRecognizer(FinderRecognizer):
    """Names after a title or an introduction, ``First X. Last`` (see :func:`find_names`)."""

    ENTITIES = ("PERSON",)
    find = staticmethod(find_names)


# every recognizer of ours, in the order the registry gets them
CUSTOM_RECOGNIZERS: tuple[type[FinderRecognizer], ...] = (
    OfflineEmailRecognizer,
    PhoneFormatsRecognizer,
    CardDigitsRecognizer,
    IbanGroupsRecognizer,
    SsnFormatsRecognizer,
    IpAddressFormatsRecognizer,
    DriverLicenseCueRecognizer,
    ZipCodeRecognizer,
    StreetAddressRecognizer,
    UrlFormatsRecognizer,
    CueNameRecognizer,
)


# --- names from the US Census first-name gazetteer ------------------------------------------------

# Census first names that are also everyday English words. Derived once from independent real
# text (the lower-case words of Anthropic hh-rlhf, Arena-Hard prompts and OpenAssistant messages:
# a census name written lower case at least a third as often as capitalised), then pruned by hand
# of real names people merely type lower case, plus months, colours and plants. Such a word is a
# name only when NER or a cue says so.
AMBIGUOUS_FIRST_NAMES = frozenset("""
    abbey abe ada ai al alpha an angel angle art bea bee bell bill brain buck buddy bunny candy
    carry chance charity chase cherry chin conception coral coy cruz crystal dahlia dawn deb dede
    dee del delta desire destiny diamond dick don dot echo ed eda else era eve fae faith fe forest
    foster gay gene ginger glory golden grace guy ha hang harmony herb honey hope hue hung hunter
    in irish joy junior karma kit kitty lady lang le lean len loan long lore love major man manual
    many marine mark marry max may melody mercy merry meta miles min miss moon mora my na noble
    numbers ok olive page patience pearl peg penny precious prince princess queen ray rich rob
    ruby season see so son song soon spring star stormy sue summer sun sunny sunshine ta temple
    tequila tiny un valentine van will winter young
    april june august jack rose grant lane pat sandy amber ivy jade hazel violet iris autumn river
    sky rusty christian norman english french august royal sterling earnest frank
""".split())
_NAMES_CACHE: dict[str, frozenset[str]] = {}


def census_names(kind: str) -> frozenset[str]:
    """Lower-cased US Census 1990 names shipped in the ``names`` package (MIT).

    ``kind``: ``"first"`` (male + female given names, ~5.2k) or ``"last"`` (surnames, ~89k).
    An independent source from the Faker locale lists that generated the benchmark texts.
    """
    if kind not in _NAMES_CACHE:
        import importlib.resources

        files = ("dist.male.first", "dist.female.first") if kind == "first" else ("dist.all.last",)
        root = importlib.resources.files("names")
        _NAMES_CACHE[kind] = frozenset(
            line.split()[0].lower()
            for f in files
            for line in (root / f).read_text().splitlines()
            if line.strip()
        )
    return _NAMES_CACHE[kind]


_TOKEN = re.compile(r"[^\W\d_][\w'’-]*")
_PARTICLES = frozenset("van von de da di del della ten ter le la du bin al".split())
# words that open a dialogue line but name a role, not a person ("Human:", "Q:", "Note:")
_LINE_LABELS = frozenset("""
    human assistant user system bot ai model gpt chatgpt claude agent customer support admin
    moderator host guest interviewer interviewee speaker narrator q a question answer note notes
    subject re fw fwd from to cc bcc date time phone tel fax mobile cell email e-mail address name
    title summary example input output response reply result error warning info tip hint step
    total price cost zip city state country company website url id ssn dob age sex gender
    directed written produced starring genre rating runtime language source update edit ps nb
""".split())
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
    speakers = [m for m in _SPEAKER.finditer(text) if m.group(1).lower() not in _LINE_LABELS
                and m.group(1).lower() not in stop_words and m.group(1).lower() not in TECH_WORDS]
    if len({m.group(1) for m in speakers}) >= 2:
        out += [Finding(m.start(1), m.end(1), "PERSON", 0.5) for m in speakers]
    return out


class GazetteerNameRecognizer(FinderRecognizer):
    """Census given names (see :func:`find_gazetteer_names`); stop words come from spaCy."""

    ENTITIES = ("PERSON",)

    def load(self) -> None:
        from spacy.lang.en.stop_words import STOP_WORDS

        census_names("first"), census_names("last")
        self._stop_words = frozenset(STOP_WORDS)

    def find(self, text):
        return find_gazetteer_names(text, self._stop_words)


CUSTOM_RECOGNIZERS += (GazetteerNameRecognizer,)


# --- places, organisations and post codes by their cues --------------------------------------------

# one to four capitalised (or ALL-CAPS) words, "de"/"la"/"del" allowed inside
_PROPER = (r"(?:(?-i:[^\W\d_a-zß-ÿ])[\w'’-]*(?:[ \t]+(?:(?:de|del|la|le|di|da|do|dos|y|o')[ \t]+)?"
           r"(?-i:[^\W\d_a-zß-ÿ])[\w'’-]*){0,3})")
_PLACE_CUE = re.compile(
    r"(?i)\b(?:flew\s+to|moved\s+(?:here\s+)?(?:from|to)|originally\s+from|grew\s+up\s+in|"
    r"born\s+in|lives?\s+in|living\s+in|based\s+in|relocated\s+to|travel(?:l?ed|ling)?\s+to|"
    r"arrived\s+(?:at|in)|i\s+am\s+in|i'm\s+in|home\s+(?:city|town)|hometown)[ \t:]+"
    rf"({_PROPER})"
)
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
    rf"({_PROPER})"
)


def find_places(text: str) -> list[Finding]:
    """A proper name after a place cue: "flew to LEPPEN", "originally from PORT O' WARREN"."""
    out = []
    for m in _PLACE_CUE.finditer(text):
        value = m.group(1)
        if not is_tech_term(value, as_person=False):
            out.append(Finding(m.start(1), m.end(1), "LOCATION", 0.6))
    return out


def find_organizations(text: str) -> list[Finding]:
    """``X Y Inc``/``Ltd``/``Technologies``..., ``A, B and C`` firms, a name after a job cue."""
    out = [Finding(m.start(), m.end(), "ORGANIZATION", 0.6) for m in _ORG.finditer(text)
           if not is_tech_term(m.group(), as_person=False)]
    for m in _ORG_CUE.finditer(text):
        if not is_tech_term(m.group(1), as_person=False):
            out.append(Finding(m.start(1), m.end(1), "ORGANIZATION", 0.5))
    return out


# a post code after a region code or "nan" at the end of an address line ("Aalborg NO 9100"), or
# alone on the line under a locality line
_REGION_ZIP = re.compile(
    r"(?m)(?<=[ \t])(?:[A-Z]{2}|nan)[ \t]+([A-Z]?\d{3,5}(?:[ -]\d{2,4})?)[ \t]*(?=$|[,?.!])"
    r"|^[ \t]*[^\W\d_][^\n\d]{1,40}\n[ \t]*(\d{2,5}(?:[ -]\d{2,4})?)[ \t]*$"
    rf"|\b(?:in|at|from)[ \t]+{_PROPER}[ \t]+(?!(?:19|20)\d\d\b)(\d{{3,5}}(?:-\d{{3}})?)\b"
)


def find_region_zips(text: str) -> list[Finding]:
    out = []
    for m in _REGION_ZIP.finditer(text):
        group = next(g for g in (1, 2, 3) if m.group(g))
        out.append(Finding(m.start(group), m.end(group), "ZIP_CODE", 0.6))
    return out


class CuePlaceRecognizer(FinderRecognizer):
    ENTITIES = ("LOCATION",)
    find = staticmethod(find_places)


class OrganizationFormsRecognizer(FinderRecognizer):
    ENTITIES = ("ORGANIZATION",)
    find = staticmethod(find_organizations)


class RegionZipRecognizer(FinderRecognizer):
    ENTITIES, TRIGGER = ("ZIP_CODE",), "digit"
    find = staticmethod(find_region_zips)


CUSTOM_RECOGNIZERS += (CuePlaceRecognizer, OrganizationFormsRecognizer, RegionZipRecognizer)


# --- places from the GeoNames gazetteer ----------------------------------------------------------

# Single-word GeoNames city names that are everyday English words. Derived once from independent
# real text (hh-rlhf, Arena-Hard prompts, OpenAssistant messages: a city name seen lower case
# there at least a third as often as capitalised), like AMBIGUOUS_FIRST_NAMES. Such a word is a
# place only when NER or a cue says so.
AMBIGUOUS_PLACE_WORDS = frozenset("""
    along alot anthem baldwin bar barking bath bay beacon bear begun bell bend bender best boo
    born bury bush buy calhoun can central cocoa coin colon come concord converse crystal date
    deal deerfield dig drama federal flint ganja gap gay george goes golden green hit ho holiday
    hue hull humble independence lens liberal liberty luau male man manage manga marks mason
    mentor mission mobile mora moron most much mut nice normal of opportunity oral orange parole
    pearl peer pen plantation po police pop providence punch ramon reading retreat ron roses sake
    sale salt samba same savage save sedan shaping since split spring superior sur surprise tank
    temple tequila than tire torrent tours university van wedding worms young
    god union roman eagle mustang mach
    january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday
""".split())
_PLACES_CACHE: list[frozenset[str]] = []
_PLACE_JOINERS = frozenset("de la del las los le les du des da do dos di am an im upon on sur "
                           "of the y e en".split())


def gazetteer_places() -> frozenset[str]:
    """Lower-cased city (population >= 15,000) and country names shipped in ``geotext`` (MIT code,
    GeoNames data CC-BY 3.0): ``cities15000.txt`` name + ASCII name, ``countryInfo.txt`` names."""
    if not _PLACES_CACHE:
        import importlib.resources

        root = importlib.resources.files("geotext") / "data"
        names = set()
        for line in (root / "cities15000.txt").read_text(encoding="utf-8").splitlines():
            fields = line.split("\t")
            if len(fields) > 2:
                names.update((fields[1].lower(), fields[2].lower()))
        for line in (root / "countryInfo.txt").read_text(encoding="utf-8-sig").splitlines():
            fields = line.split("\t")
            if not line.startswith("#") and len(fields) > 4:
                names.add(fields[4].lower())
        names.discard("")
        _PLACES_CACHE.append(frozenset(names))
    return _PLACES_CACHE[0]


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


class GazetteerPlaceRecognizer(FinderRecognizer):
    """GeoNames cities and countries (see :func:`find_gazetteer_places`)."""

    ENTITIES = ("LOCATION",)

    def load(self) -> None:
        from spacy.lang.en.stop_words import STOP_WORDS

        gazetteer_places()
        self._stop_words = frozenset(STOP_WORDS)

    def find(self, text):
        return find_gazetteer_places(text, self._stop_words)


CUSTOM_RECOGNIZERS += (GazetteerPlaceRecognizer,)


# --- more cues: relatives, credits, speakers, addressed people, organisation nouns --------------

_CAP_SEQ = rf"{_UPPER}[\w'’-]+(?:[ \t]+(?:{_UPPER}\.|{_UPPER}[\w'’-]+)){{0,2}}"
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
    rf"(?<![\w<])({_UPPER}[\w'’-]+(?:[ \t]+{_UPPER}[\w'’-]+)?)[ \t]+"
    r"(?:said|says|told|tells|asked|asks|shouted|yelled|replied|answered|whispered|screamed|"
    r"lives|lived|married|smiled|laughed|cried|texted|emailed|phoned)\b"
)
# "Vide, can I please speak to your boss?": a name addressed at the start of a line
_VOCATIVE = re.compile(
    rf"(?m)^[ \t>\"“]*(?:(?:hi|hey|hello|dear|thanks|thank[ \t]+you|sorry|excuse[ \t]+me),?[ \t]+)?"
    rf"({_UPPER}[\w'’-]+),[ \t]+(?=(?:can|could|would|will|please|do|did|are|is|have|i|you|"
    r"we|what|where|when|how|why|let|tell|give)\b)"
)
_INTERJECTIONS = frozenset("""
    hi hey hello yes yeah yep no nope ok okay sorry please thanks thank well so now also actually
    honestly seriously look listen wait guys folks everyone everybody sir madam maam ma'am dear
    mom dad mum boss doctor doc officer teacher friend friends buddy dude man bro sis honey babe
    baby darling sweetie kids children team all ladies gentlemen boys girls oh ah um uh hmm alright
    right sure fine great cool anyway besides however then first second finally again today
    tomorrow yesterday sometimes meanwhile also otherwise therefore moreover furthermore
    professor mr mrs ms dr
""".split())
_ORG_NOUN = re.compile(
    rf"\b[Tt]he[ \t]+((?:{_UPPER}[\w'’&-]+[ \t]+){{1,3}})"
    r"(?:office|offices|website|web[ \t]site|site|app|headquarters|hq|team|staff|employees|"
    r"orchestra|band|company|store|stores|branch|board|ceo|founders|management|foundation|"
    r"brand|platform|account|group|network|studio|label)\b"
)
_ORG_IS = re.compile(
    rf"(?m)(?:^|(?<=[.!?][ \t]))[ \t]*({_UPPER}[\w'’&-]+(?:[ \t]+{_UPPER}[\w'’&-]+){{0,2}})"
    r"[ \t]+(?:is|was)[ \t]+(?:an?|the)[ \t]+(?:[\w-]+[ \t]+){0,3}?"
    r"(?:company|multinational|corporation|firm|startup|start-up|nonprofit|non-profit|"
    r"organi[sz]ation|charity|brainchild|501\(c\)|provider|manufacturer|retailer|bank|agency|"
    r"business|conglomerate|subsidiary|brand)"
)
_PLACE_LABEL = re.compile(
    rf"(?im)^[ \t>]*(?:where|location|venue|city|town|place|hometown|birthplace)[ \t]*:[ \t]*"
    rf"((?-i:{_PROPER}))"
)
_ZIP_PLACE = re.compile(
    rf"\b(?:in|at|from)[ \t]+({_PROPER})[ \t]+(?!(?:19|20)\d\d\b)\d{{3,5}}(?:-\d{{3}})?\b"
)


def _not_a_name(value: str, stop_words: frozenset[str]) -> bool:
    first = value.split()[0].lower()
    return (first.endswith("ly") or first in stop_words or first in _INTERJECTIONS or first in _LINE_LABELS
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


def find_cue_organizations(text: str) -> list[Finding]:
    """``the X office/website/team``, ``X is a ... company/nonprofit``."""
    out = []
    for pattern in (_ORG_NOUN, _ORG_IS):
        for m in pattern.finditer(text):
            value = m.group(1).rstrip()
            if (value.split()[0].lower() in _CONNECTORS | _INTERJECTIONS
                    or (value.isupper() and len(value) <= 5)
                    or is_tech_term(value, as_person=False)):
                continue
            if pattern is _ORG_IS and value.lower() in ("it", "this", "that", "there", "he", "she"):
                continue
            out.append(Finding(m.start(1), m.start(1) + len(value), "ORGANIZATION", 0.5))
    return out


def find_cue_places(text: str) -> list[Finding]:
    """``Where: X`` / ``Location: X`` labels, ``in X 6091`` (a proper name before a post code)."""
    out = []
    for pattern in (_PLACE_LABEL, _ZIP_PLACE):
        for m in pattern.finditer(text):
            if not is_tech_term(m.group(1), as_person=False):
                out.append(Finding(m.start(1), m.end(1), "LOCATION", 0.55))
    return out


class CuePeopleRecognizer(FinderRecognizer):
    ENTITIES = ("PERSON",)

    def load(self) -> None:
        from spacy.lang.en.stop_words import STOP_WORDS

        self._stop_words = frozenset(STOP_WORDS)

    def find(self, text):
        return find_cue_people(text, self._stop_words)


class CueOrganizationRecognizer(FinderRecognizer):
    ENTITIES = ("ORGANIZATION",)
    find = staticmethod(find_cue_organizations)


class CuePlaceLabelRecognizer(FinderRecognizer):
    ENTITIES = ("LOCATION",)
    find = staticmethod(find_cue_places)


CUSTOM_RECOGNIZERS += (CuePeopleRecognizer, CueOrganizationRecognizer, CuePlaceLabelRecognizer)
