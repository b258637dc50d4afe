"""Phase A, the structure of a day: ids, users, conversations, prompts, which interactions are
junk or duplicates, consent and deletions. None of it depends on the model versions, so a later
day can regenerate the previous day's interactions to refer to them."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache

from feedback.simulate.config import DAY_MS, SimulateConfig
from feedback.simulate.lines import uuid_for
from feedback.simulate.pii import PIIDrawer, seed_pools
from feedback.simulate.text import (
    Text,
    answer_style,
    copy_edit,
    draw_prompt,
    draw_response,
    draw_slots,
    fill,
)
from feedback.simulate.topics import SYSTEM_PROMPTS, TOPIC_CUM, TOPIC_TABLES, TOPICS


@dataclass
class Interaction:
    event_id: str
    user: int
    conversation_id: str
    turn: int
    ts: int  # ms since midnight UTC
    topic: str
    slots: dict
    prompts: list  # list[Text]: user prompts of the conversation up to this turn
    system: str | None
    u: float  # latent, uniform
    conv_index: int  # conversation number of the day, for version assignment
    kind: str = "clean"  # clean | junk | template | copy_edit | popular | cross_day | ab
    junk_kind: str | None = None
    duplicate_of: str | None = None
    prior: list = field(default_factory=list)  # earlier Interaction of the same conversation
    popular: int | None = None
    ab_other: str | None = None
    parts_content: bool = False
    offset_hours: int = 0
    extras: dict = field(default_factory=dict)
    metadata: dict = field(default_factory=dict)  # value -> (text, pii)
    # Phase B fills these
    model_version: str | None = None
    quality: float = 0.0
    style: str = ""
    response: Text = ("", ())
    latency_ms: float = 0.0
    copy_of: Interaction | None = None


@dataclass
class Day:
    date: str
    seed: int
    users: int
    model_versions: tuple[str, ...]
    interactions: list[Interaction]
    by_id: dict[str, Interaction]
    consent: dict[int, bool | None]
    deleting: list[int]


def consent_by_user(seed: int, users: int, cfg: SimulateConfig) -> dict[int, bool | None]:
    rng = random.Random(f"{seed}|consent")
    order = list(range(users))
    rng.shuffle(order)
    n_out = max(1, round(users * cfg.opt_out_share)) if users >= 3 else 0
    n_none = max(1, round(users * cfg.no_consent_share)) if users >= 3 else 0
    consent: dict[int, bool | None] = {u: True for u in range(users)}
    for u in order[:n_out]:
        consent[u] = False
    for u in order[n_out:n_out + n_none]:
        consent[u] = None
    return consent


@lru_cache(maxsize=4)
def popular_pool(seed: int, size: int) -> tuple:
    """Popular questions and their canonical answers: fixed by the seed, not the date."""
    rng = random.Random(f"{seed}|popular")
    pools = seed_pools(seed)
    out = []
    for _ in range(size):
        topic = rng.choice(("coding", "travel", "health", "trivia", "writing"))
        slots = draw_slots(topic, rng, pools)
        prompt = fill(rng.choice(TOPIC_TABLES[topic]["ask"]), slots)
        quality = round(rng.uniform(0.5, 0.95), 4)
        answer = draw_response(topic, answer_style(quality, rng), slots, rng)
        out.append((topic, prompt, answer, quality, rng.choice(SYSTEM_PROMPTS)))
    return tuple(out)


class _DayBuilder:
    """The structure's one random stream and the running counters it numbers things with.

    Every method draws from ``self.rng`` in a fixed order: reordering calls changes every byte.
    """

    def __init__(self, date: str, seed: int, users: int, cfg: SimulateConfig):
        self.date, self.seed, self.users, self.cfg = date, seed, users, cfg
        self.rng = random.Random(f"{seed}|{date}|structure")
        self.pools = seed_pools(seed)
        self.pii = PIIDrawer(self.pools, self.rng)
        self.id_counter = 0
        self.conv_index = 0
        self.interactions: list[Interaction] = []

    def new_id(self, ns: str) -> str:
        self.id_counter += 1
        return uuid_for(self.seed, self.date, ns, self.id_counter)

    def conversation_id(self) -> str:
        return uuid_for(self.seed, self.date, "conversation", self.conv_index)

    def add_metadata(self, rec: Interaction) -> None:
        rng, pii = self.rng, self.pii
        rec.metadata["app"] = (rng.choice(("web", "ios", "android")), ())
        rec.metadata["app_version"] = (f"{rng.randint(1, 4)}.{rng.randint(0, 12)}.{rng.randint(0, 9)}", ())
        roll = rng.random()
        if roll < 0.2:
            value = pii.ip()
            rec.metadata["client_ip"] = (value, (("IP_ADDRESS", value),))
        elif roll < 0.25:
            value = pii.email()
            rec.metadata["account_email"] = (value, (("EMAIL_ADDRESS", value),))
        if rng.random() < 0.1:
            rec.extras["sdk"] = rng.choice(("flywheel-js/1.4.2", "flywheel-py/0.9.0", "ios/2.1"))
        if rng.random() < 0.03:
            rec.offset_hours = rng.choice((-5, -3, 1, 2, 9))

    def topic_and_slots(self) -> tuple[str, dict]:
        topic = self.rng.choices(TOPICS, cum_weights=TOPIC_CUM)[0]
        return topic, draw_slots(topic, self.rng, self.pools)

    def system_prompt(self) -> str | None:
        rng = self.rng
        return rng.choice(SYSTEM_PROMPTS) if rng.random() < self.cfg.system_message_rate else None

    def conversation(self, user: int) -> None:
        rng, cfg = self.rng, self.cfg
        topic, slots = self.topic_and_slots()
        turns = rng.choices(range(1, len(cfg.turn_weights) + 1), weights=cfg.turn_weights)[0]
        system = self.system_prompt()
        conv_id = self.conversation_id()
        ts = rng.randint(0, DAY_MS - 3_600_000)
        prompts: list[Text] = []
        prior: list[Interaction] = []
        for turn in range(1, turns + 1):
            prompts.append(draw_prompt(topic, slots, rng, self.pii, cfg, turn))
            rec = Interaction(self.new_id("interaction"), user, conv_id, turn, ts, topic, slots,
                              list(prompts), system, rng.random(), self.conv_index,
                              prior=list(prior), parts_content=rng.random() < 0.05)
            self.add_metadata(rec)
            self.interactions.append(rec)
            prior.append(rec)
            ts += rng.randint(15_000, 300_000)
        self.conv_index += 1

    def ab_conversation(self, user: int) -> None:
        """Two answers to one prompt, which the user later compares."""
        rng = self.rng
        topic, slots = self.topic_and_slots()
        prompt = draw_prompt(topic, slots, rng, self.pii, self.cfg, 1)
        conv_id = self.conversation_id()
        ts = rng.randint(0, DAY_MS - 3_600_000)
        system = self.system_prompt()
        arms = []
        for _arm in range(2):
            rec = Interaction(self.new_id("interaction"), user, conv_id, 1, ts + rng.randint(0, 50),
                              topic, slots, [prompt], system, rng.random(), self.conv_index,
                              kind="ab")
            self.add_metadata(rec)
            arms.append(rec)
        arms[0].ab_other, arms[1].ab_other = arms[1].event_id, arms[0].event_id
        self.interactions.extend(arms)
        self.conv_index += 1

    def single(self, user: int, topic: str, slots: dict, prompt: Text, system: str | None,
               ts: int, kind: str) -> Interaction:
        """A one-turn conversation of its own."""
        rec = Interaction(self.new_id("interaction"), user, self.conversation_id(), 1, ts, topic,
                          slots, [prompt], system, self.rng.random(), self.conv_index, kind=kind)
        self.conv_index += 1
        self.add_metadata(rec)
        self.interactions.append(rec)
        return rec

    def add_junk(self, n: int) -> None:
        # Standalone conversations so that no later turn carries the junk in its history.
        rng = self.rng
        for i in range(n):
            topic, slots = self.topic_and_slots()
            rec = self.single(rng.randrange(self.users), topic, slots,
                              draw_prompt(topic, slots, rng, self.pii, self.cfg, 1), None,
                              rng.randint(0, DAY_MS - 1), "junk")
            rec.junk_kind = ("empty", "gibberish", "repeated", "long")[i % 4]

    def add_templates(self, support: list[Interaction], n: int) -> None:
        """The same support form re-sent with another order number."""
        rng = self.rng
        for _ in range(n):
            orig = rng.choice(support)
            slots = dict(orig.slots, order=f"FW-{rng.randint(100000, 999999)}")
            text, found = orig.prompts[-1]
            prompt = (text.replace(orig.slots["order"], slots["order"]), found)
            rec = self.single(orig.user, orig.topic, slots, prompt, orig.system,
                              rng.randint(orig.ts, DAY_MS - 1), "template")
            rec.duplicate_of, rec.copy_of = orig.event_id, orig

    def add_copy_edits(self, strong: list[Interaction], n: int) -> None:
        """Copy-paste with a small edit, by another user."""
        rng = self.rng
        for _ in range(n):
            orig = rng.choice(strong)
            text, found = orig.prompts[-1]
            rec = self.single(rng.randrange(self.users), orig.topic, orig.slots,
                              (copy_edit(text, rng), found), orig.system,
                              rng.randint(orig.ts, DAY_MS - 1), "copy_edit")
            rec.duplicate_of, rec.copy_of = orig.event_id, orig

    def add_popular(self, n: int) -> None:
        """Zipf-like over the seed's pool; the first asking of the day is the original."""
        rng = self.rng
        pool = popular_pool(self.seed, self.cfg.popular_pool_size)
        asks = sorted((rng.randint(0, DAY_MS - 1),
                       min(int(rng.paretovariate(1.2)) - 1, len(pool) - 1)) for _ in range(n))
        for ts, q in asks:
            topic, prompt, _answer, _quality, system = pool[q]
            rec = self.single(rng.randrange(self.users), topic, {}, (prompt, ()), system, ts,
                              "popular")
            rec.popular = q


