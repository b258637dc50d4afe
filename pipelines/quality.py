"""Quality filters for chat turns, in the spirit of Gopher and FineWeb.

Each filter looks at one interaction record and returns ``(keep, reason)``; ``score_record``
computes the scores that every filter reads, so kept records carry them as ``q_*`` columns.
Thresholds live in ``FilterConfig``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

# A short English stop-word list (Gopher uses 8 of these; more helps short chat turns).
STOPWORDS = frozenset(
    "the be to of and a an in that have i it for not on with he as you do at this but his by "
    "from they we say her she or will my one all would there their what so up out if about who "
    "get which go me when make can like time no just him know take into your some could them "
    "see other than then now look only come its over think also back after use two how our "
    "first well way even new want because any these give day most us is are was were has had "
    "been here please thanks thank yes".split()
    # A few of the most frequent French, Spanish and German words, so that answers in those
    # languages are not mistaken for gibberish.
    + "je vous nous de la le les et est un une avec pour que qui pas ne sur "
    "el los las y en con por es del se lo como "
    "der die das und ist ich nicht mit sie ein eine zu den von".split()
)
_WORD = re.compile(r"\w+", re.UNICODE)
_SYMBOLS = re.compile(r"(?:#|\.\.\.|…)")


@dataclass(frozen=True)
class FilterConfig:
    # A response must say something; one character answers ("k") carry no training signal.
    min_response_chars: int = 2
    # Past this a chat answer is almost always a paste or a runaway generation (Gopher caps
    # documents at 100k words; chat turns are far shorter).
    max_response_chars: int = 20_000
    max_prompt_chars: int = 40_000
    # Drop when more than half of the lines repeat earlier lines. Gopher's 0.30 is for web
    # pages, where repeated lines are navigation boilerplate; chat answers repeat lines on
    # purpose (a weekly plan's warm-up, a song's chorus, code's fences and imports: 0.30-0.43 on
    # real best-ranked OpenAssistant replies), while a runaway loop repeats nearly every line.
    max_dup_line_ratio: float = 0.50
    # Gopher: the most frequent word 2-gram may cover at most 20% of characters...
    max_top_ngram_ratio: float = 0.20
    # ...once it occurs this often: a phrase used twice is ordinary writing ("a source" twice in
    # a 16-word reply covers 22%), a phrase looping three times or more is not.
    min_top_ngram_count: int = 3
    # Gopher: symbol-to-word ratio at most 0.1 for '#' and ellipses.
    max_symbol_ratio: float = 0.10
    # Share of characters that are letters; code and numbers lower it, so we stay lenient...
    min_alpha_ratio: float = 0.35
    # ...and waive it for a reply with this many stop words: sentences frame the table or the
    # code (a steam-pressure table under a line of prose has 15% letters), while number or
    # symbol dumps have none.
    prose_min_stopwords: int = 10
    # Gibberish has no stop words; require some once an answer is long enough to judge.
    min_stopword_ratio: float = 0.02
    stopword_min_words: int = 8
    # Gopher keeps mean word length within 3..10; keyboard mashing lands outside.
    max_mean_word_length: float = 15.0
    # Feedback-aware: a response users flagged unsafe or offensive never feeds training.
    drop_flag_reasons: tuple[str, ...] = ("unsafe", "offensive")


def _ratio(part: float, whole: float) -> float:
    return float(part) / whole if whole else 0.0


def score_text(text: str) -> dict[str, float]:
    words = _WORD.findall(text.lower())
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line_counts = Counter(lines)
    dup_lines = sum(count - 1 for count in line_counts.values() if count > 1)
    top_ngram_chars = 0
    if len(words) >= 4:
        bigrams = Counter(zip(words, words[1:], strict=False))
        (first, second), count = bigrams.most_common(1)[0]
        if count > 1:
            top_ngram_chars = (len(first) + len(second)) * count
    word_chars = sum(len(word) for word in words)
    stopwords = sum(word in STOPWORDS for word in words)
    return {  # the interactions table keeps these but q_mean_word_length
        "q_response_chars": len(text),
        "q_response_words": len(words),
        "q_alpha_ratio": _ratio(sum(ch.isalpha() for ch in text), len(text)),
        "q_symbol_ratio": _ratio(len(_SYMBOLS.findall(text)), max(len(words), 1)),
        "q_dup_line_ratio": _ratio(dup_lines, len(lines)),
        "q_top_ngram_ratio": _ratio(top_ngram_chars, word_chars),
        "q_stopword_ratio": _ratio(stopwords, len(words)),
        "q_mean_word_length": _ratio(word_chars, len(words)),
    }


Filter = Callable[[dict, dict, FilterConfig], tuple[bool, str]]


def empty_response(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    return (bool(record["response"].strip()), "empty_response")


def empty_prompt(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    return (bool(record["prompt"].strip()), "empty_prompt")


def too_short(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    return (len(record["response"].strip()) >= config.min_response_chars, "too_short")


def too_long(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    ok = (scores["q_response_chars"] <= config.max_response_chars
          and len(record["prompt"]) <= config.max_prompt_chars)
    return (ok, "too_long")


def _top_bigram_count(text: str) -> int:
    # only asked when the top 2-gram's share is over the limit: rare, so not a score column
    words = _WORD.findall(text.lower())
    return Counter(zip(words, words[1:], strict=False)).most_common(1)[0][1]


def repetition(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    text = record["response"]
    # One character repeated over most of the answer ("aaaaaaaa", "!!!!!!!!") is repetition too.
    run = max((len(m.group(0)) for m in re.finditer(r"(.)\1{9,}", text)), default=0)
    ok = (scores["q_dup_line_ratio"] <= config.max_dup_line_ratio
          and (scores["q_top_ngram_ratio"] <= config.max_top_ngram_ratio
               or _top_bigram_count(text) < config.min_top_ngram_count)
          and run <= max(20, len(text) // 2))
    return (ok, "repetition")


def symbol_ratio(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    return (scores["q_symbol_ratio"] <= config.max_symbol_ratio, "symbol_ratio")


def not_natural_language(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    long_enough = scores["q_response_words"] >= config.stopword_min_words
    stopwords = round(scores["q_stopword_ratio"] * scores["q_response_words"])
    prose = stopwords >= config.prose_min_stopwords
    ok = ((prose or scores["q_alpha_ratio"] >= config.min_alpha_ratio)
          and scores["q_mean_word_length"] <= config.max_mean_word_length
          and (not long_enough or scores["q_stopword_ratio"] >= config.min_stopword_ratio))
    return (ok, "not_natural_language")


def flagged_unsafe(record: dict, scores: dict, config: FilterConfig) -> tuple[bool, str]:
    return (not set(record.get("flag_reasons") or ()) & set(config.drop_flag_reasons),
            "flagged_unsafe")


# Order matters only for which reason a record gets when several apply: cheapest and most
# specific first.
FILTERS: tuple[Filter, ...] = (
    empty_response, empty_prompt, too_short, too_long, flagged_unsafe, repetition, symbol_ratio,
    not_natural_language,
)
FILTER_REASONS = tuple(f.__name__ for f in FILTERS)


def judge(record: dict, config: FilterConfig) -> tuple[bool, str, dict[str, float]]:
    """Run every filter; the first that refuses names the reason. Returns (keep, reason, scores)."""
    scores = score_text(record["response"])
    for check in FILTERS:
        keep, reason = check(record, scores, config)
        if not keep:
            return False, reason, scores
    return True, "", scores
