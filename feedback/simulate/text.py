"""Generated text with its planted PII: slots for a topic's templates, prompts, answers in each
style, junk responses and small human copy-edits."""

from __future__ import annotations

import random

from feedback.simulate.config import SimulateConfig
from feedback.simulate.pii import USER_PII, PIIDrawer, Pools
from feedback.simulate.topics import (
    MEDIUM,
    RUDE,
    TERSE,
    TOPIC_TABLES,
    TOPICS,
    TRIVIA_FACTS,
    WEEKDAYS,
    WORDS_EXTRA,
)

# Text with its planted PII: (text, ((entity_type, value), ...))

Text = tuple[str, tuple[tuple[str, str], ...]]


def fill(frame: str, slots: dict[str, str]) -> str:
    return frame.format_map(slots)


def draw_slots(topic: str, rng: random.Random, pools: Pools) -> dict[str, str]:
    t = TOPIC_TABLES[topic]
    w = pools.words
    s = {"w1": rng.choice(w), "w2": rng.choice(w), "n": str(rng.randint(2, 500)),
         "n2": str(rng.randint(1, 5)), "weekday": rng.choice(WEEKDAYS),
         "age": str(rng.randint(19, 84)), "follow_start": rng.randrange(100)}
    if topic == "coding":
        s.update(lang=rng.choice(t["lang"]), lang2=rng.choice(t["lang"]), task=rng.choice(t["task"]),
                 error=rng.choice(t["error"]))
    elif topic == "writing":
        s.update(kind=rng.choice(t["kind"]), tone=rng.choice(t["tone"]), tone2=rng.choice(t["tone"]))
        s["subject"] = fill(rng.choice(t["subject"]), s)
    elif topic == "support":
        s.update(product=rng.choice(t["product"]), order=f"FW-{rng.randint(100000, 999999)}")
        s["problem"] = fill(rng.choice(t["problem"]), s)
    elif topic == "travel":
        s.update(dest=rng.choice(t["dest"]), duration=rng.choice(t["duration"]),
                 interest=rng.choice(t["interest"]), month=rng.choice(t["month"]))
    elif topic == "health":
        s.update(symptom=rng.choice(t["symptom"]))
        s["since"] = fill(rng.choice(t["since"]), s)
    elif topic == "trivia":
        (q1, a1, x1), (q2, a2, x2) = rng.sample(TRIVIA_FACTS, 2)
        s.update(q1=q1, a1=a1, wrong1=x1, q2_lower=q2[0].lower() + q2[1:], a2=a2, wrong2=x2)
        s["context"] = fill(rng.choice(t["context"]), s)
    return s


def _with_pii(text: str, rng: random.Random, pii: PIIDrawer, k: int) -> Text:
    found = []
    for _ in range(k):
        etype = pii.entity_type()
        value = pii.value(etype)
        phrase = rng.choice(USER_PII[etype]).format(v=value)
        text = f"{phrase} {text}" if rng.random() < 0.4 else f"{text} {phrase}"
        found.append((etype, value))
    return text, tuple(found)


def draw_prompt(topic: str, slots: dict, rng: random.Random, pii: PIIDrawer, cfg: SimulateConfig,
            turn: int) -> Text:
    t = TOPIC_TABLES[topic]
    if turn == 1:
        text = fill(rng.choice(t["ask"]), slots)
    else:  # follow-ups walk the list from a per-conversation start, so none repeats
        follow = t["follow"]
        text = fill(follow[(slots["follow_start"] + turn - 2) % len(follow)], slots)
    rate = cfg.support_pii_rate if topic == "support" else cfg.prompt_pii_rate
    k = 0
    if rng.random() < rate:
        k = 2 if rng.random() < 0.3 else 1
    return _with_pii(text, rng, pii, k)


