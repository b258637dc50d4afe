"""A day of simulated users talking to a gateway: conversations, reactions, the taste truth.

Each user is a seeded random stream (``seed``, the user's index and the date): the same seed and
the same answers give the same questions, the same reactions and the same truth, whatever order
the threads run in. Users are the same people every day (ids depend on the seed only, and so do
their consent choices); their questions change with the date.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import openai

from feedback.users.edits import rewrite_toward
from feedback.users.prompts import Conversation, prompt_source
from feedback.users.reactions import ReactionConfig, pick, react
from feedback.users.tastes import Taste


@dataclass(frozen=True)
class UsersConfig:
    conversations_per_user: tuple[int, int] = (1, 3)  # inclusive
    turn_weights: tuple[float, ...] = (0.5, 0.3, 0.2)  # 1, 2 or 3 turns
    side_by_side_rate: float = 0.35  # first turns asked side by side when the gateway offers it
    opt_out_share: float = 0.08  # users who never consent to training (stable per seed)
    deletion_rate: float = 0.01  # users who ask to be erased at the end of a day
    max_tokens: int = 48  # short answers: the demo model is small and CPU-bound
    temperature: float = 0.7  # sampled answers, seeded per request so a rerun gets the same ones
    workers: int = 4  # users talking at once (the gateway's default generation workers)
    timeout_s: float = 120.0
    reactions: ReactionConfig = field(default_factory=ReactionConfig)


def user_id(seed: int, index: int) -> str:
    return "user_" + hashlib.sha256(f"{seed}|flywheel-user|{index}".encode()).hexdigest()[:12]


def opted_out(seed: int, index: int, config: UsersConfig) -> bool:
    return random.Random(f"{seed}|consent|{index}").random() < config.opt_out_share


def request_seed(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "big") >> 1


def plan(prompts, seed: int, date: str, index: int, config: UsersConfig) -> list[tuple[Conversation, int]]:
    """A user's conversations of the day and their turn counts: drawn from their own stream, apart
    from the reactions, so the questions can be asked again (``bench/flywheel.py`` replays them)."""
    rng = random.Random(f"{seed}|{date}|plan|{index}")
    out = []
    for _ in range(rng.randint(*config.conversations_per_user)):
        turns = rng.choices(range(1, len(config.turn_weights) + 1), weights=config.turn_weights)[0]
        out.append((prompts.conversation(rng, turns), turns))
    return out


def first_questions(seed: int, date: str, users: int, prompts_file: str | Path | None = None,
                    config: UsersConfig = UsersConfig()) -> list[list[dict]]:
    """The opening messages (system, first question) of every conversation the users hold on
    ``date``: what a comparison of two models on the same users' prompts asks both."""
    prompts = prompt_source(seed, prompts_file)
    out = []
    for index in range(users):
        for conversation, _turns in plan(prompts, seed, date, index, config):
            system = [{"role": "system", "content": conversation.system}] if conversation.system else []
            out.append([*system, {"role": "user", "content": conversation.question(1)}])
    return out


