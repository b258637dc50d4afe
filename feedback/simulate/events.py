"""Phase C, the day's events: interactions in the event contract, re-posts of yesterday's,
feedback (on today's, on yesterday's and on interactions that never landed), deletion requests,
and the truth of all of it."""

from __future__ import annotations

import math
import random
from typing import Any

from feedback.simulate.config import DAY_MS, SimulateConfig
from feedback.simulate.lines import Line, fmt_ts, json_line, user_id, uuid_for
from feedback.simulate.pii import COMMENT_PII, COMMENT_PII_TYPES, ECHO_PII, PIIDrawer, seed_pools
from feedback.simulate.reactions import draw_rating, p_thumbs_up, version_stats
from feedback.simulate.structure import Day, Interaction
from feedback.simulate.text import draw_slots, good_answer
from feedback.simulate.topics import COMMENTS_BAD, COMMENTS_GOOD, FLAG_BY_STYLE


def interaction_record(rec: Interaction, consent: bool | None, timestamp: str,
                       user: str) -> tuple[dict, list]:
    """Contract JSON of one interaction, and its PII as (field, entity_type, value)."""
    messages, found = [], []
    if rec.system is not None:
        messages.append({"role": "system", "content": rec.system})
    for i, prompt in enumerate(rec.prompts):
        text, pii = prompt
        if rec.parts_content and i == len(rec.prompts) - 1:
            messages.append({"role": "user", "content": [{"type": "text", "text": text}]})
        else:
            messages.append({"role": "user", "content": text})
        found += [(f"messages[{len(messages) - 1}].content", e, v) for e, v in pii]
        if i < len(rec.prior):
            answer, apii = rec.prior[i].response
            messages.append({"role": "assistant", "content": answer})
            found += [(f"messages[{len(messages) - 1}].content", e, v) for e, v in apii]
    found += [("response", e, v) for e, v in rec.response[1]]
    record = {
        "event_type": "interaction",
        "event_id": rec.event_id,
        "timestamp": timestamp,
        "user_id": user,
        "conversation_id": rec.conversation_id,
        "turn": rec.turn,
        "model_version": rec.model_version,
        "messages": messages,
        "response": rec.response[0],
        "latency_ms": rec.latency_ms,
    }
    if consent is not None:
        record["consent"] = {"training": consent}
    meta = {}
    for key, (value, pii) in rec.metadata.items():
        meta[key] = value
        found += [(f"metadata.{key}", e, v) for e, v in pii]
    record["metadata"] = meta
    record.update(rec.extras)
    return record, found


def day_events(day: Day, yesterday: Day, cfg: SimulateConfig) -> tuple[list[Line], dict]:
    """The day's lines in time order, and the truth about them (less the files' part)."""
    log = _EventLog(day, yesterday, cfg)
    log.add_interactions()
    log.link_popular()
    # Yesterday's clean interactions whose user asked no deletion on either day.
    blocked = set(day.deleting) | set(yesterday.deleting)
    clean_yesterday = [r for r in yesterday.interactions
                       if r.kind == "clean" and r.user not in blocked]
    n_clean = sum(1 for r in day.interactions if r.kind == "clean")
    log.add_reposts(clean_yesterday, n_clean)
    log.add_feedback()
    cross_day_feedback = log.add_cross_day_feedback(clean_yesterday, n_clean)
    orphans = log.add_orphans(n_clean)
    deletions = log.add_deletions()
    user_ids = log.user_ids
    truth = {
        "interactions": log.interactions_truth,
        "feedback": log.feedback_truth,
        "pii": log.truth_pii,
        "near_duplicates": log.near_duplicates,
        "junk": log.junk,
        "orphan_feedback": orphans,
        "cross_day_feedback": cross_day_feedback,
        "deletion_requests": deletions,
        "opted_out_users": [user_ids[u] for u in range(day.users) if day.consent[u] is False],
        "no_consent_users": [user_ids[u] for u in range(day.users) if day.consent[u] is None],
    }
    truth["feedback_by_model_version"], truth["model_version_stats"] = version_stats(
        day, yesterday, log.feedback_truth, log.interactions_truth)
    log.lines.sort(key=lambda ln: ln.ts)
    return log.lines, truth


