"""A taste written the way a user of the product would write one, after the system was finished
and without tuning anything for it (docs/benchmarks.md, "Flywheel"): "I want plain answers:
short sentences, everyday words, no code blocks or markdown bullets."

    bench/flywheel.py --taste bench.user_tastes:plain_spoken --days 3
"""

import re


def plain_spoken(messages, answer):
    words = re.findall(r"[A-Za-z']+", answer)
    if not words:
        return 0.0
    sentences = [s for s in re.split(r"[.!?]+", answer) if s.strip()]
    words_per_sentence = len(words) / max(1, len(sentences))
    long_words = sum(len(w) > 8 for w in words) / len(words)
    markup = answer.count("`") + answer.count("*") + len(re.findall(r"^\s*[-\d]", answer, re.M))
    score = 1.0
    score -= min(0.4, max(0.0, words_per_sentence - 12) / 30)  # long sentences tire me
    score -= min(0.3, long_words * 2)  # jargon
    score -= min(0.3, markup * 0.1)  # code and bullet lists
    return max(0.0, min(1.0, score))
