"""What dedup compares: normalized text, the exact key, word shingles of prompt and response."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Any

_TOKEN = re.compile(r"\w+|[^\w\s]")

# DedupExact's kept records carry their dedup text under this key so that DedupNearDuplicates
# does not normalize every record a second time; DedupNearDuplicates strips it from everything
# it emits (and DedupExact from its duplicates), so no output row of the dedup stage carries it.
CARRIED_TEXT = "_dedup_text"


def normalize(text: str | None) -> str:
    """NFKC, casefold, then tokens (word runs and single punctuation marks) joined by one space.

    Whitespace and case differences vanish; punctuation stays, so ``2+3`` and ``2*3`` differ.
    """
    if not text:
        return ""
    # ASCII is NFKC-invariant and casefolds as lower(): skip the Unicode tables for it
    text = text.lower() if text.isascii() else unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_TOKEN.findall(text))


def dedup_text(record: dict[str, Any]) -> str:
    """The text deduped on: normalized last user turn, a newline, normalized response.

    normalize() never leaves a newline, so the first one always separates the two parts."""
    return f"{normalize(record.get('prompt'))}\n{normalize(record.get('response'))}"


def split_dedup_text(text: str) -> tuple[str, str]:
    """(normalized prompt, normalized response) of a dedup text."""
    prompt, _, response = text.partition("\n")
    return prompt, response


def with_dedup_text(record: dict[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """(exact key, a copy of the record carrying its dedup text): the exact stage's keying,
    normalizing once for both stages. The key is blake2b-128 of the dedup text."""
    text = dedup_text(record)
    key = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
    return key, {**record, CARRIED_TEXT: text}


def carried_dedup_text(record: dict[str, Any]) -> str:
    """The dedup text DedupExact attached, or computed now for a record that has none."""
    text = record.get(CARRIED_TEXT)
    return dedup_text(record) if text is None else text


def strip_carried(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the carried dedup text (the record itself when it has none)."""
    if CARRIED_TEXT not in record:
        return record
    return {k: v for k, v in record.items() if k != CARRIED_TEXT}


def shingles(text: str, size: int) -> list[bytes]:
    """Distinct word ``size``-grams of a normalized text, UTF-8; a shorter text is one shingle.

    Splitting the UTF-8 bytes on ASCII whitespace equals splitting the text: normalize() leaves
    only single spaces between tokens.
    """
    words = text.encode("utf-8").split()
    if len(words) <= size:
        return [b" ".join(words)]
    return list(dict.fromkeys(map(b" ".join, zip(*(words[i:] for i in range(size)), strict=False))))


def exchange_shingles(text: str, size: int) -> tuple[list[bytes], list[bytes]]:
    """(prompt shingles, response shingles) of a dedup text. The exchange's shingle set is their
    union: no shingle spans the prompt/response boundary, so the response's shingles are exactly
    the ones the responses are compared on."""
    prompt, response = split_dedup_text(text)
    return shingles(prompt, size), shingles(response, size)
