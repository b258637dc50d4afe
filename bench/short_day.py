"""A landing day of short chat-telemetry events, for ``bench/curate.py --short-events N``.

The simulator (``feedback.simulate``) writes realistic multi-turn chats of a few hundred words;
at internet scale most traffic is shorter: one user turn of a few words and a one- or
two-sentence answer, with a thumbs or a rating on some of them. This writes ``N`` such events
(about 70 % interactions, 30 % feedback on them) as contract-valid JSONL, deterministic for a
seed, a few percent of them carrying a fake name, e-mail or phone number so the scrubber finds
something. Every text is distinct enough that dedup keeps most of it (real telemetry repeats
"hi" far more often; this is the harder case for throughput).
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

FEEDBACK_SHARE = 0.3
FILES = 8  # the landing files the day is spread over, as an app's writers would
_VERBS = ("explain", "summarize", "translate", "fix", "rewrite", "list", "compare", "name",
          "describe", "check", "suggest", "shorten", "format", "plan", "draft", "outline")
_OBJECTS = ("this error", "my SQL query", "the regex", "a cover letter", "the CSV header",
            "my essay intro", "a birthday message", "the bash loop", "a packing list",
            "these notes", "the meeting agenda", "a recipe for soup", "my resume line",
            "a tweet about rain", "the API response", "a haiku on autumn", "this sentence")
_TAILS = ("please", "in one line", "quickly", "for a beginner", "in French", "with an example",
          "in plain words", "step by step", "as a table", "for my boss", "again", "briefly")
_ANSWERS = ("Sure: {v} {o} by splitting it into two parts and checking each one.",
            "Here is a short version that keeps the main point and drops the rest.",
            "The issue is the missing comma after the second field; add it and rerun.",
            "Try this: keep the first sentence, cut the adjectives, end with the ask.",
            "Done. I kept it under twenty words and made the tone a bit warmer.",
            "You can {v} {o} with a loop over the rows, then print each result.")
_PII = ("My name is Dana Whitfield, ", "email me at kim.osei{n}@example.com, ",
        "call 555-01{n:02d} if needed, ", "I'm Priya Natarajan from Leeds, ")


def _interaction(rng: random.Random, n: int, ts: str, user: str) -> dict:
    verb, obj = rng.choice(_VERBS), rng.choice(_OBJECTS)
    prompt = f"{verb} {obj} {rng.choice(_TAILS)} #{n}"
    if rng.random() < 0.05:
        prompt = rng.choice(_PII).format(n=n % 100) + prompt
    return {
        "event_type": "interaction", "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": ts, "user_id": user, "conversation_id": f"c{rng.getrandbits(48):012x}",
        "turn": 1, "model_version": rng.choice(("v1", "v2")),
        "messages": [{"role": "user", "content": prompt}],
        "response": rng.choice(_ANSWERS).format(v=verb, o=obj) + f" (ref {n})",
        "latency_ms": round(rng.uniform(80, 2500), 1), "consent": {"training": True},
        "metadata": {"app": rng.choice(("web", "ios", "android"))}, "sdk": "flywheel-js/1.4.2",
    }


def _feedback(rng: random.Random, interaction: dict, ts: str) -> dict:
    event = {"event_type": "feedback",
             "event_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
             "timestamp": ts, "user_id": interaction["user_id"],
             "interaction_id": interaction["event_id"]}
    if rng.random() < 0.7:
        event.update(kind="thumbs", value=rng.choice((1, 1, 1, -1)))
    else:
        event.update(kind="rating", value=rng.randint(1, 5))
    return event


def write_short_day(landing: Path, date: str, events: int, seed: int = 0) -> dict:
    """Writes ``landing/dt=DATE/short-*.jsonl``; returns counts of what was written."""
    rng = random.Random(seed)
    partition = Path(landing) / f"dt={date}"
    partition.mkdir(parents=True, exist_ok=True)
    handles = [open(partition / f"short-{i:05d}.jsonl", "w", encoding="utf-8")  # noqa: SIM115
               for i in range(FILES)]
    users = max(1, events // 20)
    counts = {"interaction": 0, "feedback": 0}
    recent: list[dict] = []
    try:
        for n in range(events):
            second = n * 86_000 // max(events, 1)
            ts = f"{date}T{second // 3600:02d}:{second // 60 % 60:02d}:{second % 60:02d}.{n % 1000:03d}Z"
            if recent and rng.random() < FEEDBACK_SHARE:
                event = _feedback(rng, recent[rng.randrange(len(recent))], ts)
            else:
                event = _interaction(rng, n, ts, f"user_{rng.randrange(users):08d}")
                recent.append(event)
                if len(recent) > 1000:
                    recent.pop(0)
            counts[event["event_type"]] += 1
            handles[n % FILES].write(json.dumps(event, separators=(",", ":")) + "\n")
    finally:
        for handle in handles:
            handle.close()
    return {"lines": events, "interactions": counts["interaction"],
            "feedback": counts["feedback"], "users": users}