def build_structure(date: str, seed: int, users: int, cfg: SimulateConfig) -> Day:
    b = _DayBuilder(date, seed, users, cfg)
    for user in range(users):
        for _ in range(b.rng.randint(*cfg.conversations_per_user)):
            b.conversation(user)
        if b.rng.random() < cfg.ab_rate:
            b.ab_conversation(user)

    n_clean = len(b.interactions)
    originals = [r for r in b.interactions if r.kind == "clean"]

    def count(rate: float) -> int:
        return max(1, round(rate * n_clean))

    b.add_junk(max(4, count(cfg.junk_rate)))
    # Template originals are first turns with a high latent: every model version answers them
    # well, so the copy is a near-duplicate of a long answer, not of a one-liner.
    support = [r for r in originals if r.topic == "support" and r.turn == 1 and r.u >= 0.65]
    strong = [r for r in originals if r.u >= 0.65] or originals
    b.add_templates(support, count(cfg.template_rate) if support else 0)
    b.add_copy_edits(strong, count(cfg.copy_edit_rate))
    b.add_popular(max(2, count(cfg.popular_rate)))
    consent = consent_by_user(seed, users, cfg)
    deleting = sorted(b.rng.sample(range(users), min(users, max(1, round(users * cfg.deletion_rate)))))
    return Day(date, seed, users, (), b.interactions, {r.event_id: r for r in b.interactions},
               consent, deleting)