class UserRun:
    """One user's day: their conversations, reactions and truth rows."""

    def __init__(self, client: openai.OpenAI, http: httpx.Client, taste: Taste, date: str,
                 seed: int, index: int, prompts, side_by_side: bool, config: UsersConfig):
        self.client, self.http, self.taste, self.config = client, http, taste, config
        self.date, self.seed, self.index = date, seed, index
        self.user = user_id(seed, index)
        self.consent = "false" if opted_out(seed, index, config) else "true"
        self.rng = random.Random(f"{seed}|{date}|react|{index}")
        self.prompts, self.side_by_side = prompts, side_by_side
        self.truth: list[dict] = []
        self.errors: dict[str, int] = {}

    def run(self) -> UserRun:
        for number, (conversation, turns) in enumerate(plan(self.prompts, self.seed, self.date,
                                                            self.index, self.config)):
            self.converse(number, conversation, turns)
        if self.rng.random() < self.config.deletion_rate:
            self.send("/deletions", {"user": self.user})
            self.truth.append({"date": self.date, "user": self.user, "event": "deletion_request"})
        return self

    def converse(self, number: int, conversation: Conversation, turns: int) -> None:
        messages = [{"role": "system", "content": conversation.system}] if conversation.system else []
        conversation_id = f"conv-{request_seed(self.seed, self.date, self.user, number):x}"
        for turn in range(1, turns + 1):
            messages.append({"role": "user", "content": conversation.question(turn)})
            both = self.side_by_side and turn == 1 and self.rng.random() < self.config.side_by_side_rate
            answers = self.ask(messages, conversation_id, turn, both)
            if not answers:
                return  # refused (prompt too long, ...): the user gives up on this conversation
            kept = self.judge_pair(messages, answers) if both else self.judge(messages, answers[0])
            messages.append({"role": "assistant", "content": kept})

    def ask(self, messages: list[dict], conversation_id: str, turn: int, both: bool) -> list[dict]:
        extra = {"side_by_side": True} if both else {}
        try:
            response = self.client.chat.completions.create(
                model="champion", user=self.user, messages=messages,
                max_tokens=self.config.max_tokens, temperature=self.config.temperature,
                seed=request_seed(self.seed, self.date, self.user, conversation_id, turn),
                metadata={"consent_training": self.consent, "conversation_id": conversation_id,
                          "turn": str(turn)},
                extra_body=extra)
        except openai.APIStatusError as error:
            code = (error.body or {}).get("code") if isinstance(error.body, dict) else None
            self.errors[code or f"http_{error.status_code}"] = self.errors.get(code or f"http_{error.status_code}", 0) + 1
            return []
        out = []
        for choice in response.choices:
            extra_fields = choice.model_extra or {}
            out.append({"id": extra_fields.get("id") or response.id,
                        "model": extra_fields.get("model") or response.model,
                        "text": choice.message.content or "", "turn": turn,
                        "conversation_id": conversation_id})
        return out

    def row(self, messages: list[dict], answer: dict, score: float, **fields) -> dict:
        return {"date": self.date, "user": self.user, "conversation_id": answer["conversation_id"],
                "turn": answer["turn"], "interaction_id": answer["id"], "model_version": answer["model"],
                "consent": self.consent == "true", "score": round(float(score), 4), **fields}

    def judge(self, messages: list[dict], answer: dict) -> str:
        score = float(self.taste(messages, answer["text"]))
        edit = rewrite_toward(self.taste, messages, answer["text"])
        reaction = react(score, self.rng, self.config.reactions, can_edit=edit is not None)
        body = {"interaction_id": answer["id"], "kind": reaction.kind, "user": self.user}
        fields: dict = {"reaction": reaction.kind, "value": reaction.value}
        if reaction.kind in ("thumbs", "rating"):
            body["value"] = reaction.value
        elif reaction.kind == "flag":
            body["reason"] = "wrong"
        elif reaction.kind == "edit":
            body["edited_response"], fields["edit_score"] = edit[0], round(edit[1], 4)
        if reaction.kind != "silence":
            self.send("/feedback", body)
        self.truth.append(self.row(messages, answer, score, **fields))
        return answer["text"]

    def judge_pair(self, messages: list[dict], answers: list[dict]) -> str:
        if len(answers) < 2:
            return self.judge(messages, answers[0])
        scores = [float(self.taste(messages, a["text"])) for a in answers]
        order = [0, 1] if self.rng.random() < 0.5 else [1, 0]  # the app shows them in random order
        shown = [answers[i] for i in order]
        chosen = order[pick(scores[order[0]], scores[order[1]], self.rng, self.config.reactions)]
        other = 1 - chosen
        self.send("/feedback", {"interaction_id": answers[chosen]["id"], "kind": "comparison",
                                "other_interaction_id": answers[other]["id"], "preferred": "this",
                                "user": self.user})
        for i, answer in enumerate(answers):
            self.truth.append(self.row(messages, answer, scores[i], reaction="comparison",
                                       picked=i == chosen, side_by_side_with=answers[1 - i]["id"],
                                       shown_first=shown[0]["id"] == answer["id"]))
        return answers[chosen]["text"]

    def send(self, path: str, body: dict) -> None:
        response = self.http.post(path, json=body)
        if response.status_code >= 400:
            code = response.json().get("error", {}).get("code") or f"http_{response.status_code}"
            self.errors[code] = self.errors.get(code, 0) + 1


def offers_side_by_side(http: httpx.Client) -> bool:
    """Whether the gateway answers side_by_side: a challenger is served, or the champion is
    compared with itself (``--self-comparison``). A gateway without the extension field: only
    a challenger arm says so."""
    cards = http.get("/models").json().get("data", [])
    return any(card.get("side_by_side", card.get("arm") == "challenger") for card in cards)


def run_day(gateway: str, date: str, users: int, seed: int, taste: Taste, truth_dir: str | Path,
            prompts_file: str | Path | None = None, config: UsersConfig = UsersConfig()) -> dict:
    """Every user's conversations for ``date``; writes ``truth_dir/dt=DATE.jsonl``; a summary."""
    base = gateway.rstrip("/") + ("" if gateway.rstrip("/").endswith("/v1") else "/v1")
    prompts = prompt_source(seed, prompts_file)
    client = openai.OpenAI(base_url=base, api_key="unused", timeout=config.timeout_s, max_retries=0)
    with httpx.Client(base_url=base, timeout=config.timeout_s) as http:
        side_by_side = offers_side_by_side(http)
        runs = [UserRun(client, http, taste, date, seed, i, prompts, side_by_side, config)
                for i in range(users)]
        with ThreadPoolExecutor(config.workers) as pool:
            done = list(pool.map(UserRun.run, runs))
    rows = [row for run in done for row in run.truth]
    errors: dict[str, int] = {}
    for run in done:
        for code, count in run.errors.items():
            errors[code] = errors.get(code, 0) + count
    path = write_truth(truth_dir, date, rows)
    answers = [r for r in rows if "score" in r]
    return {"date": date, "users": users, "answers": len(answers), "truth": str(path),
            "side_by_side": side_by_side, "errors": errors,
            "mean_score": round(sum(r["score"] for r in answers) / len(answers), 4) if answers else None}


def write_truth(truth_dir: str | Path, date: str, rows: list[dict]) -> Path:
    path = Path(truth_dir) / f"dt={date}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    os.replace(tmp, path)
    return path


def read_truth(truth_dir: str | Path, date: str) -> list[dict]:
    path = Path(truth_dir) / f"dt={date}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
