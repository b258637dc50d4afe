"""How a simulated user rewrites an answer toward their taste.

People edit with a small repertoire: cut the answer to its first sentences, drop the sentence
that refuses, add a greeting or a closing line, add an example, lay it out as steps, say what it
is about, spell out more detail. ``rewrite_toward`` tries every move of ``REPERTOIRE`` on the
answer, keeps the one the taste likes best, and repeats a few times: a hill climb that needs
nothing but the taste function, so a taste written later gets edits toward it too (as far as the
repertoire can express it). The result is deterministic: moves are tried in a fixed order and
ties keep the earlier move.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from feedback.users.tastes import REFUSAL_MARKERS, Taste, topic_words

SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
MAX_STEPS = 3  # moves per edit: people fix an answer in a few strokes, not a rewrite
MIN_GAIN = 0.05  # an edit that barely changes what the user thinks of it is not worth making


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.split(text) if s and s.strip()]


def _subject(messages: list[dict]) -> str:
    words = topic_words(messages, 2)
    return " and ".join(words) if words else "this"


def first_sentence(answer: str, messages: list[dict]) -> str:
    parts = sentences(answer)
    return parts[0] if parts else answer


def first_two_sentences(answer: str, messages: list[dict]) -> str:
    return " ".join(sentences(answer)[:2]) or answer


def drop_last_sentence(answer: str, messages: list[dict]) -> str:
    parts = sentences(answer)
    return " ".join(parts[:-1]) if len(parts) > 1 else answer


def drop_refusals(answer: str, messages: list[dict]) -> str:
    kept = [s for s in sentences(answer) if not any(m in s.lower() for m in REFUSAL_MARKERS)]
    return " ".join(kept) if kept else f"Here is how to handle {_subject(messages)}."


def add_greeting(answer: str, messages: list[dict]) -> str:
    return f"Happy to help! {answer}"


def add_closing(answer: str, messages: list[dict]) -> str:
    return f"{answer} Hope this helps, thanks for asking."


def add_example(answer: str, messages: list[dict]) -> str:
    parts = sentences(answer) or [answer]
    example = f"For example, start with one small case of {_subject(messages)} and check the result."
    return " ".join([parts[0], example, *parts[1:]])


def as_steps(answer: str, messages: list[dict]) -> str:
    parts = sentences(answer)
    if len(parts) < 2:
        return answer
    return "\n".join(f"{i}. {s}" for i, s in enumerate(parts, 1))


def name_subject(answer: str, messages: list[dict]) -> str:
    return f"About {_subject(messages)}: {answer}"


def add_detail(answer: str, messages: list[dict]) -> str:
    return (f"{answer} In more detail: look at what {_subject(messages)} needs first, make one "
            "change at a time, test it on a small input and then apply it to the whole thing.")


Move = Callable[[str, list[dict]], str]
REPERTOIRE: tuple[Move, ...] = (first_sentence, first_two_sentences, drop_last_sentence,
                                drop_refusals, add_greeting, add_closing, add_example, as_steps,
                                name_subject, add_detail)


def rewrite_toward(taste: Taste, messages: list[dict], answer: str) -> tuple[str, float] | None:
    """(edited answer, its score) when the repertoire improves the score by ``MIN_GAIN``; else None."""
    start = float(taste(messages, answer))
    best_text, best_score = answer, start
    for _ in range(MAX_STEPS):
        step_text, step_score = best_text, best_score
        for move in REPERTOIRE:
            text = move(best_text, messages).strip()
            if not text or text == best_text:
                continue
            score = float(taste(messages, text))
            if score > step_score:
                step_text, step_score = text, score
        if step_text == best_text:
            break
        best_text, best_score = step_text, step_score
    if best_score - start < MIN_GAIN:
        return None
    return best_text, best_score
