"""Undo the tricks that hide an identifier from a regex, keeping a map back to the original.

Detection runs on the normalized text; replacement runs on the original, through
:meth:`Normalized.to_original`. What is undone:

- zero-width and soft-hyphen characters are dropped (``jo\u200bhn@example.com``);
- full-width forms and other scripts' digits become ASCII (``４１５``), odd spaces a space and
  Unicode dashes ``-``;
- a spelled-out e-mail becomes an address (``name at example dot com``,
  ``name [at] example [dot] com``, ``name @ example . com``); a plain ``docs at python.org`` is
  left alone: "at" before a dotted name is ordinary English;
- a number broken across two lines is joined (``415 555`` / ``0132``; also a phone split across
  two user messages, which the scrubber joins with a line break);
- single digits spaced or split by dashes or dots lose the separators (``4 1 5 5 5 5 0 1 3 2``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

_ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u180e\u2061\u2062\u2063\u2064"
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63"
# non-ASCII characters with an ASCII reading: full-width forms, digits of any script, spaces
_ODD_CHAR = re.compile(rf"[{_ZERO_WIDTH}{_DASHES}\uff01-\uff5e\u3000\u00a0\u2000-\u200a\u202f"
                       r"\u205f]|(?![0-9])\d")

# spelled-out e-mail: local part, "at" in any disguise, labels joined by "dot" or "."
_AT = r"(?:[ \t]+at[ \t]+|[ \t]*[\[({<][ \t]*at[ \t]*[\])}>][ \t]*|[ \t]+@[ \t]*|[ \t]*@[ \t]+)"
_DOT = r"(?:[ \t]+dot[ \t]+|[ \t]*[\[({<][ \t]*dot[ \t]*[\])}>][ \t]*|[ \t]*\.[ \t]*)"
_LABEL = r"[A-Za-z0-9](?:[\w-]*[A-Za-z0-9])?"
_SPELLED_EMAIL = re.compile(
    rf"(?i)(?<![\w.+-])[A-Za-z0-9][\w.+-]*{_AT}{_LABEL}(?:{_DOT}{_LABEL}){{1,4}}(?![\w-])")
_SPELLED = re.compile(r"(?i)[\[({<][ \t]*(?:at|dot)[ \t]*[\])}>]|[ \t]dot[ \t]|[ \t]@|@[ \t]")
# the last label of a spelled e-mail: a generic TLD people write, or a two-letter country code
_TLD = re.compile(r"(?i)(?:com|org|net|edu|gov|mil|int|info|biz|io|me|app|dev|ai|mail|[a-z]{2})")
# a digit run (3+ digits) at a line end, a digit run (2+ digits) opening the next line
_LINE_BROKEN_NUMBER = re.compile(
    r"(\d(?:[ .-]?\d){2,})([ \t]*[-.]?[ \t]*\n[ \t>]*)(\d(?:[ .-]?\d){1,})")
# 7+ single digits, each split from the next by a space, dash or dot (or " - ")
_SPACED_DIGITS = re.compile(r"(?<![\w.,-])\d(?:(?:[ ]?[-.][ ]?|[ ])\d){6,}(?![\w]|[.,-]\d)")
_SEPARATOR = re.compile(r"[ .-]+")


@dataclass(frozen=True)
class Normalized:
    text: str  # what the detectors read
    # per character of ``text``: the original span it came from; None = ``text`` is the original
    starts: tuple[int, ...] | None = None
    ends: tuple[int, ...] | None = None

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The original span holding every character of ``text[start:end]``."""
        if self.starts is None or end <= start:
            return start, end
        return self.starts[start], self.ends[end - 1]


def _odd_char(m: re.Match) -> str:
    ch = m.group()
    if ch in _ZERO_WIDTH:
        return ""
    if ch in _DASHES:
        return "-"
    if "\uff01" <= ch <= "\uff5e":
        return chr(ord(ch) - 0xFEE0)
    if ch.isdigit():
        return str(unicodedata.digit(ch, 0))
    return " "


def _spelled_email(m: re.Match) -> str | None:
    value = m.group()
    if not _SPELLED.search(value):
        return None  # "docs at python.org": English, not a disguise
    compact = re.sub(rf"(?i){_DOT}", ".", re.sub(rf"(?i){_AT}", "@", value, count=1))
    return compact if _TLD.fullmatch(compact.rsplit(".", 1)[1]) else None


def _joined_lines(m: re.Match) -> str:
    return m.group(1) + " " + m.group(3)


def _spaced_digits(m: re.Match) -> str | None:
    separators = set(_SEPARATOR.findall(m.group()))
    if "." in "".join(separators) and separators != {"."}:
        return None  # "0.1 0.2 0.3 0.4": decimals in a list, not one number
    return _SEPARATOR.sub("", m.group())


_Map = tuple[list[int], list[int]]


def _rewrite(text: str, pattern: re.Pattern, replace: Callable[[re.Match], str | None]
             ) -> tuple[str, _Map] | None:
    """``text`` with each match replaced; per new character, its span in ``text``."""
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = 0
    for m in pattern.finditer(text):
        new = replace(m)
        if new is None or new == m.group():
            continue
        parts += [text[pos:m.start()], new]
        starts += [*range(pos, m.start()), *[m.start()] * len(new)]
        ends += [*range(pos + 1, m.start() + 1), *[m.end()] * len(new)]
        pos = m.end()
    if not parts:
        return None
    parts.append(text[pos:])
    starts += range(pos, len(text))
    ends += range(pos + 1, len(text) + 1)
    return "".join(parts), (starts, ends)


_STEPS = (
    (_ODD_CHAR, _odd_char, lambda t: not t.isascii()),
    (_SPELLED_EMAIL, _spelled_email, lambda t: _SPELLED.search(t) is not None),
    (_LINE_BROKEN_NUMBER, _joined_lines, lambda t: "\n" in t),
    (_SPACED_DIGITS, _spaced_digits, lambda t: True),
)


def normalize(text: str) -> Normalized:
    """The text the detectors read, and the way back to ``text`` (see the module docstring)."""
    current, starts, ends = text, None, None
    for pattern, replace, applies in _STEPS:
        if not applies(current):
            continue
        rewritten = _rewrite(current, pattern, replace)
        if rewritten is None:
            continue
        current, (new_starts, new_ends) = rewritten
        if starts is None:
            starts, ends = new_starts, new_ends
        else:  # compose: a position in the previous text -> its original span
            starts, ends = ([starts[s] for s in new_starts],
                            [ends[e - 1] for e in new_ends])
    if starts is None:
        return Normalized(text)
    return Normalized(current, tuple(starts), tuple(ends))