def good_answer(topic: str, slots: dict, rng: random.Random) -> str:
    t = TOPIC_TABLES[topic]
    items = rng.sample(t["item"], min(len(t["item"]), rng.randint(3, 5)))
    bullet = rng.choice(("- ", "* ", "1. "))
    lines = [fill(rng.choice(t["intro"]), slots), ""]
    for i, item in enumerate(items):
        mark = f"{i + 1}. " if bullet == "1. " else bullet
        lines.append(mark + fill(item, slots))
    if topic == "coding":
        fn = f"{slots['w1']}_{slots['task'].split()[0]}"
        lines += ["", "```", f"def {fn}({slots['w2']}):",
                  f"    if not {slots['w2']}:", "        return []",
                  f"    return sorted(set({slots['w2']}))", "```"]
    lines += ["", fill(rng.choice(t["outro"]), slots)]
    return "\n".join(lines)


def draw_response(topic: str, style: str, slots: dict, rng: random.Random) -> str:
    t = TOPIC_TABLES[topic]
    if style == "good":
        return good_answer(topic, slots, rng)
    if style == "medium":
        first = fill(rng.choice(t["intro"]), slots)
        return " ".join([first] + rng.sample(MEDIUM, 2))
    if style == "terse":
        return rng.choice(TERSE)
    if style == "rude":
        return rng.choice(RUDE)
    if style == "wrong":
        return fill(rng.choice(t["wrong"]), slots)
    if style == "off_topic":
        other = rng.choice([x for x in TOPICS if x != topic])
        return good_answer(other, _slots_for_other(other, rng, slots), rng)
    if style == "truncated":
        full = good_answer(topic, slots, rng)
        return full[: max(20, int(len(full) * rng.uniform(0.25, 0.6)))]
    raise ValueError(f"unknown style {style!r}")


def _slots_for_other(topic: str, rng: random.Random, base: dict) -> dict:
    # Off-topic answers reuse the filler words, so they read like a confused model.
    words = (base["w1"], base["w2"], *WORDS_EXTRA)
    return draw_slots(topic, rng, Pools((), (), (), (), (), (), words))


def answer_style(quality: float, rng: random.Random) -> str:
    if quality >= 0.7:
        return "good"
    if quality >= 0.45:
        return "medium"
    if quality < 0.12:
        return "rude"
    return rng.choice(("terse", "wrong", "off_topic", "truncated"))


def junk_response(kind: str, rng: random.Random, pools: Pools, cfg: SimulateConfig) -> str:
    if kind == "empty":
        return ""
    if kind == "gibberish":
        return " ".join("".join(rng.choice("bcdfghjklmnpqrstvwxzqxj") for _ in range(rng.randint(3, 9)))
                        for _ in range(rng.randint(20, 60)))
    if kind == "repeated":
        unit = rng.choice(("a", "ha", "!", "lol ", "I am sorry. ", "\u2588"))
        return unit * rng.randint(200, 600)
    if kind == "long":
        parts, size = [], 0
        while size <= cfg.long_chars:
            topic = rng.choice(TOPICS)
            part = good_answer(topic, draw_slots(topic, rng, pools), rng)
            parts.append(part)
            size += len(part) + 2
        return "\n\n".join(parts)
    raise ValueError(f"unknown junk kind {kind!r}")


def copy_edit(text: str, rng: random.Random) -> str:
    """A small human edit that never touches the middle of the text (PII stays verbatim)."""
    ops = []
    if text.endswith("?"):
        ops.append(lambda s: s[:-1])
        ops.append(lambda s: s + "?")
    else:
        ops.append(lambda s: s + "?")
    if text.endswith("."):
        ops.append(lambda s: s[:-1] + "!")
    ops += [lambda s: s + " thanks", lambda s: s + " please", lambda s: "Hi, " + s,
            lambda s: "hey " + s, lambda s: s + " :)"]
    return rng.choice(ops)(text)



def resemblance(a: str, b: str, n: int = 5) -> float:
    """Jaccard similarity of character n-gram sets."""
    sa = {a[i:i + n] for i in range(max(1, len(a) - n + 1))}
    sb = {b[i:i + n] for i in range(max(1, len(b) - n + 1))}
    return len(sa & sb) / len(sa | sb)
