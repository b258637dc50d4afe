"""Identifiers written to slip past a regex: normalized before detection, replaced on the original."""

from __future__ import annotations

import pytest

from pipelines.pii import PiiScrubber
from pipelines.pii.normalize import normalize


@pytest.fixture(scope="module")
def scrubber() -> PiiScrubber:
    s = PiiScrubber()
    s.setup()
    return s


def _scrubbed(scrubber, text: str, value: str, entity: str) -> str:
    result = scrubber.scrub(text)
    assert value not in result.text, result.text
    assert f"<{entity}>" in result.text, result.text
    assert result.findings.get(entity) == 1, result.findings
    return result.text


def test_zero_width_characters_inside_an_email(scrubber):
    text = "mail me at jo\u200bhn.sm\u200dith@exa\u2060mple.com tonight"
    assert _scrubbed(scrubber, text, "mple.com", "EMAIL_ADDRESS") == (
        "mail me at <EMAIL_ADDRESS> tonight")


def test_zero_width_characters_inside_a_number(scrubber):
    text = "my card is 4111\u200b1111\u200b1111\u200b1111, phone 415\ufeff555\u200c0132"
    out = scrubber.scrub(text).text
    assert out == "my card is <CREDIT_CARD>, phone <PHONE_NUMBER>", out


def test_full_width_digits(scrubber):
    text = "call ４１５-５５５-０１３２ or wire to ＧＢ２７ＤＡＫＤ５８４０１０３６７４１８５７"
    out = scrubber.scrub(text).text
    assert out == "call <PHONE_NUMBER> or wire to <IBAN_CODE>", out


@pytest.mark.parametrize("spelled", [
    "jane.doe at example dot com",
    "jane.doe [at] example [dot] com",
    "jane.doe (at) example (dot) co (dot) uk",
    "jane.doe @ example . com",
    "Jane.Doe AT example DOT org",
])
def test_spelled_out_email(scrubber, spelled):
    out = _scrubbed(scrubber, f"write to {spelled} please", "example", "EMAIL_ADDRESS")
    assert out == "write to <EMAIL_ADDRESS> please"


@pytest.mark.parametrize("text", [
    "the docs are at python.org and the code at github.com",
    "Look at this dot product: it is zero.",
    "meet me at noon, the dot com bubble talk is at 3.",
])
def test_at_and_dot_in_ordinary_english_stay(scrubber, text):
    assert scrubber.scrub(text).text == text


@pytest.mark.parametrize(("number", "entity"), [
    ("4 1 5 5 5 5 0 1 3 2", "PHONE_NUMBER"),
    ("4-1-5-5-5-5-0-1-3-2", "PHONE_NUMBER"),
    ("4.1.5.5.5.5.0.1.3.2", "PHONE_NUMBER"),
    ("4 1 5 - 5 5 5 - 0 1 3 2", "PHONE_NUMBER"),
    ("4111.1111.1111.1111", "CREDIT_CARD"),
    ("4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1", "CREDIT_CARD"),
])
def test_digits_spaced_or_split_by_dashes_and_dots(scrubber, number, entity):
    out = _scrubbed(scrubber, f"it is {number} ok", number, entity)
    assert out == f"it is <{entity}> ok"


def test_decimals_in_a_list_are_not_one_number(scrubber):
    text = "weights 0.1 0.2 0.3 0.4 0.5 0.6 0.7 sum to 2.8"
    assert scrubber.scrub(text).text == text


@pytest.mark.parametrize(("text", "entity"), [
    ("call me on 415 555\n0132 after six", "PHONE_NUMBER"),
    ("call me on 415-555-\n0132 after six", "PHONE_NUMBER"),
    ("card 4111 1111\n1111 1111 thanks", "CREDIT_CARD"),
])
def test_number_broken_across_two_lines(scrubber, text, entity):
    result = scrubber.scrub(text)
    assert "0132" not in result.text and "1111" not in result.text, result.text
    assert result.findings == {entity: 1}
    assert result.text.endswith(("after six", "thanks"))


def test_phone_split_across_two_user_messages(scrubber):
    first, second = scrubber.scrub_groups([["sure, my number is 415 555", "0132, call after 6"]])[0]
    assert first.text == "sure, my number is <PHONE_NUMBER>"
    assert second.text == "<PHONE_NUMBER>, call after 6"
    # one number, counted once
    assert first.findings == {"PHONE_NUMBER": 1} and second.findings == {}
    # scrubbed one by one, neither half is a phone number: the group is what catches it
    assert scrubber.scrub("0132, call after 6").text == "0132, call after 6"


def test_normalized_spans_map_back_to_the_original():
    original = "x ４１\u200b５ y"
    norm = normalize(original)
    assert norm.text == "x 415 y"
    start = norm.text.index("415")
    assert original[slice(*norm.to_original(start, start + 3))] == "４１\u200b５"
    assert normalize("plain ascii text").starts is None  # the fast path copies nothing
