"""Decoding one landing line: the checks that need the text, before any field is looked at.

Strict RFC 8259 (no NaN or Infinity), and the contract's own bounds on top: no duplicate keys, no
number that overflows (1e999, integers beyond 64 bits), no NUL character, bounded nesting.
Each failure is ``Invalid`` with its reason; ``feedback.contract.parse_line`` turns it into a reject.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from feedback.terms import (
    CONTRACT_KEYS,
    DUPLICATE_KEY,
    INVALID_JSON,
    INVALID_UTF8,
    INVALID_VALUE,
    NUL_CHARACTER,
    NUMBER_OUT_OF_RANGE,
    TOO_DEEPLY_NESTED,
    Invalid,
)

if TYPE_CHECKING:
    from feedback.contract import ContractLimits

# Integers anywhere in a line must fit in 64 bits (I-JSON, RFC 7493: beyond that, readers
# disagree on the value); 20 characters is the longest such integer with its sign.
_INT64_MIN, _INT64_MAX, _INT64_MAX_CHARS = -(2**63), 2**63 - 1, 20
# A \uD8xx..\uDFxx escape in the raw text: only then is the (slower) encodability check run.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_NUL_ESCAPE = "\\u0000"


def _reject_constant(name: str) -> Any:
    # Python's json accepts NaN and Infinity; RFC 8259 and every other reader do not.
    raise ValueError(f"{name} is not a JSON value")


def _parse_int(text: str) -> int:
    # Checked on the digits first: int() of thousands of digits is quadratic.
    if len(text) > _INT64_MAX_CHARS or not _INT64_MIN <= (value := int(text)) <= _INT64_MAX:
        raise Invalid(NUMBER_OUT_OF_RANGE, f"an integer of {len(text.lstrip('-'))} digits does "
                                           "not fit in 64 bits")
    return value


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise Invalid(NUMBER_OUT_OF_RANGE, "a number overflows to infinity (like 1e999); "
                                           "numbers must be finite 64-bit floats")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        shown = repr(key) if key in CONTRACT_KEYS else "a metadata or unknown key"
        # Readers disagree on which copy wins (Python: the last; others: the first, or an error).
        raise Invalid(DUPLICATE_KEY, f"{shown} appears twice in one object")
    return obj


def _check_tree(obj: Any, text: str, limits: ContractLimits) -> None:
    """NUL characters (escaped as \\u0000) and nesting depth; walked only when the text hints."""
    find_nul = _NUL_ESCAPE in text
    # Depth cannot exceed the number of '[' and '{' in the text: most lines skip the walk.
    find_depth = text.count("[") + text.count("{") > limits.max_nesting_depth
    if not (find_nul or find_depth):
        return
    stack = [(obj, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if find_nul and "\x00" in value:
                raise Invalid(NUL_CHARACTER, "a string holds a NUL character (\\u0000)")
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > limits.max_nesting_depth:
            raise Invalid(TOO_DEEPLY_NESTED, f"arrays and objects nest deeper than "
                          f"{limits.max_nesting_depth} (ContractLimits.max_nesting_depth)")
        if isinstance(value, dict):
            stack.extend((key, depth) for key in value)
            value = value.values()
        stack.extend((item, depth + 1) for item in value)


def _encodable(obj: Any) -> bool:
    """False if a decoded string holds a lone surrogate: it cannot be written as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def line_text(raw: Any) -> str:
    """The line as text, or ``Invalid`` for bytes that are not UTF-8 text."""
    if isinstance(raw, (bytes, bytearray, memoryview)):
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise Invalid(INVALID_UTF8, f"byte {exc.start} is not valid UTF-8") from exc
    if not isinstance(raw, str):
        raise Invalid(INVALID_JSON, f"not JSON text: a line is bytes or str, got "
                                    f"{type(raw).__name__}")
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise Invalid(INVALID_UTF8, f"character {exc.start} is a lone surrogate") from exc
    return raw


def decode(text: str, limits: ContractLimits) -> Any:
    """JSON text to a value, or ``Invalid``: strict RFC 8259, plus the contract's own bounds."""
    if "\x00" in text:
        raise Invalid(NUL_CHARACTER, f"character {text.index(chr(0))} is NUL (U+0000); "
                                     "is the file UTF-16?")
    try:
        obj = json.loads(text, parse_constant=_reject_constant, parse_int=_parse_int,
                         parse_float=_parse_float, object_pairs_hook=_unique_keys)
    except RecursionError as exc:
        raise Invalid(TOO_DEEPLY_NESTED, "arrays and objects nest too deeply to decode") from exc
    except ValueError as exc:
        # JSONDecodeError is a ValueError; so is our NaN/Infinity refusal.
        raise Invalid(INVALID_JSON, f"not JSON: {getattr(exc, 'msg', None) or exc}") from exc
    if _SURROGATE_ESCAPE.search(text) and not _encodable(obj):
        raise Invalid(INVALID_VALUE, "a string holds an unpaired UTF-16 surrogate escape "
                                     "(\\ud800-\\udfff); send real characters or paired escapes")
    _check_tree(obj, text, limits)
    return obj