class _EventLog:
    """The events' one random stream, the lines written so far and the truth collected.

    Every method draws from ``self.rng`` in a fixed order: reordering calls changes every byte.
    """

    def __init__(self, day: Day, yesterday: Day, cfg: SimulateConfig):
        self.day, self.yesterday, self.cfg = day, yesterday, cfg
        self.seed, self.date = day.seed, day.date
        self.rng = random.Random(f"{self.seed}|{self.date}|events")
        self.pii = PIIDrawer(seed_pools(self.seed), self.rng)
        self.user_ids = [user_id(self.seed, u) for u in range(max(day.users, yesterday.users))]
        self.lines: list[Line] = []
        self.truth_pii: list[dict] = []
        self.interactions_truth: dict[str, dict] = {}
        self.near_duplicates: list[dict] = []
        self.junk: list[dict] = []
        self.feedback_truth: dict[str, dict] = {}
        self.fb_counter = 0

    def ts_str(self, ms: int, offset: int = 0) -> str:
        return fmt_ts(self.date, min(ms, DAY_MS - 1), offset)

    def add_line(self, record: dict, ts: int, event_id: str, found: list) -> None:
        self.lines.append(Line(json_line(record), ts, event_id))
        for fld, etype, value in dict.fromkeys(found):
            self.truth_pii.append({"event_id": event_id, "field": fld, "entity_type": etype,
                                   "value": value})

    def add_interaction(self, rec: Interaction, consent: bool | None) -> None:
        record, found = interaction_record(rec, consent, self.ts_str(rec.ts, rec.offset_hours),
                                           self.user_ids[rec.user])
        self.add_line(record, rec.ts, rec.event_id, found)
        self.interactions_truth[rec.event_id] = {
            "user_id": self.user_ids[rec.user], "model_version": rec.model_version,
            "quality": rec.quality, "consent": consent, "kind": rec.kind, "style": rec.style,
        }

    def add_interactions(self) -> None:
        for rec in self.day.interactions:
            self.add_interaction(rec, self.day.consent[rec.user])
            if rec.kind == "junk":
                self.junk.append({"event_id": rec.event_id, "kind": rec.junk_kind})
            elif rec.duplicate_of:
                self.near_duplicates.append({"event_id": rec.event_id,
                                             "duplicate_of": rec.duplicate_of, "kind": rec.kind})

    def link_popular(self) -> None:
        """The first asking of the day duplicates yesterday's first asking, if any."""
        first_today: dict[int, str] = {}
        first_yesterday = {}
        for rec in sorted(self.yesterday.interactions, key=lambda r: (r.ts, r.event_id)):
            if rec.kind == "popular":
                first_yesterday.setdefault(rec.popular, rec.event_id)
        for rec in sorted(self.day.interactions, key=lambda r: (r.ts, r.event_id)):
            if rec.kind != "popular":
                continue
            if rec.popular in first_today:
                dup_of = first_today[rec.popular]
            else:
                first_today[rec.popular] = rec.event_id
                dup_of = first_yesterday.get(rec.popular)
            if dup_of:
                self.near_duplicates.append({"event_id": rec.event_id, "duplicate_of": dup_of,
                                             "kind": "popular"})

    def add_reposts(self, clean_yesterday: list[Interaction], n_clean: int) -> None:
        """Yesterday's exact interaction under a new event id."""
        rng = self.rng
        reposts = rng.sample(clean_yesterday, min(len(clean_yesterday), max(
            1, round(self.cfg.cross_day_repost_rate * n_clean))))
        for orig in reposts:
            rec = Interaction(uuid_for(self.seed, self.date, "repost", orig.event_id), orig.user,
                              orig.conversation_id, orig.turn, rng.randint(0, DAY_MS - 1),
                              orig.topic, orig.slots, orig.prompts, orig.system, 0.0, -1,
                              kind="cross_day", prior=orig.prior,
                              parts_content=orig.parts_content, metadata=orig.metadata,
                              extras=orig.extras, model_version=orig.model_version,
                              quality=orig.quality, style=orig.style, response=orig.response,
                              latency_ms=orig.latency_ms)
            self.add_interaction(rec, self.yesterday.consent[orig.user])
            self.near_duplicates.append({"event_id": rec.event_id, "duplicate_of": orig.event_id,
                                         "kind": "cross_day"})

    def feedback(self, target: Interaction | None, user: int, ts: int, kind: str,
                 interaction_id: str | None = None, edit_pii: tuple = (), **fields: Any) -> dict:
        rng = self.rng
        self.fb_counter += 1
        event_id = uuid_for(self.seed, self.date, "feedback", self.fb_counter)
        record = {"event_type": "feedback", "event_id": event_id,
                  "timestamp": self.ts_str(ts), "user_id": self.user_ids[user],
                  "interaction_id": interaction_id or target.event_id, "kind": kind}
        record.update(fields)
        found = [("edited_response", e, v) for e, v in edit_pii]
        if target is not None and kind in ("thumbs", "rating", "flag") and rng.random() < 0.3:
            good = (fields.get("value", 0) or 0) >= (1 if kind == "thumbs" else 4)
            comment = rng.choice(COMMENTS_GOOD if good else COMMENTS_BAD)
            if rng.random() < 0.25:
                etype = rng.choice(COMMENT_PII_TYPES)
                value = self.pii.value(etype)
                comment = f"{comment} {rng.choice(COMMENT_PII).format(v=value)}"
                found.append(("comment", etype, value))
            record["comment"] = comment
        if rng.random() < 0.2:
            record["metadata"] = {"surface": rng.choice(("chat", "sidebar", "email_digest"))}
        self.add_line(record, ts, event_id, found)
        return record

    def attribute(self, record: dict, target: Interaction | None, status: str) -> None:
        self.feedback_truth[record["event_id"]] = {
            "interaction_id": record["interaction_id"], "kind": record["kind"],
            "model_version": target.model_version if target else None,
            "value": record.get("value"), "preferred": record.get("preferred"),
            "reason": record.get("reason"), "target": status,
        }

    def give(self, target: Interaction, status: str) -> None:
        """One piece of feedback on ``target``, its kind and value driven by its quality."""
        rng = self.rng
        ts = target.ts + rng.randint(5_000, 900_000)
        q = target.quality
        roll = rng.random()
        if target.style in FLAG_BY_STYLE and roll < 0.3:
            record = self.feedback(target, target.user, ts, "flag",
                                   reason=FLAG_BY_STYLE[target.style])
        elif target.kind == "junk" and roll < 0.15:
            record = self.feedback(target, target.user, ts, "flag", reason="other")
        elif roll < (0.2 if q < 0.7 else 0.04) and target.kind != "junk":
            better, edit_pii = self.edited_answer(target)
            record = self.feedback(target, target.user, ts, "edit", edited_response=better,
                                   edit_pii=edit_pii)
        elif rng.random() < 0.62:
            value = 1 if rng.random() < p_thumbs_up(q) else -1
            record = self.feedback(target, target.user, ts, "thumbs", value=value)
        else:
            record = self.feedback(target, target.user, ts, "rating", value=draw_rating(q, rng))
        self.attribute(record, target, status)

    def edited_answer(self, target: Interaction) -> tuple[str, tuple]:
        """The user's rewrite of a weak answer, and the PII it carries."""
        rng, pii = self.rng, self.pii
        slots = target.slots or draw_slots(target.topic, rng, seed_pools(self.seed))
        better = good_answer(target.topic, slots, rng)
        prompt_pii = target.prompts[-1][1]
        if target.topic == "writing" and rng.random() < 0.4:
            value = pii.person()
            return f"{better}\n\nBest,\n{value}", (("PERSON", value),)
        if prompt_pii and rng.random() < 0.5:
            # Users keep their own details when they rewrite an answer.
            etype, value = rng.choice(prompt_pii)
            return ECHO_PII[etype].format(v=value) + " " + better, ((etype, value),)
        return better, ()

    def add_feedback(self) -> None:
        """Feedback on today's interactions; an A/B pair gets one comparison."""
        rng, day = self.rng, self.day
        duplicate_ids = {d["event_id"] for d in self.near_duplicates}
        for rec in day.interactions:
            if rec.kind == "ab":
                other = day.by_id[rec.ab_other]
                if rec.event_id < other.event_id and rng.random() < 0.9:
                    p_this = 1 / (1 + math.exp(-8 * (rec.quality - other.quality)))
                    preferred = "this" if rng.random() < p_this else "other"
                    record = self.feedback(
                        rec, rec.user, max(rec.ts, other.ts) + rng.randint(3_000, 120_000),
                        "comparison", other_interaction_id=other.event_id, preferred=preferred)
                    self.attribute(record, rec, "clean")
                continue
            if rng.random() < self.cfg.feedback_rate:
                if rec.kind == "junk":
                    status = "junk"
                else:
                    status = "near_duplicate" if rec.event_id in duplicate_ids else "clean"
                self.give(rec, status)

    def add_cross_day_feedback(self, clean_yesterday: list[Interaction],
                               n_clean: int) -> list[str]:
        rng = self.rng
        out = []
        for orig in rng.sample(clean_yesterday, min(len(clean_yesterday), max(
                1, round(self.cfg.cross_day_feedback_rate * n_clean)))):
            ts = rng.randint(0, DAY_MS - 1)
            if rng.random() < 0.6:
                value = 1 if rng.random() < p_thumbs_up(orig.quality) else -1
                record = self.feedback(orig, orig.user, ts, "thumbs", value=value)
            else:
                record = self.feedback(orig, orig.user, ts, "rating",
                                       value=draw_rating(orig.quality, rng))
            self.attribute(record, orig, "cross_day")
            out.append(record["event_id"])
        return out

    def add_orphans(self, n_clean: int) -> list[str]:
        """Feedback on interactions that never landed."""
        rng = self.rng
        out = []
        for _ in range(max(1, round(self.cfg.orphan_feedback_rate * n_clean))):
            missing = uuid_for(self.seed, self.date, "missing-interaction", rng.random())
            record = self.feedback(None, rng.randrange(self.day.users),
                                   rng.randint(0, DAY_MS - 1), "thumbs",
                                   interaction_id=missing, value=rng.choice((1, -1)))
            self.attribute(record, None, "orphan")
            out.append(record["event_id"])
        return out

    def add_deletions(self) -> list[str]:
        out = []
        for user in self.day.deleting:
            event_id = uuid_for(self.seed, self.date, "deletion", user)
            ts = self.rng.randint(DAY_MS // 2, DAY_MS - 1)
            record = {"event_type": "deletion_request", "event_id": event_id,
                      "timestamp": self.ts_str(ts), "user_id": self.user_ids[user]}
            self.lines.append(Line(json_line(record), ts, event_id))
            out.append(self.user_ids[user])
        return out
