"""Phase B, the model versions: which version answers each conversation, the latent quality of
each answer (see ``mean_quality``), its style, text, planted PII and latency."""

from __future__ import annotations

import random

from feedback.simulate.config import SimulateConfig, mean_quality
from feedback.simulate.pii import ECHO_PII, PIIDrawer, seed_pools
from feedback.simulate.structure import Day, Interaction, build_structure, popular_pool
from feedback.simulate.text import Text, answer_style, draw_response, junk_response, resemblance


def generate_day(date: str, seed: int, users: int, model_versions: tuple[str, ...],
                 cfg: SimulateConfig) -> Day:
    day = build_structure(date, seed, users, cfg)
    answer_day(day, model_versions, cfg)
    return day


def answer_day(day: Day, model_versions: tuple[str, ...], cfg: SimulateConfig) -> None:
    rng_v = random.Random(f"{day.seed}|{day.date}|versions")
    rng = random.Random(f"{day.seed}|{day.date}|responses")
    pii = PIIDrawer(seed_pools(day.seed), rng)
    pool = popular_pool(day.seed, cfg.popular_pool_size)
    day.model_versions = model_versions
    version_of_conv: dict[int, int] = {}
    for rec in day.interactions:
        index = _version_index(rec, day, version_of_conv, rng_v)
        rec.model_version = model_versions[index]
        rec.quality = round(rec.u ** (1 / mean_quality(index, cfg) - 1), 4)
        if rec.kind == "junk":
            rec.quality, rec.style = 0.0, "junk"
            rec.response = (junk_response(rec.junk_kind, rng, seed_pools(day.seed), cfg), ())
        elif rec.kind == "popular":
            _t, _p, answer, quality, _s = pool[rec.popular]
            rec.quality, rec.style, rec.response = quality, "popular", (answer, ())
        elif rec.copy_of is not None:
            orig = rec.copy_of
            rec.model_version, rec.quality, rec.style = orig.model_version, orig.quality, orig.style
            text, found = orig.response
            if rec.kind == "template":
                text = text.replace(orig.slots["order"], rec.slots["order"])
            rec.response = (text, found)
        else:
            rec.style = answer_style(rec.quality, rng)
            rec.response = _fresh_response(rec, day, rng, pii, cfg)
        base = {"good": 2400, "medium": 1400, "popular": 1800}.get(rec.style, 700)
        rec.latency_ms = round(base * rng.uniform(0.5, 2.0) + len(rec.response[0]) * 0.3, 1)


def _version_index(rec: Interaction, day: Day, version_of_conv: dict[int, int],
                   rng_v: random.Random) -> int:
    """Versions are split evenly per conversation; an A/B's second arm gets another version."""
    model_versions = day.model_versions
    if rec.conv_index not in version_of_conv:
        version_of_conv[rec.conv_index] = rng_v.randrange(len(model_versions))
    index = version_of_conv[rec.conv_index]
    if rec.kind == "ab" and rec.ab_other and len(model_versions) > 1:
        other = day.by_id[rec.ab_other]
        if other.model_version is not None:  # second arm: the other model
            index = (model_versions.index(other.model_version) + 1 + rng_v.randrange(
                len(model_versions) - 1)) % len(model_versions)
    return index


def _fresh_response(rec: Interaction, day: Day, rng: random.Random, pii: PIIDrawer,
                    cfg: SimulateConfig) -> Text:
    text = draw_response(rec.topic, rec.style, rec.slots, rng)
    if rec.kind == "ab" and day.by_id[rec.ab_other].style:
        # The two arms share the prompt; their answers must differ, or they would be
        # near-duplicates that the truth does not list.
        first = day.by_id[rec.ab_other].response[0]
        for _ in range(20):
            if resemblance(text, first) < 0.5:
                break
            text = draw_response(rec.topic, rec.style, rec.slots, rng)
    prompt_pii = rec.prompts[-1][1]
    if prompt_pii and rec.style in ("good", "medium") and rng.random() < cfg.response_echo_rate:
        etype, value = rng.choice(prompt_pii)
        return ECHO_PII[etype].format(v=value) + " " + text, ((etype, value),)
    if rec.topic == "writing" and rec.style == "good" and rng.random() < 0.15:
        value = pii.person()
        return f"{text}\n\nWarm regards,\n{value}", (("PERSON", value),)
    return text, ()
