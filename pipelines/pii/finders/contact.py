"""E-mail addresses and URLs (pure functions over a text)."""

from __future__ import annotations

import re

import tldextract

from pipelines.pii.finders.base import Finding

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


